"""Estimators on pandas frames, in scikit-learn's style: :class:`LatentODE` for
irregular series, :class:`EventIntensity` for event times."""

from .events import EventIntensity
from .faults import TrainingError, TrainingStopped
from .latent_ode import LatentODE
from .schema import ModelFileError

__all__ = ["LatentODE", "EventIntensity", "ModelFileError", "TrainingError", "TrainingStopped"]
