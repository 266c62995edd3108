"""Command line: ``latentode demo | fit | predict | evaluate | plot | train``.

``fit``, ``predict`` and ``plot`` read CSV or Parquet long frames (one row per series id
and time, one column per target, empty = not observed); a text time column is parsed as
datetimes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .commands import cmd_evaluate, cmd_fit, cmd_plot, cmd_predict
from .demo import print_demo, run_demo

__all__ = ["main", "build_parser"]


def _checked(kind: type, ok: Callable[[float], bool], what: str) -> Callable[[str], Any]:
    """An argparse ``type``: ``kind(text)`` if ``ok`` holds, else an error saying ``what``."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    return parse


_positive = _checked(int, lambda v: v >= 1, "a positive integer")
_positive_float = _checked(float, lambda v: v > 0, "a positive number")
_fraction = _checked(float, lambda v: 0 < v <= 1, "a number in (0, 1]")
_open_fraction = _checked(float, lambda v: 0 < v < 1, "a number in (0, 1)")
_share = _checked(float, lambda v: 0 <= v < 1, "a number in [0, 1)")


def _add_fit(sub: argparse._SubParsersAction) -> None:
    fit = sub.add_parser(
        "fit",
        help="fit a LatentODE on a CSV/Parquet long frame",
        description="Fit a LatentODE. Estimator parameters come from --config (JSON or "
        "YAML, any LatentODE parameter), then from the flags below, which override it; "
        "anything unset keeps the estimator's default.",
    )
    fit.add_argument("data", help="CSV/Parquet long frame: one row per (id, time)")
    fit.add_argument("--out", required=True, help="model directory to write")
    fit.add_argument("--config", help="JSON or YAML file of LatentODE parameters")
    fit.add_argument("--id-col", help="series id column (default: id)")
    fit.add_argument("--time-col", help="time column (default: time)")
    fit.add_argument("--target-cols", help="comma-separated; default: every numeric column")
    fit.add_argument(
        "--static-cols", help="comma-separated per-series constants that condition the model"
    )
    fit.add_argument(
        "--held-cols", help="comma-separated known inputs, each held until its next value"
    )
    fit.add_argument(
        "--impulse-cols", help="comma-separated known inputs delivered at their rows (doses)"
    )
    fit.add_argument("--max-epochs", type=_positive, help="most training epochs")
    fit.add_argument("--latent-dim", type=_positive, help="size of the latent state z")
    fit.add_argument("--hidden-dim", type=_positive, help="encoder state size")
    fit.add_argument("--units", type=_positive, help="hidden units of the MLPs")
    fit.add_argument("--encoder", choices=("odernn", "rnn", "mtan"), help="encoder kind")
    fit.add_argument("--lr", type=_positive_float, help="learning rate")
    fit.add_argument("--batch-size", type=_positive, help="series per training batch")
    fit.add_argument("--patience", type=_positive, help="early-stopping patience, epochs")
    fit.add_argument(
        "--val-size", type=_share, help="share of series held out for validation, [0, 1)"
    )
    fit.add_argument("--obs-std", type=_positive_float, help="fixed observation std")
    fit.add_argument("--solver", help="decoder ODE solver, e.g. dopri5 or rk4")
    fit.add_argument("--duplicates", choices=("error", "mean"), help="repeated (id, time)")
    fit.add_argument("--seed", type=int, help="seed of initialisation and training")
    fit.add_argument("--accelerator", help="Lightning accelerator: auto, cpu, gpu, ...")
    fit.add_argument("--devices", help="Lightning devices: auto, a count or a list")
    fit.add_argument("--threads", type=_positive, help="torch CPU threads")
    fit.add_argument("--checkpoint-dir", help="checkpoint every epoch here; rerun to resume")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    fit.set_defaults(func=cmd_fit)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="latentode", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_fit(sub)
    pred = sub.add_parser("predict", help="predict with a saved model")
    pred.add_argument("model")
    pred.add_argument("data", help="rows to condition on")
    pred.add_argument("--times", help="comma-separated times for every series")
    pred.add_argument("--times-file", help="CSV/Parquet with id and time columns")
    pred.add_argument("--horizon", help="extrapolate this far after each series' last row")
    pred.add_argument("--n-points", type=_positive, default=20)
    pred.add_argument("--quantiles", default="0.05,0.5,0.95")
    pred.add_argument("--n-samples", type=_positive, default=100)
    pred.add_argument("--out", required=True)
    pred.set_defaults(func=cmd_predict)
    plot = sub.add_parser("plot", help="plot observed points, posterior mean and bands")
    plot.add_argument("model")
    plot.add_argument("data")
    plot.add_argument("--ids", help="comma-separated series ids (default: first four)")
    plot.add_argument("--horizon", type=float)
    plot.add_argument("--out", required=True)
    plot.set_defaults(func=cmd_plot)
    sub.add_parser(
        "train",
        help="config-driven Lightning experiment (LightningCLI: LatentODEModule and a data "
        "module); see latentode train --help",
        add_help=False,
    )
    ev = sub.add_parser("evaluate", help="score a saved model next to baselines on hidden points")
    ev.add_argument("model", help="model directory written by fit")
    ev.add_argument("data", help="CSV/Parquet long frame to evaluate on (held-out series)")
    ev.add_argument(
        "--task",
        choices=("interpolate", "extrapolate"),
        help="LatentODE: interpolate (default) or extrapolate; EventIntensity: extrapolate "
        "(forecast the events after --fraction of each window)",
    )
    ev.add_argument(
        "--fraction",
        type=_open_fraction,
        default=0.5,
        help="interpolate: share of observed cells hidden; extrapolate: share of each "
        "series' span seen",
    )
    ev.add_argument("--horizon", help="extrapolate: score each series' last HORIZON instead")
    ev.add_argument("--no-baselines", action="store_true", help="score the model only")
    ev.add_argument("--n-samples", type=_positive, default=100, help="posterior draws")
    ev.add_argument("--seed", type=int, default=0, help="seed of the hiding protocol")
    ev.add_argument("--out", help="also write the table to this CSV/Parquet file")
    ev.set_defaults(func=cmd_evaluate)
    demo = sub.add_parser("demo", help="train a Latent ODE on the built-in periodic set")
    demo.add_argument("--n-series", type=_positive, default=400)
    demo.add_argument(
        "--observed",
        type=_fraction,
        default=0.1,
        help="fraction of rows the model sees when interpolating",
    )
    demo.add_argument("--max-epochs", type=_positive, default=40)
    demo.add_argument("--plot", default="latentode-demo.png", help="PNG path ('' for none)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--threads", type=_positive, default=1)
    demo.add_argument("--json", help="also write the figures to this JSON file")
    demo.add_argument("--no-progress", action="store_true")
    return parser


