"""Fitted affine rescalings of times and values shared by the models."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["TimeScaled", "ValueScaler"]


class TimeScaled(nn.Module):
    """Holds ``time_offset`` and ``time_scale`` buffers (saved in checkpoints).

    Every model maps raw times with ``(t - time_offset) / time_scale`` on entry;
    fit them from training data with :func:`latentode.data.scaling.fit_time_scale`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("time_offset", torch.tensor(0.0, dtype=torch.float64))
        self.register_buffer("time_scale", torch.tensor(1.0, dtype=torch.float64))
        self.register_buffer("time_fitted", torch.tensor(False))

    def set_time_scale(self, offset: float, scale: float) -> None:
        if not (math.isfinite(offset) and math.isfinite(scale) and scale > 0):
            raise ValueError(
                f"time scale must be finite and positive, got {scale} (offset {offset})."
            )
        self.time_offset.fill_(float(offset))
        self.time_scale.fill_(float(scale))
        self.time_fitted.fill_(True)

    def rescale(self, times: torch.Tensor) -> torch.Tensor:
        """``(t - offset) / scale`` computed in float64, returned in ``times.dtype``."""
        out = (times.to(torch.float64) - self.time_offset) / self.time_scale
        return out.to(times.dtype)


class ValueScaler(nn.Module):
    """Per-feature ``offset`` and ``scale`` buffers (saved in checkpoints).

    A model's networks read ``(x - offset) / scale`` and predict in those units; the
    prediction is mapped back with ``offset + scale * y``. Fit them from training
    data with :func:`latentode.data.scaling.fit_value_scale`; until then they are
    the identity. Standardizing matters for learning: a level far from zero pulls
    the posterior means of z0 to a shared offset far from the vector field's fixed
    point, where the decoder learns slowly (``benchmarks/README.md``, issue 9).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("offset", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("scale", torch.ones(dim, dtype=torch.float64))
        self.register_buffer("fitted", torch.tensor(False))

    def set(self, offset, scale) -> None:
        """Set ``offset, scale`` (each a float or ``(D,)``); scales must be positive."""
        offset = torch.as_tensor(offset, dtype=torch.float64).expand_as(self.offset)
        scale = torch.as_tensor(scale, dtype=torch.float64).expand_as(self.scale)
        if not (torch.isfinite(offset).all() and torch.isfinite(scale).all() and (scale > 0).all()):
            raise ValueError(
                f"value scale must be finite and positive, got offset {offset.tolist()} "
                f"and scale {scale.tolist()}."
            )
        self.offset.copy_(offset)
        self.scale.copy_(scale)
        self.fitted.fill_(True)

    def normalize(self, values: torch.Tensor) -> torch.Tensor:
        """``(..., D)`` data units -> standardized units."""
        return (values - self.offset.to(values.dtype)) / self.scale.to(values.dtype)

    def denormalize(self, values: torch.Tensor) -> torch.Tensor:
        """``(..., D)`` standardized units -> data units."""
        return self.offset.to(values.dtype) + self.scale.to(values.dtype) * values

    def log_abs_det(self, mask: torch.Tensor) -> torch.Tensor:
        """``sum log scale`` over the cells of ``mask (..., B, N, D)``, ``(..., B)``: what a
        log-density in standardized units loses to become one in data units."""
        return (mask * torch.log(self.scale).to(mask.dtype)).sum((-1, -2))
