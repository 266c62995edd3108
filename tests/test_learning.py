"""A short, seeded training run must beat per-series linear interpolation.

The set is the periodic toy on a 2-unit window (1-2 cycles, 50 points per series) with
10% of the points visible to the encoder; scored on every point. Figures measured on
2 CPU cores are in CHANGELOG / the issue note.
"""

import lightning as L
import torch

from latentode.data import collate, subsample_observed
from latentode.datasets import periodic_series
from latentode.naive import last_value, linear_interpolation
from latentode.training import IrregularDataModule, LatentODEModule, masked_errors


def _fit_and_predict(module, dm, test, steps, tmp_path):
    """Train ``steps`` optimiser steps without validation; the test batch and the
    posterior-mean prediction (10 samples) on it."""
    trainer = L.Trainer(
        max_steps=steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        limit_val_batches=0,
    )
    trainer.fit(module, dm)
    batch = collate(test)
    module.eval()
    with torch.no_grad():
        return batch, module(batch, n_samples=10).mean(0)


def test_latent_ode_beats_linear_interpolation(tmp_path):
    L.seed_everything(0, verbose=False)
    series = periodic_series(400, 50, 2.0, seed=0)
    train = subsample_observed(series[:320], 0.1, seed=1)
    test = subsample_observed(series[320:], 0.1, seed=2)
    dm = IrregularDataModule(train, batch_size=50, seed=0)
    module = LatentODEModule(
        1, 6, training=dict(optimizer="adamax", lr=0.03, kl_delay=5, kl_rate=0.95)
    )
    batch, pred = _fit_and_predict(module, dm, test, 300, tmp_path)
    model_mse = float(masked_errors(batch, pred)["mse"][0])
    linear_mse = float(masked_errors(batch, linear_interpolation(batch))["mse"][0])
    locf_mse = float(masked_errors(batch, last_value(batch))["mse"][0])
    print(
        f"\ninterpolation test MSE: latent ODE {model_mse:.4f}, linear {linear_mse:.4f}, "
        f"last value {locf_mse:.4f}"
    )
    assert model_mse < linear_mse
    assert model_mse < locf_mse


def _periodic_window(n: int, seed: int):
    """The paper's periodic toy on its 5-unit window: 100 times shared by all series."""
    import numpy as np

    from latentode.data.batch import Series

    rng = np.random.default_rng(seed)
    times = np.sort(np.concatenate([[0.0], rng.uniform(0.0, 5.0, 99)]))
    out = []
    for i in range(n):
        f, c = rng.uniform(0.4, 0.8), rng.normal(1.0, 0.1)
        y = np.sin(2 * np.pi * f * times) + c + 0.01 * rng.uniform(0.0, 1.0, 100)
        out.append(Series(times=times, values=y[:, None], id=i))
    return out


def _paper_window_mse(
    tmp_path, steps: int, seen: float = 0.5, **model_kwargs
) -> tuple[float, float]:
    """Reference-like settings on the paper's window (seed 3; Adamax at 1e-2, the
    published code's optimiser), the encoder seeing a fraction ``seen`` of each series'
    points (fresh for every training batch): the posterior mean's test MSE after
    ``steps`` steps, and the constant predictor's."""
    from latentode.data.protocols import RandomObservation

    L.seed_everything(3, verbose=False)
    series = _periodic_window(500, seed=3)
    train, test = series[:400], subsample_observed(series[400:], seen, seed=4)
    observe_half = RandomObservation((seen, seen), extrapolate_prob=0.0, seed=5)
    dm = IrregularDataModule(train, batch_size=50, seed=0, train_transform=observe_half)
    scale = float(dm.value_scale[0])
    module = LatentODEModule(
        1, 10, hidden_dim=20, units=100, depth=2, enc_units=100, obs_std=0.01 / scale,
        training=dict(optimizer="adamax", lr=1e-2), **model_kwargs,
    )  # fmt: skip
    batch, pred = _fit_and_predict(module, dm, test, steps, tmp_path)
    model_mse = float(masked_errors(batch, pred)["mse"][0])
    constant = batch.values[batch.target_mask > 0].mean()
    constant_mse = float(masked_errors(batch, torch.full_like(pred, float(constant)))["mse"][0])
    return model_mse, constant_mse


