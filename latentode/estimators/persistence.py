"""Saved estimators: a directory with ``config.json`` (parameters, fitted state, format)
and ``weights.pt`` (a plain tensor state dict, checked against a SHA-256 in the config).

Loading never unpickles arbitrary objects: ``torch.load(weights_only=True)`` and JSON.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._version import __version__
from ..nn.solve import SolverConfig

__all__ = [
    "ModelFileError",
    "write_model",
    "read_model",
    "params_to_json",
    "params_from_json",
    "CONFIG_FILE",
    "WEIGHTS_FILE",
]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.pt"
FORMAT = "latentode-estimator"
#: how a :class:`SolverConfig` parameter is written in ``config.json``
_SOLVER_KEY = "__solver_config__"


class ModelFileError(ValueError):
    """A saved model directory is missing, truncated, tampered with or of another kind."""


def json_safe(value: Any) -> Any:
    """``value`` with numpy scalars as Python ones; a TypeError for anything not JSON."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"{value!r} of type {type(value).__name__} cannot be saved as JSON.")


def params_to_json(params: dict[str, Any]) -> dict[str, Any]:
    """Estimator parameters as JSON values (a :class:`SolverConfig` as a tagged dict)."""
    out = {}
    for k, v in params.items():
        if isinstance(v, SolverConfig):
            v = {_SOLVER_KEY: {**vars(v), "options": dict(v.options)}}
        out[k] = json_safe(v)
    return out


def params_from_json(params: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`params_to_json`; files saved before the estimators took a
    :class:`SolverConfig` (flat ``solver, rtol, atol, grid_step``; ``n_samples`` for the
    training draws) are mapped to the current parameters."""
    params = dict(params)
    if "n_samples" in params:
        params["train_samples"] = params.pop("n_samples")
    flat = {k: params.pop(k) for k in ("rtol", "atol", "grid_step") if k in params}
    if flat:
        defaults = SolverConfig()
        method = params.get("solver", defaults.method)
        if any(getattr(defaults, k) != v for k, v in flat.items()):
            params["solver"] = SolverConfig(method=method, **flat)
    solver = params.get("solver")
    if isinstance(solver, dict) and _SOLVER_KEY in solver:
        params["solver"] = SolverConfig(**solver[_SOLVER_KEY])
    return params


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_model(
    path: str | Path,
    estimator: str,
    params: dict[str, Any],
    fitted: dict[str, Any],
    state: dict[str, torch.Tensor],
) -> Path:
    """Write ``weights.pt`` and ``config.json`` into directory ``path``."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    weights = path / WEIGHTS_FILE
    torch.save({k: v.detach().cpu() for k, v in state.items()}, weights)
    config = {
        "format": FORMAT,
        "estimator": estimator,
        "latentode_version": __version__,
        "params": params_to_json(params),
        "fitted": json_safe(fitted),
        "weights_sha256": _sha256(weights),
    }
    (path / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    return path


def read_model(path: str | Path, estimator: str) -> tuple[dict, dict, dict[str, torch.Tensor]]:
    """``(params, fitted, state)`` of a model saved by ``estimator``; a
    :class:`ModelFileError` that says what is wrong otherwise."""
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
    if config.get("estimator") != estimator:
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
    return params_from_json(config["params"]), config["fitted"], state
