"""``LatentODE.evaluate``: hide points or cut each series by a seeded protocol, predict
them, and score the model next to simple baselines in one table."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..frames import DataFrameError, horizon_units
from ..frames.errors import warn_user
from ..naive import last_value_fill, linear_fill, linear_trend_fill

__all__ = ["LatentEvaluation", "hide_cells", "cut_series", "mean_curve_fill", "score_table"]


def hide_cells(
    clean: pd.DataFrame, targets: Sequence[Hashable], id_col: Hashable, fraction: float, seed: int
) -> np.ndarray:
    """A mask ``(rows, targets)`` of observed cells to hide: each with probability
    ``fraction`` (``np.random.default_rng(seed)``), except every series' first observed
    row, so each series keeps something to condition on."""
    values = clean[list(targets)].to_numpy(dtype=np.float64)
    observed = ~np.isnan(values)
    hide = observed & (np.random.default_rng(seed).random(values.shape) < fraction)
    any_obs = observed.any(axis=1)
    first = (
        any_obs & ~pd.Series(any_obs).groupby(clean[id_col].to_numpy()).cumsum().gt(1).to_numpy()
    )
    hide[first] = False
    return hide


def cut_series(
    clean: pd.DataFrame,
    id_col: Hashable,
    time_col: Hashable,
    codec: Any,
    fraction: float,
    horizon: Any,
) -> np.ndarray:
    """A boolean mask of the rows after each series' cut: the last ``horizon`` (a
    duration) of the series, or with ``horizon=None`` the times after the first
    ``fraction`` of its span."""
    t = codec.encode(clean[time_col])
    ids = clean[id_col].to_numpy()
    lo = pd.Series(t).groupby(ids).transform("min").to_numpy()
    hi = pd.Series(t).groupby(ids).transform("max").to_numpy()
    if horizon is not None:
        cut = hi - horizon_units(horizon, codec)
    else:
        cut = lo + fraction * (hi - lo)
    return t > cut


def mean_curve_fill(
    t_context: np.ndarray,
    v_context: np.ndarray,
    ids_context: np.ndarray,
    t_query: np.ndarray,
    ids_query: np.ndarray,
    n_bins: int = 20,
) -> np.ndarray:
    """The population's mean curve plus a per-series offset: the mean of all context
    values in quantile bins of time (linear between bin centres, flat outside), shifted
    by each series' mean residual on its own context values (0 without any)."""
    ok = ~np.isnan(v_context)
    t, v, ids = t_context[ok], v_context[ok], ids_context[ok]
    if not len(t):
        return np.full(len(t_query), np.nan)
    edges = np.unique(np.quantile(t, np.linspace(0, 1, n_bins + 1)))
    which = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, max(len(edges) - 2, 0))
    frame = pd.DataFrame({"bin": which, "t": t, "v": v}).groupby("bin").mean()
    curve = lambda x: np.interp(x, frame["t"].to_numpy(), frame["v"].to_numpy())  # noqa: E731
    offsets = pd.Series(v - curve(t)).groupby(ids).mean()
    shift = pd.Series(ids_query).map(offsets).fillna(0.0).to_numpy(dtype=np.float64)
    return curve(t_query) + shift


def baseline_predictions(
    context: pd.DataFrame,
    query: pd.DataFrame,
    id_col: Hashable,
    time_col: Hashable,
    targets: Sequence[Hashable],
    codec: Any,
) -> dict[str, np.ndarray]:
    """Per baseline, ``(len(query), targets)`` predictions from the context rows."""
    tc, tq = codec.encode(context[time_col]), codec.encode(query[time_col])
    ic, iq = context[id_col].to_numpy(), query[id_col].to_numpy()
    fills = {"linear": linear_fill, "linear trend": linear_trend_fill, "last": last_value_fill}
    out = {name: np.full((len(query), len(targets)), np.nan) for name in fills}
    out["mean curve + offset"] = np.full((len(query), len(targets)), np.nan)
    groups_c = pd.Series(np.arange(len(context))).groupby(ic).indices
    groups_q = pd.Series(np.arange(len(query))).groupby(iq).indices
    for j, c in enumerate(targets):
        vc = context[c].to_numpy(dtype=np.float64)
        out["mean curve + offset"][:, j] = mean_curve_fill(tc, vc, ic, tq, iq)
        for sid, rows_q in groups_q.items():
            rows_c = groups_c.get(sid, np.zeros(0, dtype=int))
            rows_c = rows_c[~np.isnan(vc[rows_c])]
            if not len(rows_c):
                continue
            order = rows_c[np.argsort(tc[rows_c], kind="stable")]
            for name, fill in fills.items():
                out[name][rows_q, j] = fill(tc[order], vc[order], tq[rows_q])
    return out


