"""Training you can see and steer (issue 13): ``history_``, a Lightning ``logger``,
``accelerator``/``devices``, the model on its training device, a quiet progress bar
outside terminals, and saving a model whose parameters hold runtime objects."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger

from latentode import EventIntensity, LatentODE
from latentode.datasets import periodic

SMALL = dict(latent_dim=2, hidden_dim=4, units=8, batch_size=8, verbose=False, seed=0)


def _fit(model, df, **kw):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*optimisation steps.*")
        return model.fit(df, **kw)


def test_history_has_one_row_per_epoch_with_losses_lr_and_seconds():
    df = periodic(16, 10, irregular=True, seed=0)
    model = _fit(LatentODE(max_epochs=4, early_stopping=False, **SMALL), df)
    h = model.history_
    assert isinstance(h, pd.DataFrame) and list(h["epoch"]) == [0, 1, 2, 3]
    for col in ("train_loss", "val_loss", "train_mse", "val_mse", "kl_weight", "lr", "seconds"):
        assert col in h and np.isfinite(h[col]).all(), col
    assert (h["lr"].diff().dropna() < 0).all()  # the per-step decay
    assert h["val_loss"].min() == pytest.approx(model.best_val_loss_)
    ev = EventIntensity(latent_dim=2, units=8, max_epochs=2, verbose=False)
    events = pd.DataFrame({"id": [0, 0, 1, 1, 1], "time": [0.5, 1.0, 0.2, 1.7, 3.0]})
    assert len(_fit(ev, events, window=(0.0, 4.0)).history_) == 2


def test_a_lightning_logger_receives_the_metrics_and_is_not_saved(tmp_path):
    df = periodic(12, 10, irregular=True, seed=0)
    logger = CSVLogger(tmp_path, name="run")
    kwargs = {"log_every_n_steps": 1}
    model = _fit(LatentODE(max_epochs=2, logger=logger, trainer_kwargs=kwargs, **SMALL), df)
    metrics = pd.read_csv(next(tmp_path.rglob("metrics.csv")))
    assert "train_loss" in metrics and "val_loss" in metrics
    with pytest.warns(UserWarning, match="logger are runtime objects"):
        path = model.save(tmp_path / "m")
    loaded = LatentODE.load(path)
    assert loaded.logger is None
    pd.testing.assert_frame_equal(loaded.predict(df), model.predict(df))


def test_accelerator_and_devices_reach_lightning_and_the_model_stays_on_its_device():
    df = periodic(12, 10, irregular=True, seed=0)
    model = _fit(LatentODE(max_epochs=1, accelerator="cpu", devices=1, **SMALL), df)
    assert model._device().type == "cpu"
    before = model.predict(df)
    assert model.to("cpu") is model
    pd.testing.assert_frame_equal(model.predict(df), before)
    with pytest.raises(ValueError, match="accelerator"):
        _fit(LatentODE(max_epochs=1, accelerator="tpu9", **SMALL), df)
    with pytest.raises(ValueError, match="devices"):
        LatentODE(devices=0).fit(df)


def test_the_progress_bar_is_quiet_when_output_is_not_a_terminal(capfd):
    df = periodic(12, 10, irregular=True, seed=0)
    _fit(LatentODE(max_epochs=2, **{**SMALL, "verbose": True}), df)
    err = capfd.readouterr().err
    assert "it/s" not in err and "Epoch 1" not in err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_fitted_on_a_gpu_predicts_there_and_matches_the_cpu():  # pragma: no cover
    df = periodic(12, 10, irregular=True, seed=0)
    model = _fit(LatentODE(max_epochs=1, accelerator="gpu", devices=1, **SMALL), df)
    assert model._device().type == "cuda"
    on_gpu = model.predict(df)
    np.testing.assert_allclose(model.to("cpu").predict(df)["value"], on_gpu["value"], atol=1e-4)


def test_ddp_on_two_cpu_processes_gives_a_model_like_one_process(tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "ddp.json"
    proc = subprocess.run(
        [sys.executable, str(root / "tests" / "ddp_estimator_script.py"), str(out)],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(root)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "MEMBER: 2/2" in proc.stderr  # two processes trained
    res = json.loads(out.read_text())
    ddp, single = res["ddp"], res["single"]
    assert ddp["finite"] and ddp["epochs"] == single["epochs"] == 3
    assert ddp["best_val_loss"] is not None and ddp["history"] == 3
    # each process sees half the batches per epoch: not the same numbers, the same model
    assert abs(ddp["mse"] - single["mse"]) < 0.25 * single["mse"]
