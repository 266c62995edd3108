"""Shared test helpers (not a test module)."""

import torch
from torch import nn


class LinearField(nn.Module):
    """dz/dt = A z, with an NFE counter."""

    def __init__(self, a: torch.Tensor) -> None:
        super().__init__()
        self.a = nn.Parameter(a.clone())
        self.nfe = 0

    def forward(self, t, z):
        self.nfe += 1
        return z @ self.a.T


def expm_solution(a: torch.Tensor, z0: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
    """z0 (B, L), dt (B, N) -> exp(A dt) z0 at each (b, n): (B, N, L)."""
    mats = torch.linalg.matrix_exp(a[None, None] * dt[..., None, None])
    return (mats @ z0[:, None, :, None]).squeeze(-1)
