"""Covariate columns of a long frame: per-series constants (``static_cols``) and known
inputs (``input_cols``), checked, encoded and attached to each
:class:`~latentode.data.batch.Series` (the model side is :mod:`latentode.nn.covariates`).

* A **static** column is constant within each series (checked; the error names the
  series). Numeric columns are standardized over series; text, boolean and categorical
  columns are one-hot encoded with the categories seen in ``fit`` (an unseen category
  later is an error naming it). An integer code such as ``Diet`` 1-4 is numeric unless
  you make it categorical (``df["Diet"].astype("category")``).
* An **input** column is read at its rows, in the frame given to every method, including
  rows after the last observation (known future inputs). ``"held"`` inputs keep their
  value from their row until the next row that gives one (before the first, the first
  value); ``NaN`` means "unchanged". ``"impulse"`` inputs are amounts delivered at their
  row (doses); ``NaN`` means none, and rows at one time add up.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ..data.batch import Series
from .errors import DataFrameError, fmt_list, id_ranks, plain
from .targets import missing_columns_error
from .times import TimeCodec

__all__ = ["CovariateSpec", "check_input_cols", "covariate_columns", "INPUT_KINDS"]

#: how an input column enters the dynamics
INPUT_KINDS = ("held", "impulse")


def check_input_cols(input_cols: Any) -> dict[Hashable, str]:
    """``input_cols`` as ``{column: kind}``: a list means every column is ``"held"``."""
    if input_cols is None:
        return {}
    if isinstance(input_cols, Mapping):
        bad = {c: k for c, k in input_cols.items() if k not in INPUT_KINDS}
        if bad:
            raise ValueError(
                f"input_cols: kinds {bad!r} unknown; use 'held' (a value kept until it "
                "changes) or 'impulse' (an amount delivered at its row, e.g. a dose)."
            )
        return dict(input_cols)
    return dict.fromkeys(_names(input_cols, "input_cols"), "held")


def covariate_columns(static_cols: Any, input_cols: Any) -> list[Hashable]:
    """The column names of ``static_cols`` (a name or a list) and ``input_cols`` (a list
    or a dict), checked."""
    return [*_names(static_cols, "static_cols"), *check_input_cols(input_cols)]


def _names(cols: Any, arg: str) -> list[Hashable]:
    if cols is None:
        return []
    if isinstance(cols, (str, bytes)) or not isinstance(cols, Iterable):
        cols = [cols]
    cols = list(cols)
    dup = sorted({repr(c) for c in cols if cols.count(c) > 1})
    if dup:
        raise ValueError(f"{arg} repeats {', '.join(dup)}; give each column once.")
    return cols


def _is_categorical(s: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)


@dataclass
class CovariateSpec:
    """Which columns are covariates and how they are encoded (fitted on the training
    frame; saved as JSON with :meth:`to_dict`)."""

    static_cols: list = field(default_factory=list)
    input_cols: dict = field(default_factory=dict)
    statics: list = field(default_factory=list)  # per static column: its encoding
    inputs: list = field(default_factory=list)  # per input column: its scale

    @property
    def held_cols(self) -> list:
        return [c for c, k in self.input_cols.items() if k == "held"]

    @property
    def impulse_cols(self) -> list:
        return [c for c, k in self.input_cols.items() if k == "impulse"]

    @property
    def n_statics(self) -> int:
        return sum(len(e["categories"]) if e["kind"] == "categorical" else 1 for e in self.statics)

    @property
    def columns(self) -> list:
        return [*self.static_cols, *self.input_cols]

    def __bool__(self) -> bool:
        return bool(self.static_cols or self.input_cols)

    # ------------------------------------------------------------------ fit
    @classmethod
    def fit(
        cls,
        df: pd.DataFrame,
        id_col: Hashable,
        time_col: Hashable,
        static_cols: Any = None,
        input_cols: Any = None,
        *,
        reserved: Iterable[Hashable] = (),
    ) -> CovariateSpec:
        """Check the covariate columns of ``df`` and fit their encodings. ``reserved``:
        columns that may not be covariates (targets, a label column)."""
        statics = _names(static_cols, "static_cols")
        inputs = check_input_cols(input_cols)
        spec = cls(statics, {c: inputs[c] for c in [*_held(inputs), *_impulses(inputs)]})
        taken = {"the id column": [id_col], "the time column": [time_col]}
        taken["a target or label column"] = list(reserved)
        taken["in static_cols"] = [c for c in statics if c in inputs]
        for c in spec.columns:
            for role, cols in taken.items():
                if c in cols:
                    raise DataFrameError(
                        f"covariate column {c!r} is also {role}; a column has one role."
                    )
        spec._check_present(df)
        rows = id_ranks(df[id_col])
        for c in statics:
            s = df[c]
            if _is_categorical(s):
                _per_series(s, rows, c)
                spec.statics.append({"kind": "categorical", "categories": _categories(s, c)})
            else:
                per_series = _per_series(s, rows, c).astype(np.float64)
                if not np.isfinite(per_series).all():
                    raise DataFrameError(f"static column {c!r} has infinite values; fix them.")
                mean, std = float(np.mean(per_series)), float(np.std(per_series))
                spec.statics.append({"kind": "numeric", "mean": mean, "std": std or 1.0})
        for c in spec.input_cols:
            v = _numeric_input(df, c)
            given = v[~np.isnan(v)]
            if spec.input_cols[c] == "held":
                mean = float(given.mean()) if len(given) else 0.0
                std = float(given.std()) if len(given) else 1.0
                spec.inputs.append({"offset": mean, "scale": std or 1.0})
            else:
                nonzero = given[given != 0]
                rms = float(np.sqrt(np.mean(nonzero**2))) if len(nonzero) else 1.0
                spec.inputs.append({"offset": 0.0, "scale": rms})
        return spec

    # ------------------------------------------------------------ transform
    def attach(
        self,
        series: list[Series],
        df: pd.DataFrame,
        id_col: Hashable,
        time_col: Hashable,
        codec: TimeCodec,
    ) -> list[Series]:
        """``series`` with ``statics`` and input knots read from ``df`` (the rows of the
        same ids; extra ids in ``df`` are ignored)."""
        if not self:
            return series
        self._check_present(df)
        rows = id_ranks(df[id_col])
        by_id = {plain(u): i for i, u in enumerate(rows[1])}
        statics = self._statics(df, rows) if self.static_cols else None
        knots = self._knots(df, rows, codec.encode(df[time_col])) if self.input_cols else None
        out = []
        for s in series:
            r = by_id.get(plain(s.id))
            if r is None:
                raise DataFrameError(f"series {s.id!r} has no rows to read covariates from.")
            extra: dict[str, Any] = {}
            if statics is not None:
                extra["statics"] = statics[r]
            if knots is not None:
                extra["input_times"], extra["input_values"] = knots[r]
            out.append(replace(s, **extra))
        return out

    def _statics(self, df: pd.DataFrame, rows: tuple) -> np.ndarray:
        blocks = []
        for c, enc in zip(self.static_cols, self.statics, strict=True):
            first = _per_series(df[c], rows, c)
            if enc["kind"] == "numeric":
                blocks.append(((first.astype(np.float64) - enc["mean"]) / enc["std"])[:, None])
                continue
            cats = enc["categories"]
            lookup = {c: k for k, c in enumerate(cats)}
            codes = np.array([lookup.get(plain(x), -1) for x in first])
            if (codes < 0).any():
                unseen = pd.unique(first[codes < 0])
                where = _ids(rows[1], np.flatnonzero(codes < 0))
                raise DataFrameError(
                    f"static column {c!r} has categories {fmt_list(unseen)} not seen in fit "
                    f"(series {fmt_list(where)}; known: {fmt_list(cats, limit=20)}); map them "
                    "to a known category or refit."
                )
            blocks.append(np.eye(len(cats))[codes])
        return np.concatenate(blocks, axis=1)

    def _knots(self, df: pd.DataFrame, rows: tuple, t: np.ndarray) -> list[tuple]:
        """Per series (by id rank) the knot times ``(m + 1,)`` (a leading ``-inf``) and
        values ``(m + 1, C)`` of its standardized input signal."""
        rank, uniques = rows
        cols = list(self.input_cols)
        n_held = len(self.held_cols)
        raw = np.column_stack([_numeric_input(df, c) for c in cols])
        offset = np.array([e["offset"] for e in self.inputs])
        scale = np.array([e["scale"] for e in self.inputs])
        frame = pd.DataFrame((raw - offset) / scale)
        frame["__r"], frame["__t"] = rank, t
        groups = frame.groupby(["__r", "__t"], sort=True)
        held = groups[list(range(n_held))].last() if n_held else None  # skips NaN
        amounts = groups[list(range(n_held, len(cols)))].sum() if len(cols) > n_held else None
        index = (held if held is not None else amounts).index
        r_of = index.get_level_values(0).to_numpy()
        t_of = index.get_level_values(1).to_numpy(dtype=np.float64)
        parts = []
        if held is not None:
            filled = held.groupby(level=0).ffill().groupby(level=0).bfill()
            missing = filled.isna().any(axis=1).to_numpy()
            if missing.any():
                names = [cols[int(j)] for j in filled.columns[filled.isna().any()]]
                raise DataFrameError(
                    f"held input column(s) {fmt_list(names)} have no value in series "
                    f"{fmt_list(_ids(uniques, r_of[missing]))}; give each series its "
                    "value at least once (e.g. at its first row)."
                )
            parts.append(filled.to_numpy(dtype=np.float64))
        if amounts is not None:
            parts.append(amounts.groupby(level=0).cumsum().to_numpy(dtype=np.float64))
        values = np.concatenate(parts, axis=1)
        before = np.concatenate(
            [values[:, :n_held], np.zeros((len(values), len(cols) - n_held))], 1
        )
        bounds = np.flatnonzero(np.diff(r_of)) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [len(r_of)]])
        out: list[tuple] = [None] * len(uniques)
        for a, b in zip(starts, ends, strict=True):
            times = np.concatenate([[-np.inf], t_of[a:b]])
            out[int(r_of[a])] = (times, np.concatenate([before[a : a + 1], values[a:b]]))
        return out

    def _check_present(self, df: pd.DataFrame) -> None:
        missing = [c for c in self.columns if c not in df.columns]
        if missing:
            raise missing_columns_error(df, missing, "covariate column(s)")

    # ---------------------------------------------------------- persistence
    def to_dict(self) -> dict:
        return {
            "static_cols": list(self.static_cols),
            "input_cols": [[c, k] for c, k in self.input_cols.items()],
            "statics": self.statics,
            "inputs": self.inputs,
        }

    @classmethod
    def from_dict(cls, d: dict) -> CovariateSpec:
        spec = cls(
            list(d["static_cols"]), {c: k for c, k in d["input_cols"]}, d["statics"], d["inputs"]
        )
        if len(spec.statics) != len(spec.static_cols) or len(spec.inputs) != len(spec.input_cols):
            raise ValueError("covariates: encodings and columns disagree")
        if any(k not in INPUT_KINDS for k in spec.input_cols.values()):
            raise ValueError("covariates: unknown input kind")
        return spec


def _held(inputs: dict) -> list:
    return [c for c, k in inputs.items() if k == "held"]


def _impulses(inputs: dict) -> list:
    return [c for c, k in inputs.items() if k == "impulse"]


def _categories(s: pd.Series, col: Hashable) -> list:
    """The categories of a static column, sorted (a categorical dtype keeps its order)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = [plain(x) for x in s.cat.categories]
    else:
        cats = [plain(x) for x in pd.unique(s.dropna())]
        try:
            cats = sorted(cats)
        except TypeError:
            cats = sorted(cats, key=repr)
    odd = [x for x in cats if not isinstance(x, (str, int, float, bool))]
    if odd:
        raise DataFrameError(
            f"static column {col!r} holds {type(odd[0]).__name__} values; a categorical "
            "static must hold text, numbers or booleans (convert it, e.g. with .astype(str))."
        )
    return cats


