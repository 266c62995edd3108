"""Saved estimators: a directory with ``config.json`` (parameters, fitted state, format
version) and ``weights.pt`` (a plain tensor state dict). The config carries a SHA-256 of
the weights and one of itself (every other field), so any change to either file is
found on load; the fields are then checked against a schema (:mod:`.schema`).

Saving is atomic: both files are written into a temporary folder beside the target,
which is then renamed into place, so a crash during ``save`` never leaves a half-written
model. Loading never unpickles arbitrary objects: ``torch.load(weights_only=True)`` and
JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._version import __version__
from ..nn.solve import SolverConfig
from .schema import ModelFileError

__all__ = [
    "ModelFileError",
    "write_model",
    "check_save_path",
    "read_model",
    "params_to_json",
    "params_from_json",
    "CONFIG_FILE",
    "WEIGHTS_FILE",
]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.pt"
FORMAT = "latentode-estimator"
#: the config format this version writes; files without one are format 1 (no config
#: checksum); a file of a newer format is refused with a message to upgrade
FORMAT_VERSION = 2
#: how a :class:`SolverConfig` parameter is written in ``config.json``
_SOLVER_KEY = "__solver_config__"


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


def _config_sha256(config: dict) -> str:
    """SHA-256 of every field of ``config`` but ``config_sha256``, canonically encoded."""
    body = {k: v for k, v in config.items() if k != "config_sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def write_model(
    path: str | Path,
    estimator: str,
    params: dict[str, Any],
    fitted: dict[str, Any],
    state: dict[str, torch.Tensor],
) -> Path:
    """Write ``weights.pt`` and ``config.json`` into directory ``path``, atomically: into a
    temporary folder beside it, then renamed into place (an earlier model at ``path`` is
    replaced; any other existing folder or file is refused)."""
    path = check_save_path(path)
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": estimator,
        "latentode_version": __version__,
        "params": params_to_json(params),
        "fitted": json_safe(fitted),
    }
    parent = path.parent if str(path.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.saving-", dir=parent))
    try:
        weights = tmp / WEIGHTS_FILE
        torch.save({k: v.detach().cpu() for k, v in state.items()}, weights)
        config["weights_sha256"] = _sha256(weights)
        config["config_sha256"] = _config_sha256(config)
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2))
        for f in (weights, tmp / CONFIG_FILE):
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        _swap_into_place(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def check_save_path(path: str | Path) -> Path:
    """``path`` as a place to save a model: new, an empty folder, or an earlier saved
    model (replaced); a :class:`ModelFileError` for any other existing file or folder."""
    path = Path(path)
    if path.exists() and not (path.is_dir() and _is_model_dir_or_empty(path)):
        raise ModelFileError(
            f"{path} exists and is not a saved latentode model; save into a new or empty "
            "folder (an earlier saved model at the path is replaced)."
        )
    return path


def _is_model_dir_or_empty(path: Path) -> bool:
    names = {p.name for p in path.iterdir()}
    return not names or CONFIG_FILE in names and names <= {CONFIG_FILE, WEIGHTS_FILE}


def _swap_into_place(tmp: Path, path: Path) -> None:
    """Rename the finished ``tmp`` to ``path``; an earlier model there is moved aside
    first and removed after (a crash in between leaves no model at ``path``, never a
    mixed one)."""
    old = None
    if path.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=tmp.parent))
        os.replace(path, old / "model")
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def saved_estimator(path: str | Path) -> str | None:
    """The estimator class name recorded in a saved model's config (``None`` when there is
    no readable config: :func:`read_model` then says what is wrong)."""
    try:
        config = json.loads((Path(path) / CONFIG_FILE).read_text())
    except (OSError, ValueError):
        return None
    return config.get("estimator") if isinstance(config, dict) else None


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
    _check_version(config, cfg_path)
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
    for key in ("params", "fitted"):
        if not isinstance(config.get(key), dict):
            raise ModelFileError(f"{cfg_path}: field {key} is missing or not an object.")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - report any unpickling refusal clearly
        raise ModelFileError(f"{weights} could not be read safely: {err}") from None
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ModelFileError(f"{weights} is not a state dict of tensors.")
    try:
        params = params_from_json(config["params"])
    except (TypeError, ValueError) as err:
        raise ModelFileError(f"{cfg_path}: field params.solver is not valid: {err}") from None
    return params, config["fitted"], state


def _check_version(config: dict, cfg_path: Path) -> None:
    version = config.get("format_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(
            f"{cfg_path}: field format_version must be a positive integer, got {version!r}."
        )
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{cfg_path} was saved by latentode {config.get('latentode_version', '?')} in "
            f"model format {version}; this latentode ({__version__}) reads formats up to "
            f"{FORMAT_VERSION}. Upgrade latentode to load it."
        )
    if version >= 2 and config.get("config_sha256") != _config_sha256(config):
        raise ModelFileError(
            f"{cfg_path} does not match its own checksum (config_sha256): the file was "
            "modified after saving. Save the model again."
        )
