"""Scales fitted on training series: time rescaling, value standardization, base rates."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .batch import Series

__all__ = ["fit_time_scale", "fit_value_scale", "base_rates"]


#: rescaled time units per median gap between consecutive observations
GAPS_PER_UNIT = 20.0


def fit_time_scale(series: Sequence[Series]) -> tuple[float, float]:
    """``(offset, scale)``: the earliest time, and 20 median gaps.

    The scale makes the median gap between consecutive distinct times of a series
    (pooled over all series) 0.05 rescaled units: data are usually sampled on the
    time scale of their dynamics, so vector fields initialised at O(1) speed have
    dynamics of the right order, whatever the raw unit (1e-3 or 1e6). Solver
    defaults (``grid_step``, ``max_step``) are set for this scale. Without any
    positive gap the longest span is used, and 1 without any span.
    """
    if not series:
        raise ValueError("fit_time_scale needs at least one series.")
    starts = np.array([s.times.min() for s in series])
    spans = np.array([s.times.max() - s.times.min() for s in series])
    if not (np.all(np.isfinite(starts)) and np.all(np.isfinite(spans))):
        raise ValueError("series times must be finite to fit a time scale.")
    gaps = np.concatenate([np.diff(np.unique(s.times)) for s in series])
    gaps = gaps[gaps > 0]
    if gaps.size:
        scale = GAPS_PER_UNIT * float(np.median(gaps))
    else:
        scale = float(spans.max())
    return float(starts.min()), (scale if scale > 0 else 1.0)


def fit_value_scale(series: Sequence[Series]) -> tuple[np.ndarray, np.ndarray]:
    """``(offset, scale)``, each ``(D,)``: the mean and std of each feature's values.

    Pooled over every value present (``mask``) in every series. A feature without
    values gets offset 0 and scale 1; a constant feature gets scale 1. Models read
    ``(x - offset) / scale`` and predict in those units, so a network initialised for
    inputs and outputs of order 1 starts near the data whatever their unit and level.
    """
    if not series:
        raise ValueError("fit_value_scale needs at least one series.")
    d = series[0].n_features
    offset, scale = np.zeros(d), np.ones(d)
    for j in range(d):
        v = np.concatenate([s.values[s.mask[:, j], j] for s in series])
        if v.size == 0:
            continue
        if not np.all(np.isfinite(v)):
            raise ValueError("series values must be finite to fit a value scale.")
        offset[j] = v.mean()
        std = float(np.sqrt(np.mean((v - offset[j]) ** 2)))
        if std > 1e-12 * max(1.0, abs(offset[j])):
            scale[j] = std
    return offset, scale


def base_rates(counts: Sequence[float], exposure: float) -> list[float]:
    """Events per unit of ``exposure`` for each count (at least one event, so that a
    rate never starts at 0): the initial rate of a Poisson-process head."""
    return [float(max(c, 1) / max(exposure, 1e-12)) for c in counts]
