"""The Latent ODE leaves the constant predictor's plateau on the paper's periodic window
(issue 9 item 7), with each encoder. Separate from ``test_learning.py`` so the two long
files run on two workers (``pyproject.toml``: ``--dist loadfile``)."""

import lightning as L
import torch

from latentode.data import subsample_observed
from latentode.training import IrregularDataModule, LatentODEModule, masked_errors
from tests.learning_runs import fit_and_predict as _fit_and_predict

#: the published code's optimiser
ADAMAX = {"optimizer": "adamax", "lr": 1e-2}


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
    tmp_path, steps: int, seen: float = 0.5, optimization=ADAMAX, **model_kwargs
) -> tuple[float, float]:
    """Reference-like settings on the paper's window (seed 3; by default Adamax at 1e-2,
    the published code's optimiser; ``optimization={}``: latentode's default for the
    encoder), the encoder seeing a fraction ``seen`` of each series'
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
        training=dict(optimization), **model_kwargs,
    )  # fmt: skip
    batch, pred = _fit_and_predict(module, dm, test, steps, tmp_path)
    model_mse = float(masked_errors(batch, pred)["mse"][0])
    constant = batch.values[batch.target_mask > 0].mean()
    constant_mse = float(masked_errors(batch, torch.full_like(pred, float(constant)))["mse"][0])
    return model_mse, constant_mse


def test_latent_ode_leaves_the_plateau_on_the_paper_window(tmp_path):
    """Reference-like settings (latent 10, two hidden layers of 100 units, fixed
    observation std, half the points seen) with latentode's default optimiser for the
    ODE-RNN encoder (Adam at 3e-3, ``beta2=0.9``): the posterior mean must leave the
    constant-predictor plateau within 200 steps. It gave 0.179 after 200 steps on
    2026-12-07 (0.234 after 120, 0.220 after 160; the constant predictor 0.509). Before
    issue 9 (identity scaling, IWAE, RK4 encoder) this run ended on the plateau, 0.458
    after 240 steps with Adamax; with the published optimiser (Adamax 1e-2) today's code
    needs 280-320 steps, a number that moved with the CPU's rounding (0.331 after 240
    steps on one machine, 0.116 on another)."""
    model_mse, constant_mse = _paper_window_mse(tmp_path, 200, optimization={}, enc_depth=2)
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
