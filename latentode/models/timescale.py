"""A fitted affine time rescaling shared by every model."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["TimeScaled"]


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
