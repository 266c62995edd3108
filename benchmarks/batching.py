"""Per-sample batching against the union-of-times baseline (Rubanova et al., 2019).

Benchmark, not a test. Every series in a batch of ``B`` has its own ``n`` sorted times
drawn uniformly from ``[0, 1]`` and starts at ``t0 = 0``. Two parts are timed:

* decoder: ``z(t)`` from ``z0 (B, L)`` at each series' own times.

  - per-sample: :func:`latentode.nn.solve.solve_at_times` (dopri5, rtol 1e-3,
    atol 1e-4, grid_step 0.02 by default, see ``--grid-step``).
  - union: one ``torchdiffeq.odeint(dopri5, rtol 1e-3, atol 1e-4)`` over the sorted
    union of the batch's times (``0`` first), output ``(U, B, L)``, then each series'
    own times gathered from it.
  - union-stack: the same solve, but the ``U`` outputs are collected in a list and
    stacked, as the older torchdiffeq releases the 2019 reference code ran on did.
    torchdiffeq 0.2.x writes each output into a preallocated ``(U, B, L)`` tensor in place,
    and autograd then copies the whole ``(U, B, L)`` gradient once per output time,
    so the backward of plain ``union`` costs ``O(U^2 B L)``. ``union-stack`` isolates
    the cost of the union design itself (it uses torchdiffeq's private solver API).

* encoder: ODE-RNN run backwards, returning ``(mean, std)`` of ``q(z0)``.

  - per-sample: :class:`latentode.nn.encoders.ODERNNEncoder` (rk4, ``max_step``).
  - union: the reference ``run_odernn`` loop over the reversed union of times. Each
    union gap is crossed by the whole batch with Euler steps (one step if the gap is
    below ``span / 50``, else ``odeint(euler)`` on ``max(2, gap / (span / 50))``
    points), then a GRU update applied only to the series observed at that time
    (``h = m * gru(x, h) + (1 - m) * h``). One deviation from the reference: a
    series' state stays at zero until its first (latest) observation, so both
    designs compute the same function and their errors are comparable.

Both designs of a part share the same weights and inputs: latent 16, MLPs of one hidden
layer of 100 units, encoder state 20, 2 input features (all observed), float32. The
Linear weights are drawn from N(0, 0.3^2) and biases from N(0, 0.1^2), stronger than the
published N(0, 0.1^2) initialisation, so the solvers do the work of a trained field.
NFE counts the vector field's calls in one forward pass. Errors are measured against
a float64 solution of the same problem in which every series is advanced from one of
its own times to the next by dopri5 with rtol = atol = 1e-10 on a rescaled time
(independent of both designs' solvers and grids).

Peak memory is the rise of the process's peak resident set size (``VmHWM``) during one
forward+backward call, after ``malloc_trim(0)`` and resetting the peak through
``/proc/self/clear_refs``; it covers everything the call allocates (outputs, autograd
graph, gradients). Linux only; elsewhere it is reported as ``nan``.

Usage::

    python benchmarks/batching.py            # full grid, about 7 minutes on 2 cores
    python benchmarks/batching.py --quick    # B in {32, 128}, n = 20, 2 repeats
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import datetime
import gc
import json
import math
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torchdiffeq
from torch import nn
from torchdiffeq import odeint

from latentode.nn.encoders import ODERNNEncoder
from latentode.nn.odefunc import ODEFunc
from latentode.nn.solve import SolverConfig, solve_at_times

#: decoder output-grid spacing used for the recorded table (times span [0, 1] here)
GRID_STEP = 0.02

LATENT = 16
UNITS = 100
INPUT_DIM = 2
ENC_HIDDEN = 20
RTOL, ATOL = 1e-3, 1e-4
TRUTH_TOL = 1e-10


# --------------------------------------------------------------------------- memory
def _status_kb(key: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    found = re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) if found else None


def _reset_peak_rss() -> int | None:
    """Release freed heap memory, reset VmHWM to the current RSS; return RSS in kB."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return None
    return _status_kb("VmRSS")


def peak_rss_rise_mb(fn: Callable[[], object]) -> float:
    """Run ``fn`` once; the rise of the peak RSS over the RSS before it, in MB."""
    before = _reset_peak_rss()
    fn()
    peak = _status_kb("VmHWM")
    if before is None or peak is None:
        return math.nan
    return max(peak - before, 0) / 1024


# --------------------------------------------------------------------------- models
def reinit(module: nn.Module, weight_std: float, bias_std: float) -> None:
    """Random Linear weights strong enough to give the solver real work."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, weight_std)
            nn.init.normal_(m.bias, 0.0, bias_std)


def union_grid(times: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sorted distinct union of ``0`` and all times; ``index (B, n)`` of each time in it."""
    b, n = times.shape
    flat = torch.cat([times.new_zeros(1), times.reshape(-1)])
    union, inverse = torch.unique(flat, sorted=True, return_inverse=True)
    return union, inverse[1:].reshape(b, n)


