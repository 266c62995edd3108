"""Training of the deterministic baselines: ODE-RNN and GRU-Δt."""

from __future__ import annotations

from typing import Any

import torch

from ..data.batch import IrregularBatch
from ..models.recurrent import RecurrentModel
from .base import TrainingModule
from .config import TrainingConfig

__all__ = ["RecurrentModule"]


class RecurrentModule(TrainingModule):
    """ODE-RNN (``ode=True``) or GRU-Δt (``ode=False``) training on the masked MSE.

    ``training``: a :class:`~latentode.training.TrainingConfig` or a dict of its fields;
    only the optimisation fields apply. ``**model_kwargs`` go to
    :class:`~latentode.models.recurrent.RecurrentModel`. Logs ``{stage}_loss`` and the
    errors of :func:`~latentode.training.masked_errors`.
    """

    default_training = TrainingConfig()

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int = 20,
        *,
        ode: bool = True,
        training: TrainingConfig | dict | None = None,
        time_offset: float | None = None,
        time_scale: float | None = None,
        **model_kwargs: Any,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["training"])
        kwargs = self._setup(training, model_kwargs, time_offset, time_scale)
        self.model = RecurrentModel(input_dim, hidden_dim, ode=ode, **kwargs)
        self._init_common()

    def forward(self, batch: IrregularBatch) -> torch.Tensor:
        """Predictions ``(B, N, D)``."""
        return self.model.predict(batch)

    def training_step(self, batch: IrregularBatch, batch_idx: int) -> torch.Tensor:
        out = self.model(batch)
        self.log("train_loss", out["loss"], batch_size=batch.batch_size, prog_bar=True)
        self._log_errors("train", batch, out["pred"])
        return out["loss"]

    def _eval_step(self, stage: str, batch: IrregularBatch) -> None:
        out = self.model(batch)
        self.log(
            f"{stage}_loss", out["loss"], batch_size=batch.batch_size, sync_dist=True, prog_bar=True
        )
        self._log_errors(stage, batch, out["pred"])

    def predict_step(self, batch: IrregularBatch, batch_idx: int) -> torch.Tensor:
        return self(batch)
