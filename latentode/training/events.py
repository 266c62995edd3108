"""Training of the event-time intensities."""

from __future__ import annotations

from typing import Any

import torch

from ..data.batch import IrregularBatch
from ..models.event import EventModel
from ..models.jump_event import JumpEventModel
from ..nn.bounds import KLSchedule
from .base import TrainingModule
from .config import TrainingConfig

__all__ = ["EventModule", "DYNAMICS"]

#: the event models by name
DYNAMICS = {"latent": EventModel, "jump": JumpEventModel}


class EventModule(TrainingModule):
    """Event-time intensity training.

    ``dynamics="latent"`` trains :class:`~latentode.models.event.EventModel` (a rate
    driven by a posterior z0, a VAE); ``"jump"`` trains
    :class:`~latentode.models.jump_event.JumpEventModel` (a state that flows between
    events and jumps at each, exact likelihood; its ``iwae``/``elbo`` logs are that
    likelihood). Logs ``{stage}_loss``, ``{stage}_iwae`` and ``{stage}_elbo`` (per
    sequence, rescaled time units). ``training``: a
    :class:`~latentode.training.TrainingConfig` or a dict of its fields overriding the
    defaults ``objective="iwae"``, ``kl_delay=5``, ``kl_rate=0.95``; ``**model_kwargs`` go
    to the model (``units``, ``hidden_dim``, ``solver``, ...).
    """

    default_training = TrainingConfig(objective="iwae", kl_delay=5, kl_rate=0.95)

    def __init__(
        self,
        n_marks: int = 1,
        latent_dim: int = 8,
        *,
        dynamics: str = "latent",
        training: TrainingConfig | dict | None = None,
        time_offset: float | None = None,
        time_scale: float | None = None,
        **model_kwargs: Any,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["training"])
        kwargs = self._setup(training, model_kwargs, time_offset, time_scale)
        if dynamics not in DYNAMICS:
            raise ValueError(f"dynamics must be one of {sorted(DYNAMICS)}, got {dynamics!r}.")
        self.model = DYNAMICS[dynamics](n_marks, latent_dim, **kwargs)
        cfg = self.training_config
        self.kl_schedule = KLSchedule(cfg.kl_delay, cfg.kl_rate)
        self._init_common()

    def training_step(self, batch: IrregularBatch, batch_idx: int) -> torch.Tensor:
        cfg = self.training_config
        w = self.kl_schedule(self.current_epoch)
        out = self.model(batch, cfg.n_samples, w, cfg.objective)
        self.log("train_loss", out["loss"], batch_size=batch.batch_size, prog_bar=True)
        return out["loss"]

    def _eval_step(self, stage: str, batch: IrregularBatch) -> None:
        cfg = self.training_config
        out = self.model(batch, cfg.n_samples, 1.0, cfg.objective)
        b = batch.batch_size
        self.log(f"{stage}_loss", out["loss"], batch_size=b, sync_dist=True, prog_bar=True)
        self.log(f"{stage}_iwae", out["iwae"].mean(), batch_size=b, sync_dist=True)
        self.log(f"{stage}_elbo", out["elbo"].mean(), batch_size=b, sync_dist=True)
