"""A training frame, checked and converted in one step (:func:`training_series`): the
targets, the fitted time codec, target scaler and covariate encodings, and the series."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import pandas as pd
from sklearn.preprocessing import StandardScaler

from ..data.batch import Series
from .conversion import frame_to_series
from .covariates import CovariateSpec, covariate_columns
from .errors import DataFrameError
from .scaler import fit_scaler
from .targets import resolve_targets
from .times import TimeCodec
from .validation import check_frame

__all__ = ["training_series"]


def training_series(
    df: pd.DataFrame,
    id_col: Hashable,
    time_col: Hashable,
    target_cols: Sequence[Hashable] | None,
    label_col: Hashable | None = None,
    static_cols: Any = None,
    input_cols: Any = None,
    duplicates: str = "error",
) -> tuple[pd.DataFrame, list, TimeCodec, StandardScaler, CovariateSpec, list[Series]]:
    """A training frame checked and converted: ``clean, targets, codec, scaler,
    covariates, series``. The targets (``None``: every numeric column but id, time, the
    label and the covariates), the fitted time codec, target scaler and covariate
    encodings (:class:`~.covariates.CovariateSpec`), and one standardized series per id
    with its covariates."""
    others = [] if label_col is None else [label_col]
    if label_col is not None and label_col not in getattr(df, "columns", []):
        raise DataFrameError(f"label column {label_col!r} is not in the frame.")
    covariate_cols = covariate_columns(static_cols, input_cols)
    if isinstance(df, pd.DataFrame) and target_cols is None and (others or covariate_cols):
        exclude = [*others, *covariate_cols]
        target_cols = resolve_targets(df, id_col, time_col, None, exclude=exclude)
    clean, targets = check_frame(df, id_col, time_col, target_cols, duplicates=duplicates)
    codec = TimeCodec.fit(clean[time_col])
    scaler = fit_scaler(clean, targets)
    covariates = CovariateSpec.fit(
        df, id_col, time_col, static_cols, input_cols, reserved=[*targets, *others]
    )
    series = frame_to_series(clean, id_col, time_col, targets, codec, scaler)
    series = covariates.attach(series, df, id_col, time_col, codec)
    return clean, targets, codec, scaler, covariates, series
