"""How a Lightning module optimises: one small config shared by every module."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import torch

__all__ = ["TrainingConfig", "TrainingFieldError", "OPTIMIZERS", "OBJECTIVES"]

#: optimisers by name
OPTIMIZERS = {"adamax": torch.optim.Adamax, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
#: training bounds of the variational models
OBJECTIVES = ("elbo", "iwae")


class TrainingFieldError(TypeError, ValueError):
    """``training`` is not a :class:`TrainingConfig` or names a field it lacks: a
    ``TypeError`` as for a wrong keyword argument, and a ``ValueError`` as every other
    refused option, so the command line reports it in one line."""


@dataclass(frozen=True)
class TrainingConfig:
    """Optimiser, learning-rate schedule, KL schedule, posterior draws and bound.

    Args:
        n_samples: z0 draws per series in each training and evaluation step (``K``).
        objective: the bound minimised, ``"elbo"`` (the per-series ELBO with the
            analytic KL, the K draws averaged) or ``"iwae"`` (importance weighted).
        kl_delay, kl_rate: KL weight 0 for ``kl_delay`` epochs, then
            ``1 - kl_rate ** (epoch - kl_delay)`` (:class:`~latentode.nn.bounds.KLSchedule`).
        std_delay: epochs during which a learned observation std is held at its initial
            value (``None``: ``kl_delay``).
        lr, optimizer, lr_decay, min_lr_ratio, weight_decay: the learning rate decays by
            ``lr_decay`` per step down to ``lr * min_lr_ratio``; ``optimizer`` is one of
            :data:`OPTIMIZERS`.
        beta2: the decay of the optimiser's second-moment estimate (``betas=(0.9,
            beta2)``; ``None``: the optimiser's own, 0.999). A dict that names
            ``optimizer`` without ``beta2`` gets that optimiser's own. With a sharp
            likelihood (a small fixed observation std) the gradients come in rare large
            spikes; with 0.999 Adam then takes steps of up to 3.2x its learning rate (at
            most 1x with 0.9) and training fell back to the constant predictor again and
            again, where ``beta2=0.9`` (or Adamax) did not (``benchmarks/README.md``).
        compile: run the ODE-RNN encoder's per-observation step through
            ``torch.compile`` (:meth:`~latentode.nn.encoders.ODERNNEncoder.compile_step`;
            needs ``encoder="odernn"`` with a fixed-step ``encoder_method``). Fewer, fused
            kernels per observation, but a step was no faster on one CPU core or an H200
            (``benchmarks/README.md``), and the first batches pay the compilation.

    Modules that are not variational (:class:`~latentode.training.RecurrentModule`) read
    only the optimisation fields. Every field is checked here, before any training step.
    """

    n_samples: int = 3
    objective: str = "elbo"
    kl_delay: int = 10
    kl_rate: float = 0.99
    std_delay: int | None = None
    lr: float = 1e-2
    optimizer: str = "adamax"
    lr_decay: float = 0.999
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.0
    beta2: float | None = None
    compile: bool = False

    def __post_init__(self) -> None:
        if not (isinstance(self.n_samples, numbers.Integral) and self.n_samples >= 1):
            raise ValueError(f"n_samples must be an int >= 1, got {self.n_samples!r}.")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}.")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {sorted(OPTIMIZERS)}, got {self.optimizer!r}."
            )
        if not (isinstance(self.kl_delay, numbers.Integral) and self.kl_delay >= 0):
            raise ValueError(f"kl_delay must be an int >= 0, got {self.kl_delay!r}.")
        if self.std_delay is not None and not (
            isinstance(self.std_delay, numbers.Integral) and self.std_delay >= 0
        ):
            raise ValueError(f"std_delay must be >= 0 or None, got {self.std_delay}.")
        if not 0 <= self.kl_rate < 1:
            raise ValueError(f"kl_rate must be in [0, 1), got {self.kl_rate!r}.")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}.")
        if not 0 < self.lr_decay <= 1 or not 0 < self.min_lr_ratio <= 1:
            raise ValueError(
                f"lr_decay and min_lr_ratio must be in (0, 1], got {self.lr_decay!r} and "
                f"{self.min_lr_ratio!r}."
            )
        if not isinstance(self.compile, bool):
            raise ValueError(f"compile must be True or False, got {self.compile!r}.")
        if self.beta2 is not None and not (
            isinstance(self.beta2, numbers.Real) and 0 <= self.beta2 < 1
        ):
            raise ValueError(f"beta2 must be in [0, 1) or None, got {self.beta2!r}.")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}.")

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for hyperparameters and saved files."""
        return asdict(self)

    @classmethod
    def resolve(
        cls,
        training: TrainingConfig | Mapping[str, Any] | None,
        defaults: TrainingConfig,
        legacy: Mapping[str, Any] | None = None,
    ) -> TrainingConfig:
        """The config a module trains with: ``training`` (a config, or a dict of fields
        overriding ``defaults``), after the flat fields of ``legacy`` (hyperparameters
        of checkpoints and files saved before there was a config)."""
        config = defaults
        if legacy:
            config = replace(config, **legacy)
        if isinstance(training, Mapping):
            unknown = set(training) - {f.name for f in fields(cls)}
            if unknown:
                raise TrainingFieldError(
                    f"unknown training fields {sorted(unknown)}; TrainingConfig has "
                    f"{[f.name for f in fields(cls)]}."
                )
            if "optimizer" in training and "beta2" not in training:
                # beta2 belongs to the optimiser it was chosen for
                training = {**training, "beta2": None}
            config = replace(config, **training)
        elif training is not None:
            if not isinstance(training, TrainingConfig):
                raise TrainingFieldError(
                    f"training must be a TrainingConfig or a dict, got {type(training).__name__}."
                )
            config = training
        return config

    @classmethod
    def pop_legacy(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Remove and return the config fields found among flat keyword arguments."""
        names = {f.name for f in fields(cls)}
        return {k: kwargs.pop(k) for k in list(kwargs) if k in names}
