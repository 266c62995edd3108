"""Observation likelihoods and Gaussian divergences.

All log-likelihoods are *sums* over the scored cells of a series, so that they
are proper log-densities of the data; divide by counts yourself for per-point
figures.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .mlp import mlp

__all__ = [
    "gaussian_log_likelihood",
    "GaussianLikelihood",
    "bernoulli_log_likelihood",
    "categorical_log_likelihood",
    "normal_log_prob",
    "gaussian_kl",
    "reparameterize",
    "BernoulliHead",
    "CategoricalHead",
]

_LOG_2PI = math.log(2 * math.pi)


def gaussian_log_likelihood(
    values: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Masked Gaussian log-density summed over points and features.

    Args:
        values: ``(B, N, D)`` observations (anything where ``mask`` is 0).
        mean: ``(..., B, N, D)`` predicted means (leading sample dims allowed).
        std: broadcastable to ``mean``, e.g. ``(D,)``.
        mask: ``(B, N, D)`` 1 for cells that count.

    Returns:
        ``(..., B)``. Cells with ``mask == 0`` contribute exactly nothing, whatever
        their values (even NaN or inf).
    """
    mask = mask.to(mean.dtype)
    safe = torch.where(mask > 0, values, mean.detach())
    std = torch.as_tensor(std, dtype=mean.dtype, device=mean.device)
    z = (safe - mean) / std
    lp = -0.5 * z * z - torch.log(std) - 0.5 * _LOG_2PI
    return (lp * mask).sum(dim=(-1, -2))


