"""The Latent ODE VAE (and the RNN-VAE, its GRU-decoder sibling)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch import nn

from ..data.batch import IrregularBatch
from ..nn.bounds import iwae, variational_objective
from ..nn.covariates import Covariates
from ..nn.decoders import GRUDecoder, ODEDecoder, Readout
from ..nn.encoders import ODERNNEncoder, RNNEncoder
from ..nn.intensity import AugmentedField, IntensityHead, cell_poisson_log_likelihood
from ..nn.likelihoods import (
    BernoulliHead,
    CategoricalHead,
    GaussianLikelihood,
    gaussian_kl,
    reparameterize,
)
from ..nn.mtan import MTANEncoder
from ..nn.observations import first_scored_time
from ..nn.solve import SolverConfig, solve_at_times
from .timescale import TimeScaled, ValueScaler

__all__ = ["LatentODEModel", "DEFAULT_CELLS"]


def _decoder(
    kind: str,
    latent_dim: int,
    units: int,
    depth: int,
    activation: str,
    time_dependent: bool,
    solver: SolverConfig | None,
    cond_dim: int,
    n_impulses: int,
) -> nn.Module:
    """The Latent ODE's decoder (``"ode"``) or the RNN-VAE's (``"rnn"``)."""
    if kind == "ode":
        return ODEDecoder(
            latent_dim, units, depth, activation, time_dependent=time_dependent, solver=solver,
            cond_dim=cond_dim, n_impulses=n_impulses,
        )  # fmt: skip
    if kind == "rnn":
        return GRUDecoder(latent_dim)
    raise ValueError(f"decoder must be 'ode' or 'rnn', got {kind!r}.")


#: where z0 sits in time (``LatentODEModel(decoder_start=...)``)
DECODER_STARTS = ("first", "scored")

#: each recurrent encoder's update when ``encoder_cell`` is None (issue 9 item 6)
DEFAULT_CELLS = {"odernn": "linear_gru", "rnn": "gru"}


def _checked_options(decoder_start: str, decoder: str, poisson: bool) -> str:
    """``decoder_start``, after checking it and the options the Poisson term needs."""
    if poisson and decoder != "ode":
        raise ValueError(
            "poisson=True needs decoder='ode' (the rate integral is solved in the latent ODE)."
        )
    if decoder_start not in DECODER_STARTS:
        raise ValueError(f"decoder_start must be one of {DECODER_STARTS}, got {decoder_start!r}.")
    if decoder_start != "first" and poisson:
        raise ValueError(
            "poisson=True needs decoder_start='first' (the rate is integrated over each "
            "series' whole window)."
        )
    return decoder_start


class LatentODEModel(TimeScaled):
    """Encoder -> q(z0) -> K samples -> decoder -> readout -> masked Gaussian likelihood.

    Args:
        input_dim: number of features ``D``.
        latent_dim: size of z.
        encoder: ``"odernn"`` (ODE-RNN run backwards), ``"rnn"`` (GRU with gaps) or
            ``"mtan"`` (multi-time attention, :class:`~latentode.nn.mtan.MTANEncoder`: all
            observations at once; ``enc_units`` is its head's width).
        decoder: ``"ode"`` (Latent ODE) or ``"rnn"`` (RNN-VAE).
        hidden_dim: encoder state size.
        units, depth, activation: the latent vector field's MLP.
        enc_units, enc_depth: the encoder ODE function's MLP.
        time_dependent: feed time to the latent vector field.
        readout_depth: hidden layers of the readout (0 = Linear, as published).
        obs_std: fixed observation std in the model's standardized units (see below),
            or ``None`` to learn it.
        solver: :class:`SolverConfig` (or its dict) for the decoder.
        encoder_method, encoder_max_step: solver between encoder observations. The
            default ``"midpoint"`` (two field evaluations per step) is about 4x cheaper than
            ``"rk4"`` in the encoder's forward and backward at the paper's settings, 1.5e-4
            from a tight solve there, and learned faster per step in the same run against
            the published code (``benchmarks/README.md``, issue 9/10).
        encoder_cell: the recurrent encoder's update, ``"gru"``, ``"linear_gru"`` or
            ``"mlp"`` (:mod:`latentode.nn.cells`). ``None``: :data:`DEFAULT_CELLS`, the
            linear candidate for the ODE-RNN (off the periodic plateau from 10% of the
            points; ``benchmarks/README.md``), ``nn.GRUCell`` for the GRU encoder.
        encoder_std_link: ``"softplus"`` or ``"abs"``, the q(z0) head's std link
            (ODE-RNN encoder).
        encoder_gap_scale: factor on the time gaps the GRU encoder (``encoder="rnn"``)
            reads (:class:`~latentode.nn.encoders.RNNEncoder`). ``"fit"`` (the default)
            makes the median gap between the points it reads in its first training batch
            1; 20 makes the median gap between all time points 1 (the default before
            2026-12-06); ``1`` reproduces models trained before that.
        poisson: also model *when* each feature is observed, as an inhomogeneous Poisson
            process with rate λ_d(z(t)) per feature (the paper's PhysioNet setup); its
            log-likelihood (scored cells are the events, window = each series' first..last
            time) is added to log p(x|z). The cumulative rate is solved in the same ODE.
        poisson_base_rate: initial λ per feature per rescaled time unit (the estimator
            sets the observed rate of each feature).
        n_labels: 0 for no labels, 1 for a binary label (Bernoulli head), ``C >= 2`` for
            ``C`` classes (categorical head). Labels come from ``batch.labels`` (-1 =
            missing) and their log-likelihood, times ``label_weight``, joins log p(x|z).
        label_kind: ``"sequence"`` (one label per series, read from z0, e.g. mortality)
            or ``"point"`` (a label per time point, read from z(t), e.g. activity).
        n_statics: per-series covariates (``batch.statics (B, S)``); the encoder reads
            them next to every observation and the vector field reads them.
        n_held, n_impulses: known inputs (``batch.input_times`` / ``input_values``): held
            values enter the vector field; impulses (cumulative amounts in the signal)
            move z by a learned ``J u`` when they arrive. The encoder reads the signal at
            each observation. See :mod:`latentode.nn.covariates`.
        decoder_start: where z0 sits in time. ``"first"`` (the default): each series'
            first time, as the paper describes the model. ``"scored"``: each series'
            first scored time (the first row of ``batch.target_mask`` with a cell set),
            as the published code extrapolates: its decoder solves only over the times
            it predicts, from z0 at the first of them, while the encoder reads the
            earlier points. Earlier times read z0 unchanged. Batches that score every
            row from the first (interpolation) are the same either way; on the paper's
            periodic extrapolation it takes the GRU-encoder Latent ODE off the constant
            predictor's plateau within 300 steps (``benchmarks/README.md``, issue 9).
            Not with ``poisson=True``.

    Times pass through :class:`TimeScaled` (``(t - time_offset) / time_scale``)
    before anything else, so raw spans of 1e-3 or 1e6 behave alike. Values pass
    through ``value_scaler`` (:class:`ValueScaler`, the identity until set with
    :meth:`set_value_scale`): the encoder reads standardized values, the readout
    predicts them, the Gaussian likelihood (and ``obs_std``) works in those units and
    adds the Jacobian ``-sum log scale`` per scored value, so ``log p(x|z)``, the
    bounds and every prediction are in data units.
    """

    def __init__(
        self,
        input_dim: int,
        latent_dim: int = 6,
        *,
        encoder: str = "odernn",
        decoder: str = "ode",
        hidden_dim: int = 20,
        units: int = 100,
        depth: int = 1,
        activation: str = "tanh",
        enc_units: int = 100,
        enc_depth: int = 1,
        time_dependent: bool = False,
        readout_depth: int = 0,
        obs_std: float | None = None,
        solver: SolverConfig | dict | None = None,
        encoder_method: str = "midpoint",
        encoder_max_step: float = 0.25,
        encoder_cell: str | None = None,
        encoder_std_link: str = "softplus",
        encoder_gap_scale: float | str = "fit",
        poisson: bool = False,
        poisson_base_rate: float | list[float] = 1.0,
        n_labels: int = 0,
        label_kind: str = "sequence",
        label_weight: float = 1.0,
        n_statics: int = 0,
        n_held: int = 0,
        n_impulses: int = 0,
        decoder_start: str = "first",
    ) -> None:
        super().__init__()
        self.decoder_start = _checked_options(decoder_start, decoder, poisson)
        if isinstance(solver, dict):
            solver = SolverConfig(**solver)
        self.input_dim, self.latent_dim = input_dim, latent_dim
        self.n_statics, self.n_held, self.n_impulses = n_statics, n_held, n_impulses
        n_context = n_statics + n_held + n_impulses
        if n_context and (decoder != "ode" or poisson):
            raise ValueError("covariates (statics or inputs) need decoder='ode' and poisson=False.")
        enc_dim = input_dim + n_context  # the encoder reads the context as extra features
        if encoder_cell is None:
            encoder_cell = DEFAULT_CELLS.get(encoder, "gru")
        if encoder == "odernn":
            self.encoder: nn.Module = ODERNNEncoder(
                enc_dim, latent_dim, hidden_dim, enc_units, enc_depth, method=encoder_method,
                max_step=encoder_max_step, cell=encoder_cell, std_link=encoder_std_link,
            )  # fmt: skip
        elif encoder == "rnn":
            self.encoder = RNNEncoder(
                enc_dim, latent_dim, hidden_dim, enc_units, gap_scale=encoder_gap_scale,
                cell=encoder_cell,
            )  # fmt: skip
        elif encoder == "mtan":
            self.encoder = MTANEncoder(enc_dim, latent_dim, hidden_dim, enc_units)
        else:
            raise ValueError(f"encoder must be 'odernn', 'rnn' or 'mtan', got {encoder!r}.")
        self.decoder = _decoder(
            decoder, latent_dim, units, depth, activation, time_dependent, solver,
            n_statics + n_held, n_impulses,
        )  # fmt: skip
        self.readout = Readout(latent_dim, input_dim, units, readout_depth)
        self.value_scaler = ValueScaler(input_dim)
        self.likelihood = GaussianLikelihood(input_dim, obs_std)
        if label_kind not in ("sequence", "point"):
            raise ValueError(f"label_kind must be 'sequence' or 'point', got {label_kind!r}.")
        self.n_labels, self.label_kind, self.label_weight = n_labels, label_kind, label_weight
        if n_labels == 1:
            self.classifier: nn.Module | None = BernoulliHead(latent_dim, units)
        elif n_labels >= 2:
            self.classifier = CategoricalHead(latent_dim, n_labels, units)
        else:
            self.classifier = None
        self.poisson = poisson
        if poisson:
            rate = poisson_base_rate
            self.intensity = IntensityHead(latent_dim, input_dim, units, base_rate=rate)
            self.augmented = AugmentedField(self.decoder.func, self.intensity)

    # -------------------------------------------------------------- pieces
    def set_value_scale(self, offset, scale) -> None:
        """Per-feature ``offset, scale`` (floats or ``(D,)``) of the value rescaling."""
        self.value_scaler.set(offset, scale)

    def covariates(self, batch: IrregularBatch) -> Covariates | None:
        """The batch's covariates in rescaled time, ``None`` for a model without any."""
        if not (self.n_statics or self.n_held or self.n_impulses):
            return None
        widths = {
            "statics": (batch.statics, self.n_statics),
            "input_values": (batch.input_values, self.n_held + self.n_impulses),
        }
        for name, (tensor, width) in widths.items():
            got = 0 if tensor is None else tensor.shape[-1]
            if got != width:
                raise ValueError(f"this model needs batch.{name} of width {width}, got {got}.")
        knots = None if batch.input_times is None else self.rescale(batch.input_times)
        return Covariates(batch.statics, knots, batch.input_values, self.n_held)

    def encode(self, batch: IrregularBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z0) for each series: ``mean, std`` of shape ``(B, L)`` at ``batch.t0``."""
        t = self.rescale(batch.times)
        values = self.value_scaler.normalize(batch.values)
        obs_mask = batch.obs_mask
        cov = self.covariates(batch)
        if cov is not None:  # the context is observed wherever a value is
            context = cov.context(t)
            seen = (obs_mask.amax(-1, keepdim=True) > 0).to(values.dtype)
            values = torch.cat([values, context * seen], -1)
            obs_mask = torch.cat([obs_mask, seen.expand_as(context)], -1)
        return self.encoder(t, values, obs_mask, self.z0_time(t, batch))

    def z0_time(self, t: torch.Tensor, batch: IrregularBatch) -> torch.Tensor:
        """Where z0 sits, per series, in rescaled time ``t (B, N)``: each series' first
        time, or its first scored time with ``decoder_start="scored"``; ``(B,)``."""
        if self.decoder_start == "scored":
            return first_scored_time(t, batch.target_mask)
        return t[:, 0]

    def observe(self, z: torch.Tensor) -> torch.Tensor:
        """Mean of the observations in data units: ``z (..., L) -> (..., D)``."""
        return self.value_scaler.denormalize(self.readout(z))

    def gaussian_log_prob(self, batch: IrregularBatch, pred: torch.Tensor) -> torch.Tensor:
        """``log p(x | z)`` of the scored values in data units, ``(..., B)``, for
        predictions ``pred (..., B, N, D)`` in data units."""
        norm = self.value_scaler.normalize
        mask = batch.target_mask
        log_px = self.likelihood.log_prob(norm(batch.values), norm(pred), mask)
        return log_px - self.value_scaler.log_abs_det(mask.to(pred.dtype))

    def latent_trajectory(self, z0: torch.Tensor, batch: IrregularBatch) -> torch.Tensor:
        """``z0 (K, B, L)`` -> ``z (K, B, N, L)`` at each series' own times, z0 at each
        series' first time (or first scored time, see ``decoder_start``)."""
        t = self.rescale(batch.times)
        start = self.z0_time(t, batch)
        if self.decoder_start == "scored":
            if not isinstance(self.decoder, GRUDecoder):  # (which holds z0 itself)
                t = torch.maximum(t, start[:, None])  # earlier times read z0
        cov = self.covariates(batch)
        if cov is None:
            return self.decoder(z0, start, t)
        return self.decoder(z0, start, t, cov)

    def poisson_log_likelihood(self, z0: torch.Tensor, batch: IrregularBatch):
        """``z (K, B, N, L)`` and the observation-time log-likelihood ``(K, B)``: scored
        cells are events of their feature; the window is each series' first..last time."""
        t = self.rescale(batch.times)
        k, b, _ = z0.shape
        d = self.input_dim
        state0 = torch.cat([z0, z0.new_zeros(k, b, d)], dim=-1)
        out = solve_at_times(self.augmented, state0, t[:, 0], t, self.decoder.solver)
        z, cum = out[..., : self.latent_dim], out[..., self.latent_dim :]
        compensator = cum[:, :, -1].sum(-1)  # padding repeats the last time
        return z, cell_poisson_log_likelihood(self.intensity(z), batch.target_mask, compensator)

    def observation_std(self) -> torch.Tensor:
        """``(D,)`` the Gaussian observation std in the model's value units (detached)."""
        return self.likelihood.std().detach()

    def predict_samples(
        self, batch: IrregularBatch, n_samples: int = 10, eps: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Posterior samples of the mean function, ``(K, B, N, D)`` (no observation noise).

        ``eps (K, B, L)``: optional standard-normal draws for z0 = mean + std * eps, so
        callers can give each series its own random stream.
        """
        mean, std = self.encode(batch)
        z0, _, _ = reparameterize(mean, std, n_samples, eps)
        return self.observe(self.latent_trajectory(z0, batch))

    # ------------------------------------------------------------ objective
    def forward(
        self,
        batch: IrregularBatch,
        n_samples: int = 3,
        kl_weight: float = 1.0,
        objective: str = "iwae",
    ) -> dict[str, Any]:
        """Training objective and diagnostics.

        Returns a dict with ``loss`` (scalar to minimise), ``elbo`` and ``iwae``
        (per-series bounds with KL weight 1, ``(B,)``), ``kl (B,)``,
        ``pred (B, N, D)`` (mean over samples) and ``samples (K, B, N, D)``.
        """
        mean, std, samples, log_px, log_pz, log_qz = self._log_weight_terms(batch, n_samples)
        out = variational_objective(
            log_px, log_pz, log_qz, gaussian_kl(mean, std), kl_weight, objective
        )
        return {**out, "pred": samples.mean(0), "samples": samples}

    @torch.no_grad()
    def posterior_samples(
        self, batch: IrregularBatch, n_samples: int = 10, eps: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Weighted draws from the posterior predictive's mean: ``samples (K, B, N, D)``
        as :meth:`predict_samples` and their log importance weights ``(K, B)``
        (unnormalised; ``softmax`` over K normalises them).

        The draws come from q(z0), the encoder's proposal; weighting each by
        ``p(x, z0) / q(z0)``, where x are the values the encoder was shown
        (``batch.obs_mask``: never the held-out targets), turns them into draws from
        p(z0 | x) as K grows: the weights whose mean is the IWAE bound. Trained with
        IWAE, q is broader than the posterior (a proposal), so unweighted draws
        over-state the spread where many values are seen and blur the mean
        (``benchmarks/README.md``, "Weighted posterior"). Observation times
        (``poisson``) and labels do not enter the weights. With
        ``decoder_start="scored"`` the decoder does not model the values before the first
        scored time (it reads z0 there), so the weights are equal (all zero)."""
        mean, std = self.encode(batch)
        z0, log_pz, log_qz = reparameterize(mean, std, n_samples, eps)
        samples = self.observe(self.latent_trajectory(z0, batch))
        if self.decoder_start == "scored":
            return samples, torch.zeros_like(log_pz)
        shown = replace(batch, target_mask=batch.obs_mask)
        return samples, self.gaussian_log_prob(shown, samples) + log_pz - log_qz

    def _log_weight_terms(
        self, batch: IrregularBatch, n_samples: int, eps: torch.Tensor | None = None
    ) -> tuple:
        """``mean, std (B, L)``, ``samples (K, B, N, D)`` and ``log p(x|z), log p(z),
        log q(z)``, each ``(K, B)``, for K reparameterized draws of z0 (``eps (K, B, L)``:
        optional standard normals)."""
        mean, std = self.encode(batch)
        z0, log_pz, log_qz = reparameterize(mean, std, n_samples, eps)
        if self.poisson:
            z, log_times = self.poisson_log_likelihood(z0, batch)
        else:
            z, log_times = self.latent_trajectory(z0, batch), 0.0
        samples = self.observe(z)
        log_px = self.gaussian_log_prob(batch, samples) + log_times
        if self.classifier is not None and batch.labels is not None:
            log_px = log_px + self.label_weight * self._label_log_prob(z0, z, batch)
        return mean, std, samples, log_px, log_pz, log_qz

    def _label_log_prob(self, z0: torch.Tensor, z: torch.Tensor, batch: IrregularBatch):
        labels = batch.labels
        if self.label_kind == "sequence":
            if labels.dim() != 1:
                raise ValueError("label_kind='sequence' needs one label per series.")
            feats, mask = z0, (labels >= 0)
        else:
            if labels.dim() != 2:
                raise ValueError("label_kind='point' needs a label per time point.")
            feats, mask = z, (labels >= 0) & batch.point_mask
        return self.classifier.log_prob(feats, labels.clamp_min(0), mask.to(z0.dtype))

    @torch.no_grad()
    def predict_labels(
        self, batch: IrregularBatch, n_samples: int = 10, eps: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Class probabilities averaged over posterior samples: ``(B,)`` (binary) or
        ``(B, C)`` for sequence labels; ``(B, N)`` / ``(B, N, C)`` for point labels."""
        if self.classifier is None:
            raise ValueError("this model has no label head (n_labels=0).")
        mean, std = self.encode(batch)
        z0, _, _ = reparameterize(mean, std, n_samples, eps)
        feats = z0 if self.label_kind == "sequence" else self.latent_trajectory(z0, batch)
        logits = self.classifier(feats)
        probs = torch.sigmoid(logits) if self.n_labels == 1 else torch.softmax(logits, -1)
        return probs.mean(0)

    @torch.no_grad()
    def log_marginal(self, batch: IrregularBatch, n_samples: int = 100) -> torch.Tensor:
        """Importance-sampled estimate of log p(x) per series, ``(B,)`` (IWAE, K samples)."""
        _, _, _, log_px, log_pz, log_qz = self._log_weight_terms(batch, n_samples)
        return iwae(log_px, log_pz, log_qz)
