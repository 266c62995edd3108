"""Training an estimator's module: a ``lightning.Trainer`` with early stopping on
``val_loss`` and the best weights restored."""

from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint

from ..frames.errors import warn_user
from ..nn.solve import SolverError, SpanError
from .faults import Diverged, FaultGuard, TrainingError, TrainingStopped, recover

__all__ = ["TrainerSettings", "TrainingResult", "TrainingError", "TrainingStopped", "train"]

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
    accelerator: str = "cpu"
    devices: Any = 1
    strategy: Any = "auto"
    logger: Any = None


@dataclass(frozen=True)
class TrainingResult:
    n_epochs: int
    metrics: dict[str, float]
    best_val_loss: float | None
    history: list[dict[str, float]] = field(default_factory=list)


class History(Callback):
    """One row per finished epoch: the logged epoch metrics (train and validation loss and
    MSE, KL weight, ...), the learning rate and the epoch's seconds."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []
        self._start = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        row: dict[str, float] = {"epoch": int(trainer.current_epoch)}
        for key, value in sorted(trainer.callback_metrics.items()):
            row[key] = float(value)
        if trainer.optimizers:
            row["lr"] = float(trainer.optimizers[0].param_groups[0]["lr"])
        row["seconds"] = time.perf_counter() - self._start
        self.rows.append(row)


def _interactive() -> bool:
    """Output to a terminal or a notebook: where a progress bar renders."""
    return "ipykernel" in sys.modules or bool(getattr(sys.stderr, "isatty", lambda: False)())


def _trainer(
    settings: TrainerSettings, callbacks: list, checkpointing: bool, has_val: bool, root: str
) -> L.Trainer:
    kwargs: dict[str, Any] = dict(
        max_epochs=settings.max_epochs,
        logger=settings.logger if settings.logger is not None else False,
        enable_progress_bar=bool(settings.verbose) and _interactive(),
        enable_model_summary=False,
        gradient_clip_val=settings.gradient_clip_val,
        default_root_dir=root,
        callbacks=callbacks,
        enable_checkpointing=checkpointing,
        num_sanity_val_steps=0,
        accelerator=settings.accelerator,
        devices=settings.devices,
        strategy=settings.strategy,
    )
    if not has_val:
        kwargs["limit_val_batches"] = 0
    kwargs.update(settings.trainer_kwargs or {})
    try:
        return L.Trainer(**kwargs)
    except (TypeError, ValueError, MisconfigurationException) as err:
        kind = TypeError if isinstance(err, TypeError) else ValueError
        raise kind(
            f"trainer_kwargs: lightning.Trainer refused them ({err}); see the Trainer's "
            "arguments in Lightning's documentation."
        ) from None


def _warn_few_steps(owner: str, settings: TrainerSettings, n_batches: int) -> None:
    steps = settings.max_epochs * n_batches
    if steps < 300:
        warn_user(
            f"{owner}: only {steps} optimisation steps "
            f"({settings.max_epochs} epochs x {n_batches} batches); "
            "neural ODEs usually need several hundred. Raise max_epochs or lower "
            "batch_size.",
            UserWarning,
        )


#: the checkpoint a run with ``checkpoint_dir`` writes after every epoch and resumes from
RESUME_FILE = "last.ckpt"


class ResumePoint(Callback):
    """Writes a full Lightning checkpoint (weights, optimizer, loops, callbacks) to
    ``path`` at the end of every epoch, atomically (a temporary file, then renamed)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        trainer.save_checkpoint(tmp)  # every rank takes part; rank 0 writes
        if trainer.is_global_zero:
            os.replace(tmp, self.path)


def _fit(trainer: L.Trainer, module: Any, datamodule: Any, ckpt_path: str | None) -> None:
    """``trainer.fit``, with Ctrl-C raised as ``KeyboardInterrupt`` (Lightning turns it into
    ``SystemExit(1)`` and ignores SIGINT afterwards; the handler is restored)."""
    main = threading.current_thread() is threading.main_thread()
    handler = signal.getsignal(signal.SIGINT) if main else None
    try:
        with warnings.catch_warnings():
            for message in _QUIET:
                warnings.filterwarnings("ignore", message=message)
            trainer.fit(module, datamodule, ckpt_path=ckpt_path)
    except SystemExit as err:
        if isinstance(err.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        raise
    finally:
        if main and handler is not None:
            signal.signal(signal.SIGINT, handler)


def train(
    owner: str,
    module: L.LightningModule,
    datamodule: L.LightningDataModule,
    has_val: bool,
    settings: TrainerSettings,
    checkpoint_dir: str | Path | None = None,
) -> TrainingResult:
    """Fit ``module``; with validation, keep the best ``val_loss`` weights. ``owner``
    names the estimator in warnings. The module ends in eval mode on the device it was
    trained on.

    With ``checkpoint_dir``, a checkpoint is written there after every epoch and a run
    finding one resumes from it (a killed process loses at most the epoch in progress).

    Raises:
        TrainingError: a fault before any epoch ended with finite weights.
        KeyboardInterrupt: on Ctrl-C.
    """
    quiet = logging.getLogger("lightning.pytorch")
    level = quiet.level
    guard, history = FaultGuard(), History()
    with tempfile.TemporaryDirectory(prefix="latentode-") as tmp:
        root = str(checkpoint_dir) if checkpoint_dir is not None else tmp
        callbacks: list = [guard, history]
        ckpt = None
        if has_val:
            ckpt = ModelCheckpoint(
                dirpath=root, monitor="val_loss", mode="min", save_top_k=1, save_weights_only=True
            )
            callbacks.append(ckpt)
            if settings.early_stopping:
                callbacks.append(EarlyStopping("val_loss", patience=settings.patience))
        resume = None
        if checkpoint_dir is not None:
            last = Path(root) / RESUME_FILE
            callbacks.append(ResumePoint(last))
            resume = str(last) if last.is_file() else None
        user = list((settings.trainer_kwargs or {}).get("callbacks") or [])
        settings = TrainerSettings(
            **{
                **settings.__dict__,
                "trainer_kwargs": {
                    k: v for k, v in (settings.trainer_kwargs or {}).items() if k != "callbacks"
                },
            }
        )
        if not settings.verbose:
            quiet.setLevel(logging.WARNING)
        faulted = False
        try:
            trainer = _trainer(
                settings, callbacks + user, has_val or checkpoint_dir is not None, has_val, root
            )
            _warn_few_steps(owner, settings, len(datamodule.train_dataloader()))
            try:
                _fit(trainer, module, datamodule, resume)
            except (RuntimeError, KeyError) as err:
                if resume is None:
                    raise
                raise TrainingError(
                    f"{owner}: could not resume from {resume} ({type(err).__name__}: "
                    f"{str(err)[:200]}); it holds the checkpoint of another model or data. "
                    "Use a new checkpoint_dir for a new fit."
                ) from None
        except Diverged as err:
            recover(owner, module, guard, err.reason)
            faulted = True
        except (SolverError, SpanError) as err:
            recover(owner, module, guard, f"at epoch {trainer.current_epoch}, {err}")
            faulted = True
        finally:
            quiet.setLevel(level)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        best = guard.good_val if faulted else None
        if not faulted and ckpt is not None and ckpt.best_model_path:
            state = torch.load(ckpt.best_model_path, map_location="cpu", weights_only=True)
            module.load_state_dict(state["state_dict"])
            best = float(ckpt.best_model_score)
    module.eval()
    module.to(trainer.strategy.root_device)  # Lightning's teardown leaves it on the CPU
    return TrainingResult(int(trainer.current_epoch), metrics, best, history.rows)
