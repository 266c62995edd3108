"""Which columns of a frame are targets: given, or inferred (every numeric column
but the id and time columns, any excluded ones and index-like ones)."""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataFrameError, fmt_list, warn_user

__all__ = ["resolve_targets", "missing_columns_error"]


def missing_columns_error(df: pd.DataFrame, missing: list[Any], role: str) -> DataFrameError:
    avail = fmt_list(df.columns, limit=20)
    hint = ""
    in_index = [m for m in missing if m in (df.index.names or [])]
    if in_index:
        hint = f" {fmt_list(in_index)} is in the index: call df.reset_index() first."
    return DataFrameError(
        f"{role} {fmt_list(missing, limit=20)} not found in the DataFrame; available columns: "
        f"{avail}.{hint} Pass the right column names."
    )


_log = logging.getLogger("latentode")
#: column names that hold a row number (written by R, ``to_csv`` or ``reset_index``)
INDEX_NAMES = ("rownames", "index", "level_0")


def _is_index_like(df: pd.DataFrame, col: Hashable) -> bool:
    """A row-number column: named like one (``rownames``, ``Unnamed: 0``, ``index``,
    ``level_0``), or integers equal to the row position counted from 0 or 1."""
    name = str(col).strip().lower()
    if name in INDEX_NAMES or name.startswith("unnamed:"):
        return True
    values = df[col]
    if not pd.api.types.is_integer_dtype(values.dtype) or len(values) < 3:
        return False
    arr = values.to_numpy()
    steps = np.arange(len(arr))
    return bool(np.array_equal(arr, steps) or np.array_equal(arr, steps + 1))


def resolve_targets(
    df: pd.DataFrame,
    id_col: Hashable,
    time_col: Hashable,
    target_cols: Any,
    *,
    exclude: Iterable[Hashable] = (),
) -> list[Any]:
    """The target columns: ``target_cols`` checked (a name or a list; present, no
    repeats, not the id or time column), or for ``None`` every numeric, non-bool,
    non-complex column but ``id_col``, ``time_col``, ``exclude`` (e.g. a label) and
    index-like columns (a row number; left out with a warning naming them)."""
    skip = (id_col, time_col, *exclude)
    if target_cols is None:
        targets = [
            c
            for c in df.columns
            if c not in skip
            and pd.api.types.is_numeric_dtype(df[c].dtype)
            and not pd.api.types.is_bool_dtype(df[c].dtype)
            and not pd.api.types.is_complex_dtype(df[c].dtype)
        ]
        index_like = [c for c in targets if _is_index_like(df, c)]
        targets = [c for c in targets if c not in index_like]
        if targets:
            note = f"target_cols=None: the targets are {fmt_list(targets, limit=20)}"
            if index_like:
                warn_user(
                    f"{note}; left out the index-like column(s) {fmt_list(index_like)} (a "
                    "row number, not a measurement). Pass target_cols=[...] to choose."
                )
            else:
                _log.info("%s.", note)
        if not targets:
            others = [c for c in df.columns if c not in skip]
            raise DataFrameError(
                "no numeric target columns found besides the id and time columns "
                f"(other columns: {fmt_list(others, limit=20) or 'none'}); pass target_cols=[...] "
                "and convert them with pd.to_numeric(...)."
            )
        return targets
    if isinstance(target_cols, (str, bytes)) or not isinstance(target_cols, Iterable):
        target_cols = [target_cols]
    targets = list(target_cols)
    if not targets:
        raise DataFrameError("target_cols is empty; pass at least one column, or None for all.")
    dup = [c for c, k in pd.Series(targets).value_counts().items() if k > 1]
    if dup:
        raise DataFrameError(f"target_cols lists {fmt_list(dup)} more than once; list each once.")
    clash = [c for c in targets if c in (id_col, time_col)]
    if clash:
        raise DataFrameError(
            f"target_cols includes the id/time column {fmt_list(clash)}; remove it."
        )
    missing = [c for c in targets if c not in df.columns]
    if missing:
        raise missing_columns_error(df, missing, "target column(s)")
    return targets
