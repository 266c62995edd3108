"""Where does a training step's time go? (issue 10, item 1)

One Latent ODE training step, split into its parts and timed on one thread, at two
settings:

* ``reference``: the paper's periodic toy at the published code's settings (100 shared
  times on [0, 5], the encoder sees 50%, latent 10, encoder state 20, two hidden layers of
  100 units in each ODE function, batch 50, 3 samples, fixed observation std);
* ``estimator``: ``LatentODE()``'s defaults on ``periodic(irregular=True)`` (each series its
  own 100 times; the encoder sees 30-100% of them or a prefix, batch 50).

Parts: encoder forward, decoder forward (the latent solve), readout + likelihood + bound,
backward (all of it, by autograd), optimiser step, and the whole step through a Lightning
``Trainer`` (whose extra is Lightning's own overhead and the data loading). Also the FLOPs
of the forward pass (``torch.utils.flop_counter``; the backward is about twice that) and
their ratio to this CPU's measured float32 matrix-multiply throughput at the step's own
matrix sizes: the time the arithmetic alone would take. And the number of calls of the
decoder's and encoder's ODE functions in one forward pass, with the time the same number
of chained calls takes forward and backward in a bare loop (no solver, interpolation,
recurrent cell or bound): a floor under any step that evaluates its fields that often.

    python benchmarks/step_breakdown.py            # ~3 minutes
    python benchmarks/step_breakdown.py --repeats 20

Prints a table and writes ``benchmarks/results/step_breakdown.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from latentode import LatentODE
from latentode.data import collate, subsample_observed
from latentode.data.protocols import RandomObservation
from latentode.data.scaling import fit_time_scale, fit_value_scale
from latentode.datasets import periodic
from latentode.frames import TimeCodec, check_frame, fit_scaler, frame_to_series
from latentode.nn.likelihoods import reparameterize
from latentode.training import IrregularDataModule, LatentODEModule

ROOT = Path(__file__).parent


def reference_setting(seed: int = 0, encoder: str = "odernn"):
    from latentode.datasets import periodic_series

    rng = np.random.default_rng(seed)
    series = periodic_series(200, 100, 5.0, seed=seed)
    train = subsample_observed(series, 0.5, seed=int(rng.integers(1 << 30)))
    dm = IrregularDataModule(train, batch_size=50, seed=0)
    offset, scale = fit_time_scale(train)
    v_off, v_scale = fit_value_scale(train)
    module = LatentODEModule(
        1,
        10,
        encoder=encoder,
        hidden_dim=20,
        units=100,
        depth=2,
        enc_units=100,
        enc_depth=2,
        obs_std=0.01 / float(v_scale[0]),
        time_offset=offset,
        time_scale=scale,
    )
    module.model.set_value_scale(v_off, v_scale)
    return module, train, dm


def estimator_setting(seed: int = 0):
    df = periodic(200, 100, 5.0, irregular=True, seed=seed)
    est = LatentODE()
    clean, targets = check_frame(df, "id", "time", None)
    codec = TimeCodec.fit(clean["time"])
    series = frame_to_series(clean, "id", "time", targets, codec, fit_scaler(clean, targets))
    offset, scale = fit_time_scale(series)
    module = LatentODEModule(**est._module_hparams(1, offset, scale, [1.0]))
    module.model.set_value_scale(0.0, 1.0)
    masks = RandomObservation((est.min_observed, 1.0), est.extrapolate_prob, seed=0)
    train = masks(series)
    dm = IrregularDataModule(series, batch_size=50, seed=0, train_transform=masks)
    return module, train, dm


def timed(fn, repeats: int) -> tuple[float, object]:
    out, times = None, []
    for _ in range(repeats):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return float(np.median(times)), out


def matmul_gflops(m: int, k: int, n: int, repeats: int = 200) -> float:
    a, b = torch.randn(m, k), torch.randn(k, n)
    for _ in range(10):
        a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * m * k * n * repeats / (time.perf_counter() - started) / 1e9


def count_field_calls(model, fn) -> dict[str, tuple[int, int]]:
    """Calls and largest row count of the decoder's and encoder's ODE functions during
    ``fn()``."""
    counts: dict[str, list[int]] = {}
    hooks = []
    for key, owner in (("decoder", model.decoder), ("encoder", model.encoder)):
        func = getattr(owner, "func", None)
        if func is None:
            continue
        counts[key] = [0, 0]

        def hook(mod, args, out, key=key):
            counts[key][0] += 1
            counts[key][1] = max(counts[key][1], out.reshape(-1, out.shape[-1]).shape[0])

        hooks.append(func.register_forward_hook(hook))
    try:
        fn()
    finally:
        for h in hooks:
            h.remove()
    return {k: (v[0], v[1]) for k, v in counts.items()}


def fields_alone(func, calls: int, rows: int, repeats: int) -> float:
    """Seconds of ``calls`` chained evaluations of ``func`` on ``rows`` states, forward and
    backward, in a bare loop: the ODE functions' own cost in a step, with no solver,
    interpolation, recurrent cell or bound around them."""
    y0 = torch.randn(rows, func.dim, requires_grad=True)
    t = torch.zeros(rows)

    def run():
        y = y0
        for _ in range(calls):
            y = y + 0.01 * func(t, y)
        y.sum().backward()

    return timed(run, repeats)[0]


def breakdown(name: str, module: LatentODEModule, train, dm, repeats: int) -> dict:
    model = module.model
    batch = collate(train[:50])
    k = module.training_config.n_samples
    opt = torch.optim.Adamax(model.parameters(), lr=1e-2)

    def encoder():
        return model.encode(batch)

    t_enc, (mean, std) = timed(encoder, repeats)
    z0, _, _ = reparameterize(mean.detach(), std.detach(), k)

    def decoder():
        return model.latent_trajectory(z0, batch)

    t_dec, z = timed(decoder, repeats)

    def head():
        samples = model.observe(z.detach())
        return model.gaussian_log_prob(batch, samples)

    t_head, _ = timed(head, repeats)

    def forward():
        return model(batch, k, 1.0, module.training_config.objective)["loss"]

    t_fwd, _ = timed(forward, repeats)

    def forward_backward():
        opt.zero_grad()
        loss = forward()
        loss.backward()
        return loss

    t_fb, _ = timed(forward_backward, repeats)
    t_opt, _ = timed(opt.step, repeats)

    with FlopCounterMode(display=False) as counter:
        forward()
    flops = counter.get_total_flops()
    calls = count_field_calls(model, forward)
    alone = {
        key: fields_alone(getattr(model, key).func, n, rows, repeats)
        for key, (n, rows) in calls.items()
    }
    # the step's matrices: batch rows x hidden units
    gflops = matmul_gflops(k * 50, 100, 100)

    trainer = L.Trainer(
        max_steps=repeats + 2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    step_times: list[float] = []

    class Clock(L.Callback):
        def on_train_batch_start(self, *args) -> None:
            self.started = time.perf_counter()

        def on_train_batch_end(self, *args) -> None:
            step_times.append(time.perf_counter() - self.started)

    trainer.callbacks.append(Clock())
    trainer.fit(module, dm)
    t_step = float(np.median(step_times[2:]))
    backward = t_fb - t_fwd
    rest = t_fwd - t_enc - t_dec - t_head
    return {
        "setting": name,
        "encoder fwd": t_enc,
        "decoder fwd": t_dec,
        "readout + likelihood": t_head,
        "bound + rest of fwd": rest,
        "backward": backward,
        "optimiser": t_opt,
        "fwd + bwd + opt": t_fb + t_opt,
        "Lightning step": t_step,
        "Lightning overhead": t_step - t_fb - t_opt,
        "decoder field calls (rows)": calls.get("decoder", (0, 0)),
        "encoder field calls (rows)": calls.get("encoder", (0, 0)),
        "decoder field alone, fwd + bwd": alone.get("decoder", 0.0),
        "encoder field alone, fwd + bwd": alone.get("encoder", 0.0),
        "fwd GFLOP": flops / 1e9,
        "matmul GFLOP/s": gflops,
        "arithmetic s (3x fwd FLOPs)": 3 * flops / 1e9 / gflops,
    }


def _cell(value) -> str:
    return f"{value[0]} ({value[1]})" if isinstance(value, tuple) else f"{value:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", default=str(ROOT / "results" / "step_breakdown.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    L.seed_everything(0, verbose=False)
    rows = [
        breakdown("reference", *reference_setting(), args.repeats),
        breakdown("reference, mtan", *reference_setting(encoder="mtan"), args.repeats),
        breakdown("estimator", *estimator_setting(), args.repeats),
    ]
    keys = list(rows[0])[1:]
    names = " | ".join(r["setting"] for r in rows)
    print(f"\n| part (s, median of {args.repeats}) | {names} |")
    print("|---|" + "---|" * len(rows))
    for key in keys:
        print(f"| {key} | " + " | ".join(_cell(r[key]) for r in rows) + " |")
    Path(args.out).write_text(json.dumps({"repeats": args.repeats, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
