"""Arguments of the prediction methods: query times, quantile levels, horizons."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataFrameError, fmt_list, id_ranks, is_number, plain, unique_in_order
from .targets import missing_columns_error
from .times import TimeCodec

__all__ = ["QueryTimes", "query_times", "check_quantiles", "horizon_units"]


class QueryTimes(dict):
    """``{id: sorted unique encoded times}``, with ``given[id]``: the same times exactly as
    the user gave them (:meth:`TimeCodec.as_given`), for the output's time column."""

    def __init__(self, encoded: Mapping[Any, np.ndarray], given: Mapping[Any, Any]) -> None:
        super().__init__(encoded)
        self.given = dict(given)


def query_times(
    times_arg: Any,
    ids: Sequence[Hashable],
    codec: TimeCodec,
    *,
    id_col: Hashable,
    time_col: Hashable,
) -> dict[Any, np.ndarray]:
    """Encoded query times per id from the ``times`` argument of ``predict``.

    ``times_arg`` is one of:

    * array-like (list, array, ``pd.Series``, ``pd.Index``) or a single time: the same
      times for every id in ``ids``;
    * a dict ``{id: times}``: only the ids given (each must be in ``ids``);
    * a DataFrame with ``id_col`` and ``time_col``: only the ids present (each in ``ids``).

    Returns:
        ``{id: sorted float64 times}``, in the order of ``ids``, as a
        :class:`QueryTimes` whose ``given`` holds the same times as given (unique; two
        that encode to one float both stay).

    Raises:
        DataFrameError: unknown ids, NaN times, empty times, or an unsupported type.
    """
    known = list(dict.fromkeys(plain(i) for i in ids))
    known_set = set(known)
    given: dict[Any, Any] = {}

    def enc(v: Any, who: str, key: Any) -> np.ndarray:
        if isinstance(v, (str, bytes, Mapping, set, frozenset)) or v is None:
            raise DataFrameError(
                f"query times {who}: expected an array of times, got {type(v).__name__}."
            )
        try:
            codec.encode(v)  # checks kind, zone and finiteness, naming the problem
            values = pd.Series(codec.as_given(v))
        except DataFrameError as err:
            raise DataFrameError(f"query times {who}: {err}") from None
        if len(values) == 0:
            raise DataFrameError(f"query times {who}: no times given; give at least one.")
        # unique as the user's values, not as encoded floats: two distinct times that
        # encode alike still get a row each
        values = values.drop_duplicates().sort_values(kind="stable").array
        given[key] = values
        return codec.encode(pd.Series(values))

    def check_ids(given: Iterable[Any], where: str) -> None:
        unknown = [g for g in unique_in_order(given) if g not in known_set]
        if unknown:
            raise DataFrameError(
                f"{where} has unknown series ids {fmt_list(unknown)}; known ids: "
                f"{fmt_list(known)}. Query only ids that are in the prediction frame."
            )

    if isinstance(times_arg, pd.DataFrame):
        missing = [c for c in (id_col, time_col) if c not in times_arg.columns]
        if missing:
            raise missing_columns_error(times_arg, missing, "times frame column(s)")
        id_s = times_arg[id_col]
        if id_s.isna().any():
            raise DataFrameError(
                f"times frame: column {id_col!r} has {int(id_s.isna().sum())} missing ids; "
                "drop those rows."
            )
        check_ids(id_s.to_numpy(), "times frame")
        rank, uniques = id_ranks(id_s)
        out_by_id = {}
        for r, uid in enumerate(uniques):
            out_by_id[uid] = enc(times_arg[time_col][rank == r], f"for series {uid!r}", uid)
        return QueryTimes({i: out_by_id[i] for i in known if i in out_by_id}, given)
    if isinstance(times_arg, Mapping):
        check_ids(times_arg.keys(), "times dict")
        by_id = {plain(k): v for k, v in times_arg.items()}
        return QueryTimes(
            {i: enc(by_id[i], f"for series {i!r}", i) for i in known if i in by_id}, given
        )
    if times_arg is None or isinstance(times_arg, (str, bytes, set, frozenset)):
        raise DataFrameError(
            f"times must be array-like, a dict {{id: times}} or a DataFrame with columns "
            f"{id_col!r} and {time_col!r}; got {type(times_arg).__name__}."
        )
    shared = enc(times_arg, "(shared by all series)", None)
    return QueryTimes({i: shared.copy() for i in known}, dict.fromkeys(known, given[None]))


def check_quantiles(q: float | Iterable[float] | None) -> tuple[float, ...]:
    """Quantile levels as a sorted tuple of unique floats in the open interval (0, 1).

    ``None`` gives ``()``; a single number gives a 1-tuple.
    """
    if q is None:
        return ()
    items = [q] if is_number(q) or isinstance(q, (str, bytes, bool, np.bool_)) else q
    try:
        items = list(items)
    except TypeError:
        raise DataFrameError(
            f"quantiles must be numbers in (0, 1) or a list of them, got {type(q).__name__}."
        ) from None
    out = []
    for x in items:
        if not is_number(x):
            raise DataFrameError(
                f"quantile {x!r} is not a number; give levels in (0, 1), e.g. [0.05, 0.5, 0.95]."
            )
        x = float(x)
        if not 0.0 < x < 1.0:
            raise DataFrameError(
                f"quantile {x!r} is outside (0, 1); give levels strictly between 0 and 1, "
                "e.g. [0.05, 0.5, 0.95]."
            )
        out.append(x)
    return tuple(sorted(set(out)))


def horizon_units(horizon: Any, codec: TimeCodec) -> float:
    """A forecast horizon, a duration after each series' last time, in the codec's
    float units: a number (time units; seconds for datetime times), or for datetime
    times a ``Timedelta`` or a string such as ``"7D"``. A :class:`DataFrameError` unless
    positive and finite."""
    if codec.kind == "datetime" and not isinstance(horizon, (int, float, np.number)):
        try:
            value = pd.Timedelta(horizon).total_seconds()
        except (ValueError, TypeError):
            raise DataFrameError(
                f"horizon {horizon!r} is not a time span; give e.g. pd.Timedelta('7D') or "
                "'7D' (or a number of seconds)."
            ) from None
    else:
        try:
            value = float(horizon)
        except (TypeError, ValueError):
            raise DataFrameError(f"horizon must be a number, got {horizon!r}.") from None
    if not np.isfinite(value) or value <= 0:
        raise DataFrameError(f"horizon must be positive and finite, got {horizon!r}.")
    return value / codec.unit_seconds if codec.kind == "datetime" else value
