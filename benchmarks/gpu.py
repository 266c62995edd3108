"""GPU figures for issue 10 item 6, in one prepared run (a lent GPU's time is short).

Sections, each timed apart and written to the JSON as soon as it ends (a section that
fails records its error and the next one runs):

* ``toy_step``: one training step at the reference's periodic settings (batch 50, 100
  shared times on [0, 5], half of each series seen, latent 10, encoder state 20, two
  hidden layers of 100 units in each ODE function, 3 samples) through a plain
  ``lightning.Trainer`` on the device, eager and with the encoder's step compiled
  (``TrainingConfig(compile=True)``); median seconds per step (device-synchronised),
  compile time apart. The issue's target on an H100/H200-class GPU: 30 ms.
* ``encoder``: the ODE-RNN encoder's forward and backward alone, eager, compiled, and
  compiled with ``mode="reduce-overhead"`` (CUDA graphs).
* ``hopper_epoch``: one epoch of 10,000 hopper series (windows of 100 of 200 steps of
  the trajectories in ``--hopper``, reused with their own random windows and
  observation masks when there are fewer than 10,000; half of each window seen) at the
  paper's MuJoCo size (latent 15, encoder state 30, three hidden layers of 300 units),
  batch 50; stopped after ``--epoch-budget`` seconds and extrapolated when longer.
* ``predict``: ``LatentODE`` fitted with ``accelerator`` set to the device (2 epochs of
  200 periodic series: the estimator with no code change), then ``predict`` and
  ``interpolate`` on ``--n-series`` series x 100 points, half of the values hidden,
  100 posterior samples: series per second.
* ``events``: ``EventIntensity`` (``dynamics="latent"`` and ``"jump"``) fitted on the
  device (3 epochs, 200 spike trains), then ``predict_next`` and ``sample`` batched over
  200 sequences.
* ``breakdown``: one batch's forward and backward through the encoder, the decoder's
  solve and the whole bound, apart.
* ``toy_variants``: the toy step with one change each: ``encoder="mtan"``, an ``rk4``
  decoder, batches of 500, the encoder step as CUDA graphs (``mode="reduce-overhead"``).
* ``hopper_variants``: the hopper epoch with ``encoder="mtan"``, and with batches of 500.
* ``estimator_compile``: ``LatentODE(compile=True)`` fitted and predicting on the device,
  next to the eager estimator.

    python benchmarks/gpu.py --out /tmp/gpu.json                     # on the GPU machine
    python benchmarks/gpu.py --sections toy_step,predict --n-series 2000
    python benchmarks/gpu.py --device cpu --small --out /tmp/gpu.json # checks the script

Prints a table at the end and writes JSON (default ``benchmarks/results/gpu.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
import warnings
from pathlib import Path

import lightning as L
import numpy as np
import torch

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from latentode import EventIntensity, LatentODE  # noqa: E402
from latentode.data import Series, collate, subsample_observed  # noqa: E402
from latentode.data.scaling import fit_time_scale, fit_value_scale  # noqa: E402
from latentode.datasets import periodic, periodic_series, spike_trains  # noqa: E402
from latentode.training import IrregularDataModule, LatentODEModule  # noqa: E402

warnings.filterwarnings("ignore")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_median(fn, device: torch.device, repeats: int) -> float:
    """Median device-synchronised seconds of ``fn()`` over ``repeats`` calls after one
    warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        sync(device)
        s = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - s)
    return float(np.median(times))


class StepTimer(L.Callback):
    """Device-synchronised seconds of each training step (forward, backward, optimiser);
    stops the fit after ``budget`` seconds of steps."""

    def __init__(self, device: torch.device, budget: float = float("inf")) -> None:
        self.device, self.budget, self.times, self._t = device, budget, [], 0.0

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        sync(self.device)
        self._t = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        sync(self.device)
        self.times.append(time.perf_counter() - self._t)
        if sum(self.times) > self.budget:
            trainer.should_stop = True


def trainer(args, callbacks, **kw) -> L.Trainer:
    return L.Trainer(
        accelerator=args.accelerator, devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        callbacks=callbacks, **kw,
    )  # fmt: skip


def fit_steps(args, module, dm, n_steps: int, budget: float = float("inf")) -> dict:
    timer = StepTimer(args.dev, budget)
    started = time.perf_counter()
    trainer(args, [timer], max_steps=n_steps).fit(module, datamodule=dm)
    wall = time.perf_counter() - started
    t = np.asarray(timer.times)
    warm = t[3:] if len(t) > 6 else t[1:] if len(t) > 1 else t  # the first pay compiling
    return {
        "steps": len(t), "first_step_s": float(t[0]), "median_step_s": float(np.median(warm)),
        "p90_step_s": float(np.percentile(warm, 90)), "steps_s_total": float(t.sum()),
        "wall_s": wall,
    }  # fmt: skip


