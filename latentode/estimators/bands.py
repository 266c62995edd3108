"""Prediction bands: the posterior predictive's quantiles (exact, over the posterior
samples of the mean plus Gaussian observation noise), intervals, noisy draws, and the
calibration of the noise and spread factors on the same bands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri

__all__ = [
    "add_noise",
    "mixture_quantiles",
    "check_levels",
    "level_bounds",
    "with_levels",
    "band_factor",
    "band_factors",
    "hidden_cells",
    "widen",
]


def add_noise(samples: np.ndarray, std: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Posterior-predictive draws: ``samples (K, n, D)`` plus Gaussian noise of ``std (D,)``
    from ``rng``."""
    return samples + rng.standard_normal(samples.shape) * std


def _weights(weights: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    """Sample weights ``(K, ...)`` broadcast to ``shape``; ``None``: ``1 / K`` each."""
    if weights is None:
        return np.full(shape, 1.0 / shape[0])
    w = np.asarray(weights, dtype=np.float64)
    return np.broadcast_to(w.reshape(w.shape + (1,) * (len(shape) - w.ndim)), shape)


def widen(samples: np.ndarray, factor: float, weights: np.ndarray | None = None) -> np.ndarray:
    """``samples (K, ...)`` moved away from their (``weights``-weighted, ``(K, ...)``
    summing to 1 over K, or ``None``: equal) mean over axis 0 by ``factor``:
    ``mean + factor * (samples - mean)``, so the mean is unchanged and the spread (each
    point's standard deviation over the samples) is ``factor`` times as large."""
    if factor == 1.0:
        return samples
    mean = (_weights(weights, samples.shape) * samples).sum(0, keepdims=True)
    return mean + factor * (samples - mean)


def mixture_quantiles(
    mu: np.ndarray,
    std: np.ndarray,
    quantiles: Sequence[float],
    *,
    weights: np.ndarray | None = None,
    tol: float = 1e-10,
) -> np.ndarray:
    """Exact quantiles of the posterior predictive ``sum_k w_k N(mu_k, std^2)``
    (``w_k = 1/K`` without ``weights``).

    No noise is drawn, so a point's quantiles depend only on its own posterior samples
    (its series and time, not the other times asked for) and bands are smooth in time.
    Safeguarded Newton iterations on the mixture's CDF, started at a normal
    approximation; a feature with ``std == 0`` gets the samples' empirical quantiles.

    Args:
        mu: ``(K, n, D)`` posterior samples of the mean.
        std: ``(D,)`` observation std per feature (already scaled).
        quantiles: levels in (0, 1).
        weights: ``(K,)`` or ``(K, n)`` sample weights summing to 1 over K (importance
            weights, :meth:`~latentode.models.LatentODEModel.posterior_samples`).

    Returns:
        ``(len(quantiles), n, D)``.
    """
    mu = np.asarray(mu, dtype=np.float64)
    std = np.broadcast_to(np.asarray(std, dtype=np.float64), mu.shape[-1:])
    wts = _weights(weights, mu.shape)
    qs = np.asarray(list(quantiles), dtype=np.float64)
    out = np.empty((len(qs), *mu.shape[1:]))
    zero = std <= 0
    if zero.any():
        out[..., zero] = _weighted_quantiles(mu[..., zero], wts[..., zero], qs)
    if zero.all():
        return out
    m, s, wm = mu[..., ~zero], std[~zero], wts[..., ~zero]  # (K, n, d), (d,), (K, n, d)
    k, n, d = m.shape

    def columns(a: np.ndarray) -> np.ndarray:  # one column per (quantile, point, feature)
        return np.broadcast_to(a[None], (len(qs), k, n, d)).transpose(1, 0, 2, 3).reshape(k, -1)

    samples, w = columns(m), columns(wm)  # (K, P)
    sd = np.broadcast_to(s, (len(qs), n, d)).reshape(-1)
    level = np.broadcast_to(qs[:, None, None], (len(qs), n, d)).reshape(-1)
    lo, hi = samples.min(0) - 10 * sd, samples.max(0) + 10 * sd
    mean = (w * samples).sum(0)
    spread = np.sqrt((w * (samples - mean) ** 2).sum(0) + sd**2)
    x = np.clip(mean + ndtri(level) * spread, lo, hi)
    active = np.arange(len(x))
    for _ in range(100):
        z = (x[active] - samples[:, active]) / sd[active]  # (K, A)
        wa = w[:, active]
        f = (wa * ndtr(z)).sum(0) - level[active]
        done = np.abs(f) < tol
        dens = (wa * np.exp(-0.5 * z**2)).sum(0) / (sd[active] * np.sqrt(2 * np.pi))
        lo[active] = np.where(f < 0, x[active], lo[active])
        hi[active] = np.where(f > 0, x[active], hi[active])
        with np.errstate(divide="ignore", invalid="ignore"):
            step = x[active] - f / dens
        a, b = lo[active], hi[active]
        new = np.where((step > a) & (step < b), step, 0.5 * (a + b))
        x[active] = np.where(done, x[active], new)
        active = active[~done]
        if not len(active):
            break
    x = x.reshape(len(qs), n, d)
    out[..., ~zero] = x
    return out


def _weighted_quantiles(samples: np.ndarray, weights: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """Quantiles ``qs`` over axis 0 of ``samples (K, ...)`` with ``weights`` (same shape,
    summing to 1 over K): equal weights give ``np.quantile``'s linear rule, other weights
    the inverse of the step CDF (the smallest sample whose cumulative weight reaches q)."""
    w0 = weights.reshape(len(weights), -1)
    if np.allclose(w0, w0[:1]):
        return np.quantile(samples, qs, axis=0)
    order = np.argsort(samples, axis=0)
    srt = np.take_along_axis(samples, order, 0)
    cum = np.cumsum(np.take_along_axis(weights, order, 0), 0)
    cum /= cum[-1:]
    idx = (cum[None] < qs.reshape((-1,) + (1,) * samples.ndim) - 1e-12).sum(1)
    idx = np.minimum(idx, len(samples) - 1)
    return np.take_along_axis(srt[None].repeat(len(qs), 0), idx[:, None], 1)[:, 0]


def check_levels(level: float | Sequence[float] | None) -> tuple[float, ...]:
    """Interval levels in percent, each in (0, 100), sorted and unique; ``None`` -> ()."""
    if level is None:
        return ()
    items = [level] if isinstance(level, (int, float, np.number)) else list(level)
    out = []
    for x in items:
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.number)):
            raise ValueError(f"level {x!r} is not a number; give percents, e.g. level=(80, 90).")
        if not 0 < float(x) < 100:
            raise ValueError(
                f"level {x!r} is outside (0, 100); levels are percents, e.g. level=(80, 90)."
            )
        out.append(float(x))
    return tuple(sorted(set(out)))


