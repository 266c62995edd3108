"""What a query far from the data costs (issue 10, item 4).

A ``LatentODE`` fitted (2 epochs; the cost, not the fit, is measured) on
``periodic(40, 30, 2.0)`` (times in [0, 2]) is asked for one time at growing distances
(``predict``) and for growing horizons (``extrapolate``); an ``EventIntensity`` fitted on
``spike_trains(20, 10.0)`` (2 epochs each, both dynamics) is asked for ``sample``,
``intensity``, ``expected_count`` and ``predict_next`` over growing windows. For each call:
the seconds it took, and either "ok" or the error the user gets (its first 150 characters).
A call that cannot be answered within the solver's limits must refuse at once with an error
naming the limit, not run for minutes or allocate without bound.

    python benchmarks/far_queries.py

Prints a table and writes ``benchmarks/results/far_queries.json``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from latentode import EventIntensity, LatentODE
from latentode.datasets import periodic, spike_trains


def _call(fn) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        out = fn()
        what = f"ok ({len(out)} rows)"
    except Exception as err:  # the error a user would see is the result here
        what = f"{type(err).__name__}: {str(err)[:150]}"
    return time.perf_counter() - started, what


def latent_rows() -> list[dict]:
    df = periodic(40, 30, 2.0, irregular=True, seed=0)
    model = LatentODE(max_epochs=2, verbose=False, seed=0).fit(df)
    one = df[df["id"] == df["id"].iloc[0]]
    rows = []
    for t in (2.5, 10.0, 1e3, 1e6, 1e12):
        q = pd.DataFrame({"id": [one["id"].iloc[0]], "time": [t]})
        s, what = _call(lambda q=q: model.predict(one, times=q, n_samples=10))
        rows.append(dict(call="LatentODE.predict", distance=t, seconds=s, result=what))
    for h in (1.0, 1e3, 1e6):
        s, what = _call(lambda h=h: model.extrapolate(one, horizon=h, n_points=5, n_samples=10))
        rows.append(dict(call="LatentODE.extrapolate", distance=h, seconds=s, result=what))
    return rows


def event_rows() -> list[dict]:
    events = spike_trains(20, 10.0, seed=0)
    rows = []
    for dynamics in ("jump", "latent"):
        model = EventIntensity(max_epochs=2, verbose=False, seed=0, dynamics=dynamics)
        model.fit(events, window=(0.0, 10.0))
        one = events[events["id"] == events["id"].iloc[0]]
        for w in (20.0, 1e3, 1e5, 1e7):
            m, d = model, one
            calls = {
                "sample": lambda w=w, m=m, d=d: m.sample(d, window=(0.0, w), n_samples=2),
                "intensity": lambda w=w, m=m, d=d: m.intensity(d, times=np.array([w])),
                "expected_count": lambda w=w, m=m, d=d: m.expected_count(d, 0.0, w),
                "predict_next": lambda w=w, m=m, d=d: m.predict_next(d, horizon=w),
            }
            for name, fn in calls.items():
                s, what = _call(fn)
                rows.append(
                    dict(call=f"EventIntensity({dynamics}).{name}", distance=w, seconds=s,
                         result=what)
                )  # fmt: skip
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "far_queries.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = latent_rows() + event_rows()
    print("\n| call | time, horizon or window end | seconds | result |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['call']} | {r['distance']:g} | {r['seconds']:.2f} | {r['result'][:90]} |")
    Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
