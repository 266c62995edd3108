"""Latent ODE intensity model for event sequences (an inhomogeneous Poisson process).

A batch row holds one sequence on its own grid ``times (B, N)``: the window start, the
events and the window end, so the window is ``[times[:, 0], times[:, -1]]`` (padding
repeats the last time). Event rows carry the mark one-hot in ``values`` with
``obs_mask`` 1 (the encoder reads them) and ``target_mask`` 1 (they are scored); the
window rows have all-zero masks.

z0 ~ q(z0 | events) from the ODE-RNN encoder over event times (input: mark one-hot),
z(t) from the latent ODE, λ_m(t) = softplus(MLP(z(t))), and the compensator
∫ sum_m λ_m dt from the same augmented solve.
"""

from __future__ import annotations

from typing import Any

import torch

from ..data.batch import IrregularBatch
from ..nn.bounds import iwae, variational_objective
from ..nn.encoders import ODERNNEncoder
from ..nn.intensity import AugmentedField, IntensityHead, poisson_process_log_likelihood
from ..nn.likelihoods import gaussian_kl, reparameterize
from ..nn.odefunc import ODEFunc
from ..nn.solve import SolverConfig, solve_at_times
from .timescale import TimeScaled

__all__ = ["EventModel"]


class EventModel(TimeScaled):
    """Latent ODE with a learned rate λ(z(t)) per mark.

    Args:
        n_marks: number of event types ``M`` (1 for unmarked).
        latent_dim: size of z.
        hidden_dim, units, depth: encoder state size and MLP sizes.
        solver: :class:`SolverConfig` (or dict) of the decoder.
        time_dependent: feed the (rescaled) time to the latent vector field, for rates
            that follow the calendar (trends, seasons) as well as the latent state.
        base_rate: initial rate per mark per *rescaled* time unit (see
            :class:`IntensityHead`); the estimator sets the homogeneous rate of the data.

    Rates are per *rescaled* time unit inside the model; :meth:`rates` and
    :meth:`cumulative` return them per raw time unit.
    """

    def __init__(
        self,
        n_marks: int = 1,
        latent_dim: int = 8,
        *,
        hidden_dim: int = 20,
        units: int = 50,
        depth: int = 1,
        solver: SolverConfig | dict | None = None,
        encoder_max_step: float = 0.25,
        time_dependent: bool = False,
        base_rate: float | list[float] = 1.0,
    ) -> None:
        super().__init__()
        if isinstance(solver, dict):
            solver = SolverConfig(**solver)
        self.n_marks, self.latent_dim = n_marks, latent_dim
        self.encoder = ODERNNEncoder(
            n_marks, latent_dim, hidden_dim, units, depth, max_step=encoder_max_step
        )
        self.func = ODEFunc(latent_dim, units, depth, time_dependent=time_dependent)
        self.head = IntensityHead(latent_dim, n_marks, units, base_rate=base_rate)
        self.field = AugmentedField(self.func, self.head)
        self.solver = solver or SolverConfig()

    # ------------------------------------------------------------------ pieces
    def encode(self, batch: IrregularBatch) -> tuple[torch.Tensor, torch.Tensor]:
        t = self.rescale(batch.times)
        return self.encoder(t, batch.values, batch.obs_mask, t[:, 0])

    def solve(
        self, z0: torch.Tensor, batch: IrregularBatch, extra: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``z0 (K, B, L)`` -> ``rates (K, B, N + E, M)`` (per rescaled unit) and the
        cumulative intensity ``(K, B, N + E, M)`` from the window start, at ``batch.times``
        followed by ``extra (B, E)`` (times ``>= times[:, 0]``)."""
        t = self.rescale(batch.times)
        query = t if extra is None else torch.cat([t, self.rescale(extra)], dim=1)
        k, b, _ = z0.shape
        state0 = torch.cat([z0, z0.new_zeros(k, b, self.n_marks)], dim=-1)
        out = solve_at_times(self.field, state0, t[:, 0], query, self.solver)
        return self.head(out[..., : self.latent_dim]), out[..., self.latent_dim :]

    def _log_weight_terms(self, batch: IrregularBatch, n_samples: int):
        mean, std = self.encode(batch)
        z0, log_pz, log_qz = reparameterize(mean, std, n_samples)
        rates, cum = self.solve(z0, batch)
        compensator = cum[:, :, -1].sum(-1)  # at the window end, the last time of each row
        marks = batch.values.argmax(-1)
        event_mask = batch.target_mask.amax(-1)
        log_px = poisson_process_log_likelihood(rates, marks, event_mask, compensator)
        return mean, std, log_px, log_pz, log_qz

    # --------------------------------------------------------------- objective
    def forward(
        self,
        batch: IrregularBatch,
        n_samples: int = 3,
        kl_weight: float = 1.0,
        objective: str = "iwae",
    ) -> dict[str, Any]:
        """Loss and per-sequence bounds (in rescaled time units; see :meth:`log_marginal`)."""
        mean, std, log_px, log_pz, log_qz = self._log_weight_terms(batch, n_samples)
        return variational_objective(
            log_px, log_pz, log_qz, gaussian_kl(mean, std), kl_weight, objective
        )

    @torch.no_grad()
    def log_marginal(self, batch: IrregularBatch, n_samples: int = 100) -> torch.Tensor:
        """IWAE estimate of log p(events) per sequence, ``(B,)``, with rates per *raw*
        time unit (each event contributes ``- log time_scale``)."""
        _, _, log_px, log_pz, log_qz = self._log_weight_terms(batch, n_samples)
        n_events = batch.target_mask.amax(-1).sum(-1)
        return iwae(log_px, log_pz, log_qz) - n_events * torch.log(self.time_scale).to(log_px.dtype)

    @torch.no_grad()
    def posterior(
        self, batch: IrregularBatch, extra: torch.Tensor | None, eps: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Rates per raw time unit and cumulative intensities, both ``(K, B, N + E, M)``,
        for z0 = mean + std * eps with ``eps (K, B, L)``."""
        mean, std = self.encode(batch)
        z0, _, _ = reparameterize(mean, std, eps.shape[0], eps)
        rates, cum = self.solve(z0, batch, extra)
        return rates / self.time_scale.to(rates.dtype), cum
