"""Tensor data layer: irregular series and their batches, observation protocols, time
and value scales. Imports neither pandas nor Lightning."""

from .batch import IrregularBatch, Series, collate
from .protocols import RandomObservation, split_extrapolation, subsample_observed
from .scaling import fit_time_scale

__all__ = [
    "IrregularBatch",
    "Series",
    "collate",
    "RandomObservation",
    "split_extrapolation",
    "subsample_observed",
    "fit_time_scale",
]