def score_table(
    truth: np.ndarray,
    scored: np.ndarray,
    predictions: dict[str, np.ndarray],
    bands: tuple[np.ndarray, np.ndarray] | None,
    targets: Sequence[Hashable],
    scale: np.ndarray,
    n_series: int,
) -> pd.DataFrame:
    """One row per method: ``mse_<t>``, ``mae_<t>`` per target, ``mse`` and ``mae``
    overall (errors divided by each target's training std, so targets of different units
    count alike), ``coverage`` of the model's band, ``n_cells`` and ``n_series``."""
    rows = []
    for method, pred in predictions.items():
        err = np.where(scored, pred - truth, np.nan)
        row: dict[str, Any] = {"method": method}
        for j, c in enumerate(targets):
            e = err[:, j][scored[:, j]]
            row[f"mse_{c}"] = float(np.nanmean(e**2)) if len(e) else np.nan
            row[f"mae_{c}"] = float(np.nanmean(np.abs(e))) if len(e) else np.nan
        z = (err / scale)[scored]
        row["mse"] = float(np.nanmean(z**2)) if len(z) else np.nan
        row["mae"] = float(np.nanmean(np.abs(z))) if len(z) else np.nan
        row["coverage"] = np.nan
        if bands is not None and method == "LatentODE":
            lo, hi = bands
            row["coverage"] = float(((truth >= lo) & (truth <= hi))[scored].mean())
        row["n_cells"] = int(scored.sum())
        row["n_predicted"] = int((scored & ~np.isnan(pred)).sum())
        row["n_series"] = n_series
        rows.append(row)
    return pd.DataFrame(rows)


def check_task(task: str, fraction: float, horizon: Any) -> None:
    if task not in ("interpolate", "extrapolate"):
        raise ValueError(f"task must be 'interpolate' or 'extrapolate', got {task!r}.")
    if horizon is not None and task != "extrapolate":
        raise ValueError("horizon= applies to task='extrapolate' only.")
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}.")


def warn_unscored(n_skipped: int, what: str) -> None:
    if n_skipped:
        warn_user(f"evaluate: {n_skipped} {what}; they are counted in n_cells, not scored.")


def require_cells(n: int) -> None:
    if n == 0:
        raise DataFrameError(
            "evaluate: the protocol left no observed cell to score; raise fraction or give "
            "longer series."
        )


class LatentEvaluation:
    """``evaluate`` (a mixin of :class:`~latentode.LatentODE`)."""

    def evaluate(
        self,
        df: pd.DataFrame,
        *,
        task: str = "interpolate",
        fraction: float = 0.5,
        horizon: Any = None,
        baselines: bool = True,
        level: float = 0.9,
        n_samples: int = 100,
        seed: int = 0,
    ) -> pd.DataFrame:
        """Hide part of ``df``, predict it from the rest and score the model next to
        baselines.

        Protocols (seeded; the same ``seed`` hides the same cells for every model):
        ``task="interpolate"`` hides each observed cell with probability ``fraction``
        (every series keeps its first observed row); ``task="extrapolate"`` scores each
        series' rows after the first ``fraction`` of its time span, or with ``horizon``
        (a duration) its last ``horizon``, from the rows before.

        Baselines (``baselines=True``), from the same visible cells: per-series linear
        interpolation (held flat outside), a per-series least-squares line (``linear
        trend``, extrapolated), the last value carried forward, and the population's mean
        curve (binned over time) plus a per-series offset.

        Returns:
            One row per method (``LatentODE`` first): ``mse_<target>``,
            ``mae_<target>``, ``mse`` and ``mae`` pooled over targets on the training
            scale of each target, ``coverage`` of the model's central ``level`` band,
            ``n_cells`` scored, ``n_predicted`` and ``n_series``.
        """
        check_task(task, fraction, horizon)
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level!r}.")
        clean, _ = self._context(df)
        targets, id_col, time_col = self.target_cols_, self.id_col_, self.time_col_
        truth = clean[targets].to_numpy(dtype=np.float64)
        observed = ~np.isnan(truth)
        if task == "interpolate":
            scored = hide_cells(clean, targets, id_col, fraction, seed)
            context = clean.copy()
            context[targets] = np.where(scored, np.nan, truth)
            query = clean[[id_col, time_col]]
            rows = np.arange(len(clean))
        else:
            after = cut_series(clean, id_col, time_col, self.codec_, fraction, horizon)
            before = clean[~after]
            has_context = clean[id_col].isin(before[id_col][before[targets].notna().any(axis=1)])
            context = clean[~after & has_context.to_numpy()]
            scored = observed & (after & has_context.to_numpy())[:, None]
            rows = np.flatnonzero(after & has_context.to_numpy())
            query = clean[[id_col, time_col]].iloc[rows]
            warn_unscored(
                int(clean.loc[~has_context.to_numpy(), id_col].nunique()),
                "series have no observed value before their cut",
            )
        require_cells(int(scored.sum()))
        lo_q, hi_q = round((1 - level) / 2, 10), round((1 + level) / 2, 10)
        _, series = self._context(context, covariates_from=df)  # known inputs stay known
        queries = self._queries(query, context, series)
        pred = self._predict_at(series, queries, (lo_q, hi_q), n_samples, queries.given)
        pred = query.merge(pred, on=[id_col, time_col], how="left")
        mean = np.full(truth.shape, np.nan)
        lo, hi = np.full(truth.shape, np.nan), np.full(truth.shape, np.nan)
        for j, c in enumerate(targets):
            mean[rows, j] = pred[c].to_numpy()
            lo[rows, j] = pred[f"{c}_q{lo_q:g}"].to_numpy()
            hi[rows, j] = pred[f"{c}_q{hi_q:g}"].to_numpy()
        predictions = {"LatentODE": mean}
        if baselines:
            base = baseline_predictions(context, query, id_col, time_col, targets, self.codec_)
            for name, values in base.items():
                arr = np.full(truth.shape, np.nan)
                arr[rows] = values
                predictions[name] = arr
        scale = np.asarray(self.scaler_.scale_, dtype=np.float64)
        n_series = int(clean[id_col].nunique())
        return score_table(truth, scored, predictions, (lo, hi), targets, scale, n_series)
