"""Neural vector fields dz/dt = f(t, z)."""

from __future__ import annotations

import torch
from torch import nn

from .mlp import init_weights, mlp

__all__ = ["ODEFunc"]


class ODEFunc(nn.Module):
    """An MLP vector field with an evaluation counter.

    Args:
        dim: state size ``L``.
        units: width of the hidden layers.
        depth: number of hidden layers.
        activation: name from :data:`latentode.nn.mlp.ACTIVATIONS`.
        time_dependent: if True the time is appended to the input.
        cond_dim: size of a conditioning vector appended to the input (covariates, see
            :class:`~latentode.nn.covariates.ConditionedField`); 0 for none.

    ``forward(t, z, cond=None)``: ``t`` is a scalar tensor or ``(B,)`` per-sample times,
    ``z`` is ``(B, L)``, ``cond`` is ``(B, cond_dim)``; returns ``(B, L)``. ``nfe`` counts
    calls (a batched call counts once); reset it with ``nfe = 0``.
    """

    def __init__(
        self,
        dim: int,
        units: int = 100,
        depth: int = 1,
        activation: str = "tanh",
        *,
        time_dependent: bool = False,
        cond_dim: int = 0,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.time_dependent = time_dependent
        self.cond_dim = cond_dim
        self.net = mlp(dim + int(time_dependent) + cond_dim, dim, units, depth, activation)
        init_weights(self.net)
        self.nfe = 0

    @property
    def autonomous(self) -> bool:
        """True when the field reads neither the time nor a conditioning vector, so a
        solver may skip computing the time of each evaluation."""
        return not (self.time_dependent or self.cond_dim)

    def forward(
        self, t: torch.Tensor, z: torch.Tensor, cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        self.nfe += 1
        if self.cond_dim:
            if cond is None or cond.shape[-1] != self.cond_dim:
                got = None if cond is None else tuple(cond.shape)
                raise ValueError(f"this field needs cond of width {self.cond_dim}, got {got}.")
            z = torch.cat([z, cond], dim=-1)
        if self.time_dependent:
            t = torch.as_tensor(t, dtype=z.dtype, device=z.device)
            t = t.expand(z.shape[:-1]).unsqueeze(-1) if t.dim() == 0 else t.unsqueeze(-1)
            z = torch.cat([z, t.expand(*z.shape[:-1], 1)], dim=-1)
        return self.net(z)
