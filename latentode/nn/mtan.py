"""A parallel encoder: multi-time attention over the observations (Shukla and Marlin 2021).

The ODE-RNN and GRU encoders step through a series' observations one at a time, so a
batch costs one small update per observation and its autograd nodes. Multi-time
attention reads every observation at once: a fixed number of reference times spread
over each series' observed span attend to the observed points through a learned time
embedding, each feature with its own mask, and a bidirectional GRU reads the short
sequence of reference summaries (a fixed length, whatever the number of observations).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .encoders import PosteriorHead

__all__ = ["TimeEmbedding", "MTANEncoder", "masked_time_attention"]


class TimeEmbedding(nn.Module):
    """``phi(t) = [w0 t + b0, sin(w t + b)]``: ``t (...)`` -> ``(..., dim)``.

    The frequencies start log-spaced over periods of about 0.3 to 30 rescaled time
    units (the data module's time scale puts 20 median gaps in one unit), with random
    phases; both are learned.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim < 2:
            raise ValueError(f"the time embedding needs dim >= 2, got {dim}.")
        self.linear = nn.Linear(1, 1)
        self.periodic = nn.Linear(1, dim - 1)
        with torch.no_grad():
            freqs = torch.logspace(math.log10(0.2), math.log10(20.0), dim - 1)
            self.periodic.weight.copy_(freqs[:, None])
            self.periodic.bias.uniform_(0.0, 2 * math.pi)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        t = t.unsqueeze(-1)
        return torch.cat([self.linear(t), torch.sin(self.periodic(t))], dim=-1)


def masked_time_attention(
    scores: torch.Tensor, values: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature softmax attention restricted to each feature's observed points.

    Args:
        scores: ``(B, H, R, N)`` attention logits of ``R`` queries over ``N`` points.
        values: ``(B, N, D)``; only cells with ``mask > 0`` are read.
        mask: ``(B, N, D)`` in {0, 1}.

    Returns:
        ``out (B, H, R, D)``: for each query and feature, the softmax-weighted mean of that
        feature's observed values (0 where the feature has none), and ``seen (B, 1, 1, D)``,
        1 where the feature has at least one observation.

    The weights are shifted by each query's largest score over all observed points (of any
    feature) before ``exp``; a feature whose every point scores more than about 87 below
    it (float32) underflows and reads as 0 for that query.
    """
    observed = mask.amax(-1) > 0  # (B, N)
    neg = torch.finfo(scores.dtype).min
    shifted = scores.masked_fill(~observed[:, None, None, :], neg)
    top = shifted.amax(-1, keepdim=True).clamp_min(neg / 2)
    e = torch.exp(shifted - top) * observed[:, None, None, :].to(scores.dtype)
    x = torch.where(mask > 0, values, torch.zeros_like(values))
    d = values.shape[-1]
    b, h, r, n = e.shape
    both = torch.bmm(e.reshape(b, h * r, n), torch.cat([x * mask, mask], -1))  # one product
    num, den = both.reshape(b, h, r, 2 * d).split(d, dim=-1)
    has = den > 0
    out = torch.where(has, num / torch.where(has, den, torch.ones_like(den)), torch.zeros_like(num))
    seen = (mask.amax(1) > 0).to(values.dtype)[:, None, None, :]
    return out, seen


class MTANEncoder(nn.Module):
    """Multi-time attention encoder giving q(z0).

    ``n_ref`` reference times ``t0 + span * k / (n_ref - 1)`` (``span``: each series' last
    observed time after ``t0``) attend to the observed points with ``n_heads`` heads of
    scaled dot products between projections of a shared :class:`TimeEmbedding`; each
    feature is averaged over its own observed points (:func:`masked_time_attention`).
    A bidirectional GRU reads the reference summaries (with their time embeddings and
    which features were ever seen) and its two final states give q(z0) through the same
    head as the ODE-RNN's. Every series is encoded independently of its batch, and cells
    with ``obs_mask == 0`` have no influence.

    Args:
        input_dim: ``D``.
        latent_dim: size of z0.
        hidden_dim: GRU state size (each direction).
        units: the q(z0) head's hidden width.
        n_ref: reference times (at least 2).
        n_heads: attention heads.
        embed_dim: time-embedding size; each head projects it to ``embed_dim`` too.

    ``forward(times (B, N), values (B, N, D), obs_mask (B, N, D), t0 (B,))``
    returns ``mean, std``, each ``(B, latent_dim)``.
    """

    def __init__(
        self,
        input_dim: int,
        latent_dim: int,
        hidden_dim: int = 20,
        units: int = 100,
        *,
        n_ref: int = 32,
        n_heads: int = 4,
        embed_dim: int = 16,
    ) -> None:
        super().__init__()
        if n_ref < 2 or n_heads < 1:
            raise ValueError(f"need n_ref >= 2 and n_heads >= 1, got {n_ref}, {n_heads}.")
        self.input_dim, self.latent_dim, self.hidden_dim = input_dim, latent_dim, hidden_dim
        self.n_ref, self.n_heads, self.embed_dim = n_ref, n_heads, embed_dim
        self.embed = TimeEmbedding(embed_dim)
        self.query = nn.Linear(embed_dim, n_heads * embed_dim)
        self.key = nn.Linear(embed_dim, n_heads * embed_dim)
        self.mix = nn.Linear(n_heads * input_dim + input_dim + embed_dim, hidden_dim)
        self.gru = nn.GRU(hidden_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.head = PosteriorHead(2 * hidden_dim, latent_dim, units)
        self.register_buffer("ref_grid", torch.linspace(0.0, 1.0, n_ref), persistent=False)

    def reference_times(self, tau: torch.Tensor, obs_mask: torch.Tensor) -> torch.Tensor:
        """``(B, n_ref)`` relative reference times over each series' observed span, for
        ``tau (B, N)`` times after ``t0``."""
        observed = obs_mask.amax(-1) > 0
        span = torch.where(observed, tau, torch.zeros_like(tau)).amax(1)
        return span[:, None] * self.ref_grid.to(tau.dtype)[None, :]

    def forward(
        self, times: torch.Tensor, values: torch.Tensor, obs_mask: torch.Tensor, t0: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        b, n = times.shape
        h, e = self.n_heads, self.embed_dim
        tau = times - t0[:, None]
        ref = self.reference_times(tau, obs_mask)
        phi_ref = self.embed(ref)  # (B, R, E)
        q = self.query(phi_ref).view(b, self.n_ref, h, e)
        k = self.key(self.embed(tau)).view(b, n, h, e)
        scores = torch.einsum("brhe,bnhe->bhrn", q, k) / math.sqrt(e)
        out, seen = masked_time_attention(scores, values, obs_mask)
        summary = out.permute(0, 2, 1, 3).reshape(b, self.n_ref, h * self.input_dim)
        seen = seen.reshape(b, 1, self.input_dim).expand(b, self.n_ref, self.input_dim)
        x = torch.tanh(self.mix(torch.cat([summary, seen, phi_ref], dim=-1)))
        _, last = self.gru(x)  # (2, B, hidden): forward ends at the span's end, backward at t0
        return self.head(torch.cat([last[0], last[1]], dim=-1))
