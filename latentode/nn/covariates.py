"""Covariates of a batch: per-series constants and known inputs as step signals.

Two kinds of known information condition a latent ODE:

* **statics** ``(B, S)``: one vector per series (diet, sex, birth weight), constant in
  time;
* **inputs**: a piecewise-constant signal per series, given by knots ``knot_times (B, M)``
  (sorted; a leading ``-inf`` knot holds the value before the first row, padding knots
  are ``+inf``) and ``knot_values (B, M, C)``: the signal equals ``knot_values[b, j]`` on
  ``[knot_times[b, j], knot_times[b, j + 1])``. Its first ``n_held`` channels are *held*
  values (a setting that stays until it changes: a ventilator mode, a diet switch); the
  other channels are the *cumulative amounts* of impulse inputs (doses).

How they enter the dynamics (:class:`ConditionedField`): the vector field reads
``[z, statics, held(t)]``; an impulse of amount ``u`` at time ``s`` moves the state by
``J u`` at ``s`` (``J`` learned, linear), as a bolus dose moves a compartment. With
``U(t)`` the cumulative amount, ``z(t) = y(t) + J U(t)`` where ``y`` is continuous and
solves ``dy/dt = f(y + J U(t), statics, held(t))``: the jumps need no restart of the
solver, and ``z`` jumps by exactly ``J u`` at each impulse.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["Covariates", "ConditionedField"]


@dataclass
class Covariates:
    """Statics and input signals of ``B`` series, in the model's rescaled time.

    Attributes:
        statics: ``(B, S)`` or ``None``.
        knot_times: ``(B, M)`` or ``None`` (no inputs).
        knot_values: ``(B, M, C)`` or ``None``.
        n_held: the first ``n_held`` of the ``C`` channels are held values, the rest
            cumulative impulse amounts.
    """

    statics: torch.Tensor | None
    knot_times: torch.Tensor | None
    knot_values: torch.Tensor | None
    n_held: int = 0

    @property
    def batch_size(self) -> int:
        ref = self.statics if self.statics is not None else self.knot_times
        return int(ref.shape[0])

    def signal(self, t: torch.Tensor) -> torch.Tensor | None:
        """The input signal at per-series times ``t (B, N)`` -> ``(B, N, C)``; ``None``
        without inputs. A time on a knot reads the knot's value (the input at a row
        applies from that row on)."""
        if self.knot_times is None:
            return None
        idx = torch.searchsorted(self.knot_times.contiguous(), t.contiguous(), right=True) - 1
        idx = idx.clamp_min(0)
        c = self.knot_values.shape[-1]
        return self.knot_values.gather(1, idx[..., None].expand(*idx.shape, c))

    def context(self, t: torch.Tensor) -> torch.Tensor:
        """``[statics, signal(t)]`` at ``t (B, N)`` -> ``(B, N, S + C)``, what an encoder
        reads next to each observation."""
        parts = []
        if self.statics is not None:
            parts.append(self.statics[:, None, :].expand(-1, t.shape[1], -1))
        sig = self.signal(t)
        if sig is not None:
            parts.append(sig)
        return torch.cat(parts, dim=-1)

    def split(self, signal: torch.Tensor | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """``(held, cumulative impulse amounts)`` of a signal ``(..., C)``."""
        if signal is None:
            return None, None
        held = signal[..., : self.n_held] if self.n_held else None
        amounts = signal[..., self.n_held :] if signal.shape[-1] > self.n_held else None
        return held, amounts


class ConditionedField(nn.Module):
    """``dy/dt = f(y + J U(t), [statics, held(t)])`` for the rows of a solve.

    Args:
        func: a field ``func(t, z, cond)`` (:class:`~latentode.nn.odefunc.ODEFunc` with
            ``cond_dim``).
        covariates: the batch's :class:`Covariates` (``B`` series).
        jump: ``J``, a bias-free ``nn.Linear(n_impulses, L)``, or ``None``.

    ``forward(t (R,), y (R, L))`` with ``R = k * B`` rows, row ``r`` belonging to series
    ``r % B`` (the layout of :func:`~latentode.nn.solve.solve_at_times`' flattened
    samples and grid nodes).
    """

    def __init__(self, func: nn.Module, covariates: Covariates, jump: nn.Module | None) -> None:
        super().__init__()
        self.func, self.cov, self.jump = func, covariates, jump

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        b = self.cov.batch_size
        k = y.shape[0] // b
        t = torch.as_tensor(t, dtype=y.dtype, device=y.device).expand(y.shape[0])
        t_bk = t.reshape(k, b).transpose(0, 1)  # (B, k)
        signal = self.cov.signal(t_bk)  # (B, k, C)
        held, amounts = self.cov.split(signal)
        parts = []
        if self.cov.statics is not None:
            parts.append(self.cov.statics[None].expand(k, -1, -1))
        if held is not None:
            parts.append(held.transpose(0, 1))
        z = y
        if amounts is not None and self.jump is not None:
            z = y + self.jump(amounts.transpose(0, 1)).reshape(y.shape)
        cond = torch.cat(parts, -1).reshape(y.shape[0], -1) if parts else None
        return self.func(t, z, cond)
