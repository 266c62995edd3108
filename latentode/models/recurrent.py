"""Deterministic recurrent baselines: ODE-RNN and GRU-Δt; and the RNN-VAE factory.

Both recurrent models run *forwards* over each series' own times in lockstep over
the point index. The prediction at a point is read before that point's update, so
it only uses earlier observations: at observed points it is a one-step-ahead
prediction, between and after observations it is an interpolation or an
extrapolation.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..data.batch import IrregularBatch
from ..nn.decoders import Readout
from ..nn.likelihoods import GaussianLikelihood
from ..nn.odefunc import ODEFunc
from ..nn.solve import evolve
from .latent_ode import LatentODEModel
from .timescale import TimeScaled, ValueScaler

__all__ = ["RecurrentModel", "ODERNN", "GRUDelta", "rnn_vae"]


class RecurrentModel(TimeScaled):
    """ODE-RNN (``ode=True``) or GRU-Δt (``ode=False``).

    Args:
        input_dim: ``D``.
        hidden_dim: recurrent state size.
        units, depth: the ODE function's MLP (ODE-RNN only).
        ode: evolve the state under a neural ODE between points (ODE-RNN); otherwise
            the GRU and the readout get the time since the last observation (GRU-Δt).
        obs_std: fixed observation std in the model's standardized units, or ``None``
            to learn it.
        method, max_step: solver between points (ODE-RNN).

    Values pass through ``value_scaler`` as in
    :class:`~latentode.models.latent_ode.LatentODEModel`.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int = 20,
        units: int = 100,
        depth: int = 1,
        *,
        ode: bool = True,
        obs_std: float | None = None,
        method: str = "rk4",
        max_step: float = 0.25,
    ) -> None:
        super().__init__()
        self.input_dim, self.hidden_dim, self.ode = input_dim, hidden_dim, ode
        extra = 0 if ode else 1
        self.func = ODEFunc(hidden_dim, units, depth, "tanh") if ode else None
        self.gru = nn.GRUCell(2 * input_dim + extra, hidden_dim)
        self.readout = Readout(hidden_dim + extra, input_dim, units, 1)
        self.likelihood = GaussianLikelihood(input_dim, obs_std)
        self.value_scaler = ValueScaler(input_dim)
        self.method, self.max_step = method, max_step

    def set_value_scale(self, offset, scale) -> None:
        """Per-feature ``offset, scale`` (floats or ``(D,)``) of the value rescaling."""
        self.value_scaler.set(offset, scale)

    def predict(self, batch: IrregularBatch) -> torch.Tensor:
        """Predictions ``(B, N, D)`` at every point of ``batch.times``."""
        t = self.rescale(batch.times)
        b, n = t.shape
        h = batch.values.new_zeros(b, self.hidden_dim)
        last_obs = t[:, 0]
        observed = batch.obs_mask.amax(-1) > 0
        values = self.value_scaler.normalize(batch.values)
        preds = []
        for j in range(n):
            if self.ode:
                if j > 0:
                    h = evolve(
                        self.func,
                        h,
                        t[:, j - 1],
                        t[:, j] - t[:, j - 1],
                        method=self.method,
                        max_step=self.max_step,
                    )
                preds.append(self.readout(h))
                inp = torch.cat([values[:, j] * batch.obs_mask[:, j], batch.obs_mask[:, j]], -1)
            else:
                gap = (t[:, j] - last_obs)[:, None]
                preds.append(self.readout(torch.cat([h, gap], -1)))
                inp = torch.cat(
                    [values[:, j] * batch.obs_mask[:, j], batch.obs_mask[:, j], gap], -1
                )
                last_obs = torch.where(observed[:, j], t[:, j], last_obs)
            h = torch.where(observed[:, j, None], self.gru(inp, h), h)
        return self.value_scaler.denormalize(torch.stack(preds, dim=1))

    def forward(self, batch: IrregularBatch, **_: Any) -> dict[str, Any]:
        """``loss`` = negative masked Gaussian log-likelihood per series (mean), ``pred``."""
        pred = self.predict(batch)
        norm, mask = self.value_scaler.normalize, batch.target_mask
        log_px = self.likelihood.log_prob(norm(batch.values), norm(pred), mask)
        log_px = log_px - self.value_scaler.log_abs_det(mask.to(pred.dtype))
        return {"loss": -log_px.mean(), "log_px": log_px, "pred": pred}


def ODERNN(input_dim: int, **kwargs: Any) -> RecurrentModel:  # noqa: N802 - a model name
    """The ODE-RNN baseline (:class:`RecurrentModel` with ``ode=True``)."""
    return RecurrentModel(input_dim, ode=True, **kwargs)


def GRUDelta(input_dim: int, **kwargs: Any) -> RecurrentModel:  # noqa: N802 - a model name
    """The GRU-Δt baseline (:class:`RecurrentModel` with ``ode=False``)."""
    return RecurrentModel(input_dim, ode=False, **kwargs)


def rnn_vae(input_dim: int, latent_dim: int = 6, **kwargs: Any) -> LatentODEModel:
    """The RNN-VAE baseline: RNN encoder, GRU decoder, same VAE objective."""
    return LatentODEModel(input_dim, latent_dim, encoder="rnn", decoder="rnn", **kwargs)