def level_bounds(level: float) -> tuple[float, float]:
    """The quantiles of a central ``level`` percent interval."""
    return round((1 - level / 100) / 2, 10), round((1 + level / 100) / 2, 10)


def with_levels(
    frame: Any, targets: Sequence[Any], quantiles: Sequence[float], levels: Sequence[float]
) -> Any:
    """``frame`` (with quantile columns for ``quantiles`` and every level's bounds) with
    ``<target>-lo-<level>`` / ``<target>-hi-<level>`` columns (neuralforecast's names)
    after each target's quantile columns, and only the asked-for quantile columns."""
    if not levels:
        return frame
    out = frame.copy()
    cols = [c for c in frame.columns if c not in set(targets) and "_q" not in str(c)]
    for t in targets:
        cols += [t] + [f"{t}_q{q:g}" for q in quantiles]
        for lv in levels:
            lo, hi = level_bounds(lv)
            out[f"{t}-lo-{lv:g}"] = frame[f"{t}_q{lo:g}"]
            out[f"{t}-hi-{lv:g}"] = frame[f"{t}_q{hi:g}"]
            cols += [f"{t}-lo-{lv:g}", f"{t}-hi-{lv:g}"]
    return out[cols]


def _coverage(
    mu: np.ndarray,
    std: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    level: float,
    sample_weights: np.ndarray | None = None,
) -> float:
    """The ``w``-weighted share of ``y (h,)`` inside the central ``level`` band of the
    mixture ``sum_k p_k N(mu_k, std^2)`` (``mu (K, h)``, ``std (h,)``, ``p``: the
    ``sample_weights (K, h)``, or ``1/K``): ``y`` is inside exactly when the mixture's
    CDF at ``y`` lies between the band's two levels (the CDF is monotone), so no
    quantile is solved for. A zero std is the samples' step CDF."""
    lo, hi = (1 - level) / 2, (1 + level) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (y[None] - mu) / std[None]
    p = _weights(sample_weights, mu.shape)
    cdf = (p * np.where(np.isnan(z), 0.5, ndtr(z))).sum(0)
    inside = (cdf >= lo - 1e-12) & (cdf <= hi + 1e-12)
    return float(np.sum(w * inside) / np.sum(w))


