"""What every Lightning module of the package shares: batches on any device, the time
and value scales from the data module, the optimiser and its schedule, error logging."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import lightning as L
import torch

from ..data.batch import IrregularBatch
from ..nn.solve import LEGACY_INTERPOLATION, SolverConfig
from .config import OPTIMIZERS, TrainingConfig

__all__ = ["TrainingModule", "masked_errors"]

#: keyword names of models that were renamed; checkpoints saved before still load
RENAMED_MODEL_KWARGS = {"enc_hidden": "hidden_dim"}
#: checkpoint key naming the interpolation rule the module trained with (none before
#: the default became cubic: those checkpoints trained with Hermite's rule)
INTERPOLATION_KEY = "latentode_interpolation"


def _names_no_interpolation(solver: Any) -> bool:
    """A saved ``solver`` hyperparameter that leaves the rule to the default."""
    return solver is None or (isinstance(solver, dict) and "interpolation" not in solver)


def masked_errors(batch: IrregularBatch, pred: torch.Tensor) -> dict[str, tuple[torch.Tensor, int]]:
    """Squared-error means and cell counts on the scored cells.

    Args:
        batch: values, masks ``(B, N, D)``, times ``(B, N)``.
        pred: ``(B, N, D)``.

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


def model_kwargs_of(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Model keyword arguments with the renamed ones (:data:`RENAMED_MODEL_KWARGS`)
    under their current names."""
    return {RENAMED_MODEL_KWARGS.get(k, k): v for k, v in kwargs.items()}


class TrainingModule(L.LightningModule):
    """Base of the package's modules: ``self.model`` is a
    :class:`~latentode.models.timescale.TimeScaled` model, ``self.training_config`` a
    :class:`TrainingConfig` (stored as the ``training`` hyperparameter, a dict)."""

    model: torch.nn.Module
    training_config: TrainingConfig
    #: the config fields a module uses when none are given
    default_training = TrainingConfig()

    def _setup(
        self,
        training: TrainingConfig | dict | None,
        model_kwargs: dict[str, Any],
        time_offset: float | None,
        time_scale: float | None,
    ) -> dict[str, Any]:
        """Call after ``save_hyperparameters()``. Resolves the training config from
        ``training`` and any flat training fields in ``model_kwargs`` (hyperparameters
        saved before the config existed), records it in ``hparams["training"]`` as a dict,
        and returns the model's keyword arguments under their current names."""
        model_kwargs = dict(model_kwargs)
        legacy = TrainingConfig.pop_legacy(model_kwargs)
        if legacy:
            warnings.warn(
                f"{type(self).__name__}: training fields {sorted(legacy)} given as flat "
                "keyword arguments (a checkpoint saved before TrainingConfig existed?); pass "
                "training=TrainingConfig(...) or a dict instead.",
                DeprecationWarning,
                stacklevel=3,
            )
        # flat fields come from checkpoints saved before the config existed: they trained
        # from the class's defaults, not from a module's own (``defaults_for``)
        defaults = type(self).default_training if legacy else self.default_training
        self.training_config = TrainingConfig.resolve(training, defaults, legacy)
        kwargs = model_kwargs_of(model_kwargs)
        for key in [*legacy, *RENAMED_MODEL_KWARGS]:
            self.hparams.pop(key, None)
        self.hparams.update(kwargs)
        self.hparams["training"] = self.training_config.to_dict()
        self._time = (time_offset, time_scale)
        return kwargs

    @classmethod
    def from_hparams(cls, hparams: dict[str, Any]) -> TrainingModule:
        """A module from its saved ``hparams`` (current, or flat ones saved before
        :class:`TrainingConfig` existed, converted without a warning)."""
        kwargs = model_kwargs_of(dict(hparams))
        if isinstance(kwargs.get("solver"), dict) and _names_no_interpolation(kwargs["solver"]):
            # saved before the rule was a field: trained with Hermite's
            kwargs["solver"] = {**kwargs["solver"], "interpolation": LEGACY_INTERPOLATION}
        legacy = TrainingConfig.pop_legacy(kwargs)
        training = {**legacy, **(kwargs.pop("training", None) or {})}
        # saved without an optimiser: before a module's defaults could depend on its
        # model (``LatentODEModule.defaults_for``), it trained with the class's
        if "optimizer" not in training:
            for key in ("optimizer", "lr"):
                training.setdefault(key, getattr(cls.default_training, key))
        return cls(training=training, **kwargs)

    def _init_common(self) -> None:
        offset, scale = self._time
        if scale is not None:
            self.model.set_time_scale(offset or 0.0, scale)

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

    def _with_solver(self) -> list[torch.nn.Module]:
        """The submodules that hold a :class:`SolverConfig` as ``solver``."""
        return [m for m in self.modules() if isinstance(getattr(m, "solver", None), SolverConfig)]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        rules = {m.solver.interpolation for m in self._with_solver()}
        if len(rules) == 1:
            checkpoint[INTERPOLATION_KEY] = rules.pop()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Checkpoints saved before the cubic default (they lack ``INTERPOLATION_KEY``)
        trained with Hermite's rule, unless their ``solver`` named one."""
        rule = checkpoint.get(INTERPOLATION_KEY)
        if rule is None and _names_no_interpolation(self.hparams.get("solver")):
            rule = LEGACY_INTERPOLATION
        if rule is not None:
            for m in self._with_solver():
                m.solver = dataclasses.replace(m.solver, interpolation=rule)

    def configure_optimizers(self) -> Any:
        cfg = self.training_config
        betas = {} if cfg.beta2 is None else {"betas": (0.9, cfg.beta2)}
        opt = OPTIMIZERS[cfg.optimizer](
            self.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, **betas
        )
        decay, floor = cfg.lr_decay, cfg.min_lr_ratio
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

    def validation_step(self, batch: IrregularBatch, batch_idx: int) -> None:
        self._eval_step("val", batch)

    def test_step(self, batch: IrregularBatch, batch_idx: int) -> None:
        self._eval_step("test", batch)

    def _eval_step(self, stage: str, batch: IrregularBatch) -> None:
        raise NotImplementedError
