"""PhysioNet/CinC Challenge 2012 (ICU mortality) records, parsed from the files a user downloaded.

Download ``set-a.tar.gz`` (and ``set-b``, ``set-c`` if wanted) and ``Outcomes-a.txt`` from
https://physionet.org/content/challenge-2012/1.0.0/ and extract them so that the folder
``root`` holds ``set-a/132539.txt, ...`` and ``Outcomes-a.txt``.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ._common import DatasetError, DatasetNotFoundError, LongData, existing

__all__ = ["physionet2012", "PHYSIONET2012_VARIABLES", "PHYSIONET2012_STATICS"]

URL = "https://physionet.org/content/challenge-2012/1.0.0/"

#: The 37 time-varying variables, in the order of the output columns.
PHYSIONET2012_VARIABLES: tuple[str, ...] = (
    "Albumin", "ALP", "ALT", "AST", "Bilirubin", "BUN", "Cholesterol", "Creatinine",
    "DiasABP", "FiO2", "GCS", "Glucose", "HCO3", "HCT", "HR", "K", "Lactate", "Mg", "MAP",
    "MechVent", "Na", "NIDiasABP", "NIMAP", "NISysABP", "PaCO2", "PaO2", "pH", "Platelets",
    "RespRate", "SaO2", "SysABP", "Temp", "TroponinI", "TroponinT", "Urine", "WBC", "Weight",
)  # fmt: skip

#: The general descriptors recorded at 00:00 (besides RecordID); -1 means missing.
PHYSIONET2012_STATICS: tuple[str, ...] = ("Age", "Gender", "Height", "ICUType", "Weight")

OUTCOME_COLUMNS: tuple[str, ...] = (
    "RecordID", "SAPS-I", "SOFA", "Length_of_stay", "Survival", "In-hospital_death",
)  # fmt: skip

_HEADER = "Time,Parameter,Value"
_DESCRIPTORS = frozenset(("RecordID", *PHYSIONET2012_STATICS))
_KNOWN = frozenset(PHYSIONET2012_VARIABLES)


def _fix() -> str:
    return (
        f"Download the record sets and outcome files from {URL} and extract them so that "
        "root/set-a/<RecordID>.txt and root/Outcomes-a.txt exist."
    )


def _bad(path: Path, lineno: int, line: str, why: str) -> DatasetError:
    return DatasetError(
        f"{path}, line {lineno}: {why} (line is {line!r}). PhysioNet 2012 records have lines "
        "'HH:MM,Parameter,Value' after the header 'Time,Parameter,Value'; re-download or "
        "remove this file."
    )


def _read_lines(files: list[Path]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Every non-blank line after the header of every file, with file index and line number."""
    lines: list[str] = []
    file_idx: list[np.ndarray] = []
    linenos: list[np.ndarray] = []
    for i, path in enumerate(files):
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as err:
            raise DatasetError(f"{path} is not a text file ({err}); re-download it.") from None
        body = text.splitlines()
        if not body or body[0].strip() != _HEADER:
            first = body[0] if body else ""
            raise DatasetError(
                f"{path}: first line is {first!r}, expected the header {_HEADER!r}. Is this a "
                "PhysioNet 2012 record? Re-download it or remove it from the folder."
            )
        nums = [k for k, line in enumerate(body[1:], start=2) if line.strip()]
        lines.extend(body[k - 1] for k in nums)
        file_idx.append(np.full(len(nums), i, dtype=np.int64))
        linenos.append(np.asarray(nums, dtype=np.int64))
    return lines, np.concatenate(file_idx), np.concatenate(linenos)


def _check_line(line: str) -> str | None:
    """Why a record line is malformed, or ``None`` (the strict, slow check)."""
    parts = line.split(",")
    if len(parts) != 3:
        return f"{len(parts)} comma-separated fields, expected 3"
    time_s, param, value_s = (p.strip() for p in parts)
    hh, colon, mm = time_s.partition(":")
    if not (colon and hh.isdigit() and mm.isdigit() and len(mm) == 2 and int(mm) < 60):
        return f"time {time_s!r} is not HH:MM"
    try:
        value = float(value_s)
    except ValueError:
        return f"value {value_s!r} is not a number"
    if not np.isfinite(value):
        return f"value {value_s!r} is not a finite number"
    if not param:
        return "empty parameter name"
    return None


