"""Does ``EventIntensity`` use its state? Held-out log-likelihood per event against baselines.

Three event sets, each cut into training and held-out windows:

* ``spikes``: :func:`latentode.datasets.spike_trains`, near-regular spike trains with a rate
  and phase of their own per sequence (gaps Gamma(20), rates U(1, 4), windows of 10 units).
  A model that uses its state predicts the next spike from the last ones.
* ``geyser``: Old Faithful eruptions (``MASS::geyser``) in 6-hour windows, alternate windows
  held out; the eruptions alternate short and long waits.
* ``coal``: British coal-mining disasters (``boot::coal``) in 5-year windows, alternate
  windows held out; the rate declines over the century (calendar time is an input).

Each set is fitted with ``dynamics="jump"`` (a state that jumps at each event) and
``dynamics="latent"`` (a rate driven by a posterior z0), next to a homogeneous Poisson
process and a pooled histogram rate (:mod:`latentode.naive`). For the spikes it also
reports the *peak ratio*: the mean fitted rate just before the held-out events over the
mean rate half-way between consecutive events (1 for a flat rate; well above 1 when the
rate peaks where the events are). Prints a table, writes JSON and a plot of two held-out
spike trains.

    python benchmarks/event_structure.py            # about 10 minutes, 1 thread
    python benchmarks/event_structure.py --quick    # smaller, for a plumbing check
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from latentode import EventIntensity  # noqa: E402
from latentode.datasets import coal_disasters, geyser, spike_trains  # noqa: E402
from latentode.frames import cut_windows, window_tuples  # noqa: E402
from latentode.naive import histogram_loglik, poisson_loglik  # noqa: E402

ROOT = Path(__file__).parent


def load(name: str, quick: bool) -> dict:
    """Training and held-out events and windows, and the histogram's settings."""
    if name == "spikes":
        n_train, n_test = (60, 30) if quick else (300, 100)
        ev = spike_trains(n_train + n_test, 10.0, seed=0)[["id", "time"]]
        win = pd.DataFrame({"id": range(n_train + n_test), "start": 0.0, "end": 10.0})
        test_ids = set(range(n_train, n_train + n_test))
        settings = dict(n_bins=10, relative=True, time_dependent=False)
    elif name == "geyser":
        t = geyser().frame["time"].to_numpy() / 60.0  # hours
        ev, win = cut_windows(t, 6.0)
        test_ids = set(win["id"][win["id"] % 2 == 1])
        settings = dict(n_bins=6, relative=True, time_dependent=False)
    elif name == "coal":
        t = np.sort(coal_disasters().frame["time"].to_numpy())
        t[np.r_[False, np.diff(t) == 0]] += 1e-4  # one tie, moved by under an hour
        ev, win = cut_windows(t, 5.0)
        test_ids = set(win["id"][win["id"] % 2 == 1])
        settings = dict(n_bins=12, relative=False, time_dependent=True)
    else:
        raise ValueError(name)
    is_test_ev, is_test_win = ev["id"].isin(test_ids), win["id"].isin(test_ids)
    return dict(
        train_ev=ev[~is_test_ev],
        test_ev=ev[is_test_ev],
        train_win=win[~is_test_win],
        test_win=win[is_test_win],
        **settings,
    )


def model_params(name: str, dynamics: str, quick: bool) -> dict:
    if name == "spikes":
        params = dict(latent_dim=8, units=50, batch_size=32, max_epochs=20 if quick else 100)
    else:  # a few long windows: small models and batches; the estimator's validation split
        # (20% of the training windows) stops training (without it, 150 epochs overfit coal)
        params = dict(latent_dim=4, units=32, batch_size=4, lr=0.02)
        params["max_epochs"] = 20 if quick else 150
    return dict(params, dynamics=dynamics)