# ------------------------------------------------------------------ reference toy step
def toy_setting(n_series: int, compile: bool, seed: int = 0, batch_size: int = 50, **model):
    series = periodic_series(n_series, 100, 5.0, seed=seed)
    train = subsample_observed(series, 0.5, seed=seed + 1)
    offset, scale = fit_time_scale(train)
    v_off, v_scale = fit_value_scale(train)
    torch.manual_seed(seed)
    module = LatentODEModule(
        1, 10, hidden_dim=20, units=100, depth=2, enc_units=100,
        enc_depth=2, obs_std=0.01 / float(v_scale[0]), time_offset=offset, time_scale=scale,
        training=dict(lr=1e-2, kl_delay=10, kl_rate=0.99, n_samples=3, compile=compile),
        **{"encoder": "odernn", **model},
    )  # fmt: skip
    module.model.set_value_scale(v_off, v_scale)
    return module, train, IrregularDataModule(train, batch_size=batch_size, seed=0)


def toy_step(args) -> dict:
    out = {}
    for name, compile in (("eager", False), ("compiled", True)):
        module, _, dm = toy_setting(args.toy_series, compile)
        out[name] = fit_steps(args, module, dm, args.toy_steps)
        print(f"toy_step {name}: {out[name]}", flush=True)
    return out


def encoder(args) -> dict:
    module, train, _ = toy_setting(200, False)
    enc = module.model.encoder.to(args.dev)
    batch = collate(train[:50]).to(args.dev)

    def run():
        mean, std = enc(batch.times, batch.values, batch.obs_mask, batch.t0)
        (mean.square().sum() + std.sum()).backward()
        return mean.detach()

    def median() -> float:
        return device_median(run, args.dev, 20)

    want = run()
    out = {"eager_s": median()}
    variants = [("compiled", {})]
    if args.dev.type == "cuda":
        variants.append(("reduce_overhead", {"mode": "reduce-overhead"}))
    for name, options in variants:
        try:
            enc.compile_step(**options)
            s = time.perf_counter()
            got = run()
            sync(args.dev)
            out[f"{name}_compile_s"] = time.perf_counter() - s
            out[f"{name}_max_abs_diff"] = float((got - want).abs().max())
            out[f"{name}_s"] = median()
        except Exception as e:  # noqa: BLE001 - a variant that fails is a finding
            out[f"{name}_error"] = f"{type(e).__name__}: {e}"[:2000]
        print(f"encoder {name}: {out}", flush=True)
        enc.compile_step(False)
    return out


# ------------------------------------------------------------------------ hopper epoch
def hopper_series(path: str, n: int, seed: int = 0) -> list[Series]:
    x = np.load(path)["data"].astype(np.float64)
    flat = x.reshape(-1, x.shape[-1])
    lo, hi = flat.min(0), flat.max(0)
    x = (x - lo) / np.where(hi == 0, 1.0, hi)  # the reference's normalisation
    steps = x.shape[1]
    window = steps // 2
    rng = np.random.default_rng(seed)
    times = np.arange(steps) / steps
    out = []
    for i in range(n):
        src, a = i % len(x), int(rng.integers(0, steps - window + 1))
        out.append(Series(times=times[:window], values=x[src, a : a + window], id=i))
    return subsample_observed(out, 0.5, seed=seed + 1)


