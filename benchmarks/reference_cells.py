"""The published Latent ODE code on the cells of ``paper_tables.py``'s periodic table.

Each cell (model, task, fraction) runs the reference's own ``run_models.py`` as a separate
process, to completion, at the budget's sizes and number of optimiser steps, and reads the
``Test MSE`` lines it logs after every epoch. Nothing of the reference is imported or
copied: it is driven from outside, as ``vs_reference.py`` drives it.

    python benchmarks/reference_cells.py --budget quick \
        --reference-dir ../shared/reference/latent_ode

``paper_tables.py --reference-dir DIR`` runs these cells on a second process while it trains
latentode's, and puts both in one table. What the reference is given for a cell:

- ``-n n_series`` (its split is 80/20, batch 50), ``--niters`` the epochs that make the
  budget's ``max_steps`` (``ceil(max_steps / (0.8 n / 50))``), ``-r seed``;
- ``-s fraction``: the encoder sees that fraction of each series' points (of the first half
  with ``--extrap``), drawn afresh for every batch; every point is scored in interpolation,
  the second half in extrapolation;
- the budget's sizes: ``-l latent`` (``hidden_dim`` for ODE-RNN and GRU-Δt, whose state the
  reference sizes with ``-l``), ``--rec-dims hidden_dim``, ``-u units``, ``-g units``, and
  ``--rec-layers`` / ``--gen-layers`` ``depth - 1`` (its ``create_net(n_layers=k)`` has
  ``k + 1`` hidden layers);
- its own periodic data: 100 time points drawn once in [0, 5], ``sin(2 pi f t) + offset``,
  noise 0.01 (the same distribution as ``paper_tables.py``'s, not the same draw), its fixed
  observation std 0.01, Adamax, its KL schedule.

The reference implements ODE-RNN and GRU-Δt for interpolation only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DEFAULT_REFERENCE = ROOT.parent.parent / "shared" / "reference" / "latent_ode"

#: the reference's flags for each model of the paper's table
MODEL_FLAGS = {
    "Latent ODE (ODE enc)": ["--latent-ode"],
    "Latent ODE (RNN enc)": ["--latent-ode", "--z0-encoder", "rnn"],
    "RNN-VAE": ["--rnn-vae"],
    "ODE-RNN": ["--ode-rnn"],
    "GRU-Δt": ["--classic-rnn"],
}
#: models whose state the reference sizes with ``-l`` and that it runs for interpolation only
RECURRENT = ("ODE-RNN", "GRU-Δt")
TEST_MSE = re.compile(r"Test MSE: ([0-9.eE+-]+|nan)")


def supported(name: str, task: str) -> bool:
    """Whether the reference code runs ``name`` for ``task``."""
    return name in MODEL_FLAGS and (task == "interpolation" or name not in RECURRENT)


def steps_per_epoch(budget: dict) -> int:
    """The reference's optimiser steps per epoch: 80% of the series, batches of 50."""
    return max(1, math.ceil(0.8 * budget["n_series"] / 50))


def epochs_for(budget: dict) -> int:
    """Reference epochs that give at least the budget's ``max_steps`` optimiser steps."""
    return max(1, math.ceil(budget["max_steps"] / steps_per_epoch(budget)))


def command(
    reference_dir: Path, name: str, task: str, fraction: float, budget: dict, seed: int
) -> list[str]:
    """The ``run_models.py`` command line for one cell of the periodic table."""
    if not supported(name, task):
        raise ValueError(f"the reference code does not run {name!r} for {task}")
    latent = budget["hidden_dim"] if name in RECURRENT else budget["latent"]
    layers = str(max(0, budget["depth"] - 1))
    cmd = [
        sys.executable, str(Path(reference_dir) / "run_models.py"),
        "--dataset", "periodic", "-n", str(budget["n_series"]),
        "-t", str(budget["periodic_points"]), "--max-t", "5",
        "--niters", str(epochs_for(budget)), "-s", str(fraction), "-r", str(seed),
        "-l", str(latent), "--rec-dims", str(budget["hidden_dim"]),
        "-u", str(budget["units"]), "-g", str(budget["units"]),
        "--rec-layers", layers, "--gen-layers", layers, "--noise-weight", "0.01",
        *MODEL_FLAGS[name],
    ]  # fmt: skip
    if task == "extrapolation":
        cmd.append("--extrap")
    return cmd


