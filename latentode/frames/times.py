"""Times as users give them (numbers, or datetimes naive or tz-aware) to float64 and back:
:class:`TimeCodec`, keeping precision by subtracting a fitted origin."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataFrameError, is_datetime_like, is_null, is_number

__all__ = ["TimeCodec", "raw_times"]

_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


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


def raw_times(values: Any, what: str) -> _RawTimes:
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
            if is_datetime_like(x):
                kinds.add("datetime")
            elif is_number(x):
                if not (isinstance(x, float) and math.isnan(x)):
                    kinds.add("numeric")
            elif is_null(x):
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
            v = np.array([np.nan if is_null(x) else float(x) for x in items], dtype=np.float64)
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
        raw = raw_times(times, "time column")
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
        raw = raw_times(values, "times")
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

    def as_given(
        self, values: pd.Series | np.ndarray | Sequence[Any] | Any
    ) -> np.ndarray | pd.api.extensions.ExtensionArray:
        """``values`` as an output column holds them (float64, or datetimes in
        :attr:`tz`), exactly as given: no round trip through the float encoding, so output
        rows join back to the user's rows on time. Checked as in :meth:`encode`."""
        if np.ndim(values) == 0 and not isinstance(values, (pd.Series, np.ndarray)):
            values = [values]
        raw = raw_times(values, "times")
        self._check_compatible(raw, "times")
        if raw.kind == "numeric":
            return raw.values.astype(np.float64)
        out = pd.Series(raw.values.view(f"datetime64[{raw.unit}]"))
        if self.tz is not None:
            out = out.dt.tz_localize("UTC").dt.tz_convert(self.tz)
        return out.array

    def decode_values(
        self, x: np.ndarray | Sequence[float]
    ) -> np.ndarray | pd.api.extensions.ExtensionArray:
        """:meth:`decode` as a positional array (a float array, or a datetime array that
        keeps the time zone): assign it to a column or index it without index alignment."""
        out = self.decode(x)
        return out.array if isinstance(out, pd.Series) else out
