"""``LatentODE``: fit irregular series from pandas (the questions it answers are in
:mod:`latentode.estimators.latent_inference`)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ..data.batch import Series
from ..data.protocols import RandomObservation
from ..data.scaling import base_rates, fit_time_scale
from ..frames import (
    CovariateSpec,
    TimeCodec,
    attach_labels,
    scaler_from_dict,
    scaler_to_dict,
    training_series,
)
from ..models.latent_ode import DEFAULT_CELLS
from ..nn.solve import SolverConfig  # noqa: TC001 - a parameter type
from ..training import IrregularDataModule, LatentODEModule
from .bands import band_factors, hidden_cells
from .base import LightningEstimator
from .evaluation import LatentEvaluation
from .latent_inference import LatentInference
from .params import COMMON, PATH, as_solver_config, checked, solver_hparams
from .schema import Field

__all__ = ["LatentODE"]


class LatentODE(LatentEvaluation, LatentInference, LightningEstimator):
    """Latent ODE for long DataFrames of irregularly sampled, partly observed series.

    ``__init__`` only stores parameters (scikit-learn contract); ``fit`` returns self.

    Args:
        latent_dim: size of the latent state z.
        encoder: ``"odernn"`` (ODE-RNN run backwards), ``"rnn"`` (GRU with gaps) or
            ``"mtan"`` (multi-time attention over all observations at once).
        hidden_dim: encoder state size.
        units, depth: width and hidden layers of the latent vector field.
        obs_std: fixed observation std in standardized units, ``None`` learns it.
        solver: the decoder's solver, a method name from torchdiffeq's registry or a
            :class:`~latentode.nn.solve.SolverConfig` (tolerances, output grid step).
        train_samples: z0 samples per series in each training step.
        objective: the training bound, ``"iwae"`` (default) or ``"elbo"``; see
            :class:`~latentode.training.LatentODEModule`. (The module's default, the ELBO
            with a learned std held during the KL warm-up, was not adopted here: on the
            demo it traded interpolation for extrapolation; the estimator's benchmark
            settled its defaults with IWAE, ``benchmarks/README.md``.)
        max_epochs, batch_size, lr: optimisation. The default of 200 epochs keeps a fit
            on 800 series of 100 points under 10 minutes on one CPU core (about 8);
            early stopping usually ends smaller fits sooner.
        optimizer: ``"adamax"``, ``"adam"`` or ``"adamw"`` (Adam learned worse here).
        kl_delay, kl_rate: KL annealing (epochs at weight 0, then ``1 - rate ** k``).
        val_size: fraction of series held out for validation (early stopping, best
            checkpoint); no validation below 5 series.
        early_stopping, patience: stop when ``val_loss`` has not improved for
            ``patience`` epochs.
        min_observed, extrapolate_prob: training masks; each time a series is drawn the
            encoder sees a random fraction in ``[min_observed, 1]`` of its points, or with
            probability ``extrapolate_prob`` a random prefix; every point is scored. The
            default 0.1 trains for sparse inputs too: with 0.3 the model interpolated from
            20% of the rows worse than linear interpolation (``benchmarks/README.md``).
        gradient_clip_val: passed to the Trainer.
        duplicates: ``"error"`` or ``"mean"`` for repeated (id, time) rows.
        poisson: also model when each target is observed, as a Poisson process with rate
            λ_d(z(t)) (joint likelihood of values and observation times).
        classify: ``None``, ``"sequence"`` (one label per series, from z0; e.g. mortality)
            or ``"point"`` (a label per row, from z(t); e.g. activity). Give the label column
            to ``fit(label_col=...)``; the head trains jointly, weighted by ``label_weight``;
            ``predict_proba`` returns class probabilities.
        seed: seeds initialisation, training and the posterior samples of predictions
            (through local generators: the caller's global random state is unchanged).
        verbose: show Lightning's progress bar (when the output is a terminal or a
            notebook; quiet otherwise, e.g. in a log file).
        trainer_kwargs: extra ``lightning.Trainer`` arguments, overriding the defaults;
            ``callbacks`` are added to the estimator's own.
        accelerator, devices, strategy: Lightning's (``"auto"``: a GPU when there is one).
            The model stays on the device it was trained on and predicts there; move it
            with :meth:`to`. Several devices train with data parallelism (``strategy``,
            e.g. ``"ddp"``); see the README for many nodes.
        logger: a Lightning logger (``CSVLogger``, ``TensorBoardLogger``, ``MLFlowLogger``,
            ...) that receives the training metrics; not saved with the model.
        compile: run the ODE-RNN encoder's per-observation step through ``torch.compile``
            (``encoder="odernn"`` only; off: no faster on one CPU core or an H200 in
            ``benchmarks/README.md``). Not saved: a loaded model predicts eagerly.

    Fitted attributes: ``module_`` (the LightningModule), ``target_cols_``, ``id_col_``,
    ``time_col_``, ``codec_`` (time encoding), ``scaler_`` (``StandardScaler``),
    ``n_features_in_``, ``n_series_``, ``n_epochs_``, ``history_`` (one row per epoch),
    ``best_val_loss_`` (with validation),
    ``noise_scale_`` and ``spread_scale_`` (the factors on the learned observation std
    and on the posterior samples' spread about their mean in the prediction bands and
    draws, calibrated on the validation split for 90% coverage of held-out cells both
    between and beyond the rows a series shows; 1 without one).
    """

    _parameter_constraints: dict = {
        **COMMON,
        "encoder": [StrOptions({"odernn", "rnn", "mtan"})],
        "obs_std": [Interval(Real, 0, None, closed="neither"), None],
        "min_observed": [Interval(Real, 0, 1, closed="both")],
        "extrapolate_prob": [Interval(Real, 0, 1, closed="both")],
        "duplicates": [StrOptions({"error", "mean"})],
        "poisson": ["boolean"],
        "classify": [StrOptions({"sequence", "point"}), None],
        "label_weight": [Interval(Real, 0, None, closed="left")],
        "compile": ["boolean"],
    }

    def __init__(
        self,
        *,
        latent_dim: int = 16,
        encoder: str = "odernn",
        hidden_dim: int = 20,
        units: int = 100,
        depth: int = 1,
        obs_std: float | None = None,
        solver: str | SolverConfig = "dopri5",
        train_samples: int = 3,
        objective: str = "iwae",
        max_epochs: int = 200,
        batch_size: int = 50,
        lr: float = 1e-2,
        optimizer: str = "adamax",
        kl_delay: int = 10,
        kl_rate: float = 0.99,
        val_size: float = 0.2,
        early_stopping: bool = True,
        patience: int = 20,
        min_observed: float = 0.1,
        extrapolate_prob: float = 0.3,
        gradient_clip_val: float | None = 10.0,
        duplicates: str = "error",
        poisson: bool = False,
        classify: str | None = None,
        label_weight: float = 1.0,
        seed: int = 0,
        verbose: bool = True,
        trainer_kwargs: dict | None = None,
        accelerator: str = "auto",
        devices: int | str | list = "auto",
        strategy: str | Any = "auto",
        logger: Any = None,
        compile: bool = False,
    ) -> None:
        self.latent_dim = latent_dim
        self.encoder = encoder
        self.hidden_dim = hidden_dim
        self.units = units
        self.depth = depth
        self.obs_std = obs_std
        self.solver = solver
        self.train_samples = train_samples
        self.objective = objective
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr, self.optimizer = lr, optimizer
        self.kl_delay = kl_delay
        self.kl_rate = kl_rate
        self.val_size = val_size
        self.early_stopping = early_stopping
        self.patience = patience
        self.min_observed = min_observed
        self.extrapolate_prob = extrapolate_prob
        self.gradient_clip_val = gradient_clip_val
        self.duplicates = duplicates
        self.poisson = poisson
        self.classify = classify
        self.label_weight = label_weight
        self.seed = seed
        self.verbose = verbose
        self.trainer_kwargs = trainer_kwargs
        self.accelerator = accelerator
        self.devices = devices
        self.strategy = strategy
        self.logger = logger
        self.compile = compile

    # ================================================================ fitting
    def _module_hparams(
        self,
        n_features: int,
        offset: float,
        scale: float,
        base_rate: list[float],
        n_classes: int = 0,
        covariates: CovariateSpec | None = None,
    ) -> dict:
        """The module's arguments (saved in the model file as ``module_hparams``)."""
        extra: dict = {"poisson": True, "poisson_base_rate": base_rate} if self.poisson else {}
        if covariates:
            extra.update(
                n_statics=covariates.n_statics,
                n_held=len(covariates.held_cols),
                n_impulses=len(covariates.impulse_cols),
            )
        if self.classify is not None:
            extra.update(
                n_labels=1 if n_classes == 2 else n_classes,
                label_kind=self.classify,
                label_weight=self.label_weight,
            )
        solver = as_solver_config(self.solver)
        if self.encoder == "rnn":  # explicit too; files saved before read raw gaps
            extra = {**extra, "encoder_gap_scale": "fit"}
        if self.encoder in DEFAULT_CELLS:  # explicit: files saved before used nn.GRUCell
            extra = {**extra, "encoder_cell": DEFAULT_CELLS[self.encoder]}
        return dict(
            **extra,
            input_dim=n_features,
            latent_dim=self.latent_dim,
            training=dict(
                n_samples=self.train_samples,
                objective=self.objective,
                std_delay=0,
                kl_delay=self.kl_delay,
                kl_rate=self.kl_rate,
                lr=self.lr,
                optimizer=self.optimizer,
            ),
            time_offset=offset,
            time_scale=scale,
            encoder=self.encoder,
            encoder_method="midpoint",  # explicit: files saved before it was the default
            hidden_dim=self.hidden_dim,
            units=self.units,
            depth=self.depth,
            obs_std=self.obs_std,
            solver=solver_hparams(solver),
        )

    @checked(checkpoint_dir=PATH)
    def fit(
        self,
        df: pd.DataFrame,
        id_col: Hashable = "id",
        time_col: Hashable = "time",
        target_cols: Sequence[Hashable] | None = None,
        label_col: Hashable | None = None,
        *,
        static_cols: Sequence[Hashable] | None = None,
        input_cols: Sequence[Hashable] | dict | None = None,
        checkpoint_dir: str | Path | None = None,
    ) -> LatentODE:
        """Fit on a long DataFrame: one row per (id, time), one column per target, NaN =
        not observed. ``target_cols=None`` takes every numeric column but id, time,
        ``label_col`` (the labels when ``classify`` is set) and the covariates.

        Covariates condition the model (:mod:`latentode.frames.covariates`):
        ``static_cols`` are per-series constants (numeric, or text/categorical one-hot
        encoded; checked constant within each series); the encoder reads them and the
        vector field depends on them. ``input_cols`` are known inputs read at their rows,
        a list (``"held"``: a value kept until the next row that gives one, read by the
        vector field) or a dict ``{column: "held" | "impulse"}`` (``"impulse"``: an amount
        delivered at its row, such as a dose, that moves the latent state by a learned
        linear step). Every later call reads them from the frame it is given, including
        rows after the last observation (known future inputs).

        ``checkpoint_dir``: write a Lightning checkpoint there after every epoch; calling
        ``fit`` again with the same data and directory after a crash resumes from it,
        losing at most the epoch in progress. Ctrl-C raises ``KeyboardInterrupt`` and
        leaves the estimator as it was; a fault during training (a non-finite or exploding
        loss) stops it with a :class:`~.training.TrainingStopped` warning and the last good
        weights, or a :class:`~.training.TrainingError` if there were none."""
        self._check_params()
        if (self.classify is None) != (label_col is None):
            raise ValueError("set classify='sequence' or 'point' and pass label_col= together.")
        if (static_cols or input_cols) and self.poisson:
            raise ValueError("covariates (static_cols, input_cols) do not work with poisson=True.")
        if self.compile and self.encoder != "odernn":
            raise ValueError(f"compile=True needs encoder='odernn', not {self.encoder!r}.")
        clean, targets, codec, scaler, covariates, series = training_series(
            df, id_col, time_col, target_cols, label_col, static_cols, input_cols, self.duplicates
        )
        labels: dict = {}
        if label_col is not None:
            series, classes = attach_labels(
                df, clean, series, id_col, time_col, label_col, self.classify
            )
            labels = {"classes_": classes, "label_col_": label_col}
        train, val = self._split(series)
        masks = dict(
            fraction_range=(self.min_observed, 1.0), extrapolate_prob=self.extrapolate_prob
        )
        val = RandomObservation(**masks, seed=self.seed + 1)(val)
        offset, scale = fit_time_scale(train)
        exposure = sum(float(s.times.max() - s.times.min()) for s in train) / scale
        counts = np.sum([s.mask.sum(0) for s in train], axis=0)
        hparams = self._module_hparams(
            len(targets),
            offset,
            scale,
            base_rates(counts, exposure),
            len(labels.get("classes_", [])),
            covariates,
        )
        dm = IrregularDataModule(
            train,
            val,
            batch_size=min(self.batch_size, len(train)),
            seed=self.seed,
            train_transform=RandomObservation(**masks, seed=self.seed),
        )
        with self._seeded():
            module = LatentODEModule(**hparams)
            if self.compile:
                module.model.encoder.compile_step()
            module.model.set_value_scale(0.0, 1.0)  # values are standardized by ``scaler_``
            trained = self._train(module, dm, bool(val), checkpoint_dir)
        self._commit(
            {
                **trained,
                **labels,
                "id_col_": id_col,
                "time_col_": time_col,
                "target_cols_": list(targets),
                "codec_": codec,
                "scaler_": scaler,
                "n_features_in_": len(targets),
                "n_series_": len(series),
                "covariates_": covariates,
                "module_": module,
                "noise_scale_": 1.0,
                "spread_scale_": 1.0,
            }
        )
        self.spread_scale_, self.noise_scale_ = self._calibrate_bands(val) if val else (1.0, 1.0)
        return self

    @torch.no_grad()
    def _calibrate_bands(self, val: list[Series], n_samples: int = 50) -> tuple[float, float]:
        """``(spread, noise)``: the factors on the posterior samples' spread and on the
        observation std that make the 90% bands cover 90% of the validation series' hidden
        cells (scored, not shown to the encoder, under the training masks) both inside
        the span each series shows (interpolation) and beyond it (extrapolation),
        each series counting once in each (:func:`~.bands.band_factors`, on the same
        exact predictive bands as ``predict``).

        A single learned std ends near the model's average error over all training masks,
        which is too wide where the encoder sees much, and one factor on it that covers
        90% of the gaps over-covers the forecasts, whose bands are mostly posterior
        spread (``benchmarks/README.md``). Each series weighs the same: pooling cells
        would let the sparsest masks (a series showing 10% of its rows hides 90%) set the
        factors for every task."""
        samples = self._samples(val, n_samples, calibrated=False)
        std = self._noise_std(calibrated=False)
        return band_factors(*hidden_cells(samples, std, val, n_samples))

    # ----------------------------------------------------------- persistence
    _fitted_schema = {
        "id_col": Field(str, Integral),
        "time_col": Field(str, Integral),
        "target_cols": Field(list),
        "codec": Field(dict),
        "scaler": Field(dict),
        "n_series": Field(Integral),
        "module_hparams": Field(dict),
        "noise_scale": Field(Real, required=False),
        "spread_scale": Field(Real, required=False),
        "classes": Field(list, None, required=False),
        "label_col": Field(str, Integral, None, required=False),
        "covariates": Field(dict, required=False),
    }

    def _fitted_state(self) -> dict:
        return {
            "id_col": self.id_col_,
            "time_col": self.time_col_,
            "target_cols": self.target_cols_,
            "codec": self.codec_.to_dict(),
            "scaler": scaler_to_dict(self.scaler_),
            "n_series": self.n_series_,
            "module_hparams": dict(self.module_.hparams),
            "noise_scale": self.noise_scale_,
            "spread_scale": self.spread_scale_,
            "classes": getattr(self, "classes_", None),
            "label_col": getattr(self, "label_col_", None),
            **({"covariates": self.covariates_.to_dict()} if self.covariates_ else {}),
        }

    def _restore(self, state: dict) -> None:
        self.id_col_, self.time_col_ = state["id_col"], state["time_col"]
        self.target_cols_ = list(state["target_cols"])
        self.codec_ = TimeCodec.from_dict(state["codec"])
        self.scaler_ = scaler_from_dict(state["scaler"])
        self.n_features_in_, self.n_series_ = len(self.target_cols_), state["n_series"]
        hparams = dict(state["module_hparams"])
        # files saved before the midpoint default encoded with rk4
        hparams.setdefault("encoder_method", "rk4")
        hparams.setdefault("encoder_gap_scale", 1.0)  # and the GRU encoder read raw gaps
        hparams.setdefault("encoder_cell", "gru")  # and both encoders updated with nn.GRUCell
        self.module_ = LatentODEModule.from_hparams(hparams)
        # 1: files saved before the factors were calibrated
        self.noise_scale_ = float(state.get("noise_scale", 1.0))
        self.spread_scale_ = float(state.get("spread_scale", 1.0))
        for name in ("noise_scale", "spread_scale"):
            value = getattr(self, name + "_")
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
        if len(self.target_cols_) != hparams.get("input_dim", len(self.target_cols_)):
            raise ValueError("target_cols and module_hparams.input_dim disagree")
        self.covariates_ = (
            CovariateSpec.from_dict(state["covariates"])
            if "covariates" in state
            else CovariateSpec()
        )
        if state.get("classes") is not None:
            self.classes_, self.label_col_ = state["classes"], state["label_col"]
