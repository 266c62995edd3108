"""The ``fit``, ``predict`` and ``plot`` commands (heavy imports happen inside them)."""

from __future__ import annotations

import argparse

from .io import read_frame, write_frame

__all__ = ["cmd_fit", "cmd_predict", "cmd_plot"]


def _floats(text: str | None) -> list[float] | None:
    if text is None or text == "":
        return None
    return [float(x) for x in text.split(",")]


def cmd_fit(args: argparse.Namespace) -> None:
    from ..estimators import LatentODE

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


def cmd_predict(args: argparse.Namespace) -> None:
    import pandas as pd

    from ..estimators import LatentODE

    model = LatentODE.load(args.model)
    df = read_frame(args.data, model.time_col_)
    quantiles = _floats(args.quantiles) or ()
    common = dict(quantiles=quantiles, n_samples=args.n_samples)
    if args.horizon is not None:
        horizon = args.horizon
        try:
            horizon = float(horizon)
        except ValueError:
            pass
        out = model.extrapolate(df, horizon=horizon, n_points=args.n_points, **common)
    elif args.times_file:
        out = model.predict(df, times=read_frame(args.times_file, model.time_col_), **common)
    elif args.times:
        times = (
            _floats(args.times)
            if model.codec_.kind == "numeric"
            else pd.to_datetime(args.times.split(","), format="ISO8601")
        )
        out = model.predict(df, times=times, **common)
    else:
        out = model.interpolate(df, **common)
    write_frame(out, args.out)
    print(f"wrote {len(out)} rows to {args.out}")


def cmd_plot(args: argparse.Namespace) -> None:
    from ..estimators import LatentODE

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
