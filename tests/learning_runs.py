"""Quiet training runs shared by the learning tests."""

import lightning as L
import torch

from latentode.data import collate


def quiet_trainer(tmp_path, **kwargs) -> L.Trainer:
    """A ``Trainer`` without logger, checkpoints, progress bar or model summary."""
    return L.Trainer(
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        **kwargs,
    )


def fit_and_predict(module, dm, test, steps, tmp_path):
    """Train ``steps`` optimiser steps without validation; the test batch and the
    posterior-mean prediction (10 samples) on it."""
    quiet_trainer(tmp_path, max_steps=steps, limit_val_batches=0).fit(module, dm)
    batch = collate(test)
    module.eval()
    with torch.no_grad():
        return batch, module(batch, n_samples=10).mean(0)
