"""Simple baselines every model is compared against.

Values: :func:`linear_interpolation` and :func:`last_value` read only the cells in
``obs_mask`` and predict every point of the batch.

Events: :func:`poisson_loglik` (a homogeneous Poisson process) and
:func:`histogram_loglik` (a piecewise-constant rate pooled over sequences) are fitted on
training windows and score held-out windows, each given as ``(event_times, start, end)``;
both return the held-out log-likelihood per event, survival term included.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .data.batch import IrregularBatch

__all__ = ["linear_interpolation", "last_value", "poisson_loglik", "histogram_loglik"]

#: one event window: ``(event_times (n,), start, end)``
Window = tuple[np.ndarray, float, float]


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


def _count_and_exposure(windows: Sequence[Window]) -> tuple[int, float]:
    n = sum(len(t) for t, _, _ in windows)
    exposure = float(sum(b - a for _, a, b in windows))
    if n == 0 or exposure <= 0:
        raise ValueError("event baselines need events and a positive exposure to fit on.")
    return n, exposure


def poisson_loglik(train: Sequence[Window], test: Sequence[Window]) -> float:
    """Held-out log-likelihood per event of one constant rate (events / exposure of
    ``train``): ``(n log rate - rate * exposure) / n`` on ``test``."""
    n_tr, e_tr = _count_and_exposure(train)
    rate = n_tr / e_tr
    n_te, e_te = _count_and_exposure(test)
    return (n_te * np.log(rate) - rate * e_te) / n_te


def histogram_loglik(
    train: Sequence[Window], test: Sequence[Window], n_bins: int, *, relative: bool = True
) -> float:
    """Held-out log-likelihood per event of a pooled histogram rate with ``n_bins`` equal
    bins over time since each window's start (``relative``) or calendar time. Each bin's
    rate is ``(events + 0.5) / exposure`` on ``train`` (0.5: no bin has rate 0)."""
    _count_and_exposure(train)
    n_te, _ = _count_and_exposure(test)

    def shift(w: Window) -> Window:
        t, a, b = w
        return (np.asarray(t, float) - a, 0.0, b - a) if relative else (np.asarray(t, float), a, b)

    train, test = [shift(w) for w in train], [shift(w) for w in test]
    lo = min(a for _, a, _ in [*train, *test])
    hi = max(b for _, _, b in [*train, *test])
    edges = np.linspace(lo, hi, n_bins + 1)

    def exposure(windows: Sequence[Window]) -> np.ndarray:
        out = np.zeros(n_bins)
        for _, a, b in windows:
            out += np.clip(np.minimum(edges[1:], b) - np.maximum(edges[:-1], a), 0, None)
        return out

    counts = np.histogram(np.concatenate([t for t, _, _ in train]), edges)[0]
    rate = (counts + 0.5) / np.maximum(exposure(train), 1e-300)
    times = np.concatenate([t for t, _, _ in test])
    bins = np.clip(np.searchsorted(edges, times, side="right") - 1, 0, n_bins - 1)
    return float((np.log(rate[bins]).sum() - (rate * exposure(test)).sum()) / n_te)