def test_latent_ode_leaves_the_plateau_on_the_paper_window(tmp_path):
    """Reference-like settings (latent 10, two hidden layers of 100 units, Adamax 1e-2,
    fixed observation std, half the points seen): the posterior mean must leave the
    constant-predictor plateau within 320 steps. Without the value scaling and the ELBO
    default (issue 9; identity scaling, IWAE, RK4 encoder) this run ends at 0.458, on the
    plateau (240 steps); with them 0.116 after 240 steps (midpoint encoder; 160 steps were
    enough with RK4, not with midpoint, which left it later on this seed and earlier in the
    800-series run). The step at which it leaves moves with the CPU's rounding: on
    2026-12-06, on another machine, the same code gave 0.331 after 240 steps, 0.043 after
    280 and 0.020 after 320 (constant predictor 0.509), hence the 320."""
    model_mse, constant_mse = _paper_window_mse(tmp_path, 320, enc_depth=2)
    print(f"\nperiodic window: latent ODE {model_mse:.4f}, constant {constant_mse:.4f}")
    assert model_mse < 0.5 * constant_mse


def test_mtan_latent_ode_leaves_the_plateau_on_the_paper_window(tmp_path):
    """The same run with the multi-time attention encoder (issue 10) leaves the plateau
    in 200 steps: 0.077 when written, where the ODE-RNN encoder was at 0.233 after the
    same 200 steps. The step at which it leaves moves with the CPU's rounding: on
    2026-12-06, on a CPU with AVX2 and no AVX-512, the same code gave 0.149 (constant
    predictor 0.509), so the threshold is 0.4 of the constant's (0.204), as for the GRU
    encoder below, not a quarter."""
    model_mse, constant_mse = _paper_window_mse(tmp_path, 200, encoder="mtan")
    print(f"\nperiodic window, mTAN encoder: {model_mse:.4f}, constant {constant_mse:.4f}")
    assert model_mse < 0.4 * constant_mse


def test_gru_encoder_latent_ode_leaves_the_plateau_on_the_paper_window(tmp_path):
    """The Latent ODE with the GRU encoder (``encoder="rnn"``) on the same run: with the
    time gaps it reads in units of the median gap (``encoder_gap_scale=20``, issue 9) it
    gets to 0.103 in 300 steps; reading raw gaps (``encoder_gap_scale=1``, the earlier
    encoder) it was at 0.264, the constant predictor at 0.509 (threshold 0.204). (With
    Hermite's interpolation, the default until 2026-12-04, 240 steps gave 0.138-0.152
    against 0.295; with the cubic default 240 steps gave 0.261: this seed leaves the
    plateau a little later.)"""
    model_mse, constant_mse = _paper_window_mse(tmp_path, 300, encoder="rnn")
    print(f"\nperiodic window, GRU encoder: {model_mse:.4f}, constant {constant_mse:.4f}")
    assert model_mse < 0.4 * constant_mse


#: the optimiser the tests below were written with (the default before issue 9 item 6)
ADAMAX = {"optimizer": "adamax", "lr": 1e-2}


class _FreshFraction:
    """Training transform: a new random ``fraction`` of each series' readable points."""

    def __init__(self, fraction: float, seed: int) -> None:
        import numpy as np

        self.fraction, self.rng = fraction, np.random.default_rng(seed)

    def __call__(self, series):
        return subsample_observed(series, self.fraction, int(self.rng.integers(2**31)))


def _quick_cell_mse(
    tmp_path, series, fraction: float, seed: int, optimization=ADAMAX, **model_kwargs
):
    """A cell of the quick paper budget: a Latent ODE (latent 10, one hidden layer of 100
    units, learned observation std) trained 300 steps on ``series[:400]``, its encoder
    reading a fresh ``fraction`` of each series' readable points at every batch, tested
    on ``series[450:]`` with a fixed ``fraction``: the posterior mean's test MSE and the
    constant predictor's. ``optimization``: the training fields ``optimizer`` and ``lr``
    (``{}``: the module's defaults for its encoder)."""
    train, test = series[:400], subsample_observed(series[450:], fraction, seed=seed)
    L.seed_everything(seed, verbose=False)
    dm = IrregularDataModule(
        train, batch_size=50, seed=seed, train_transform=_FreshFraction(fraction, seed + 1)
    )
    module = LatentODEModule(
        1, 10, hidden_dim=20, units=100, depth=1,
        training=dict(kl_delay=5, kl_rate=0.95, **optimization), **model_kwargs,
    )  # fmt: skip
    batch, pred = _fit_and_predict(module, dm, test, 300, tmp_path)
    constant = batch.values[batch.target_mask > 0].mean()
    constant_mse = float(masked_errors(batch, torch.full_like(pred, float(constant)))["mse"][0])
    return float(masked_errors(batch, pred)["mse"][0]), constant_mse


