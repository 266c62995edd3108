"""Declarative parameter constraints shared by the estimators (scikit-learn's
``_parameter_constraints``: checked by ``_validate_params`` before any work)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from datetime import timedelta
from numbers import Integral, Real
from os import PathLike

import numpy as np
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)

from ..nn.solve import ADAPTIVE_METHODS, FIXED_STEP_METHODS, SolverConfig, SpanError
from ..training.config import OPTIMIZERS

__all__ = [
    "COMMON",
    "Count",
    "checked",
    "N_SAMPLES",
    "GRID",
    "DURATION",
    "PATH",
    "SOLVER",
    "positive_int",
    "as_solver_config",
    "solver_hparams",
]


class Count(Interval):
    """An integer in ``[low, inf)`` that is not a bool (``True`` is not a count)."""

    def __init__(self, low: int = 1) -> None:
        super().__init__(Integral, low, None, closed="left")

    def is_satisfied_by(self, val: object) -> bool:
        return not isinstance(val, bool) and super().is_satisfied_by(val)


def positive_int(low: int = 1) -> list:
    return [Count(low)]


def checked(**constraints: list) -> Callable:
    """Declarative checks of a public method's arguments, before any work, in scikit-learn's
    constraint language: a bad value raises ``InvalidParameterError`` (a ValueError and
    TypeError) naming the argument, ``Estimator.method`` and the allowed values. The
    constraints are kept on the method as ``_parameter_constraints``. A
    :class:`~latentode.nn.solve.SpanError` from the call (times too far for the solver's
    limits) comes back naming the method and what one rescaled time unit is in the data's
    own time unit (:func:`explain_span`)."""

    def decorate(method: Callable) -> Callable:
        signature = inspect.signature(method)

        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            where = f"{type(self).__name__}.{method.__name__}"
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            validate_parameter_constraints(
                constraints, {name: bound.arguments[name] for name in constraints}, where
            )
            try:
                return method(self, *args, **kwargs)
            except SpanError as err:
                raise SpanError(f"{where}: {err} {explain_span(self)}") from None

        wrapper._parameter_constraints = constraints
        return wrapper

    return decorate


def explain_span(estimator) -> str:
    """One rescaled time unit (the solver's, in which its limits are stated) in the data's
    time unit, for a fitted estimator; ``""`` when that is not known."""
    try:
        scale = float(estimator.module_.model.time_scale)
        codec = estimator.codec_
    except AttributeError:
        return ""
    if codec.kind == "datetime":
        seconds = scale * codec.unit_seconds
        return f"(For this model one rescaled time unit is {seconds:.4g} seconds of the data.)"
    return f"(For this model one rescaled time unit is {scale:.4g} of the data's time units.)"


#: posterior draws / simulated sequences
N_SAMPLES = positive_int()
#: points of an evaluation grid
GRID = positive_int(2)
#: a forecast horizon: a positive number of time units, or for datetimes a Timedelta or
#: a string such as "7D" (checked further by ``horizon_units``)
DURATION = [Interval(Real, 0, None, closed="neither"), str, timedelta, np.timedelta64]
#: a folder on disk
PATH = [str, PathLike, None]


#: a solver method name or a :class:`~latentode.nn.solve.SolverConfig`
SOLVER = [StrOptions(set(FIXED_STEP_METHODS + ADAPTIVE_METHODS)), SolverConfig]

#: parameters both estimators take
COMMON: dict = {
    "latent_dim": positive_int(),
    "hidden_dim": positive_int(),
    "units": positive_int(),
    "depth": positive_int(0),
    "solver": SOLVER,
    "train_samples": positive_int(),
    "objective": [StrOptions({"elbo", "iwae"})],
    "max_epochs": positive_int(),
    "batch_size": positive_int(),
    "lr": [Interval(Real, 0, None, closed="neither")],
    "optimizer": [StrOptions(set(OPTIMIZERS))],
    "kl_delay": positive_int(0),
    "kl_rate": [Interval(Real, 0, 1, closed="left")],
    "val_size": [Interval(Real, 0, 1, closed="left")],
    "early_stopping": ["boolean"],
    "patience": positive_int(0),
    "gradient_clip_val": [Interval(Real, 0, None, closed="neither"), None],
    "seed": [Interval(Integral, 0, None, closed="left")],
    "verbose": ["verbose"],
    "trainer_kwargs": [dict, None],
    "accelerator": [str],
    "devices": [Interval(Integral, 1, None, closed="left"), str, list],
    "strategy": "no_validation",
    "logger": "no_validation",
}


def solver_from_dict(fields: dict) -> SolverConfig:
    """A :class:`SolverConfig` from a mapping of its fields (a config file's ``solver``);
    a ValueError naming the field otherwise."""
    try:
        return SolverConfig(**fields)
    except TypeError as err:
        raise ValueError(f"solver: {err}; fields: method, rtol, atol, grid_step, ...") from None


def as_solver_config(solver: str | SolverConfig) -> SolverConfig:
    """The ``solver`` parameter as a :class:`SolverConfig`."""
    return solver if isinstance(solver, SolverConfig) else SolverConfig(method=solver)


def solver_hparams(solver: SolverConfig) -> dict:
    """A :class:`SolverConfig` as the plain dict stored in module hyperparameters: method,
    tolerances, grid step and interpolation, and whichever other fields differ from their
    defaults."""
    out = {
        "method": solver.method,
        "rtol": solver.rtol,
        "atol": solver.atol,
        "grid_step": solver.grid_step,
        "interpolation": solver.interpolation,
    }
    defaults = SolverConfig()
    for name in ("adjoint", "options", "max_num_steps"):
        if getattr(solver, name) != getattr(defaults, name):
            out[name] = getattr(solver, name)
    return out
