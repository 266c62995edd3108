"""Shared machinery of the pandas estimators: training through Lightning, safe save/load.

An estimator subclass provides ``_build_module()`` and the fitted state it wants saved;
this module knows nothing of solver internals.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from .. import __version__

__all__ = ["LightningEstimator", "ModelFileError", "keyed_generator", "keyed_normal"]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.pt"
FORMAT = "latentode-estimator"


def keyed_generator(seed: int, key: Any) -> int:
    """A 64-bit seed derived from ``(seed, key)``: each series gets its own random stream,
    so its draws do not depend on which other series are in the frame."""
    digest = hashlib.sha256(f"{seed}|{key!r}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def keyed_normal(seed: int, key: Any, n: int, dim: int) -> torch.Tensor:
    """``(n, dim)`` standard normals from the stream keyed by ``(seed, key)``."""
    gen = torch.Generator().manual_seed(keyed_generator(seed, key) >> 1)
    return torch.randn(n, dim, generator=gen)


class ModelFileError(ValueError):
    """A saved model directory is missing, truncated, tampered with or of another kind."""


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"{value!r} of type {type(value).__name__} cannot be saved as JSON.")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class LightningEstimator(BaseEstimator):
    """Base class: scikit-learn parameters in, a trained LightningModule in ``module_``."""

    _fitted_marker = "module_"

    # ------------------------------------------------------------ contract
    def _check_fitted(self) -> None:
        if not hasattr(self, self._fitted_marker):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with a "
                "DataFrame before using this method."
            )

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, self._fitted_marker)

    # ------------------------------------------------------------ training
    def _split(self, items: list) -> tuple[list, list]:
        """``(train, val)``: a seeded ``val_size`` share of the series (sequences) held out
        for validation, none below 5 series."""
        if not 0 <= self.val_size < 1:
            raise ValueError(f"val_size must be in [0, 1), got {self.val_size}.")
        n = len(items)
        n_val = int(round(self.val_size * n)) if n >= 5 else 0
        order = np.random.default_rng(self.seed).permutation(n)
        return [items[i] for i in order[n_val:]], [items[i] for i in order[:n_val]]

    def _trainer(self, callbacks: list, has_val: bool, root: str) -> L.Trainer:
        kwargs: dict[str, Any] = dict(
            max_epochs=self.max_epochs,
            logger=False,
            enable_progress_bar=bool(self.verbose),
            enable_model_summary=False,
            gradient_clip_val=self.gradient_clip_val,
            default_root_dir=root,
            callbacks=callbacks,
            enable_checkpointing=has_val,
            num_sanity_val_steps=0,
            accelerator="cpu",
            devices=1,
        )
        if not has_val:
            kwargs["limit_val_batches"] = 0
        kwargs.update(self.trainer_kwargs or {})
        return L.Trainer(**kwargs)

    def _train(
        self, module: L.LightningModule, datamodule: L.LightningDataModule, has_val: bool
    ) -> None:
        """Fit with early stopping on ``val_loss`` and restore the best weights."""
        callbacks: list = []
        with tempfile.TemporaryDirectory(prefix="latentode-") as root:
            ckpt = None
            if has_val:
                ckpt = ModelCheckpoint(
                    dirpath=root,
                    monitor="val_loss",
                    mode="min",
                    save_top_k=1,
                    save_weights_only=True,
                )
                callbacks.append(ckpt)
                if self.early_stopping:
                    callbacks.append(EarlyStopping("val_loss", patience=self.patience))
            quiet = logging.getLogger("lightning.pytorch")
            level = quiet.level
            if not self.verbose:
                quiet.setLevel(logging.WARNING)
            try:
                trainer = self._trainer(callbacks, has_val, root)
            finally:
                quiet.setLevel(level)
            steps = self.max_epochs * len(datamodule.train_dataloader())
            if steps < 300:
                warnings.warn(
                    f"{type(self).__name__}: only {steps} optimisation steps "
                    f"({self.max_epochs} epochs x {len(datamodule.train_dataloader())} batches); "
                    "neural ODEs usually need several hundred. Raise max_epochs or lower "
                    "batch_size.",
                    UserWarning,
                    stacklevel=3,
                )
            if not self.verbose:
                quiet.setLevel(logging.WARNING)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*does not have many workers.*")
                warnings.filterwarnings("ignore", message=".*transfer_batch_to_device.*")
                warnings.filterwarnings("ignore", message=".*LeafSpec.*")
                try:
                    trainer.fit(module, datamodule)
                finally:
                    quiet.setLevel(level)
            self.n_epochs_ = int(trainer.current_epoch)
            metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
            self.train_metrics_ = metrics
            if ckpt is not None and ckpt.best_model_path:
                state = torch.load(ckpt.best_model_path, map_location="cpu", weights_only=True)
                module.load_state_dict(state["state_dict"])
                self.best_val_loss_ = float(ckpt.best_model_score)
        module.cpu().eval()

    # ------------------------------------------------------------ save / load
    def _fitted_state(self) -> dict:
        """JSON-safe fitted state (everything but the weights); subclasses extend."""
        raise NotImplementedError

    def _restore(self, state: dict) -> None:
        raise NotImplementedError

    def save(self, path: str | Path) -> Path:
        """Write ``config.json`` (parameters, fitted state, version) and ``weights.pt``
        (a plain state dict) into directory ``path``. Returns the path."""
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        weights = path / WEIGHTS_FILE
        torch.save({k: v.detach().cpu() for k, v in self.module_.state_dict().items()}, weights)
        params = {k: v for k, v in self.get_params(deep=False).items()}
        config = {
            "format": FORMAT,
            "estimator": type(self).__name__,
            "latentode_version": __version__,
            "params": _json_safe(params),
            "fitted": _json_safe(self._fitted_state()),
            "weights_sha256": _sha256(weights),
        }
        (path / CONFIG_FILE).write_text(json.dumps(config, indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path):
        """Rebuild a saved estimator; never unpickles arbitrary objects."""
        path = Path(path)
        cfg_path, weights = path / CONFIG_FILE, path / WEIGHTS_FILE
        if not cfg_path.is_file() or not weights.is_file():
            raise ModelFileError(
                f"{path} is not a saved latentode model: expected {CONFIG_FILE} and "
                f"{WEIGHTS_FILE} inside it (write one with .save(path))."
            )
        try:
            config = json.loads(cfg_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ModelFileError(
                f"{cfg_path} is not valid JSON ({err}); the file is damaged."
            ) from None
        if not isinstance(config, dict) or config.get("format") != FORMAT:
            raise ModelFileError(f"{cfg_path} is not a latentode estimator config.")
        if config.get("estimator") != cls.__name__:
            raise ModelFileError(
                f"{path} holds a {config.get('estimator')} model; load it with "
                f"{config.get('estimator')}.load(...)."
            )
        if _sha256(weights) != config.get("weights_sha256"):
            raise ModelFileError(
                f"{weights} does not match the checksum in {CONFIG_FILE}: the file was "
                "truncated or modified after saving. Save the model again."
            )
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - report any unpickling refusal clearly
            raise ModelFileError(f"{weights} could not be read safely: {err}") from None
        est = cls(**config["params"])
        est._restore(config["fitted"])
        # files saved before the models had a value scaler (0.2.x) lack its buffers;
        # the estimators standardize values themselves, so the identity is exact
        scaler_keys = [k for k in est.module_.state_dict() if ".value_scaler." in k]
        if scaler_keys and not any(k in state for k in scaler_keys):
            est.module_.model.set_value_scale(0.0, 1.0)
            state = {**est.module_.state_dict(), **state}
        try:
            est.module_.load_state_dict(state)
        except RuntimeError as err:
            raise ModelFileError(f"{weights} does not fit the saved configuration: {err}") from None
        est.module_.eval()
        return est
