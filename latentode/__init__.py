"""latentode: Latent ODEs for irregularly sampled time series."""

from .data import IrregularBatch, IrregularDataModule, Series, collate
from .models import LatentODEModel, RecurrentModel
from .nn import SolverConfig

__version__ = "0.1.0"

__all__ = [
    "IrregularBatch",
    "IrregularDataModule",
    "Series",
    "collate",
    "LatentODEModel",
    "RecurrentModel",
    "SolverConfig",
    "__version__",
]