def peak_ratio(model: EventIntensity, test_ev: pd.DataFrame, test_win: pd.DataFrame) -> float:
    """Mean rate just before each event over the mean rate half-way between events."""
    at, mid = [], []
    for sid, g in test_ev.groupby("id"):
        t = np.sort(g["time"].to_numpy())
        if len(t) < 3:
            continue
        halfway = (t[1:] + t[:-1]) / 2
        one = test_ev[test_ev["id"] == sid]
        w = test_win[test_win["id"] == sid]
        # events after the first: the state has seen at least one event
        r_at = model.intensity(one, t[1:] - 1e-6, window=w, n_samples=2)["intensity"]
        r_mid = model.intensity(one, halfway, window=w, n_samples=2)["intensity"]
        at.append(r_at.to_numpy())
        mid.append(r_mid.to_numpy())
    return float(np.concatenate(at).mean() / np.concatenate(mid).mean())


def run(name: str, quick: bool, n_score: int) -> dict:
    d = load(name, quick)
    train = window_tuples(d["train_ev"], d["train_win"])
    test = window_tuples(d["test_ev"], d["test_win"])
    row: dict = {
        "data": name,
        "windows (train/test)": f"{len(d['train_win'])}/{len(d['test_win'])}",
        "test events": int(len(d["test_ev"])),
        "homogeneous": poisson_loglik(train, test),
        "histogram": histogram_loglik(train, test, d["n_bins"], relative=d["relative"]),
    }
    models = {}
    for dynamics in ("jump", "latent"):
        params = model_params(name, dynamics, quick)
        model = EventIntensity(seed=0, verbose=False, time_dependent=d["time_dependent"], **params)
        started = time.perf_counter()
        model.fit(d["train_ev"], window=d["train_win"])
        row[f"{dynamics} fit s"] = time.perf_counter() - started
        row[f"{dynamics} epochs"] = model.n_epochs_
        row[dynamics] = model.score(d["test_ev"], window=d["test_win"], n_samples=n_score)
        if name == "spikes":
            row[f"{dynamics} peak ratio"] = peak_ratio(model, d["test_ev"], d["test_win"])
        models[dynamics] = model
    row["jump - best baseline"] = row["jump"] - max(row["homogeneous"], row["histogram"])
    row["latent - best baseline"] = row["latent"] - max(row["homogeneous"], row["histogram"])
    if name == "spikes":
        plot_spikes(models, d["test_ev"], d["test_win"], ROOT / "results" / "event_spikes.png")
    return row


def plot_spikes(models: dict, test_ev: pd.DataFrame, test_win: pd.DataFrame, path: Path) -> None:
    ids = list(test_win["id"])[:2]
    fig, axes = plt.subplots(len(ids), 1, figsize=(9, 2.6 * len(ids)), squeeze=False)
    grid = np.linspace(0.0, 10.0, 600)
    for ax, sid in zip(axes[:, 0], ids, strict=True):
        one, w = test_ev[test_ev["id"] == sid], test_win[test_win["id"] == sid]
        for (dyn, model), style in zip(models.items(), ("-", "--"), strict=True):
            rate = model.intensity(one, grid, window=w, n_samples=50)["intensity"]
            ax.plot(grid, rate, style, label=f"dynamics={dyn!r}")
        ax.plot(one["time"], np.zeros(len(one)), "|", color="k", markersize=14, label="events")
        ax.set_ylabel(f"λ(t), sequence {sid}")
    axes[0, 0].legend(fontsize="small", loc="upper right", ncol=3)
    axes[-1, 0].set_xlabel("time")
    axes[0, 0].set_title("Fitted rate on held-out spike trains (each model sees the events)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data", default="spikes,geyser,coal")
    parser.add_argument("--n-score", type=int, default=200, help="IWAE samples of the latent score")
    parser.add_argument("--out", default=str(ROOT / "results" / "event_structure.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    (ROOT / "results").mkdir(exist_ok=True)
    rows = []
    for name in args.data.split(","):
        rows.append(run(name, args.quick, args.n_score))
        print(pd.DataFrame(rows[-1:]).T.to_string(header=False, float_format="{:.3f}".format))
        Path(args.out).write_text(json.dumps({"quick": args.quick, "rows": rows}, indent=2))
    print("\nheld-out log-likelihood per event (higher is better)\n")
    print(markdown(rows))


def markdown(rows: list[dict]) -> str:
    cols = list(dict.fromkeys(k for r in rows for k in r))

    def fmt(v) -> str:
        return "" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
