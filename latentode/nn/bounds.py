"""Variational bounds on log p(x) per series.

Shapes: ``K`` samples of z0 per series, ``B`` series.
"""

from __future__ import annotations

import math

import torch

__all__ = ["elbo", "mc_elbo", "iwae", "variational_objective", "KLSchedule"]


def elbo(log_px: torch.Tensor, kl: torch.Tensor, kl_weight: float = 1.0) -> torch.Tensor:
    """ELBO with the analytic KL: ``mean_k log p(x|z_k) - w KL``.

    Args:
        log_px: ``(K, B)``.
        kl: ``(B,)``.

    Returns:
        ``(B,)`` (a bound on log p(x) only for ``kl_weight = 1``).
    """
    return log_px.mean(0) - kl_weight * kl


def mc_elbo(log_px: torch.Tensor, log_pz: torch.Tensor, log_qz: torch.Tensor) -> torch.Tensor:
    """ELBO with the KL estimated on the same samples: ``mean_k log w_k``. ``(K, B) -> (B,)``."""
    return (log_px + log_pz - log_qz).mean(0)


def iwae(
    log_px: torch.Tensor, log_pz: torch.Tensor, log_qz: torch.Tensor, kl_weight: float = 1.0
) -> torch.Tensor:
    """Importance-weighted bound, per series: ``log (1/K) sum_k w_k``.

    The log-mean-exp is taken over the K samples of each series separately and
    includes ``- log K``; average the result over series afterwards.

    Args:
        log_px, log_pz, log_qz: ``(K, B)``.
        kl_weight: scales ``log p(z) - log q(z)`` (annealing; 1 for the bound).

    Returns:
        ``(B,)``; ``>= mc_elbo`` on the same samples, equal for ``K = 1``.
    """
    k = log_px.shape[0]
    log_w = log_px + kl_weight * (log_pz - log_qz)
    return torch.logsumexp(log_w, dim=0) - math.log(k)


def variational_objective(
    log_px: torch.Tensor,
    log_pz: torch.Tensor,
    log_qz: torch.Tensor,
    kl: torch.Tensor,
    kl_weight: float = 1.0,
    objective: str = "iwae",
) -> dict[str, torch.Tensor]:
    """The training loss and the diagnostic bounds every VAE model reports.

    Args:
        log_px, log_pz, log_qz: ``(K, B)`` on the same K draws of z0.
        kl: ``(B,)`` analytic KL of q(z0) from the prior.
        kl_weight: annealing weight of the training bound.
        objective: ``"iwae"`` or ``"elbo"`` for the loss.

    Returns:
        ``loss`` (scalar, minus the mean training bound) and, per series with KL weight 1,
        ``elbo``, ``mc_elbo``, ``iwae``, and ``kl``.
    """
    if objective == "iwae":
        bound = iwae(log_px, log_pz, log_qz, kl_weight)
    elif objective == "elbo":
        bound = elbo(log_px, kl, kl_weight)
    else:
        raise ValueError(f"objective must be 'iwae' or 'elbo', got {objective!r}.")
    return {
        "loss": -bound.mean(),
        "elbo": elbo(log_px, kl),
        "mc_elbo": mc_elbo(log_px, log_pz, log_qz),
        "iwae": iwae(log_px, log_pz, log_qz),
        "kl": kl,
    }


class KLSchedule:
    """KL weight per epoch: 0 for ``delay`` epochs, then ``1 - rate ** (epoch - delay)``.

    The published schedule is ``delay=10, rate=0.99``. ``rate=0`` gives 1 from the
    first epoch after the delay; ``delay=0, rate=0`` disables annealing.
    """

    def __init__(self, delay: int = 10, rate: float = 0.99) -> None:
        if delay < 0 or not 0 <= rate < 1:
            raise ValueError("KL schedule needs delay >= 0 and 0 <= rate < 1.")
        self.delay = int(delay)
        self.rate = float(rate)

    def __call__(self, epoch: int) -> float:
        if epoch < self.delay:
            return 0.0
        return 1.0 - self.rate ** (epoch - self.delay + 1)
