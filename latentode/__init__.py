"""latentode: Latent ODEs for irregularly sampled time series."""

from .data import IrregularBatch, IrregularDataModule, Series, collate
from .data.frame import DataFrameError
from .models import LatentODEModel, RecurrentModel
from .nn import SolverConfig

__version__ = "0.1.0"

from .estimators import EventIntensity, LatentODE, ModelFileError  # noqa: E402 - needs __version__

__all__ = [
    "LatentODE",
    "EventIntensity",
    "DataFrameError",
    "ModelFileError",
    "IrregularBatch",
    "IrregularDataModule",
    "Series",
    "collate",
    "LatentODEModel",
    "RecurrentModel",
    "SolverConfig",
    "__version__",
]
