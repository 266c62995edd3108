"""The pandas DataFrame layer: long frames in, :class:`Series` out, prediction frames back.

The pandas estimators take a *long* frame: one row per ``(series id, time)``, one column
per target feature, ``NaN`` where a feature is not observed at that time. This module

* validates such frames (:func:`check_frame`) with errors that name the offending
  column or series and say how to fix it (:class:`DataFrameError`);
* maps user times (numbers, or datetimes naive or tz-aware) to float64 and back
  (:class:`TimeCodec`), keeping precision by subtracting a fitted origin;
* standardizes targets with a scikit-learn ``StandardScaler`` (:func:`fit_scaler`), which
  can be stored as JSON (:func:`scaler_to_dict`, :func:`scaler_from_dict`);
* splits a checked frame into one :class:`~latentode.data.batch.Series` per id
  (:func:`frame_to_series`);
* parses the ``times`` argument of ``predict`` (:func:`query_times`) and quantile levels
  (:func:`check_quantiles`);
* builds the output frame of ``predict`` (:func:`predictions_frame`).

Rows where every target is ``NaN`` are kept: they are query times. Nothing is dropped
silently; merging duplicate ``(id, time)`` rows (``duplicates="mean"``) warns with a count.
"""

from __future__ import annotations

import datetime as _dt
import math
import numbers
import warnings
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

from .batch import Series

__all__ = [
    "DataFrameError",
    "TimeCodec",
    "check_frame",
    "frame_to_series",
    "fit_scaler",
    "scaler_to_dict",
    "scaler_from_dict",
    "predictions_frame",
    "query_times",
    "check_quantiles",
]

_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_SHOW = 5  # how many ids / rows an error message lists


class DataFrameError(ValueError):
    """A DataFrame given to the estimators is not usable; the message says how to fix it."""


# --------------------------------------------------------------------------- helpers
def _fmt_list(items: Iterable[Any], limit: int = _SHOW) -> str:
    """``'a', 'b', 3 (and 7 more)``."""
    items = list(items)
    shown = ", ".join(repr(_plain(x)) for x in items[:limit])
    if len(items) > limit:
        shown += f" (and {len(items) - limit} more)"
    return shown


def _plain(x: Any) -> Any:
    """numpy scalars as Python scalars, for readable messages."""
    return x.item() if isinstance(x, np.generic) else x


def _unique_in_order(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(_plain(v) for v in values))


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))


def _is_datetime_like(x: Any) -> bool:
    return isinstance(x, (_dt.datetime, _dt.date, np.datetime64))


