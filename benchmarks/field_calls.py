"""Vector-field calls and step time per training step, epoch by epoch (issue 10 item 3).

``vs_reference.py --epochs 5`` times the first five epochs, where the latent dynamics are
still slow and the adaptive decoder takes few steps. This script trains latentode exactly
as ``vs_reference.py`` does (same data, masks, model and optimiser; the published code is
not run) and records, for every training step, the decoder's and the encoder's number of
vector-field calls and the step's wall time, then prints their means (time: median) over
blocks of epochs:

    python benchmarks/field_calls.py --epochs 30
    python benchmarks/field_calls.py --latentode-config '{"encoder_max_step": 0.5}'

Writes ``benchmarks/results/field_calls.json`` (``--out``). One thread.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from pathlib import Path

import lightning as L
import numpy as np
import seed_curves as S
import torch

ROOT = Path(__file__).parent


def record(seed: int, config: str, epochs: int, n_series: int) -> list[dict]:
    """One training on ``vs_reference``'s interpolation task; a dict per step."""
    module, dm, _ = S.setup(seed, json.loads(config), n_series)
    fields = {"decoder": module.model.decoder.func, "encoder": module.model.encoder.func}
    steps: list[dict] = []

    class Count(L.Callback):
        def on_train_batch_start(self, *args) -> None:
            for f in fields.values():
                f.nfe = 0
            self.started = time.perf_counter()

        def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
            seconds = time.perf_counter() - self.started
            row = {"epoch": trainer.current_epoch + 1, "seconds": seconds}
            row.update({name: f.nfe for name, f in fields.items()})
            steps.append(row)

    S.fit(module, dm, epochs, [Count()])
    return steps


def blocks(steps: list[dict], width: int) -> list[dict]:
    """Means of the field calls and the median step time over blocks of ``width`` epochs."""
    last = max(s["epoch"] for s in steps)
    out = []
    for first in range(1, last + 1, width):
        sel = [s for s in steps if first <= s["epoch"] < first + width]
        out.append({
            "epochs": f"{first}-{min(first + width - 1, last)}",
            "decoder calls": float(np.mean([s["decoder"] for s in sel])),
            "encoder calls": float(np.mean([s["encoder"] for s in sel])),
            "step s (median)": float(np.median([s["seconds"] for s in sel])),
        })  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1991)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--block", type=int, default=5, help="epochs per row of the table")
    ap.add_argument("--n-series", type=int, default=1000)
    ap.add_argument("--latentode-config", default="{}", help="JSON dict over the model kwargs")
    ap.add_argument("--out", default=str(ROOT / "results" / "field_calls.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    steps = record(args.seed, args.latentode_config, args.epochs, args.n_series)
    table = blocks(steps, args.block)
    print(f"\nconfig {args.latentode_config}, seed {args.seed}\n")
    print("| epochs | decoder field calls | encoder field calls | step s (median) |")
    print("|---|---|---|---|")
    for row in table:
        print(f"| {row['epochs']} | {row['decoder calls']:.1f} | {row['encoder calls']:.1f} | "
              f"{row['step s (median)']:.4f} |")  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({
        "command": "python benchmarks/field_calls.py " + " ".join(
            f"--{k.replace('_', '-')} {v!r}" for k, v in vars(args).items() if k != "out"),
        "date": time.strftime("%Y-%m-%d %H:%M"), "torch": torch.__version__,
        "config": json.loads(args.latentode_config), "seed": args.seed,
        "blocks": table, "steps": steps,
    }, indent=1))  # fmt: skip
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
