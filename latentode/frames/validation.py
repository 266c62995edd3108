"""Validation of a long frame (:func:`check_frame`): errors that name the offending
column or series and say how to fix it. Nothing is dropped silently; merging duplicate
``(id, time)`` rows (``duplicates="mean"``) warns with a count."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .errors import SHOW, DataFrameError, fmt_list, id_ranks, plain, unique_in_order, warn_user
from .targets import missing_columns_error, resolve_targets
from .times import TimeCodec, raw_times

__all__ = ["check_frame"]


def check_frame(
    df: pd.DataFrame,
    id_col: Hashable,
    time_col: Hashable,
    target_cols: Sequence[Hashable] | Hashable | None = None,
    *,
    duplicates: str = "error",
    codec: TimeCodec | None = None,
    fit_targets: Sequence[Hashable] | None = None,
    allow_empty_series: bool = False,
) -> tuple[pd.DataFrame, list[Any]]:
    """Validate a long frame and return a cleaned copy and the resolved target columns.

    Args:
        df: one row per ``(id, time)``, one column per target, ``NaN`` where unobserved.
        id_col: column of series ids (any hashable values; kept as they are).
        time_col: column of times: numbers, or datetimes (naive or tz-aware).
        target_cols: target columns; ``None`` means every numeric (non-bool) column other
            than ``id_col`` and ``time_col``.
        duplicates: ``"error"`` (default) rejects repeated ``(id, time)`` rows; ``"mean"``
            averages them column by column, ignoring ``NaN``, with a ``UserWarning``.
        codec: when given (predict time), the times must be of the codec's kind.
        fit_targets: when given (predict time), the targets must be exactly these columns;
            the result follows their order. Also turns off the all-``NaN`` column check
            (a target may be unobserved in a prediction context).
        allow_empty_series: keep series with no observed target value (default: error).

    Returns:
        ``(clean, targets)``: ``clean`` has columns ``[id_col, time_col, *targets]``, float64
        targets, rows sorted by id then time (stable) and a fresh index. Rows whose targets
        are all ``NaN`` are kept: they are query times.

    Raises:
        DataFrameError: naming the column and/or series ids at fault and the fix.
    """
    _check_shape(df, id_col, time_col, duplicates)
    targets = _check_targets(df, id_col, time_col, target_cols, fit_targets)
    id_s = df[id_col]
    id_rank = _id_rank(id_s, id_col)
    what = f"time column {time_col!r}"
    raw = raw_times(df[time_col], what)
    if raw.bad.any():
        bad_ids = unique_in_order(id_s.to_numpy()[raw.bad])
        raise DataFrameError(
            f"{what} has {int(raw.bad.sum())} NaN/NaT/infinite times in series "
            f"{fmt_list(bad_ids)}; drop or fill those rows."
        )
    if codec is not None:
        codec._check_compatible(raw, what)
    values = _target_values(df, targets, id_s)

    # sort by id then time (stable)
    order = np.lexsort((raw.values, id_rank))
    id_rank, tkey, values = id_rank[order], raw.values[order], values[order]
    if raw.kind == "datetime":
        times_out = df[time_col]
        if pd.api.types.is_object_dtype(times_out.dtype):
            times_out = pd.to_datetime(times_out)
        times_out = times_out.iloc[order].reset_index(drop=True)
    elif raw.values.dtype.kind in "iu":
        times_out = pd.Series(tkey, dtype=np.int64)
    else:
        times_out = pd.Series(tkey, dtype=np.float64)
    ids_out = id_s.iloc[order].reset_index(drop=True)

    new = np.ones(len(order), dtype=bool)
    new[1:] = (id_rank[1:] != id_rank[:-1]) | (tkey[1:] != tkey[:-1])
    if not new.all():
        starts, values = _merge_duplicates(
            new, values, ids_out, times_out, id_col, time_col, duplicates
        )
        id_rank = id_rank[starts]
        ids_out = ids_out.iloc[starts].reset_index(drop=True)
        times_out = times_out.iloc[starts].reset_index(drop=True)
    _check_observed(values, targets, id_rank, ids_out, id_col, fit_targets, allow_empty_series)
    clean = pd.DataFrame({id_col: ids_out, time_col: times_out})
    for j, c in enumerate(targets):
        clean[c] = values[:, j]
    return clean, list(targets)


def _check_shape(df: Any, id_col: Hashable, time_col: Hashable, duplicates: str) -> None:
    """A non-empty DataFrame with distinct column names holding the id and time columns."""
    if not isinstance(df, pd.DataFrame):
        raise DataFrameError(
            f"expected a pandas DataFrame, got {type(df).__name__}; build one with "
            "pd.DataFrame(...) in long format (one row per id and time)."
        )
    if duplicates not in ("error", "mean"):
        raise DataFrameError(f"duplicates must be 'error' or 'mean', not {duplicates!r}.")
    if len(df) == 0:
        raise DataFrameError("the DataFrame has no rows; give at least one observation.")
    if id_col == time_col:
        raise DataFrameError(f"id_col and time_col are both {id_col!r}; give two columns.")
    if df.columns.has_duplicates:
        dup = unique_in_order(df.columns[df.columns.duplicated()])
        raise DataFrameError(f"column(s) {fmt_list(dup)} appear more than once; rename them.")
    missing = [c for c in (id_col, time_col) if c not in df.columns]
    if missing:
        raise missing_columns_error(df, missing, "id/time column(s)")


def _check_targets(
    df: pd.DataFrame,
    id_col: Hashable,
    time_col: Hashable,
    target_cols: Any,
    fit_targets: Sequence[Hashable] | None,
) -> list[Any]:
    """The resolved targets (exactly ``fit_targets`` when given), all numeric."""
    targets = resolve_targets(df, id_col, time_col, target_cols)
    if fit_targets is not None:
        fit_targets = list(fit_targets)
        miss = [c for c in fit_targets if c not in targets]
        extra = [c for c in targets if c not in fit_targets]
        if miss or extra:
            parts = []
            if miss:
                parts.append(f"missing {fmt_list(miss, limit=20)}")
            if extra:
                parts.append(f"extra {fmt_list(extra, limit=20)}")
            raise DataFrameError(
                f"target columns differ from those the model was fitted on "
                f"({fmt_list(fit_targets, limit=20)}): {'; '.join(parts)}. Give exactly the "
                "fitted columns (drop extra ones or pass target_cols=...)."
            )
        targets = fit_targets
    bad_dtype = [
        c
        for c in targets
        if not pd.api.types.is_numeric_dtype(df[c].dtype)
        or pd.api.types.is_bool_dtype(df[c].dtype)
        or pd.api.types.is_complex_dtype(df[c].dtype)
    ]
    if bad_dtype:
        desc = ", ".join(f"{c!r} ({df[c].dtype})" for c in bad_dtype[:20])
        raise DataFrameError(
            f"target column(s) {desc} are not numeric; convert them, e.g. "
            "df[col] = pd.to_numeric(df[col], errors='coerce') (or .astype(float) for bools)."
        )
    return targets


def _id_rank(id_s: pd.Series, id_col: Hashable) -> np.ndarray:
    """Each row's rank of its id in sorted order; no missing ids."""
    id_na = id_s.isna().to_numpy()
    if id_na.any():
        rows = np.flatnonzero(id_na)
        raise DataFrameError(
            f"id column {id_col!r} has {len(rows)} missing ids "
            f"(rows {fmt_list(id_s.index[rows])}); drop those rows or fill the ids."
        )
    return id_ranks(id_s, f"ids in column {id_col!r}")[0]


