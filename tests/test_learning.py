"""A short, seeded training run must beat per-series linear interpolation.

The set is the periodic toy on a 2-unit window (1-2 cycles, 50 points per series) with
10% of the points visible to the encoder; scored on every point. Figures measured on
2 CPU cores are in CHANGELOG / the issue note.
"""

import lightning as L
import pytest
import torch

from latentode.data import subsample_observed
from latentode.datasets import periodic_series
from latentode.naive import last_value, linear_interpolation
from latentode.training import IrregularDataModule, LatentODEModule, masked_errors
from tests.learning_runs import fit_and_predict as _fit_and_predict


def test_latent_ode_beats_linear_interpolation(tmp_path):
    L.seed_everything(0, verbose=False)
    series = periodic_series(400, 50, 2.0, seed=0)
    train = subsample_observed(series[:320], 0.1, seed=1)
    test = subsample_observed(series[320:], 0.1, seed=2)
    dm = IrregularDataModule(train, batch_size=50, seed=0)
    module = LatentODEModule(
        1, 6, training=dict(optimizer="adamax", lr=0.03, kl_delay=5, kl_rate=0.95)
    )
    # 150 steps: 0.128 against linear 0.280 on 2026-12-07 (300 steps gave 0.102)
    batch, pred = _fit_and_predict(module, dm, test, 150, tmp_path)
    model_mse = float(masked_errors(batch, pred)["mse"][0])
    linear_mse = float(masked_errors(batch, linear_interpolation(batch))["mse"][0])
    locf_mse = float(masked_errors(batch, last_value(batch))["mse"][0])
    print(
        f"\ninterpolation test MSE: latent ODE {model_mse:.4f}, linear {linear_mse:.4f}, "
        f"last value {locf_mse:.4f}"
    )
    assert model_mse < linear_mse
    assert model_mse < locf_mse


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


def _gru_extrapolation_mse(
    tmp_path, fraction: float, seed: int, optimization=ADAMAX, **model_kwargs
) -> tuple[float, float]:
    """A GRU-encoder VAE (z0 at the first scored time) extrapolating the periodic toy's
    second half from ``fraction`` of the first half's points (data seed ``seed``)."""
    from latentode.data.protocols import split_extrapolation

    series = split_extrapolation(periodic_series(500, 100, 5.0, seed=seed), 0.5)
    return _quick_cell_mse(
        tmp_path, series, fraction, seed, optimization, encoder="rnn",
        decoder_start="scored", **model_kwargs,
    )  # fmt: skip


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
    0.202-0.332. Here on one draw of that cell (seed 0, no validation passes); the
    ``nn.GRUCell`` encoder fails the same bar, which
    :func:`test_squashed_candidate_encoder_stays_near_the_plateau_from_10_percent`
    checks."""
    linear, constant_mse = _odernn_sparse_interpolation_mse(tmp_path, None)
    print(f"\nODE-RNN encoder, interpolation from 10%: linear candidate {linear:.4f}, "
          f"constant {constant_mse:.4f}")  # fmt: skip
    assert linear < 0.7 * constant_mse


@pytest.mark.ablation
def test_squashed_candidate_encoder_stays_near_the_plateau_from_10_percent(tmp_path):
    """The ablation of the test above: the same run with ``nn.GRUCell`` fails its bar
    (0.397 on 2026-12-07, the constant predictor 0.503, the bar 0.352)."""
    squashed, constant_mse = _odernn_sparse_interpolation_mse(tmp_path, "gru")
    print(f"\nODE-RNN encoder, interpolation from 10%: nn.GRUCell {squashed:.4f}, "
          f"constant {constant_mse:.4f}")  # fmt: skip
    assert squashed >= 0.7 * constant_mse


def test_gru_encoder_reading_towards_z0_extrapolates_from_10_percent(tmp_path):
    """Issue 9 item 6: extrapolating with z0 at the first scored time, after every point
    the encoder reads, the GRU encoder read the points backwards and was told z0 sat at
    the series' first time; the Latent ODE then stayed near the constant predictor in the
    quick budget's 10% cell (0.415 and 0.447 on data seeds 0 and 1 in 300 steps, the
    constant 0.51; 0.456 in ``benchmarks/paper_tables.py``). Reading towards z0 (earliest
    to latest, ending at the point nearest z0, with the gap to z0's own time) it reached
    0.223 and 0.273. On seed 0 here it must be below 0.6 of the constant predictor."""
    mse, constant_mse = _gru_extrapolation_mse(tmp_path, 0.1, 0, {})
    print(f"\nLatent ODE (GRU encoder), extrapolation from 10%: {mse:.4f}, "
          f"constant {constant_mse:.4f}")  # fmt: skip
    assert mse < 0.6 * constant_mse


def test_adam_default_takes_the_gru_vae_off_the_plateau_from_10_percent(tmp_path):
    """Issue 9 item 6: with Adamax at 1e-2 (the default before) the RNN-VAE stayed near
    the constant predictor's plateau in the quick budget's 10% cells (48.8 x1e-2 in
    ``benchmarks/paper_tables.py``'s extrapolation cell, seed 0); with the GRU encoder's
    default since, Adam at 1e-2 with ``beta2=0.9``, 33.9. On this draw of that cell (seed
    0, no validation passes) the default gave 0.317 when written and Adamax 0.460 (with
    ``optimization=ADAMAX``, not run here to keep the suite short), the constant predictor
    0.513: the default must be below 0.75 of the constant's, which Adamax is not. (One
    draw is noisy: on the same draw from 20% of the points Adamax was the lower, 0.240
    against 0.292; from 10% in interpolation they tied, 0.381 against 0.368.) Since the
    encoder reads towards z0 (the test above) the default gives 0.233 here."""
    default, constant_mse = _gru_extrapolation_mse(tmp_path, 0.1, 0, {}, decoder="rnn")
    print(f"\nRNN-VAE, extrapolation from 10%: default {default:.4f}, "
          f"constant {constant_mse:.4f}")  # fmt: skip
    assert default < 0.75 * constant_mse
