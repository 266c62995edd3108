"""scikit-learn style estimators on long pandas DataFrames."""

from .base import ModelFileError
from .events import EventIntensity
from .latent_ode import LatentODE

__all__ = ["LatentODE", "EventIntensity", "ModelFileError"]