def _target_values(df: pd.DataFrame, targets: list[Any], id_s: pd.Series) -> np.ndarray:
    """``(rows, targets)`` float64 values, NaN where missing; no infinities."""
    values = np.column_stack(
        [df[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in targets]
    ).reshape(len(df), len(targets))
    inf = np.isinf(values)
    if inf.any():
        parts = []
        for j in np.flatnonzero(inf.any(axis=0)):
            ids_j = unique_in_order(id_s.to_numpy()[inf[:, j]])
            parts.append(f"column {targets[j]!r} in series {fmt_list(ids_j)}")
        raise DataFrameError(
            f"infinite target values: {'; '.join(parts)}; replace them with NaN "
            "(df.replace([np.inf, -np.inf], np.nan)) or finite values."
        )
    return values


def _merge_duplicates(
    new: np.ndarray,
    values: np.ndarray,
    ids_out: pd.Series,
    times_out: pd.Series,
    id_col: Hashable,
    time_col: Hashable,
    duplicates: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted rows repeating an ``(id, time)`` pair (``new`` False): an error, or for
    ``duplicates="mean"`` the first row of each pair and the NaN-ignoring means."""
    dup_rows = ~new
    if duplicates == "error":
        pairs = list(
            dict.fromkeys(
                (plain(i), plain(t))
                for i, t in zip(ids_out[dup_rows], times_out[dup_rows], strict=True)
            )
        )
        shown = ", ".join(f"(id={i!r}, time={t!r})" for i, t in pairs[:SHOW])
        more = f" (and {len(pairs) - SHOW} more)" if len(pairs) > SHOW else ""
        raise DataFrameError(
            f"{int(dup_rows.sum())} row(s) repeat an earlier (id, time) pair in columns "
            f"{id_col!r}/{time_col!r}: {shown}{more}. Aggregate them first, or pass "
            "duplicates='mean' to average them."
        )
    starts = np.flatnonzero(new)
    finite = np.isfinite(values)
    sums = np.add.reduceat(np.where(finite, values, 0.0), starts, axis=0)
    counts = np.add.reduceat(finite.astype(np.int64), starts, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    n_dup = int(dup_rows.sum())
    n_pairs = int(np.count_nonzero(np.diff(np.append(starts, len(new))) > 1))
    warn_user(
        f"duplicates='mean': merged {n_dup + n_pairs} rows sharing {n_pairs} (id, time) "
        f"pairs into one row each ({n_dup} rows fewer); targets were averaged ignoring NaN.",
        UserWarning,
    )
    return starts, values


def _check_observed(
    values: np.ndarray,
    targets: list[Any],
    id_rank: np.ndarray,
    ids_out: pd.Series,
    id_col: Hashable,
    fit_targets: Sequence[Hashable] | None,
    allow_empty_series: bool,
) -> None:
    """Every target column (at fit) and every series has an observed value."""
    observed = np.isfinite(values)
    if fit_targets is None:
        empty_cols = [targets[j] for j in np.flatnonzero(~observed.any(axis=0))]
        if empty_cols:
            raise DataFrameError(
                f"target column(s) {fmt_list(empty_cols, limit=20)} have no observed value "
                "(all NaN); drop them or pass target_cols without them."
            )
    if allow_empty_series:
        return
    n_obs = np.bincount(id_rank, weights=observed.any(axis=1))
    present = np.bincount(id_rank) > 0
    empty_rank = np.flatnonzero(present & (n_obs == 0))
    if len(empty_rank):
        first = np.searchsorted(id_rank, empty_rank)  # id_rank is sorted
        empty_ids = [plain(ids_out.iloc[int(k)]) for k in first]
        raise DataFrameError(
            f"{len(empty_ids)} series {'has' if len(empty_ids) == 1 else 'have'} no "
            "observed target value: ids "
            f"{fmt_list(empty_ids)} (column {id_col!r}); a series needs at least one "
            "observed value to condition on: drop those rows or add observations."
        )
