"""A seeded training run and its posterior-mean prediction, shared by the learning tests."""

import lightning as L
import torch

from latentode.data import collate


def fit_and_predict(module, dm, test, steps, tmp_path):
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
