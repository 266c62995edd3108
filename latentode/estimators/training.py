"""Training an estimator's module: a ``lightning.Trainer`` with early stopping on
``val_loss`` and the best weights restored."""

from __future__ import annotations

import logging
import tempfile
import warnings
from dataclasses import dataclass, field
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

__all__ = ["TrainerSettings", "TrainingResult", "train"]

_QUIET = (".*does not have many workers.*", ".*transfer_batch_to_device.*", ".*LeafSpec.*")


@dataclass(frozen=True)
class TrainerSettings:
    """What the estimators tell the Trainer (their parameters of the same names)."""

    max_epochs: int
    gradient_clip_val: float | None
    early_stopping: bool
    patience: int
    verbose: bool
    trainer_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingResult:
    n_epochs: int
    metrics: dict[str, float]
    best_val_loss: float | None


def _trainer(settings: TrainerSettings, callbacks: list, has_val: bool, root: str) -> L.Trainer:
    kwargs: dict[str, Any] = dict(
        max_epochs=settings.max_epochs,
        logger=False,
        enable_progress_bar=bool(settings.verbose),
        enable_model_summary=False,
        gradient_clip_val=settings.gradient_clip_val,
        default_root_dir=root,
        callbacks=callbacks,
        enable_checkpointing=has_val,
        num_sanity_val_steps=0,
        accelerator="cpu",
        devices=1,
    )
    if not has_val:
        kwargs["limit_val_batches"] = 0
    kwargs.update(settings.trainer_kwargs or {})
    return L.Trainer(**kwargs)


def _warn_few_steps(owner: str, settings: TrainerSettings, n_batches: int) -> None:
    steps = settings.max_epochs * n_batches
    if steps < 300:
        warnings.warn(
            f"{owner}: only {steps} optimisation steps "
            f"({settings.max_epochs} epochs x {n_batches} batches); "
            "neural ODEs usually need several hundred. Raise max_epochs or lower "
            "batch_size.",
            UserWarning,
            stacklevel=5,
        )


def train(
    owner: str,
    module: L.LightningModule,
    datamodule: L.LightningDataModule,
    has_val: bool,
    settings: TrainerSettings,
) -> TrainingResult:
    """Fit ``module``; with validation, keep the best ``val_loss`` weights. ``owner``
    names the estimator in warnings. The module ends on the CPU in eval mode."""
    best = None
    quiet = logging.getLogger("lightning.pytorch")
    level = quiet.level
    with tempfile.TemporaryDirectory(prefix="latentode-") as root:
        callbacks: list = []
        ckpt = None
        if has_val:
            ckpt = ModelCheckpoint(
                dirpath=root, monitor="val_loss", mode="min", save_top_k=1, save_weights_only=True
            )
            callbacks.append(ckpt)
            if settings.early_stopping:
                callbacks.append(EarlyStopping("val_loss", patience=settings.patience))
        if not settings.verbose:
            quiet.setLevel(logging.WARNING)
        try:
            trainer = _trainer(settings, callbacks, has_val, root)
            _warn_few_steps(owner, settings, len(datamodule.train_dataloader()))
            with warnings.catch_warnings():
                for message in _QUIET:
                    warnings.filterwarnings("ignore", message=message)
                trainer.fit(module, datamodule)
        finally:
            quiet.setLevel(level)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        if ckpt is not None and ckpt.best_model_path:
            state = torch.load(ckpt.best_model_path, map_location="cpu", weights_only=True)
            module.load_state_dict(state["state_dict"])
            best = float(ckpt.best_model_score)
    module.cpu().eval()
    return TrainingResult(int(trainer.current_epoch), metrics, best)
