import json
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from latentode.data import subsample_observed
from latentode.datasets import periodic_series
from latentode.training import IrregularDataModule, LatentODEModule, RecurrentModule

ROOT = Path(__file__).resolve().parents[1]


def _dm(n=40):
    series = subsample_observed(periodic_series(n, 20, seed=0), 0.5)
    return IrregularDataModule(series[: n - 8], series[n - 8 :], series[n - 8 :], batch_size=8)


def _trainer(tmp_path, **kw):
    base = dict(
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    base.update(kw)
    return L.Trainer(**base)


def test_ddp_two_cpu_processes(tmp_path):
    out = tmp_path / "ddp.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "ddp_script.py"), str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["world_size"] == 2 and res["global_step"] == 3
    assert np.isfinite(res["loss"]) and np.isfinite(res["param_norm"])


def test_checkpoint_resume_continues(tmp_path):
    L.seed_everything(0)
    dm = _dm()
    module = LatentODEModule(1, 3, units=16, enc_units=16, hidden_dim=8)
    ckpt = ModelCheckpoint(
        dirpath=tmp_path / "ckpt", save_last=True, every_n_epochs=1, save_top_k=-1
    )
    trainer = _trainer(tmp_path, max_epochs=2, callbacks=[ckpt], enable_checkpointing=True)
    trainer.fit(module, dm)
    first = tmp_path / "ckpt" / "epoch=0-step=4.ckpt"
    assert first.exists()
    # resume from the mid-training checkpoint and train further
    L.seed_everything(0)
    resumed = LatentODEModule(1, 3, units=16, enc_units=16, hidden_dim=8)
    t2 = _trainer(tmp_path, max_epochs=3, enable_checkpointing=False)
    t2.fit(resumed, dm, ckpt_path=str(first))
    assert t2.global_step == 12 and t2.current_epoch == 3
    assert float(resumed.model.time_scale) == float(module.model.time_scale)
    # the checkpoint alone rebuilds the module (hyperparameters + weights, no pickled objects)
    loaded = LatentODEModule.load_from_checkpoint(str(first), weights_only=True)
    state = torch.load(first, weights_only=True)["state_dict"]
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, state[k])
    res = _trainer(tmp_path).test(loaded, dm, verbose=False)[0]
    assert np.isfinite(res["test_mse"]) and np.isfinite(res["test_iwae"])


def test_recurrent_module_trains_and_tests(tmp_path):
    L.seed_everything(0)
    dm = _dm()
    for ode in (True, False):
        module = RecurrentModule(1, 8, ode=ode, units=16)
        trainer = _trainer(tmp_path, max_steps=3, enable_checkpointing=False)
        trainer.fit(module, dm)
        res = trainer.test(module, dm, verbose=False)[0]
        assert np.isfinite(res["test_loss"]) and "test_mse_interp" in res


def test_checkpoints_keep_their_interpolation_rule(tmp_path):
    """A checkpoint names the interpolation rule its module trained with; one saved before
    the cubic default (no such key, no rule in its ``solver``) trained with Hermite's, and
    so do saved module hyperparameters whose ``solver`` dict has no rule (issue 10)."""
    from latentode.training.base import INTERPOLATION_KEY

    L.seed_everything(0)
    module = LatentODEModule(1, 3, units=16, enc_units=16, hidden_dim=8)
    trainer = _trainer(tmp_path, max_steps=1, enable_checkpointing=False)
    trainer.fit(module, _dm())
    path = tmp_path / "now.ckpt"
    trainer.save_checkpoint(path)
    ckpt = torch.load(path, weights_only=True)
    assert ckpt[INTERPOLATION_KEY] == "cubic"
    loaded = LatentODEModule.load_from_checkpoint(str(path), weights_only=True)
    assert loaded.model.decoder.solver.interpolation == "cubic"
    del ckpt[INTERPOLATION_KEY]  # as written before the default changed
    old = tmp_path / "old.ckpt"
    torch.save(ckpt, old)
    loaded = LatentODEModule.load_from_checkpoint(str(old), weights_only=True)
    assert loaded.model.decoder.solver.interpolation == "hermite"
    named = LatentODEModule(1, 3, units=16, hidden_dim=8, solver={"interpolation": "cubic"})
    named.on_load_checkpoint({})  # the rule was named: kept
    assert named.model.decoder.solver.interpolation == "cubic"
    saved = {"input_dim": 1, "latent_dim": 3, "solver": {"method": "dopri5"}}
    assert LatentODEModule.from_hparams(saved).model.decoder.solver.interpolation == "hermite"
    saved["solver"]["interpolation"] = "cubic"
    assert LatentODEModule.from_hparams(saved).model.decoder.solver.interpolation == "cubic"


def test_checkpoint_keeps_decoder_start(tmp_path):
    """``decoder_start`` is a model hyperparameter: a checkpoint restores it, and the
    restored module's trajectories equal the saved one's."""
    from latentode.data import collate, split_extrapolation
    from latentode.datasets import periodic_series

    L.seed_everything(0)
    module = LatentODEModule(1, 3, units=16, enc_units=16, hidden_dim=8, decoder_start="scored")
    trainer = _trainer(tmp_path, max_steps=1, enable_checkpointing=False)
    trainer.fit(module, _dm())
    path = tmp_path / "scored.ckpt"
    trainer.save_checkpoint(path)
    loaded = LatentODEModule.load_from_checkpoint(str(path), weights_only=True)
    assert loaded.model.decoder_start == "scored"
    batch = collate(split_extrapolation(periodic_series(3, 20, seed=1), 0.5))
    z0 = torch.randn(1, 3, 3)
    with torch.no_grad():
        torch.testing.assert_close(
            loaded.model.latent_trajectory(z0, batch), module.model.latent_trajectory(z0, batch)
        )
