"""Covariates on shipped data: ChickWeight with Diet as a static covariate and
Phenobarb with the doses as impulse inputs, against the same model without covariates
and against the baselines of ``LatentODE.evaluate``.

Protocol: the series are split by id (``--test-size``, per seed); each model is fitted on
the training series and evaluated on the test series with ``evaluate(task="extrapolate",
fraction=...)``: every test series is cut after the first ``fraction`` of its span and its
later observations are scored from the earlier ones (the doses after the cut stay known:
they are inputs). Prints one table per data set (mean over seeds, errors in data units)
and writes JSON.

    python benchmarks/covariates.py            # about 15 minutes on one core
    python benchmarks/covariates.py --quick    # one seed, fewer epochs
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from latentode import LatentODE
from latentode.datasets import chickweight, phenobarb


def tasks() -> dict:
    c = chickweight()
    chick = c.frame.merge(c.statics, left_on="id", right_index=True)
    chick["Diet"] = chick["Diet"].astype("category")
    return {
        "chickweight": dict(
            frame=chick, targets=["weight"], covariates={"static_cols": ["Diet"]}, fraction=0.5
        ),
        "chickweight, early cut": dict(
            frame=chick, targets=["weight"], covariates={"static_cols": ["Diet"]}, fraction=0.2
        ),
        "phenobarb": dict(
            frame=phenobarb().frame,
            targets=["conc"],
            covariates={"input_cols": {"dose": "impulse"}},
            fraction=0.5,
        ),
    }


def split(frame: pd.DataFrame, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = np.sort(frame["id"].unique())
    rng = np.random.default_rng(seed)
    test = set(rng.choice(ids, size=max(1, round(test_size * len(ids))), replace=False))
    is_test = frame["id"].isin(test)
    return frame[~is_test], frame[is_test]


def run_task(name: str, task: dict, seeds: list[int], epochs: int, test_size: float) -> dict:
    rows = []
    for seed in seeds:
        train, test = split(task["frame"], test_size, seed)
        for label, cov in (("with covariates", task["covariates"]), ("without", {})):
            est = LatentODE(max_epochs=epochs, batch_size=8, seed=seed, verbose=False, patience=30)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est.fit(train, target_cols=task["targets"], **cov)
                table = est.evaluate(test, task="extrapolate", fraction=task["fraction"])
            seconds = time.perf_counter() - t0
            for _, r in table.iterrows():
                method = f"LatentODE {label}" if r["method"] == "LatentODE" else r["method"]
                if r["method"] != "LatentODE" and label == "without":
                    continue  # the baselines do not depend on the model
                rows.append(
                    dict(
                        seed=seed,
                        method=method,
                        mse=r[f"mse_{task['targets'][0]}"],
                        mae=r[f"mae_{task['targets'][0]}"],
                        coverage=r["coverage"],
                        n_cells=r["n_cells"],
                        epochs=est.n_epochs_ if r["method"] == "LatentODE" else np.nan,
                        seconds=seconds if r["method"] == "LatentODE" else np.nan,
                    )
                )
    frame = pd.DataFrame(rows)
    summary = frame.groupby("method", sort=False).agg(
        mse=("mse", "mean"),
        mse_sd=("mse", "std"),
        mae=("mae", "mean"),
        coverage=("coverage", "mean"),
        n_cells=("n_cells", "mean"),
        epochs=("epochs", "mean"),
        seconds=("seconds", "mean"),
    )
    print(
        f"\n{name}: extrapolation after the first {task['fraction']:.0%} of each test series "
        f"({len(seeds)} seed(s); covariates {task['covariates']})"
    )
    print(summary.round(3).to_string())
    return {"per_seed": rows, "summary": summary.reset_index().to_dict(orient="records")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3, help="number of splits and fits")
    ap.add_argument("--epochs", type=int, default=150, help="max_epochs of each fit")
    ap.add_argument("--test-size", type=float, default=0.3, help="fraction of series held out")
    ap.add_argument("--quick", action="store_true", help="one seed, 40 epochs")
    ap.add_argument("--only", help="run the tasks whose name starts with this")
    ap.add_argument("--out", default="benchmarks/results/covariates.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    seeds = list(range(1 if args.quick else args.seeds))
    epochs = 40 if args.quick else args.epochs
    results = {}
    for name, task in tasks().items():
        if args.only and not name.startswith(args.only):
            continue
        results[name] = run_task(name, task, seeds, epochs, args.test_size)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "results": results}, indent=1, default=float))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
