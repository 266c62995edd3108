"""LightningModules: one per model family.

* :class:`LatentODEModule`: the VAE family (Latent ODE with ODE-RNN or RNN encoder,
  RNN-VAE with ``decoder="rnn"``), trained on the IWAE or ELBO bound with KL annealing.
* :class:`RecurrentModule`: the deterministic ODE-RNN and GRU-Δt baselines.

Both log ``{stage}_loss``, ``{stage}_mse`` (all scored cells), ``{stage}_mse_interp``
(scored cells up to each series' last observed time) and ``{stage}_mse_extrap``
(scored cells after it); the VAE module also logs ``{stage}_elbo`` and
``{stage}_iwae`` (per series, KL weight 1) and ``kl_weight``. Use them with a plain
``lightning.Trainer``: any accelerator, devices, ``strategy="ddp"``, checkpoints.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from .data.batch import IrregularBatch
from .models.baselines import RecurrentModel
from .models.intensity import EventModel
from .models.jump_intensity import JumpEventModel
from .models.latent_ode import LatentODEModel
from .nn.bounds import KLSchedule

__all__ = ["LatentODEModule", "RecurrentModule", "EventModule", "masked_errors"]

_OPTIMIZERS = {"adamax": torch.optim.Adamax, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


def masked_errors(batch: IrregularBatch, pred: torch.Tensor) -> dict[str, tuple[torch.Tensor, int]]:
    """Squared-error sums and cell counts on the scored cells.

    Returns ``{"mse": (value, n), "mse_interp": ..., "mse_extrap": ...}`` where
    interp/extrap split the scored cells at each series' last observed time.
    """
    mask = batch.target_mask
    se = (pred - batch.values) ** 2 * mask
    observed = batch.obs_mask.amax(-1) > 0
    big = torch.finfo(batch.times.dtype).min
    last_obs = torch.where(observed, batch.times, torch.full_like(batch.times, big)).amax(1)
    after = (batch.times > last_obs[:, None]).unsqueeze(-1).to(mask.dtype)
    out = {}
    for name, m in (
        ("mse", mask),
        ("mse_interp", mask * (1 - after)),
        ("mse_extrap", mask * after),
    ):
        n = int(m.sum())
        out[name] = ((se * m).sum() / max(n, 1), n)
    return out


class _Base(L.LightningModule):
    model: torch.nn.Module

    def _init_common(self, time_offset: float | None, time_scale: float | None) -> None:
        if time_scale is not None:
            self.model.set_time_scale(time_offset or 0.0, time_scale)

    # device-agnostic batches
    def transfer_batch_to_device(
        self, batch: Any, device: torch.device, dataloader_idx: int
    ) -> Any:
        if isinstance(batch, IrregularBatch):
            return batch.to(device)
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def on_fit_start(self) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        if not bool(self.model.time_fitted) and dm is not None and hasattr(dm, "time_scale"):
            self.model.set_time_scale(dm.time_offset, dm.time_scale)
        scaler = getattr(self.model, "value_scaler", None)
        if scaler is not None and not bool(scaler.fitted) and hasattr(dm, "value_scale"):
            self.model.set_value_scale(dm.value_offset, dm.value_scale)

    def configure_optimizers(self) -> Any:
        hp = self.hparams
        if hp.optimizer not in _OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {sorted(_OPTIMIZERS)}, got {hp.optimizer!r}."
            )
        opt = _OPTIMIZERS[hp.optimizer](self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
        decay, floor = hp.lr_decay, hp.min_lr_ratio
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: max(decay**step, floor))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def _log_errors(self, stage: str, batch: IrregularBatch, pred: torch.Tensor) -> None:
        for name, (value, n) in masked_errors(batch, pred.detach()).items():
            if n > 0:
                self.log(
                    f"{stage}_{name}",
                    value,
                    batch_size=n,
                    sync_dist=stage != "train",
                    prog_bar=name == "mse" and stage == "val",
                )


class LatentODEModule(_Base):
    """Latent ODE / RNN-VAE training.

    Args:
        input_dim: number of features ``D``.
        latent_dim: size of z0.
        n_samples: z0 samples per series in training and evaluation.
        objective: the training bound, ``"elbo"`` (default: the per-series ELBO with the
            analytic KL, the K samples averaged) or ``"iwae"`` (per-series importance
            weighted bound). Both bounds are logged whichever trains. With a sharp
            likelihood the IWAE weights are nearly one-hot, its gradient rewards the best
            of K draws and widens q(z0); the ELBO learned faster and more stably on the
            periodic toy (``benchmarks/README.md``).
        kl_delay, kl_rate: :class:`~latentode.nn.bounds.KLSchedule` (per epoch).
        std_delay: epochs during which a learned observation std is held at its
            initial value (``None``: ``kl_delay``). Learned from the start, the std
            grows to the error of the population-mean curve, the KL then outweighs the
            likelihood and q(z0) collapses onto the prior (issue 9).
        lr, optimizer, lr_decay, min_lr_ratio, weight_decay: optimisation; the
            learning rate decays by ``lr_decay`` per step down to ``lr * min_lr_ratio``.
        time_offset, time_scale: fix the time rescaling; by default it is taken
            from the data module (``fit_time_scale`` of its training series).
        **model_kwargs: passed to :class:`~latentode.models.latent_ode.LatentODEModel`
            (``encoder``, ``decoder``, ``units``, ``solver``, ``obs_std``, ...).
    """

    def __init__(
        self,
        input_dim: int,
        latent_dim: int = 6,
        *,
        n_samples: int = 3,
        objective: str = "elbo",
        kl_delay: int = 10,
        kl_rate: float = 0.99,
        std_delay: int | None = None,
        lr: float = 1e-2,
        optimizer: str = "adamax",
        lr_decay: float = 0.999,
        min_lr_ratio: float = 0.1,
        weight_decay: float = 0.0,
        time_offset: float | None = None,
        time_scale: float | None = None,
        **model_kwargs: Any,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if std_delay is not None and std_delay < 0:
            raise ValueError(f"std_delay must be >= 0 or None, got {std_delay}.")
        self.model = LatentODEModel(input_dim, latent_dim, **model_kwargs)
        self.kl_schedule = KLSchedule(kl_delay, kl_rate)
        self._label_buffer: list = []
        self._init_common(time_offset, time_scale)

    def forward(self, batch: IrregularBatch, n_samples: int | None = None) -> torch.Tensor:
        """Posterior samples of the mean function, ``(K, B, N, D)``."""
        return self.model.predict_samples(batch, n_samples or self.hparams.n_samples)

    def on_train_epoch_start(self) -> None:
        delay = self.hparams.get("std_delay")  # absent from checkpoints before 0.2
        delay = self.hparams.kl_delay if delay is None else delay
        self.model.likelihood.frozen = self.current_epoch < delay

    def on_train_end(self) -> None:
        self.model.likelihood.frozen = False

    def training_step(self, batch: IrregularBatch, batch_idx: int) -> torch.Tensor:
        w = self.kl_schedule(self.current_epoch)
        out = self.model(batch, self.hparams.n_samples, w, self.hparams.objective)
        b = batch.batch_size
        self.log("train_loss", out["loss"], batch_size=b, prog_bar=True)
        self.log("train_iwae", out["iwae"].mean(), batch_size=b)
        self.log("kl_weight", w, batch_size=b)
        self._log_errors("train", batch, out["pred"])
        return out["loss"]

    def _eval_step(self, stage: str, batch: IrregularBatch) -> None:
        out = self.model(batch, self.hparams.n_samples, 1.0, self.hparams.objective)
        b = batch.batch_size
        self.log(f"{stage}_loss", out["loss"], batch_size=b, sync_dist=True, prog_bar=True)
        self.log(f"{stage}_elbo", out["elbo"].mean(), batch_size=b, sync_dist=True)
        self.log(f"{stage}_iwae", out["iwae"].mean(), batch_size=b, sync_dist=True)
        self._log_errors(stage, batch, out["pred"])
        if self.model.classifier is not None and batch.labels is not None:
            probs = self.model.predict_labels(batch, self.hparams.n_samples)
            self._label_buffer.append((probs.detach().cpu(), batch.labels.detach().cpu()))

    def _label_metrics(self, stage: str) -> None:
        """Accuracy (and AUC for binary sequence labels) over the epoch's batches."""
        if not self._label_buffer:
            return
        from sklearn.metrics import roc_auc_score

        probs = torch.cat(
            [
                p.reshape(-1, *p.shape[2:]) if self.model.label_kind == "point" else p
                for p, _ in self._label_buffer
            ]
        )
        labels = torch.cat([lab.reshape(-1) for _, lab in self._label_buffer])
        self._label_buffer.clear()
        keep = labels >= 0
        probs, labels = probs[keep], labels[keep].long()
        pred = (probs > 0.5).long() if self.model.n_labels == 1 else probs.argmax(-1)
        self.log(f"{stage}_accuracy", (pred == labels).float().mean(), sync_dist=True)
        if self.model.n_labels == 1 and labels.unique().numel() == 2:
            self.log(f"{stage}_auc", float(roc_auc_score(labels.numpy(), probs.numpy())))

    def on_validation_epoch_start(self) -> None:
        self._label_buffer = []

    def on_test_epoch_start(self) -> None:
        self._label_buffer = []

    def on_validation_epoch_end(self) -> None:
        self._label_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._label_metrics("test")

    def validation_step(self, batch: IrregularBatch, batch_idx: int) -> None:
        self._eval_step("val", batch)

    def test_step(self, batch: IrregularBatch, batch_idx: int) -> None:
        self._eval_step("test", batch)

    def predict_step(self, batch: IrregularBatch, batch_idx: int) -> torch.Tensor:
        return self(batch)


