"""The paper's evaluation protocols on long DataFrames (the tensor-level twins are in
:mod:`latentode.data.protocols`).

Both helpers split the rows of a frame into two frames that together hold every row
exactly once, keeping the original index and row order.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd

from ..frames import DataFrameError

__all__ = ["subsample_frame", "split_frame_extrapolation"]


def _check(
    df: pd.DataFrame,
    id_col: Hashable,
    time_col: Hashable,
    feature_cols: Sequence[Hashable] | None,
) -> list[Hashable]:
    if not isinstance(df, pd.DataFrame):
        raise DataFrameError(f"expected a pandas DataFrame, got {type(df).__name__}.")
    missing = [c for c in (id_col, time_col) if c not in df.columns]
    if missing:
        raise DataFrameError(
            f"column(s) {missing} not in the frame (columns: {list(df.columns)}); pass "
            "id_col= and time_col=."
        )
    if df[time_col].isna().any():
        raise DataFrameError(
            f"column {time_col!r} has {int(df[time_col].isna().sum())} missing time(s); "
            "drop or fill those rows first."
        )
    if feature_cols is None:
        feature_cols = [
            c
            for c in df.columns
            if c not in (id_col, time_col)
            and pd.api.types.is_numeric_dtype(df[c].dtype)
            and not pd.api.types.is_bool_dtype(df[c].dtype)
        ]
    feature_cols = list(feature_cols)
    absent = [c for c in feature_cols if c not in df.columns]
    if absent:
        raise DataFrameError(f"feature column(s) {absent} not in the frame; fix feature_cols=.")
    if not feature_cols:
        raise DataFrameError(
            "no numeric feature columns besides the id and time columns; pass feature_cols=."
        )
    return feature_cols


def subsample_frame(
    df: pd.DataFrame,
    fraction: float,
    seed: int = 0,
    id_col: Hashable = "id",
    time_col: Hashable = "time",
    feature_cols: Sequence[Hashable] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Interpolation protocol: keep ``fraction`` of each series' observed rows.

    A row is observed if any of ``feature_cols`` (default: every numeric column but id
    and time) is not ``NaN``. Each series keeps ``max(1, round(fraction * n_observed))``
    of its observed rows, drawn without replacement (the same rule as
    :func:`latentode.data.protocols.subsample_observed`). Deterministic for a ``seed``.

    Returns:
        ``(observed, held_out)``: the kept rows, and every other row (the observed rows
        not kept, and the rows with no observed feature, which are query times). Together
        they hold each row of ``df`` exactly once.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}.")
    features = _check(df, id_col, time_col, feature_cols)
    observed = df[features].notna().any(axis=1).to_numpy()
    rng = np.random.default_rng(seed)
    keep = np.zeros(len(df), dtype=bool)
    codes, _ = pd.factorize(df[id_col], sort=True)
    pos = np.flatnonzero(observed)
    order = pos[np.argsort(codes[pos], kind="stable")]
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    for rows in np.split(order, bounds):
        if len(rows) == 0:
            continue
        k = max(1, int(round(fraction * len(rows))))
        keep[rng.choice(rows, size=k, replace=False)] = True
    return df[keep], df[~keep]


def split_frame_extrapolation(
    df: pd.DataFrame,
    fraction: float = 0.5,
    id_col: Hashable = "id",
    time_col: Hashable = "time",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Extrapolation protocol: rows before ``start + fraction * span`` of each series.

    ``start`` and ``span`` are the first time and the time range of each series' rows
    (numbers or datetimes). Rows at the cut go to ``observed``.

    Returns:
        ``(observed, future)``; together they hold each row of ``df`` exactly once.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}.")
    if not isinstance(df, pd.DataFrame):
        raise DataFrameError(f"expected a pandas DataFrame, got {type(df).__name__}.")
    for c in (id_col, time_col):
        if c not in df.columns:
            raise DataFrameError(
                f"column {c!r} not in the frame (columns: {list(df.columns)}); pass "
                "id_col= and time_col=."
            )
    t = df[time_col]
    if t.isna().any():
        raise DataFrameError(
            f"column {time_col!r} has {int(t.isna().sum())} missing time(s); drop or fill "
            "those rows first."
        )
    g = t.groupby(df[id_col], sort=False)
    t0, t1 = g.transform("min"), g.transform("max")
    before = (t <= t0 + (t1 - t0) * fraction).to_numpy()
    return df[before], df[~before]
