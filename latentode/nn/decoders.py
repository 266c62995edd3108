"""Decoders: latent trajectories z(t) at each series' own times, and readouts."""

from __future__ import annotations

import torch
from torch import nn

from .covariates import ConditionedField, Covariates
from .mlp import init_weights, mlp
from .odefunc import ODEFunc
from .solve import SolverConfig, solve_at_times

__all__ = ["ODEDecoder", "GRUDecoder", "Readout"]


class Readout(nn.Module):
    """Map latent states to the ``D`` observed features (Linear by default)."""

    def __init__(self, latent_dim: int, output_dim: int, units: int = 100, depth: int = 0) -> None:
        super().__init__()
        self.net = mlp(latent_dim, output_dim, units, depth, "tanh")
        init_weights(self.net)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``(..., L) -> (..., D)``."""
        return self.net(z)


class ODEDecoder(nn.Module):
    """z(t) solves dz/dt = f(t, z) from z(t0) = z0.

    Args:
        latent_dim: ``L``.
        units, depth, activation: the vector field's MLP.
        time_dependent: feed t to the vector field.
        solver: :class:`~latentode.nn.solve.SolverConfig`.
        cond_dim: statics plus held inputs the field reads (0: none).
        n_impulses: impulse inputs; each moves z by a learned ``J u`` when it arrives
            (:mod:`latentode.nn.covariates`).
    """

    def __init__(
        self,
        latent_dim: int,
        units: int = 100,
        depth: int = 1,
        activation: str = "tanh",
        *,
        time_dependent: bool = False,
        solver: SolverConfig | None = None,
        cond_dim: int = 0,
        n_impulses: int = 0,
    ) -> None:
        super().__init__()
        self.func = ODEFunc(
            latent_dim, units, depth, activation, time_dependent=time_dependent, cond_dim=cond_dim
        )
        self.solver = solver or SolverConfig()
        self.jump = nn.Linear(n_impulses, latent_dim, bias=False) if n_impulses else None

    def forward(
        self,
        z0: torch.Tensor,
        t0: torch.Tensor,
        times: torch.Tensor,
        covariates: Covariates | None = None,
    ) -> torch.Tensor:
        """``z0 (S, B, L)``, ``t0 (B,)``, ``times (B, N)`` -> ``z (S, B, N, L)``.

        With ``covariates`` the field reads the statics and held inputs, and each impulse
        moves z (``z0`` is the state before any impulse)."""
        if covariates is None:
            return solve_at_times(self.func, z0, t0, times, self.solver)
        field = ConditionedField(self.func, covariates, self.jump)
        y = solve_at_times(field, z0, t0, times, self.solver)
        _, amounts = covariates.split(covariates.signal(times))
        if amounts is None or self.jump is None:
            return y
        return y + self.jump(amounts)


class GRUDecoder(nn.Module):
    """RNN-VAE decoder: a GRU stepped over the series' own times with the gap as input."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.cell = nn.GRUCell(1, latent_dim)

    def forward(self, z0: torch.Tensor, t0: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """``z0 (S, B, L)``, ``t0 (B,)``, ``times (B, N)`` (increasing per row) ->
        ``z (S, B, N, L)``. Times before a row's ``t0`` read z0 unchanged (the decoder
        starts at ``t0``)."""
        s, b, latent = z0.shape
        h = z0.reshape(s * b, latent)
        t = times.repeat(s, 1)
        prev = t0.repeat(s)
        out = []
        if not bool((times < t0[:, None]).any()):
            for j in range(t.shape[1]):
                h = self.cell((t[:, j] - prev)[:, None], h)
                prev = t[:, j]
                out.append(h)
        else:  # rows that start later hold z0 until their start
            for j in range(t.shape[1]):
                started = (t[:, j] >= prev)[:, None]
                h = torch.where(started, self.cell((t[:, j] - prev).clamp_min(0)[:, None], h), h)
                prev = torch.maximum(t[:, j], prev)
                out.append(h)
        return torch.stack(out, dim=1).reshape(s, b, t.shape[1], latent)
