"""Target standardization with a scikit-learn ``StandardScaler``, stored as JSON."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

from .conversion import _target_matrix
from .errors import DataFrameError, fmt_list

__all__ = ["fit_scaler", "scaler_to_dict", "scaler_from_dict"]


def fit_scaler(df: pd.DataFrame, target_cols: Sequence[Hashable]) -> StandardScaler:
    """A ``StandardScaler`` fitted on the target columns of the training rows, ignoring NaN.

    Fitted on a plain array (no feature names), so it transforms arrays in column order.
    Constant columns get scale 1.
    """
    values = _target_matrix(df, list(target_cols))
    observed = np.isfinite(values).any(axis=0)
    empty = [c for c, ok in zip(target_cols, observed, strict=True) if not ok]
    if empty:
        raise DataFrameError(
            f"target column(s) {fmt_list(empty)} have no observed value; cannot fit a scaler."
        )
    return StandardScaler().fit(values)


def scaler_to_dict(scaler: StandardScaler) -> dict[str, Any]:
    """JSON-safe description of a fitted ``StandardScaler`` (exact float round trip)."""
    if not hasattr(scaler, "n_features_in_"):
        raise DataFrameError("the scaler is not fitted; call fit_scaler(...) first.")

    def arr(v: Any) -> list[float] | None:
        return None if v is None else [float(x) for x in np.asarray(v, dtype=np.float64)]

    n_seen = scaler.n_samples_seen_
    d: dict[str, Any] = {
        "with_mean": bool(scaler.with_mean),
        "with_std": bool(scaler.with_std),
        "n_features_in": int(scaler.n_features_in_),
        "mean": arr(scaler.mean_),
        "var": arr(scaler.var_),
        "scale": arr(scaler.scale_),
        "n_samples_seen": ([int(x) for x in n_seen] if np.ndim(n_seen) else int(n_seen)),
    }
    names = getattr(scaler, "feature_names_in_", None)
    if names is not None:
        d["feature_names_in"] = [str(x) for x in names]
    return d


def scaler_from_dict(d: Mapping[str, Any]) -> StandardScaler:
    """Inverse of :func:`scaler_to_dict`."""
    try:
        scaler = StandardScaler(with_mean=d["with_mean"], with_std=d["with_std"])

        def arr(v: Any) -> np.ndarray | None:
            return None if v is None else np.asarray(v, dtype=np.float64)

        scaler.n_features_in_ = int(d["n_features_in"])
        scaler.mean_ = arr(d["mean"])
        scaler.var_ = arr(d["var"])
        scaler.scale_ = arr(d["scale"])
        n_seen = d["n_samples_seen"]
        scaler.n_samples_seen_ = (
            np.asarray(n_seen, dtype=np.int64) if isinstance(n_seen, list) else int(n_seen)
        )
        if "feature_names_in" in d:
            scaler.feature_names_in_ = np.asarray(d["feature_names_in"], dtype=object)
    except (KeyError, TypeError, ValueError) as err:
        raise DataFrameError(f"not a stored StandardScaler ({err!r}).") from None
    return scaler
