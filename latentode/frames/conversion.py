"""A checked long frame as one :class:`~latentode.data.batch.Series` per id."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

from ..data.batch import Series
from .errors import id_ranks
from .targets import missing_columns_error
from .times import TimeCodec

__all__ = ["frame_to_series", "given_times"]


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
    rank, uniques = id_ranks(df[id_col])
    order = np.lexsort((times, rank))
    rank, times, values = rank[order], times[order], values[order]
    bounds = np.flatnonzero(np.diff(rank)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(rank)]])
    return [
        Series(times=times[a:b], values=values[a:b], id=uniques[rank[a]])
        for a, b in zip(starts, ends, strict=True)
    ]


def given_times(
    df: pd.DataFrame, id_col: Hashable, time_col: Hashable, codec: TimeCodec
) -> dict[Any, Any]:
    """Per id, the times of its rows exactly as in ``df`` (:meth:`TimeCodec.as_given`), in
    the order of :func:`frame_to_series`' ``Series.times``."""
    if len(df) == 0:
        return {}
    times = codec.encode(df[time_col])
    given = codec.as_given(df[time_col])
    rank, uniques = id_ranks(df[id_col])
    order = np.lexsort((times, rank))
    rank, given = rank[order], given[order]
    bounds = np.flatnonzero(np.diff(rank)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(rank)]])
    return {uniques[rank[a]]: given[a:b] for a, b in zip(starts, ends, strict=True)}


def _target_matrix(df: pd.DataFrame, targets: Sequence[Hashable]) -> np.ndarray:
    missing = [c for c in targets if c not in df.columns]
    if missing:
        raise missing_columns_error(df, missing, "target column(s)")
    cols = [df[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in targets]
    return np.column_stack(cols).reshape(len(df), len(targets))
