"""Training layer: Lightning modules (one per model family), their shared
:class:`TrainingConfig`, and the data module over lists of
:class:`~latentode.data.batch.Series`.

Use them with a plain ``lightning.Trainer``: any accelerator, devices,
``strategy="ddp"``, checkpoints, loggers.
"""

from .base import TrainingModule, masked_errors
from .config import TrainingConfig
from .datamodule import IrregularDataModule
from .events import EventModule
from .latent_ode import LatentODEModule
from .recurrent import RecurrentModule

__all__ = [
    "TrainingConfig",
    "TrainingModule",
    "LatentODEModule",
    "RecurrentModule",
    "EventModule",
    "IrregularDataModule",
    "masked_errors",
]
