"""The recurrent updates an encoder applies at each observation it reads.

Each maps ``(x (B, input_dim), state (B, state_dim)) -> (B, state_dim)``;
:func:`make_cell` builds one by name (:data:`CELLS`) and says how large a state it
carries.
"""

from __future__ import annotations

import torch
from torch import nn

from .mlp import init_weights, mlp

__all__ = ["CELLS", "GatedMLPCell", "LinearGRUCell", "make_cell"]

#: recurrent updates an encoder may use at each observation
CELLS = ("gru", "linear_gru", "mlp")


class GatedMLPCell(nn.Module):
    """A GRU-style update whose gates and candidate are one-hidden-layer MLPs.

    The state is ``[mean, std]`` (``2 * hidden_dim``); the candidate mean is linear
    (not squashed by ``tanh``), the candidate std is ``|.|``, and both are mixed with
    the old state by the update gate. This is the update of the published Latent ODE
    encoder; it lets the encoder state grow with the evidence it has read.

    ``forward(x (B, input_dim), state (B, 2 * hidden_dim)) -> (B, 2 * hidden_dim)``.
    """

    def __init__(self, input_dim: int, hidden_dim: int, units: int = 100) -> None:
        super().__init__()
        self.hidden_dim = hidden_dim
        d = 2 * hidden_dim + input_dim
        self.update = mlp(d, hidden_dim, units, 1, "tanh")
        self.reset = mlp(d, hidden_dim, units, 1, "tanh")
        self.candidate = mlp(d, 2 * hidden_dim, units, 1, "tanh")
        for net in (self.update, self.reset, self.candidate):
            init_weights(net)

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        mean, std = state.chunk(2, dim=-1)
        joint = torch.cat([state, x], dim=-1)
        u = torch.sigmoid(self.update(joint))
        r = torch.sigmoid(self.reset(joint))
        new_mean, new_std = self.candidate(torch.cat([mean * r, std * r, x], dim=-1)).chunk(2, -1)
        mean = (1 - u) * new_mean + u * mean
        std = (1 - u) * new_std.abs() + u * std
        return torch.cat([mean, std], dim=-1)


class LinearGRUCell(nn.Module):
    """A GRU update whose candidate state is linear, not squashed by ``tanh``.

    ``r = sigmoid(W_r x + U_r h)``, ``u = sigmoid(W_u x + U_u h)`` (biases included),
    candidate ``c = W_c x + r * (U_c h)``, new state ``(1 - u) * c + u * h``: the gates of
    ``nn.GRUCell``, the candidate of the published Latent ODE encoder's update (which
    is linear in its last layer) at the cost of two ``Linear`` layers. The state is not
    confined to ``[-1, 1]``, so the values an encoder reads reach it in proportion; on
    the paper's periodic toy from 10% of the points this is what takes the ODE-RNN
    encoder's Latent ODE off the constant predictor's plateau within 300 steps
    (``benchmarks/README.md``, issue 9). Only the update gate keeps the state from
    growing over many observations; at a fresh initialisation it stays below about 6 in
    norm over 2000 random inputs of scale 3, but with a far too large learning rate
    (1e3) its gradient overflows in the first epoch, where with ``nn.GRUCell`` the loss
    blew up first (either way the fit stops with a ``TrainingError`` naming ``lr``).

    ``forward(x (B, input_dim), h (B, hidden_dim)) -> (B, hidden_dim)``.
    """

    def __init__(self, input_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.hidden_dim = hidden_dim
        self.input_map = nn.Linear(input_dim, 3 * hidden_dim)
        self.state_map = nn.Linear(hidden_dim, 3 * hidden_dim)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        xr, xu, xc = self.input_map(x).chunk(3, dim=-1)
        hr, hu, hc = self.state_map(h).chunk(3, dim=-1)
        r = torch.sigmoid(xr + hr)
        u = torch.sigmoid(xu + hu)
        c = xc + r * hc
        return c + u * (h - c)


def make_cell(cell: str, input_dim: int, hidden_dim: int, units: int) -> tuple[nn.Module, int]:
    """The update at each observation and the size of the state it carries."""
    if cell == "gru":
        return nn.GRUCell(input_dim, hidden_dim), hidden_dim
    if cell == "linear_gru":
        return LinearGRUCell(input_dim, hidden_dim), hidden_dim
    if cell == "mlp":
        return GatedMLPCell(input_dim, hidden_dim, units), 2 * hidden_dim
    raise ValueError(f"cell must be one of {CELLS}, got {cell!r}.")