def _gru_extrapolation_mse(tmp_path, gap_scale) -> tuple[float, float]:
    """The GRU-encoder Latent ODE (z0 at the first scored time) extrapolating the
    periodic toy's second half from 20% of the first half's points."""
    from latentode.data.protocols import split_extrapolation

    series = split_extrapolation(periodic_series(500, 100, 5.0, seed=1), 0.5)
    return _quick_cell_mse(
        tmp_path, series, 0.2, 1, encoder="rnn", decoder_start="scored",
        encoder_gap_scale=gap_scale,
    )  # fmt: skip


def test_gru_encoder_fitted_gap_factor_leaves_the_plateau_from_few_points(tmp_path):
    """Issue 9 item 6: the GRU encoder reading 20% of the first half's points sees gaps
    about 4x the median gap between all points (median; 10x at the 90th percentile), so
    the fixed factor of 20 fed its gates inputs far above 1 and the model stayed on the
    plateau (0.483-0.509 over three data seeds in ``benchmarks/paper_tables.py``'s cell,
    about the constant predictor's). With
    the factor fitted to the gaps it reads (``encoder_gap_scale="fit"``, the default) the
    same cell reached 0.289-0.378. Here both run on one draw of that cell (seed 1, no
    validation passes): 0.357 fitted against 0.478 fixed when written, the constant
    predictor 0.510. Fitted must be below 0.8 of the constant's and 0.85 of the fixed."""
    fitted, constant_mse = _gru_extrapolation_mse(tmp_path / "fit", "fit")
    fixed, _ = _gru_extrapolation_mse(tmp_path / "fixed", 20.0)
    print(f"\nGRU encoder, extrapolation from 20%: fitted {fitted:.4f}, fixed {fixed:.4f}, "
          f"constant {constant_mse:.4f}")  # fmt: skip
    assert fitted < 0.8 * constant_mse
    assert fitted < 0.85 * fixed


def _odernn_sparse_interpolation_mse(tmp_path, cell) -> tuple[float, float]:
    """The ODE-RNN-encoder Latent ODE interpolating the periodic toy from 10% of each
    series' points, every point scored."""
    series = periodic_series(500, 100, 5.0, seed=0)
    return _quick_cell_mse(tmp_path, series, 0.1, 0, enc_units=100, encoder_cell=cell)


def test_linear_candidate_encoder_leaves_the_plateau_from_10_percent(tmp_path):
    """Issue 9 item 6: from 10% of the points (about 10 per series, 0.5 time units apart)
    the ODE-RNN encoder with ``nn.GRUCell`` kept the Latent ODE on the constant
    predictor's plateau for 300 steps (0.382-0.396 over three data seeds in
    ``benchmarks/paper_tables.py``'s cell); with the candidate state not squashed by
    ``tanh`` (``encoder_cell="linear_gru"``, the default since) the same cell reached
    0.202-0.332. Both run here on one draw of that cell (seed 0, no validation passes)."""
    linear, constant_mse = _odernn_sparse_interpolation_mse(tmp_path / "linear", None)
    squashed, _ = _odernn_sparse_interpolation_mse(tmp_path / "gru", "gru")
    print(f"\nODE-RNN encoder, interpolation from 10%: linear candidate {linear:.4f}, "
          f"nn.GRUCell {squashed:.4f}, constant {constant_mse:.4f}")  # fmt: skip
    assert linear < 0.7 * constant_mse
    assert linear < 0.8 * squashed


def _rnn_vae_interpolation_mse(tmp_path, optimization) -> tuple[float, float]:
    """The RNN-VAE (GRU encoder and decoder) interpolating the periodic toy from 20% of
    each series' points, every point scored."""
    series = periodic_series(500, 100, 5.0, seed=0)
    return _quick_cell_mse(
        tmp_path, series, 0.2, 0, optimization, encoder="rnn", decoder="rnn"
    )  # fmt: skip


def test_adam_default_takes_the_gru_vae_further_in_the_quick_budget(tmp_path):
    """Issue 9 item 6: with Adamax at 1e-2 (the default before) the GRU-encoder VAEs
    were at or near the plateau from 20% of the points after 300 steps (RNN-VAE
    28.3-35.4 ×1e-2 over three data seeds in ``benchmarks/paper_tables.py``'s cell); with
    the GRU encoder's default since, Adam at 1e-2, 17.1-22.2. On this draw of that cell
    (seed 0) the default gave 0.198 when written and Adamax 0.295 (with
    ``optimization=ADAMAX``, not run here to keep the suite short), the constant predictor
    0.503: the default must be below half the constant's, which Adamax is not."""
    default, constant_mse = _rnn_vae_interpolation_mse(tmp_path, {})
    print(f"\nRNN-VAE, interpolation from 20%: default {default:.4f}, "
          f"constant {constant_mse:.4f}")  # fmt: skip
    assert default < 0.5 * constant_mse
