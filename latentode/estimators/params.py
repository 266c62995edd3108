"""Declarative parameter constraints shared by the estimators (scikit-learn's
``_parameter_constraints``: checked by ``_validate_params`` before any work)."""

from __future__ import annotations

from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions

from ..nn.solve import ADAPTIVE_METHODS, FIXED_STEP_METHODS, SolverConfig

__all__ = [
    "COMMON",
    "SOLVER",
    "positive_int",
    "check_n_samples",
    "as_solver_config",
    "solver_hparams",
]


def positive_int(low: int = 1) -> list:
    return [Interval(Integral, low, None, closed="left")]


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
    "kl_delay": positive_int(0),
    "kl_rate": [Interval(Real, 0, 1, closed="left")],
    "val_size": [Interval(Real, 0, 1, closed="left")],
    "early_stopping": ["boolean"],
    "patience": positive_int(0),
    "gradient_clip_val": [Interval(Real, 0, None, closed="neither"), None],
    "seed": [Interval(Integral, 0, None, closed="left")],
    "verbose": ["verbose"],
    "trainer_kwargs": [dict, None],
}


def check_n_samples(n_samples: int, name: str = "n_samples") -> int:
    """A positive integer count of draws, or a ValueError naming the argument."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, (Integral, Real)):
        raise ValueError(f"{name} must be a positive integer, got {n_samples!r}.")
    if int(n_samples) != n_samples or n_samples < 1:
        raise ValueError(f"{name} must be a positive integer, got {n_samples!r}.")
    return int(n_samples)


def as_solver_config(solver: str | SolverConfig) -> SolverConfig:
    """The ``solver`` parameter as a :class:`SolverConfig`."""
    return solver if isinstance(solver, SolverConfig) else SolverConfig(method=solver)


def solver_hparams(solver: SolverConfig) -> dict:
    """A :class:`SolverConfig` as the plain dict stored in module hyperparameters: method,
    tolerances and grid step, and whichever other fields differ from their defaults."""
    out = {
        "method": solver.method,
        "rtol": solver.rtol,
        "atol": solver.atol,
        "grid_step": solver.grid_step,
    }
    defaults = SolverConfig()
    for name in ("adjoint", "options", "max_num_steps"):
        if getattr(solver, name) != getattr(defaults, name):
            out[name] = getattr(solver, name)
    return out