def union_decoder(func: nn.Module, z0: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    """One dopri5 solve over the union of times, then gather: ``(B, n, L)``."""
    union, index = union_grid(times)
    zs = odeint(func, z0, union, method="dopri5", rtol=RTOL, atol=ATOL)  # (U, B, L)
    rows = torch.arange(times.shape[0])[:, None]
    return zs[index, rows]


def union_stack_decoder(func: nn.Module, z0: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    """As :func:`union_decoder`, with the outputs stacked instead of written in place."""
    from torchdiffeq._impl.odeint import SOLVERS, _check_inputs

    union, index = union_grid(times)
    _, f, y0, t, rtol, atol, method, options, _, _ = _check_inputs(
        func, z0, union, RTOL, ATOL, "dopri5", None, None, SOLVERS
    )
    solver = SOLVERS[method](func=f, y0=y0, rtol=rtol, atol=atol, **options)
    t = t.to(solver.dtype)
    solver._before_integrate(t)
    zs = torch.stack([solver.y0] + [solver._advance(ti) for ti in t[1:]])  # (U, B, L)
    rows = torch.arange(times.shape[0])[:, None]
    return zs[index, rows]


def per_sample_decoder(func: nn.Module, z0: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    config = SolverConfig(method="dopri5", rtol=RTOL, atol=ATOL, grid_step=GRID_STEP)
    return solve_at_times(func, z0, z0.new_zeros(times.shape[0]), times, config)


def union_encoder(
    enc: ODERNNEncoder, times: torch.Tensor, values: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference ODE-RNN over the reversed union of times (see the module docstring)."""
    b, _, d = values.shape
    union, index = union_grid(times)
    u = union.shape[0]
    rows = torch.arange(b)[:, None].expand_as(index)
    xs = values.new_zeros(u, b, d)
    ms = values.new_zeros(u, b, d)
    xs[index, rows] = values * mask
    ms[index, rows] = mask
    observed = ms.amax(dim=-1) > 0  # (U, B)
    tl = union.tolist()
    min_step = (tl[-1] - tl[0]) / 50
    h = values.new_zeros(b, enc.hidden_dim)
    started = torch.zeros(b, dtype=torch.bool)
    for i in range(u - 1, -1, -1):
        if i < u - 1:
            gap = tl[i + 1] - tl[i]
            if gap < min_step:
                moved = h + enc.func(union[i + 1], h) * (union[i] - union[i + 1])
            else:
                k = max(2, int(gap / min_step))
                grid = torch.linspace(tl[i + 1], tl[i], k)
                moved = odeint(enc.func, h, grid, method="euler")[-1]
            h = torch.where(started[:, None], moved, h)
        upd = enc.gru(torch.cat([xs[i], ms[i]], dim=-1), h)
        h = torch.where(observed[i, :, None], upd, h)
        started = started | observed[i]
    return enc.head(h)


def per_sample_encoder(
    enc: ODERNNEncoder, times: torch.Tensor, values: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    return enc(times, values, mask, times.new_zeros(times.shape[0]))


DECODERS = {
    "per-sample": per_sample_decoder,
    "union": union_decoder,
    "union-stack": union_stack_decoder,
}
ENCODERS = {"per-sample": per_sample_encoder, "union": union_encoder}
DESIGNS = {"decoder": DECODERS, "encoder": ENCODERS}


# --------------------------------------------------------------------------- truth
def _advance(func: nn.Module, z: torch.Tensor, t_from: torch.Tensor, dt: torch.Tensor):
    """Exact-ish per-row move by ``dt (B,)``: dz/ds = dt f(t, z) on s in [0, 1]."""
    if float(dt.abs().max()) == 0.0:
        return z

    def field(s: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return dt[:, None] * func(t_from + s * dt, y)

    s = torch.tensor([0.0, 1.0], dtype=z.dtype)
    return odeint(field, z, s, method="dopri5", rtol=TRUTH_TOL, atol=TRUTH_TOL)[-1]


@torch.no_grad()
def truth_decoder(func: nn.Module, z0: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    f, z, t = copy.deepcopy(func).double(), z0.double(), times.double()
    prev, out = t.new_zeros(t.shape[0]), []
    for k in range(t.shape[1]):
        z = _advance(f, z, prev, t[:, k] - prev)
        prev = t[:, k]
        out.append(z)
    return torch.stack(out, dim=1)


@torch.no_grad()
def truth_encoder(
    enc: ODERNNEncoder, times: torch.Tensor, values: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    e = copy.deepcopy(enc).double()
    t, x, m = times.double(), values.double(), mask.double()
    h = t.new_zeros(t.shape[0], e.hidden_dim)
    for j in range(t.shape[1] - 1, -1, -1):
        if j < t.shape[1] - 1:
            h = _advance(e.func, h, t[:, j + 1], t[:, j] - t[:, j + 1])
        h = e.gru(torch.cat([x[:, j] * m[:, j], m[:, j]], dim=-1), h)
    h = _advance(e.func, h, t[:, 0], -t[:, 0])
    return e.head(h)


# --------------------------------------------------------------------------- timing
def time_ms(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median and minimum wall time of ``repeats`` calls, in ms."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(1e3 * (time.perf_counter() - start))
    return statistics.median(samples), min(samples)


def make_case(b: int, n: int, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    times = torch.rand(b, n, generator=g).sort(dim=1).values
    return {
        "times": times,
        "z0": torch.randn(b, LATENT, generator=g),
        "values": torch.randn(b, n, INPUT_DIM, generator=g),
        "mask": torch.ones(b, n, INPUT_DIM),
    }


def part_callables(part: str, design: str, models: dict, case: dict):
    """``forward() -> output`` and ``loss(output) -> scalar`` for one (part, design)."""
    times = case["times"]
    if part == "decoder":
        func = models["func"]
        fn = DECODERS[design]
        z0 = case["z0"].clone().requires_grad_(True)

        def forward():
            return fn(func, z0, times)

        def loss(out):
            return out.square().mean()

        return forward, loss, func
    enc = models["enc"]
    fn = ENCODERS[design]

    def forward():
        return fn(enc, times, case["values"], case["mask"])

    def loss(out):
        return out[0].square().mean() + out[1].mean()

    return forward, loss, enc.func


def max_abs_error(part: str, out, truth) -> float:
    if part == "decoder":
        return float((out.double() - truth).abs().max())
    return max(float((a.double() - b).abs().max()) for a, b in zip(out, truth, strict=True))


def run_case(part, design, models, case, truth, repeats, budget_s) -> dict:
    forward, loss, counted = part_callables(part, design, models, case)
    params = [p for p in models["func" if part == "decoder" else "enc"].parameters()]

    def fwd_bwd():
        for p in params:
            p.grad = None
        loss(forward()).backward()

    # One forward+backward for memory; it also warms up and sizes the repeats.
    start = time.perf_counter()
    peak = peak_rss_rise_mb(fwd_bwd)
    single_s = time.perf_counter() - start
    reps = max(1, min(repeats, int(budget_s / max(2 * single_s, 1e-9))))
    counted.nfe = 0
    with torch.no_grad():
        out = forward()
    nfe = counted.nfe
    err = max_abs_error(part, out, truth)
    del out
    with torch.no_grad():
        fwd, fwd_min = time_ms(forward, reps)
    fb, fb_min = time_ms(fwd_bwd, reps)
    return {
        "fwd_ms": fwd,
        "fwd_bwd_ms": fb,
        "fwd_min_ms": fwd_min,
        "fwd_bwd_min_ms": fb_min,
        "nfe": nfe,
        "peak_mb": peak,
        "max_abs_error": err,
        "repeats": reps,
    }


# --------------------------------------------------------------------------- driver
def estimate(history: list[dict], b: int, n: int, quadratic: bool) -> tuple[float, float] | None:
    """Scale the largest measured case of a baseline to ``(B, n)``: ``(seconds, MB)``.

    Union time and memory grow with ``U x B ~ B^2 n``; the in-place ``union`` decoder's
    backward time with ``U^2 x B ~ B^3 n^2``.
    """
    if not history:
        return None
    ref = max(history, key=lambda r: r["B"] ** 2 * r["n"])
    mem_scale = (b * b * n) / (ref["B"] ** 2 * ref["n"])
    time_scale = mem_scale * (b * n) / (ref["B"] * ref["n"]) if quadratic else mem_scale
    return ref["fwd_bwd_ms"] / 1e3 * time_scale, ref["peak_mb"] * mem_scale


def fmt(x, spec: str) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def markdown_table(rows: list[dict]) -> str:
    head = (
        "| design | part | B | n | fwd ms | fwd+bwd ms | NFE | peak MB | max abs error "
        "| fwd+bwd / per-sample |"
    )
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        if r.get("skipped"):
            lines.append(
                f"| {r['design']} | {r['part']} | {r['B']} | {r['n']} | {r['skipped']} | | | | | |"
            )
            continue
        lines.append(
            f"| {r['design']} | {r['part']} | {r['B']} | {r['n']} | {fmt(r['fwd_ms'], '.1f')} | "
            f"{fmt(r['fwd_bwd_ms'], '.1f')} | {r['nfe']} | {fmt(r['peak_mb'], '.1f')} | "
            f"{fmt(r['max_abs_error'], '.1e')} | {fmt(r.get('ratio'), '.1f')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="B in {32, 128}, n = 20, 2 repeats")
    parser.add_argument("--out", default="benchmarks/results/batching.json")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats (default 5)")
    parser.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="seconds per baseline case; larger estimated cases are skipped",
    )
    parser.add_argument(
        "--max-mem-gb",
        type=float,
        default=3.0,
        help="skip baseline cases whose estimated peak memory exceeds this "
        "(estimates are rough: measured peaks ran up to 3x above them)",
    )
    parser.add_argument(
        "--enc-max-step", type=float, default=0.05, help="rk4 max step of the per-sample encoder"
    )
    parser.add_argument("--grid-step", type=float, default=0.02, help="decoder output-grid spacing")
    parser.add_argument(
        "--weight-std",
        type=float,
        default=0.3,
        help="std of the random Linear weights (biases: std 0.1)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    global GRID_STEP
    GRID_STEP = args.grid_step

    torch.set_num_threads(args.threads)
    sizes_b = [32, 128] if args.quick else [32, 128, 512]
    sizes_n = [20] if args.quick else [20, 100]
    repeats = args.repeats or (2 if args.quick else 5)
    cases = sorted(((b, n) for b in sizes_b for n in sizes_n), key=lambda c: (c[0] * c[1], c))

    torch.manual_seed(args.seed)
    func = ODEFunc(LATENT, UNITS, 1)
    enc = ODERNNEncoder(
        INPUT_DIM, LATENT, ENC_HIDDEN, UNITS, 1, method="rk4", max_step=args.enc_max_step
    )
    reinit(func, args.weight_std, 0.1)
    reinit(enc, args.weight_std, 0.1)
    models = {"func": func, "enc": enc}

    # Warm up kernels and lazily initialised libraries before any measurement.
    small = make_case(4, 5, args.seed)
    for part, designs in DESIGNS.items():
        for design in designs:
            forward, loss, _ = part_callables(part, design, models, small)
            loss(forward()).backward()

    rows: list[dict] = []
    history: dict[tuple[str, str], list[dict]] = {}
    t_start = time.perf_counter()
    for b, n in cases:
        case = make_case(b, n, args.seed + 1000 * b + n)
        u = int(union_grid(case["times"])[0].numel())
        for part, designs in DESIGNS.items():
            t0 = time.perf_counter()
            if part == "decoder":
                truth = truth_decoder(func, case["z0"], case["times"])
            else:
                truth = truth_encoder(enc, case["times"], case["values"], case["mask"])
            log = [
                f"[{time.perf_counter() - t_start:6.1f} s] {part} B={b} n={n} U={u} "
                f"(truth {time.perf_counter() - t0:.1f} s):"
            ]
            ours = None
            for design in designs:
                row = {"design": design, "part": part, "B": b, "n": n, "union_size": u}
                hist = history.setdefault((part, design), [])
                quadratic = part == "decoder" and design == "union"
                est = None if design == "per-sample" else estimate(hist, b, n, quadratic)
                if est is not None and (est[0] > args.budget or est[1] > 1024 * args.max_mem_gb):
                    row["skipped"] = (
                        f"skipped (est. {est[0]:.0f} s per fwd+bwd, {est[1] / 1024:.1f} GB)"
                    )
                    log.append(f"{design} skipped")
                else:
                    row.update(run_case(part, design, models, case, truth, repeats, args.budget))
                    hist.append(row)
                    if design == "per-sample":
                        ours = row
                    else:
                        row["ratio"] = row["fwd_bwd_ms"] / ours["fwd_bwd_ms"]
                    log.append(f"{design} {row['fwd_bwd_ms']:.1f} ms")
                rows.append(row)
            print(" ".join(log), flush=True)

    table = markdown_table(rows)
    print()
    print(table)
    meta = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torchdiffeq": torchdiffeq.__version__,
        "platform": platform.platform(),
        "processor": platform.processor(),
        "threads": torch.get_num_threads(),
        "args": vars(args),
        "latent": LATENT,
        "units": UNITS,
        "input_dim": INPUT_DIM,
        "hidden_dim": ENC_HIDDEN,
        "decoder_solver": {"method": "dopri5", "rtol": RTOL, "atol": ATOL, "grid_step": GRID_STEP},
        "encoder_per_sample": {"method": "rk4", "max_step": args.enc_max_step},
        "encoder_union": {"method": "euler", "min_step": "span / 50"},
        "truth": {"method": "dopri5", "rtol": TRUTH_TOL, "atol": TRUTH_TOL, "dtype": "float64"},
        "memory": "rise of VmHWM over VmRSS during one fwd+bwd (malloc_trim + clear_refs 5)",
        "total_s": time.perf_counter() - t_start,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
