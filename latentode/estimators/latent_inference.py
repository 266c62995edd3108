"""What a fitted :class:`~latentode.LatentODE` answers: predictions with quantiles at any
times, interpolation, extrapolation, posterior-predictive samples, scores, class
probabilities and plots. Every series draws from its own keyed random streams
(:mod:`.sampling`), so its answers do not depend on the other series in the frame."""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..data.batch import Series
from ..data.queries import with_query_times
from ..frames import (
    QueryTimes,
    check_frame,
    check_quantiles,
    frame_to_series,
    given_times,
    horizon_units,
    predictions_frame,
    query_times,
)
from .bands import (
    add_noise,
    check_levels,
    level_bounds,
    mixture_quantiles,
    widen,
    with_levels,
)
from .params import DURATION, GRID, N_SAMPLES, checked
from .sampling import chunks, keyed_chunks, keyed_rng, seeded

__all__ = ["LatentInference"]

_CHUNK = 64  # series per inference batch


class LatentInference:
    """Inference methods of :class:`~latentode.LatentODE` (a mixin: it reads the fitted
    attributes ``module_``, ``codec_``, ``scaler_``, ``id_col_``, ``time_col_``,
    ``target_cols_``, ``noise_scale_``, ``spread_scale_`` and the ``seed`` parameter)."""

    # ------------------------------------------------------------ shared steps
    def _context(
        self, df: pd.DataFrame, covariates_from: pd.DataFrame | None = None
    ) -> tuple[pd.DataFrame, list[Series]]:
        """The checked frame and its series, with covariates read from ``df`` (or from
        ``covariates_from``, a frame with the same ids: ``evaluate`` hides targets but
        keeps the known inputs)."""
        self._check_fitted()
        clean, _ = check_frame(
            df,
            self.id_col_,
            self.time_col_,
            self.target_cols_,
            duplicates=self.duplicates,
            codec=self.codec_,
            fit_targets=self.target_cols_,
        )
        series = frame_to_series(
            clean, self.id_col_, self.time_col_, self.target_cols_, self.codec_, self.scaler_
        )
        cov = getattr(self, "covariates_", None)
        if cov:
            source = df if covariates_from is None else covariates_from
            series = cov.attach(series, source, self.id_col_, self.time_col_, self.codec_)
        return clean, series

    def _samples(
        self, series: list[Series], n_samples: int, *, calibrated: bool = True
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Weighted posterior samples of the mean function per series: ``(samples
        (K, n_i, D), weights (K,))`` (scaled; the weights are the self-normalised
        importance weights of :meth:`~latentode.models.LatentODEModel.posterior_samples`),
        the samples widened about their weighted mean by the calibrated
        ``spread_scale_`` unless ``calibrated=False``."""
        return list(self._iter_samples(series, n_samples, calibrated=calibrated))

    def _iter_samples(
        self, series: list[Series], n_samples: int, *, calibrated: bool = True
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """:meth:`_samples` one series at a time, solved in chunks of ``_CHUNK`` series: a
        caller that reduces each series' draws as they come holds one chunk's at a time."""
        model = self.module_.model
        spread = getattr(self, "spread_scale_", 1.0) if calibrated else 1.0
        for chunk, eps in keyed_chunks(series, _CHUNK, self.seed, n_samples, model.latent_dim):
            samples, log_w = model.posterior_samples(self._batch(chunk), n_samples, self._on(eps))
            samples = samples.double().cpu().numpy()
            weights = torch.softmax(log_w.double(), 0).cpu().numpy()
            for b, s in enumerate(chunk):
                w = weights[:, b]
                yield widen(samples[:, b, : len(s)], spread, w), w

    def _noise_std(self, calibrated: bool = True) -> np.ndarray:
        """The observation std per target ``(D,)`` in the scaled space, times the
        calibrated ``noise_scale_`` unless ``calibrated=False``."""
        std = self.module_.model.observation_std().double().cpu().numpy()
        return std * getattr(self, "noise_scale_", 1.0) if calibrated else std

    def _noisy(self, samples: np.ndarray, weights: np.ndarray, sid: Any) -> np.ndarray:
        """K draws from the posterior predictive of one series, ``(K, n, D)``: samples
        ``(K, n, D)`` resampled by their ``weights (K,)`` (multinomial) plus observation
        noise, from the series' own stream."""
        rng = keyed_rng(self.seed, ("noise", sid))
        picked = rng.choice(len(weights), size=len(weights), p=weights / weights.sum())
        return add_noise(samples[picked], self._noise_std(), rng)

    def _predict_at(
        self,
        series: list[Series],
        queries: dict[Any, np.ndarray],
        quantiles: Sequence[float],
        n_samples: int,
        given: dict[Any, Any] | None = None,
        levels: Sequence[float] = (),
    ) -> pd.DataFrame:
        """Predictions at ``queries`` (encoded); ``given``: the same times as the user gave
        them, for the output's time column (decoded from ``queries`` when ``None``).
        Quantiles are those of the posterior predictive mixture (no noise is drawn, so a
        point's band depends only on its series and time); ``levels`` add interval
        columns."""
        full, where = with_query_times(series, queries)
        samples = self._iter_samples(full, n_samples)  # reduced chunk by chunk below
        wanted = sorted({*quantiles, *(b for lv in levels for b in level_bounds(lv))})
        std = self._noise_std()
        means, qs = [], {q: [] for q in wanted}
        for (smp, w), idx in zip(samples, where, strict=True):
            smp = smp[:, idx]
            means.append(smp.mean(0) if np.all(w == w[0]) else np.tensordot(w, smp, 1))
            if wanted:
                bands = mixture_quantiles(smp, std, wanted, weights=w)
                for q, v in zip(wanted, bands, strict=True):
                    qs[q].append(v)
        frame = predictions_frame(
            [s.id for s in series],
            [queries.get(s.id, np.zeros(0)) for s in series],
            means,
            qs if wanted else None,
            id_col=self.id_col_,
            time_col=self.time_col_,
            target_cols=self.target_cols_,
            codec=self.codec_,
            scaler=self.scaler_,
            given_times=None if given is None else [given.get(s.id, []) for s in series],
        )
        return with_levels(frame, self.target_cols_, quantiles, levels)

    def _queries(self, times: Any, clean: pd.DataFrame, series: list[Series]) -> QueryTimes:
        """Encoded query times per series id, and the same as given (``.given``): the rows
        of each series for ``None``."""
        if times is None:
            return QueryTimes(
                {s.id: s.times for s in series},
                given_times(clean, self.id_col_, self.time_col_, self.codec_),
            )
        return query_times(
            times, [s.id for s in series], self.codec_, id_col=self.id_col_, time_col=self.time_col_
        )

    # ------------------------------------------------------------ public
    @checked(n_samples=N_SAMPLES)
    def predict(
        self,
        df: pd.DataFrame,
        times: Any = None,
        quantiles: Sequence[float] | None = (0.05, 0.5, 0.95),
        n_samples: int = 100,
        *,
        level: float | Sequence[float] | None = None,
    ) -> pd.DataFrame:
        """Posterior mean and quantiles at new times, conditioning on the rows of ``df``.

        Args:
            df: the series to condition on (seen in fit or new).
            times: an array (same times for every series), a dict ``{id: times}``, a
                DataFrame with id and time columns, or ``None`` for the rows of ``df``.
            quantiles: levels in (0, 1) of the posterior predictive (posterior samples of
                the mean function plus observation noise; exact given the samples).
            n_samples: posterior samples of z0.
            level: central interval levels in percent, e.g. ``(80, 90)``: adds
                ``<target>-lo-90`` / ``<target>-hi-90`` columns (neuralforecast's names).

        Returns:
            ``id, time, <target>, <target>_q<q>..., <target>-lo-<l>, <target>-hi-<l>...``
            sorted by id then time.
        """
        qs = check_quantiles(quantiles)
        levels = check_levels(level)
        clean, series = self._context(df)
        queries = self._queries(times, clean, series)
        return self._predict_at(series, queries, qs, n_samples, queries.given, levels)

    @checked(n_samples=N_SAMPLES)
    def interpolate(
        self,
        df: pd.DataFrame,
        quantiles: Sequence[float] | None = (0.05, 0.5, 0.95),
        n_samples: int = 100,
        *,
        level: float | Sequence[float] | None = None,
    ) -> pd.DataFrame:
        """Every row of ``df`` (sorted by id, time) with NaN target cells filled by the
        posterior mean; observed cells keep their values; quantile (and ``level``)
        columns for all cells."""
        qs, levels = check_quantiles(quantiles), check_levels(level)
        clean, series = self._context(df)
        queries = self._queries(None, clean, series)
        pred = self._predict_at(series, queries, qs, n_samples, queries.given, levels)
        out = pred.copy()
        for c in self.target_cols_:
            observed = clean[c].to_numpy(dtype=np.float64)
            out[c] = np.where(np.isnan(observed), pred[c].to_numpy(), observed)
        return out

    @checked(horizon=DURATION, n_points=N_SAMPLES, n_samples=N_SAMPLES)
    def extrapolate(
        self,
        df: pd.DataFrame,
        horizon: Any,
        n_points: int = 20,
        quantiles: Sequence[float] | None = (0.05, 0.5, 0.95),
        n_samples: int = 100,
        *,
        level: float | Sequence[float] | None = None,
    ) -> pd.DataFrame:
        """Forecast ``n_points`` evenly spaced times in ``(last, last + horizon]`` after each
        series' last row. ``horizon`` is a duration in time units (a ``Timedelta`` or a
        string such as ``"7D"`` for datetime times); ``level`` as in :meth:`predict`."""
        h = horizon_units(horizon, self.codec_)
        qs, levels = check_quantiles(quantiles), check_levels(level)
        _, series = self._context(df)
        steps = np.arange(1, n_points + 1) / n_points * h
        queries = {s.id: s.times.max() + steps for s in series}
        return self._predict_at(series, queries, qs, n_samples, None, levels)

    @checked(n_samples=N_SAMPLES)
    def sample(self, df: pd.DataFrame, times: Any = None, n_samples: int = 50) -> pd.DataFrame:
        """Draws from the posterior predictive (z0 samples through the ODE plus observation
        noise): a long frame ``id, time, sample, <targets>``."""
        clean, series = self._context(df)
        queries = self._queries(times, clean, series)
        full, where = with_query_times(series, queries)
        frames = [pd.DataFrame({self.id_col_: [], self.time_col_: [], "sample": []})]
        for (smp, w), idx, s in zip(self._samples(full, n_samples), where, series, strict=True):
            if not len(idx):  # a times dict or frame without this id
                continue
            noisy = self._noisy(smp[:, idx], w, s.id)
            k, n, d = noisy.shape
            values = self.scaler_.inverse_transform(noisy.reshape(k * n, d))
            frame = pd.DataFrame({self.id_col_: [s.id] * (k * n)})
            given = pd.Series(queries.given[s.id]).array
            frame[self.time_col_] = given.take(np.tile(np.arange(n), k))
            frame["sample"] = np.repeat(np.arange(k), n)
            for j, c in enumerate(self.target_cols_):
                frame[c] = values[:, j]
            frames.append(frame)
        out = pd.concat(frames[1:], ignore_index=True) if len(frames) > 1 else frames[0]
        return out.reindex(columns=[self.id_col_, self.time_col_, "sample", *self.target_cols_])

    @torch.no_grad()
    @checked(n_samples=N_SAMPLES)
    def score(self, df: pd.DataFrame, n_samples: int = 100) -> float:
        """Mean log-likelihood per observed value of ``df`` in data units, ``-nll`` of
        :meth:`score_details` (the IWAE estimate of log p(x) over z0): one float, higher
        is better, so scikit-learn's ``cross_val_score`` and ``GridSearchCV`` can rank
        fits. For errors next to baselines use :meth:`evaluate`."""
        return -self.score_details(df, n_samples)["nll"]

    @torch.no_grad()
    @checked(n_samples=N_SAMPLES)
    def score_details(self, df: pd.DataFrame, n_samples: int = 100) -> dict:
        """Fit quality on ``df`` in original units.

        Returns ``{"mse": {target: ..., "overall": ...}, "mae": {...}, "nll": ...,
        "n_observed": ...}``: errors of the posterior mean at the observed cells (the
        encoder reads all of ``df``; ``overall`` pools standardized errors so targets of
        different units count alike) and ``nll`` = -log p(x) per observed value,
        estimated by importance sampling over z0 (IWAE, ``n_samples`` samples). With
        ``poisson=True`` the likelihood is that of the values and their observation times.
        """
        clean, series = self._context(df)
        pred = self._predict_at(series, {s.id: s.times for s in series}, (), n_samples)
        truth = clean[self.target_cols_].to_numpy(dtype=np.float64)
        mean = pred[self.target_cols_].to_numpy(dtype=np.float64)
        obs = ~np.isnan(truth)
        err = np.where(obs, mean - truth, 0.0)
        scale = np.asarray(self.scaler_.scale_, dtype=np.float64)
        res: dict[str, Any] = {"mse": {}, "mae": {}}
        for j, c in enumerate(self.target_cols_):
            n = obs[:, j].sum()
            res["mse"][c] = float((err[:, j] ** 2).sum() / n) if n else float("nan")
            res["mae"][c] = float(np.abs(err[:, j]).sum() / n) if n else float("nan")
        z = err / scale
        res["mse"]["overall"] = float((z**2).sum() / obs.sum())
        res["mae"]["overall"] = float(np.abs(z).sum() / obs.sum())
        model = self.module_.model
        total = 0.0
        with seeded(self.seed):
            for chunk in chunks(series, _CHUNK):
                total += float(model.log_marginal(self._batch(chunk), n_samples).double().sum())
        n_obs = int(obs.sum())
        log_jac = float((obs * np.log(scale)).sum())
        res["nll"] = -(total - log_jac) / n_obs
        res["n_observed"] = n_obs
        return res

    @torch.no_grad()
    @checked(n_samples=N_SAMPLES)
    def predict_proba(self, df: pd.DataFrame, n_samples: int = 50) -> pd.DataFrame:
        """Class probabilities averaged over posterior samples: one row per series
        (``classify="sequence"``) or per row of ``df`` (``"point"``); columns
        ``p_<class>``."""
        self._check_fitted()
        if self.classify is None:
            raise ValueError("this model was fitted without classify=; no label head.")
        k = n_samples
        _, series = self._context(df)
        model = self.module_.model
        cols = [f"p_{c}" for c in self.classes_]
        rows = []
        for chunk, eps in keyed_chunks(series, _CHUNK, self.seed, k, model.latent_dim):
            probs = model.predict_labels(self._batch(chunk), k, self._on(eps))
            probs = probs.double().cpu().numpy()
            if probs.ndim == (1 if self.classify == "sequence" else 2):  # binary: P(class 1)
                probs = np.stack([1 - probs, probs], -1)
            for b, s in enumerate(chunk):
                if self.classify == "sequence":
                    frame = pd.DataFrame([probs[b]], columns=cols)
                else:
                    frame = pd.DataFrame(probs[b, : len(s)], columns=cols)
                    frame.insert(0, self.time_col_, self.codec_.decode_values(s.times))
                rows.append(frame.assign(**{self.id_col_: s.id}))
        out = pd.concat(rows, ignore_index=True)
        first = [self.id_col_] + ([self.time_col_] if self.classify == "point" else [])
        return out[first + cols]

    @checked(n_samples=N_SAMPLES, n_grid=GRID, max_series=N_SAMPLES, horizon=DURATION + [None])
    def plot(
        self,
        df: pd.DataFrame,
        ids: Sequence[Hashable] | None = None,
        *,
        ax: Any = None,
        truth: pd.DataFrame | None = None,
        panels: str = "target",
        quantiles: tuple[float, float] = (0.05, 0.95),
        n_samples: int = 100,
        n_grid: int = 200,
        horizon: Any = None,
        max_series: int = 4,
    ):
        """Observed points, posterior mean and a quantile band per target and series.

        ``ids`` selects series (default: the first ``max_series``); ``horizon`` extends the
        curves past each series' last row; ``truth`` (a frame with id, time and target
        columns, e.g. held-out rows) is drawn as hollow markers; ``panels="series"`` gives
        each series its own row of panels; ``ax`` draws into given axes (one per panel).
        The band is the posterior predictive's (exact quantiles, smooth in time). Returns
        a matplotlib ``Figure``.
        """
        from .plots import plot_series

        clean, series = self._context(df)
        by_id = {s.id: s for s in series}
        ids = [s.id for s in series[:max_series]] if ids is None else list(ids)
        missing = [i for i in ids if i not in by_id]
        if missing:
            from ..frames import DataFrameError

            raise DataFrameError(f"plot: ids {missing!r} are not in the {self.id_col_!r} column.")
        if truth is not None:
            truth, _ = check_frame(
                truth, self.id_col_, self.time_col_, self.target_cols_, codec=self.codec_,
                allow_empty_series=True,
            )  # fmt: skip
        chosen = [by_id[i] for i in ids]
        extra = horizon_units(horizon, self.codec_) if horizon is not None else 0.0
        span = {s.id: (s.times.min(), s.times.max() + extra) for s in chosen}
        if truth is not None:  # the curves cover the held-out points too
            t_truth = self.codec_.encode(truth[self.time_col_])
            for s in chosen:
                mine = t_truth[(truth[self.id_col_] == s.id).to_numpy()]
                if len(mine):
                    a, b = span[s.id]
                    span[s.id] = (min(a, mine.min()), max(b, mine.max()))
        grids = {s.id: np.linspace(*span[s.id], n_grid) for s in chosen}
        lo, hi = sorted(quantiles)
        pred = self._predict_at(chosen, grids, (lo, hi), n_samples)
        return plot_series(
            pred, clean, ids, self.id_col_, self.time_col_, self.target_cols_, (lo, hi),
            ax=ax, truth=truth, panels=panels,
        )  # fmt: skip
