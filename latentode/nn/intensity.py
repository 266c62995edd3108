"""Inhomogeneous Poisson process pieces: a rate head λ(z) and the point-process likelihood.

For events ``t_1..t_n`` of a sequence in a window ``[T0, T1]``:
``log L = sum_i log λ_{m_i}(t_i) - ∫_{T0}^{T1} sum_m λ_m(t) dt``.
The integral is solved inside the ODE by augmenting the latent state with the
cumulative intensity (:class:`AugmentedField`), so it costs one solve with z(t).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .mlp import init_weights, mlp

__all__ = [
    "IntensityHead",
    "AugmentedField",
    "poisson_process_log_likelihood",
    "cell_poisson_log_likelihood",
]


_SOFTPLUS_INV_1 = math.log(math.e - 1.0)  # softplus(x) = 1


class IntensityHead(nn.Module):
    """``λ_m(z) = base_rate_m * softplus(MLP(z)_m + c) + min_rate``, one rate per mark.

    ``c`` makes a fresh head give ``λ = base_rate``: set ``base_rate`` to the
    homogeneous rate of the data (events per unit time) and the network only learns
    the modulation around it, whatever the time unit.

    Args:
        latent_dim: size of z.
        n_marks: number of event types (1 for unmarked events).
        units, depth: the MLP.
        base_rate: initial rate per mark (a float or a list).
        min_rate: floor keeping ``log λ`` finite.

    ``forward(z (..., L)) -> λ (..., n_marks)``.
    """

    def __init__(
        self,
        latent_dim: int,
        n_marks: int = 1,
        units: int = 50,
        depth: int = 1,
        base_rate: float | list[float] = 1.0,
        min_rate: float = 1e-6,
    ) -> None:
        super().__init__()
        self.net = mlp(latent_dim, n_marks, units, depth, "tanh")
        init_weights(self.net)
        self.n_marks, self.min_rate = n_marks, min_rate
        rate = torch.as_tensor(base_rate, dtype=torch.float32).expand(n_marks).clone()
        if not bool((rate > 0).all()):
            raise ValueError(f"base_rate must be positive, got {base_rate}.")
        self.register_buffer("base_rate", rate)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.base_rate * F.softplus(self.net(z) + _SOFTPLUS_INV_1) + self.min_rate


class AugmentedField(nn.Module):
    """State ``[z, Λ_1..Λ_M]`` with ``dz/dt = f(t, z)`` and ``dΛ_m/dt = λ_m(z)``.

    Solving it from ``[z0, 0]`` gives z(t) and the cumulative intensity per mark at
    every requested time in the same solve. ``nfe`` is the wrapped field's counter.
    """

    def __init__(self, func: nn.Module, head: IntensityHead) -> None:
        super().__init__()
        self.func, self.head = func, head

    @property
    def nfe(self) -> int:
        return int(getattr(self.func, "nfe", 0))

    def forward(self, t: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        z = state[..., : -self.head.n_marks]
        return torch.cat([self.func(t, z), self.head(z)], dim=-1)


def poisson_process_log_likelihood(
    rates: torch.Tensor,
    marks: torch.Tensor | None,
    event_mask: torch.Tensor,
    compensator: torch.Tensor,
) -> torch.Tensor:
    """Point-process log-likelihood per sequence.

    Args:
        rates: ``(..., B, N, M)`` intensities λ at each event time.
        marks: ``(B, N)`` integer mark of each event, or ``None`` for ``M = 1``.
        event_mask: ``(B, N)`` 1 for real events (0 for padding).
        compensator: ``(..., B)`` ``∫ sum_m λ_m dt`` over each sequence's window.

    Returns:
        ``(..., B)``. A sequence without events contributes ``-compensator``.
    """
    if marks is None:
        lam = rates[..., 0]
    else:
        idx = marks.long().clamp_min(0).expand(rates.shape[:-1]).unsqueeze(-1)
        lam = rates.gather(-1, idx).squeeze(-1)
    return _masked_log_rate(lam, event_mask).sum(-1) - compensator


def cell_poisson_log_likelihood(
    rates: torch.Tensor, cell_mask: torch.Tensor, compensator: torch.Tensor
) -> torch.Tensor:
    """Log-likelihood of the times at which each feature is observed, one Poisson
    process per feature: every marked cell is an event of its feature.

    Args:
        rates: ``(..., B, N, D)`` intensity of each feature at each time.
        cell_mask: ``(B, N, D)`` 1 where feature ``d`` is observed at time ``n``.
        compensator: ``(..., B)`` ``∫ sum_d λ_d dt`` over each series' window.

    Returns:
        ``(..., B)``; equal to :func:`poisson_process_log_likelihood` of the same events
        written as marks.
    """
    return _masked_log_rate(rates, cell_mask).sum((-1, -2)) - compensator


def _masked_log_rate(lam: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``log λ`` where ``mask`` is set, 0 elsewhere (no log of padding)."""
    mask = mask.to(lam.dtype)
    return torch.log(torch.where(mask > 0, lam, torch.ones_like(lam))) * mask
