"""UCI "Localization Data for Person Activity", parsed from ``ConfLongDemo_JSI.txt``.

Download it from https://archive.ics.uci.edu/dataset/196/localization+data+for+person+activity
(the zip holds ``ConfLongDemo_JSI.txt``). Five people wore four position tags (left and
right ankle, chest, belt) while performing a scenario five times: 25 sequences.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ._common import DatasetError, LongData, existing

__all__ = ["person_activity", "ACTIVITY_TAGS", "ACTIVITY_CLASSES", "ACTIVITY_MERGE"]

URL = "https://archive.ics.uci.edu/dataset/196/localization+data+for+person+activity"
FILENAME = "ConfLongDemo_JSI.txt"

#: Tag id -> body position, in the order of the output columns.
ACTIVITY_TAGS: dict[str, str] = {
    "010-000-024-033": "ankle_left",
    "010-000-030-096": "ankle_right",
    "020-000-033-111": "chest",
    "020-000-032-221": "belt",
}

#: The 7 classes of Rubanova et al. (2019), in the order of ``activity.cat.codes``.
ACTIVITY_CLASSES: tuple[str, ...] = (
    "walking",
    "falling",
    "lying",
    "sitting",
    "standing up",
    "on all fours",
    "sitting on the ground",
)

#: The 11 recorded activities -> the 7 classes (the merge of the paper's code).
ACTIVITY_MERGE: dict[str, str] = {
    "walking": "walking",
    "falling": "falling",
    "lying down": "lying",
    "lying": "lying",
    "sitting down": "sitting",
    "sitting": "sitting",
    "standing up from lying": "standing up",
    "standing up from sitting": "standing up",
    "standing up from sitting on the ground": "standing up",
    "standing up from sit on grnd": "standing up",  # the spelling in the paper's code
    "on all fours": "on all fours",
    "sitting on the ground": "sitting on the ground",
}

_TICKS_PER_SECOND = 10_000_000  # the timestamp is .NET DateTime ticks of 100 ns
FEATURES: list[str] = [f"{pos}_{c}" for pos in ACTIVITY_TAGS.values() for c in "xyz"]


def _bad_lines(path: Path, linenos: np.ndarray, column: str, shown: list, fix: str) -> None:
    raise DatasetError(
        f"{path}, line(s) {linenos[:5].tolist()}{' ...' if len(linenos) > 5 else ''}: "
        f"column {column!r} has {shown[:5]}; {fix}"
    )


def _read(path: Path) -> pd.DataFrame:
    """The 8 comma-separated fields of every non-blank line, checked, with line numbers."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise DatasetError(
            f"{path} is not a text file ({err}); re-download it from {URL}."
        ) from None
    fmt = (
        "each line must be 'sequence,tag id,timestamp,date,x,y,z,activity' as in the UCI "
        f"file; re-download it from {URL}."
    )
    rows, linenos = [], []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) != 8:
            raise DatasetError(
                f"{path}, line {lineno}: {len(parts)} comma-separated fields, expected 8 "
                f"(line is {line!r}); {fmt}"
            )
        rows.append([p.strip() for p in parts])
        linenos.append(lineno)
    if not rows:
        raise DatasetError(f"{path} has no data lines; {fmt}")
    cols = ["sequence", "tag", "timestamp", "date", "x", "y", "z", "raw_activity"]
    df = pd.DataFrame(rows, columns=cols)
    lines = np.asarray(linenos)
    ok = df["timestamp"].str.fullmatch(r"\d{1,18}").to_numpy()
    if not ok.all():
        _bad_lines(path, lines[~ok], "timestamp", df["timestamp"][~ok].tolist(),
                   "it must be an integer (100-ns ticks); " + fmt)  # fmt: skip
    df["timestamp"] = df["timestamp"].astype(np.int64)
    for c in "xyz":
        num = pd.to_numeric(df[c], errors="coerce")
        bad = num.isna().to_numpy()
        if bad.any():
            _bad_lines(path, lines[bad], c, df[c][bad].tolist(), "it must be a number; " + fmt)
        df[c] = num.astype(np.float64)
    unknown = ~df["tag"].isin(list(ACTIVITY_TAGS)).to_numpy()
    if unknown.any():
        _bad_lines(path, lines[unknown], "tag id", df["tag"][unknown].tolist(),
                   f"known tags are {list(ACTIVITY_TAGS)}; " + fmt)  # fmt: skip
    empty = (df["sequence"] == "").to_numpy()
    if empty.any():
        _bad_lines(path, lines[empty], "sequence", df["sequence"][empty].tolist(),
                   "it must be a name like 'A01'; " + fmt)  # fmt: skip
    return df


