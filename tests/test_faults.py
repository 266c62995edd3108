"""Training faults (issue 12): divergence and non-finite losses stop with a clear error or
the last good weights, Ctrl-C raises KeyboardInterrupt with the estimator unchanged, user
callbacks add to the estimator's own, and a killed training resumes from checkpoint_dir."""

import json
import signal
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from latentode import LatentODE
from latentode.datasets import periodic
from latentode.estimators.faults import TrainingError, TrainingStopped

SMALL = dict(latent_dim=3, hidden_dim=6, units=16, batch_size=8, verbose=False, seed=0)


def _data():
    return periodic(24, 15, irregular=True, seed=0, noise_std=0.05)


class PoisonAt(Callback):
    """Sets one weight to NaN at the start of epoch ``epoch`` (a fault mid-training)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, module) -> None:
        if trainer.current_epoch == self.epoch:
            with torch.no_grad():
                next(module.parameters()).view(-1)[0] = float("nan")


class InterruptAt(Callback):
    """Raises KeyboardInterrupt (what Ctrl-C does) in batch 1 of epoch ``epoch``."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == 1:
            raise KeyboardInterrupt


class Recorder(Callback):
    def __init__(self) -> None:
        self.epochs: list[int] = []

    def on_train_epoch_end(self, trainer, module) -> None:
        self.epochs.append(trainer.current_epoch)


def _quiet_fit(model, df):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*optimisation steps.*")
        return model.fit(df)


def test_divergence_from_the_start_is_a_training_error_naming_the_learning_rate():
    """A first step of about 1e6 per weight leaves the solver unable to advance; the error
    names the learning rate at once (0.2 s). (At lr=1e3 the weights stay finite and the
    decoder turns stiff: the next step's solve took 7660 dopri5 steps and about 40 s on
    2026-12-07 before its gradient overflowed, with the same error.)"""
    df = _data()
    model = LatentODE(max_epochs=5, lr=1e6, **SMALL)
    with pytest.raises(TrainingError, match=r"lr=") as err:
        _quiet_fit(model, df)
    # how it shows depends on the encoder: a loss that blows up, or (the linear-candidate
    # ODE-RNN encoder, whose state is not squashed) a gradient that overflows first
    assert any(w in str(err.value) for w in ("diverg", "blew up", "non-finite"))
    assert not hasattr(model, "module_") and not hasattr(model, "scaler_")


def test_non_finite_loss_is_a_training_error_naming_the_observation_std():
    model = LatentODE(max_epochs=3, obs_std=1e-30, **SMALL)
    with pytest.raises(TrainingError, match=r"obs_std"):
        _quiet_fit(model, _data())
    assert not hasattr(model, "module_")


def test_a_fault_mid_training_keeps_the_best_good_epoch_exactly():
    df = _data()
    poisoned = LatentODE(max_epochs=8, trainer_kwargs={"callbacks": [PoisonAt(3)]}, **SMALL)
    with pytest.warns(TrainingStopped, match=r"epoch 3.*Kept the weights after epoch [0-2]"):
        _quiet_fit(poisoned, df)
    # the same training stopped by max_epochs after epoch 2: the same best weights
    clean = _quiet_fit(LatentODE(max_epochs=3, **SMALL), df)
    for (k, a), b in zip(
        poisoned.module_.state_dict().items(), clean.module_.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), k
    assert poisoned.best_val_loss_ == pytest.approx(clean.best_val_loss_)
    pred = poisoned.predict(df)
    assert np.isfinite(pred["value"]).all()


def test_a_fault_without_validation_keeps_the_last_confirmed_epoch():
    model = LatentODE(
        max_epochs=6, val_size=0.0, trainer_kwargs={"callbacks": [PoisonAt(3)]}, **SMALL
    )
    with pytest.warns(TrainingStopped, match=r"after epoch 1 \(the last good"):
        _quiet_fit(model, _data())
    assert all(torch.isfinite(v).all() for v in model.module_.state_dict().values())


