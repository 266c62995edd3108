"""Models: the Latent ODE VAE and the baselines."""

from .latent_ode import LatentODEModel
from .recurrent import ODERNN, GRUDelta, RecurrentModel, rnn_vae
from .timescale import TimeScaled

__all__ = ["LatentODEModel", "RecurrentModel", "ODERNN", "GRUDelta", "rnn_vae", "TimeScaled"]
