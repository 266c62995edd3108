"""The Latent ODE paper's interpolation/extrapolation tables, side by side with ours.

Runs Latent ODE (ODE-RNN encoder), Latent ODE (RNN encoder), ODE-RNN, RNN-VAE and GRU-Δt
on the periodic set and on the MuJoCo hopper set, for interpolation (the encoder sees a
fraction of the points, every point is scored) and extrapolation (the encoder sees a
fraction of the points of the first half of each series, the second half is scored), at
10/20/30/50% observed. Prints test MSE next to the paper's (Rubanova et al. 2019, Table 3;
MuJoCo, x1e-2), seconds per epoch, and the seconds until the validation MSE first beat
per-series linear interpolation. Writes JSON and a markdown table.

    python benchmarks/paper_tables.py --budget smoke     # plumbing check, ~5 min
    python benchmarks/paper_tables.py --budget quick     # CPU budget, ~1-2 h
    python benchmarks/paper_tables.py --budget full      # the paper's sizes, for a GPU

Hopper needs ``pip install -e ".[hopper]"``; without it the hopper rows are skipped.
Every state dimension of hopper is scaled to [0, 1] as in the reference code.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback

from latentode.data import (
    IrregularDataModule,
    Series,
    collate,
    split_extrapolation,
    subsample_observed,
)
from latentode.datasets import periodic_series
from latentode.lightning import LatentODEModule, RecurrentModule, masked_errors
from latentode.naive import linear_interpolation

ROOT = Path(__file__).parent

#: paper, Table 3, MuJoCo test MSE x1e-2: interp 10/20/30/50%, extrap 10/20/30/50%
PAPER_MUJOCO = {
    "GRU-Δt": [2.454, 1.714, 1.250, 0.785, 7.259, 6.792, 6.594, 30.571],
    "ODE-RNN": [1.647, 1.209, 0.986, 0.665, 13.508, 31.950, 15.465, 26.463],
    "RNN-VAE": [6.514, 6.408, 6.305, 6.100, 2.378, 2.135, 2.021, 1.782],
    "Latent ODE (RNN enc)": [2.477, 0.578, 2.768, 0.447, 1.663, 1.653, 1.485, 1.377],
    "Latent ODE (ODE enc)": [0.360, 0.295, 0.300, 0.285, 1.441, 1.400, 1.175, 1.258],
}
FRACTIONS = (0.1, 0.2, 0.3, 0.5)
BUDGETS = {
    "smoke": dict(
        n_series=100,
        periodic_points=50,
        hopper_steps=50,
        max_steps=20,
        fractions=(0.5,),
        latent=6,
        units=50,
    ),
    "quick": dict(
        n_series=500,
        periodic_points=100,
        hopper_steps=100,
        max_steps=400,
        fractions=FRACTIONS,
        latent=10,
        units=100,
    ),
    "full": dict(
        n_series=10000,
        periodic_points=100,
        hopper_steps=200,
        max_steps=30000,
        fractions=FRACTIONS,
        latent=15,
        units=300,
    ),
}


def make_model(name: str, dim: int, latent: int, units: int) -> L.LightningModule:
    common = dict(lr=1e-2)
    if name == "Latent ODE (ODE enc)":
        return LatentODEModule(
            dim,
            latent,
            encoder="odernn",
            units=units,
            enc_units=units,
            enc_hidden=2 * latent,
            kl_delay=5,
            kl_rate=0.95,
            **common,
        )
    if name == "Latent ODE (RNN enc)":
        return LatentODEModule(
            dim,
            latent,
            encoder="rnn",
            units=units,
            enc_hidden=2 * latent,
            kl_delay=5,
            kl_rate=0.95,
            **common,
        )
    if name == "RNN-VAE":
        return LatentODEModule(
            dim,
            latent,
            encoder="rnn",
            decoder="rnn",
            units=units,
            enc_hidden=2 * latent,
            kl_delay=5,
            kl_rate=0.95,
            **common,
        )
    if name == "ODE-RNN":
        return RecurrentModule(dim, 2 * latent, ode=True, units=units, **common)
    if name == "GRU-Δt":
        return RecurrentModule(dim, 2 * latent, ode=False, units=units, **common)
    raise ValueError(name)


def load_sets(budget: dict, seed: int) -> dict[str, list[Series]]:
    sets = {
        "periodic": periodic_series(budget["n_series"], budget["periodic_points"], 5.0, seed=seed)
    }
    try:
        from latentode.datasets import hopper

        df = hopper(budget["n_series"], budget["hopper_steps"], seed=seed)
    except ImportError as err:
        print(f"hopper skipped: {err}")
        return sets
    cols = [c for c in df.columns if c not in ("id", "time")]
    vals = df[cols].to_numpy(dtype=np.float64)
    lo, hi = vals.min(0), vals.max(0)
    vals = (vals - lo) / np.where(hi > lo, hi - lo, 1.0)
    sets["hopper"] = [
        Series(times=g["time"].to_numpy(), values=vals[g.index], id=sid)
        for sid, g in df.groupby("id", sort=True)
    ]
    return sets


def protocol(series: list[Series], task: str, fraction: float, seed: int) -> list[Series]:
    if task == "interpolation":
        return subsample_observed(series, fraction, seed)
    first_half = split_extrapolation(series, 0.5)
    # keep `fraction` of the first-half points visible to the encoder
    thinned = subsample_observed(
        [s.with_masks(s.obs_mask, s.obs_mask) for s in first_half],
        fraction,
        seed,
        score_all=True,
    )
    return [
        s.with_masks(t.obs_mask, f.target_mask)
        for s, t, f in zip(series, thinned, first_half, strict=True)
    ]


class TimeToTarget(Callback):
    """Seconds from the start of fitting until ``val_mse`` first falls below ``target``."""

    def __init__(self, target: float) -> None:
        self.target, self.start, self.reached = target, 0.0, None

    def on_fit_start(self, trainer, module) -> None:
        self.start = time.perf_counter()

    def on_validation_end(self, trainer, module) -> None:
        mse = trainer.callback_metrics.get("val_mse")
        if self.reached is None and mse is not None and float(mse) <= self.target:
            self.reached = time.perf_counter() - self.start


def run_one(name, data, task, fraction, budget, seed):
    n = len(data)
    n_tr, n_va = int(0.8 * n), int(0.1 * n)
    masked = protocol(data, task, fraction, seed)
    train, val, test = masked[:n_tr], masked[n_tr : n_tr + n_va], masked[n_tr + n_va :]
    vb = collate(val)
    target = float(masked_errors(vb, linear_interpolation(vb))["mse"][0])
    L.seed_everything(seed, verbose=False)
    module = make_model(name, data[0].n_features, budget["latent"], budget["units"])
    dm = IrregularDataModule(train, val, test, batch_size=50, seed=seed)
    ttt = TimeToTarget(target)
    steps_per_epoch = max(1, -(-len(train) // 50))
    trainer = L.Trainer(
        max_steps=budget["max_steps"],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[ttt],
        check_val_every_n_epoch=1,
        num_sanity_val_steps=0,
    )
    t0 = time.perf_counter()
    trainer.fit(module, dm)
    seconds = time.perf_counter() - t0
    res = trainer.test(module, dm, verbose=False)[0]
    tb = collate(test)
    return {
        "model": name,
        "task": task,
        "fraction": fraction,
        "test_mse": res["test_mse"],
        "linear_mse": float(masked_errors(tb, linear_interpolation(tb))["mse"][0]),
        "seconds": seconds,
        "epochs": max(trainer.current_epoch, 1),
        "sec_per_epoch": seconds / max(trainer.global_step / steps_per_epoch, 1e-9),
        "sec_to_beat_linear": ttt.reached,
    }


def markdown(rows: list[dict], dataset: str, fractions) -> str:
    lines = [
        f"#### {dataset} (test MSE x1e-2; paper's MuJoCo numbers in brackets)",
        "",
        "| model | "
        + " | ".join(f"interp {int(f * 100)}%" for f in fractions)
        + " | "
        + " | ".join(f"extrap {int(f * 100)}%" for f in fractions)
        + " | s/epoch | s to beat linear |",
        "|---" * (2 * len(fractions) + 3) + "|",
    ]
    for name in PAPER_MUJOCO:
        cells, speed, ttt = [], [], []
        for task in ("interpolation", "extrapolation"):
            for f in fractions:
                r = next(
                    (
                        r
                        for r in rows
                        if r["model"] == name and r["task"] == task and r["fraction"] == f
                    ),
                    None,
                )
                if r is None:
                    cells.append("-")
                    continue
                cell = f"{100 * r['test_mse']:.3f}"
                if dataset == "hopper":
                    k = FRACTIONS.index(f) + (4 if task == "extrapolation" else 0)
                    cell += f" [{PAPER_MUJOCO[name][k]:.3f}]"
                cells.append(cell)
                speed.append(r["sec_per_epoch"])
                ttt.append(r["sec_to_beat_linear"])
        reached = [t for t in ttt if t is not None]
        lines.append(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {np.mean(speed):.1f} | "
            + (
                f"{np.median(reached):.0f} ({len(reached)}/{len(ttt)})"
                if reached
                else f"never (0/{len(ttt)})"
            )
            + " |"
        )
    lin = [r for r in rows if r["model"] == "Latent ODE (ODE enc)"]
    if lin:
        lines.append(
            "| linear interpolation | "
            + " | ".join(
                f"{100 * r['linear_mse']:.3f}"
                for r in sorted(lin, key=lambda r: (r["task"] != "interpolation", r["fraction"]))
            )
            + " | | |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="smoke")
    parser.add_argument("--datasets", default="periodic,hopper")
    parser.add_argument("--models", default=",".join(PAPER_MUJOCO))
    parser.add_argument("--fractions", help="comma-separated, overriding the budget's")
    parser.add_argument("--max-steps", type=int, help="overrides the budget's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None, help="JSON path (default results/paper_<budget>)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    budget = dict(BUDGETS[args.budget])
    if args.fractions:
        budget["fractions"] = tuple(float(f) for f in args.fractions.split(","))
    if args.max_steps:
        budget["max_steps"] = args.max_steps
    sets = load_sets(budget, args.seed)
    rows = []
    for dataset in args.datasets.split(","):
        if dataset not in sets:
            continue
        for task in ("interpolation", "extrapolation"):
            for f in budget["fractions"]:
                for name in args.models.split(","):
                    r = run_one(name, sets[dataset], task, f, budget, args.seed)
                    r["dataset"] = dataset
                    rows.append(r)
                    print(
                        f"{dataset:9s} {task:13s} {f:.1f} {name:22s} "
                        f"test MSE {r['test_mse']:.5f} (linear {r['linear_mse']:.5f}) "
                        f"{r['seconds']:.0f} s",
                        flush=True,
                    )
    out = Path(
        args.out or ROOT / "results" / f"paper_{args.budget}_{args.datasets.replace(',', '_')}.json"
    )
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"budget": args.budget, "settings": budget, "rows": rows}, indent=2))
    print()
    for dataset in sets:
        ds_rows = [r for r in rows if r["dataset"] == dataset]
        if ds_rows:
            print(markdown(ds_rows, dataset, budget["fractions"]))
            print()


if __name__ == "__main__":
    main()
