"""latentode: Latent ODEs for irregularly sampled time series.

The top level is small: names load on first use, so ``import latentode`` (and
``import latentode.nn`` or ``latentode.models``) does not pull in Lightning, pandas or
scikit-learn until an estimator, a frame or a training module is asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__

#: public name -> the module that defines it
_LAZY = {
    "LatentODE": "latentode.estimators",
    "EventIntensity": "latentode.estimators",
    "ModelFileError": "latentode.estimators",
    "TrainingError": "latentode.estimators",
    "TrainingStopped": "latentode.estimators",
    "DataFrameError": "latentode.frames",
    "IrregularBatch": "latentode.data",
    "Series": "latentode.data",
    "collate": "latentode.data",
    "IrregularDataModule": "latentode.training",
    "TrainingConfig": "latentode.training",
    "LatentODEModel": "latentode.models",
    "RecurrentModel": "latentode.models",
    "SolverConfig": "latentode.nn",
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'latentode' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
