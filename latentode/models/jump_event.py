"""History-dependent intensity: a neural jump ODE (Jia and Benson 2019) for event sequences.

A state ``h(t)`` starts from a learned ``h0`` at the window start (with ``time_dependent``,
``h0 + g(t_start)``: a window's calendar time sets its initial rate), flows under a neural ODE
``dh/dt = f(t, h)`` between events and jumps at each event, ``h(t_i+) = GRU(mark_i, h(t_i-))``;
the rate is ``λ_m(t) = head(h(t-))_m``. The rate at ``t`` depends only on the events
before ``t``, so the log-likelihood ``Σ log λ(t_i) - ∫ λ dt`` is exact (no posterior, no
bound), and a sequence's rhythm (its rate, its phase, a refractory gap after each event) is
carried forward from its own history. The compensator is integrated in the same flow as
``h`` (state ``[h, Λ_1..Λ_M]``).

The batch layout is the one of :class:`~latentode.models.event.EventModel`: a row holds
``[start, events..., end]`` (padding repeats the last time); event rows carry the mark
one-hot and ``target_mask`` 1.

Between grid times the flow takes fixed RK4 steps of at most ``max_step`` rescaled units
(the median gap between events is 0.05 after :func:`~latentode.data.scaling.fit_time_scale`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..data.batch import IrregularBatch
from ..nn.intensity import AugmentedField, IntensityHead, poisson_process_log_likelihood
from ..nn.mlp import mlp
from ..nn.odefunc import ODEFunc
from ..nn.solve import FIXED_STEP_METHODS, MAX_EVOLVE_STEPS, SpanError, evolve
from .timescale import TimeScaled

#: most steps of the jump state's flow one call may take (every row together)
MAX_FLOW_STEPS = 100_000

__all__ = ["JumpEventModel"]

_OBJECTIVES = ("iwae", "elbo")


class JumpEventModel(TimeScaled):
    """Neural jump ODE rate ``λ(h(t-))`` with a state that jumps at each event.

    Args:
        n_marks: number of event types ``M``.
        latent_dim: size of the state ``h``.
        units, depth: MLP sizes of the vector field and the rate head.
        time_dependent: feed the (rescaled) calendar time to the vector field, and the
            window start's to the initial state.
        base_rate: initial rate per mark per rescaled time unit (see :class:`IntensityHead`).
        method: fixed-step torchdiffeq method of the flow between grid times.
        max_step: largest step, in rescaled time.

    Shapes: ``posterior`` and ``simulate`` as documented there. The model is deterministic
    given the history; ``n_samples`` arguments exist for the interface shared with
    :class:`~latentode.models.event.EventModel` and repeat the same result.
    """

    def __init__(
        self,
        n_marks: int = 1,
        latent_dim: int = 8,
        *,
        units: int = 50,
        depth: int = 1,
        time_dependent: bool = False,
        base_rate: float | list[float] = 1.0,
        method: str = "rk4",
        max_step: float = 0.05,
    ) -> None:
        super().__init__()
        if method not in FIXED_STEP_METHODS:
            raise ValueError(f"method must be a fixed-step method {FIXED_STEP_METHODS}.")
        if not max_step > 0:
            raise ValueError(f"max_step must be positive, got {max_step}.")
        self.n_marks, self.latent_dim = n_marks, latent_dim
        self.h0 = nn.Parameter(torch.zeros(latent_dim))
        self.start = mlp(1, latent_dim, units, 1, "tanh") if time_dependent else None
        self.func = ODEFunc(latent_dim, units, depth, time_dependent=time_dependent)
        self.head = IntensityHead(latent_dim, n_marks, units, base_rate=base_rate)
        self.field = AugmentedField(self.func, self.head)
        self.cell = nn.GRUCell(n_marks, latent_dim)
        self.method, self.max_step = method, max_step

    # ------------------------------------------------------------------ the flow
    def _move(self, state: torch.Tensor, t_from: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
        """Each row from ``t_from`` to ``t_from + dt`` (``(P,)`` each)."""
        return evolve(self.field, state, t_from, dt, method=self.method, max_step=self.max_step)

    def _jump(self, state: torch.Tensor, x: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        """Apply the event update to the rows flagged in ``where (P,)`` with marks ``x (P, M)``."""
        h, cum = state[:, : self.latent_dim], state[:, self.latent_dim :]
        h = torch.where(where[:, None], self.cell(x, h), h)
        return torch.cat([h, cum], dim=-1)

    def flow(
        self,
        t: torch.Tensor,
        is_event: torch.Tensor,
        x: torch.Tensor,
        extra: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run the state along each row's grid.

        Args:
            t: ``(B, N)`` rescaled times, sorted per row (``t[:, 0]`` the window start).
            is_event: ``(B, N)`` bool, the rows where an event happens.
            x: ``(B, N, M)`` mark one-hot (ignored where ``is_event`` is False).
            extra: ``(B, E)`` rescaled query times ``>= t[:, 0]`` (any order); a query at
                an event's time sees the rate before that event.

        Returns:
            ``rates (B, N + E, M)`` (left limits, per rescaled unit), ``cum (B, N + E, M)``
            (``∫ λ`` from ``t[:, 0]``), both in the order of ``[t, extra]``, and the final
            state ``(B, latent_dim + M)`` at each row's last time, after its events.
        """
        b, n = t.shape
        m = self.n_marks
        if extra is not None and extra.shape[1]:
            e = extra.shape[1]
            # queries first, so a stable sort puts a query before an event at the same time
            all_t = torch.cat([extra, t], dim=1)
            all_ev = torch.cat([is_event.new_zeros(b, e), is_event], dim=1)
            all_x = torch.cat([x.new_zeros(b, e, m), x], dim=1)
            order = torch.sort(all_t, dim=1, stable=True).indices
            ts = all_t.gather(1, order)
            ev = all_ev.gather(1, order)
            xs = all_x.gather(1, order[..., None].expand(-1, -1, m))
        else:
            e, order, ts, ev, xs = 0, None, t, is_event, x
        self._check_flow_span(ts)
        h0 = self.h0.expand(b, -1).to(t.dtype)
        if self.start is not None:
            h0 = h0 + self.start(t[:, :1])
        state = torch.cat([h0, t.new_zeros(b, m)], dim=-1)
        rates, cums = [], []
        prev = ts[:, 0]
        for j in range(ts.shape[1]):
            state = self._move(state, prev, ts[:, j] - prev)
            rates.append(self.head(state[:, : self.latent_dim]))
            cums.append(state[:, self.latent_dim :])
            if bool(ev[:, j].any()):
                state = self._jump(state, xs[:, j], ev[:, j])
            prev = ts[:, j]
        rate = torch.stack(rates, dim=1)
        cum = torch.stack(cums, dim=1)
        if order is not None:
            inverse = torch.argsort(order, dim=1)
            idx = inverse[..., None].expand(-1, -1, m)
            rate, cum = rate.gather(1, idx), cum.gather(1, idx)
            # back to the order [t, extra]
            rate = torch.cat([rate[:, e:], rate[:, :e]], dim=1)
            cum = torch.cat([cum[:, e:], cum[:, :e]], dim=1)
        return rate, cum, state

    def _check_flow_span(self, ts: torch.Tensor) -> None:
        """Refuse a flow whose steps (``ceil(gap / max_step)`` summed over the largest gap
        at each grid position) would exceed :data:`MAX_FLOW_STEPS`, before any work."""
        if ts.shape[1] < 2:
            return
        gaps = (ts[:, 1:] - ts[:, :-1]).detach().amax(0).double()
        steps = float(torch.ceil(gaps / self.max_step).sum())
        if steps > MAX_FLOW_STEPS:
            raise SpanError(
                f"following the state over {float(ts[:, -1].max() - ts[:, 0].min()):.6g} "
                f"rescaled time units takes {steps:.3g} steps of max_step={self.max_step:g}, "
                f"more than MAX_FLOW_STEPS={MAX_FLOW_STEPS}: ask for times or a horizon "
                "nearer the data."
            )

    # -------------------------------------------------------------- likelihood
    def log_likelihood(self, batch: IrregularBatch) -> torch.Tensor:
        """Exact ``log p(events)`` per sequence, ``(B,)``, rates per rescaled time unit."""
        t = self.rescale(batch.times)
        event_mask = batch.target_mask.amax(-1)
        rates, cum, _ = self.flow(t, event_mask > 0, batch.values.nan_to_num(0.0))
        compensator = cum[:, -1].sum(-1)  # the last time of each row is its window end
        marks = batch.values.nan_to_num(0.0).argmax(-1)
        return poisson_process_log_likelihood(rates, marks, event_mask, compensator)

    def forward(
        self,
        batch: IrregularBatch,
        n_samples: int = 3,
        kl_weight: float = 1.0,
        objective: str = "iwae",
    ) -> dict[str, Any]:
        """Loss (minus the mean log-likelihood) and per-sequence log-likelihoods, reported
        under the bound names of the latent model (they are exact here, ``kl`` is 0)."""
        if objective not in _OBJECTIVES:
            raise ValueError(f"objective must be one of {_OBJECTIVES}, got {objective!r}.")
        ll = self.log_likelihood(batch)
        zero = torch.zeros_like(ll)
        return {"loss": -ll.mean(), "elbo": ll, "mc_elbo": ll, "iwae": ll, "kl": zero}

    @torch.no_grad()
    def log_marginal(self, batch: IrregularBatch, n_samples: int = 100) -> torch.Tensor:
        """``log p(events)`` per sequence, ``(B,)``, with rates per *raw* time unit."""
        n_events = batch.target_mask.amax(-1).sum(-1)
        log_scale = torch.log(self.time_scale).to(batch.times.dtype)
        return self.log_likelihood(batch) - n_events * log_scale

    @torch.no_grad()
    def posterior(
        self, batch: IrregularBatch, extra: torch.Tensor | None, eps: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Rates per raw time unit and cumulative intensities, both ``(K, B, N + E, M)``
        with ``K = eps.shape[0]`` identical copies: at a query time the rate given the
        events before it (after the last event: given that none followed)."""
        t = self.rescale(batch.times)
        event_mask = batch.target_mask.amax(-1) > 0
        q = None if extra is None else self.rescale(extra)
        rates, cum, _ = self.flow(t, event_mask, batch.values.nan_to_num(0.0), q)
        k = eps.shape[0]
        rates = rates / self.time_scale.to(rates.dtype)
        return rates.expand(k, *rates.shape), cum.expand(k, *cum.shape)

    # -------------------------------------------------------------- simulation
    @torch.no_grad()
    def simulate(
        self,
        batch: IrregularBatch,
        end: torch.Tensor,
        n_paths: int,
        generator: torch.Generator | Sequence[torch.Generator],
        *,
        lookahead: float = 0.2,
        n_bound: int = 8,
        max_events: int = 100_000,
    ) -> tuple[list[list[tuple[float, int]]], int]:
        """Draw ``n_paths`` continuations per row by thinning (Ogata), each event updating
        the state.

        ``batch`` holds each row's history ``[start, events..., a]``: the continuation
        runs from ``a`` (the row's last time) to ``end (B,)`` (raw time).

        ``generator``: one for the whole batch, or one per row (``B`` of them). With one
        per row, a row's draws come from its own generator in the order a batch of that
        row alone would draw them, so a row's paths do not depend on the other rows (up
        to the flow's discretisation: a batch takes as many fixed steps over a gap as
        its largest gap needs).

        The bound on ``[s, s + lookahead]`` (rescaled) is 1.5 x the largest rate at
        ``n_bound`` points of the event-free flow; returns, per path (row-major:
        ``row * n_paths + k``), the list of ``(raw time, mark)``, and the number of
        candidates where the rate exceeded its bound. More than ``max_events`` events
        drawn for one row (over its paths) raise ``ValueError``.
        """
        t = self.rescale(batch.times)
        b = t.shape[0]
        if isinstance(generator, torch.Generator):
            draw = _SharedDraws(generator)
        else:
            if len(generator) != b:
                raise ValueError(f"need one generator per row ({b}), got {len(generator)}.")
            draw = _RowDraws(list(generator), n_paths)
        event_mask = batch.target_mask.amax(-1) > 0
        _, _, state = self.flow(t, event_mask, batch.values.nan_to_num(0.0))
        p = b * n_paths
        state = state.repeat_interleave(n_paths, 0)
        now = t[:, -1].repeat_interleave(n_paths, 0).double()
        end = self.rescale(end.to(batch.times.dtype)).repeat_interleave(n_paths, 0).double()
        span = float((end - now).max()) if p else 0.0
        if span / self.max_step > MAX_EVOLVE_STEPS:
            raise SpanError(
                f"the simulated continuation spans {span:.6g} rescaled time units, "
                f"{span / self.max_step:.3g} steps of max_step={self.max_step:g}, more than "
                f"MAX_EVOLVE_STEPS={MAX_EVOLVE_STEPS}: shorten the window."
            )
        paths: list[list[tuple[float, int]]] = [[] for _ in range(p)]
        exceeded = 0
        drawn = torch.zeros(b, dtype=torch.long)
        dtype = state.dtype
        scale, offset = float(self.time_scale), float(self.time_offset)
        while True:
            active = now < end
            if not bool(active.any()):
                break
            horizon = torch.minimum(now + lookahead, end)
            # the bound: the event-free flow over [now, horizon] at n_bound points
            probe, worst = state, torch.zeros(p, dtype=torch.float64)
            prev = now
            for i in range(1, n_bound + 1):
                nxt = now + (horizon - now) * (i / n_bound)
                probe = self._move(probe, prev.to(dtype), (nxt - prev).to(dtype))
                lam = self.head(probe[:, : self.latent_dim]).sum(-1).double()
                worst = torch.maximum(worst, lam)
                prev = nxt
            lam_now = self.head(state[:, : self.latent_dim]).sum(-1).double()
            bound = 1.5 * torch.maximum(worst, lam_now) + 1e-12
            u = draw.uniform(active)
            cand = now - torch.log1p(-u) / bound
            beyond = cand >= horizon
            target = torch.where(active, torch.where(beyond, horizon, cand), now)
            state = self._move(state, now.to(dtype), (target - now).to(dtype))
            now = target
            trial = active & ~beyond
            if not bool(trial.any()):
                continue
            lam = self.head(state[:, : self.latent_dim]).double()  # (P, M)
            tot = lam.sum(-1)
            exceeded += int((trial & (tot > bound)).sum())
            accept = trial & (draw.uniform(trial) * bound < tot)
            if not bool(accept.any()):
                continue
            marks = draw.marks((lam / tot[:, None]).float().clamp_min(0), accept)
            drawn += accept.view(b, n_paths).sum(1)
            if bool((drawn > max_events).any()):
                raise ValueError(
                    f"simulation drew more than {max_events} events; shorten the window or "
                    "raise max_events."
                )
            x = nn.functional.one_hot(marks, self.n_marks).to(dtype)
            state = self._jump(state, x, accept)
            for i in torch.nonzero(accept)[:, 0].tolist():
                paths[i].append((float(now[i]) * scale + offset, int(marks[i])))
        return paths, exceeded


class _SharedDraws:
    """The thinning's random draws for every path from one generator."""

    def __init__(self, generator: torch.Generator) -> None:
        self.generator = generator

    def uniform(self, needed: torch.Tensor) -> torch.Tensor:
        """``(P,)`` uniforms (all paths draw; ``needed (P,)`` is used by the per-row draws)."""
        return torch.rand(needed.shape[0], generator=self.generator, dtype=torch.float64)

    def marks(self, probs: torch.Tensor, needed: torch.Tensor) -> torch.Tensor:
        """``(P,)`` marks drawn from ``probs (P, M)``."""
        return torch.multinomial(probs, 1, generator=self.generator)[:, 0]


class _RowDraws(_SharedDraws):
    """The draws of each row's ``n_paths`` paths from that row's generator, made only when
    one of the row's paths needs them (as a batch of that row alone would)."""

    def __init__(self, generators: list[torch.Generator], n_paths: int) -> None:
        self.generators, self.n = generators, n_paths

    def _rows(self, needed: torch.Tensor) -> list[int]:
        return torch.nonzero(needed.view(-1, self.n).any(1))[:, 0].tolist()

    def uniform(self, needed: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(needed.shape[0], dtype=torch.float64)
        for r in self._rows(needed):
            rows = slice(r * self.n, (r + 1) * self.n)
            out[rows] = torch.rand(self.n, generator=self.generators[r], dtype=torch.float64)
        return out

    def marks(self, probs: torch.Tensor, needed: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(needed.shape[0], dtype=torch.long)
        for r in self._rows(needed):
            rows = slice(r * self.n, (r + 1) * self.n)
            out[rows] = torch.multinomial(probs[rows], 1, generator=self.generators[r])[:, 0]
        return out