def _ids(uniques: list, ranks: np.ndarray) -> list:
    """The ids of the distinct ``ranks``."""
    return [uniques[int(r)] for r in np.unique(ranks)]


def _per_series(s: pd.Series, rows: tuple, col: Hashable) -> np.ndarray:
    """The one value of static column ``s`` in each series (in id-rank order); errors
    name the series where it is missing or varies."""
    rank, uniques = rows
    missing = pd.isna(s).to_numpy()
    if missing.any():
        where = _ids(uniques, rank[missing])
        raise DataFrameError(
            f"static column {col!r} is missing (NaN) in series {fmt_list(where)}; fill it "
            "(or drop those series): a static covariate needs a value in every row."
        )
    frame = pd.DataFrame({"r": rank, "v": s.to_numpy(dtype=object)})
    counts = frame.groupby("r")["v"].nunique()
    varying = counts.index[counts.to_numpy() > 1].to_numpy()
    if len(varying):
        vals = pd.unique(frame.loc[frame["r"] == varying[0], "v"])
        raise DataFrameError(
            f"static column {col!r} varies within series {fmt_list(_ids(uniques, varying))} "
            f"(series {uniques[int(varying[0])]!r} takes {fmt_list(vals)}); a static covariate is "
            "constant per series: pass a changing column in input_cols instead."
        )
    return frame.groupby("r")["v"].first().reindex(range(len(uniques))).to_numpy()


def _numeric_input(df: pd.DataFrame, col: Hashable) -> np.ndarray:
    s = df[col]
    if not (pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)):
        raise DataFrameError(
            f"input column {col!r} has dtype {s.dtype}; inputs must be numbers (encode a "
            "text input as numeric columns first)."
        )
    v = s.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(v).any():
        raise DataFrameError(
            f"input column {col!r} has {int(np.isinf(v).sum())} infinite values; fix them."
        )
    return v
