"""``EventIntensity``: when do events happen? A latent ODE intensity on pandas frames."""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch

from ..data.batch import collate
from ..data.datamodule import IrregularDataModule
from ..data.events import EventSequence, check_events, events_to_series
from ..data.frame import DataFrameError, TimeCodec, check_quantiles
from ..data.scaling import fit_time_scale
from ..lightning import EventModule
from ..models.jump_intensity import JumpEventModel
from .base import LightningEstimator, keyed_generator, keyed_normal

__all__ = ["EventIntensity"]

_CHUNK = 32


class EventIntensity(LightningEstimator):
    """Inhomogeneous Poisson process with a learned rate λ(z(t)) from a Latent ODE.

    ``__init__`` only stores parameters; ``fit`` returns self.

    Args:
        latent_dim: size of z.
        hidden_dim, units, depth: encoder state size and MLP sizes.
        solver, rtol, atol, grid_step: the decoder's torchdiffeq settings.
        n_samples: z0 samples per sequence in training.
        objective: ``"iwae"`` or ``"elbo"``.
        max_epochs, batch_size, lr, kl_delay, kl_rate: optimisation.
        val_size, early_stopping, patience: validation split by sequence (no validation
            below 5 sequences).
        time_dependent: let the latent vector field see calendar time.
        dynamics: what drives the rate. ``"jump"`` (default): a state that flows under a
            neural ODE between events and jumps at each event (a neural jump ODE), so
            the rate at ``t`` follows the sequence's own history before ``t``; exact
            likelihood; rhythms, refractory gaps and self-excitation. ``"latent"``: a
            Latent ODE whose z0 is inferred from the whole sequence (a VAE; the rate
            follows z(t) and does not react to single events). ``latent_dim`` is the
            state size in both; ``hidden_dim``, ``solver``, ``rtol``, ``atol``,
            ``grid_step``, ``n_samples``, ``objective`` and the KL schedule apply to
            ``"latent"`` only; ``max_step`` to ``"jump"`` only.
        max_step: largest RK4 step of the jump state's flow, in rescaled time (the
            median gap between events is 0.05).
        gradient_clip_val, seed, verbose, trainer_kwargs: as in :class:`LatentODE`.

    Times may be numbers or datetimes; for datetimes rates are per second. Fitted
    attributes: ``module_``, ``codec_``, ``marks_``, ``id_col_``, ``time_col_``,
    ``mark_col_``, ``n_sequences_``, ``n_epochs_``.
    """

    def __init__(
        self,
        latent_dim: int = 8,
        hidden_dim: int = 20,
        units: int = 50,
        depth: int = 1,
        solver: str = "dopri5",
        rtol: float = 1e-3,
        atol: float = 1e-4,
        grid_step: float = 0.05,
        n_samples: int = 3,
        objective: str = "iwae",
        max_epochs: int = 100,
        batch_size: int = 32,
        lr: float = 1e-2,
        kl_delay: int = 5,
        kl_rate: float = 0.95,
        val_size: float = 0.2,
        early_stopping: bool = True,
        patience: int = 20,
        time_dependent: bool = False,
        dynamics: str = "jump",
        max_step: float = 0.05,
        gradient_clip_val: float | None = 10.0,
        seed: int = 0,
        verbose: bool = True,
        trainer_kwargs: dict | None = None,
    ) -> None:
        self.latent_dim = latent_dim
        self.hidden_dim = hidden_dim
        self.units = units
        self.depth = depth
        self.solver = solver
        self.rtol = rtol
        self.atol = atol
        self.grid_step = grid_step
        self.n_samples = n_samples
        self.objective = objective
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.kl_delay = kl_delay
        self.kl_rate = kl_rate
        self.val_size = val_size
        self.early_stopping = early_stopping
        self.patience = patience
        self.time_dependent = time_dependent
        self.dynamics = dynamics
        self.max_step = max_step
        self.gradient_clip_val = gradient_clip_val
        self.seed = seed
        self.verbose = verbose
        self.trainer_kwargs = trainer_kwargs

    # ================================================================ fitting
    def fit(
        self,
        events: pd.DataFrame,
        id_col: Hashable = "id",
        time_col: Hashable = "time",
        mark_col: Hashable | None = None,
        window: Any = None,
    ) -> EventIntensity:
        """Fit on one row per event. ``window``: ``None`` (each sequence's first..last
        event), a ``(start, end)`` pair for all, a pair of column names holding per-id
        start/end, or a DataFrame with id, ``start`` and ``end`` (ids without events are
        empty sequences)."""
        times = events[time_col] if time_col in getattr(events, "columns", []) else None
        if times is None or len(times) == 0:
            raise DataFrameError(
                f"events need a non-empty {time_col!r} column to fit on; pass time_col=."
            )
        codec = TimeCodec.fit(times.dropna())
        seqs, marks = check_events(events, id_col, time_col, mark_col, window, codec=codec)
        n_marks = len(marks)
        series = events_to_series(seqs, n_marks)
        n = len(series)
        train, val = self._split(series)
        offset, scale = fit_time_scale(train)
        exposure = sum(s.end - s.start for s in seqs) / scale
        counts = np.bincount(
            np.concatenate([s.marks for s in seqs] or [np.zeros(0, int)]), minlength=n_marks
        )
        base_rate = [float(max(c, 1) / max(exposure, 1e-12)) for c in counts]
        L.seed_everything(self.seed, verbose=False)
        if self.dynamics == "jump":
            model_kwargs: dict[str, Any] = {"max_step": self.max_step}
        elif self.dynamics == "latent":
            model_kwargs = {
                "enc_hidden": self.hidden_dim,
                "solver": {
                    "method": self.solver,
                    "rtol": self.rtol,
                    "atol": self.atol,
                    "grid_step": self.grid_step,
                },
            }
        else:
            raise ValueError(f"dynamics must be 'jump' or 'latent', got {self.dynamics!r}.")
        module = EventModule(
            n_marks,
            self.latent_dim,
            n_samples=self.n_samples,
            objective=self.objective,
            kl_delay=self.kl_delay,
            kl_rate=self.kl_rate,
            lr=self.lr,
            time_offset=offset,
            time_scale=scale,
            dynamics=self.dynamics,
            units=self.units,
            depth=self.depth,
            time_dependent=self.time_dependent,
            base_rate=base_rate,
            **model_kwargs,
        )
        dm = IrregularDataModule(
            train, val, batch_size=min(self.batch_size, len(train)), seed=self.seed
        )
        self.id_col_, self.time_col_, self.mark_col_ = id_col, time_col, mark_col
        self.codec_, self.marks_, self.n_sequences_ = codec, marks, n
        self._train(module, dm, has_val=bool(val))
        self.module_ = module
        return self

    def _fitted_state(self) -> dict:
        return {
            "id_col": self.id_col_,
            "time_col": self.time_col_,
            "mark_col": self.mark_col_,
            "codec": self.codec_.to_dict(),
            "marks": self.marks_,
            "n_sequences": self.n_sequences_,
            "module_hparams": dict(self.module_.hparams),
        }

    def _restore(self, state: dict) -> None:
        self.id_col_, self.time_col_ = state["id_col"], state["time_col"]
        self.mark_col_, self.marks_ = state["mark_col"], list(state["marks"])
        self.codec_ = TimeCodec.from_dict(state["codec"])
        self.n_sequences_ = state["n_sequences"]
        self.module_ = EventModule(**state["module_hparams"])
        if "dynamics" not in state["module_hparams"]:  # saved before the jump dynamics
            self.dynamics = "latent"

    # ============================================================ inference
    def _sequences(self, events: pd.DataFrame, window: Any = None) -> list[EventSequence]:
        self._check_fitted()
        seqs, _ = check_events(
            events,
            self.id_col_,
            self.time_col_,
            self.mark_col_,
            window,
            codec=self.codec_,
            marks=self.marks_,
        )
        return seqs

    def _encode_times(self, values: Any, what: str) -> np.ndarray:
        arr = values if isinstance(values, (pd.Series, pd.Index, np.ndarray, list)) else [values]
        return self.codec_.encode(pd.Series(list(arr)) if not isinstance(arr, pd.Series) else arr)

    @torch.no_grad()
    def _posterior(
        self, seqs: Sequence[EventSequence], queries: Sequence[np.ndarray], n_samples: int
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per sequence: rates ``(K, E, M)`` per raw time unit and cumulative intensity
        ``(K, E, M)`` from the window start, at its query times ``(E,)``."""
        model = self.module_.model
        n_marks = len(self.marks_)
        out = []
        for i in range(0, len(seqs), _CHUNK):
            chunk, qs = list(seqs[i : i + _CHUNK]), list(queries[i : i + _CHUNK])
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
            batch = collate(events_to_series(chunk, n_marks))
            eps = torch.stack(
                [keyed_normal(self.seed, s.id, n_samples, model.latent_dim) for s in chunk], 1
            )
            rates, cum = model.posterior(
                batch, torch.as_tensor(extra, dtype=batch.times.dtype), eps
            )
            n = batch.times.shape[1]
            rates, cum = rates[:, :, n:].double().numpy(), cum[:, :, n:].double().numpy()
            out.extend((rates[:, b, : len(q)], cum[:, b, : len(q)]) for b, q in enumerate(qs))
        return out

    def _is_jump(self) -> bool:
        return isinstance(self.module_.model, JumpEventModel)

    @torch.no_grad()
    def _simulate(
        self, seqs: Sequence[EventSequence], a: float, b: float, n_samples: int, max_events: int
    ) -> tuple[list[list[list[tuple[float, int]]]], int]:
        """Jump dynamics: ``n_samples`` continuations on ``[a, b]`` per sequence, each given
        the sequence's events before ``a`` (later events are not used). Per sequence a
        list of paths of ``(time, mark)``, and the count of exceeded thinning bounds."""
        model = self.module_.model
        out, exceeded = [], 0
        for s in seqs:
            keep = s.times < a
            hist = EventSequence(s.id, s.times[keep], s.marks[keep], min(s.start, a), a)
            batch = collate(events_to_series([hist], len(self.marks_)))
            gen = torch.Generator().manual_seed(keyed_generator(self.seed, ("sample", s.id)) >> 1)
            paths, n_over = model.simulate(
                batch,
                torch.tensor([b], dtype=torch.float64),
                n_samples,
                gen,
                max_events=max_events,
            )
            out.append(paths)
            exceeded += n_over
        return out, exceeded

    def _mark_columns(self) -> list[str]:
        if self.mark_col_ is None:
            return ["intensity"]
        return [f"intensity_{m}" for m in self.marks_]

    def intensity(
        self,
        events: pd.DataFrame,
        times: Any,
        *,
        window: Any = None,
        quantiles: Sequence[float] | None = None,
        n_samples: int = 100,
    ) -> pd.DataFrame:
        """Intensity (per time unit; per second for datetimes) at ``times`` (the same for
        every sequence). Latent dynamics: the posterior mean given all of each sequence's
        events, quantiles over the posterior. Jump dynamics: the rate given the events
        before each time (after the last event: given that none followed); it is
        deterministic, so the quantile columns equal it. Columns ``id, time, intensity``
        (``intensity_<mark>`` per mark), plus ``<col>_q<q>``."""
        qs = check_quantiles(quantiles)
        seqs = self._sequences(events, window)
        t = np.sort(self._encode_times(times, "times"))
        post = self._posterior(seqs, [t] * len(seqs), n_samples)
        cols = self._mark_columns()
        frames = []
        for s, (rates, _) in zip(seqs, post, strict=True):
            frame = pd.DataFrame({self.id_col_: [s.id] * len(t)})
            frame[self.time_col_] = self.codec_.decode_values(t)
            for j, c in enumerate(cols):
                frame[c] = rates[:, :, j].mean(0)
                for q in qs:
                    frame[f"{c}_q{q:g}"] = np.quantile(rates[:, :, j], q, axis=0)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def expected_count(
        self,
        events: pd.DataFrame,
        start: Any,
        end: Any,
        *,
        window: Any = None,
        n_samples: int = 100,
    ) -> pd.DataFrame:
        """Expected number of events in ``[start, end]`` per sequence (``expected_count``,
        and ``expected_count_<mark>`` per mark).

        Latent dynamics: the posterior mean of ``∫ λ`` given all of the sequence's events.
        Jump dynamics: the mean count over ``n_samples`` simulated continuations from
        ``start``, given the sequence's events before ``start`` (each simulated event
        moves the rate, so ``∫ λ`` of the event-free flow would be biased)."""
        seqs = self._sequences(events, window)
        a, b = self._encode_times([start, end], "start/end")
        if not b >= a:
            raise DataFrameError("expected_count: end must not be before start.")
        if self._is_jump():
            sims, _ = self._simulate(seqs, float(a), float(b), n_samples, 10_000_000)
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

    def score(self, events: pd.DataFrame, *, window: Any = None, n_samples: int = 100) -> dict:
        """Log-likelihood of the events, log p(events), survival term included, rates per
        time unit: exact for jump dynamics; for latent dynamics the marginal estimated by
        importance sampling over z0 (IWAE with ``n_samples``). ``loglik_per_event`` is
        the total over sequences divided by the total number of events."""
        seqs = self._sequences(events, window)
        model = self.module_.model
        total = 0.0
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            for i in range(0, len(seqs), _CHUNK):
                batch = collate(events_to_series(seqs[i : i + _CHUNK], len(self.marks_)))
                total += float(model.log_marginal(batch, n_samples).double().sum())
        n_events = int(sum(len(s.times) for s in seqs))
        return {
            "loglik": total,
            "loglik_per_event": total / max(n_events, 1),
            "n_events": n_events,
            "n_sequences": len(seqs),
        }

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
        rows_id, rows_k, rows_t, rows_m = [], [], [], []
        exceeded = 0
        for s, (rates, _) in zip(seqs, post, strict=True):
            rng = np.random.default_rng(keyed_generator(self.seed, ("sample", s.id)))
            total = rates.sum(-1)  # (K, G)
            lam_max = 1.5 * total.max(1)
            counts = rng.poisson(lam_max * (b - a))
            if counts.sum() > max_events:
                raise DataFrameError(
                    f"series {s.id!r}: thinning would draw {counts.sum()} candidates; shorten "
                    "the window or raise max_events."
                )
            cand = [np.sort(rng.uniform(a, b, c)) for c in counts]
            union = np.unique(np.concatenate(cand)) if counts.sum() else np.zeros(0)
            if not len(union):
                continue
            crates, _ = self._posterior([s], [union], n_samples)[0]
            for k, c in enumerate(cand):
                if not len(c):
                    continue
                lam = crates[k, np.searchsorted(union, c)]  # (c, M)
                tot = lam.sum(-1)
                exceeded += int((tot > lam_max[k]).sum())
                keep = rng.random(len(c)) * lam_max[k] < tot
                kept_t, kept_lam = c[keep], lam[keep]
                marks = [int(rng.choice(len(self.marks_), p=row / row.sum())) for row in kept_lam]
                rows_id += [s.id] * len(kept_t)
                rows_k += [k] * len(kept_t)
                rows_t.append(kept_t)
                rows_m += marks
        if exceeded:
            warnings.warn(
                f"sample: the rate exceeded the thinning bound at {exceeded} "
                "candidates; raise n_grid.",
                stacklevel=2,
            )
        t_all = np.concatenate(rows_t) if rows_t else np.zeros(0)
        out = pd.DataFrame({self.id_col_: rows_id, "sample": rows_k})
        out[self.time_col_] = self.codec_.decode_values(t_all)
        if self.mark_col_ is not None:
            out[self.mark_col_] = [self.marks_[m] for m in rows_m]
        return out.sort_values(
            [self.id_col_, "sample", self.time_col_], kind="stable", ignore_index=True
        )

    def _sample_jump(
        self, seqs: Sequence[EventSequence], a: float, b: float, n_samples: int, max_events: int
    ) -> pd.DataFrame:
        try:
            sims, exceeded = self._simulate(seqs, a, b, n_samples, max_events)
        except ValueError as err:
            raise DataFrameError(f"sample: {err}") from None
        if exceeded:
            warnings.warn(
                f"sample: the rate exceeded the thinning bound at {exceeded} candidates.",
                stacklevel=3,
            )
        ids, ks, ts, ms = [], [], [], []
        for s, paths in zip(seqs, sims, strict=True):
            for k, path in enumerate(paths):
                ids += [s.id] * len(path)
                ks += [k] * len(path)
                ts += [t for t, _ in path]
                ms += [m for _, m in path]
        out = pd.DataFrame({self.id_col_: ids, "sample": ks})
        out[self.time_col_] = self.codec_.decode_values(np.asarray(ts, dtype=float))
        if self.mark_col_ is not None:
            out[self.mark_col_] = [self.marks_[m] for m in ms]
        return out.sort_values(
            [self.id_col_, "sample", self.time_col_], kind="stable", ignore_index=True
        )

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
        ``id, last_time, next_q<q>``; NaN where the quantile lies beyond ``horizon``
        (default: 10 mean gaps, at least the window length)."""
        qs = check_quantiles(quantiles)
        if not qs:
            raise DataFrameError("predict_next needs at least one quantile.")
        seqs = [s for s in self._sequences(events) if len(s.times)]
        rows = []
        for s in seqs:
            last = float(s.times.max())
            span = max(s.end - s.start, 1e-12)
            h = (
                float(self._encode_times([horizon], "horizon")[0]) - 0.0
                if horizon is not None and self.codec_.kind == "numeric"
                else None
            )
            if horizon is not None and self.codec_.kind == "datetime":
                h = pd.Timedelta(horizon).total_seconds()
            if h is None:
                h = max(span, 10 * span / max(len(s.times), 1))
            grid = last + np.linspace(0.0, h, n_grid)
            _, cum = self._posterior([s], [grid], n_samples)[0]
            tot = cum.sum(-1)  # (K, G)
            cdf = 1.0 - np.exp(-(tot - tot[:, :1])).mean(0)
            row = {self.id_col_: s.id}
            row["last_time"] = self.codec_.decode_values([last])[0]
            for q in qs:
                if cdf[-1] < q:
                    row[f"next_q{q:g}"] = np.nan
                    continue
                t_q = float(np.interp(q, np.maximum.accumulate(cdf), grid))
                row[f"next_q{q:g}"] = self.codec_.decode_values([t_q])[0]
            rows.append(row)
        return pd.DataFrame(rows)

    def plot(
        self,
        events: pd.DataFrame,
        ids: Sequence[Hashable] | None = None,
        *,
        window: Any = None,
        n_samples: int = 100,
        n_grid: int = 300,
        max_series: int = 4,
        quantiles: tuple[float, float] = (0.05, 0.95),
    ):
        """The intensity over each sequence's window with its events as a rug: the
        posterior mean with a quantile band (latent dynamics), or the rate given the
        earlier events (jump dynamics). Returns a matplotlib ``Figure``."""
        import matplotlib.pyplot as plt

        seqs = {s.id: s for s in self._sequences(events, window)}
        if ids is None:
            ids = list(seqs)[:max_series]
        missing = [i for i in ids if i not in seqs]
        if missing:
            raise DataFrameError(f"plot: ids {missing!r} are not in the events frame.")
        fig, axes = plt.subplots(len(ids), 1, figsize=(8, 2.4 * len(ids)), squeeze=False)
        lo, hi = sorted(quantiles)
        for ax, sid in zip(axes[:, 0], ids, strict=True):
            s = seqs[sid]
            grid = np.linspace(s.start, s.end, n_grid)
            rates, _ = self._posterior([s], [grid], n_samples)[0]
            tot = rates.sum(-1)
            x = self.codec_.decode_values(grid)
            if self._is_jump():  # deterministic given the history: no band
                ax.plot(x, tot.mean(0), label="intensity given the earlier events")
            else:
                ax.fill_between(
                    x, np.quantile(tot, lo, 0), np.quantile(tot, hi, 0), alpha=0.25, linewidth=0
                )
                ax.plot(x, tot.mean(0), label="posterior mean intensity")
            ev = self.codec_.decode_values(s.times)
            ax.plot(ev, np.zeros(len(s.times)), "|", color="k", markersize=12, label="events")
            ax.set_ylabel(f"λ ({sid})")
        axes[0, 0].legend(fontsize="small", loc="best")
        axes[-1, 0].set_xlabel(str(self.time_col_))
        fig.tight_layout()
        return fig