def band_factor(
    mu: np.ndarray,
    std: np.ndarray,
    y: np.ndarray,
    level: float = 0.9,
    steps: int = 14,
    *,
    weights: np.ndarray | None = None,
    sample_weights: np.ndarray | None = None,
) -> float:
    """The factor ``c`` on the noise std whose exact predictive bands (the central
    ``level`` interval of :func:`mixture_quantiles` with ``c * std``) cover a
    (weighted) share of ``y`` closest to ``level``: bisection on ``[0, 3]`` (coverage
    grows with ``c``).

    Args:
        mu: ``(K, h)`` posterior samples of the mean at ``h`` held-out cells.
        std: ``(h,)`` the observation std of each cell's feature.
        y: ``(h,)`` the held-out values.
        weights: ``(h,)`` non-negative weight of each cell in the coverage (``None``:
            every cell alike).
        sample_weights: ``(K, h)`` each cell's posterior sample weights (summing to 1
            over K; ``None``: equal).
    """
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)

    def coverage(c: float) -> float:
        return _coverage(mu, c * std, y, w, level, sample_weights)

    if coverage(3.0) <= level:
        return 3.0
    a, b = 0.0, 3.0
    if coverage(a) >= level:
        return a
    for _ in range(steps):
        mid = 0.5 * (a + b)
        if coverage(mid) < level:
            a = mid
        else:
            b = mid
    return round(b, 4)


def _cells(cells: tuple[np.ndarray, ...]) -> tuple:
    return (*cells, None) if len(cells) == 4 else tuple(cells)