def _setup_process(args: argparse.Namespace) -> None:
    """The command line's own process: one-line warnings, a file backend for plots, the
    thread count."""
    import warnings

    def one_line(message, category, filename, lineno, line=None) -> str:
        return f"latentode {args.command}: {category.__name__}: {message}\n"

    warnings.formatwarning = one_line
    if args.command in ("demo", "plot"):
        import matplotlib

        matplotlib.use("Agg")
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command: 0 on success, 2 with a one-line message on bad input or a failure
    the library explains, 130 on Ctrl-C."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:  # LightningCLI parses its own arguments
        return _train(argv[1:])
    args = build_parser().parse_args(argv)
    import warnings

    formatwarning = warnings.formatwarning  # restored: main() may run inside a program
    try:
        _setup_process(args)
        if args.command == "demo":
            _demo(args)
        else:
            args.func(args)
    except KeyboardInterrupt:
        print(f"latentode {args.command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as err:  # the library's errors are ValueErrors
        print(f"latentode {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    finally:
        warnings.formatwarning = formatwarning
    return 0


def _train(argv: list[str]) -> int:
    from .train import train_main

    try:
        return train_main(argv)
    except KeyboardInterrupt:
        print("latentode train: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as err:
        print(f"latentode train: error: {_one_line(err)}", file=sys.stderr)
        return 2


def _one_line(err: BaseException) -> str:
    if isinstance(err, OSError) and err.strerror:
        where = f"{err.filename}: " if err.filename else ""
        return f"{where}{err.strerror}"
    return str(err)


def _demo(args: argparse.Namespace) -> None:
    res = run_demo(
        n_series=args.n_series,
        observed=args.observed,
        max_epochs=args.max_epochs,
        seed=args.seed,
        progress=not args.no_progress,
        threads=args.threads,
        plot=args.plot or None,
    )
    print_demo(res)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
