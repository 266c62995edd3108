"""Generated toy sets: the periodic set of Rubanova et al., the spirals of Chen et al., and
near-regular spike trains for event models.

Each series generator returns a long DataFrame (``id``, ``time``, feature columns) and
has a ``*_series`` twin returning :class:`~latentode.data.batch.Series` for the
tensor-level API; :func:`spike_trains` returns one row per event. All are deterministic
for a given ``seed``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.batch import Series

__all__ = [
    "periodic",
    "periodic_series",
    "spiral",
    "spiral_series",
    "series_to_frame",
    "spike_trains",
]


def periodic_series(
    n_series: int = 1000,
    n_points: int = 100,
    t_max: float = 5.0,
    *,
    irregular: bool = False,
    freq_range: tuple[float, float] = (0.4, 0.8),
    offset_mean: float = 1.0,
    offset_std: float = 0.1,
    noise_std: float = 0.01,
    seed: int = 0,
) -> list[Series]:
    """Sinusoids ``sin(2 pi f t) + offset`` with ``f ~ U(freq_range)``, ``offset ~ N``.

    ``irregular=False`` puts every series on the shared grid ``linspace(0, t_max,
    n_points)`` (the paper's form); ``irregular=True`` draws each series' own
    sorted times uniformly in ``[0, t_max]``. Gaussian noise of ``noise_std``.
    """
    rng = np.random.default_rng(seed)
    grid = np.linspace(0.0, t_max, n_points)
    out = []
    for i in range(n_series):
        t = np.sort(rng.uniform(0.0, t_max, n_points)) if irregular else grid
        f = rng.uniform(*freq_range)
        off = rng.normal(offset_mean, offset_std)
        y = np.sin(2 * np.pi * f * t) + off + rng.normal(0.0, noise_std, n_points)
        out.append(Series(times=t, values=y[:, None], id=i))
    return out


def spiral_series(
    n_series: int = 500,
    n_points: int = 100,
    *,
    n_total: int = 500,
    noise_std: float = 0.1,
    seed: int = 0,
) -> list[Series]:
    """2-d spirals of Chen et al. (2018): half clockwise, half counter-clockwise.

    Each series is ``n_points`` consecutive samples of a spiral parameterised on
    ``n_total`` points of ``theta in [0, 6 pi]``, starting at a random index;
    time is ``theta`` relative to the window start. Gaussian noise ``noise_std``.
    """
    if n_points > n_total // 2:
        raise ValueError("n_points must be at most n_total // 2.")
    rng = np.random.default_rng(seed)
    theta = np.linspace(0.0, 6 * np.pi, n_total)
    cw_t = 6 * np.pi + 1.0 - theta
    cw = np.stack([50.0 / cw_t * np.cos(cw_t) - 5.0, 50.0 / cw_t * np.sin(cw_t)], 1)
    ccw = np.stack([0.3 * theta * np.cos(theta) + 5.0, 0.3 * theta * np.sin(theta)], 1)
    out = []
    for i in range(n_series):
        start = int(rng.integers(0, n_total - 2 * n_points))
        base = cw if i % 2 == 0 else ccw
        xy = base[start : start + n_points] + rng.normal(0.0, noise_std, (n_points, 2))
        t = theta[start : start + n_points] - theta[start]
        out.append(Series(times=t, values=xy, id=i, label=i % 2))
    return out


def series_to_frame(
    series: list[Series], columns: list[str], id_col: str = "id", time_col: str = "time"
) -> pd.DataFrame:
    """Long DataFrame from series: one row per (id, time), NaN where not observed."""
    frames = []
    for s in series:
        vals = np.where(s.mask, s.values, np.nan)
        df = pd.DataFrame(vals, columns=columns)
        df.insert(0, time_col, s.times)
        df.insert(0, id_col, s.id)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def periodic(
    n_series: int = 1000, n_points: int = 100, t_max: float = 5.0, **kwargs
) -> pd.DataFrame:
    """:func:`periodic_series` as a long DataFrame with columns ``id, time, value``."""
    return series_to_frame(periodic_series(n_series, n_points, t_max, **kwargs), ["value"])


def spiral(n_series: int = 500, n_points: int = 100, **kwargs) -> pd.DataFrame:
    """:func:`spiral_series` as a long DataFrame with columns ``id, time, x, y, direction``."""
    series = spiral_series(n_series, n_points, **kwargs)
    df = series_to_frame(series, ["x", "y"])
    df["direction"] = np.repeat([s.label for s in series], [len(s) for s in series])
    return df


def spike_trains(
    n_sequences: int = 200,
    duration: float = 10.0,
    *,
    rate_range: tuple[float, float] = (1.0, 4.0),
    regularity: float = 20.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Near-regular spike trains: one row per event, columns ``id, time, rate``.

    Each sequence has its own rate ``r ~ U(rate_range)`` and a random phase; its gaps
    are ``Gamma(regularity, 1 / (regularity * r))`` (mean ``1 / r``, coefficient of
    variation ``1 / sqrt(regularity)``), so counts vary far less than a Poisson
    process's and the next event is predictable from the last ones. The renewal process
    starts 20 mean gaps before 0, so the phase at 0 is stationary; events fall in
    ``[0, duration)``. ``rate`` is the sequence's true rate (a constant per ``id``).
    """
    if n_sequences < 1 or not duration > 0 or not regularity > 0:
        raise ValueError("spike_trains needs n_sequences >= 1, duration > 0, regularity > 0.")
    lo, hi = rate_range
    if not 0 < lo <= hi:
        raise ValueError(f"rate_range must satisfy 0 < low <= high, got {rate_range}.")
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_sequences):
        rate = rng.uniform(lo, hi)
        n = int(np.ceil((duration * rate + 20) * 2)) + 10
        gaps = rng.gamma(regularity, 1.0 / (regularity * rate), n)
        times = np.cumsum(gaps) - 20.0 / rate
        times = times[(times >= 0) & (times < duration)]
        rows.append(pd.DataFrame({"id": i, "time": times, "rate": rate}))
    return pd.concat(rows, ignore_index=True)
