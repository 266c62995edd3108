"""The scikit-learn contract shared by the pandas estimators: declarative parameter
checks, the validation split, seeded training through Lightning, safe save/load.

A subclass declares ``_parameter_constraints``, builds its module in ``fit`` and provides
``_fitted_state()`` / ``_restore(state)`` (everything but the weights, as JSON values).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from .persistence import read_model, write_model
from .sampling import seeded
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

    def _train(self, module: Any, datamodule: Any, has_val: bool) -> None:
        """Fit with early stopping on ``val_loss`` and restore the best weights."""
        settings = TrainerSettings(
            max_epochs=self.max_epochs,
            gradient_clip_val=self.gradient_clip_val,
            early_stopping=self.early_stopping,
            patience=self.patience,
            verbose=self.verbose,
            trainer_kwargs=dict(self.trainer_kwargs or {}),
        )
        result = train(type(self).__name__, module, datamodule, has_val, settings)
        self.n_epochs_ = result.n_epochs
        self.train_metrics_ = result.metrics
        if result.best_val_loss is not None:
            self.best_val_loss_ = result.best_val_loss

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
        return write_model(
            path,
            type(self).__name__,
            self.get_params(deep=False),
            self._fitted_state(),
            self.module_.state_dict(),
        )

    @classmethod
    def load(cls, path: str | Path):
        """Rebuild a saved estimator; never unpickles arbitrary objects."""
        from .persistence import ModelFileError

        params, fitted, state = read_model(path, cls.__name__)
        est = cls(**params)
        est._restore(fitted)
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
