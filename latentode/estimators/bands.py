"""Prediction bands: the posterior predictive's quantiles (exact, over the posterior
samples of the mean plus Gaussian observation noise), intervals, noisy draws, and the
calibration of the noise factor on the same bands."""

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
]


def add_noise(samples: np.ndarray, std: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Posterior-predictive draws: ``samples (K, n, D)`` plus Gaussian noise of ``std (D,)``
    from ``rng``."""
    return samples + rng.standard_normal(samples.shape) * std


def mixture_quantiles(
    mu: np.ndarray, std: np.ndarray, quantiles: Sequence[float], *, tol: float = 1e-10
) -> np.ndarray:
    """Exact quantiles of the posterior predictive ``(1/K) sum_k N(mu_k, std^2)``.

    No noise is drawn, so a point's quantiles depend only on its own posterior samples
    (its series and time, not the other times asked for) and bands are smooth in time.
    Safeguarded Newton iterations on the mixture's CDF, started at a normal
    approximation; a feature with ``std == 0`` gets the samples' empirical quantiles.

    Args:
        mu: ``(K, n, D)`` posterior samples of the mean.
        std: ``(D,)`` observation std per feature (already scaled).
        quantiles: levels in (0, 1).

    Returns:
        ``(len(quantiles), n, D)``.
    """
    mu = np.asarray(mu, dtype=np.float64)
    std = np.broadcast_to(np.asarray(std, dtype=np.float64), mu.shape[-1:])
    qs = np.asarray(list(quantiles), dtype=np.float64)
    out = np.empty((len(qs), *mu.shape[1:]))
    zero = std <= 0
    if zero.any():
        out[..., zero] = np.quantile(mu[..., zero], qs, axis=0)
    if zero.all():
        return out
    m, s = mu[..., ~zero], std[~zero]  # (K, n, d), (d,)
    k, n, d = m.shape
    # one column per (quantile, point, feature): samples (K, P), std and level (P,)
    samples = np.broadcast_to(m[None], (len(qs), k, n, d)).transpose(1, 0, 2, 3).reshape(k, -1)
    sd = np.broadcast_to(s, (len(qs), n, d)).reshape(-1)
    level = np.broadcast_to(qs[:, None, None], (len(qs), n, d)).reshape(-1)
    lo, hi = samples.min(0) - 10 * sd, samples.max(0) + 10 * sd
    spread = np.sqrt(samples.var(0) + sd**2)
    x = np.clip(samples.mean(0) + ndtri(level) * spread, lo, hi)
    active = np.arange(len(x))
    for _ in range(100):
        z = (x[active] - samples[:, active]) / sd[active]  # (K, A)
        f = ndtr(z).mean(0) - level[active]
        done = np.abs(f) < tol
        dens = np.exp(-0.5 * z**2).mean(0) / (sd[active] * np.sqrt(2 * np.pi))
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


def band_factor(
    mu: np.ndarray,
    std: np.ndarray,
    y: np.ndarray,
    level: float = 0.9,
    steps: int = 14,
    *,
    weights: np.ndarray | None = None,
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
    """
    lo_q, hi_q = round((1 - level) / 2, 12), round((1 + level) / 2, 12)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)

    def coverage(c: float) -> float:
        lo, hi = mixture_quantiles(mu[:, None, :], c * std, (lo_q, hi_q))[:, 0]
        return float(np.sum(w * ((y >= lo) & (y <= hi))) / np.sum(w))

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
