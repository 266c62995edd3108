"""Encoders giving q(z0) = N(mean, std^2) from a series' observed points.

Both encoders read only the points where ``obs_mask`` has at least one 1. They
gather those points per series (compacted, in reading order: latest first, or earliest
first where z0 lies after them; :mod:`latentode.nn.observations`) and advance the whole
batch in lockstep over that observation index, each series with its own time gaps, so
their cost grows with the most observations in a series, never with the union of the
batch's times.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .cells import CELLS, GatedMLPCell, LinearGRUCell, make_cell
from .mlp import init_weights, mlp
from .observations import ordered_observations, toward_t0
from .odefunc import ODEFunc
from .solve import WRITTEN_OUT_METHODS, evolve

__all__ = [
    "ODERNNEncoder",
    "RNNEncoder",
    "GatedMLPCell",
    "LinearGRUCell",
    "ordered_observations",
    "toward_t0",
    "CELLS",
    "STD_LINKS",
    "GAP_SCALE",
]

#: the GRU encoder's default factor on its time gaps: the data module rescales times so the
#: median gap between observations is 0.05, which this makes 1
GAP_SCALE = 20.0


#: how the q(z0) head maps its raw output to a positive std
STD_LINKS = ("softplus", "abs")


class PosteriorHead(nn.Module):
    """Linear-Tanh-Linear from the encoder state to (mean, std) of q(z0).

    ``std_link="softplus"`` gives ``softplus(raw) + 1e-4`` (about 0.69 at the start);
    ``"abs"`` gives ``|raw| + 1e-4``, the published head, whose std can shrink by the
    same step size at any scale (softplus flattens as the std gets small).
    """

    def __init__(
        self, hidden: int, latent_dim: int, units: int = 100, std_link: str = "softplus"
    ) -> None:
        super().__init__()
        if std_link not in STD_LINKS:
            raise ValueError(f"std_link must be one of {STD_LINKS}, got {std_link!r}.")
        self.net = mlp(hidden, 2 * latent_dim, units, 1, "tanh")
        self.std_link = std_link
        init_weights(self.net)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, raw = self.net(h).chunk(2, dim=-1)
        if self.std_link == "abs":
            return mean, raw.abs() + 1e-4
        return mean, nn.functional.softplus(raw) + 1e-4


class ODERNNEncoder(nn.Module):
    """ODE-RNN run backwards, from a series' last observation to its first, then to ``t0``.

    Between consecutive observations the hidden state evolves under a neural ODE
    over that series' own gap (backwards in time); at each observation a GRU
    update on ``[values * mask, mask]``.

    Args:
        input_dim: ``D``.
        latent_dim: size of z0.
        hidden_dim: encoder state size.
        units, depth: the encoder ODE function's MLP.
        method: torchdiffeq method between observations (``rk4`` default).
        max_step: largest step of a fixed-step method, in rescaled time.
        reverse: read the observations towards ``t0`` (the model): latest to earliest,
            or, in a row whose ``t0`` lies after its last observation (z0 after the read
            points, :func:`toward_t0`), earliest to latest, then evolve to ``t0``.
            ``False`` runs forwards and stops at the last observation, for ablations
            only.
        cell: the update at each observation: ``"gru"`` (``nn.GRUCell``),
            ``"linear_gru"`` (:class:`LinearGRUCell`, its candidate not squashed) or
            ``"mlp"`` (:class:`GatedMLPCell`, a mean and a std channel; only the mean
            evolves under the ODE between observations).
        std_link: ``"softplus"`` or ``"abs"``, how the q(z0) head makes its std positive.

    ``forward(times (B, N), values (B, N, D), obs_mask (B, N, D), t0 (B,))``
    returns ``mean, std``, each ``(B, latent_dim)``.
    """

    def __init__(
        self,
        input_dim: int,
        latent_dim: int,
        hidden_dim: int = 20,
        units: int = 100,
        depth: int = 1,
        *,
        method: str = "rk4",
        max_step: float = 0.25,
        reverse: bool = True,
        cell: str = "gru",
        std_link: str = "softplus",
    ) -> None:
        super().__init__()
        self.input_dim, self.latent_dim, self.hidden_dim = input_dim, latent_dim, hidden_dim
        self.func = ODEFunc(hidden_dim, units, depth, "tanh")
        self.gru, self.state_dim = make_cell(cell, 2 * input_dim, hidden_dim, units)
        self.head = PosteriorHead(self.state_dim, latent_dim, units, std_link)
        self.method, self.max_step, self.reverse = method, max_step, reverse
        #: ``torch.compile`` options while :meth:`compile_step` is on (else ``None``)
        self._compile_options: dict | None = None
        self._compiled: Any = None  # (id of the encoder they call, substep, step)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # weights saved from an ``nn.GRUCell`` (every ODE-RNN encoder trained before the
        # linear candidate became the model's default) load into one
        if prefix + "gru.weight_ih" in state_dict and isinstance(self.gru, LinearGRUCell):
            self.gru = nn.GRUCell(self.gru.input_map.in_features, self.hidden_dim).to(
                self.gru.input_map.weight
            )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def compile_step(self, enable: bool = True, **options: Any) -> ODERNNEncoder:
        """Run each observation's step through ``torch.compile(dynamic=True, **options)``:
        one fixed step over the gap fused with the cell update, and (for gaps longer
        than ``max_step``) the extra fixed steps before it. Neither specialises on the
        batch size or the number of steps, so one model compiles each function once per
        grad mode; the first batches pay the compilation (tens of seconds on a CPU).

        Compiled functions are shared by encoders of one structure: a process that
        builds encoders of many structures can reach torch's recompile limit
        (``torch._dynamo.config.recompile_limit``), beyond which torch warns and runs
        the step eagerly. The result equals the eager step's to float rounding (the
        operations are fused), not bit for bit. Only the written-out fixed-step methods
        (``euler``, ``midpoint``, ``rk4``) compile; ``enable=False`` goes back to the
        eager step. Not saved with the model. Returns ``self``.
        """
        self._compiled = None
        if not enable:
            self._compile_options = None
            return self
        if self.method not in WRITTEN_OUT_METHODS:
            raise ValueError(
                f"compile_step needs a method of {WRITTEN_OUT_METHODS}, got {self.method!r}."
            )
        self._compile_options = dict(options)
        return self

    @property
    def compiled(self) -> bool:
        """Whether :meth:`compile_step` is on."""
        return self._compile_options is not None

    def _compiled_functions(self) -> tuple[Any, Any]:
        """The compiled step functions of this encoder, made on first use: a copy
        (``copy.deepcopy``, unpickling) makes its own instead of calling the original's."""
        if self._compiled is None or self._compiled[0] != id(self):
            opts = self._compile_options or {}
            self._compiled = (
                id(self),
                torch.compile(self._substep, dynamic=True, **opts),
                torch.compile(self._step, dynamic=True, **opts),
            )
        return self._compiled[1], self._compiled[2]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_compiled": None}  # compiled functions do not pickle

    def _substep(self, moving: torch.Tensor, ds: torch.Tensor) -> torch.Tensor:
        """One step of ``self.method`` of ``dh/dt = func(h)`` of length ``ds (B, 1)``
        for the evolving part ``moving (B, hidden_dim)`` of the state."""
        net = self.func.net
        k1 = ds * net(moving)
        if self.method == "euler":
            return moving + k1
        if self.method == "midpoint":
            return moving + ds * net(moving + 0.5 * k1)
        k2 = ds * net(moving + k1 / 3)
        k3 = ds * net(moving + k2 - k1 / 3)
        k4 = ds * net(moving + k1 - k2 + k3)
        return moving + (k1 + 3 * (k2 + k3) + k4) * 0.125

    def _step(
        self, h: torch.Tensor, ds: torch.Tensor, xm: torch.Tensor, valid: torch.Tensor
    ) -> torch.Tensor:
        """The last fixed step over a gap, then the cell update on ``xm (B, 2D)`` where
        ``valid (B,)``; ``h (B, state_dim)``, ``ds (B, 1)``."""
        if self.state_dim == self.hidden_dim:  # the whole state evolves
            h = self._substep(h, ds)
        else:  # a mean and a std channel: the mean evolves
            moving, carried = h[:, : self.hidden_dim], h[:, self.hidden_dim :]
            h = torch.cat([self._substep(moving, ds), carried], dim=-1)
        return torch.where(valid[:, None], self.gru(xm, h), h)

    def _compiled_observe(
        self, h: torch.Tensor, gap: torch.Tensor, span: float, xm: torch.Tensor,
        valid: torch.Tensor,
    ) -> torch.Tensor:  # fmt: skip
        """Cross each row's ``gap (B,)`` in equal fixed steps, then read the observation."""
        substep, step = self._compiled_functions()
        n = self._n_steps(span)
        ds = (gap / n).unsqueeze(-1)
        if n > 1 and self.state_dim == self.hidden_dim:
            for _ in range(n - 1):
                h = substep(h, ds)
        elif n > 1:
            moving, carried = h[:, : self.hidden_dim], h[:, self.hidden_dim :]
            for _ in range(n - 1):
                moving = substep(moving, ds)
            h = torch.cat([moving, carried], dim=-1)
        return step(h, ds, xm, valid)

    def _n_steps(self, span: float) -> int:
        """Fixed steps over a gap of ``span`` (0 for none), as :func:`evolve` counts them."""
        return max(1, math.ceil(span / self.max_step - 1e-9)) if span > 0.0 else 0

    def _evolve(
        self, h: torch.Tensor, t_from: torch.Tensor, dt: torch.Tensor, span: float | None = None
    ) -> torch.Tensor:
        """Evolve the first ``hidden_dim`` coordinates (all of a GRU state, the mean of
        a mean+std state); the rest is carried unchanged. ``span``: ``max|dt|`` if known."""
        moving, carried = h[:, : self.hidden_dim], h[:, self.hidden_dim :]
        moved = evolve(
            self.func, moving, t_from, dt, method=self.method, max_step=self.max_step, span=span
        )
        return torch.cat([moved, carried], dim=-1) if carried.shape[1] else moved

    def forward(
        self, times: torch.Tensor, values: torch.Tensor, obs_mask: torch.Tensor, t0: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        order = toward_t0(times, obs_mask, t0) if self.reverse else False
        t, x, m, valid, counts = ordered_observations(times, values, obs_mask, latest_first=order)
        b = times.shape[0]
        h = values.new_zeros(b, self.state_dim)
        # every gap of the loop, read from the device once (not one sync per observation)
        gaps = torch.where(valid[:, 1:], t[:, 1:] - t[:, :-1], torch.zeros_like(t[:, 1:]))
        spans = [0.0, *gaps.detach().abs().amax(0).tolist()] if b else [0.0] * t.shape[1]
        for j in range(t.shape[1]):
            xm = torch.cat([x[:, j], m[:, j]], dim=-1)
            if self._compile_options is not None and j > 0 and spans[j] > 0.0:
                # fresh inputs: a column view's storage offset would be specialised on
                gap, ok = gaps[:, j - 1].clone(), valid[:, j].clone()
                h = self._compiled_observe(h, gap, spans[j], xm, ok)
                continue
            if j > 0 and spans[j] > 0.0:
                h = self._evolve(h, t[:, j - 1], gaps[:, j - 1], spans[j])
            upd = self.gru(xm, h)
            h = torch.where(valid[:, j, None], upd, h)
        if self.reverse:
            t_last = t.gather(1, (counts - 1).clamp_min(0)[:, None]).squeeze(1)
            dt = torch.where(counts > 0, t0 - t_last, torch.zeros_like(t0))
            h = self._evolve(h, t_last, dt)
        return self.head(h)


class RNNEncoder(nn.Module):
    """GRU over the observations read towards ``t0``, with the time gap as an extra input.

    The GRU reads each row's observations latest to earliest (``reverse=True``, the
    default), except in a row whose ``t0`` lies after its last observation (z0 after the
    read points, as in extrapolation with ``decoder_start="scored"``), which it reads
    earliest to latest (:func:`toward_t0`): either way its last update is at the
    observation nearest z0. Reading backwards there, the Latent ODE extrapolating the
    periodic toy from 10% of the first half stayed near the constant predictor in 300
    steps (0.415, 0.447 on two data seeds; constant 0.51), and reached 0.223, 0.273
    reading towards z0 (issue 9 item 6, ``benchmarks/README.md``).

    Input at each observation: ``[values * mask, mask, gap_scale * gap]`` where ``gap``
    is the time to the previously processed observation; the final state also
    sees ``gap_scale`` times the gap from the last read observation to ``t0``.
    ``gap_scale=20`` (the default) turns the data module's median gap between
    time points (0.05 rescaled units, :func:`~latentode.data.scaling.fit_time_scale`)
    into 1: a raw gap of 0.05 reaches a freshly initialised GRU's gates about 20x weaker
    than the values do (on the periodic toy with half the points seen the Latent ODE's
    test MSE after 300 steps was 3-4x higher for it; issue 9, ``benchmarks/README.md``).
    ``1`` is the unscaled input of earlier versions.

    ``gap_scale="fit"`` sizes the factor from the gaps the encoder actually reads: at the
    first forward pass in training mode it becomes ``1 / median`` of the positive gaps
    between consecutive read points of that batch, and stays fixed after (the buffer
    ``gap_factor``, saved with the model; before it is fitted the factor is 20). When
    the encoder reads a fraction of the points, those gaps are longer than the median
    gap between all points, and a fixed factor of 20 feeds the GRU inputs of 4-7 (median)
    and up to 20-36 at 10-20% of the points read
    (issue 9 item 6, ``benchmarks/README.md``, "The GRU encoder's gap input").
    ``cell``: the recurrent update, as :class:`ODERNNEncoder`'s (``"gru"``,
    ``"linear_gru"`` or ``"mlp"``). Same call signature and output as
    :class:`ODERNNEncoder`.
    """

    def __init__(
        self,
        input_dim: int,
        latent_dim: int,
        hidden_dim: int = 20,
        units: int = 100,
        *,
        reverse: bool = True,
        gap_scale: float | str = GAP_SCALE,
        cell: str = "gru",
    ) -> None:
        super().__init__()
        fit = isinstance(gap_scale, str)
        if fit and gap_scale != "fit":
            raise ValueError(f"gap_scale must be a number > 0 or 'fit', got {gap_scale!r}.")
        if not fit and not (isinstance(gap_scale, (int, float)) and gap_scale > 0):
            raise ValueError(f"gap_scale must be a number > 0 or 'fit', got {gap_scale!r}.")
        self.input_dim, self.latent_dim, self.hidden_dim = input_dim, latent_dim, hidden_dim
        self.gru, self.state_dim = make_cell(cell, 2 * input_dim + 1, hidden_dim, units)
        self.head = PosteriorHead(self.state_dim + 1, latent_dim, units)
        self.reverse, self.fits_gap_scale = reverse, fit
        #: the factor on the gaps; 0 until fitted when ``gap_scale="fit"``
        self.register_buffer("gap_factor", torch.tensor(0.0 if fit else float(gap_scale)))
        self._needs_fit = fit  # a Python flag: no device sync per forward pass

    @property
    def gap_scale(self) -> float:
        """The factor in use on the time gaps (20 while a ``"fit"`` one is unfitted)."""
        factor = float(self.gap_factor)
        return factor if factor > 0 else GAP_SCALE

    def _factor(self) -> torch.Tensor:
        """:attr:`gap_scale` as a 0-d tensor, without reading it back from the device."""
        return torch.where(self.gap_factor > 0, self.gap_factor, GAP_SCALE)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # files saved before the buffer existed used the constructor's fixed factor
        key = prefix + "gap_factor"
        if key not in state_dict:
            state_dict[key] = self.gap_factor.detach().clone()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._needs_fit = self.fits_gap_scale and not float(self.gap_factor) > 0

    @torch.no_grad()
    def _fit_gap_factor(self, gaps: torch.Tensor, valid: torch.Tensor) -> None:
        """Set the factor to ``1 / median`` of the positive read gaps ``gaps[valid]``."""
        read = gaps[valid & (gaps > 0)]
        if read.numel():
            self.gap_factor.fill_(1.0 / float(torch.quantile(read.double(), 0.5)))
            self._needs_fit = False

    def forward(
        self, times: torch.Tensor, values: torch.Tensor, obs_mask: torch.Tensor, t0: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        order = toward_t0(times, obs_mask, t0) if self.reverse else False
        t, x, m, valid, counts = ordered_observations(times, values, obs_mask, latest_first=order)
        b = times.shape[0]
        h = values.new_zeros(b, self.state_dim)
        gaps = torch.cat([torch.zeros_like(t[:, :1]), (t[:, 1:] - t[:, :-1]).abs()], dim=1)
        if self._needs_fit and self.training:
            self._fit_gap_factor(gaps[:, 1:], valid[:, 1:])
        factor = self._factor().to(gaps.dtype)
        inputs = torch.cat([x, m, (factor * gaps)[..., None]], dim=-1)  # (B, M, 2D+1)
        for j in range(t.shape[1]):
            upd = self.gru(inputs[:, j], h)
            h = torch.where(valid[:, j, None], upd, h)
        t_last = t.gather(1, (counts - 1).clamp_min(0)[:, None]).squeeze(1)
        last_gap = torch.where(counts > 0, (t_last - t0).abs(), torch.zeros_like(t0))
        return self.head(torch.cat([h, factor * last_gap[:, None]], dim=-1))