def test_ctrl_c_raises_keyboard_interrupt_and_leaves_the_estimator_unchanged():
    df = _data()
    handler = signal.getsignal(signal.SIGINT)
    fresh = LatentODE(max_epochs=4, trainer_kwargs={"callbacks": [InterruptAt(1)]}, **SMALL)
    with pytest.raises(KeyboardInterrupt):
        _quiet_fit(fresh, df)
    assert not any(k.endswith("_") and not k.startswith("_") for k in vars(fresh))
    assert signal.getsignal(signal.SIGINT) is handler

    fitted = _quiet_fit(LatentODE(max_epochs=2, **SMALL), df)
    before = fitted.predict(df)
    state = {k: v.clone() for k, v in fitted.module_.state_dict().items()}
    fitted.set_params(trainer_kwargs={"callbacks": [InterruptAt(0)]}, max_epochs=4)
    with pytest.raises(KeyboardInterrupt):
        _quiet_fit(fitted, df.assign(value=df["value"] * 3))
    assert all(torch.equal(v, state[k]) for k, v in fitted.module_.state_dict().items())
    np.testing.assert_array_equal(fitted.predict(df)["value"], before["value"])
    assert signal.getsignal(signal.SIGINT) is handler


def test_user_callbacks_are_added_to_early_stopping_and_best_weights():
    rec = Recorder()
    model = _quiet_fit(
        LatentODE(max_epochs=3, trainer_kwargs={"callbacks": [rec]}, **SMALL), _data()
    )
    assert rec.epochs == [0, 1, 2]
    assert model.best_val_loss_ is not None and np.isfinite(model.best_val_loss_)


_KILLED_RUN = """
import os, signal, sys, json, warnings
from lightning.pytorch.callbacks import Callback
from latentode import LatentODE
from latentode.datasets import periodic
warnings.simplefilter("ignore")

class Log(Callback):
    def on_train_epoch_start(self, trainer, module):
        with open(sys.argv[2], "a") as f:
            f.write(json.dumps(trainer.current_epoch) + "\\n")
        if sys.argv[3] == "kill" and trainer.current_epoch == 3:
            os.kill(os.getpid(), signal.SIGKILL)

df = periodic(24, 15, irregular=True, seed=0, noise_std=0.05)
model = LatentODE(latent_dim=3, hidden_dim=6, units=16, batch_size=8, verbose=False, seed=0,
                  max_epochs=6, trainer_kwargs={"callbacks": [Log()]}, val_size={val_size})
model.fit(df, checkpoint_dir=sys.argv[1])
print(json.dumps(model.n_epochs_))
"""


@pytest.mark.parametrize("val_size", [0.25, 0.0])
def test_a_killed_training_resumes_from_checkpoint_dir(tmp_path, val_size):
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(_KILLED_RUN).replace("{val_size}", str(val_size)))
    log, ckpts = tmp_path / "epochs.log", tmp_path / "ckpt"
    killed = subprocess.run(
        [sys.executable, str(script), str(ckpts), str(log), "kill"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert (ckpts / "last.ckpt").is_file()
    resumed = subprocess.run(
        [sys.executable, str(script), str(ckpts), str(log), "go"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    started = [json.loads(line) for line in log.read_text().split()]
    # epochs 0-3 started before the kill; the rerun starts at 3: nothing finished is lost
    assert started == [0, 1, 2, 3, 3, 4, 5]
    assert json.loads(resumed.stdout.strip().splitlines()[-1]) == 6


def test_a_checkpoint_of_another_model_is_refused_by_name(tmp_path):
    df = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        LatentODE(max_epochs=1, **SMALL).fit(df, checkpoint_dir=tmp_path)
        bigger = LatentODE(max_epochs=2, **{**SMALL, "units": 32})
        with pytest.raises(TrainingError, match=r"another model.*new checkpoint_dir"):
            bigger.fit(df, checkpoint_dir=tmp_path)
    assert not hasattr(bigger, "module_")
