"""The scikit-learn contract shared by the pandas estimators: declarative parameter
checks, the validation split, seeded training through Lightning, safe save/load.

A subclass declares ``_parameter_constraints``, builds its module in ``fit`` and provides
``_fitted_state()`` / ``_restore(state)`` (everything but the weights, as JSON values).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from ..data.batch import collate
from ..frames.errors import warn_user
from .persistence import read_model, write_model
from .sampling import seeded
from .schema import ModelFileError, check_fields, check_module_sizes
from .training import TrainerSettings, train

__all__ = ["LightningEstimator"]


class LightningEstimator(BaseEstimator):
    """Base class: scikit-learn parameters in, a trained LightningModule in ``module_``."""

    _fitted_marker = "module_"
    _parameter_constraints: dict = {}

    # ------------------------------------------------------------ contract
    def _check_fitted(self) -> None:
        if not hasattr(self, self._fitted_marker):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with a "
                "DataFrame before using this method."
            )

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, self._fitted_marker)

    def _check_params(self) -> None:
        """Every ``__init__`` parameter against ``_parameter_constraints`` (an
        ``InvalidParameterError``, a ValueError and TypeError, naming the parameter)."""
        self._validate_params()

    # ------------------------------------------------------------ device
    def _device(self) -> torch.device:
        """Where the fitted module is (where it was trained, unless moved by :meth:`to`)."""
        return next(self.module_.parameters()).device

    def _batch(self, series: list) -> Any:
        """``series`` collated on the module's device."""
        return collate(series).to(self._device())

    def _on(self, tensor: Any) -> Any:
        return tensor.to(self._device()) if torch.is_tensor(tensor) else tensor

    def to(self, device: str | torch.device) -> LightningEstimator:
        """Move the fitted model to ``device`` (e.g. ``"cpu"`` or ``"cuda:0"``); inference
        then runs there. Returns self."""
        self._check_fitted()
        self.module_.to(device)
        return self

    # ------------------------------------------------------------ training
    def _split(self, items: list) -> tuple[list, list]:
        """``(train, val)``: a seeded ``val_size`` share of the series (sequences) held out
        for validation, none below 5 series."""
        n = len(items)
        n_val = int(round(self.val_size * n)) if n >= 5 else 0
        order = np.random.default_rng(self.seed).permutation(n)
        return [items[i] for i in order[n_val:]], [items[i] for i in order[:n_val]]

    def _seeded(self) -> seeded:
        """Initialisation and training draw from torch's generators seeded with ``seed``;
        the caller's random state is restored afterwards."""
        return seeded(self.seed)

    def _train(
        self, module: Any, datamodule: Any, has_val: bool, checkpoint_dir: Any = None
    ) -> dict[str, Any]:
        """Fit with early stopping on ``val_loss`` and restore the best weights; returns
        the training's fitted attributes (set by :meth:`_commit`)."""
        settings = TrainerSettings(
            max_epochs=self.max_epochs,
            gradient_clip_val=self.gradient_clip_val,
            early_stopping=self.early_stopping,
            patience=self.patience,
            verbose=self.verbose,
            trainer_kwargs=dict(self.trainer_kwargs or {}),
            accelerator=self.accelerator,
            devices=self.devices,
            strategy=self.strategy,
            logger=self.logger,
        )
        result = train(type(self).__name__, module, datamodule, has_val, settings, checkpoint_dir)
        attrs: dict[str, Any] = {
            "n_epochs_": result.n_epochs,
            "train_metrics_": result.metrics,
            "history_": pd.DataFrame(result.history),
        }
        if result.best_val_loss is not None:
            attrs["best_val_loss_"] = result.best_val_loss
        return attrs

    #: fitted attributes a fit may leave out, removed from an earlier fit when it does
    _optional_fitted = ("best_val_loss_", "classes_", "label_col_", "noise_scale_", "spread_scale_")

    def _commit(self, attrs: dict[str, Any]) -> None:
        """Set the fitted attributes at once, after training succeeded: an interrupted or
        failed ``fit`` leaves the estimator as it was."""
        for name in self._optional_fitted:
            if name not in attrs and hasattr(self, name):
                delattr(self, name)
        for name, value in attrs.items():
            setattr(self, name, value)

    # ------------------------------------------------------------ save / load
    def _saveable_params(self) -> dict:
        """The parameters as saved: runtime objects (a ``logger``, a ``strategy`` object,
        ``trainer_kwargs`` values such as callbacks) cannot be written as JSON and are
        left out, with a warning naming them; ``compile`` is left out silently."""
        params = self.get_params(deep=False)
        params.pop("compile", None)  # how this process runs, not part of the model
        dropped = []
        if params.get("logger") is not None:
            params["logger"], _ = None, dropped.append("logger")
        if not isinstance(params.get("strategy"), str):
            params["strategy"], _ = "auto", dropped.append("strategy")
        kwargs = dict(params.get("trainer_kwargs") or {})
        for key, value in list(kwargs.items()):
            if not isinstance(value, (str, int, float, bool, type(None), list, dict)):
                dropped.append(f"trainer_kwargs[{key!r}]")
                del kwargs[key]
        if params.get("trainer_kwargs") is not None:
            params["trainer_kwargs"] = kwargs
        if dropped:
            warn_user(
                f"save: {', '.join(dropped)} are runtime objects and are not saved; set them "
                "again after load if you refit."
            )
        return params

    @classmethod
    def _from_saved_params(cls, params: dict, source: str) -> LightningEstimator:
        """The estimator of the saved parameters, each checked against the constraints."""
        names = set(cls._get_param_names())
        unknown = sorted(set(params) - names)
        if unknown:
            raise ModelFileError(
                f"{source}: field params.{unknown[0]} is not a parameter of {cls.__name__}; "
                "the file was written by another version or modified."
            )
        est = cls(**params)
        try:
            est._check_params()
        except ValueError as err:  # InvalidParameterError names the parameter
            raise ModelFileError(f"{source}: field params: {err}") from None
        return est

    def _fitted_state(self) -> dict:
        """JSON-safe fitted state (everything but the weights); subclasses extend."""
        raise NotImplementedError

    def _restore(self, state: dict) -> None:
        raise NotImplementedError

    def save(self, path: str | Path) -> Path:
        """Write ``config.json`` (parameters, fitted state, version) and ``weights.pt``
        (a plain state dict) into directory ``path``. Returns the path."""
        self._check_fitted()
        return write_model(
            path,
            type(self).__name__,
            self._saveable_params(),
            self._fitted_state(),
            self.module_.state_dict(),
        )

    #: field -> :class:`~.schema.Field` of the fitted state in ``config.json``
    _fitted_schema: dict = {}

    @classmethod
    def load(cls, path: str | Path):
        """Rebuild a saved estimator; never unpickles arbitrary objects. Every field of
        ``config.json`` is checked (checksum, format version, parameter constraints,
        fitted-state types, sizes) before the module is built: a
        :class:`~.schema.ModelFileError` naming the field otherwise."""
        params, fitted, state = read_model(path, cls.__name__)
        source = str(Path(path) / "config.json")
        est = cls._from_saved_params(params, source)
        check_fields(fitted, cls._fitted_schema, "fitted", source)
        check_module_sizes(fitted["module_hparams"], source)
        try:
            est._restore(fitted)
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise ModelFileError(
                f"{source}: the fitted state does not describe a model ({err!r:.200}); "
                "the file is damaged or was modified. Save the model again."
            ) from None
        # files saved before the models had a value scaler (0.2.x) lack its buffers;
        # the estimators standardize values themselves, so the identity is exact
        scaler_keys = [k for k in est.module_.state_dict() if ".value_scaler." in k]
        if scaler_keys and not any(k in state for k in scaler_keys):
            est.module_.model.set_value_scale(0.0, 1.0)
            state = {**est.module_.state_dict(), **state}
        try:
            est.module_.load_state_dict(state)
        except RuntimeError as err:
            raise ModelFileError(
                f"{Path(path) / 'weights.pt'} does not fit the saved configuration: {err}"
            ) from None
        est.module_.eval()
        return est
