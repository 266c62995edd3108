"""The posterior rates of a fitted :class:`~latentode.EventIntensity` at any times, and
simulated sequences: thinning under the posterior rates (latent dynamics) or Ogata's
thinning of the jump state's continuations (jump dynamics), each sequence from its own
keyed stream."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.utils._param_validation import Interval

from ..data.batch import collate
from ..frames import (
    DataFrameError,
    EventSequence,
    check_quantiles,
    events_to_series,
    horizon_units,
)
from ..frames.errors import warn_user
from .params import DURATION, GRID, N_SAMPLES, checked
from .sampling import chunks, keyed_chunks, keyed_rng, keyed_seed, seeded

__all__ = ["EventInference"]

_CHUNK = 32  # sequences per inference batch


class EventInference:
    """Posterior rates, ``sample`` and the simulation behind ``expected_count`` (a mixin
    of :class:`~latentode.EventIntensity`)."""

    @torch.no_grad()
    def _posterior(
        self, seqs: Sequence[EventSequence], queries: Sequence[np.ndarray], n_samples: int
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per sequence: rates ``(K, E, M)`` per raw time unit and cumulative intensity
        ``(K, E, M)`` from the window start, at its query times ``(E,)``."""
        model = self.module_.model
        n_marks = len(self.marks_)
        out = []
        pairs = [(s, q) for s, q in zip(seqs, queries, strict=True)]
        for i, (chunk, eps) in enumerate(
            keyed_chunks(seqs, _CHUNK, self.seed, n_samples, model.latent_dim)
        ):
            qs = [q for _, q in pairs[i * _CHUNK : (i + 1) * _CHUNK]]
            # a query before a window start moves that start back: z0 sits at the start
            chunk = [
                EventSequence(s.id, s.times, s.marks, min(s.start, float(q.min())), s.end)
                if len(q) and q.min() < s.start
                else s
                for s, q in zip(chunk, qs, strict=True)
            ]
            width = max(1, max(len(q) for q in qs))
            extra = np.stack(
                [
                    np.pad(q, (0, width - len(q)), mode="edge")
                    if len(q)
                    else np.full(width, s.start)
                    for q, s in zip(qs, chunk, strict=True)
                ]
            )
            batch = self._batch(events_to_series(chunk, n_marks))
            extra = torch.as_tensor(extra, dtype=batch.times.dtype, device=batch.times.device)
            rates, cum = model.posterior(batch, extra, self._on(eps))
            n = batch.times.shape[1]
            rates = rates[:, :, n:].double().cpu().numpy()
            cum = cum[:, :, n:].double().cpu().numpy()
            out.extend((rates[:, b, : len(q)], cum[:, b, : len(q)]) for b, q in enumerate(qs))
        return out

    @torch.no_grad()
    def _simulate(
        self, seqs: Sequence[EventSequence], a: float, b: float, n_samples: int, max_events: int
    ) -> tuple[list[list[list[tuple[float, int]]]], int]:
        """Jump dynamics: ``n_samples`` continuations on ``[a, b]`` per sequence, each given
        the sequence's events before ``a`` (later events are not used). Per sequence a
        list of paths of ``(time, mark)``, and the count of exceeded thinning bounds."""
        model = self.module_.model
        if self._device().type != "cpu":  # simulation draws from CPU generators
            model = copy.deepcopy(model).cpu()
        out, exceeded = [], 0
        for chunk in chunks(list(seqs), _CHUNK):  # one flow per chunk, a generator per sequence
            hists, gens = [], []
            for s in chunk:
                keep = s.times < a
                hists.append(EventSequence(s.id, s.times[keep], s.marks[keep], min(s.start, a), a))
                seed = keyed_seed(self.seed, ("sample", s.id)) >> 1
                gens.append(torch.Generator().manual_seed(seed))
            batch = collate(events_to_series(hists, len(self.marks_)))
            end = torch.full((len(chunk),), b, dtype=torch.float64)
            paths, n_over = model.simulate(batch, end, n_samples, gens, max_events=max_events)
            out.extend(paths[i * n_samples : (i + 1) * n_samples] for i in range(len(chunk)))
            exceeded += n_over
        return out, exceeded

    @checked(n_samples=N_SAMPLES, n_grid=GRID, max_events=N_SAMPLES)
    def sample(
        self,
        events: pd.DataFrame,
        window: tuple[Any, Any],
        n_samples: int = 10,
        *,
        n_grid: int = 512,
        max_events: int = 100_000,
    ) -> pd.DataFrame:
        """Simulate event sequences in ``window = (a, b)`` by thinning: a long frame
        ``id, sample, time`` (and the mark column).

        Latent dynamics: one sequence per posterior draw of z0 given each sequence's
        events; the thinning bound is 1.5 x the largest rate on an ``n_grid`` grid.
        Jump dynamics: ``n_samples`` continuations from ``a`` given each sequence's
        events before ``a``, every simulated event updating the state (Ogata's
        thinning, bound 1.5 x the largest rate ahead). Either way the bound is checked
        at every candidate and a warning says if it was exceeded."""
        seqs = self._sequences(events)
        a, b = self._encode_times(list(window), "window")
        if not b > a:
            raise DataFrameError("sample: window end must be after its start.")
        if self._is_jump():
            return self._sample_jump(seqs, float(a), float(b), n_samples, max_events)
        grid = np.linspace(a, b, n_grid)
        post = self._posterior(seqs, [grid] * len(seqs), n_samples)
        rows: dict[str, list] = {"id": [], "sample": [], "time": [], "mark": []}
        drawn = [self._candidates(s, rates, a, b, max_events) for s, (rates, _) in
                 zip(seqs, post, strict=True)]  # fmt: skip
        unions = [d[3] for d in drawn]
        has = [i for i, u in enumerate(unions) if len(u)]
        at = self._posterior([seqs[i] for i in has], [unions[i] for i in has], n_samples)
        crates = dict(zip(has, (r for r, _ in at), strict=True))
        exceeded = 0
        for i, s in enumerate(seqs):
            if i in crates:
                exceeded += self._thin(s, drawn[i], crates[i], rows)
        if exceeded:
            warn_user(
                f"sample: the rate exceeded the thinning bound at {exceeded} "
                "candidates; raise n_grid."
            )
        times = np.concatenate(rows["time"]) if rows["time"] else np.zeros(0)
        return self._sample_frame(rows["id"], rows["sample"], times, rows["mark"])

    def _candidates(
        self, s: EventSequence, rates: np.ndarray, a: float, b: float, max_events: int
    ) -> tuple:
        """Thinning candidates for one sequence from its posterior rates ``(K, G, M)`` on
        the grid: ``(rng, lam_max (K,), per-draw candidate times, their sorted union)``;
        ``rng`` (the sequence's own stream) goes on to :meth:`_thin`."""
        rng = keyed_rng(self.seed, ("sample", s.id))
        lam_max = 1.5 * rates.sum(-1).max(1)  # (K,)
        counts = rng.poisson(lam_max * (b - a))
        if counts.sum() > max_events:
            raise DataFrameError(
                f"series {s.id!r}: thinning would draw {counts.sum()} candidates; shorten "
                "the window or raise max_events."
            )
        cand = [np.sort(rng.uniform(a, b, c)) for c in counts]
        union = np.unique(np.concatenate(cand)) if counts.sum() else np.zeros(0)
        return rng, lam_max, cand, union

    def _thin(self, s: EventSequence, drawn: tuple, crates: np.ndarray, rows: dict) -> int:
        """Keep each candidate of :meth:`_candidates` with probability rate / bound
        (``crates (K, len(union), M)``: the posterior rates at the union); appends the kept
        events to ``rows`` and returns the count of exceeded bounds."""
        rng, lam_max, cand, union = drawn
        exceeded = 0
        for k, c in enumerate(cand):
            if not len(c):
                continue
            lam = crates[k, np.searchsorted(union, c)]  # (c, M)
            tot = lam.sum(-1)
            exceeded += int((tot > lam_max[k]).sum())
            keep = rng.random(len(c)) * lam_max[k] < tot
            kept_t, kept_lam = c[keep], lam[keep]
            marks = [int(rng.choice(len(self.marks_), p=row / row.sum())) for row in kept_lam]
            rows["id"] += [s.id] * len(kept_t)
            rows["sample"] += [k] * len(kept_t)
            rows["time"].append(kept_t)
            rows["mark"] += marks
        return exceeded

    def _sample_jump(
        self, seqs: Sequence[EventSequence], a: float, b: float, n_samples: int, max_events: int
    ) -> pd.DataFrame:
        try:
            sims, exceeded = self._simulate(seqs, a, b, n_samples, max_events)
        except ValueError as err:
            raise DataFrameError(f"sample: {err}") from None
        if exceeded:
            warn_user(f"sample: the rate exceeded the thinning bound at {exceeded} candidates.")
        ids, ks, ts, ms = [], [], [], []
        for s, paths in zip(seqs, sims, strict=True):
            for k, path in enumerate(paths):
                ids += [s.id] * len(path)
                ks += [k] * len(path)
                ts += [t for t, _ in path]
                ms += [m for _, m in path]
        return self._sample_frame(ids, ks, np.asarray(ts, dtype=float), ms)

    def _sample_frame(
        self, ids: list, samples: list, times: np.ndarray, marks: list
    ) -> pd.DataFrame:
        out = pd.DataFrame({self.id_col_: ids, "sample": samples})
        out[self.time_col_] = self.codec_.decode_values(times)
        if self.mark_col_ is not None:
            out[self.mark_col_] = [self.marks_[m] for m in marks]
        return out.sort_values(
            [self.id_col_, "sample", self.time_col_], kind="stable", ignore_index=True
        )

    @checked(n_samples=N_SAMPLES, n_grid=GRID, horizon=DURATION + [None])
    def predict_next(
        self,
        events: pd.DataFrame,
        quantiles: Sequence[float] = (0.1, 0.5, 0.9),
        *,
        n_samples: int = 100,
        horizon: Any = None,
        n_grid: int = 400,
    ) -> pd.DataFrame:
        """Quantiles of the next event time after each sequence's last event, from the
        posterior predictive survival ``mean_k exp(-(Λ_k(t) - Λ_k(t_last)))``. Columns
        ``id, last_time, next_q<q>``; NaN where the quantile lies more than ``horizon`` (a
        duration, as in :meth:`LatentODE.extrapolate`; default: 10 mean gaps, at least
        the window length) after the last event."""
        qs = check_quantiles(quantiles)
        if not qs:
            raise DataFrameError("predict_next needs at least one quantile.")
        self._check_fitted()
        h_user = horizon_units(horizon, self.codec_) if horizon is not None else None
        seqs = [s for s in self._sequences(events) if len(s.times)]
        grids = []
        for s in seqs:
            span = max(s.end - s.start, 1e-12)
            h = max(span, 10 * span / max(len(s.times), 1)) if h_user is None else h_user
            grids.append(float(s.times.max()) + np.linspace(0.0, h, n_grid))
        rows = []
        # batched over sequences (a latent solve runs to the union of a chunk's grid nodes)
        post = self._posterior(seqs, grids, n_samples)
        for s, grid, (_, cum) in zip(seqs, grids, post, strict=True):
            last = float(grid[0])
            tot = cum.sum(-1)  # (K, G)
            cdf = 1.0 - np.exp(-(tot - tot[:, :1])).mean(0)
            row = {self.id_col_: s.id, "last_time": self.codec_.decode_values([last])[0]}
            for q in qs:
                if cdf[-1] < q:
                    row[f"next_q{q:g}"] = np.nan
                    continue
                t_q = float(np.interp(q, np.maximum.accumulate(cdf), grid))
                row[f"next_q{q:g}"] = self.codec_.decode_values([t_q])[0]
            rows.append(row)
        return pd.DataFrame(rows)

    @checked(n_samples=N_SAMPLES, max_events=N_SAMPLES)
    def expected_count(
        self,
        events: pd.DataFrame,
        start: Any,
        end: Any,
        *,
        window: Any = None,
        n_samples: int = 100,
        max_events: int = 100_000,
    ) -> pd.DataFrame:
        """Expected number of events in ``[start, end]`` per sequence (``expected_count``,
        and ``expected_count_<mark>`` per mark).

        Latent dynamics: the posterior mean of ``∫ λ`` given all of the sequence's events.
        Jump dynamics: the mean count over ``n_samples`` simulated continuations from
        ``start``, given the sequence's events before ``start``, at most ``max_events``
        simulated events per continuation (each simulated event
        moves the rate, so ``∫ λ`` of the event-free flow would be biased)."""
        seqs = self._sequences(events, window)
        a, b = self._encode_times([start, end], "start/end")
        if not b >= a:
            raise DataFrameError("expected_count: end must not be before start.")
        if self._is_jump():
            try:
                sims, _ = self._simulate(seqs, float(a), float(b), n_samples, max_events)
            except ValueError as err:
                raise DataFrameError(f"expected_count: {err}") from None
            n_marks = len(self.marks_)
            counts = [
                np.mean([np.bincount([m for _, m in path], minlength=n_marks) for path in paths], 0)
                for paths in sims
            ]
        else:
            post = self._posterior(seqs, [np.array([a, b])] * len(seqs), n_samples)
            counts = [(cum[:, 1] - cum[:, 0]).mean(0) for _, cum in post]
        rows = []
        for s, per_mark in zip(seqs, counts, strict=True):
            row = {self.id_col_: s.id, "expected_count": float(per_mark.sum())}
            if self.mark_col_ is not None:
                row.update(
                    {
                        f"expected_count_{m}": float(v)
                        for m, v in zip(self.marks_, per_mark, strict=True)
                    }
                )
            rows.append(row)
        return pd.DataFrame(rows)

    def _loglik(self, seqs: Sequence[EventSequence], n_samples: int) -> float:
        """Total log p(events) of ``seqs`` (exact for jump dynamics, IWAE for latent)."""
        model = self.module_.model
        total = 0.0
        with seeded(self.seed):
            for chunk in chunks(list(seqs), _CHUNK):
                batch = self._batch(events_to_series(chunk, len(self.marks_)))
                total += float(model.log_marginal(batch, n_samples).double().sum())
        return total

    @checked(n_samples=N_SAMPLES, fraction=[Interval(Real, 0, 1, closed="neither")])
    def evaluate(
        self,
        events: pd.DataFrame,
        *,
        window: Any = None,
        fraction: float = 0.5,
        baselines: bool = True,
        n_samples: int = 100,
    ) -> pd.DataFrame:
        """Forecast each sequence's events after the first ``fraction`` of its window from
        the events before, scored as the log-likelihood of the continuation
        (``log p(all) - log p(before the cut)``: exact for jump dynamics, two IWAE
        estimates for latent dynamics), next to homogeneous Poisson baselines fitted on the
        events before the cuts: one pooled rate per mark, and each sequence's own rate
        (shrunk towards the pooled one by one window of exposure).

        Returns one row per method: ``loglik`` and ``loglik_per_event`` of the events after
        the cuts (rates per time unit, as in :meth:`score`), ``n_events``, ``n_sequences``.
        """
        seqs = self._sequences(events, window)
        cuts = [s.start + fraction * (s.end - s.start) for s in seqs]
        before = [
            EventSequence(s.id, s.times[s.times <= c], s.marks[s.times <= c], s.start, c)
            for s, c in zip(seqs, cuts, strict=True)
        ]
        n_after = int(sum((s.times > c).sum() for s, c in zip(seqs, cuts, strict=True)))
        if n_after == 0:
            raise DataFrameError(
                "evaluate: no event falls after the cuts; lower fraction or give longer windows."
            )
        rows = {
            type(self).__name__: self._loglik(seqs, n_samples) - self._loglik(before, n_samples)
        }
        if baselines:
            rows.update(_poisson_baselines(seqs, cuts, len(self.marks_)))
        return pd.DataFrame(
            [
                {
                    "method": name,
                    "loglik": ll,
                    "loglik_per_event": ll / n_after,
                    "n_events": n_after,
                    "n_sequences": len(seqs),
                }
                for name, ll in rows.items()
            ]
        )


