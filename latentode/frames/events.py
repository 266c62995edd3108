"""Event-sequence frames: validation, windows and conversion to :class:`Series`.

An event frame has one row per event: an id column, a time column and optionally a
mark (event type) column. Each sequence lives in an observation window ``[start, end]``:
by default its first..last event, or one window for all, or one per id.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..data.batch import Series
from .errors import DataFrameError
from .times import TimeCodec

__all__ = [
    "EventSequence",
    "check_events",
    "cut_windows",
    "events_to_series",
    "window_tuples",
]


@dataclass
class EventSequence:
    """One sequence: encoded event ``times (n,)``, mark indices ``(n,)`` and its window."""

    id: Any
    times: np.ndarray
    marks: np.ndarray
    start: float
    end: float


def _fmt(ids: Sequence[Any], limit: int = 5) -> str:
    shown = ", ".join(repr(i) for i in list(ids)[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _window_bounds(
    window: Any, df: pd.DataFrame, id_col: Hashable, codec: TimeCodec
) -> dict[Any, tuple[float, float]] | tuple[float, float] | None:
    if window is None:
        return None
    if isinstance(window, pd.DataFrame):
        missing = [c for c in (id_col, "start", "end") if c not in window.columns]
        if missing:
            raise DataFrameError(
                f"window frame lacks columns {missing}; give columns {id_col!r}, 'start', 'end'."
            )
        if window[id_col].duplicated().any():
            raise DataFrameError("window frame has repeated ids; give one window per id.")
        starts = codec.encode(window["start"])
        ends = codec.encode(window["end"])
        return {
            i: (float(a), float(b)) for i, a, b in zip(window[id_col], starts, ends, strict=True)
        }
    if isinstance(window, (tuple, list)) and len(window) == 2:
        a, b = window
        if isinstance(a, str) and a in df.columns and isinstance(b, str) and b in df.columns:
            out = {}
            for sid, g in df.groupby(id_col, sort=False):
                if g[a].nunique(dropna=False) != 1 or g[b].nunique(dropna=False) != 1:
                    raise DataFrameError(
                        f"window columns {a!r}/{b!r} vary within series {sid!r}; they must be "
                        "constant per id."
                    )
                out[sid] = (
                    float(codec.encode(g[a].iloc[:1])[0]),
                    float(codec.encode(g[b].iloc[:1])[0]),
                )
            return out
        enc = codec.encode(pd.Series([a, b]))
        return float(enc[0]), float(enc[1])
    raise DataFrameError(
        "window must be None (first..last event), a (start, end) pair, a pair of column "
        "names holding per-id start/end, or a DataFrame with id, 'start', 'end' columns."
    )


def check_events(
    events: pd.DataFrame,
    id_col: Hashable,
    time_col: Hashable,
    mark_col: Hashable | None = None,
    window: Any = None,
    *,
    codec: TimeCodec,
    marks: Sequence[Any] | None = None,
) -> tuple[list[EventSequence], list[Any]]:
    """Validate an event frame and split it into sequences.

    Args:
        events: one row per event.
        id_col, time_col, mark_col: column names (``mark_col=None``: unmarked events).
        window: see the module docstring. Ids present only in a window frame are empty
            sequences (allowed: they still contribute the survival term).
        codec: time encoding (fitted at ``fit``).
        marks: the fitted mark categories (``None`` at fit: taken from the data).

    Returns:
        The sequences (ordered by id) and the mark categories.

    Raises:
        DataFrameError: missing columns, NaN ids or marks, NaN/NaT/inf times, repeated
            event times in a sequence, events outside their window, unknown marks.
    """
    if not isinstance(events, pd.DataFrame):
        raise DataFrameError(f"events must be a pandas DataFrame, got {type(events).__name__}.")
    needed = [id_col, time_col] + ([mark_col] if mark_col is not None else [])
    missing = [c for c in needed if c not in events.columns]
    if missing:
        raise DataFrameError(
            f"column(s) {missing} not in the events frame (columns: {list(events.columns)}); "
            "pass id_col=/time_col=/mark_col= naming yours."
        )
    if events[id_col].isna().any():
        raise DataFrameError(f"{int(events[id_col].isna().sum())} events have no {id_col!r}.")
    times = events[time_col]
    bad = times.isna()
    if bad.any():
        ids = events.loc[bad, id_col].unique().tolist()
        raise DataFrameError(
            f"{int(bad.sum())} events have a missing {time_col!r} (series {_fmt(ids)}); drop "
            "or fill them."
        )
    enc = codec.encode(times) if len(events) else np.zeros(0)
    if not np.all(np.isfinite(enc)):
        raise DataFrameError(f"column {time_col!r} holds infinite times; give finite ones.")
    marks, mark_idx = _mark_indices(events, mark_col, marks)
    frame = pd.DataFrame({"id": events[id_col].to_numpy(), "t": enc, "m": mark_idx})
    frame = frame.sort_values(["id", "t"], kind="stable")
    dup = frame.duplicated(["id", "t"])
    if dup.any():
        ids = frame.loc[dup, "id"].unique().tolist()
        raise DataFrameError(
            f"{int(dup.sum())} events repeat an earlier event time of the same series "
            f"({_fmt(ids)}); a Poisson process has no simultaneous events: merge them or "
            "use marks."
        )
    out = _sequences(frame, _window_bounds(window, events, id_col, codec))
    return out, list(marks)


def _mark_indices(
    events: pd.DataFrame, mark_col: Hashable | None, marks: Sequence[Any] | None
) -> tuple[list[Any], np.ndarray]:
    """The mark categories (sorted at fit, the fitted ones later) and each event's index."""
    if mark_col is None:
        return (list(marks) if marks is not None else [None]), np.zeros(len(events), np.int64)
    if events[mark_col].isna().any():
        raise DataFrameError(f"{int(events[mark_col].isna().sum())} events have no mark.")
    found = list(pd.unique(events[mark_col]))
    if marks is None:
        try:
            marks = sorted(found)
        except TypeError:
            marks = found
    unknown = [m for m in found if m not in set(marks)]
    if unknown:
        raise DataFrameError(
            f"marks {unknown!r} in {mark_col!r} were not seen in fit (known: {list(marks)})."
        )
    index = {m: i for i, m in enumerate(marks)}
    return list(marks), events[mark_col].map(index).to_numpy(dtype=np.int64)