def person_activity(
    root_or_file: str | Path,
    *,
    window: int | None = 50,
    stride: int | None = None,
    quantization: float | None = None,
) -> LongData:
    """Parse ``ConfLongDemo_JSI.txt`` into a long frame of 12 position features.

    Each line is ``sequence name, tag id, timestamp, date, x, y, z, activity`` (no header),
    e.g. ``A01,010-000-024-033,633790226051280329,27.05.2009 14:03:25:127,4.06,1.89,0.51,
    walking``. The timestamp is a .NET ``DateTime`` tick count (100 ns since 0001-01-01,
    apparently UTC: the ``date`` column is the same instant in local time, two hours
    later); the date column is not used.

    Each line observes one tag, so each row of the output has the 3 columns of its tag
    (``ankle_left_x`` ... ``belt_z``) and ``NaN`` in the other 9, except where lines of
    several tags share a time (or a quantum), which are merged into one row.

    Args:
        root_or_file: the file, or a folder holding ``ConfLongDemo_JSI.txt``.
        window: cut each sequence into windows of ``window`` time points (rows), each a
            separate series with id ``"<sequence>-<k>"`` (``k`` zero-padded) and time
            relative to the window's first point, plus a ``sequence`` column. The last
            window is aligned to the sequence's end, so no point is left out (it may overlap
            the one before; a sequence shorter than ``window`` is one short window).
            ``None``: one series per sequence, id = the sequence name.
        stride: points between window starts, at most ``window``; ``None`` = ``window``
            (no overlap). The paper's code uses ``window=50, stride=25`` and drops the
            tail instead.
        quantization: ``None`` keeps the exact times; a number of seconds rounds times
            (relative to the sequence start) to its nearest multiple and averages a tag's
            repeats within a quantum. The paper's code rounds to 10**5 ticks = 0.01 s.
            With ``None``, a tag recorded twice at the same tick is averaged too, with a
            warning.

    Returns:
        :class:`LongData` whose ``frame`` has ``id``, ``time`` (seconds, float64, from the
        start of the sequence or window), the 12 features (float64), ``activity`` (the 7
        merged classes :data:`ACTIVITY_CLASSES`, categorical: use ``.cat.codes`` for
        integers, -1 for an activity not in :data:`ACTIVITY_MERGE`, with a warning),
        ``raw_activity`` (the recorded label; where merged lines disagree, the first
        line's, with a warning) and, with windows, ``sequence``. Rows are sorted by
        sequence, then time. ``statics`` and ``labels`` are ``None``.

    Raises:
        DatasetNotFoundError: no such file.
        DatasetError: a malformed line (the message gives the line number).
    """
    _check_args(window, stride, quantization)
    fix = f"Download it from {URL} (unzip it to get {FILENAME})."
    path = existing(root_or_file, "person activity data", fix)
    if path.is_dir():
        path = existing(path / FILENAME, FILENAME, fix)
    df = _read(path)

    frame = _points(df, quantization)
    if quantization is None:
        frame["time"] = frame["key"].to_numpy() / _TICKS_PER_SECOND
    else:
        frame["time"] = np.round(frame["key"].to_numpy() * quantization, 10)
    frame = frame.rename(columns={"sequence": "id"})
    frame = frame[["id", "time", *FEATURES, "activity", "raw_activity"]]
    if window is not None:
        frame = _windows(frame, int(window), int(stride or window))
    frame = frame.reset_index(drop=True)
    return LongData(
        frame=frame,
        features=list(FEATURES),
        name="person_activity",
        info={
            "time_unit": "seconds",
            "window": window,
            "stride": stride or window,
            "quantization": quantization,
        },
    )


def _check_args(window: int | None, stride: int | None, quantization: float | None) -> None:
    if window is not None and (int(window) != window or window < 1):
        raise ValueError(f"window must be None or a positive integer, not {window!r}.")
    if stride is not None and (int(stride) != stride or stride < 1):
        raise ValueError(f"stride must be None or a positive integer, not {stride!r}.")
    if window is not None and stride is not None and stride > window:
        raise ValueError(
            f"stride ({stride}) must be at most window ({window}): a larger stride would "
            "skip the points between windows."
        )
    if quantization is not None and not (np.isfinite(quantization) and quantization > 0):
        raise ValueError(
            f"quantization must be None or a positive number of seconds, not {quantization!r}."
        )


