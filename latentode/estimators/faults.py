"""Training faults: a Lightning callback that stops a diverging or non-finite training
and keeps the last good weights, and the error and warning the estimators raise."""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback

from ..frames.errors import warn_user

__all__ = ["BLOW_UP", "DRIFT", "TrainingError", "TrainingStopped", "FaultGuard", "recover"]

#: a batch loss this many times the first batch's (in absolute value, at least 1) stops
#: training at once
BLOW_UP = 1e4
#: an epoch whose mean training loss exceeds the first batch's by this factor diverged
DRIFT = 10.0


class TrainingError(ValueError):
    """Training failed before any epoch ended with finite, non-diverged weights; the
    message names the likely causes. The estimator is left as it was before ``fit``."""


class TrainingStopped(UserWarning):
    """Training stopped early on a fault; the last good weights were kept."""


class Diverged(Exception):
    """Raised inside ``trainer.fit`` by :class:`FaultGuard`; never reaches the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _loss(outputs: Any) -> float:
    loss = outputs["loss"] if isinstance(outputs, dict) else outputs
    return float(loss.detach()) if torch.is_tensor(loss) else float("nan")


class FaultGuard(Callback):
    """Stops training (raises :class:`Diverged`) on a non-finite loss or gradient, a batch
    loss above :data:`BLOW_UP` times the first batch's, or an epoch whose mean training
    loss is above :data:`DRIFT` times it. The first batch's loss is the loss of the
    initial weights, so a training that ends worse than its start counts as diverged.

    A good epoch ended with finite weights whose loss was checked: by its validation
    loss when there is validation, else by the next epoch's training losses (measured
    at those weights). The guard keeps a copy of the best good epoch's weights (lowest
    ``val_loss``, else the last): ``good_state``, ``good_epoch``, ``good_val``."""

    def __init__(self) -> None:
        self.scale: float | None = None
        self.good_state: dict | None = None
        self.good_epoch: int | None = None
        self.good_val: float | None = None
        self._sum = 0.0
        self._n = 0
        self._pending: tuple[dict, int, float | None] | None = None

    def on_train_epoch_start(self, trainer, module) -> None:
        self._sum, self._n = 0.0, 0

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        value = _loss(outputs)
        epoch = trainer.current_epoch
        if not math.isfinite(value):
            raise Diverged(f"the training loss became {value} at epoch {epoch}")
        if self.scale is None:
            self.scale = max(abs(value), 1.0)
        elif abs(value) > BLOW_UP * self.scale:
            raise Diverged(
                f"the training loss blew up to {value:.3g} at epoch {epoch} (the first "
                f"batch's, at the initial weights, was {self.scale:.3g})"
            )
        self._sum += value
        self._n += 1

    def on_before_optimizer_step(self, trainer, module, optimizer) -> None:
        for p in module.parameters():
            if p.grad is not None and not bool(torch.isfinite(p.grad).all()):
                raise Diverged(f"a gradient became non-finite at epoch {trainer.current_epoch}")

    def on_train_epoch_end(self, trainer, module) -> None:
        epoch = trainer.current_epoch
        limit = DRIFT * (self.scale or 1.0)
        if self._n:
            mean = self._sum / self._n
            if mean > limit:
                raise Diverged(
                    f"the mean training loss of epoch {epoch} was {mean:.3g}, more than "
                    f"{DRIFT:g} times the initial weights' {self.scale:.3g} (diverging)"
                )
            # this epoch's losses measured the weights the last epoch ended with
            if self._pending is not None and self._pending[2] is None:
                self._keep(*self._pending)
        state = module.state_dict()
        if not all(bool(torch.isfinite(v).all()) for v in state.values()):
            raise Diverged(f"the weights became non-finite at epoch {epoch}")
        val = trainer.callback_metrics.get("val_loss")
        val = float(val) if val is not None else None
        if val is not None and not (math.isfinite(val) and val <= limit):
            raise Diverged(
                f"the validation loss of epoch {epoch} was {val:.3g}, more than {DRIFT:g} "
                f"times the initial weights' training loss {self.scale:.3g} (diverging)"
            )
        self._pending = (copy.deepcopy(state), epoch, val)
        if val is not None and (self.good_val is None or val <= self.good_val):
            self._keep(*self._pending)

    def on_train_end(self, trainer, module) -> None:
        """A training that ends without a fault: its last weights are good."""
        if self._pending is not None and self._pending[2] is None:
            self._keep(*self._pending)

    def _keep(self, state: dict, epoch: int, val: float | None) -> None:
        self.good_state, self.good_epoch, self.good_val = state, epoch, val


def causes(owner: str) -> str:
    return (
        f"Likely causes: a learning rate too high for the data (lower {owner}(lr=...)), an "
        "observation std too small (raise obs_std=, or leave it None to learn it), or times "
        "on a scale far from the data's gaps (check the time column's units)."
    )


def recover(owner: str, module: Any, guard: FaultGuard, reason: str) -> None:
    """After a fault: load the guard's best good weights into ``module`` with a
    :class:`TrainingStopped` warning, or raise :class:`TrainingError` if there are none."""
    if guard.good_state is None:
        raise TrainingError(
            f"{owner}: training failed: {reason}, before any epoch ended with good "
            f"weights. {causes(owner)}"
        ) from None
    module.load_state_dict(guard.good_state)
    which = "best validation" if guard.good_val is not None else "last good"
    warn_user(
        f"{owner}: training stopped: {reason}. Kept the weights after epoch "
        f"{guard.good_epoch} (the {which} epoch). {causes(owner)}",
        TrainingStopped,
    )