class RecurrentModule(_Base):
    """ODE-RNN (``ode=True``) or GRU-Δt (``ode=False``) training.

    Same optimisation arguments as :class:`LatentODEModule`; ``**model_kwargs`` go
    to :class:`~latentode.models.baselines.RecurrentModel`.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int = 20,
        *,
        ode: bool = True,
        lr: float = 1e-2,
        optimizer: str = "adamax",
        lr_decay: float = 0.999,
        min_lr_ratio: float = 0.1,
        weight_decay: float = 0.0,
        time_offset: float | None = None,
        time_scale: float | None = None,
        **model_kwargs: Any,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = RecurrentModel(input_dim, hidden_dim, ode=ode, **model_kwargs)
        self._init_common(time_offset, time_scale)

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

    def validation_step(self, batch: IrregularBatch, batch_idx: int) -> None:
        self._eval_step("val", batch)

    def test_step(self, batch: IrregularBatch, batch_idx: int) -> None:
        self._eval_step("test", batch)

    def predict_step(self, batch: IrregularBatch, batch_idx: int) -> torch.Tensor:
        return self(batch)


class EventModule(_Base):
    """Event-time intensity training.

    ``dynamics="latent"`` trains :class:`~latentode.models.intensity.EventModel` (a rate
    driven by a posterior z0, a VAE); ``"jump"`` trains
    :class:`~latentode.models.jump_intensity.JumpEventModel` (a state that flows between
    events and jumps at each, exact likelihood; its ``iwae``/``elbo`` logs are that
    likelihood). Logs ``{stage}_loss``, ``{stage}_iwae`` and ``{stage}_elbo`` (per
    sequence, rescaled time units). Optimisation arguments as :class:`LatentODEModule`;
    ``**model_kwargs`` go to the model (``units``, ``enc_hidden``, ``solver``, ...).
    """

    def __init__(
        self,
        n_marks: int = 1,
        latent_dim: int = 8,
        *,
        n_samples: int = 3,
        objective: str = "iwae",
        kl_delay: int = 5,
        kl_rate: float = 0.95,
        lr: float = 1e-2,
        optimizer: str = "adamax",
        lr_decay: float = 0.999,
        min_lr_ratio: float = 0.1,
        weight_decay: float = 0.0,
        time_offset: float | None = None,
        time_scale: float | None = None,
        dynamics: str = "latent",
        **model_kwargs: Any,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if dynamics == "latent":
            self.model = EventModel(n_marks, latent_dim, **model_kwargs)
        elif dynamics == "jump":
            self.model = JumpEventModel(n_marks, latent_dim, **model_kwargs)
        else:
            raise ValueError(f"dynamics must be 'latent' or 'jump', got {dynamics!r}.")
        self.kl_schedule = KLSchedule(kl_delay, kl_rate)
        self._init_common(time_offset, time_scale)

    def training_step(self, batch: IrregularBatch, batch_idx: int) -> torch.Tensor:
        w = self.kl_schedule(self.current_epoch)
        out = self.model(batch, self.hparams.n_samples, w, self.hparams.objective)
        self.log("train_loss", out["loss"], batch_size=batch.batch_size, prog_bar=True)
        return out["loss"]

    def _eval_step(self, stage: str, batch: IrregularBatch) -> None:
        out = self.model(batch, self.hparams.n_samples, 1.0, self.hparams.objective)
        b = batch.batch_size
        self.log(f"{stage}_loss", out["loss"], batch_size=b, sync_dist=True, prog_bar=True)
        self.log(f"{stage}_iwae", out["iwae"].mean(), batch_size=b, sync_dist=True)
        self.log(f"{stage}_elbo", out["elbo"].mean(), batch_size=b, sync_dist=True)

    def validation_step(self, batch: IrregularBatch, batch_idx: int) -> None:
        self._eval_step("val", batch)

    def test_step(self, batch: IrregularBatch, batch_idx: int) -> None:
        self._eval_step("test", batch)
