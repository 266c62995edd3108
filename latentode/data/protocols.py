"""The paper's evaluation protocols as mask operations on :class:`Series`.

* interpolation: the encoder reads a random fraction of each series' points,
  every point is scored;
* extrapolation: the encoder reads the first part of each series' time span,
  the rest is scored.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .batch import Series

__all__ = ["subsample_observed", "split_extrapolation", "RandomObservation"]


def subsample_observed(
    series: Sequence[Series], fraction: float, seed: int = 0, *, score_all: bool = True
) -> list[Series]:
    """Keep ``fraction`` of the points each series' encoder may read (``obs_mask``).

    Draws ``max(1, round(fraction * n))`` of the ``n`` time points with a cell in
    ``obs_mask``, so it composes with :func:`split_extrapolation`: applied after it, the
    kept points all lie before the cut. A series whose encoder sees nothing is returned
    unchanged. Scores what ``target_mask`` scores if ``score_all`` (the paper's
    protocol), else only its points that were not kept.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}.")
    rng = np.random.default_rng(seed)
    out = []
    for s in series:
        rows = np.flatnonzero(s.obs_mask.any(1))
        k = max(1, int(round(fraction * len(rows)))) if len(rows) else 0
        keep = np.zeros(len(s), dtype=bool)
        keep[rng.choice(rows, size=k, replace=False)] = True
        obs = s.obs_mask & keep[:, None]
        target = s.target_mask.copy() if score_all else s.target_mask & ~keep[:, None]
        out.append(s.with_masks(obs, target))
    return out


def split_extrapolation(series: Sequence[Series], fraction: float = 0.5) -> list[Series]:
    """Observe points before ``start + fraction * span`` of each series, score the rest."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}.")
    out = []
    for s in series:
        t0, t1 = s.times.min(), s.times.max()
        before = (s.times <= t0 + fraction * (t1 - t0))[:, None]
        out.append(s.with_masks(s.mask & before, s.mask & ~before))
    return out


class RandomObservation:
    """Training-time augmentation: a fresh encoder mask each time a series is drawn.

    With probability ``extrapolate_prob`` the encoder sees the points before a
    random cut in ``cut_range`` (fractions of the series' span); otherwise it sees a
    random fraction in ``fraction_range`` of the observed points. Every observed
    point is scored, so one model learns reconstruction, interpolation and
    extrapolation. At least one point always stays visible.

    Call it on a list of :class:`Series`; it returns new series.
    """

    def __init__(
        self,
        fraction_range: tuple[float, float] = (0.2, 1.0),
        extrapolate_prob: float = 0.3,
        cut_range: tuple[float, float] = (0.3, 0.8),
        seed: int = 0,
    ) -> None:
        lo, hi = fraction_range
        if not 0 < lo <= hi <= 1:
            raise ValueError(
                f"fraction_range must satisfy 0 < lo <= hi <= 1, got {fraction_range}."
            )
        if not 0 <= extrapolate_prob <= 1:
            raise ValueError(f"extrapolate_prob must be in [0, 1], got {extrapolate_prob}.")
        self.fraction_range, self.extrapolate_prob, self.cut_range = (
            fraction_range,
            extrapolate_prob,
            cut_range,
        )
        self.rng = np.random.default_rng(seed)

    def __call__(self, series: Sequence[Series]) -> list[Series]:
        out = []
        for s in series:
            rows = np.flatnonzero(s.mask.any(1))
            if len(rows) == 0:
                out.append(s.with_masks(s.mask, s.mask))
                continue
            keep = np.zeros(len(s), dtype=bool)
            if self.rng.random() < self.extrapolate_prob:
                t0, t1 = s.times[rows].min(), s.times[rows].max()
                cut = t0 + self.rng.uniform(*self.cut_range) * (t1 - t0)
                keep[rows[s.times[rows] <= cut]] = True
                keep[rows[0]] = True
            else:
                k = max(1, int(round(self.rng.uniform(*self.fraction_range) * len(rows))))
                keep[self.rng.choice(rows, size=k, replace=False)] = True
            out.append(s.with_masks(s.mask & keep[:, None], s.mask))
        return out
