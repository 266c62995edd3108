"""The output frame of ``predict``: one row per (id, query time), mean and quantile
columns, in the user's units and time type."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

from .errors import DataFrameError, id_ranks, plain
from .times import TimeCodec

__all__ = ["predictions_frame"]


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
    given_times: Sequence[Any] | None = None,
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
        given_times: per series, its times exactly as the user gave them (aligned with
            ``times``), written instead of the decoded ``times``; ``None``: decode.

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
                    f"predictions_frame: {name} for series {plain(ids[i])!r} has shape "
                    f"{a.shape}, expected ({n_i}, {d})."
                )
            out.append(a)
        return np.concatenate(out, axis=0) if out else np.zeros((0, d))

    t_all = np.concatenate([np.asarray(t, dtype=np.float64).reshape(-1) for t in times] or [[]])
    lens = [len(np.asarray(t).reshape(-1)) for t in times]
    id_list = [plain(i) for i in ids]
    rank_series, _ = id_ranks(id_list) if id_list else (np.zeros(0, dtype=np.int64), [])
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
    if given_times is not None and len(order):
        decoded = pd.Series(
            pd.concat([pd.Series(g) for g in given_times if len(g)], ignore_index=True).array[order]
        ).array
    else:
        decoded = codec.decode_values(t_all[order])
    out = pd.DataFrame({id_col: pd.Series(row_ids, dtype=None if row_ids else object)})
    out[time_col] = decoded
    for j, c in enumerate(targets):
        out[c] = means[:, j]
        for q in qs:
            out[f"{c}_q{q:g}"] = qvals[q][:, j]
    return out
