"""Command line: ``latentode demo`` (and the estimator commands of later releases)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

__all__ = ["main", "run_demo"]


def run_demo(
    *,
    n_series: int = 500,
    observed: float = 0.2,
    max_epochs: int = 25,
    seed: int = 0,
    progress: bool = True,
    threads: int = 1,
) -> dict:
    """Train a Latent ODE on the periodic set and compare it with simple baselines.

    Training series are masked half with the interpolation protocol (a random
    ``observed`` fraction of points seen, all scored) and half with the
    extrapolation protocol (first half of the span seen, second half scored), so
    one model does both. Returns the test figures as a dict.
    """
    import lightning as L
    import torch

    from .data import IrregularDataModule, collate, split_extrapolation, subsample_observed
    from .datasets import periodic_series
    from .lightning import LatentODEModule, masked_errors
    from .naive import last_value, linear_interpolation

    torch.set_num_threads(threads)
    L.seed_everything(seed, verbose=False)
    series = periodic_series(n_series, 100, seed=seed)
    n_train, n_val = int(0.7 * n_series), int(0.1 * n_series)
    train, val, test = (
        series[:n_train], series[n_train : n_train + n_val], series[n_train + n_val :]
    )
    half = len(train) // 2
    train = subsample_observed(train[:half], observed, seed) + split_extrapolation(train[half:])
    val_i = subsample_observed(val, observed, seed + 1)
    test_i = subsample_observed(test, observed, seed + 2)
    test_e = split_extrapolation(test)
    dm = IrregularDataModule(train, val_i, batch_size=50, seed=seed)
    module = LatentODEModule(1, latent_dim=8, lr=2e-2, kl_delay=3, kl_rate=0.9, lr_decay=0.998)
    trainer = L.Trainer(
        max_epochs=max_epochs, logger=False, enable_checkpointing=False,
        enable_progress_bar=progress, enable_model_summary=False, gradient_clip_val=10.0,
    )
    start = time.perf_counter()
    trainer.fit(module, dm)
    seconds = time.perf_counter() - start
    module.eval()
    results: dict = {"train_seconds": round(seconds, 1), "n_train": len(train)}
    with torch.no_grad():
        for task, data in (("interpolation", test_i), ("extrapolation", test_e)):
            batch = collate(data)
            pred = module(batch, n_samples=10).mean(0)
            results[task] = {
                name: float(masked_errors(batch, p)["mse"][0])
                for name, p in (("latent_ode", pred),
                                ("linear_interpolation", linear_interpolation(batch)),
                                ("last_value", last_value(batch)))
            }
    return results


def _print_demo(res: dict) -> None:
    print(f"\nLatent ODE on the periodic set: trained {res['train_seconds']} s "
          f"on {res['n_train']} series\n")
    print(f"{'test MSE':<16}{'Latent ODE':>12}{'linear interp':>15}{'last value':>12}")
    for task in ("interpolation", "extrapolation"):
        r = res[task]
        print(f"{task:<16}{r['latent_ode']:>12.4f}{r['linear_interpolation']:>15.4f}"
              f"{r['last_value']:>12.4f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="latentode", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a Latent ODE on the built-in periodic set")
    demo.add_argument("--n-series", type=int, default=500)
    demo.add_argument("--observed", type=float, default=0.2,
                      help="fraction of points the encoder sees (interpolation)")
    demo.add_argument("--max-epochs", type=int, default=25)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--threads", type=int, default=1)
    demo.add_argument("--json", help="also write the figures to this JSON file")
    demo.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "demo":
        res = run_demo(n_series=args.n_series, observed=args.observed, max_epochs=args.max_epochs,
                       seed=args.seed, progress=not args.no_progress, threads=args.threads)
        _print_demo(res)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(res, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
