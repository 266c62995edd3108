"""Run by test_lightning.py in a subprocess: a plain Trainer, strategy="ddp", 2 CPU processes."""

import json
import sys

import lightning as L
import torch

from latentode.data import subsample_observed
from latentode.datasets import periodic_series
from latentode.training import IrregularDataModule, LatentODEModule

if __name__ == "__main__":
    out = sys.argv[1]
    torch.set_num_threads(1)
    L.seed_everything(0)
    series = subsample_observed(periodic_series(40, 20, seed=0), 0.5)
    dm = IrregularDataModule(series[:32], series[32:], batch_size=8)
    module = LatentODEModule(1, 3, units=16, enc_units=16, hidden_dim=8)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        max_steps=3,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, dm)
    if trainer.global_rank == 0:
        params = torch.cat([p.detach().flatten() for p in module.parameters()])
        with open(out, "w") as f:
            json.dump(
                {
                    "world_size": trainer.world_size,
                    "global_step": trainer.global_step,
                    "loss": float(trainer.callback_metrics["train_loss"]),
                    "param_norm": float(params.norm()),
                },
                f,
            )
