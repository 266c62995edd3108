"""Class labels from a frame column, per series or per row."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import replace

import numpy as np
import pandas as pd

from ..data.batch import Series
from .errors import DataFrameError

__all__ = ["attach_labels"]


def attach_labels(
    df: pd.DataFrame,
    clean: pd.DataFrame,
    series: list[Series],
    id_col: Hashable,
    time_col: Hashable,
    label_col: Hashable,
    kind: str,
) -> tuple[list[Series], list]:
    """``(series, classes)``: the series with ``label`` set to a class index per series
    (``kind="sequence"``) or per row (``"point"``), -1 where missing, and the sorted
    classes. ``clean`` is the checked frame the series came from."""
    raw = df[[id_col, time_col, label_col]]
    classes = sorted(pd.unique(raw[label_col].dropna()).tolist())
    if len(classes) < 2:
        raise DataFrameError(f"label column {label_col!r} needs at least two classes.")
    index = {c: i for i, c in enumerate(classes)}
    if kind == "sequence":
        varying = raw.groupby(id_col)[label_col].nunique(dropna=True)
        bad = varying[varying > 1].index.tolist()
        if bad:
            raise DataFrameError(
                f"classify='sequence' needs one label per series; {label_col!r} varies "
                f"within series {bad[:5]!r}. Use classify='point' for per-row labels."
            )
        first = raw.dropna(subset=[label_col]).groupby(id_col)[label_col].first()
        labelled = []
        for s in series:
            lab = first.get(s.id)
            labelled.append(replace(s, label=-1 if lab is None else index[lab]))
        return labelled, classes
    merged = clean[[id_col, time_col]].merge(
        raw.drop_duplicates([id_col, time_col]), on=[id_col, time_col], how="left"
    )
    codes = merged[label_col].map(index).fillna(-1).to_numpy(dtype=np.float64)
    by_id = dict(list(merged.assign(_code=codes).groupby(id_col, sort=False)["_code"]))
    return [replace(s, label=by_id[s.id].to_numpy()) for s in series], classes
