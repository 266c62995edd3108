"""PhysioNet/CinC Challenge 2012 (ICU mortality) records, parsed from the files a user downloaded.

Download ``set-a.tar.gz`` (and ``set-b``, ``set-c`` if wanted) and ``Outcomes-a.txt`` from
https://physionet.org/content/challenge-2012/1.0.0/ and extract them so that the folder
``root`` holds ``set-a/132539.txt, ...`` and ``Outcomes-a.txt``.
"""

from __future__ import annotations

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


def _parse_record(
    path: Path,
    minutes: list[int],
    params: list[str],
    values: list[float],
) -> tuple[int, dict[str, float], int]:
    """Append the time-varying observations of one record; return (RecordID, descriptors,
    number of repeated descriptor lines ignored)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise DatasetError(f"{path} is not a text file ({err}); re-download it.") from None
    lines = text.splitlines()
    if not lines or lines[0].strip() != _HEADER:
        first = lines[0] if lines else ""
        raise DatasetError(
            f"{path}: first line is {first!r}, expected the header {_HEADER!r}. Is this a "
            "PhysioNet 2012 record? Re-download it or remove it from the folder."
        )
    desc: dict[str, float] = {}
    repeated = 0
    n_before = len(minutes)
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) != 3:
            raise _bad(path, lineno, line, f"{len(parts)} comma-separated fields, expected 3")
        time_s, param, value_s = (p.strip() for p in parts)
        hh, colon, mm = time_s.partition(":")
        if not (colon and hh.isdigit() and mm.isdigit() and len(mm) == 2 and int(mm) < 60):
            raise _bad(path, lineno, line, f"time {time_s!r} is not HH:MM")
        try:
            value = float(value_s)
        except ValueError:
            raise _bad(path, lineno, line, f"value {value_s!r} is not a number") from None
        if not param:
            raise _bad(path, lineno, line, "empty parameter name")
        t = 60 * int(hh) + int(mm)
        if param in _DESCRIPTORS:
            if t == 0 and param not in desc:
                desc[param] = value
                continue
            if param != "Weight":  # a later Weight is a measurement, anything else a repeat
                repeated += 1
                continue
        minutes.append(t)
        params.append(param)
        values.append(value)
    if "RecordID" not in desc:
        del minutes[n_before:], params[n_before:], values[n_before:]
        raise DatasetError(
            f"{path} has no '00:00,RecordID,<id>' line; every PhysioNet 2012 record starts "
            "with one. Re-download it or remove it from the folder."
        )
    rid = desc.pop("RecordID")
    if rid != int(rid):
        raise DatasetError(f"{path}: RecordID {rid!r} is not an integer; re-download it.")
    return int(rid), desc, repeated


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
    minutes: list[int] = []
    params: list[str] = []
    values: list[float] = []
    obs_ids: list[int] = []
    static_rows: dict[int, dict] = {}
    repeated = 0
    for set_name in sets:
        folder = existing(root / set_name, f"record folder {set_name!r}", _fix())
        files = sorted(folder.glob("*.txt"))
        if not files:
            raise DatasetNotFoundError(f"{str(folder)!r} holds no .txt records. {_fix()}")
        for path in files:
            n0 = len(minutes)
            rid, desc, rep = _parse_record(path, minutes, params, values)
            repeated += rep
            if rid in static_rows:
                raise DatasetError(
                    f"RecordID {rid} appears twice ({path} and an earlier file in "
                    f"{static_rows[rid]['set']!r}); remove the duplicate file."
                )
            obs_ids.extend([rid] * (len(minutes) - n0))
            static_rows[rid] = {k: desc.get(k, np.nan) for k in PHYSIONET2012_STATICS}
            static_rows[rid]["set"] = set_name
    if repeated:
        warnings.warn(
            f"physionet2012: ignored {repeated} repeated descriptor line(s) (RecordID, Age, "
            "Gender, Height or ICUType after its first 00:00 line); the first value is kept.",
            UserWarning,
            stacklevel=2,
        )

    statics = pd.DataFrame.from_dict(static_rows, orient="index")
    statics.index = statics.index.astype(np.int64)
    statics.index.name = "id"
    cols = list(PHYSIONET2012_STATICS)
    statics[cols] = statics[cols].astype(np.float64).replace(-1.0, np.nan)

    frame = _to_frame(obs_ids, minutes, params, values, quantization)
    empty = sorted(set(static_rows) - set(frame["id"].unique()))
    if empty:
        warnings.warn(
            f"physionet2012: {len(empty)} record(s) have no time-varying observation "
            f"(RecordID {empty[:5]}{' ...' if len(empty) > 5 else ''}); they are in statics "
            "and labels only.",
            UserWarning,
            stacklevel=2,
        )

    labels = None
    if outcomes:
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
        no_label = set(static_rows) - set(labels["RecordID"])
        no_record = set(labels["RecordID"]) - set(static_rows)
        if no_label or no_record:
            warnings.warn(
                f"physionet2012: {len(no_label)} record(s) have no outcome row and "
                f"{len(no_record)} outcome row(s) have no record file; all are kept.",
                UserWarning,
                stacklevel=2,
            )

    return LongData(
        frame=frame,
        features=[c for c in frame.columns if c not in ("id", "time")],
        statics=statics,
        labels=labels,
        name="physionet2012",
        info={"time_unit": "hours", "quantization": quantization, "sets": list(sets)},
    )


def _to_frame(
    ids: list[int],
    minutes: list[int],
    params: list[str],
    values: list[float],
    quantization: float | None,
) -> pd.DataFrame:
    """Long frame from the observation lists, averaging repeats within a time quantum."""
    unknown = sorted(set(params) - _KNOWN)
    if unknown:
        n_unknown = sum(p in set(unknown) for p in params)
        warnings.warn(
            f"physionet2012: {n_unknown} observation(s) of parameter(s) {unknown} that are not "
            "among the 37 documented variables; kept as extra columns after them.",
            UserWarning,
            stacklevel=3,
        )
    columns = [*PHYSIONET2012_VARIABLES, *unknown]
    if not ids:
        empty = pd.DataFrame({"id": np.zeros(0, np.int64), "time": np.zeros(0)})
        return pd.concat([empty, pd.DataFrame(columns=columns, dtype=np.float64)], axis=1)
    mins = np.asarray(minutes, dtype=np.int64)
    if quantization is None:
        key = mins
    else:
        key = np.rint(mins / 60.0 / quantization).astype(np.int64)
    obs = pd.DataFrame(
        {
            "id": np.asarray(ids, dtype=np.int64),
            "key": key,
            "param": pd.Categorical(params, categories=columns),
            "value": np.asarray(values, dtype=np.float64),
        }
    )
    grouped = obs.groupby(["id", "key", "param"], observed=True, sort=True)["value"]
    merged = grouped.agg(["mean", "size"])
    if quantization is None:
        extra = int((merged["size"] - 1).sum())
        if extra:
            warnings.warn(
                f"physionet2012: {extra + int((merged['size'] > 1).sum())} measurements share "
                f"(record, minute, variable) with another; averaged into "
                f"{int((merged['size'] > 1).sum())} value(s) ({extra} fewer).",
                UserWarning,
                stacklevel=3,
            )
    wide = merged["mean"].unstack("param")
    wide = wide.reindex(columns=columns).astype(np.float64)
    wide.columns = pd.Index([str(c) for c in wide.columns])
    wide = wide.reset_index()
    if quantization is None:
        time = wide["key"].to_numpy() / 60.0
    else:
        time = np.round(wide["key"].to_numpy() * quantization, 10)
    wide.insert(1, "time", time.astype(np.float64))
    wide = wide.drop(columns="key")
    wide["id"] = wide["id"].astype(np.int64)
    wide.columns.name = None
    return wide.reset_index(drop=True)
