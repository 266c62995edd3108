"""Inference throughput (issue 10 item 5): series per second and peak memory of
``LatentODE.predict`` / ``interpolate`` on many series with 100 posterior samples, and of
``EventIntensity.predict_next`` / ``sample`` batched over sequences against one call per
sequence (the old path), in the same run.

    python benchmarks/inference.py                 # 10,000 series x 100 points (minutes)
    python benchmarks/inference.py --n-series 1000 # quicker

Peak memory is the process's resident-set high-water mark after each call (it only grows),
so a call that stays below the previous peak shows no increase: the LatentODE calls are
chunked (64 series at a time), so memory follows the output frame, not the series count.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from latentode import EventIntensity, LatentODE
from latentode.datasets import periodic, spike_trains


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def latent_rows(n_series: int, n_points: int, n_samples: int, seed: int) -> list[dict]:
    train = periodic(200, n_points, 5.0, irregular=True, seed=seed)
    model = LatentODE(max_epochs=5, verbose=False, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(train)
    rng = np.random.default_rng(seed)
    rows = []
    for n in sorted({max(n_series // 10, 1), n_series}):
        df = periodic(n, n_points, 5.0, irregular=True, seed=seed + 1)
        df["value"] = df["value"].where(rng.random(len(df)) < 0.5)
        for name, call in (
            ("LatentODE.predict", lambda d=df: model.predict(d, n_samples=n_samples)),
            ("LatentODE.interpolate", lambda d=df: model.interpolate(d, n_samples=n_samples)),
        ):
            before = _rss_mb()
            out, seconds = _timed(call)
            rows.append(
                dict(
                    method=name, n_series=n, points=n_points, n_samples=n_samples,
                    seconds=seconds, series_per_s=n / seconds, rows_out=len(out),
                    peak_rss_mb=_rss_mb(), rss_growth_mb=_rss_mb() - before,
                )
            )  # fmt: skip
            print(_fmt(rows[-1]), flush=True)
    return rows


def event_rows(n_sequences: int, n_samples: int, seed: int) -> list[dict]:
    events = spike_trains(200, 10.0, seed=seed)
    rows = []
    for dynamics in ("jump", "latent"):
        model = EventIntensity(max_epochs=3, verbose=False, seed=seed, dynamics=dynamics)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(events)
        test = spike_trains(n_sequences, 10.0, seed=seed + 1)
        ids = test["id"].unique()
        calls = {
            "predict_next": lambda d, m=model: m.predict_next(d, n_samples=n_samples),
        }
        if dynamics == "latent":  # jump sampling simulates per sequence either way
            calls["sample"] = lambda d, m=model: m.sample(d, window=(0.0, 10.0), n_samples=10)
        for name, call in calls.items():
            _, batched = _timed(lambda c=call, d=test: c(d))
            groups = [test[test["id"] == i] for i in ids]
            _, single = _timed(lambda c=call, gs=groups: [c(g) for g in gs])
            rows.append(
                dict(
                    method=f"EventIntensity({dynamics}).{name}", n_series=len(ids),
                    seconds=batched, series_per_s=len(ids) / batched,
                    one_at_a_time_s=single, speedup=single / batched,
                )
            )  # fmt: skip
            print(_fmt(rows[-1]), flush=True)
    return rows


def _fmt(row: dict) -> str:
    return "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in
                     row.items())  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-series", type=int, default=10_000)
    ap.add_argument("--n-points", type=int, default=100)
    ap.add_argument("--n-samples", type=int, default=100)
    ap.add_argument("--n-sequences", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="benchmarks/results/inference.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = latent_rows(args.n_series, args.n_points, args.n_samples, args.seed)
    rows += event_rows(args.n_sequences, args.n_samples, args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
