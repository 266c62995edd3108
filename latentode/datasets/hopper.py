"""The MuJoCo hopper data set of Rubanova, Chen & Duvenaud (2019), generated with dm_control.

Recipe (as in the reference code, ``lib/mujoco_physics.py`` of the latent ODE repository):
the dm_control suite ``hopper`` domain (``stand`` task) with zero actuation; each series
starts from a random state, ``qpos[:2] ~ U(0, 0.5)`` (root x and z), the other five
``qpos ~ U(-2, 2)``, all seven ``qvel ~ U(-5, 5)``; the state ``(qpos, qvel)`` is recorded,
then ``physics.step(physics_steps_per_step)`` advances it, ``n_steps`` times. So the first
row of a series is its initial state. The reference takes one MuJoCo step (5 ms of
simulated time) per recorded step, which is the default here; ``env.step`` (4 MuJoCo steps,
20 ms) is not used.

Only the physics is needed: nothing is rendered, so no ``MUJOCO_GL`` setting is required.
The array is cached as ``.npz`` (see :func:`hopper`); dm_control is imported only to build.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["hopper", "hopper_array", "HOPPER_COLUMNS", "hopper_cache_path"]

HOPPER_COLUMNS = [f"qpos_{i}" for i in range(7)] + [f"qvel_{i}" for i in range(7)]
"""The 14 state columns: ``qpos_0..6`` (rootx, rootz, rooty, waist, hip, knee, ankle),
then their velocities ``qvel_0..6``."""

# Bump when the recipe changes so that old cache files are not reused.
_RECIPE_VERSION = 1
_STATE_DIM = 14
_INSTALL_HINT = (
    'the hopper data set needs dm_control and MuJoCo: pip install "latentode[hopper]" '
    "(dm-control==1.0.50, mujoco==3.17.0)"
)


def _default_cache_dir() -> Path:
    root = os.environ.get("LATENTODE_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "latentode"
    return base / "hopper"


def hopper_cache_path(
    n_series: int = 10000,
    n_steps: int = 200,
    seed: int = 0,
    *,
    cache_dir: str | os.PathLike | None = None,
    physics_steps_per_step: int = 1,
) -> Path:
    """Where :func:`hopper` caches the array for these parameters."""
    key = f"v{_RECIPE_VERSION}-n{n_series}-t{n_steps}-s{seed}-k{physics_steps_per_step}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    folder = Path(cache_dir).expanduser() if cache_dir is not None else _default_cache_dir()
    return folder / f"hopper_{key}_{digest}.npz"


def _import_suite():
    try:
        with warnings.catch_warnings():
            # dm_control probes for a display (glfw) on import; only physics is used here.
            warnings.filterwarnings("ignore", message=r".*DISPLAY environment variable")
            from dm_control import suite
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(_INSTALL_HINT) from e
    return suite


def _build(n_series: int, n_steps: int, seed: int, physics_steps_per_step: int) -> np.ndarray:
    """Simulate the trajectories: float64 array ``(n_series, n_steps, 14)``."""
    suite = _import_suite()
    env = suite.load("hopper", "stand")
    physics = env.physics
    nq, nv = physics.model.nq, physics.model.nv
    if nq + nv != _STATE_DIM:  # pragma: no cover - guards against a changed model
        raise RuntimeError(f"hopper model has nq={nq}, nv={nv}; expected 7 + 7")
    # RandomState, not default_rng: with seed=123 it makes the same draws, in the same
    # order, as the reference code's np.random.seed(123).
    rng = np.random.RandomState(seed)
    out = np.empty((n_series, n_steps, _STATE_DIM))
    for i in range(n_series):
        with physics.reset_context():
            physics.data.qpos[:2] = rng.uniform(0, 0.5, size=2)
            physics.data.qpos[2:] = rng.uniform(-2, 2, size=nq - 2)
            physics.data.qvel[:] = rng.uniform(-5, 5, size=nv)
            physics.data.ctrl[:] = 0.0  # no actuation
        for t in range(n_steps):
            out[i, t, :nq] = physics.data.qpos
            out[i, t, nq:] = physics.data.qvel
            physics.step(physics_steps_per_step)
    return out


def _versions() -> str:
    parts = []
    for name in ("dm_control", "mujoco"):
        try:
            from importlib.metadata import version

            parts.append(f"{name}=={version(name.replace('_', '-'))}")
        except Exception:  # noqa: BLE001 - metadata is informative only
            parts.append(f"{name}==?")
    return " ".join(parts)


def _load_cache(path: Path, params: dict[str, int]) -> np.ndarray | None:
    """The cached array, or ``None`` (with a warning) when the file is unreadable or stale."""
    try:
        with np.load(path, allow_pickle=False) as f:
            data = np.asarray(f["data"])
            stored = {k: int(f[k]) for k in params}
    except Exception as e:  # noqa: BLE001 - any unreadable file is rebuilt
        warnings.warn(f"hopper cache {path} is unreadable ({e!r}); rebuilding", stacklevel=3)
        return None
    shape = (params["n_series"], params["n_steps"], _STATE_DIM)
    if stored != params or data.shape != shape or data.dtype != np.float32:
        warnings.warn(
            f"hopper cache {path} does not match {params} (shape {data.shape}); rebuilding",
            stacklevel=3,
        )
        return None
    return data


def _save_cache(path: Path, data: np.ndarray, params: dict[str, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, data=data, versions=np.array(_versions()), **params)
    os.replace(tmp, path)  # atomic: a reader never sees half a file


def hopper_array(
    n_series: int = 10000,
    n_steps: int = 200,
    seed: int = 0,
    *,
    cache_dir: str | os.PathLike | None = None,
    physics_steps_per_step: int = 1,
    builder: Callable[[int, int, int, int], np.ndarray] | None = None,
) -> np.ndarray:
    """The hopper trajectories as a float32 array ``(n_series, n_steps, 14)``.

    Loaded from the cache when present, else simulated and cached; see :func:`hopper`.
    ``builder`` replaces the simulator (tests).
    """
    for name, value in (
        ("n_series", n_series),
        ("n_steps", n_steps),
        ("physics_steps_per_step", physics_steps_per_step),
    ):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    params = {
        "n_series": int(n_series),
        "n_steps": int(n_steps),
        "seed": int(seed),
        "physics_steps_per_step": int(physics_steps_per_step),
        "recipe_version": _RECIPE_VERSION,
    }
    path = hopper_cache_path(
        n_series, n_steps, seed, cache_dir=cache_dir, physics_steps_per_step=physics_steps_per_step
    )
    if path.exists():
        data = _load_cache(path, params)
        if data is not None:
            return data
    build = builder if builder is not None else _build
    data = np.asarray(
        build(params["n_series"], params["n_steps"], params["seed"], physics_steps_per_step),
        dtype=np.float32,
    )
    try:
        _save_cache(path, data, params)
    except OSError as e:
        warnings.warn(f"could not write hopper cache {path}: {e}", stacklevel=2)
    return data


def hopper(
    n_series: int = 10000,
    n_steps: int = 200,
    seed: int = 0,
    *,
    cache_dir: str | os.PathLike | None = None,
    physics_steps_per_step: int = 1,
) -> pd.DataFrame:
    """MuJoCo hopper trajectories (Rubanova et al., 2019) as a long DataFrame.

    Columns ``id`` (int), ``time`` (``step / n_steps``, in ``[0, 1)``) and the 14 state
    columns :data:`HOPPER_COLUMNS` (``qpos_0..6``, ``qvel_0..6``; float, stored as float32).
    See the module docstring for the recipe; deterministic for a ``seed``.

    Args:
        n_series: number of trajectories (the paper: 10,000).
        n_steps: recorded steps per trajectory (the paper: 200).
        seed: seed of the initial states (``np.random.RandomState``).
        cache_dir: folder of the ``.npz`` cache; default ``$LATENTODE_CACHE/hopper`` or
            ``~/.cache/latentode/hopper``. The file name is keyed by the parameters; an
            unreadable or mismatched file is rebuilt with a warning.
        physics_steps_per_step: MuJoCo steps (5 ms each) between recorded states; 1 as in
            the reference code.

    Raises:
        ImportError: dm_control is missing and the array is not cached
            (``pip install "latentode[hopper]"``).
    """
    data = hopper_array(
        n_series,
        n_steps,
        seed,
        cache_dir=cache_dir,
        physics_steps_per_step=physics_steps_per_step,
    )
    n, t, d = data.shape
    frame = pd.DataFrame(data.reshape(n * t, d), columns=HOPPER_COLUMNS)
    frame.insert(0, "time", np.tile(np.arange(t) / t, n))
    frame.insert(0, "id", np.repeat(np.arange(n, dtype=np.int64), t))
    return frame
