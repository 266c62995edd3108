"""Series with extra query times: where a model is asked for values it was not given."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from .batch import Series

__all__ = ["with_query_times"]


def with_query_times(
    series: Sequence[Series], queries: Mapping[Any, np.ndarray]
) -> tuple[list[Series], list[np.ndarray]]:
    """Each series' rows joined with its query times (``queries[id]``, none if absent).

    Returns the series, whose new rows are unobserved, and per series the positions
    ``(q,)`` of its query times among its rows.
    """
    out, where = [], []
    for s in series:
        q = np.asarray(queries.get(s.id, np.zeros(0)), dtype=np.float64)
        times = np.union1d(s.times, q)
        values = np.full((len(times), s.n_features), np.nan)
        values[np.searchsorted(times, s.times)] = np.where(s.mask, s.values, np.nan)
        out.append(replace(s, times=times, values=values, mask=None, obs_mask=None,
                           target_mask=None, label=None))  # fmt: skip
        where.append(np.searchsorted(times, q))
    return out, where
