"""Tensor-level building blocks: solver layer, vector fields, encoders, decoders, likelihoods."""

from .bounds import KLSchedule, elbo, iwae, mc_elbo
from .decoders import GRUDecoder, ODEDecoder, Readout
from .encoders import ODERNNEncoder, RNNEncoder
from .intensity import AugmentedField, IntensityHead, poisson_process_log_likelihood
from .interpolate import cubic_interpolate, hermite_interpolate
from .likelihoods import (
    BernoulliHead,
    CategoricalHead,
    GaussianLikelihood,
    bernoulli_log_likelihood,
    categorical_log_likelihood,
    gaussian_kl,
    gaussian_log_likelihood,
    normal_log_prob,
)
from .mtan import MTANEncoder
from .odefunc import ODEFunc
from .solve import SolverConfig, evolve, solve_at_times

__all__ = [
    "KLSchedule",
    "elbo",
    "iwae",
    "mc_elbo",
    "GRUDecoder",
    "ODEDecoder",
    "Readout",
    "ODERNNEncoder",
    "RNNEncoder",
    "MTANEncoder",
    "GaussianLikelihood",
    "bernoulli_log_likelihood",
    "categorical_log_likelihood",
    "gaussian_kl",
    "gaussian_log_likelihood",
    "normal_log_prob",
    "BernoulliHead",
    "CategoricalHead",
    "AugmentedField",
    "IntensityHead",
    "poisson_process_log_likelihood",
    "ODEFunc",
    "SolverConfig",
    "evolve",
    "hermite_interpolate",
    "cubic_interpolate",
    "solve_at_times",
]
