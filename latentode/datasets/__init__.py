"""Data set loaders and generators. Each returns a long DataFrame (id, time, features).

The generators (:func:`periodic`, :func:`spiral`) return DataFrames; the real-data loaders
return :class:`LongData` (``frame``, ``features``, ``statics``, ``labels``). The frame
protocols :func:`subsample_frame` and :func:`split_frame_extrapolation` split a long frame
for the interpolation and extrapolation tasks. Data cards: ``datasets/<name>/README.md``.
"""

from ._common import DatasetError, DatasetNotFoundError, LongData
from .activity import ACTIVITY_CLASSES, ACTIVITY_MERGE, ACTIVITY_TAGS, person_activity
from .hopper import hopper
from .physionet import PHYSIONET2012_STATICS, PHYSIONET2012_VARIABLES, physionet2012
from .protocols import split_frame_extrapolation, subsample_frame
from .registry import chickweight, coal_disasters, geyser, mauna_loa_co2, phenobarb, theophylline
from .synthetic import (
    periodic,
    periodic_series,
    series_to_frame,
    spike_trains,
    spiral,
    spiral_series,
)

__all__ = [
    "periodic",
    "periodic_series",
    "spiral",
    "spiral_series",
    "series_to_frame",
    "spike_trains",
    "LongData",
    "DatasetError",
    "DatasetNotFoundError",
    "physionet2012",
    "PHYSIONET2012_VARIABLES",
    "PHYSIONET2012_STATICS",
    "person_activity",
    "ACTIVITY_TAGS",
    "ACTIVITY_CLASSES",
    "ACTIVITY_MERGE",
    "theophylline",
    "phenobarb",
    "chickweight",
    "mauna_loa_co2",
    "coal_disasters",
    "geyser",
    "hopper",
    "subsample_frame",
    "split_frame_extrapolation",
]
