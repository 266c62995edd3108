"""``latentode demo``: the Latent ODE on the built-in periodic set, next to the naive
baselines, through the DataFrame API."""

from __future__ import annotations

import time
from typing import Any

__all__ = ["run_demo", "print_demo", "interpolation_context"]


def run_demo(
    *,
    n_series: int = 400,
    observed: float = 0.1,
    max_epochs: int = 40,
    seed: int = 0,
    progress: bool = True,
    threads: int | None = None,
    plot: str | None = "latentode-demo.png",
) -> dict:
    """Fit :class:`~latentode.LatentODE` on the periodic set through the DataFrame API.

    The set is the periodic toy of the paper on a 2-unit window (50 points per series,
    1-2 cycles). Held-out series are scored for interpolation (the model sees a random
    ``observed`` fraction of each series' rows and predicts every row) and extrapolation
    (it sees the first half of each series' span and predicts the rest), next to
    per-series linear interpolation and last value carried forward. Returns the figures.

    ``threads``: torch's thread count during the run (``None``: leave it); the previous
    count is restored afterwards. The plot is drawn on a figure of its own, without
    changing matplotlib's backend; ``latentode demo`` sets both for its process.
    """
    import torch

    if threads is None:
        return _run(n_series, observed, max_epochs, seed, progress, plot)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _run(n_series, observed, max_epochs, seed, progress, plot)
    finally:
        torch.set_num_threads(previous)


def interpolation_context(test: Any, observed: float, seed: int) -> Any:
    """The rows of ``test`` (columns ``id, time``) the model sees when interpolating: each
    row with probability ``observed`` (``np.random.default_rng(seed)``, one draw per row in
    order), and every series' first row.

    Not :func:`latentode.datasets.subsample_frame`: that one keeps exactly
    ``round(observed * n)`` rows per series, drawn without replacement, so the same seed
    picks other rows (and the demo's recorded figures would change)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    keep = test.groupby("id")["time"].transform(lambda t: rng.random(len(t)) < observed)
    first = test.groupby("id")["time"].transform("min") == test["time"]
    return test[keep | first]


def _run(
    n_series: int, observed: float, max_epochs: int, seed: int, progress: bool, plot: str | None
) -> dict:
    from ..datasets import periodic, split_frame_extrapolation
    from ..estimators import LatentODE

    df = periodic(n_series, 50, 2.0, seed=seed)
    n_train = int(0.8 * n_series)
    train, test = df[df["id"] < n_train], df[df["id"] >= n_train].reset_index(drop=True)
    model = LatentODE(
        latent_dim=6,
        lr=0.03,
        kl_delay=5,
        kl_rate=0.95,
        max_epochs=max_epochs,
        min_observed=observed,
        patience=15,
        seed=seed,
        verbose=progress,
    )
    start = time.perf_counter()
    model.fit(train)
    seconds = time.perf_counter() - start
    context_i = interpolation_context(test, observed, seed + 1)
    # every series lies on the shared grid linspace(0, 2, 50): the cut is time <= 1.0
    seen, future = split_frame_extrapolation(test, 0.5)
    tasks = {
        "interpolation": (context_i, test),
        "extrapolation": (seen, future.reset_index(drop=True)),
    }
    results: dict = {
        "train_seconds": round(seconds, 1),
        "epochs": model.n_epochs_,
        "n_train_series": n_train,
        "n_test_series": n_series - n_train,
    }
    for task, (context, query) in tasks.items():
        results[task] = _score(model, context, query)
    if plot:
        fig = model.plot(context_i, ids=sorted(context_i["id"].unique())[:4])
        fig.savefig(plot, dpi=110)
        _close(fig)
        results["plot"] = plot
    return results


def _score(model: Any, context: Any, query: Any) -> dict:
    """MSE of the model and the naive baselines at the ``query`` rows, and the 90% band's
    coverage, given the ``context`` rows."""
    import numpy as np

    from ..naive import naive_frame

    times = {sid: g["time"].to_numpy() for sid, g in query.groupby("id")}
    pred = model.predict(context, times=times, quantiles=(0.05, 0.95), n_samples=50)
    truth = query.sort_values(["id", "time"])["value"].to_numpy()
    inside = (pred["value_q0.05"].to_numpy() <= truth) & (truth <= pred["value_q0.95"])
    q_sorted = query.sort_values(["id", "time"]).reset_index(drop=True)
    linear = naive_frame(context, q_sorted, "linear")
    last = naive_frame(context, q_sorted, "last")
    return {
        "latent_ode": float(np.mean((pred["value"].to_numpy() - truth) ** 2)),
        "linear_interpolation": float(np.mean((linear - truth) ** 2)),
        "last_value": float(np.mean((last - truth) ** 2)),
        "coverage_90": float(np.mean(inside)),
    }


def _close(fig: Any) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)


def print_demo(res: dict) -> None:
    """The demo's figures as a table."""
    print(
        f"\nLatent ODE on the periodic set: trained {res['train_seconds']} s "
        f"({res['epochs']} epochs) on {res['n_train_series']} series\n"
    )
    print(
        f"{'test MSE':<16}{'Latent ODE':>12}{'linear interp':>15}{'last value':>12}"
        f"{'90% band coverage':>20}"
    )
    for task in ("interpolation", "extrapolation"):
        r = res[task]
        print(
            f"{task:<16}{r['latent_ode']:>12.4f}{r['linear_interpolation']:>15.4f}"
            f"{r['last_value']:>12.4f}{r['coverage_90']:>20.2f}"
        )
    if res.get("plot"):
        print(f"\nplot of four test series with 90% bands: {res['plot']}")
