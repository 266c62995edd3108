"""Prediction bands: observation noise on posterior samples, and its calibration."""

from __future__ import annotations

import numpy as np

__all__ = ["add_noise", "coverage_factor"]


def add_noise(samples: np.ndarray, std: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Posterior-predictive draws: ``samples (K, n, D)`` plus Gaussian noise of ``std (D,)``
    from ``rng``."""
    return samples + rng.standard_normal(samples.shape) * std


def coverage_factor(mu: np.ndarray, eps: np.ndarray, y: np.ndarray, level: float = 0.9) -> float:
    """The factor ``c`` on the noise, from a grid of 0 to 3 in steps of 0.05, whose central
    ``level`` bands of ``mu + c * eps`` cover a share of ``y`` closest to ``level``.

    Args:
        mu: ``(K, h)`` posterior samples of the mean at ``h`` held-out cells.
        eps: ``(K, h)`` noise draws at the observation std.
        y: ``(h,)`` the held-out values.
    """
    lo_q, hi_q = round((1 - level) / 2, 12), round((1 + level) / 2, 12)
    best, best_gap = 1.0, np.inf
    for c in np.arange(0.0, 3.0001, 0.05):
        draws = mu + c * eps
        lo, hi = np.quantile(draws, [lo_q, hi_q], axis=0)
        gap = abs(float(np.mean((y >= lo) & (y <= hi))) - level)
        if gap < best_gap - 1e-12:
            best, best_gap = float(c), gap
    return best
