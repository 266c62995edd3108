"""Peak memory of a decoder forward and backward, direct against adjoint (issue 10, item 7).

The Latent ODE decoder (``ODEDecoder``: a field of two hidden layers of 100 units, latent
16, dopri5 at the library's tolerances) solves a batch of 128 series (3 samples of z0
each) to ``N`` query times per series spaced 0.05 rescaled units apart (the data
module's time scale), so a longer series means a longer span and more solver steps.
Loss: the sum of squares of the trajectory. Each measurement runs in its own process,
after a warm-up solve of 4 series x 10 points (so that code pages torch loads on first
use are not counted):
the peak resident set during one forward and backward (``VmHWM``, reset just before
through ``/proc/self/clear_refs``), minus the resident set just before it, so the figure
is the memory the solve and its gradient add.

    python benchmarks/adjoint_memory.py                 # N = 100, 300, 1000 (a minute)
    python benchmarks/adjoint_memory.py --points 100,1000,3000
    python benchmarks/adjoint_memory.py --spans 5,15,50 # 100 queries over a growing span

With ``--spans``, every row reads the first ``--points`` count of query times, spread
evenly over the given span (rescaled units): the output and its gradient stay the same
size and only the solver's work grows (dopri5 takes more steps over a longer span). This
isolates what the adjoint method promises, memory that does not grow with the solver's
steps, from the trajectory a caller asks for, which any method must return.

Prints a table (MB, and the ratio to N = 100 of the same mode) and writes
``benchmarks/results/adjoint_memory.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).parent


def measure(
    n_points: int, adjoint: bool, batch: int, latent: int, span: float | None = None
) -> dict:
    import torch

    from latentode.nn.decoders import ODEDecoder
    from latentode.nn.solve import SolverConfig

    torch.set_num_threads(1)
    torch.manual_seed(0)
    dec = ODEDecoder(latent, 100, 2, solver=SolverConfig(adjoint=adjoint))
    z0 = torch.randn(3, batch, latent) * 0.5
    z0.requires_grad_(True)
    t0 = torch.zeros(batch)
    spacing = 0.05 if span is None else span / n_points
    times = (torch.arange(1, n_points + 1) * spacing).repeat(batch, 1)
    times = times + 0.01 * torch.rand(batch, 1)  # each series its own times
    warm = dec(z0.detach()[:, :4], t0[:4], times[:4, :10])  # loads the kernels' code pages
    (warm**2).sum().backward()
    del warm
    calls = [0]
    dec.func.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM) to now
    before = _status_kb("VmRSS")
    started = time.perf_counter()
    z = dec(z0, t0, times)
    (z**2).sum().backward()
    seconds = time.perf_counter() - started
    peak = _status_kb("VmHWM")
    return dict(
        points=n_points, span=float(times[0, -1]), adjoint=adjoint, seconds=seconds,
        added_mb=(peak - before) / 1024.0, output_mb=z.numel() * z.element_size() / 2**20,
        field_calls=calls[0],
    )  # fmt: skip


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--points", default="100,300,1000")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--latent", type=int, default=16)
    ap.add_argument("--spans", default=None, help="fixed outputs over these spans, e.g. 5,15,50")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(ROOT / "results" / "adjoint_memory.json"))
    args = ap.parse_args()
    if args.child:
        n, adj, span = args.child.split(",")
        span_value = float(span) if span else None
        print(json.dumps(measure(int(n), adj == "1", args.batch, args.latent, span_value)))
        return
    points = [int(p) for p in args.points.split(",")]
    if args.spans:  # one output count, growing spans
        cases = [(points[0], s) for s in args.spans.split(",")]
    else:
        cases = [(n, "") for n in points]
    rows = []
    for n, span in cases:
        for adjoint in (False, True):
            cmd = [sys.executable, __file__, "--child", f"{n},{int(adjoint)},{span}",
                   "--batch", str(args.batch), "--latent", str(args.latent)]  # fmt: skip
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    first = {r["adjoint"]: r["added_mb"] for r in rows[:2]}
    print("\n| points | span | direct MB | adjoint MB | direct / first | adjoint / first | "
          "output MB | direct s | adjoint s | field calls (direct / adjoint) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for d, a in zip(rows[::2], rows[1::2], strict=True):
        print(
            f"| {d['points']} | {d['span']:.3g} | {d['added_mb']:.1f} | {a['added_mb']:.1f} | "
            f"{d['added_mb'] / first[False]:.2f} | {a['added_mb'] / first[True]:.2f} | "
            f"{d['output_mb']:.1f} | {d['seconds']:.2f} | {a['seconds']:.2f} | "
            f"{d['field_calls']} / {a['field_calls']} |"
        )
    meta = {"batch": args.batch, "latent": args.latent, "spans": args.spans}
    Path(args.out).write_text(json.dumps({**meta, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