def _parse_records(files: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Parse record files: (observations with columns file, minute, param, value;
    descriptors with a RecordID column, one row per file; number of repeated descriptor
    lines ignored)."""
    lines, file_idx, linenos = _read_lines(files)
    if not lines:
        raise DatasetError(
            f"{files[0]} has no '00:00,RecordID,<id>' line (no lines after the header); "
            "re-download it or remove it from the folder."
        )

    def diagnose(cause: str) -> DatasetError:
        for k, line in enumerate(lines):
            why = _check_line(line)
            if why is not None:
                return _bad(files[file_idx[k]], int(linenos[k]), line, why)
        return DatasetError(f"the PhysioNet 2012 records could not be parsed ({cause}).")

    # fast path: pandas' C parser on all lines at once, with HH:MM split into two fields
    text = "\n".join(lines).replace(":", ",")
    try:
        df = pd.read_csv(
            io.StringIO(text),
            header=None,
            names=["hh", "mm", "param", "value"],
            dtype={"param": str},
            keep_default_na=False,
            skipinitialspace=True,
            skip_blank_lines=False,
            quoting=csv.QUOTE_NONE,
            engine="c",
        )
    except (pd.errors.ParserError, ValueError) as err:
        raise diagnose(str(err)) from None
    ok = (
        len(df) == len(lines)
        and df["hh"].dtype.kind in "iu"
        and df["mm"].dtype.kind in "iu"
        and df["value"].dtype.kind in "fiu"
    )
    if ok:
        hh, mm = df["hh"].to_numpy(np.int64), df["mm"].to_numpy(np.int64)
        value = df["value"].to_numpy(np.float64)
        ok = bool((hh >= 0).all() and ((mm >= 0) & (mm < 60)).all() and np.isfinite(value).all())
    if not ok:
        raise diagnose("a field has the wrong type")
    param_cat = pd.Categorical(df["param"])
    param_cat = param_cat.rename_categories([str(c).strip() for c in param_cat.categories])
    param = np.asarray(param_cat, dtype=object)
    if (param == "").any():
        raise diagnose("empty parameter name")
    minute = hh * 60 + mm

    desc = np.isin(param, list(_DESCRIPTORS))
    at_zero = desc & (minute == 0)
    first = at_zero.copy()
    first[at_zero] = ~pd.DataFrame({"f": file_idx[at_zero], "p": param[at_zero]}).duplicated()
    is_weight = param == "Weight"
    repeated = desc & ~first & ~is_weight
    observation = ~first & ~repeated
    statics = pd.DataFrame(
        {"file": file_idx[first], "param": param[first], "value": value[first]}
    ).pivot(index="file", columns="param", values="value")
    statics = statics.reindex(index=range(len(files)), columns=["RecordID", *PHYSIONET2012_STATICS])
    no_id = statics["RecordID"].isna().to_numpy()
    if no_id.any():
        raise DatasetError(
            f"{files[int(np.flatnonzero(no_id)[0])]} has no '00:00,RecordID,<id>' line; every "
            "PhysioNet 2012 record starts with one. Re-download it or remove it from the folder."
        )
    rid = statics["RecordID"].to_numpy()
    if (rid != np.round(rid)).any():
        k = int(np.flatnonzero(rid != np.round(rid))[0])
        raise DatasetError(f"{files[k]}: RecordID {rid[k]!r} is not an integer; re-download it.")
    obs = pd.DataFrame(
        {
            "file": file_idx[observation],
            "minute": minute[observation],
            "param": param[observation],
            "value": value[observation],
        }
    )
    return obs, statics, int(repeated.sum())


def _read_outcomes(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=str, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DatasetError(
            f"{path} could not be read as CSV ({err}); it should have the header "
            f"{','.join(OUTCOME_COLUMNS)}. Re-download it from {URL}."
        ) from None
    df.columns = [str(c).strip() for c in df.columns]
    if list(df.columns) != list(OUTCOME_COLUMNS):
        raise DatasetError(
            f"{path} has columns {list(df.columns)}, expected {list(OUTCOME_COLUMNS)}; "
            f"re-download it from {URL}."
        )
    out = pd.DataFrame(index=df.index)
    for c in OUTCOME_COLUMNS:
        num = pd.to_numeric(df[c].str.strip(), errors="coerce")
        bad = num.isna() | (num != np.round(num))
        if bad.any():
            rows = (np.flatnonzero(bad.to_numpy()) + 2).tolist()[:5]
            raise DatasetError(
                f"{path}, column {c!r}: values on line(s) {rows} are not integers "
                f"({df[c][bad].tolist()[:5]}); re-download it from {URL}."
            )
        out[c] = num.astype(np.int64)
    return out


def physionet2012(
    root: str | Path,
    *,
    quantization: float | None = None,
    sets: Sequence[str] | str = ("set-a",),
    outcomes: bool = True,
) -> LongData:
    """Parse the PhysioNet/CinC Challenge 2012 records under ``root``.

    Each record ``root/<set>/<RecordID>.txt`` is a CSV with header ``Time,Parameter,Value``,
    ``Time`` as ``HH:MM`` since ICU admission (up to 48:00). Its first lines, at 00:00, are
    the general descriptors RecordID, Age, Gender, Height, ICUType and Weight; the rest are
    observations of the 37 time-varying variables (:data:`PHYSIONET2012_VARIABLES`).
    Weight is both: the first 00:00 Weight line goes to ``statics``, later Weight lines
    are the time-varying feature.

    Args:
        root: folder holding the extracted ``set-a/`` (etc.) and ``Outcomes-a.txt`` (etc.).
        quantization: ``None`` keeps the recorded minutes (time in hours, multiples of
            1/60). A number (hours, e.g. ``0.1`` or ``1/60``) rounds each time to the nearest
            multiple of it and averages the repeats of a variable that fall in the same
            quantum: the preprocessing of Rubanova et al. (2019), whose code uses 0.1 h by
            default and whose paper reports rounding to the minute. With ``None``, a
            variable measured twice in the same minute is averaged too, with a warning.
        sets: the record folders under ``root`` to read, e.g. ``("set-a", "set-b")``.
        outcomes: also read ``Outcomes-<letter>.txt`` for each set into ``labels``.

    Returns:
        :class:`LongData` with

        * ``frame``: columns ``id`` (RecordID, int64), ``time`` (hours, float64), the 37
          variables (float64, ``NaN`` = not measured); one row per (record, time) with at
          least one measurement, sorted by id then time. Values are as recorded (no -1
          conversion for time-varying variables). Unknown parameter names, if any, become
          extra columns after the 37, with a warning.
        * ``statics``: indexed by ``id``: Age, Gender, Height, ICUType, Weight (float64,
          -1 -> ``NaN``; a missing line -> ``NaN``) and ``set``.
        * ``labels`` (if ``outcomes``): the outcome files as they are, int64 columns
          ``RecordID, SAPS-I, SOFA, Length_of_stay, Survival, In-hospital_death``
          (``Survival`` is -1 for patients not known to have died).

    Records without any time-varying observation keep their statics and labels and have
    no rows in ``frame`` (a warning gives their count).

    Raises:
        DatasetNotFoundError: ``root``, a set folder or an outcome file is missing.
        DatasetError: a file is malformed (the message names file and line).
    """
    if quantization is not None and not (np.isfinite(quantization) and quantization > 0):
        raise ValueError(
            f"quantization must be None or a positive number of hours, not {quantization!r}."
        )
    if isinstance(sets, str):
        sets = (sets,)
    root = existing(root, "PhysioNet 2012 folder", _fix())
    files: list[Path] = []
    set_of_file: list[str] = []
    for set_name in sets:
        folder = existing(root / set_name, f"record folder {set_name!r}", _fix())
        found = sorted(folder.glob("*.txt"))
        if not found:
            raise DatasetNotFoundError(f"{str(folder)!r} holds no .txt records. {_fix()}")
        files += found
        set_of_file += [set_name] * len(found)
    obs, statics, repeated = _parse_records(files)
    if repeated:
        warnings.warn(
            f"physionet2012: ignored {repeated} repeated descriptor line(s) (RecordID, Age, "
            "Gender, Height or ICUType after its first 00:00 line); the first value is kept.",
            UserWarning,
            stacklevel=2,
        )
    rid = statics.pop("RecordID").to_numpy().astype(np.int64)
    dup = pd.Series(rid).duplicated(keep=False).to_numpy()
    if dup.any():
        shown = [str(files[k]) for k in np.flatnonzero(dup)[:2]]
        raise DatasetError(
            f"RecordID {rid[dup][0]} appears in more than one file ({shown}); remove the "
            "duplicate file."
        )
    statics.index = pd.Index(rid, name="id")
    statics.columns.name = None
    cols = list(PHYSIONET2012_STATICS)
    statics[cols] = statics[cols].astype(np.float64).replace(-1.0, np.nan)
    statics["set"] = set_of_file
    statics = statics.sort_index()
    obs_ids = rid[obs["file"].to_numpy()]

    frame = _to_frame(obs_ids, obs["minute"].to_numpy(), obs["param"], obs["value"], quantization)
    empty = sorted(set(statics.index) - set(frame["id"].unique()))
    if empty:
        warnings.warn(
            f"physionet2012: {len(empty)} record(s) have no time-varying observation "
            f"(RecordID {empty[:5]}{' ...' if len(empty) > 5 else ''}); they are in statics "
            "and labels only.",
            UserWarning,
            stacklevel=2,
        )

    labels = _outcomes(root, sets, statics) if outcomes else None

    return LongData(
        frame=frame,
        features=[c for c in frame.columns if c not in ("id", "time")],
        statics=statics,
        labels=labels,
        name="physionet2012",
        info={"time_unit": "hours", "quantization": quantization, "sets": list(sets)},
    )


def _outcomes(root: Path, sets: Sequence[str], statics: pd.DataFrame) -> pd.DataFrame:
    """The outcome rows of the sets' records (``Outcomes-<x>.txt`` next to ``set-<x>``);
    a warning for records without an outcome row and rows without a record."""
    parts = []
    for set_name in sets:
        m = re.fullmatch(r"set-([a-z])", Path(set_name).name)
        if m is None:
            raise DatasetError(
                f"cannot tell which outcome file goes with the set {set_name!r} (expected "
                "a name like 'set-a'); pass outcomes=False and read the outcomes yourself."
            )
        name = f"Outcomes-{m.group(1)}.txt"
        candidates = [root / name, root / set_name / name]
        path = next((p for p in candidates if p.exists()), None)
        if path is None:
            raise DatasetNotFoundError(
                f"outcome file {name} not found in {str(root)!r} (nor in the set folder). "
                f"Download it from {URL}, or pass outcomes=False."
            )
        parts.append(_read_outcomes(path))
    labels = pd.concat(parts, ignore_index=True)
    no_label = set(statics.index) - set(labels["RecordID"])
    no_record = set(labels["RecordID"]) - set(statics.index)
    if no_label or no_record:
        warnings.warn(
            f"physionet2012: {len(no_label)} record(s) have no outcome row and "
            f"{len(no_record)} outcome row(s) have no record file; all are kept.",
            UserWarning,
            stacklevel=3,
        )
    return labels


def _to_frame(
    ids: np.ndarray,
    minutes: np.ndarray,
    params: pd.Series,
    values: np.ndarray,
    quantization: float | None,
) -> pd.DataFrame:
    """Long frame from the observations, averaging repeats within a time quantum."""
    params_arr = params.to_numpy(dtype=object)
    unknown = sorted(set(pd.unique(params_arr)) - _KNOWN)
    if unknown:
        n_unknown = int(pd.Series(params_arr).isin(unknown).sum())
        warnings.warn(
            f"physionet2012: {n_unknown} observation(s) of parameter(s) {unknown} that are not "
            "among the 37 documented variables; kept as extra columns after them.",
            UserWarning,
            stacklevel=3,
        )
    columns = [*PHYSIONET2012_VARIABLES, *unknown]
    n, n_cols = len(ids), len(columns)
    if n == 0:
        empty = pd.DataFrame({"id": np.zeros(0, np.int64), "time": np.zeros(0)})
        return pd.concat([empty, pd.DataFrame(columns=columns, dtype=np.float64)], axis=1)
    if quantization is None:
        key = minutes.astype(np.int64)
    else:
        key = np.rint(minutes / 60.0 / quantization).astype(np.int64)
    col = pd.Categorical(params_arr, categories=columns).codes.astype(np.int64)
    order = np.lexsort((key, ids))
    new = np.ones(n, dtype=bool)
    new[1:] = (ids[order][1:] != ids[order][:-1]) | (key[order][1:] != key[order][:-1])
    row = np.empty(n, dtype=np.int64)
    row[order] = np.cumsum(new) - 1
    n_rows = int(new.sum())
    cells, inverse, counts = np.unique(row * n_cols + col, return_inverse=True, return_counts=True)
    dense = np.full(n_rows * n_cols, np.nan)
    dense[cells] = np.bincount(inverse, weights=values, minlength=len(cells)) / counts
    if quantization is None and (counts > 1).any():
        n_cells = int((counts > 1).sum())
        n_lines = int(counts[counts > 1].sum())
        warnings.warn(
            f"physionet2012: {n_lines} measurements share (record, minute, variable) with "
            f"another; averaged into {n_cells} value(s) ({n_lines - n_cells} fewer).",
            UserWarning,
            stacklevel=3,
        )
    first = order[new]
    if quantization is None:
        time = key[first] / 60.0
    else:
        time = np.round(key[first] * quantization, 10)
    frame = pd.DataFrame(dense.reshape(n_rows, n_cols), columns=columns)
    frame.insert(0, "time", time.astype(np.float64))
    frame.insert(0, "id", ids[first].astype(np.int64))
    return frame