def run_cell(
    reference_dir: Path, name: str, task: str, fraction: float, budget: dict, seed: int,
    timeout: float = 1800.0,
) -> dict:  # fmt: skip
    """Run one cell to completion in a fresh directory, one thread.

    Returns ``{"reference_mse": last test MSE, "reference_curve": [per-epoch test MSE],
    "reference_seconds": wall seconds, "reference_epochs", "reference_steps"}``, or
    ``{"reference_error": text}`` when the run fails or logs no test MSE.
    """
    cmd = command(reference_dir, name, task, fraction, budget, seed)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="reference_cell_") as work:
        try:
            proc = subprocess.run(
                cmd, cwd=work, env=env, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            return {"reference_error": f"timed out after {timeout:.0f} s"}
    seconds = time.perf_counter() - t0
    curve = [float(v) for v in TEST_MSE.findall(proc.stdout + proc.stderr)]
    if proc.returncode != 0 or not curve:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"reference_error": f"exit {proc.returncode}: " + " | ".join(tail)}
    epochs = epochs_for(budget)
    return {
        "reference_mse": curve[-1],
        "reference_curve": curve,
        "reference_seconds": seconds,
        "reference_epochs": epochs,
        "reference_steps": epochs * steps_per_epoch(budget),
    }


class ReferenceCells(threading.Thread):
    """Runs the reference on ``cells`` (``(name, task, fraction)``) one after another in a
    background thread (each in its own process); ``results[cell]`` holds each outcome."""

    def __init__(self, reference_dir: Path, cells, budget: dict, seed: int) -> None:
        super().__init__(daemon=True)
        self.reference_dir, self.budget, self.seed = Path(reference_dir), budget, seed
        self.cells = [c for c in cells if supported(c[0], c[1])]
        self.results: dict[tuple, dict] = {}

    def run(self) -> None:
        for name, task, fraction in self.cells:
            out = run_cell(self.reference_dir, name, task, fraction, self.budget, self.seed)
            self.results[(name, task, fraction)] = out
            mse = out.get("reference_mse")
            shown = f"test MSE {mse:.5f}" if mse is not None else out["reference_error"]
            print(f"reference {task:13s} {fraction:.1f} {name:22s} {shown}", flush=True)


def check_reference_dir(path: str | Path) -> Path:
    """The reference directory, or SystemExit naming what is missing."""
    path = Path(path).resolve()  # the cells run in temporary directories
    if not (path / "run_models.py").is_file():
        raise SystemExit(
            f"no run_models.py in {path}: pass --reference-dir, the published code's "
            "directory (vs_reference.py's docstring says how to get and patch it)."
        )
    return path


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from paper_tables import BUDGETS, FRACTIONS, PAPER_MUJOCO

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reference-dir", default=str(DEFAULT_REFERENCE))
    ap.add_argument("--budget", choices=sorted(BUDGETS), default="quick")
    ap.add_argument("--models", default=",".join(PAPER_MUJOCO))
    ap.add_argument("--tasks", default="interpolation,extrapolation")
    ap.add_argument("--fractions", default=",".join(map(str, FRACTIONS)))
    ap.add_argument("--max-steps", type=int, help="overrides the budget's")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    reference_dir = check_reference_dir(args.reference_dir)
    budget = dict(BUDGETS[args.budget])
    if args.max_steps:
        budget["max_steps"] = args.max_steps
    cells = [
        (name, task, float(f))
        for task in args.tasks.split(",")
        for f in args.fractions.split(",")
        for name in args.models.split(",")
    ]
    runner = ReferenceCells(reference_dir, cells, budget, args.seed)
    runner.run()
    rows = [dict(model=n, task=t, fraction=f, **runner.results[(n, t, f)]) for n, t, f in
            runner.cells]  # fmt: skip
    out = Path(args.out or ROOT / "results" / f"reference_cells_{args.budget}.json")
    out.write_text(json.dumps({"budget": budget, "seed": args.seed, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
