"""The pandas layer's error type and the helpers its messages use."""

from __future__ import annotations

import datetime as _dt
import numbers
import sys
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "warn_user",
    "DataFrameError",
    "fmt_list",
    "plain",
    "unique_in_order",
    "is_number",
    "is_datetime_like",
    "is_null",
    "id_ranks",
]

SHOW = 5  # how many ids / rows an error message lists


class DataFrameError(ValueError):
    """A DataFrame given to the estimators is not usable; the message says how to fix it."""


# --------------------------------------------------------------------------- helpers
def fmt_list(items: Iterable[Any], limit: int = SHOW) -> str:
    """``'a', 'b', 3 (and 7 more)``."""
    items = list(items)
    shown = ", ".join(repr(plain(x)) for x in items[:limit])
    if len(items) > limit:
        shown += f" (and {len(items) - limit} more)"
    return shown


def plain(x: Any) -> Any:
    """numpy scalars as Python scalars, for readable messages."""
    return x.item() if isinstance(x, np.generic) else x


def unique_in_order(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(plain(v) for v in values))


def is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))


def is_datetime_like(x: Any) -> bool:
    return isinstance(x, (_dt.datetime, _dt.date, np.datetime64))


def is_null(x: Any) -> bool:
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def id_ranks(
    ids: Sequence[Any] | np.ndarray | pd.Series, what: str = "series ids"
) -> tuple[np.ndarray, list[Any]]:
    """Integer rank of each id in sorted order, and the sorted unique ids.

    Ids may be any hashable. Ids of one type sort naturally; ids mixing types that do not
    compare (e.g. ``str`` and ``int``) are grouped by type name, then sorted within type.
    """
    arr = ids.to_numpy() if isinstance(ids, pd.Series) else np.asarray(ids, dtype=object)
    if arr.dtype != object:
        arr = arr.astype(object)
    try:
        codes, uniques = pd.factorize(arr, sort=False)
    except TypeError as err:
        raise DataFrameError(
            f"{what} must be hashable (str, int, ...): {err}. Convert them, e.g. with .astype(str)."
        ) from None
    uniq = [plain(u) for u in uniques]
    keys = (
        lambda i: uniq[i],
        lambda i: (type(uniq[i]).__name__, uniq[i]),
        lambda i: (type(uniq[i]).__name__, repr(uniq[i])),
    )
    for key in keys:
        try:
            perm = sorted(range(len(uniq)), key=key)
            break
        except TypeError:
            continue
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[np.asarray(perm, dtype=np.int64)] = np.arange(len(uniq))
    return rank[codes], [uniq[i] for i in perm]


_PACKAGE = str(Path(__file__).resolve().parents[1])


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` pointing at the first caller outside latentode (the user's line),
    however deep inside the library the warning is raised."""
    level, frame = 2, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