def _is_null(x: Any) -> bool:
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def _id_ranks(
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
    uniq = [_plain(u) for u in uniques]
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


# --------------------------------------------------------------------------- time parsing
@dataclass
class _RawTimes:
    """Times as sortable raw numbers: int64 ticks of ``unit`` (datetime) or float64."""

    kind: str  # "numeric" or "datetime"
    values: np.ndarray  # float64/int64 (numeric) or int64 ticks (datetime); 0 where bad
    bad: np.ndarray  # bool, True where the time is NaN/NaT/inf
    tz: str | None = None
    unit: str | None = None  # datetime tick unit, one of _PER_SECOND
    aware: bool = False


def _tz_name(tz: Any) -> str:
    name = str(tz)
    try:
        pd.DatetimeTZDtype("ns", name)
    except Exception:  # any parsing failure means the zone cannot be stored by name
        raise DataFrameError(
            f"time zone {tz!r} cannot be stored by name; convert the times to a named zone, "
            "e.g. with .dt.tz_convert('UTC')."
        ) from None
    return name


def _datetime_raw(s: pd.Series, what: str) -> _RawTimes:
    """``s`` has a datetime64 (naive or tz-aware) dtype."""
    bad = s.isna().to_numpy()
    tz = None
    aware = isinstance(s.dtype, pd.DatetimeTZDtype)
    if aware:
        tz = _tz_name(s.dtype.tz)
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    arr = s.to_numpy()
    unit = np.datetime_data(arr.dtype)[0]
    if unit not in _PER_SECOND:
        if unit in ("Y", "M", "W", "D", "h", "m"):
            arr, unit = arr.astype("datetime64[s]"), "s"
        else:  # finer than ns
            raise DataFrameError(
                f"{what}: datetime resolution {unit!r} is not supported; convert with "
                ".astype('datetime64[ns]')."
            )
    ticks = arr.view(np.int64).copy()
    ticks[bad] = 0
    return _RawTimes("datetime", ticks, bad, tz=tz, unit=unit, aware=aware)


def _raw_times(values: Any, what: str) -> _RawTimes:
    """Classify and convert times; ``what`` names them in error messages."""
    if isinstance(values, pd.DataFrame):
        raise DataFrameError(f"{what}: expected one column of times, got a DataFrame.")
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    dtype = s.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        return _datetime_raw(s, what)
    if pd.api.types.is_bool_dtype(dtype):
        raise DataFrameError(
            f"{what}: times are booleans; give numbers or datetimes (pd.to_datetime)."
        )
    if pd.api.types.is_timedelta64_dtype(dtype):
        raise DataFrameError(
            f"{what}: times are timedeltas; convert them to numbers, e.g. with "
            ".dt.total_seconds(), or to datetimes by adding a start date."
        )
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        if pd.api.types.is_integer_dtype(dtype) and not s.hasnans:
            v = s.to_numpy(dtype=np.int64)
            return _RawTimes("numeric", v, np.zeros(len(v), dtype=bool))
        v = s.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(v)
        return _RawTimes("numeric", np.where(bad, 0.0, v), bad)
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        raise DataFrameError(
            f"{what}: times are strings; convert the column with pd.to_datetime(...) "
            "(dates) or pd.to_numeric(...) (numbers)."
        )
    if pd.api.types.is_object_dtype(dtype):
        items = s.to_list()
        kinds = set()
        for x in items:
            if _is_datetime_like(x):
                kinds.add("datetime")
            elif _is_number(x):
                if not (isinstance(x, float) and math.isnan(x)):
                    kinds.add("numeric")
            elif _is_null(x):
                pass
            else:
                raise DataFrameError(
                    f"{what}: times must be numbers or datetimes, found {type(x).__name__} "
                    f"{x!r}; convert the column with pd.to_datetime(...) or pd.to_numeric(...)."
                )
        if kinds == {"datetime", "numeric"}:
            raise DataFrameError(
                f"{what}: the times mix datetimes and numbers; use one kind only, e.g. "
                "convert with pd.to_datetime(...)."
            )
        if kinds == {"datetime"}:
            try:
                conv = pd.to_datetime(s)
            except (ValueError, TypeError) as err:
                raise DataFrameError(
                    f"{what}: the datetimes cannot be combined into one column ({err}); "
                    "mixed time zones? Convert with pd.to_datetime(..., utc=True)."
                ) from None
            if not (
                isinstance(conv.dtype, pd.DatetimeTZDtype)
                or pd.api.types.is_datetime64_dtype(conv.dtype)
            ):
                raise DataFrameError(
                    f"{what}: the datetimes mix time zones or tz-aware and naive values; "
                    "convert with pd.to_datetime(..., utc=True)."
                )
            return _datetime_raw(conv, what)
        if kinds == {"numeric"} or not kinds:
            v = np.array([np.nan if _is_null(x) else float(x) for x in items], dtype=np.float64)
            bad = ~np.isfinite(v)
            return _RawTimes("numeric", np.where(bad, 0.0, v), bad)
    raise DataFrameError(
        f"{what}: times of dtype {dtype} are not supported; give numbers or datetimes "
        "(convert with pd.to_numeric(...) or pd.to_datetime(...))."
    )


# --------------------------------------------------------------------------- TimeCodec
@dataclass
class TimeCodec:
    """Maps user times (float/int or datetime64, tz-aware or naive) to float64 and back.

    Numeric times are encoded as ``(t - origin) / unit_seconds`` (``unit_seconds`` is 1
    for fitted codecs). Datetimes are encoded as seconds since the epoch minus ``origin``,
    computed from integer ticks so that no precision is lost before the subtraction;
    tz-aware datetimes are encoded as instants (UTC) and decoded in ``tz``.

    Attributes:
        kind: ``"numeric"`` or ``"datetime"``.
        tz: time zone name for tz-aware datetimes, else ``None``.
        unit_seconds: seconds per float unit (datetimes); 1.0 for numeric times.
        origin: value subtracted, fitted from the training frame's earliest time. For
            datetimes it is a whole number of seconds since the epoch (UTC).
        resolution: datetime resolution (``"s"``, ``"ms"``, ``"us"``, ``"ns"``) that
            :meth:`decode` returns, the training column's; ignored for numeric times.
    """

    kind: str
    tz: str | None
    unit_seconds: float
    origin: float
    resolution: str = "ns"

    def __post_init__(self) -> None:
        if self.kind not in ("numeric", "datetime"):
            raise DataFrameError(
                f"TimeCodec kind must be 'numeric' or 'datetime', not {self.kind!r}."
            )
        self.unit_seconds = float(self.unit_seconds)
        self.origin = float(self.origin)
        if not (math.isfinite(self.unit_seconds) and self.unit_seconds > 0):
            raise DataFrameError(f"TimeCodec unit_seconds must be > 0, not {self.unit_seconds}.")
        if not math.isfinite(self.origin):
            raise DataFrameError(f"TimeCodec origin must be finite, not {self.origin}.")
        if self.resolution not in _PER_SECOND:
            raise DataFrameError(
                f"TimeCodec resolution must be one of {sorted(_PER_SECOND)}, "
                f"not {self.resolution!r}."
            )
        if self.kind == "numeric":
            self.tz = None
        elif self.origin != math.floor(self.origin):
            raise DataFrameError("a datetime TimeCodec needs a whole number of seconds as origin.")

    # ---------------------------------------------------------------- persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description; :meth:`from_dict` restores it exactly."""
        return {
            "kind": self.kind,
            "tz": self.tz,
            "unit_seconds": self.unit_seconds,
            "origin": self.origin,
            "resolution": self.resolution,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TimeCodec:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(
                kind=d["kind"],
                tz=d.get("tz"),
                unit_seconds=d.get("unit_seconds", 1.0),
                origin=d["origin"],
                resolution=d.get("resolution", "ns"),
            )
        except (KeyError, TypeError) as err:
            raise DataFrameError(f"not a stored TimeCodec ({err!r}): {dict(d)!r}") from None

    # ---------------------------------------------------------------- fitting
    @classmethod
    def fit(cls, times: pd.Series | np.ndarray | Sequence[Any]) -> TimeCodec:
        """Codec for ``times`` (the training frame's time column); origin = earliest time."""
        raw = _raw_times(times, "time column")
        if raw.bad.any():
            raise DataFrameError(
                f"time column: {int(raw.bad.sum())} times are NaN, NaT or infinite; drop or "
                "fill those rows before fitting."
            )
        if len(raw.values) == 0:
            raise DataFrameError("time column: no times to fit a TimeCodec on.")
        if raw.kind == "numeric":
            return cls("numeric", None, 1.0, float(raw.values.min()))
        per = _PER_SECOND[raw.unit]
        origin = int(raw.values.min()) // per  # floor, whole seconds
        return cls("datetime", raw.tz, 1.0, float(origin), resolution=raw.unit)

    # ---------------------------------------------------------------- encode / decode
    def encode(self, values: pd.Series | np.ndarray | Sequence[Any] | Any) -> np.ndarray:
        """Times as float64 relative to :attr:`origin`.

        Raises:
            DataFrameError: for NaN/NaT/inf times, numbers given to a datetime codec (or
                the reverse), or naive datetimes given to a tz-aware codec (or the reverse).
        """
        if np.ndim(values) == 0 and not isinstance(values, (pd.Series, np.ndarray)):
            values = [values]
        raw = _raw_times(values, "times")
        self._check_compatible(raw, "times")
        if raw.bad.any():
            raise DataFrameError(
                f"times: {int(raw.bad.sum())} of {len(raw.bad)} are NaN, NaT or infinite; "
                "drop or fill them."
            )
        if raw.kind == "numeric":
            v = raw.values
            if v.dtype.kind in "iu" and self.origin.is_integer() and abs(self.origin) < 2**53:
                rel = (v - np.int64(self.origin)).astype(np.float64)
            else:
                rel = v.astype(np.float64) - self.origin
        else:
            per = _PER_SECOND[raw.unit]
            ticks = raw.values - np.int64(int(self.origin) * per)
            whole, frac = np.divmod(ticks, per)
            rel = whole.astype(np.float64) + frac.astype(np.float64) / per
        if self.unit_seconds != 1.0:
            rel = rel / self.unit_seconds
        return rel

    def _check_compatible(self, raw: _RawTimes, what: str) -> None:
        if raw.kind != self.kind:
            if self.kind == "datetime":
                fix = "give datetimes, e.g. pd.to_datetime(...)"
            else:
                fix = "give numbers, as in the training frame"
            raise DataFrameError(
                f"{what} are {'datetimes' if raw.kind == 'datetime' else 'numbers'} but the "
                f"model was fitted on {'datetimes' if self.kind == 'datetime' else 'numbers'}; "
                f"{fix}."
            )
        if self.kind == "datetime":
            if self.tz is not None and not raw.aware:
                raise DataFrameError(
                    f"{what} are naive datetimes but the model was fitted on tz-aware ones "
                    f"({self.tz}); localize them, e.g. .dt.tz_localize({self.tz!r})."
                )
            if self.tz is None and raw.aware:
                raise DataFrameError(
                    f"{what} are tz-aware datetimes ({raw.tz}) but the model was fitted on "
                    "naive ones; drop the zone, e.g. .dt.tz_localize(None)."
                )

    def decode(self, x: np.ndarray | Sequence[float]) -> np.ndarray | pd.Series:
        """Inverse of :meth:`encode`.

        Numeric codecs return a float64 array. Datetime codecs return a ``pd.Series`` of
        ``datetime64[resolution]`` (in :attr:`tz` when tz-aware), rounded to the nearest
        tick of :attr:`resolution`.
        """
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(x)):
            raise DataFrameError("cannot decode NaN or infinite encoded times.")
        if self.unit_seconds != 1.0:
            x = x * self.unit_seconds
        if self.kind == "numeric":
            return x + self.origin
        per = _PER_SECOND[self.resolution]
        whole = np.floor(x)
        frac_ticks = np.rint((x - whole) * per).astype(np.int64)
        ticks = (whole.astype(np.int64) + np.int64(int(self.origin))) * per + frac_ticks
        out = pd.Series(ticks.view(f"datetime64[{self.resolution}]"))
        if self.tz is not None:
            out = out.dt.tz_localize("UTC").dt.tz_convert(self.tz)
        return out

    def decode_values(
        self, x: np.ndarray | Sequence[float]
    ) -> np.ndarray | pd.api.extensions.ExtensionArray:
        """:meth:`decode` as a positional array (a float array, or a datetime array that
        keeps the time zone): assign it to a column or index it without index alignment."""
        out = self.decode(x)
        return out.array if isinstance(out, pd.Series) else out


# --------------------------------------------------------------------------- check_frame
def _missing_columns_error(df: pd.DataFrame, missing: list[Any], role: str) -> DataFrameError:
    avail = _fmt_list(df.columns, limit=20)
    hint = ""
    in_index = [m for m in missing if m in (df.index.names or [])]
    if in_index:
        hint = f" {_fmt_list(in_index)} is in the index: call df.reset_index() first."
    return DataFrameError(
        f"{role} {_fmt_list(missing, limit=20)} not found in the DataFrame; available columns: "
        f"{avail}.{hint} Pass the right column names."
    )


def _resolve_targets(
    df: pd.DataFrame, id_col: Hashable, time_col: Hashable, target_cols: Any
) -> list[Any]:
    if target_cols is None:
        targets = [
            c
            for c in df.columns
            if c not in (id_col, time_col)
            and pd.api.types.is_numeric_dtype(df[c].dtype)
            and not pd.api.types.is_bool_dtype(df[c].dtype)
            and not pd.api.types.is_complex_dtype(df[c].dtype)
        ]
        if not targets:
            others = [c for c in df.columns if c not in (id_col, time_col)]
            raise DataFrameError(
                "no numeric target columns found besides the id and time columns "
                f"(other columns: {_fmt_list(others, limit=20) or 'none'}); pass target_cols=[...] "
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
        raise DataFrameError(f"target_cols lists {_fmt_list(dup)} more than once; list each once.")
    clash = [c for c in targets if c in (id_col, time_col)]
    if clash:
        raise DataFrameError(
            f"target_cols includes the id/time column {_fmt_list(clash)}; remove it."
        )
    missing = [c for c in targets if c not in df.columns]
    if missing:
        raise _missing_columns_error(df, missing, "target column(s)")
    return targets


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
        dup = _unique_in_order(df.columns[df.columns.duplicated()])
        raise DataFrameError(f"column(s) {_fmt_list(dup)} appear more than once; rename them.")
    missing = [c for c in (id_col, time_col) if c not in df.columns]
    if missing:
        raise _missing_columns_error(df, missing, "id/time column(s)")

    targets = _resolve_targets(df, id_col, time_col, target_cols)
    if fit_targets is not None:
        fit_targets = list(fit_targets)
        miss = [c for c in fit_targets if c not in targets]
        extra = [c for c in targets if c not in fit_targets]
        if miss or extra:
            parts = []
            if miss:
                parts.append(f"missing {_fmt_list(miss, limit=20)}")
            if extra:
                parts.append(f"extra {_fmt_list(extra, limit=20)}")
            raise DataFrameError(
                f"target columns differ from those the model was fitted on "
                f"({_fmt_list(fit_targets, limit=20)}): {'; '.join(parts)}. Give exactly the "
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

    # ids
    id_s = df[id_col]
    id_na = id_s.isna().to_numpy()
    if id_na.any():
        rows = np.flatnonzero(id_na)
        raise DataFrameError(
            f"id column {id_col!r} has {len(rows)} missing ids (rows {_fmt_list(df.index[rows])}); "
            "drop those rows or fill the ids."
        )
    id_rank, _ = _id_ranks(id_s, f"ids in column {id_col!r}")

    # times
    what = f"time column {time_col!r}"
    raw = _raw_times(df[time_col], what)
    if raw.bad.any():
        bad_ids = _unique_in_order(id_s.to_numpy()[raw.bad])
        raise DataFrameError(
            f"{what} has {int(raw.bad.sum())} NaN/NaT/infinite times in series "
            f"{_fmt_list(bad_ids)}; drop or fill those rows."
        )
    if codec is not None:
        codec._check_compatible(raw, what)

    # target values
    values = np.column_stack(
        [df[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in targets]
    ).reshape(len(df), len(targets))
    inf = np.isinf(values)
    if inf.any():
        parts = []
        for j in np.flatnonzero(inf.any(axis=0)):
            ids_j = _unique_in_order(id_s.to_numpy()[inf[:, j]])
            parts.append(f"column {targets[j]!r} in series {_fmt_list(ids_j)}")
        raise DataFrameError(
            f"infinite target values: {'; '.join(parts)}; replace them with NaN "
            "(df.replace([np.inf, -np.inf], np.nan)) or finite values."
        )

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

    # duplicates
    new = np.ones(len(order), dtype=bool)
    new[1:] = (id_rank[1:] != id_rank[:-1]) | (tkey[1:] != tkey[:-1])
    if not new.all():
        dup_rows = ~new
        if duplicates == "error":
            pairs = list(
                dict.fromkeys(
                    (_plain(i), _plain(t))
                    for i, t in zip(ids_out[dup_rows], times_out[dup_rows], strict=True)
                )
            )
            shown = ", ".join(f"(id={i!r}, time={t!r})" for i, t in pairs[:_SHOW])
            more = f" (and {len(pairs) - _SHOW} more)" if len(pairs) > _SHOW else ""
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
        warnings.warn(
            f"duplicates='mean': merged {n_dup + n_pairs} rows sharing {n_pairs} (id, time) "
            f"pairs into one row each ({n_dup} rows fewer); targets were averaged ignoring NaN.",
            UserWarning,
            stacklevel=2,
        )
        id_rank = id_rank[starts]
        ids_out = ids_out.iloc[starts].reset_index(drop=True)
        times_out = times_out.iloc[starts].reset_index(drop=True)

    observed = np.isfinite(values)
    if fit_targets is None:
        empty_cols = [targets[j] for j in np.flatnonzero(~observed.any(axis=0))]
        if empty_cols:
            raise DataFrameError(
                f"target column(s) {_fmt_list(empty_cols, limit=20)} have no observed value "
                "(all NaN); drop them or pass target_cols without them."
            )
    if not allow_empty_series:
        n_obs = np.bincount(id_rank, weights=observed.any(axis=1))
        present = np.bincount(id_rank) > 0
        empty_rank = np.flatnonzero(present & (n_obs == 0))
        if len(empty_rank):
            first = np.searchsorted(id_rank, empty_rank)  # id_rank is sorted
            empty_ids = [_plain(ids_out.iloc[int(k)]) for k in first]
            raise DataFrameError(
                f"{len(empty_ids)} series {'has' if len(empty_ids) == 1 else 'have'} no "
                "observed target value: ids "
                f"{_fmt_list(empty_ids)} (column {id_col!r}); drop them, add observations, "
                "or pass allow_empty_series=True."
            )

    clean = pd.DataFrame({id_col: ids_out, time_col: times_out})
    for j, c in enumerate(targets):
        clean[c] = values[:, j]
    return clean, list(targets)


# --------------------------------------------------------------------------- series
def frame_to_series(
    df: pd.DataFrame,
    id_col: Hashable,
    time_col: Hashable,
    target_cols: Sequence[Hashable],
    codec: TimeCodec,
    scaler: StandardScaler | None = None,
) -> list[Series]:
    """One :class:`Series` per id, in sorted id order, from a frame checked by
    :func:`check_frame`.

    Times are ``codec.encode(df[time_col])`` (sorted within each series); values are the
    target matrix, standardized with ``scaler.transform`` when a fitted scaler is given
    (``NaN`` stays ``NaN`` and is unobserved); ``Series.id`` is the original id.
    """
    targets = list(target_cols)
    if len(df) == 0:
        return []
    times = codec.encode(df[time_col])
    values = _target_matrix(df, targets)
    if scaler is not None:
        values = np.asarray(scaler.transform(values), dtype=np.float64)
    rank, uniques = _id_ranks(df[id_col])
    order = np.lexsort((times, rank))
    rank, times, values = rank[order], times[order], values[order]
    bounds = np.flatnonzero(np.diff(rank)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(rank)]])
    return [
        Series(times=times[a:b], values=values[a:b], id=uniques[rank[a]])
        for a, b in zip(starts, ends, strict=True)
    ]


def _target_matrix(df: pd.DataFrame, targets: Sequence[Hashable]) -> np.ndarray:
    missing = [c for c in targets if c not in df.columns]
    if missing:
        raise _missing_columns_error(df, missing, "target column(s)")
    cols = [df[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in targets]
    return np.column_stack(cols).reshape(len(df), len(targets))


# --------------------------------------------------------------------------- scaler
def fit_scaler(df: pd.DataFrame, target_cols: Sequence[Hashable]) -> StandardScaler:
    """A ``StandardScaler`` fitted on the target columns of the training rows, ignoring NaN.

    Fitted on a plain array (no feature names), so it transforms arrays in column order.
    Constant columns get scale 1.
    """
    values = _target_matrix(df, list(target_cols))
    observed = np.isfinite(values).any(axis=0)
    empty = [c for c, ok in zip(target_cols, observed, strict=True) if not ok]
    if empty:
        raise DataFrameError(
            f"target column(s) {_fmt_list(empty)} have no observed value; cannot fit a scaler."
        )
    return StandardScaler().fit(values)


def scaler_to_dict(scaler: StandardScaler) -> dict[str, Any]:
    """JSON-safe description of a fitted ``StandardScaler`` (exact float round trip)."""
    if not hasattr(scaler, "n_features_in_"):
        raise DataFrameError("the scaler is not fitted; call fit_scaler(...) first.")

    def arr(v: Any) -> list[float] | None:
        return None if v is None else [float(x) for x in np.asarray(v, dtype=np.float64)]

    n_seen = scaler.n_samples_seen_
    d: dict[str, Any] = {
        "with_mean": bool(scaler.with_mean),
        "with_std": bool(scaler.with_std),
        "n_features_in": int(scaler.n_features_in_),
        "mean": arr(scaler.mean_),
        "var": arr(scaler.var_),
        "scale": arr(scaler.scale_),
        "n_samples_seen": ([int(x) for x in n_seen] if np.ndim(n_seen) else int(n_seen)),
    }
    names = getattr(scaler, "feature_names_in_", None)
    if names is not None:
        d["feature_names_in"] = [str(x) for x in names]
    return d


def scaler_from_dict(d: Mapping[str, Any]) -> StandardScaler:
    """Inverse of :func:`scaler_to_dict`."""
    try:
        scaler = StandardScaler(with_mean=d["with_mean"], with_std=d["with_std"])

        def arr(v: Any) -> np.ndarray | None:
            return None if v is None else np.asarray(v, dtype=np.float64)

        scaler.n_features_in_ = int(d["n_features_in"])
        scaler.mean_ = arr(d["mean"])
        scaler.var_ = arr(d["var"])
        scaler.scale_ = arr(d["scale"])
        n_seen = d["n_samples_seen"]
        scaler.n_samples_seen_ = (
            np.asarray(n_seen, dtype=np.int64) if isinstance(n_seen, list) else int(n_seen)
        )
        if "feature_names_in" in d:
            scaler.feature_names_in_ = np.asarray(d["feature_names_in"], dtype=object)
    except (KeyError, TypeError, ValueError) as err:
        raise DataFrameError(f"not a stored StandardScaler ({err!r}).") from None
    return scaler


# --------------------------------------------------------------------------- predictions
def predictions_frame(
    ids: Sequence[Hashable],
    times: Sequence[np.ndarray],
    mean: Sequence[np.ndarray],
    quantiles: Mapping[float, Sequence[np.ndarray]] | None,
    *,
    id_col: Hashable,
    time_col: Hashable,
    target_cols: Sequence[Hashable],
    codec: TimeCodec,
    scaler: StandardScaler | None,
) -> pd.DataFrame:
    """The output frame of ``predict``.

    Args:
        ids: one id per series.
        times: encoded times per series, ``(n_i,)``.
        mean: posterior means per series in the scaled space, ``(n_i, D)``.
        quantiles: ``{q: [(n_i, D) per series]}`` in the scaled space, or ``None``.
        id_col, time_col, target_cols: output column names.
        codec: decodes the times (datetimes come back as datetimes).
        scaler: inverse-transforms means and quantiles (``None``: values as given).

    Returns:
        Columns ``id_col, time_col``, then per target ``<target>`` (mean) followed by
        ``<target>_q<q>`` per quantile (``f"{q:g}"``, ascending); rows by id then time.
    """
    targets = list(target_cols)
    d = len(targets)
    quantiles = dict(quantiles or {})
    qs = sorted(quantiles)
    n_series = len(ids)
    if len(times) != n_series or len(mean) != n_series:
        raise DataFrameError(
            f"predictions_frame: {n_series} ids, {len(times)} time arrays and {len(mean)} mean "
            "arrays; give one of each per series."
        )
    for q in qs:
        if len(quantiles[q]) != n_series:
            raise DataFrameError(
                f"predictions_frame: quantile {q:g} has {len(quantiles[q])} arrays for "
                f"{n_series} series."
            )

    def block(arrs: Sequence[np.ndarray], name: str) -> np.ndarray:
        out = []
        for i, a in enumerate(arrs):
            a = np.asarray(a, dtype=np.float64)
            n_i = len(np.asarray(times[i]).reshape(-1))
            if a.ndim == 1 and d == 1:
                a = a[:, None]
            if a.shape != (n_i, d):
                raise DataFrameError(
                    f"predictions_frame: {name} for series {_plain(ids[i])!r} has shape "
                    f"{a.shape}, expected ({n_i}, {d})."
                )
            out.append(a)
        return np.concatenate(out, axis=0) if out else np.zeros((0, d))

    t_all = np.concatenate([np.asarray(t, dtype=np.float64).reshape(-1) for t in times] or [[]])
    lens = [len(np.asarray(t).reshape(-1)) for t in times]
    id_list = [_plain(i) for i in ids]
    rank_series, _ = _id_ranks(id_list) if id_list else (np.zeros(0, dtype=np.int64), [])
    rank_rows = np.repeat(rank_series, lens)
    order = np.lexsort((t_all, rank_rows))

    def unscale(m: np.ndarray) -> np.ndarray:
        if scaler is None or len(m) == 0:
            return m
        return np.asarray(scaler.inverse_transform(m), dtype=np.float64)

    means = unscale(block(mean, "mean"))[order]
    qvals = {q: unscale(block(quantiles[q], f"quantile {q:g}"))[order] for q in qs}

    row_ids = [id_list[i] for i, n in enumerate(lens) for _ in range(n)]
    row_ids = [row_ids[k] for k in order]
    decoded = codec.decode_values(t_all[order])
    out = pd.DataFrame({id_col: pd.Series(row_ids, dtype=None if row_ids else object)})
    out[time_col] = decoded
    for j, c in enumerate(targets):
        out[c] = means[:, j]
        for q in qs:
            out[f"{c}_q{q:g}"] = qvals[q][:, j]
    return out


# --------------------------------------------------------------------------- predict args
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
        ``{id: sorted unique float64 times}``, in the order of ``ids``.

    Raises:
        DataFrameError: unknown ids, NaN times, empty times, or an unsupported type.
    """
    known = list(dict.fromkeys(_plain(i) for i in ids))
    known_set = set(known)

    def enc(v: Any, who: str) -> np.ndarray:
        if isinstance(v, (str, bytes, Mapping, set, frozenset)) or v is None:
            raise DataFrameError(
                f"query times {who}: expected an array of times, got {type(v).__name__}."
            )
        try:
            t = codec.encode(v)
        except DataFrameError as err:
            raise DataFrameError(f"query times {who}: {err}") from None
        if len(t) == 0:
            raise DataFrameError(f"query times {who}: no times given; give at least one.")
        return np.unique(t)

    def check_ids(given: Iterable[Any], where: str) -> None:
        unknown = [g for g in _unique_in_order(given) if g not in known_set]
        if unknown:
            raise DataFrameError(
                f"{where} has unknown series ids {_fmt_list(unknown)}; known ids: "
                f"{_fmt_list(known)}. Query only ids that are in the prediction frame."
            )

    if isinstance(times_arg, pd.DataFrame):
        missing = [c for c in (id_col, time_col) if c not in times_arg.columns]
        if missing:
            raise _missing_columns_error(times_arg, missing, "times frame column(s)")
        id_s = times_arg[id_col]
        if id_s.isna().any():
            raise DataFrameError(
                f"times frame: column {id_col!r} has {int(id_s.isna().sum())} missing ids; "
                "drop those rows."
            )
        check_ids(id_s.to_numpy(), "times frame")
        rank, uniques = _id_ranks(id_s)
        out_by_id = {}
        for r, uid in enumerate(uniques):
            out_by_id[uid] = enc(times_arg[time_col][rank == r], f"for series {uid!r}")
        return {i: out_by_id[i] for i in known if i in out_by_id}
    if isinstance(times_arg, Mapping):
        check_ids(times_arg.keys(), "times dict")
        given = {_plain(k): v for k, v in times_arg.items()}
        return {i: enc(given[i], f"for series {i!r}") for i in known if i in given}
    if times_arg is None or isinstance(times_arg, (str, bytes, set, frozenset)):
        raise DataFrameError(
            f"times must be array-like, a dict {{id: times}} or a DataFrame with columns "
            f"{id_col!r} and {time_col!r}; got {type(times_arg).__name__}."
        )
    shared = enc(times_arg, "(shared by all series)")
    return {i: shared.copy() for i in known}


def check_quantiles(q: float | Iterable[float] | None) -> tuple[float, ...]:
    """Quantile levels as a sorted tuple of unique floats in the open interval (0, 1).

    ``None`` gives ``()``; a single number gives a 1-tuple.
    """
    if q is None:
        return ()
    items = [q] if _is_number(q) or isinstance(q, (str, bytes, bool, np.bool_)) else q
    try:
        items = list(items)
    except TypeError:
        raise DataFrameError(
            f"quantiles must be numbers in (0, 1) or a list of them, got {type(q).__name__}."
        ) from None
    out = []
    for x in items:
        if not _is_number(x):
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
