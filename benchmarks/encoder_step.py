"""The ODE-RNN encoder's forward and backward, eager against ``torch.compile`` (issue 10).

At the reference's periodic settings (batch 50, 100 shared times on [0, 5], half of each
series' points seen, encoder state 20, an ODE function of two hidden layers of 100
units, midpoint steps of at most 0.25 time units, latent 10) the script times one forward
and backward of the q(z0) head's output through:

* ``library``: :class:`~latentode.nn.encoders.ODERNNEncoder` as the models use it;
* ``step, eager``: the same encoder written as one function per observation (midpoint
  steps over the gap, then the GRU update), called eagerly;
* ``step, compiled``: that function through ``torch.compile(dynamic=True)`` (one
  compilation serves every batch size and gap); the compile time is reported apart.

All three compute the same q(z0) (checked, to 1e-5). Prints a markdown table and writes
``benchmarks/results/encoder_step.json``.

    python benchmarks/encoder_step.py            # ~1-2 minutes, most of it compiling
    python benchmarks/encoder_step.py --repeats 20 --no-compile
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from ablation_periodic import make_data

from latentode.data import collate, subsample_observed
from latentode.nn.encoders import ODERNNEncoder, ordered_observations

ROOT = Path(__file__).parent


def periodic_batch(n: int = 50, seed: int = 3):
    """``n`` series of the reference's periodic toy (``ablation_periodic.make_data``: 100
    times in [0, 5] shared by all), half of each series' points seen."""
    train, _ = make_data(seed)
    return collate(subsample_observed(train[:n], 0.5, seed=seed + 1))


def step(net, gru, h, dt, n_steps: int, xm, valid):
    """Midpoint steps of ``dh/dt = net(h)`` over each row's gap ``dt``, then the GRU."""
    ds = (dt / n_steps)[:, None]
    for _ in range(n_steps):
        k1 = ds * net(h)
        h = h + ds * net(h + 0.5 * k1)
    return torch.where(valid[:, None], gru(xm, h), h)


def by_steps(enc: ODERNNEncoder, batch, fn):
    """The encoder's forward with ``fn`` as its per-observation step."""
    t, x, m, valid, counts = ordered_observations(batch.times, batch.values, batch.obs_mask)
    xm = torch.cat([x, m], dim=-1)
    gaps = torch.where(valid[:, 1:], t[:, 1:] - t[:, :-1], torch.zeros_like(t[:, 1:]))
    spans = [0.0, *gaps.abs().amax(0).tolist()]
    h = batch.values.new_zeros(batch.times.shape[0], enc.state_dim)
    zero = torch.zeros_like(t[:, 0])
    for j in range(t.shape[1]):
        n = max(1, math.ceil(spans[j] / enc.max_step - 1e-9)) if spans[j] > 0 else 1
        dt = gaps[:, j - 1] if j else zero
        h = fn(enc.func.net, enc.gru, h, dt, n, xm[:, j], valid[:, j])
    t_last = t.gather(1, (counts - 1).clamp_min(0)[:, None]).squeeze(1)
    last = batch.t0 - t_last
    n = max(1, math.ceil(float(last.abs().max()) / enc.max_step - 1e-9))
    ds = (last / n)[:, None]
    for _ in range(n):
        k1 = ds * enc.func.net(h)
        h = h + ds * enc.func.net(h + 0.5 * k1)
    return enc.head(h)


def fwd_bwd(encode) -> tuple[torch.Tensor, torch.Tensor]:
    mean, std = encode()
    (mean.square().sum() + std.sum()).backward()
    return mean.detach(), std.detach()


def median_seconds(encode, repeats: int) -> float:
    fwd_bwd(encode)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fwd_bwd(encode)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "results" / "encoder_step.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    batch = periodic_batch()
    enc = ODERNNEncoder(1, 10, 20, 100, 2, method="midpoint", max_step=0.25)
    library = lambda: enc(batch.times, batch.values, batch.obs_mask, batch.t0)  # noqa: E731
    eager = lambda: by_steps(enc, batch, step)  # noqa: E731
    want = fwd_bwd(library)
    got = fwd_bwd(eager)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(got, want, strict=True))
    rows = [
        {"variant": "library", "seconds": median_seconds(library, args.repeats)},
        {"variant": "step, eager", "seconds": median_seconds(eager, args.repeats)},
    ]
    if not args.no_compile:
        compiled_step = torch.compile(step, dynamic=True)
        compiled = lambda: by_steps(enc, batch, compiled_step)  # noqa: E731
        start = time.perf_counter()
        got = fwd_bwd(compiled)
        compile_s = time.perf_counter() - start
        assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(got, want, strict=True))
        rows.append(
            {
                "variant": "step, compiled",
                "seconds": median_seconds(compiled, args.repeats),
                "compile_seconds": compile_s,
            }
        )
    base = rows[0]["seconds"]
    print("| variant | fwd+bwd s | library / variant | compile s |")
    print("|---|---|---|---|")
    for r in rows:
        c = r.get("compile_seconds")
        print(
            f"| {r['variant']} | {r['seconds']:.4f} | {base / r['seconds']:.2f} | "
            f"{'' if c is None else f'{c:.1f}'} |"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"threads": args.threads, "repeats": args.repeats, "torch": torch.__version__}
    out.write_text(json.dumps({**meta, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