def _sequences(frame: pd.DataFrame, bounds: Any) -> list[EventSequence]:
    """One sequence per id of ``frame`` (columns ``id, t, m``, sorted) and of a window
    dict, each in its window; an error for events outside their window."""
    groups = {sid: g for sid, g in frame.groupby("id", sort=True)}
    ids = list(groups)
    if isinstance(bounds, dict):
        extra = [i for i in bounds if i not in groups]
        ids = sorted(ids + extra, key=lambda x: (type(x).__name__, x))
        no_window = [i for i in groups if i not in bounds]
        if no_window:
            raise DataFrameError(f"no window given for series {_fmt(no_window)}.")
    out, outside = [], []
    for sid in ids:
        g = groups.get(sid)
        t = g["t"].to_numpy() if g is not None else np.zeros(0)
        m = g["m"].to_numpy() if g is not None else np.zeros(0, dtype=np.int64)
        if bounds is None:
            start, end = float(t.min()), float(t.max())
        elif isinstance(bounds, dict):
            start, end = bounds[sid]
        else:
            start, end = bounds
        if not (np.isfinite(start) and np.isfinite(end)) or end < start:
            raise DataFrameError(f"series {sid!r}: window end is before its start.")
        if len(t) and (t.min() < start or t.max() > end):
            outside.append(sid)
        out.append(EventSequence(sid, t, m, start, end))
    if outside:
        raise DataFrameError(
            f"series {_fmt(outside)} have events outside their window; widen the window or "
            "drop those events."
        )
    if not out:
        raise DataFrameError("the events frame has no rows and no window frame names any id.")
    return out


def events_to_series(sequences: Sequence[EventSequence], n_marks: int) -> list[Series]:
    """Series with rows ``[start, events..., end]``: event rows hold the mark one-hot
    (fully observed), window rows are unobserved."""
    out = []
    eye = np.eye(n_marks)
    for s in sequences:
        times = np.concatenate([[s.start], s.times, [s.end]])
        values = np.full((len(times), n_marks), np.nan)
        values[1:-1] = eye[s.marks]
        out.append(Series(times=times, values=values, id=s.id))
    return out


def cut_windows(
    times: np.ndarray | Sequence[float], width: float, *, id_col: str = "id", time_col: str = "time"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cut one long timeline of numeric event times into consecutive windows of ``width``.

    Returns ``(events, windows)``: one row per event with the window it falls in
    (``id_col``, ``time_col``), and one row per window (``id_col``, ``start``, ``end``),
    windows without events included. The first window starts at the largest multiple of
    ``width`` not after the first event; pass ``windows`` as ``window=`` to
    :class:`~latentode.EventIntensity` methods.
    """
    t = np.asarray(times, dtype=float)
    if t.ndim != 1 or t.size == 0 or not np.isfinite(t).all():
        raise ValueError("cut_windows needs a non-empty 1-d array of finite times.")
    if not (np.isfinite(width) and width > 0):
        raise ValueError(f"width must be a positive number, got {width}.")
    start = np.floor(t.min() / width) * width
    n = int(np.floor((t.max() - start) / width)) + 1
    edges = start + width * np.arange(n + 1)
    idx = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, n - 1)
    events = pd.DataFrame({id_col: idx, time_col: t})
    windows = pd.DataFrame({id_col: np.arange(n), "start": edges[:-1], "end": edges[1:]})
    return events, windows


def window_tuples(
    events: pd.DataFrame, windows: pd.DataFrame, *, id_col: str = "id", time_col: str = "time"
) -> list[tuple[np.ndarray, float, float]]:
    """``(event_times, start, end)`` per row of ``windows`` (columns ``id_col``, ``start``,
    ``end``), windows without events included: the input of the event baselines in
    :mod:`latentode.naive`."""
    by_id = {k: g[time_col].to_numpy(dtype=float) for k, g in events.groupby(id_col)}
    return [
        (by_id.get(i, np.zeros(0)), float(a), float(b))
        for i, a, b in windows[[id_col, "start", "end"]].itertuples(index=False)
    ]
