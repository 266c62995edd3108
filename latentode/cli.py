"""Command line: ``latentode demo`` (and the estimator commands of later releases)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["main", "run_demo"]


def _naive_frame(context: pd.DataFrame, query: pd.DataFrame, kind: str) -> np.ndarray:
    """Per-series linear interpolation or last value of ``context`` at ``query`` rows."""
    out = np.empty(len(query))
    for sid, q in query.groupby("id", sort=False):
        c = context[context["id"] == sid].sort_values("time")
        t, v = c["time"].to_numpy(), c["value"].to_numpy()
        if kind == "linear":
            vals = np.interp(q["time"].to_numpy(), t, v)
        else:
            idx = np.clip(np.searchsorted(t, q["time"].to_numpy(), side="right") - 1, 0, None)
            vals = v[idx]
        out[query.index.get_indexer(q.index)] = vals
    return out


def run_demo(
    *,
    n_series: int = 400,
    observed: float = 0.1,
    max_epochs: int = 60,
    seed: int = 0,
    progress: bool = True,
    threads: int = 1,
    plot: str | None = "latentode-demo.png",
) -> dict:
    """Fit :class:`~latentode.LatentODE` on the periodic set through the DataFrame API.

    The set is the periodic toy of the paper on a 2-unit window (50 points per series,
    1-2 cycles). Held-out series are scored for interpolation (the model sees a random
    ``observed`` fraction of each series' rows and predicts every row) and extrapolation
    (it sees the first half of each series' span and predicts the rest), next to
    per-series linear interpolation and last value carried forward. Returns the figures.
    """
    import torch

    from .datasets import periodic
    from .estimators import LatentODE

    torch.set_num_threads(threads)
    df = periodic(n_series, 50, 2.0, seed=seed)
    n_train = int(0.8 * n_series)
    train, test = df[df["id"] < n_train], df[df["id"] >= n_train].reset_index(drop=True)
    model = LatentODE(latent_dim=6, lr=0.03, kl_delay=5, kl_rate=0.95, max_epochs=max_epochs,
                      min_observed=observed, patience=15, seed=seed, verbose=progress)
    start = time.perf_counter()
    model.fit(train)
    seconds = time.perf_counter() - start
    rng = np.random.default_rng(seed + 1)
    keep = test.groupby("id")["time"].transform(lambda t: rng.random(len(t)) < observed)
    first = test.groupby("id")["time"].transform("min") == test["time"]
    context_i = test[keep | first]
    half = test["time"] <= 1.0
    tasks = {
        "interpolation": (context_i, test),
        "extrapolation": (test[half], test[~half].reset_index(drop=True)),
    }
    results: dict = {"train_seconds": round(seconds, 1), "epochs": model.n_epochs_,
                     "n_train_series": n_train, "n_test_series": n_series - n_train}
    for task, (context, query) in tasks.items():
        times = {sid: g["time"].to_numpy() for sid, g in query.groupby("id")}
        pred = model.predict(context, times=times, quantiles=(0.05, 0.95), n_samples=50)
        truth = query.sort_values(["id", "time"])["value"].to_numpy()
        inside = (pred["value_q0.05"].to_numpy() <= truth) & (truth <= pred["value_q0.95"])
        q_sorted = query.sort_values(["id", "time"]).reset_index(drop=True)
        results[task] = {
            "latent_ode": float(np.mean((pred["value"].to_numpy() - truth) ** 2)),
            "linear_interpolation": float(np.mean(
                (_naive_frame(context, q_sorted, "linear") - truth) ** 2)),
            "last_value": float(np.mean((_naive_frame(context, q_sorted, "last") - truth) ** 2)),
            "coverage_90": float(np.mean(inside)),
        }
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        fig = model.plot(context_i, ids=sorted(context_i["id"].unique())[:4])
        fig.savefig(plot, dpi=110)
        results["plot"] = plot
    return results


def _print_demo(res: dict) -> None:
    print(f"\nLatent ODE on the periodic set: trained {res['train_seconds']} s "
          f"({res['epochs']} epochs) on {res['n_train_series']} series\n")
    print(f"{'test MSE':<16}{'Latent ODE':>12}{'linear interp':>15}{'last value':>12}"
          f"{'90% band coverage':>20}")
    for task in ("interpolation", "extrapolation"):
        r = res[task]
        print(f"{task:<16}{r['latent_ode']:>12.4f}{r['linear_interpolation']:>15.4f}"
              f"{r['last_value']:>12.4f}{r['coverage_90']:>20.2f}")
    if res.get("plot"):
        print(f"\nplot of four test series with 90% bands: {res['plot']}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="latentode", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a Latent ODE on the built-in periodic set")
    demo.add_argument("--n-series", type=int, default=400)
    demo.add_argument("--observed", type=float, default=0.1,
                      help="fraction of rows the model sees when interpolating")
    demo.add_argument("--max-epochs", type=int, default=60)
    demo.add_argument("--plot", default="latentode-demo.png", help="PNG path ('' for none)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--threads", type=int, default=1)
    demo.add_argument("--json", help="also write the figures to this JSON file")
    demo.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "demo":
        res = run_demo(n_series=args.n_series, observed=args.observed, max_epochs=args.max_epochs,
                       seed=args.seed, progress=not args.no_progress, threads=args.threads,
                       plot=args.plot or None)
        _print_demo(res)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(res, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