def _points(df: pd.DataFrame, quantization: float | None) -> pd.DataFrame:
    """One row per (sequence, time key) with the 12 features (NaN where a tag was not
    recorded) and the activities; the time key is in ticks or quanta from the start."""
    rel = df["timestamp"] - df.groupby("sequence", sort=False)["timestamp"].transform("min")
    if quantization is None:
        df["key"] = rel.to_numpy()
    else:
        df["key"] = np.rint(rel.to_numpy() / (quantization * _TICKS_PER_SECOND)).astype(np.int64)
    df["tag"] = pd.Categorical(df["tag"], categories=list(ACTIVITY_TAGS))

    per_tag = df.groupby(["sequence", "key", "tag"], observed=True, sort=True)
    coords = per_tag[["x", "y", "z"]].mean()
    sizes = per_tag.size()
    if quantization is None and (sizes > 1).any():
        warnings.warn(
            f"person_activity: {int(sizes[sizes > 1].sum())} lines repeat a tag at the same "
            f"timestamp; averaged into {int((sizes > 1).sum())} observation(s) "
            f"({int((sizes - 1).sum())} fewer).",
            UserWarning,
            stacklevel=3,
        )
    wide = coords.unstack("tag")  # columns (coordinate, tag)
    wide = wide.reindex(
        columns=pd.MultiIndex.from_tuples([(c, t) for t in ACTIVITY_TAGS for c in "xyz"])
    )
    wide.columns = pd.Index(FEATURES)
    per_point = df.groupby(["sequence", "key"], sort=True)["raw_activity"]
    raw = per_point.first()
    n_mixed = int((per_point.nunique() > 1).sum())
    if n_mixed:
        warnings.warn(
            f"person_activity: {n_mixed} time point(s) merge lines with different activities; "
            "each keeps the activity of its first line.",
            UserWarning,
            stacklevel=3,
        )
    frame = wide.join(raw.rename("raw_activity")).reset_index()
    unknown = sorted(set(frame["raw_activity"]) - set(ACTIVITY_MERGE))
    if unknown:
        n_unknown = int(frame["raw_activity"].isin(unknown).sum())
        warnings.warn(
            f"person_activity: activity label(s) {unknown} ({n_unknown} point(s)) are not among "
            f"the known ones {sorted(ACTIVITY_MERGE)}; their 'activity' is NaN (code -1).",
            UserWarning,
            stacklevel=3,
        )
    frame["activity"] = pd.Categorical(
        frame["raw_activity"].map(ACTIVITY_MERGE), categories=list(ACTIVITY_CLASSES)
    )
    return frame


def _window_starts(n: int, window: int, stride: int) -> list[int]:
    """Window starts covering ``range(n)``: every ``stride``, the last aligned to the end."""
    if n <= window:
        return [0]
    starts = list(range(0, n - window + 1, stride))
    if starts[-1] + window < n:
        starts.append(n - window)
    return starts


def _windows(frame: pd.DataFrame, window: int, stride: int) -> pd.DataFrame:
    """Rows of each window in order; ``frame`` is sorted by id (sequence), then time."""
    seq = frame["id"].to_numpy()
    bounds = np.flatnonzero(seq[1:] != seq[:-1]) + 1
    seq_start = np.concatenate([[0], bounds])
    seq_len = np.diff(np.concatenate([seq_start, [len(frame)]]))
    rows, win_ids, sizes = [], [], []
    for first, n in zip(seq_start, seq_len, strict=True):
        for k, s in enumerate(_window_starts(int(n), window, stride)):
            size = min(window, int(n) - s)
            rows.append(np.arange(first + s, first + s + size))
            win_ids.append(f"{seq[first]}-{k:04d}")
            sizes.append(size)
    idx = np.concatenate(rows)
    out = frame.iloc[idx].reset_index(drop=True)
    t = out["time"].to_numpy()
    t0 = np.repeat(t[np.cumsum([0, *sizes[:-1]])], sizes)
    out["time"] = np.round(t - t0, 10)
    out["sequence"] = out["id"]
    out["id"] = np.repeat(np.asarray(win_ids, dtype=object), sizes)
    return out
