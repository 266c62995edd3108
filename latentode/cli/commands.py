"""The ``fit``, ``predict`` and ``plot`` commands (heavy imports happen inside them)."""

from __future__ import annotations

import argparse

from .io import read_frame, write_frame

__all__ = ["cmd_fit", "cmd_predict", "cmd_evaluate", "cmd_plot"]


def _floats(text: str | None, flag: str = "--quantiles") -> list[float] | None:
    if text is None or text == "":
        return None
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise ValueError(f"{flag}: {text!r} is not a comma-separated list of numbers.") from None


def _times(text: str, kind: str) -> list:
    """``--times``: numbers, or ISO 8601 datetimes for a model fitted on datetimes."""
    import pandas as pd

    if kind == "numeric":
        return _floats(text, "--times")
    try:
        return list(pd.to_datetime(text.split(","), format="ISO8601"))
    except (ValueError, TypeError):
        raise ValueError(
            f"--times: {text!r} is not a comma-separated list of ISO 8601 datetimes "
            "(the model was fitted on datetimes), e.g. 2020-01-01T06:00,2020-01-02."
        ) from None


def cmd_fit(args: argparse.Namespace) -> None:
    from ..estimators import LatentODE
    from ..estimators.persistence import check_save_path

    check_save_path(args.out)  # before training, not after
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
        out = model.predict(df, times=_times(args.times, model.codec_.kind), **common)
    else:
        out = model.interpolate(df, **common)
    write_frame(out, args.out)
    print(f"wrote {len(out)} rows to {args.out}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    import pandas as pd

    from ..estimators import LatentODE

    model = LatentODE.load(args.model)
    df = read_frame(args.data, model.time_col_)
    horizon = args.horizon
    if horizon is not None:
        try:
            horizon = float(horizon)
        except ValueError:
            pass
    table = model.evaluate(
        df,
        task=args.task,
        fraction=args.fraction,
        horizon=horizon,
        baselines=not args.no_baselines,
        n_samples=args.n_samples,
        seed=args.seed,
    )
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        print(table.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    if args.out:
        write_frame(table, args.out)


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
