"""How fast can the Latent ODE's decoder learn the periodic toy when z0 is known?

Issue 9's diagnosis. The encoder is replaced by an *oracle*: each series' z0 is a learned
linear map of its two true parameters (frequency and offset, standardized), so z0 carries
everything from the first step and only the decoder has to learn. The decoder is the
reference's: a vector field with two hidden layers of 100 tanh units and a Linear readout,
N(0, 0.1^2) weights and zero biases, solved with dopri5 (rtol 1e-3, atol 1e-4) through
``latentode.nn.solve.solve_at_times``; MSE loss, Adamax lr 1e-2 decayed by 0.999 per step,
batch 50, 800 training and 200 test series on 100 shared times in [0, 5].

The knobs are the spread of z0 across series (``--spread``: std of the oracle map's
weights), a shared offset of every z0 (``--offset``: std of the map's initial bias, the
same for all series) and a factor on the time axis (``--time-factor``).

    python benchmarks/decoder_oracle.py --spread 0.1
    python benchmarks/decoder_oracle.py --spread 0.1 --offset 1.5

Prints the test MSE every 50 steps and writes ``benchmarks/results/decoder_oracle.json``
(one entry per run, appended).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from latentode.nn.mlp import init_weights, mlp
from latentode.nn.solve import SolverConfig, solve_at_times


class Field(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = mlp(10, 10, 100, 2, "tanh")
        init_weights(self.net)

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def run(spread: float, offset: float, time_factor: float, steps: int, seed: int) -> list:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    times = np.sort(np.concatenate([[0.0], rng.uniform(0, 5, 99)]))
    f, c = rng.uniform(0.4, 0.8, 1000), 1 + rng.normal(0, 0.1, 1000)
    y = torch.tensor(np.sin(2 * np.pi * f[:, None] * times) + c[:, None], dtype=torch.float32)
    y = y[..., None]
    feats = torch.tensor(np.stack([(f - 0.6) / 0.115, (c - 1) / 0.1], 1), dtype=torch.float32)
    t = torch.tensor(times, dtype=torch.float32) * time_factor
    field, readout, oracle = Field(), nn.Linear(10, 1), nn.Linear(2, 10)
    init_weights(readout)
    with torch.no_grad():
        oracle.weight.normal_(0, spread)
        oracle.bias.normal_(0, offset) if offset > 0 else oracle.bias.zero_()
    params = [*field.parameters(), *readout.parameters(), *oracle.parameters()]
    opt = torch.optim.Adamax(params, lr=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.999**s, 0.1))
    config = SolverConfig()

    def decode(z0: torch.Tensor) -> torch.Tensor:
        b = z0.shape[0]
        return readout(solve_at_times(field, z0[None], torch.zeros(b), t.expand(b, -1), config)[0])

    curve, start = [], time.perf_counter()
    for step in range(1, steps + 1):
        idx = torch.randint(0, 800, (50,))
        loss = ((decode(oracle(feats[idx])) - y[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0:
            with torch.no_grad():
                mse = float(((decode(oracle(feats[800:])) - y[800:]) ** 2).mean())
            curve.append({"step": step, "mse": mse, "seconds": time.perf_counter() - start})
            print(
                f"spread {spread} offset {offset} time x{time_factor}: step {step} "
                f"test MSE {mse:.4f}",
                flush=True,
            )
    return curve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spread", type=float, default=0.1)
    ap.add_argument("--offset", type=float, default=0.0)
    ap.add_argument("--time-factor", type=float, default=1.0)
    ap.add_argument("--steps", type=int, default=350)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results/decoder_oracle.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    curve = run(args.spread, args.offset, args.time_factor, args.steps, args.seed)
    out = Path(args.out)
    runs = json.loads(out.read_text()) if out.exists() else []
    runs.append({k: v for k, v in vars(args).items() if k != "out"} | {"curve": curve})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
