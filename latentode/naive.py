"""Simple baselines every model is compared against.

Values: :func:`linear_interpolation` and :func:`last_value` read only the cells in
``obs_mask`` and predict every point of the batch; :func:`naive_frame` is the same on long
frames. Both use :func:`linear_fill` and :func:`last_value_fill`.

Events: :func:`poisson_loglik` (a homogeneous Poisson process) and
:func:`histogram_loglik` (a piecewise-constant rate pooled over sequences) are fitted on
training windows and score held-out windows, each given as ``(event_times, start, end)``;
both return the held-out log-likelihood per event, survival term included.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import torch

from .data.batch import IrregularBatch

__all__ = [
    "linear_interpolation",
    "last_value",
    "linear_fill",
    "last_value_fill",
    "naive_frame",
    "poisson_loglik",
    "histogram_loglik",
]

#: one event window: ``(event_times (n,), start, end)``
Window = tuple[np.ndarray, float, float]


def linear_fill(t_obs: np.ndarray, v_obs: np.ndarray, t_query: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``v_obs`` at ``t_obs (n,)`` (sorted) to ``t_query``, held
    flat outside ``t_obs``."""
    return np.interp(t_query, t_obs, v_obs)


def linear_trend_fill(t_obs: np.ndarray, v_obs: np.ndarray, t_query: np.ndarray) -> np.ndarray:
    """The least-squares line through ``(t_obs, v_obs)`` evaluated at ``t_query`` (the
    mean for a single point, or when all times are equal): a trend extrapolated."""
    t, v = np.asarray(t_obs, dtype=np.float64), np.asarray(v_obs, dtype=np.float64)
    tc = t - t.mean()
    denom = float((tc**2).sum())
    slope = float((tc * (v - v.mean())).sum() / denom) if denom > 0 else 0.0
    return v.mean() + slope * (np.asarray(t_query, dtype=np.float64) - t.mean())


def last_value_fill(t_obs: np.ndarray, v_obs: np.ndarray, t_query: np.ndarray) -> np.ndarray:
    """The last observed value at or before each query time (the first one before them)."""
    idx = np.searchsorted(t_obs, t_query, side="right") - 1
    return v_obs[np.clip(idx, 0, len(v_obs) - 1)]


FILLS = {"linear": linear_fill, "last": last_value_fill}


def _per_feature(batch: IrregularBatch, fill) -> torch.Tensor:
    t = batch.times.detach().cpu().double().numpy()
    v = batch.values.detach().cpu().double().numpy()
    m = batch.obs_mask.detach().cpu().numpy() > 0
    out = np.zeros_like(v)
    for b in range(v.shape[0]):
        for d in range(v.shape[2]):
            rows = np.flatnonzero(m[b, :, d])
            if len(rows):
                out[b, :, d] = fill(t[b, rows], v[b, rows, d], t[b])
    return torch.as_tensor(out, dtype=batch.values.dtype, device=batch.values.device)


def linear_interpolation(batch: IrregularBatch) -> torch.Tensor:
    """Per-series, per-feature linear interpolation of the observed cells, held flat
    outside them. A feature never observed in a series predicts 0 (the standardized
    mean). Returns ``(B, N, D)``."""
    return _per_feature(batch, linear_fill)


def last_value(batch: IrregularBatch) -> torch.Tensor:
    """Last observed value carried forward (the first one carried backward before it).
    Returns ``(B, N, D)``."""
    return _per_feature(batch, last_value_fill)


def naive_frame(
    context: Any,
    query: Any,
    kind: str,
    *,
    id_col: Hashable = "id",
    time_col: Hashable = "time",
    value_col: Hashable = "value",
) -> np.ndarray:
    """The same baselines on long frames: per series of ``query``, ``kind="linear"``
    interpolation or ``"last"`` value of ``context``'s ``value_col`` at ``query``'s times.
    Returns ``(len(query),)`` in the order of ``query``'s rows."""
    if kind not in FILLS:
        raise ValueError(f"kind must be one of {sorted(FILLS)}, got {kind!r}.")
    fill = FILLS[kind]
    out = np.empty(len(query))
    for sid, q in query.groupby(id_col, sort=False):
        c = context[context[id_col] == sid].sort_values(time_col)
        t, v = c[time_col].to_numpy(), c[value_col].to_numpy()
        out[query.index.get_indexer(q.index)] = fill(t, v, q[time_col].to_numpy())
    return out


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
