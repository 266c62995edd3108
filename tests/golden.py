"""Golden outputs: fixed-seed results of the public API on small data.

Recorded once, before the package was reorganised (issue 11), by
``python -m tests.golden --record``; ``tests/test_golden.py`` recomputes every case and
compares it with the recording, and also loads the model files saved by the old code.
The cases cover predictions, quantiles, samples, scores, class probabilities, event
intensities, expected counts, simulations, next-event quantiles, the demo's figures and
the contents of saved files.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import torch

HERE = Path(__file__).parent / "fixtures" / "golden"
RESULTS = HERE / "results.json"


def _frame(df: pd.DataFrame) -> dict:
    """A frame as JSON: columns, dtypes and exact values (floats by repr)."""
    out = {"columns": [str(c) for c in df.columns], "dtypes": [str(t) for t in df.dtypes]}
    out["values"] = {
        str(c): [None if (isinstance(v, float) and np.isnan(v)) else _scalar(v) for v in df[c]]
        for c in df.columns
    }
    return out


def _scalar(v):
    if isinstance(v, (np.floating, float)):
        return float(v)
    if isinstance(v, (np.integer, int)):
        return int(v)
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    return str(v)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return _frame(value)
    return _scalar(value) if value is not None else None


def _weights(path: Path) -> dict:
    state = torch.load(path / "weights.pt", map_location="cpu", weights_only=True)
    return {
        k: {"shape": list(v.shape), "sum": float(v.double().sum()), "sha": _sha(v)}
        for k, v in sorted(state.items())
    }


def _sha(t: torch.Tensor) -> str:
    return hashlib.sha256(t.detach().contiguous().numpy().tobytes()).hexdigest()[:16]


def periodic_data():
    from latentode.datasets import periodic

    df = periodic(24, 30, 2.0, seed=3)
    rng = np.random.default_rng(5)
    df.loc[rng.random(len(df)) < 0.3, "value"] = np.nan
    df.loc[df.groupby("id").head(1).index, "value"] = 1.0
    test = df[df["id"] >= 20].reset_index(drop=True)
    return df[df["id"] < 20].reset_index(drop=True), test


@contextmanager
def _recorded_defaults():
    """Fit with the defaults the recording ran with where they have changed since: the GRU
    encoder read raw gaps (``encoder_gap_scale=1``; 20 since issue 9)."""
    from latentode import LatentODE

    build = LatentODE._module_hparams

    def recorded(self, *args, **kwargs):
        return {**build(self, *args, **kwargs), "encoder_gap_scale": 1.0}

    with mock.patch.object(LatentODE, "_module_hparams", recorded):
        yield


def latent_cases(save_dir: Path | None) -> dict:
    # the recording ran before the reorganisation, with ``solver="rk4", grid_step=0.1``
    # (flat parameters, positional-or-keyword); the same settings in today's API:
    from latentode import LatentODE, SolverConfig

    train, test = periodic_data()
    out = {}
    configs = {
        "odernn": dict(latent_dim=4, hidden_dim=8, units=16, max_epochs=4, batch_size=8),
        "rnn_poisson": dict(
            latent_dim=3,
            encoder="rnn",
            hidden_dim=6,
            units=12,
            max_epochs=3,
            batch_size=8,
            poisson=True,
            obs_std=0.1,
            solver=SolverConfig(method="rk4", grid_step=0.1),
        ),
    }
    for name, kw in configs.items():
        with _recorded_defaults():
            model = LatentODE(**kw, seed=1, verbose=False).fit(train)
        times = {20: [0.1, 0.55, 1.9], 22: [0.0, 2.5]}
        out[name] = {
            "predict": model.predict(test, times=times),
            "predict_default": model.predict(test, quantiles=None, n_samples=20),
            "interpolate": model.interpolate(test, n_samples=20),
            "extrapolate": model.extrapolate(test, horizon=0.5, n_points=4, n_samples=20),
            "sample": model.sample(test, times={i: [0.3, 3.0] for i in range(20, 24)}, n_samples=4),
            "score": model.score_details(test, n_samples=20),
            "fitted": {
                "n_epochs": model.n_epochs_,
                "best_val_loss": model.best_val_loss_,
                "noise_scale": model.noise_scale_,
            },
        }
        if save_dir is not None:
            model.save(save_dir / f"latent_{name}")
    return out


def classify_cases(save_dir: Path | None) -> dict:
    from latentode import LatentODE
    from latentode.datasets import spiral

    df = spiral(30, 20, seed=2)
    train, test = df[df["id"] < 24], df[df["id"] >= 24]
    model = LatentODE(
        latent_dim=4, hidden_dim=8, units=16, max_epochs=3, batch_size=8, classify="sequence"
    )
    model.set_params(seed=2, verbose=False)
    model.fit(train, target_cols=["x", "y"], label_col="direction")
    if save_dir is not None:
        model.save(save_dir / "latent_classify")
    return {
        "proba": model.predict_proba(test, n_samples=10),
        "predict": model.predict(test, quantiles=(0.1, 0.9), n_samples=10),
    }


def _events(n_seq: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_seq):
        t = np.sort(rng.uniform(0, 6.0, rng.poisson(10)))
        rows += [(i, float(v)) for v in t]
    return pd.DataFrame(rows, columns=["id", "time"])


def event_cases(save_dir: Path | None) -> dict:
    from latentode import EventIntensity

    events = _events(24, seed=4)
    train, test = events[events["id"] < 20], events[events["id"] >= 20]
    out = {}
    for dynamics in ("jump", "latent"):
        model = EventIntensity(
            latent_dim=3,
            units=12,
            max_epochs=3,
            batch_size=8,
            dynamics=dynamics,
            seed=3,
            verbose=False,
        )
        model.fit(train, window=(0.0, 6.0))
        out[dynamics] = {
            "intensity": model.intensity(test, [0.5, 2.0, 5.5], window=(0.0, 6.0), n_samples=8),
            "expected_count": model.expected_count(test, 1.0, 4.0, window=(0.0, 6.0), n_samples=8),
            "score": model.score_details(test, window=(0.0, 6.0), n_samples=8),
            "sample": model.sample(test, (6.0, 8.0), n_samples=3),
            "predict_next": model.predict_next(test, n_samples=8, horizon=10.0),
        }
        if save_dir is not None:
            model.save(save_dir / f"events_{dynamics}")
    return out


def demo_case() -> dict:
    from latentode.cli import run_demo

    res = run_demo(n_series=30, max_epochs=3, progress=False, plot=None)
    res.pop("train_seconds")
    return res


@contextmanager
def _recorded_numerics():
    """Run with the numerics the recording ran with where they have changed since (issue
    10, each tested on its own):
    - Hermite's interpolation between grid nodes (``DEFAULT_INTERPOLATION`` is cubic);
    - torchdiffeq's ``odeint`` collecting a solve's outputs in place; ``odeint_stacked``
      gives the same values and the same gradients up to their summation order
      (``tests/test_solve.py``), which moves trained weights by about 1e-6."""
    from torchdiffeq import odeint

    from latentode.nn import solve

    with (
        mock.patch.object(solve, "DEFAULT_INTERPOLATION", "hermite"),
        mock.patch.object(solve, "odeint_stacked", odeint),
    ):
        yield


def compute(save_dir: Path | None = None) -> dict:
    torch.manual_seed(0)
    with _recorded_numerics():
        results = {
            "latent": latent_cases(save_dir),
            "classify": classify_cases(save_dir),
            "events": event_cases(save_dir),
            "demo": demo_case(),
        }
    if save_dir is not None:
        results["files"] = {
            p.name: {
                "config": json.loads((p / "config.json").read_text()),
                "weights": _weights(p),
            }
            for p in sorted(save_dir.iterdir())
        }
    return _jsonable(results)


def record() -> None:
    torch.set_num_threads(1)
    models = HERE / "models"
    if models.exists():
        shutil.rmtree(models)
    models.mkdir(parents=True)
    results = compute(models)
    RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True))
    print(f"wrote {RESULTS} and {models}")


def compute_fresh() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        return compute(Path(tmp))


if __name__ == "__main__":
    if "--record" in sys.argv:
        record()