def band_factors(
    inside: tuple[np.ndarray, ...],
    beyond: tuple[np.ndarray, ...],
    level: float = 0.9,
    *,
    spreads: Sequence[float] = tuple(np.round(np.arange(0.25, 2.01, 0.125), 3)),
    steps: int = 12,
) -> tuple[float, float]:
    """Two factors for the bands, ``(spread, noise)``: ``spread`` widens the posterior
    samples about their mean (:func:`widen`), ``noise`` scales the observation std, so
    that the exact predictive bands cover ``level`` of two kinds of held-out cells at
    once: ``inside`` the span a series shows the encoder (gaps: interpolation) and
    ``beyond`` it (forecasts: extrapolation).

    One noise factor cannot do both: near the shown points the band is mostly
    observation noise, far from them mostly posterior spread, and the learned std and
    the posterior each miss by their own amount (``benchmarks/README.md``). For each
    spread on the grid ``spreads`` the noise factor that covers ``level`` of ``inside``
    is found by bisection (:func:`band_factor`); the spread is then the one at which
    ``beyond`` is covered ``level`` too, by bisection between the two grid points that
    bracket it, the bracket nearest a spread of 1 (the posterior as fitted) when
    several do. Without a bracket the grid point whose ``beyond`` coverage is nearest
    ``level`` is taken.

    Args:
        inside, beyond: ``(mu, std, y, weights[, sample_weights])`` of each kind of
            cell: ``mu (K, h)`` posterior samples of the mean, ``std (h,)`` the
            observation std of each cell's feature, ``y (h,)`` the held-out values,
            ``weights (h,)`` each cell's weight in the coverage, ``sample_weights (K, h)``
            the samples' weights (optional; equal without).

    Returns:
        ``(spread, noise)``; ``(1.0, band_factor(...))`` of the kind that has cells when
        the other has none, ``(1.0, 1.0)`` when neither has.
    """
    if not len(beyond[2]) or not len(inside[2]):
        cells = inside if len(inside[2]) else beyond
        if not len(cells[2]):
            return 1.0, 1.0
        mu, std, y, w, p = _cells(cells)
        return 1.0, band_factor(mu, std, y, level, weights=w, sample_weights=p)

    def fit(spread: float) -> tuple[float, float]:
        mu, std, y, w, p = _cells(inside)
        noise = band_factor(widen(mu, spread, p), std, y, level, steps, weights=w, sample_weights=p)
        mu, std, y, w, p = _cells(beyond)
        return noise, _coverage(widen(mu, spread, p), noise * std, y, w, level, p) - level

    grid = sorted({float(a) for a in spreads})
    fits = [fit(a) for a in grid]
    gaps = [g for _, g in fits]
    brackets = [i for i in range(len(grid) - 1) if gaps[i] * gaps[i + 1] <= 0]
    if not brackets:
        best = int(np.argmin(np.abs(gaps)))
        return grid[best], fits[best][0]
    i = min(brackets, key=lambda j: abs(0.5 * (grid[j] + grid[j + 1]) - 1.0))
    a, b, ga = grid[i], grid[i + 1], gaps[i]
    tried = [(abs(gaps[j]), grid[j], fits[j][0]) for j in (i, i + 1)]
    for _ in range(steps // 2):
        mid = 0.5 * (a + b)
        noise, gm = fit(mid)
        tried.append((abs(gm), mid, noise))
        if (gm <= 0) == (ga <= 0):
            a, ga = mid, gm
        else:
            b = mid
    _, spread, noise = min(tried)
    return round(spread, 4), noise


def hidden_cells(
    samples: Sequence[tuple[np.ndarray, np.ndarray]],
    std: np.ndarray,
    series: Sequence[Any],
    n_samples: int,
) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """The cells :func:`band_factors` calibrates on: ``(inside, beyond)``, the values each
    series hides (``target_mask`` set, ``obs_mask`` not) inside the time span it shows and
    beyond it, each a tuple ``(mu (K, h), std (h,), y (h,), w (h,), p (K, h))``.

    ``samples`` holds one ``(draws (K, n, D), weights (K,))`` per series (normalised
    importance weights), ``std: (D,)`` the observation std, ``series`` the matching
    :class:`~latentode.data.batch.Series`. Each series' cells of one kind weigh ``1/h`` in
    total weight 1, so every series counts once in each kind."""
    kinds: dict[bool, list[list]] = {k: [[], [], [], [], []] for k in (True, False)}
    for (draws, p), s in zip(samples, series, strict=True):
        hidden = (s.target_mask > 0) & ~(s.obs_mask > 0)
        shown = s.times[(s.obs_mask > 0).any(1)]
        if not hidden.any() or not len(shown):
            continue
        rows, cols = np.nonzero(hidden)
        within = (s.times[rows] >= shown.min()) & (s.times[rows] <= shown.max())
        for kind in (True, False):
            pick = within == kind
            if not pick.any():
                continue
            r, c = rows[pick], cols[pick]
            parts = kinds[kind]
            parts[0].append(draws[:, r, c])
            parts[1].append(std[c])
            parts[2].append(s.values[r, c])
            parts[3].append(np.full(len(r), 1.0 / len(r)))
            parts[4].append(np.repeat(p[:, None], len(r), 1))

    def joined(parts: list[list]) -> tuple[np.ndarray, ...]:
        if not parts[0]:
            empty = np.zeros((n_samples, 0))
            return empty, np.zeros(0), np.zeros(0), np.zeros(0), empty
        mu, *rest, p = parts
        return np.concatenate(mu, 1), *(np.concatenate(x) for x in rest), np.concatenate(p, 1)

    return joined(kinds[True]), joined(kinds[False])
