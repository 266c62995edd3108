"""Simple per-series baselines every model is compared against.

Both read only the cells in ``obs_mask`` and predict every point of the batch.
"""

from __future__ import annotations

import numpy as np
import torch

from .data.batch import IrregularBatch

__all__ = ["linear_interpolation", "last_value"]


def _per_feature(batch: IrregularBatch, fill) -> torch.Tensor:
    t = batch.times.detach().cpu().double().numpy()
    v = batch.values.detach().cpu().double().numpy()
    m = batch.obs_mask.detach().cpu().numpy() > 0
    out = np.zeros_like(v)
    for b in range(v.shape[0]):
        for d in range(v.shape[2]):
            rows = np.flatnonzero(m[b, :, d])
            if len(rows):
                out[b, :, d] = fill(t[b], t[b, rows], v[b, rows, d])
    return torch.as_tensor(out, dtype=batch.values.dtype, device=batch.values.device)


def linear_interpolation(batch: IrregularBatch) -> torch.Tensor:
    """Per-series, per-feature linear interpolation of the observed cells, held flat
    outside them. A feature never observed in a series predicts 0 (the standardized
    mean). Returns ``(B, N, D)``."""
    return _per_feature(batch, lambda tq, to, vo: np.interp(tq, to, vo))


def last_value(batch: IrregularBatch) -> torch.Tensor:
    """Last observed value carried forward (the first one carried backward before it).
    Returns ``(B, N, D)``."""

    def fill(tq, to, vo):
        idx = np.searchsorted(to, tq, side="right") - 1
        return vo[np.clip(idx, 0, len(vo) - 1)]

    return _per_feature(batch, fill)
