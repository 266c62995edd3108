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

    ``forward(t, z)``: ``t`` is a scalar tensor or ``(B,)`` per-sample times,
    ``z`` is ``(B, L)``; returns ``(B, L)``. ``nfe`` counts calls (a batched call
    counts once); reset it with ``nfe = 0``.
    """

    def __init__(
        self,
        dim: int,
        units: int = 100,
        depth: int = 1,
        activation: str = "tanh",
        *,
        time_dependent: bool = False,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.time_dependent = time_dependent
        self.net = mlp(dim + int(time_dependent), dim, units, depth, activation)
        init_weights(self.net)
        self.nfe = 0

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.nfe += 1
        if self.time_dependent:
            t = torch.as_tensor(t, dtype=z.dtype, device=z.device)
            t = t.expand(z.shape[:-1]).unsqueeze(-1) if t.dim() == 0 else t.unsqueeze(-1)
            z = torch.cat([z, t.expand(*z.shape[:-1], 1)], dim=-1)
        return self.net(z)
