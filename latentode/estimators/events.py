"""``EventIntensity``: when do events happen? A learned intensity on pandas frames."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, StrOptions

from ..data.scaling import base_rates, fit_time_scale
from ..frames import (
    DataFrameError,
    EventSequence,
    TimeCodec,
    check_events,
    check_quantiles,
    events_to_series,
)
from ..models.jump_event import JumpEventModel
from ..nn.solve import SolverConfig  # noqa: TC001 - a parameter type
from ..training import EventModule, IrregularDataModule
from .base import LightningEstimator
from .event_inference import EventInference
from .params import (
    COMMON,
    GRID,
    N_SAMPLES,
    PATH,
    as_solver_config,
    checked,
    solver_hparams,
)
from .schema import Field

__all__ = ["EventIntensity"]


class EventIntensity(EventInference, LightningEstimator):
    """Inhomogeneous Poisson process with a learned rate λ(z(t)) from a Latent ODE.

    ``__init__`` only stores parameters; ``fit`` returns self.

    Args:
        latent_dim: size of z.
        hidden_dim, units, depth: encoder state size and MLP sizes.
        solver: the decoder's solver (latent dynamics), a method name or a
            :class:`~latentode.nn.solve.SolverConfig`.
        train_samples: z0 samples per sequence in each training step.
        objective: ``"iwae"`` or ``"elbo"``.
        max_epochs, batch_size, lr, kl_delay, kl_rate: optimisation.
        optimizer: ``"adamax"``, ``"adam"`` or ``"adamw"``.
        val_size, early_stopping, patience: validation split by sequence (no validation
            below 5 sequences).
        time_dependent: let the latent vector field see calendar time.
        dynamics: what drives the rate. ``"jump"`` (default): a state that flows under a
            neural ODE between events and jumps at each event (a neural jump ODE), so
            the rate at ``t`` follows the sequence's own history before ``t``; exact
            likelihood; rhythms, refractory gaps and self-excitation. ``"latent"``: a
            Latent ODE whose z0 is inferred from the whole sequence (a VAE; the rate
            follows z(t) and does not react to single events). ``latent_dim`` is the
            state size in both; ``hidden_dim``, ``solver``,
            ``train_samples``, ``objective`` and the KL schedule apply to
            ``"latent"`` only; ``max_step`` to ``"jump"`` only.
        max_step: largest RK4 step of the jump state's flow, in rescaled time (the
            median gap between events is 0.05).
        gradient_clip_val, seed, verbose, trainer_kwargs, accelerator, devices, strategy,
            logger: as in :class:`LatentODE`.

    Times may be numbers or datetimes; for datetimes rates are per second. Fitted
    attributes: ``module_``, ``codec_``, ``marks_``, ``id_col_``, ``time_col_``,
    ``mark_col_``, ``n_sequences_``, ``n_epochs_``, ``history_``.
    """

    _parameter_constraints: dict = {
        **COMMON,
        "time_dependent": ["boolean"],
        "dynamics": [StrOptions({"jump", "latent"})],
        "max_step": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        *,
        latent_dim: int = 8,
        hidden_dim: int = 20,
        units: int = 50,
        depth: int = 1,
        solver: str | SolverConfig = "dopri5",
        train_samples: int = 3,
        objective: str = "iwae",
        max_epochs: int = 100,
        batch_size: int = 32,
        lr: float = 1e-2,
        optimizer: str = "adamax",
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
        accelerator: str = "auto",
        devices: int | str | list = "auto",
        strategy: str | Any = "auto",
        logger: Any = None,
    ) -> None:
        self.latent_dim = latent_dim
        self.hidden_dim = hidden_dim
        self.units = units
        self.depth = depth
        self.solver = solver
        self.train_samples = train_samples
        self.objective = objective
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
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
        self.accelerator = accelerator
        self.devices = devices
        self.strategy = strategy
        self.logger = logger

    # ================================================================ fitting
    def _module_hparams(
        self, n_marks: int, offset: float, scale: float, base_rate: list[float]
    ) -> dict:
        """The module's arguments (saved in the model file as ``module_hparams``)."""
        if self.dynamics == "jump":
            model_kwargs: dict[str, Any] = {"max_step": self.max_step}
        else:
            solver = solver_hparams(as_solver_config(self.solver))
            model_kwargs = {"hidden_dim": self.hidden_dim, "solver": solver}
        training = dict(
            n_samples=self.train_samples,
            objective=self.objective,
            kl_delay=self.kl_delay,
            kl_rate=self.kl_rate,
            lr=self.lr,
            optimizer=self.optimizer,
        )
        return dict(
            n_marks=n_marks,
            latent_dim=self.latent_dim,
            training=training,
            time_offset=offset,
            time_scale=scale,
            dynamics=self.dynamics,
            units=self.units,
            depth=self.depth,
            time_dependent=self.time_dependent,
            base_rate=base_rate,
            **model_kwargs,
        )

    @checked(checkpoint_dir=PATH)
    def fit(
        self,
        events: pd.DataFrame,
        id_col: Hashable = "id",
        time_col: Hashable = "time",
        mark_col: Hashable | None = None,
        window: Any = None,
        *,
        checkpoint_dir: str | Path | None = None,
    ) -> EventIntensity:
        """Fit on one row per event. ``window``: ``None`` (each sequence's first..last
        event), a ``(start, end)`` pair for all, a pair of column names holding per-id
        start/end, or a DataFrame with id, ``start`` and ``end`` (ids without events are
        empty sequences). ``checkpoint_dir``, faults and Ctrl-C: as in
        :meth:`LatentODE.fit`."""
        self._check_params()
        times = events[time_col] if time_col in getattr(events, "columns", []) else None
        if times is None or len(times) == 0:
            raise DataFrameError(
                f"events need a non-empty {time_col!r} column to fit on; pass time_col=."
            )
        codec = TimeCodec.fit(times.dropna())
        seqs, marks = check_events(events, id_col, time_col, mark_col, window, codec=codec)
        empty = [s.id for s in seqs if not s.end > s.start]
        if empty:
            raise DataFrameError(
                f"sequence(s) {empty[:5]!r} have a window of zero length (a single event and "
                "no window?); the likelihood of a zero-length window is unbounded. Pass "
                "window=(start, end) or per-id windows."
            )
        series = events_to_series(seqs, len(marks))
        train, val = self._split(series)
        offset, scale = fit_time_scale(train)
        exposure = sum(s.end - s.start for s in seqs) / scale
        counts = np.bincount(
            np.concatenate([s.marks for s in seqs] or [np.zeros(0, int)]), minlength=len(marks)
        )
        hparams = self._module_hparams(len(marks), offset, scale, base_rates(counts, exposure))
        dm = IrregularDataModule(
            train, val, batch_size=min(self.batch_size, len(train)), seed=self.seed
        )
        with self._seeded():
            module = EventModule(**hparams)
            trained = self._train(module, dm, bool(val), checkpoint_dir)
        self._commit(
            {
                **trained,
                "id_col_": id_col,
                "time_col_": time_col,
                "mark_col_": mark_col,
                "codec_": codec,
                "marks_": marks,
                "n_sequences_": len(series),
                "module_": module,
            }
        )
        return self

    _fitted_schema = {
        "id_col": Field(str, Integral),
        "time_col": Field(str, Integral),
        "mark_col": Field(str, Integral, None),
        "codec": Field(dict),
        "marks": Field(list),
        "n_sequences": Field(Integral),
        "module_hparams": Field(dict),
    }

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
        self.module_ = EventModule.from_hparams(state["module_hparams"])
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

    @staticmethod
    def _time_values(values: Any) -> pd.Series:
        arr = values if isinstance(values, (pd.Series, pd.Index, np.ndarray, list)) else [values]
        return arr if isinstance(arr, pd.Series) else pd.Series(list(arr))

    def _encode_times(self, values: Any, what: str) -> np.ndarray:
        return self.codec_.encode(self._time_values(values))

    def _is_jump(self) -> bool:
        return isinstance(self.module_.model, JumpEventModel)

    def _mark_columns(self) -> list[str]:
        if self.mark_col_ is None:
            return ["intensity"]
        return [f"intensity_{m}" for m in self.marks_]

    @checked(n_samples=N_SAMPLES)
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
        values = self._time_values(times)
        t_all = self.codec_.encode(values)
        order = np.argsort(t_all, kind="stable")
        t, given = t_all[order], self.codec_.as_given(values)[order]
        post = self._posterior(seqs, [t] * len(seqs), n_samples)
        cols = self._mark_columns()
        frames = []
        for s, (rates, _) in zip(seqs, post, strict=True):
            frame = pd.DataFrame({self.id_col_: [s.id] * len(t)})
            frame[self.time_col_] = given
            for j, c in enumerate(cols):
                frame[c] = rates[:, :, j].mean(0)
                for q in qs:
                    frame[f"{c}_q{q:g}"] = np.quantile(rates[:, :, j], q, axis=0)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    @checked(n_samples=N_SAMPLES)
    def score_details(
        self, events: pd.DataFrame, *, window: Any = None, n_samples: int = 100
    ) -> dict:
        """Log-likelihood of the events, log p(events), survival term included, rates per
        time unit: exact for jump dynamics; for latent dynamics the marginal estimated by
        importance sampling over z0 (IWAE with ``n_samples``). ``loglik_per_event`` is
        the total over sequences divided by the total number of events; also ``n_events``
        and ``n_sequences``."""
        seqs = self._sequences(events, window)
        total = self._loglik(seqs, n_samples)
        n_events = int(sum(len(s.times) for s in seqs))
        return {
            "loglik": total,
            "loglik_per_event": total / max(n_events, 1),
            "n_events": n_events,
            "n_sequences": len(seqs),
        }

    @checked(n_samples=N_SAMPLES)
    def score(self, events: pd.DataFrame, *, window: Any = None, n_samples: int = 100) -> float:
        """Log-likelihood per event (``score_details(...)["loglik_per_event"]``): one float,
        higher is better, so scikit-learn's model selection can rank fits."""
        return self.score_details(events, window=window, n_samples=n_samples)["loglik_per_event"]

    @checked(n_samples=N_SAMPLES, n_grid=GRID, max_series=N_SAMPLES)
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
        from .plots import plot_intensities

        seqs = {s.id: s for s in self._sequences(events, window)}
        ids = list(seqs)[:max_series] if ids is None else list(ids)
        missing = [i for i in ids if i not in seqs]
        if missing:
            raise DataFrameError(f"plot: ids {missing!r} are not in the events frame.")
        panels = []
        for sid in ids:
            s = seqs[sid]
            grid = np.linspace(s.start, s.end, n_grid)
            rates, _ = self._posterior([s], [grid], n_samples)[0]
            x = self.codec_.decode_values(grid)
            panels.append((sid, x, rates.sum(-1), self.codec_.decode_values(s.times)))
        band = None if self._is_jump() else tuple(sorted(quantiles))
        return plot_intensities(panels, self.time_col_, band)
