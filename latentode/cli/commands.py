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


#: ``fit`` flags that set a LatentODE parameter of the same name
ESTIMATOR_FLAGS = (
    "max_epochs",
    "latent_dim",
    "hidden_dim",
    "units",
    "encoder",
    "lr",
    "batch_size",
    "patience",
    "val_size",
    "obs_std",
    "solver",
    "duplicates",
    "seed",
    "accelerator",
    "devices",
)
#: keys a config file may hold besides the estimator's parameters (``fit`` arguments)
FIT_KEYS = ("id_col", "time_col", "target_cols", "static_cols", "input_cols", "checkpoint_dir")


def read_config(path: str, allowed: set[str]) -> dict:
    """A JSON or YAML mapping of LatentODE parameters and ``fit`` arguments (``-`` or
    ``_`` in names); a ValueError naming the file and any unknown key."""
    import json

    try:
        text = open(path).read()
    except OSError as err:
        raise ValueError(f"--config {path}: cannot be read ({err.strerror or err}).") from None
    try:
        if path.lower().endswith((".yaml", ".yml")):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as err:  # noqa: BLE001 - any parse error of the user's file
        raise ValueError(f"--config {path}: not valid JSON/YAML ({err}).") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(f"--config {path}: expected a mapping of parameter names to values.")
    data = {str(k).replace("-", "_"): v for k, v in data.items()}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(
            f"--config {path}: unknown key(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(sorted(allowed))}."
        )
    return data


def _devices(value: str | None):
    if value is None or value == "auto":
        return value
    if value.isdigit():
        return int(value)
    try:
        return [int(v) for v in value.split(",")]
    except ValueError:
        raise ValueError(f"--devices: {value!r} is not auto, a count or a list.") from None


def cmd_fit(args: argparse.Namespace) -> None:
    from ..estimators import LatentODE
    from ..estimators.persistence import check_save_path

    check_save_path(args.out)  # before training, not after
    names = set(LatentODE._get_param_names())
    config = read_config(args.config, names | set(FIT_KEYS)) if args.config else {}
    flags = {
        k: getattr(args, k)
        for k in (*ESTIMATOR_FLAGS, *FIT_KEYS)
        if getattr(args, k, None) is not None
    }
    if "devices" in flags:
        flags["devices"] = _devices(flags["devices"])
    for key in ("target_cols", "static_cols"):
        if isinstance(flags.get(key), str):
            flags[key] = flags[key].split(",")
    kinds = {"held": args.held_cols, "impulse": args.impulse_cols}
    if any(kinds.values()):
        flags["input_cols"] = {c: k for k, cols in kinds.items() if cols for c in cols.split(",")}
    settings = {**config, **flags}
    if isinstance(settings.get("solver"), dict):
        from ..estimators.params import solver_from_dict

        settings["solver"] = solver_from_dict(settings["solver"])
    if args.quiet:
        settings["verbose"] = False
    fit_args = {k: settings.pop(k) for k in FIT_KEYS if k in settings}
    fit_args.setdefault("id_col", "id")
    fit_args.setdefault("time_col", "time")
    df = read_frame(args.data, fit_args["time_col"])
    model = LatentODE(**settings)
    model.fit(df, **fit_args)
    model.save(args.out)
    print(f"fitted on {model.n_series_} series ({model.n_epochs_} epochs); saved to {args.out}")


def cmd_predict(args: argparse.Namespace) -> None:
    from ..estimators import LatentODE

    model = LatentODE.load(args.model)
    df = read_frame(args.data, model.time_col_)
    quantiles = _floats(args.quantiles) or ()
    common = dict(quantiles=quantiles, n_samples=args.n_samples)
    if args.horizon is not None:
        horizon = _number_or_text(args.horizon)
        out = model.extrapolate(df, horizon=horizon, n_points=args.n_points, **common)
    elif args.times_file:
        out = model.predict(df, times=read_frame(args.times_file, model.time_col_), **common)
    elif args.times:
        out = model.predict(df, times=_times(args.times, model.codec_.kind), **common)
    else:
        out = model.interpolate(df, **common)
    write_frame(out, args.out)
    print(f"wrote {len(out)} rows to {args.out}")


def _number_or_text(value: str | None) -> float | str | None:
    """A duration flag: a number of time units, or text such as ``"7D"``."""
    try:
        return None if value is None else float(value)
    except ValueError:
        return value


def cmd_evaluate(args: argparse.Namespace) -> None:
    import pandas as pd

    from ..estimators import EventIntensity, LatentODE
    from ..estimators.persistence import saved_estimator

    if saved_estimator(args.model) == "EventIntensity":
        if args.task == "interpolate" or args.horizon is not None:
            raise ValueError(
                "an EventIntensity model is evaluated by forecasting each sequence's events "
                "after --fraction of its window (use --task extrapolate, no --horizon)."
            )
        events = EventIntensity.load(args.model)
        df = read_frame(args.data, events.time_col_)
        table = events.evaluate(
            df, fraction=args.fraction, baselines=not args.no_baselines, n_samples=args.n_samples
        )
    else:
        model = LatentODE.load(args.model)
        df = read_frame(args.data, model.time_col_)
        table = model.evaluate(
            df,
            task=args.task or "interpolate",
            fraction=args.fraction,
            horizon=_number_or_text(args.horizon),
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
