"""Estimators on pandas frames, in scikit-learn's style: :class:`LatentODE` for
irregular series, :class:`EventIntensity` for event times."""

from .events import EventIntensity
from .latent_ode import LatentODE
from .persistence import ModelFileError

__all__ = ["LatentODE", "EventIntensity", "ModelFileError"]
