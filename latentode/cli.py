"""Command line: ``latentode demo | fit | predict | plot``.

``fit``, ``predict`` and ``plot`` read CSV or Parquet long frames (one row per series id
and time, one column per target, empty = not observed); a text time column is parsed as
datetimes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["main", "run_demo"]


def _naive_frame(context: pd.DataFrame, query: pd.DataFrame, kind: str) -> np.ndarray:
    """Per-series linear interpolation or last value of ``context`` at ``query`` rows."""
    out = np.empty(len(query))
    for sid, q in query.groupby("id", sort=False):
        c = context[context["id"] == sid].sort_values("time")
        t, v = c["time"].to_numpy(), c["value"].to_numpy()
        if kind == "linear":
            vals = np.interp(q["time"].to_numpy(), t, v)
        else:
            idx = np.clip(np.searchsorted(t, q["time"].to_numpy(), side="right") - 1, 0, None)
            vals = v[idx]
        out[query.index.get_indexer(q.index)] = vals
    return out


def run_demo(
    *,
    n_series: int = 400,
    observed: float = 0.1,
    max_epochs: int = 40,
    seed: int = 0,
    progress: bool = True,
    threads: int = 1,
    plot: str | None = "latentode-demo.png",
) -> dict:
    """Fit :class:`~latentode.LatentODE` on the periodic set through the DataFrame API.

    The set is the periodic toy of the paper on a 2-unit window (50 points per series,
    1-2 cycles). Held-out series are scored for interpolation (the model sees a random
    ``observed`` fraction of each series' rows and predicts every row) and extrapolation
    (it sees the first half of each series' span and predicts the rest), next to
    per-series linear interpolation and last value carried forward. Returns the figures.
    """
    import torch

    from .datasets import periodic
    from .estimators import LatentODE

    torch.set_num_threads(threads)
    df = periodic(n_series, 50, 2.0, seed=seed)
    n_train = int(0.8 * n_series)
    train, test = df[df["id"] < n_train], df[df["id"] >= n_train].reset_index(drop=True)
    model = LatentODE(
        latent_dim=6,
        lr=0.03,
        kl_delay=5,
        kl_rate=0.95,
        max_epochs=max_epochs,
        min_observed=observed,
        patience=15,
        seed=seed,
        verbose=progress,
    )
    start = time.perf_counter()
    model.fit(train)
    seconds = time.perf_counter() - start
    rng = np.random.default_rng(seed + 1)
    keep = test.groupby("id")["time"].transform(lambda t: rng.random(len(t)) < observed)
    first = test.groupby("id")["time"].transform("min") == test["time"]
    context_i = test[keep | first]
    half = test["time"] <= 1.0
    tasks = {
        "interpolation": (context_i, test),
        "extrapolation": (test[half], test[~half].reset_index(drop=True)),
    }
    results: dict = {
        "train_seconds": round(seconds, 1),
        "epochs": model.n_epochs_,
        "n_train_series": n_train,
        "n_test_series": n_series - n_train,
    }
    for task, (context, query) in tasks.items():
        times = {sid: g["time"].to_numpy() for sid, g in query.groupby("id")}
        pred = model.predict(context, times=times, quantiles=(0.05, 0.95), n_samples=50)
        truth = query.sort_values(["id", "time"])["value"].to_numpy()
        inside = (pred["value_q0.05"].to_numpy() <= truth) & (truth <= pred["value_q0.95"])
        q_sorted = query.sort_values(["id", "time"]).reset_index(drop=True)
        results[task] = {
            "latent_ode": float(np.mean((pred["value"].to_numpy() - truth) ** 2)),
            "linear_interpolation": float(
                np.mean((_naive_frame(context, q_sorted, "linear") - truth) ** 2)
            ),
            "last_value": float(np.mean((_naive_frame(context, q_sorted, "last") - truth) ** 2)),
            "coverage_90": float(np.mean(inside)),
        }
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        fig = model.plot(context_i, ids=sorted(context_i["id"].unique())[:4])
        fig.savefig(plot, dpi=110)
        results["plot"] = plot
    return results


def _print_demo(res: dict) -> None:
    print(
        f"\nLatent ODE on the periodic set: trained {res['train_seconds']} s "
        f"({res['epochs']} epochs) on {res['n_train_series']} series\n"
    )
    print(
        f"{'test MSE':<16}{'Latent ODE':>12}{'linear interp':>15}{'last value':>12}"
        f"{'90% band coverage':>20}"
    )
    for task in ("interpolation", "extrapolation"):
        r = res[task]
        print(
            f"{task:<16}{r['latent_ode']:>12.4f}{r['linear_interpolation']:>15.4f}"
            f"{r['last_value']:>12.4f}{r['coverage_90']:>20.2f}"
        )
    if res.get("plot"):
        print(f"\nplot of four test series with 90% bands: {res['plot']}")


def read_frame(path: str, time_col: str | None = None) -> pd.DataFrame:
    """CSV or Parquet by extension; a text ``time_col`` is parsed as datetimes."""
    from .frames import DataFrameError

    lower = path.lower()
    try:
        if lower.endswith((".parquet", ".pq")):
            df = pd.read_parquet(path)
        elif lower.endswith((".csv", ".csv.gz", ".txt")):
            df = pd.read_csv(path)
        else:
            raise DataFrameError(f"{path}: unknown file type; use a .csv or .parquet file.")
    except FileNotFoundError:
        raise DataFrameError(f"{path}: no such file.") from None
    if time_col is not None and time_col in df and df[time_col].dtype == object:
        try:
            df[time_col] = pd.to_datetime(df[time_col], format="ISO8601")
        except (ValueError, TypeError):
            raise DataFrameError(
                f"{path}: column {time_col!r} holds text that is not a date/time; write numbers "
                "or ISO 8601 datetimes."
            ) from None
    return df


def write_frame(df: pd.DataFrame, path: str) -> None:
    if path.lower().endswith((".parquet", ".pq")):
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False)


def _floats(text: str | None) -> list[float] | None:
    if text is None or text == "":
        return None
    return [float(x) for x in text.split(",")]


def _cmd_fit(args: argparse.Namespace) -> None:
    from .estimators import LatentODE

    df = read_frame(args.data, args.time_col)
    targets = args.target_cols.split(",") if args.target_cols else None
    model = LatentODE(
        latent_dim=args.latent_dim,
        encoder=args.encoder,
        max_epochs=args.max_epochs,
        seed=args.seed,
        verbose=not args.quiet,
        duplicates=args.duplicates,
    )
    model.fit(df, id_col=args.id_col, time_col=args.time_col, target_cols=targets)
    model.save(args.out)
    print(f"fitted on {model.n_series_} series ({model.n_epochs_} epochs); saved to {args.out}")


def _cmd_predict(args: argparse.Namespace) -> None:
    from .estimators import LatentODE

    model = LatentODE.load(args.model)
    df = read_frame(args.data, model.time_col_)
    quantiles = _floats(args.quantiles) or ()
    if args.horizon is not None:
        horizon = args.horizon
        try:
            horizon = float(horizon)
        except ValueError:
            pass
        out = model.extrapolate(
            df,
            horizon=horizon,
            n_points=args.n_points,
            quantiles=quantiles,
            n_samples=args.n_samples,
        )
    elif args.times_file:
        times = read_frame(args.times_file, model.time_col_)
        out = model.predict(df, times=times, quantiles=quantiles, n_samples=args.n_samples)
    elif args.times:
        times = (
            _floats(args.times)
            if model.codec_.kind == "numeric"
            else pd.to_datetime(args.times.split(","), format="ISO8601")
        )
        out = model.predict(df, times=times, quantiles=quantiles, n_samples=args.n_samples)
    else:
        out = model.interpolate(df, quantiles=quantiles, n_samples=args.n_samples)
    write_frame(out, args.out)
    print(f"wrote {len(out)} rows to {args.out}")


def _cmd_plot(args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from .estimators import LatentODE

    model = LatentODE.load(args.model)
    df = read_frame(args.data, model.time_col_)
    ids = None
    if args.ids:
        raw = args.ids.split(",")
        known = {str(i): i for i in df[model.id_col_].unique()}
        ids = [known.get(i, i) for i in raw]
    fig = model.plot(df, ids=ids, horizon=args.horizon)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


def main(argv: Sequence[str] | None = None) -> int:
    from .estimators import ModelFileError
    from .frames import DataFrameError

    parser = argparse.ArgumentParser(prog="latentode", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help="fit a LatentODE on a CSV/Parquet long frame")
    fit.add_argument("data")
    fit.add_argument("--id-col", default="id")
    fit.add_argument("--time-col", default="time")
    fit.add_argument("--target-cols", help="comma-separated; default: every numeric column")
    fit.add_argument("--out", required=True, help="model directory to write")
    fit.add_argument("--max-epochs", type=int, default=200)
    fit.add_argument("--latent-dim", type=int, default=16)
    fit.add_argument("--encoder", choices=("odernn", "rnn"), default="odernn")
    fit.add_argument("--duplicates", choices=("error", "mean"), default="error")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--quiet", action="store_true")
    fit.set_defaults(func=_cmd_fit)
    pred = sub.add_parser("predict", help="predict with a saved model")
    pred.add_argument("model")
    pred.add_argument("data", help="rows to condition on")
    pred.add_argument("--times", help="comma-separated times for every series")
    pred.add_argument("--times-file", help="CSV/Parquet with id and time columns")
    pred.add_argument("--horizon", help="extrapolate this far after each series' last row")
    pred.add_argument("--n-points", type=int, default=20)
    pred.add_argument("--quantiles", default="0.05,0.5,0.95")
    pred.add_argument("--n-samples", type=int, default=100)
    pred.add_argument("--out", required=True)
    pred.set_defaults(func=_cmd_predict)
    plot = sub.add_parser("plot", help="plot observed points, posterior mean and bands")
    plot.add_argument("model")
    plot.add_argument("data")
    plot.add_argument("--ids", help="comma-separated series ids (default: first four)")
    plot.add_argument("--horizon", type=float)
    plot.add_argument("--out", required=True)
    plot.set_defaults(func=_cmd_plot)
    demo = sub.add_parser("demo", help="train a Latent ODE on the built-in periodic set")
    demo.add_argument("--n-series", type=int, default=400)
    demo.add_argument(
        "--observed",
        type=float,
        default=0.1,
        help="fraction of rows the model sees when interpolating",
    )
    demo.add_argument("--max-epochs", type=int, default=40)
    demo.add_argument("--plot", default="latentode-demo.png", help="PNG path ('' for none)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--threads", type=int, default=1)
    demo.add_argument("--json", help="also write the figures to this JSON file")
    demo.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "demo":
        res = run_demo(
            n_series=args.n_series,
            observed=args.observed,
            max_epochs=args.max_epochs,
            seed=args.seed,
            progress=not args.no_progress,
            threads=args.threads,
            plot=args.plot or None,
        )
        _print_demo(res)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(res, f, indent=2)
        return 0
    try:
        args.func(args)
    except (DataFrameError, ModelFileError, ValueError) as err:
        print(f"latentode {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
