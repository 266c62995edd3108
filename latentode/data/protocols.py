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

__all__ = ["subsample_observed", "split_extrapolation"]


def subsample_observed(
    series: Sequence[Series], fraction: float, seed: int = 0, *, score_all: bool = True
) -> list[Series]:
    """Keep ``fraction`` of each series' observed points for the encoder.

    At least one point per series stays observed. Scores every point if
    ``score_all`` (the paper's protocol), else only the points not kept.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}.")
    rng = np.random.default_rng(seed)
    out = []
    for s in series:
        rows = np.flatnonzero(s.mask.any(1))
        k = max(1, int(round(fraction * len(rows)))) if len(rows) else 0
        keep = np.zeros(len(s), dtype=bool)
        keep[rng.choice(rows, size=k, replace=False)] = True
        obs = s.mask & keep[:, None]
        target = s.mask.copy() if score_all else s.mask & ~keep[:, None]
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
