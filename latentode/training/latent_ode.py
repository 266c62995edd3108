"""Training of the VAE family: the Latent ODE (ODE-RNN or RNN encoder) and the RNN-VAE."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from ..data.batch import IrregularBatch
from ..models.latent_ode import LatentODEModel
from ..nn.bounds import KLSchedule
from .base import TrainingModule
from .config import TrainingConfig

__all__ = ["LatentODEModule", "DEFAULT_OPTIMIZATION"]

#: the optimiser and learning rate of each encoder when ``training`` names neither (issue
#: 9 item 6); an encoder not listed trains with :class:`TrainingConfig`'s (Adamax, 1e-2).
#: Adam took the GRU-encoder VAEs off the periodic plateau in more quick-budget cells than
#: Adamax; the ODE-RNN encoder needs the lower rate with Adam (``benchmarks/README.md``).
#: ``beta2=0.9``: with Adam's own 0.999, training at a small fixed observation std fell
#: back to the constant predictor again and again (the published code's settings).
DEFAULT_OPTIMIZATION: dict[str, dict[str, Any]] = {
    "rnn": {"optimizer": "adam", "lr": 1e-2, "beta2": 0.9},
    "odernn": {"optimizer": "adam", "lr": 3e-3, "beta2": 0.9},
}


class LatentODEModule(TrainingModule):
    """Latent ODE / RNN-VAE training on the ELBO or IWAE bound with KL annealing.

    Args:
        input_dim: number of features ``D``.
        latent_dim: size of z0.
        training: :class:`~latentode.training.TrainingConfig` (or a dict of its fields
            overriding the defaults ``objective="elbo"``, ``kl_delay=10``,
            ``kl_rate=0.99``, and the encoder's optimiser and learning rate in
            :data:`DEFAULT_OPTIMIZATION`: Adam at 3e-3 for the ODE-RNN encoder, Adam at
            1e-2 for the GRU encoder, both with ``beta2=0.9``; a dict that sets ``lr``
            alone keeps the encoder's optimiser). With a sharp likelihood the IWAE
            weights are nearly one-hot, its gradient rewards the best of K draws and
            widens q(z0); the ELBO learned faster and more stably on the periodic toy
            (``benchmarks/README.md``).
            ``std_delay`` (``None``: ``kl_delay``) holds a learned observation std at its
            initial value: learned from the start, the std grows to the error of the
            population-mean curve, the KL then outweighs the likelihood and q(z0)
            collapses onto the prior (issue 9).
        time_offset, time_scale: fix the time rescaling; by default it is taken
            from the data module (``fit_time_scale`` of its training series).
        **model_kwargs: passed to :class:`~latentode.models.latent_ode.LatentODEModel`
            (``encoder``, ``decoder``, ``units``, ``solver``, ``obs_std``, ...).

    Logs ``{stage}_loss``, ``{stage}_elbo`` and ``{stage}_iwae`` (per series, KL weight
    1), ``kl_weight``, the errors of :func:`~latentode.training.masked_errors`, and
    ``{stage}_accuracy`` (``{stage}_auc`` for binary labels) with a label head.
    """

    default_training = TrainingConfig()

    def __init__(
        self,
        input_dim: int,
        latent_dim: int = 6,
        *,
        training: dict[str, Any] | TrainingConfig | None = None,
        time_offset: float | None = None,
        time_scale: float | None = None,
        **model_kwargs: Any,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["training"])
        self.default_training = self.defaults_for(model_kwargs.get("encoder", "odernn"))
        # (``**model_kwargs`` passed on by name: LightningCLI reads the model's parameters
        # from this call)
        model_kwargs = self._setup(training, model_kwargs, time_offset, time_scale)
        cfg = self.training_config
        self.model = LatentODEModel(input_dim, latent_dim, **model_kwargs)
        if cfg.compile:
            if not hasattr(self.model.encoder, "compile_step"):
                raise ValueError(
                    "training compile=True compiles the ODE-RNN encoder's step; this model's "
                    f"encoder is {type(self.model.encoder).__name__}: use encoder='odernn' "
                    "or compile=False."
                )
            self.model.encoder.compile_step()
        self.kl_schedule = KLSchedule(cfg.kl_delay, cfg.kl_rate)
        self._label_buffer: list = []
        self._init_common()

    @classmethod
    def defaults_for(cls, encoder: str) -> TrainingConfig:
        """The training config a module with ``encoder`` starts from:
        :attr:`default_training` with the encoder's :data:`DEFAULT_OPTIMIZATION`."""
        return replace(cls.default_training, **DEFAULT_OPTIMIZATION.get(encoder, {}))

    def forward(self, batch: IrregularBatch, n_samples: int | None = None) -> torch.Tensor:
        """Posterior samples of the mean function, ``(K, B, N, D)``."""
        return self.model.predict_samples(batch, n_samples or self.training_config.n_samples)

    def on_train_epoch_start(self) -> None:
        cfg = self.training_config
        delay = cfg.kl_delay if cfg.std_delay is None else cfg.std_delay
        self.model.likelihood.frozen = self.current_epoch < delay

    def on_train_end(self) -> None:
        self.model.likelihood.frozen = False

    def training_step(self, batch: IrregularBatch, batch_idx: int) -> torch.Tensor:
        cfg = self.training_config
        w = self.kl_schedule(self.current_epoch)
        out = self.model(batch, cfg.n_samples, w, cfg.objective)
        b = batch.batch_size
        self.log("train_loss", out["loss"], batch_size=b, prog_bar=True)
        self.log("train_iwae", out["iwae"].mean(), batch_size=b)
        self.log("kl_weight", w, batch_size=b)
        self._log_errors("train", batch, out["pred"])
        return out["loss"]

    def _eval_step(self, stage: str, batch: IrregularBatch) -> None:
        cfg = self.training_config
        out = self.model(batch, cfg.n_samples, 1.0, cfg.objective)
        b = batch.batch_size
        self.log(f"{stage}_loss", out["loss"], batch_size=b, sync_dist=True, prog_bar=True)
        self.log(f"{stage}_elbo", out["elbo"].mean(), batch_size=b, sync_dist=True)
        self.log(f"{stage}_iwae", out["iwae"].mean(), batch_size=b, sync_dist=True)
        self._log_errors(stage, batch, out["pred"])
        if self.model.classifier is not None and batch.labels is not None:
            probs = self.model.predict_labels(batch, cfg.n_samples)
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

    def predict_step(self, batch: IrregularBatch, batch_idx: int) -> torch.Tensor:
        return self(batch)