def hopper_run(args, series, encoder: str, batch_size: int, compile: bool) -> dict:
    """One epoch (or ``--epoch-budget`` seconds of it) at the paper's MuJoCo size."""
    offset, scale = fit_time_scale(series)
    v_off, v_scale = fit_value_scale(series)
    torch.manual_seed(0)
    module = LatentODEModule(
        14, 15, encoder=encoder, hidden_dim=30, units=300, depth=3, enc_units=300,
        enc_depth=3, time_offset=offset, time_scale=scale,
        training=dict(lr=1e-2, kl_delay=5, kl_rate=0.95, compile=compile),
    )  # fmt: skip
    module.model.set_value_scale(v_off, v_scale)
    dm = IrregularDataModule(series, batch_size=batch_size, seed=0)
    n_batches = -(-len(series) // batch_size)
    r = fit_steps(args, module, dm, n_batches, budget=args.epoch_budget)
    r["epoch_s_estimate"] = r["median_step_s"] * n_batches + (
        r["first_step_s"] - r["median_step_s"]
    )
    return r


def hopper_epoch(args) -> dict:
    series = hopper_series(args.hopper, args.hopper_series)
    out = {"n_series": len(series), "batch_size": 50}
    for name, compile in (("eager", False), ("compiled", True)):
        out[name] = hopper_run(args, series, "odernn", 50, compile)
        print(f"hopper_epoch {name}: {out[name]}", flush=True)
    return out


# ---------------------------------------------------------------------------- predict
def predict(args) -> dict:
    train = periodic(200, 100, 5.0, irregular=True, seed=0)
    model = LatentODE(
        max_epochs=2, verbose=False, seed=0, accelerator=args.accelerator, devices=1
    )
    s = time.perf_counter()
    model.fit(train)
    out = {"fit_2_epochs_s": time.perf_counter() - s, "device": str(model._device())}
    if model._device().type != args.dev.type:
        raise RuntimeError(f"the fitted model is on {model._device()}, not {args.dev}")
    df = periodic(args.n_series, 100, 5.0, irregular=True, seed=1)
    rng = np.random.default_rng(1)
    df["value"] = df["value"].where(rng.random(len(df)) < 0.5)
    for name in args.predict_methods:
        s = time.perf_counter()
        frame = getattr(model, name)(df, n_samples=100)
        sync(args.dev)
        sec = time.perf_counter() - s
        out[name] = {"seconds": sec, "series_per_s": args.n_series / sec, "rows": len(frame)}
        print(f"predict {name}: {out[name]}", flush=True)
    return out


def estimator_compile(args) -> dict:
    """``LatentODE(compile=True)`` fitted and predicting on the device, against eager."""
    train = periodic(200, 100, 5.0, irregular=True, seed=0)
    test = periodic(1000, 100, 5.0, irregular=True, seed=1)
    out = {}
    for compile in (False, True):
        model = LatentODE(
            max_epochs=3, verbose=False, seed=0, accelerator=args.accelerator, devices=1,
            compile=compile,
        )  # fmt: skip
        s = time.perf_counter()
        model.fit(train)
        r = {"fit_3_epochs_s": time.perf_counter() - s, "device": str(model._device())}
        s = time.perf_counter()
        frame = model.predict(test, n_samples=100)
        r["predict_1000_s"] = time.perf_counter() - s
        r["mean_pred"] = float(frame["value"].mean())
        out["compiled" if compile else "eager"] = r
        print(f"estimator_compile {compile}: {r}", flush=True)
    return out


def events(args) -> dict:
    out = {}
    train, test = spike_trains(200, 10.0, seed=0), spike_trains(200, 10.0, seed=1)
    for dynamics in ("latent", "jump"):
        model = EventIntensity(
            max_epochs=3, verbose=False, seed=0, dynamics=dynamics,
            accelerator=args.accelerator, devices=1,
        )  # fmt: skip
        s = time.perf_counter()
        model.fit(train)
        r = {"fit_3_epochs_s": time.perf_counter() - s}
        s = time.perf_counter()
        nxt = model.predict_next(test, n_samples=100)
        r["predict_next_s"], r["predict_next_rows"] = time.perf_counter() - s, len(nxt)
        if dynamics == "latent":
            s = time.perf_counter()
            smp = model.sample(test, window=(0.0, 10.0), n_samples=10)
            r["sample_s"], r["sample_rows"] = time.perf_counter() - s, len(smp)
        r["score"] = float(model.score(test))
        out[dynamics] = r
        print(f"events {dynamics}: {r}", flush=True)
    return out


def breakdown(args) -> dict:
    """Forward and backward of the encoder, of the decoder's solve, and of the whole
    bound, on one batch of 50 at the reference's settings (device-synchronised medians)."""
    from latentode.nn.likelihoods import reparameterize

    module, train, _ = toy_setting(200, False)
    model = module.model.to(args.dev)
    batch = collate(train[:50]).to(args.dev)

    def timed(fn) -> float:
        return device_median(fn, args.dev, 10)

    def enc():
        mean, std = model.encode(batch)
        (mean.sum() + std.sum()).backward()

    mean, std = (x.detach() for x in model.encode(batch))

    def dec():
        z0, _, _ = reparameterize(mean, std, 3)
        model.latent_trajectory(z0.requires_grad_(), batch).square().sum().backward()

    def full():
        model(batch, 3, 1.0, "elbo")["loss"].backward()

    out = {"encoder_fwd_bwd_s": timed(enc), "decoder_fwd_bwd_s": timed(dec)}
    out["bound_fwd_bwd_s"] = timed(full)
    print(f"breakdown: {out}", flush=True)
    return out


def toy_variants(args) -> dict:
    """The toy step with one thing changed at a time."""
    import torch._dynamo

    torch._dynamo.config.recompile_limit = 64  # this script compiles several models
    variants = {
        "eager_b50": dict(n_series=args.toy_series),
        "mtan_b50": dict(n_series=args.toy_series, encoder="mtan"),
        "rk4_decoder_b50": dict(n_series=args.toy_series, solver=dict(method="rk4")),
        "eager_b500": dict(n_series=10 * args.toy_series, batch_size=500),
        "cudagraph_encoder_b50": dict(n_series=args.toy_series, graphs=True),
    }
    out = {}
    for name, kw in variants.items():
        graphs = kw.pop("graphs", False)
        if graphs and args.dev.type != "cuda":
            continue
        try:
            module, _, dm = toy_setting(compile=False, **kw)
            if graphs:
                module.model.encoder.compile_step(mode="reduce-overhead")
            out[name] = fit_steps(args, module, dm, args.toy_steps // 2, budget=25.0)
        except Exception as e:  # noqa: BLE001 - a variant that fails is a finding
            out[name] = {"error": f"{type(e).__name__}: {e}"[:2000]}
        print(f"toy_variants {name}: {out[name]}", flush=True)
    return out


def hopper_variants(args) -> dict:
    """The hopper epoch with the mTAN encoder, and with batches of 500."""
    series = hopper_series(args.hopper, args.hopper_series)
    out = {}
    for name, encoder, bs in (("mtan_b50", "mtan", 50), ("odernn_b500", "odernn", 500)):
        out[name] = hopper_run(args, series, encoder, bs, False)
        print(f"hopper_variants {name}: {out[name]}", flush=True)
    return out


SECTIONS = {
    "toy_step": toy_step, "predict": predict, "hopper_epoch": hopper_epoch,
    "events": events, "encoder": encoder, "breakdown": breakdown,
    "toy_variants": toy_variants, "hopper_variants": hopper_variants,
    "estimator_compile": estimator_compile,
}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--small", action="store_true", help="tiny sizes, to check the script")
    ap.add_argument("--sections", default=",".join(SECTIONS))
    ap.add_argument("--hopper", default=str(ROOT.parent / ".gpu" / "hopper.npz"))
    ap.add_argument("--epoch-budget", type=float, default=40.0)
    ap.add_argument("--predict-methods", default="predict,interpolate")
    ap.add_argument("--n-series", type=int, default=10_000, help="series to predict")
    ap.add_argument("--out", default=str(ROOT / "results" / "gpu.json"))
    args = ap.parse_args()
    args.dev = torch.device(args.device)
    args.accelerator = "gpu" if args.dev.type == "cuda" else "cpu"
    args.toy_series, args.toy_steps = (100, 8) if args.small else (1000, 40)
    args.hopper_series = 100 if args.small else 10_000
    args.n_series = 200 if args.small else args.n_series
    args.predict_methods = args.predict_methods.split(",")
    if args.dev.type == "cpu":
        torch.set_num_threads(1)
    info = {
        "torch": torch.__version__, "device": args.device,
        "name": torch.cuda.get_device_name(args.dev) if args.dev.type == "cuda" else "cpu",
        "small": args.small, "argv": sys.argv[1:], "pid": os.getpid(),
    }  # fmt: skip
    result: dict = {"info": info}
    print(info, flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for name in args.sections.split(","):
        s = time.perf_counter()
        try:
            result[name] = SECTIONS[name](args)
        except Exception as e:  # noqa: BLE001 - record and go on to the next section
            result[name] = {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()}
            print(f"{name} FAILED:\n{traceback.format_exc()}", flush=True)
        result[name + "_section_s"] = time.perf_counter() - s
        out.write_text(json.dumps(result, indent=2, default=str))
    print("\n| section | figure | value |\n|---|---|---|")
    for name in args.sections.split(","):
        for k, v in _flat(result.get(name, {})):
            if not k.endswith("trace"):
                shown = f"{v:.4g}" if isinstance(v, float) else v
                print(f"| {name} | {k} | {shown} |")


def _flat(d: dict, prefix: str = ""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _flat(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


if __name__ == "__main__":
    main()