class GaussianLikelihood(nn.Module):
    """Gaussian observation model with a fixed or learned per-feature std.

    Args:
        dim: number of features ``D``.
        std: a fixed std (float), or ``None`` to learn one per feature.
        init_std: starting value of a learned std.
        min_std: floor of a learned std.
    """

    def __init__(
        self, dim: int, std: float | None = None, init_std: float = 0.1, min_std: float = 1e-3
    ) -> None:
        super().__init__()
        self.min_std = float(min_std)
        if std is None:
            raw = math.log(math.expm1(max(init_std - min_std, 1e-6)))
            self.raw_std = nn.Parameter(torch.full((dim,), raw))
            self.register_buffer("fixed_std", None)
        else:
            if not std > 0:
                raise ValueError(f"observation std must be positive, got {std}.")
            self.raw_std = None
            self.register_buffer("fixed_std", torch.full((dim,), float(std)))

    @property
    def learned(self) -> bool:
        return self.raw_std is not None

    #: while True a learned std is held at its current value (no gradient), e.g. during a
    #: warm-up; set by :class:`~latentode.lightning.LatentODEModule` each epoch.
    frozen: bool = False

    def std(self) -> torch.Tensor:
        """``(D,)`` observation std."""
        if self.raw_std is None:
            return self.fixed_std
        std = F.softplus(self.raw_std) + self.min_std
        if self.frozen:
            # the value of std with a zero gradient that stays in the graph, so DDP still
            # sees the parameter used (a detached one fails its unused-parameter check)
            return std + (std.detach() - std)
        return std

    def log_prob(
        self, values: torch.Tensor, mean: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """See :func:`gaussian_log_likelihood`; returns ``(..., B)``."""
        return gaussian_log_likelihood(values, mean, self.std(), mask)


def bernoulli_log_likelihood(
    logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Bernoulli log-probability summed over the last dims of ``labels``' shape.

    Args:
        logits: ``(..., B)`` or ``(..., B, N)``.
        labels: same trailing shape, values in {0, 1}.
        mask: optional, same shape as ``labels``.

    Returns:
        ``(..., B)``.
    """
    labels = labels.to(logits.dtype)
    mask = torch.ones_like(labels) if mask is None else mask.to(logits.dtype)
    lp = -F.binary_cross_entropy_with_logits(
        logits,
        torch.where(mask > 0, labels, torch.zeros_like(labels)).expand_as(logits),
        reduction="none",
    )
    lp = lp * mask
    return lp.sum(-1) if labels.dim() >= 2 else lp


def categorical_log_likelihood(
    logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Categorical log-probability.

    Args:
        logits: ``(..., B, C)`` or ``(..., B, N, C)``.
        labels: ``(B,)`` or ``(B, N)`` integer classes (negative = not scored).
        mask: optional ``labels``-shaped weights.

    Returns:
        ``(..., B)``.
    """
    labels = labels.long()
    valid = labels >= 0
    if mask is not None:
        valid = valid & (mask > 0)
    logp = torch.log_softmax(logits, dim=-1)
    idx = labels.clamp_min(0).expand(logits.shape[:-1]).unsqueeze(-1)
    lp = logp.gather(-1, idx).squeeze(-1) * valid.to(logits.dtype)
    return lp.sum(-1) if labels.dim() >= 2 else lp


def normal_log_prob(z: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Diagonal Gaussian log-density summed over the last dim: ``(..., L) -> (...)``."""
    u = (z - mean) / std
    return (-0.5 * u * u - torch.log(std) - 0.5 * _LOG_2PI).sum(-1)


def reparameterize(
    mean: torch.Tensor, std: torch.Tensor, n_samples: int, eps: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """K draws ``z0 = mean + std * eps`` from q(z0) and their log-densities.

    Args:
        mean, std: ``(B, L)``.
        eps: optional ``(K, B, L)`` standard normals (drawn if ``None``).

    Returns:
        ``z0 (K, B, L)``, ``log p(z0)`` under N(0, I) and ``log q(z0)``, each ``(K, B)``.
    """
    if eps is None:
        eps = torch.randn((n_samples, *mean.shape), dtype=mean.dtype, device=mean.device)
    z0 = mean + std * eps.to(mean)
    log_pz = normal_log_prob(z0, torch.zeros_like(z0), torch.ones_like(z0))
    return z0, log_pz, normal_log_prob(z0, mean, std)


def gaussian_kl(
    mean: torch.Tensor,
    std: torch.Tensor,
    prior_mean: torch.Tensor | float = 0.0,
    prior_std: torch.Tensor | float = 1.0,
) -> torch.Tensor:
    """Closed-form KL(N(mean, std^2) || N(prior_mean, prior_std^2)), summed over the last dim.

    Args:
        mean, std: ``(B, L)``.

    Returns:
        ``(B,)``.
    """
    prior_mean = torch.as_tensor(prior_mean, dtype=mean.dtype, device=mean.device)
    prior_std = torch.as_tensor(prior_std, dtype=mean.dtype, device=mean.device)
    var_ratio = (std / prior_std) ** 2
    diff = (mean - prior_mean) / prior_std
    return 0.5 * (var_ratio + diff * diff - 1.0 - torch.log(var_ratio)).sum(-1)


class BernoulliHead(nn.Module):
    """Binary label head: ``logits = MLP(z)``; ``log_prob`` as :func:`bernoulli_log_likelihood`.

    ``forward(z (..., L)) -> logits (...)``.
    """

    def __init__(self, latent_dim: int, units: int = 100, depth: int = 1) -> None:
        super().__init__()
        self.net = mlp(latent_dim, 1, units, depth, "relu")

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).squeeze(-1)

    def log_prob(
        self, z: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        return bernoulli_log_likelihood(self(z), labels, mask)


class CategoricalHead(nn.Module):
    """Class label head: ``logits = MLP(z)`` over ``n_classes``; ``log_prob`` as
    :func:`categorical_log_likelihood` (negative labels are not scored).

    ``forward(z (..., L)) -> logits (..., n_classes)``.
    """

    def __init__(self, latent_dim: int, n_classes: int, units: int = 100, depth: int = 1) -> None:
        super().__init__()
        self.net = mlp(latent_dim, n_classes, units, depth, "relu")

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)

    def log_prob(
        self, z: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        return categorical_log_likelihood(self(z), labels, mask)
