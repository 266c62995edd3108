"""Fitting the time rescaling from training series."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .batch import Series

__all__ = ["fit_time_scale"]


def fit_time_scale(series: Sequence[Series]) -> tuple[float, float]:
    """``(offset, scale)``: the earliest time and the longest span of the series.

    A longest span of 0 (every series a single point) gives scale 1.
    """
    if not series:
        raise ValueError("fit_time_scale needs at least one series.")
    starts = np.array([s.times.min() for s in series])
    spans = np.array([s.times.max() - s.times.min() for s in series])
    if not (np.all(np.isfinite(starts)) and np.all(np.isfinite(spans))):
        raise ValueError("series times must be finite to fit a time scale.")
    scale = float(spans.max())
    return float(starts.min()), (scale if scale > 0 else 1.0)
