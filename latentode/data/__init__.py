"""Data layer: irregular series, batches, protocols, time scaling, data module."""

from .batch import IrregularBatch, Series, collate
from .datamodule import IrregularDataModule
from .protocols import RandomObservation, split_extrapolation, subsample_observed
from .scaling import fit_time_scale

__all__ = [
    "IrregularBatch",
    "Series",
    "collate",
    "IrregularDataModule",
    "RandomObservation",
    "split_extrapolation",
    "subsample_observed",
    "fit_time_scale",
]