def _poisson_baselines(
    seqs: Sequence[EventSequence], cuts: Sequence[float], n_marks: int
) -> dict[str, float]:
    """Log-likelihood of the events after each cut under homogeneous Poisson rates fitted
    on the events before the cuts: pooled per mark, and per sequence and mark (with one
    window of the pooled rate as a prior)."""
    n_before = np.zeros((len(seqs), n_marks))
    n_after = np.zeros((len(seqs), n_marks))
    t_before = np.array([c - s.start for s, c in zip(seqs, cuts, strict=True)])
    t_after = np.array([s.end - c for s, c in zip(seqs, cuts, strict=True)])
    for i, (s, c) in enumerate(zip(seqs, cuts, strict=True)):
        n_before[i] = np.bincount(s.marks[s.times <= c], minlength=n_marks)
        n_after[i] = np.bincount(s.marks[s.times > c], minlength=n_marks)
    pooled = np.maximum(n_before.sum(0), 0.5) / t_before.sum()  # (M,); half an event if none
    own = (n_before + pooled * t_before.mean()) / (t_before + t_before.mean())[:, None]

    def loglik(rate: np.ndarray) -> float:
        rate = np.broadcast_to(rate, n_after.shape)
        return float((n_after * np.log(rate)).sum() - (rate * t_after[:, None]).sum())

    return {"Poisson (pooled rate)": loglik(pooled), "Poisson (own rate)": loglik(own)}
