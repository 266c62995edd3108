import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from latentode.cli import main
from latentode.datasets import periodic


def test_fit_predict_plot_round_trip(tmp_path, capsys):
    df = periodic(12, 15, seed=0)
    data = tmp_path / "data.csv"
    df.to_csv(data, index=False)
    model_dir = tmp_path / "model"
    assert (
        main(
            [
                "fit",
                str(data),
                "--out",
                str(model_dir),
                "--max-epochs",
                "1",
                "--quiet",
                "--latent-dim",
                "3",
            ]
        )
        == 0
    )
    assert (model_dir / "config.json").exists()
    pred = tmp_path / "pred.parquet"
    assert (
        main(
            [
                "predict",
                str(model_dir),
                str(data),
                "--times",
                "0.5,1.5",
                "--out",
                str(pred),
                "--n-samples",
                "5",
            ]
        )
        == 0
    )
    out = pd.read_parquet(pred)
    assert len(out) == 24 and "value_q0.95" in out
    ext = tmp_path / "ext.csv"
    assert (
        main(
            [
                "predict",
                str(model_dir),
                str(data),
                "--horizon",
                "1.0",
                "--n-points",
                "2",
                "--out",
                str(ext),
            ]
        )
        == 0
    )
    assert len(pd.read_csv(ext)) == 24
    fig = tmp_path / "fig.png"
    assert main(["plot", str(model_dir), str(data), "--ids", "0,1", "--out", str(fig)]) == 0
    assert fig.stat().st_size > 1000


def test_errors_are_one_line_not_a_trace(tmp_path):
    df = periodic(6, 5, seed=0)
    data = tmp_path / "data.csv"
    df.to_csv(data, index=False)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "latentode.cli",
            "fit",
            str(data),
            "--id-col",
            "patient",
            "--out",
            str(tmp_path / "m"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "patient" in proc.stderr and "Traceback" not in proc.stderr


def test_help_loads_neither_torch_nor_lightning():
    code = (
        "import sys\n"
        "from latentode.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'torch', 'lightning', 'pandas', 'sklearn', 'matplotlib'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_run_demo_leaves_threads_and_backend_alone(tmp_path):
    import matplotlib
    import torch

    from latentode.cli import run_demo

    threads, backend = torch.get_num_threads(), matplotlib.get_backend()
    other = 1 if threads != 1 else 2  # a count the run must undo
    res = run_demo(
        n_series=20, max_epochs=2, progress=False, threads=other, plot=str(tmp_path / "d.png")
    )
    assert (tmp_path / "d.png").stat().st_size > 1000 and res["epochs"] >= 0
    assert torch.get_num_threads() == threads
    assert matplotlib.get_backend() == backend
    res = run_demo(n_series=20, max_epochs=2, progress=False, plot=None)
    assert "plot" not in res and torch.get_num_threads() == threads
    assert matplotlib.get_backend() == backend


def test_module_help_and_naive_without_lightning():
    proc = subprocess.run(
        [sys.executable, "-m", "latentode.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and "demo" in proc.stdout
    code = "import sys, latentode.naive; print('lightning' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_naive_fills_match_independent_computations():
    import numpy as np

    from latentode.data import Series, collate
    from latentode.naive import (
        last_value,
        last_value_fill,
        linear_fill,
        linear_interpolation,
        naive_frame,
    )

    rng = np.random.default_rng(0)
    t_obs = np.sort(rng.uniform(0, 10, 7))
    v_obs = rng.normal(size=7)
    tq = np.linspace(-1, 11, 40)
    manual_last = []
    for t in tq:  # a hand loop: the latest observation at or before t, else the first
        before = [v for s, v in zip(t_obs, v_obs, strict=True) if s <= t]
        manual_last.append(before[-1] if before else v_obs[0])
    assert np.allclose(last_value_fill(t_obs, v_obs, tq), manual_last)
    inside = (tq >= t_obs[0]) & (tq <= t_obs[-1])
    for t, got in zip(tq[inside], linear_fill(t_obs, v_obs, tq)[inside], strict=True):
        j = np.searchsorted(t_obs, t, side="right") - 1
        j = min(j, len(t_obs) - 2)
        w = (t - t_obs[j]) / (t_obs[j + 1] - t_obs[j])
        assert np.isclose(got, (1 - w) * v_obs[j] + w * v_obs[j + 1])
    outside = linear_fill(t_obs, v_obs, tq)[~inside]  # held flat beyond the observations
    assert np.array_equal(outside, np.where(tq[~inside] < t_obs[0], v_obs[0], v_obs[-1]))
    # frames and batches: the same numbers
    series, rows_c, rows_q = [], [], []
    for i in range(3):
        t = np.sort(rng.uniform(0, 5, 12))
        v = np.sin(t + i)
        seen = rng.random(12) < 0.5
        seen[0] = True
        series.append(Series(times=t, values=np.where(seen, v, np.nan)[:, None], id=i))
        rows_c += [(i, a, b) for a, b, s in zip(t, v, seen, strict=True) if s]
        rows_q += [(i, a) for a in t]
    context = pd.DataFrame(rows_c, columns=["id", "time", "value"])
    query = pd.DataFrame(rows_q, columns=["id", "time"])
    batch = collate(series)
    for kind, fn in (("linear", linear_interpolation), ("last", last_value)):
        from_frame = naive_frame(context, query, kind)
        from_batch = np.concatenate([fn(batch)[b, :12, 0].double().numpy() for b in range(3)])
        assert np.allclose(from_frame, from_batch, atol=1e-6), kind


def _iso_csv(path):
    rows = [
        (i, f"2020-01-{d:02d}T{h:02d}:00:00", float(i + d))
        for i in (1, 2)
        for d, h in [(1, 0), (2, 6), (4, 12), (5, 0)]
    ]
    pd.DataFrame(rows, columns=["id", "time", "y"]).to_csv(path, index=False)


def test_iso_datetimes_in_csv_are_parsed_on_any_pandas(tmp_path):
    """pandas 3 reads text as the ``str`` dtype, not ``object``; both are parsed."""
    from latentode.cli.io import read_frame

    data = tmp_path / "iso.csv"
    _iso_csv(data)
    df = read_frame(str(data), "time")
    assert pd.api.types.is_datetime64_any_dtype(df["time"])
    text = pd.read_csv(data)
    text["time"] = text["time"].astype("string")  # the str/string dtype, explicitly
    text.to_parquet(tmp_path / "iso.parquet") if _has_parquet() else None
    if _has_parquet():
        assert pd.api.types.is_datetime64_any_dtype(
            read_frame(str(tmp_path / "iso.parquet"), "time")["time"]
        )
    model = _fit_tiny(data, tmp_path / "m")
    out = tmp_path / "p.csv"
    assert (
        main(
            [
                "predict",
                str(model),
                str(data),
                "--times",
                "2020-01-03T00:00,2020-01-06",
                "--out",
                str(out),
                "--n-samples",
                "3",
            ]
        )
        == 0
    )
    assert len(pd.read_csv(out)) == 4


def _fit_tiny(data, model):
    """``latentode fit`` of a one-epoch model on ``data``; the model directory."""
    args = ["fit", str(data), "--out", str(model), "--max-epochs", "1", "--quiet"]
    assert main([*args, "--latent-dim", "2"]) == 0
    return model


def _has_parquet():
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def _cli(*args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "latentode.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_bad_files_and_flags_are_one_line_errors_naming_them(tmp_path, capsys):
    data = tmp_path / "iso.csv"
    _iso_csv(data)
    (tmp_path / "quote.csv").write_text('id,time,y\n1,"2,3\n')
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "latin.csv").write_bytes(b"id,time,y\n1,0,\xff\xfe\n")
    (tmp_path / "data.xlsx").write_text("x")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("mine")
    model = _fit_tiny(data, tmp_path / "m")
    cases = [
        (["fit", tmp_path / "quote.csv", "--out", tmp_path / "x"], "quote.csv: not a readable CSV"),
        (["fit", tmp_path / "empty.csv", "--out", tmp_path / "x"], "empty.csv: the file is empty"),
        (["fit", tmp_path / "latin.csv", "--out", tmp_path / "x"], "latin.csv: not UTF-8"),
        (["fit", tmp_path / "data.xlsx", "--out", tmp_path / "x"], "unknown file type"),
        (["fit", tmp_path / "nothere.csv", "--out", tmp_path / "x"], "nothere.csv: no such file"),
        (["fit", data, "--out", tmp_path / "notes"], "is not a saved latentode model"),
        (["fit", data, "--out", tmp_path / "x", "--latent-dim", "0"], "--latent-dim: must be"),
        (["fit", data, "--out", tmp_path / "x", "--max-epochs", "1.5"], "--max-epochs: must be"),
        (["predict", model, data, "--out", tmp_path / "no" / "dir" / "p.csv"], "cannot be written"),
        (["predict", model, data, "--times", "soon", "--out", tmp_path / "p.csv"], "--times:"),
        (
            ["predict", model, data, "--quantiles", "lo,hi", "--out", tmp_path / "p.csv"],
            "--quantiles:",
        ),
        (
            ["predict", model, data, "--quantiles", "1.5", "--out", tmp_path / "p.csv"],
            "outside (0, 1)",
        ),
        (["predict", model, data, "--horizon", "-3", "--out", tmp_path / "p.csv"], "horizon"),
        (
            ["predict", tmp_path / "notes", data, "--out", tmp_path / "p.csv"],
            "not a saved latentode model",
        ),
        (["demo", "--threads", "0"], "--threads: must be"),
        (["demo", "--observed", "2"], "--observed: must be"),
    ]
    capsys.readouterr()
    for args, needle in cases:  # in process: no exception may escape main
        try:
            rc = main([str(a) for a in args])
        except SystemExit as stop:  # argparse's usage errors
            rc = stop.code
        err = capsys.readouterr().err
        assert rc == 2, (args, err[-500:])
        assert needle in err, (args, err[-500:])
    proc = _cli(*cases[0][0])  # and as a process: one line, no traceback
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert (tmp_path / "notes" / "a.txt").read_text() == "mine"


def test_ctrl_c_exits_130_with_one_line(tmp_path):
    import signal
    import time

    df = periodic(40, 20, seed=0)
    data = tmp_path / "data.csv"
    df.to_csv(data, index=False)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "latentode.cli",
            "fit",
            str(data),
            "--out",
            str(tmp_path / "m"),
            "--max-epochs",
            "100000",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a shell's background job ignores SIGINT, and Python then never raises it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(8)
    # Ctrl-C again while it runs on (once, in a full test run, the first signal went
    # unanswered and the fit ran to early stopping; a user presses again)
    for _ in range(4):
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=10)
            break
        except subprocess.TimeoutExpired:
            continue
    else:
        proc.kill()
        out, err = proc.communicate()
    assert proc.returncode == 130, (out[-1000:], err[-2000:])
    assert "interrupted" in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()


def test_evaluate_prints_the_table_and_writes_it(tmp_path, capsys):
    df = periodic(12, 10, irregular=True, seed=0)
    data = tmp_path / "data.csv"
    df.to_csv(data, index=False)
    model = tmp_path / "m"
    assert main(["fit", str(data), "--out", str(model), "--max-epochs", "1", "--quiet"]) == 0
    out = tmp_path / "table.csv"
    args = ["evaluate", str(model), str(data), "--task", "extrapolate", "--n-samples", "5"]
    assert main([*args, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(out)
    assert list(table["method"]) == [
        "LatentODE",
        "linear",
        "linear trend",
        "last",
        "mean curve + offset",
    ]
    assert all(m in printed for m in table["method"]) and "coverage" in printed


def test_fit_reads_a_config_file_and_flags_override_it(tmp_path, capsys):
    import json

    from latentode import LatentODE

    df = periodic(10, 8, seed=0)
    data = tmp_path / "data.csv"
    df.to_csv(data, index=False)
    config = tmp_path / "fit.yaml"
    config.write_text(
        "latent-dim: 3\nmax_epochs: 5\nlr: 0.02\nsolver: {method: rk4, grid_step: 0.05}\n"
        "val_size: 0.0\n"
    )
    model = tmp_path / "m"
    args = ["fit", str(data), "--out", str(model), "--config", str(config), "--quiet"]
    assert main([*args, "--max-epochs", "1", "--batch-size", "4"]) == 0
    params = json.loads((model / "config.json").read_text())["params"]
    assert params["latent_dim"] == 3 and params["lr"] == 0.02  # from the file
    assert params["max_epochs"] == 1 and params["batch_size"] == 4  # the flags win
    assert params["solver"]["__solver_config__"]["grid_step"] == 0.05
    assert params["units"] == LatentODE().units  # unset: the estimator's default
    bad = tmp_path / "bad.json"
    bad.write_text('{"colour": "red"}')
    capsys.readouterr()
    assert main(["fit", str(data), "--out", str(tmp_path / "x"), "--config", str(bad)]) == 2
    assert "unknown key(s) colour" in capsys.readouterr().err


def test_fit_flags_have_help_text():
    from latentode.cli.main import build_parser

    fit = build_parser()._subparsers._group_actions[0].choices["fit"]
    flags = {a.dest: a for a in fit._actions if a.option_strings}
    for name in ("lr", "batch_size", "patience", "val_size", "threads", "accelerator", "config"):
        assert flags[name].help, name


# ------------------------------------------------------------------ latentode train
def test_train_runs_lightningcli_from_a_config_file(tmp_path, capsys):
    pytest.importorskip("jsonargparse")
    config = tmp_path / "experiment.yaml"
    config.write_text(
        "model:\n  latent_dim: 3\n  units: 16\n  hidden_dim: 6\n  enc_units: 16\n"
        "data:\n  data: spiral\n  n_series: 24\n  batch_size: 8\n"
        f"trainer:\n  max_epochs: 2\n  enable_progress_bar: false\n"
        f"  default_root_dir: {tmp_path}\n  logger: false\n"
    )
    argv = ["train", "--config", str(config), "--trainer.max_epochs", "1"]
    assert main([*argv, "--model.training.lr", "0.02"]) == 0
    printed = capsys.readouterr().out
    assert "val_loss:" in printed and "train_loss:" in printed
    ckpts = list(tmp_path.rglob("*.ckpt"))
    assert ckpts  # Lightning's checkpoint of the run
    import torch

    state = torch.load(ckpts[0], map_location="cpu", weights_only=True)
    assert state["epoch"] == 0  # the flag overrode the file's max_epochs
    hp = state["hyper_parameters"]
    assert hp["input_dim"] == 2 and hp["latent_dim"] == 3  # input_dim linked to the data
    # a training flag overrides that field alone: the encoder keeps its optimiser
    training = hp["training"]
    assert (training["lr"], training["optimizer"], training["beta2"]) == (0.02, "adam", 0.9)


def test_train_names_an_unknown_training_field(capsys):
    pytest.importorskip("jsonargparse")
    argv = ["train", "--model.training.learning_rate", "0.1", "--data.data", "spiral"]
    assert main([*argv, "--data.n_series", "24", "--trainer.fast_dev_run", "true"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("latentode train: error: unknown training fields ['learning_rate']")


def test_train_print_config_lists_model_and_data_options(capsys):
    pytest.importorskip("jsonargparse")
    with pytest.raises(SystemExit) as stop:
        main(["train", "--print_config"])
    assert stop.value.code == 0
    printed = capsys.readouterr().out
    for key in ("encoder: odernn", "units: 100", "data: periodic", "extrapolate_prob: 0.3"):
        assert key in printed


def test_train_names_an_unknown_data_set(capsys):
    pytest.importorskip("jsonargparse")
    code = main(["train", "--data.data", "nonesuch", "--trainer.max_epochs", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "data='nonesuch' is neither a file nor a data set" in err


def test_fit_takes_covariate_columns_and_later_commands_read_them(tmp_path, capsys):
    from latentode.estimators import LatentODE

    rng = np.random.default_rng(0)
    rows = [
        {"id": i, "time": t, "conc": float(np.exp(-t) + rng.normal(0, 0.05)),
         "dose": 1.0 if t == 0 else np.nan, "group": "ab"[i % 2]}
        for i in range(8) for t in np.arange(0, 4.0, 0.5)
    ]  # fmt: skip
    data = tmp_path / "pk.csv"
    pd.DataFrame(rows).to_csv(data, index=False)
    model = tmp_path / "model"
    args = ["fit", str(data), "--out", str(model), "--max-epochs", "1", "--quiet"]
    assert main([*args, "--static-cols", "group", "--impulse-cols", "dose"]) == 0
    fitted = LatentODE.load(model)
    assert fitted.target_cols_ == ["conc"]
    assert fitted.covariates_.static_cols == ["group"]
    assert fitted.covariates_.input_cols == {"dose": "impulse"}
    out = tmp_path / "pred.csv"
    assert main(["predict", str(model), str(data), "--out", str(out)]) == 0
    assert len(pd.read_csv(out)) == len(rows)
    pd.DataFrame(rows).drop(columns="dose").to_csv(data, index=False)
    assert main(["predict", str(model), str(data), "--out", str(out)]) == 2
    assert "'dose' not found" in capsys.readouterr().err


def test_evaluate_scores_a_saved_event_model(tmp_path, capsys):
    import warnings

    from latentode import EventIntensity
    from latentode.datasets import spike_trains

    events = spike_trains(12, 10.0, seed=0)
    model = EventIntensity(latent_dim=3, units=16, max_epochs=1, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(events)
    model.save(tmp_path / "events")
    data = tmp_path / "events.csv"
    events.to_csv(data, index=False)
    out = tmp_path / "table.csv"
    args = ["evaluate", str(tmp_path / "events"), str(data), "--fraction", "0.6"]
    assert main([*args, "--out", str(out)]) == 0
    table = pd.read_csv(out)
    direct = model.evaluate(events, fraction=0.6)
    assert list(table["method"]) == list(direct["method"])
    assert np.allclose(table["loglik"], direct["loglik"], rtol=1e-6)
    assert main([*args, "--task", "interpolate"]) == 2
    assert "evaluated by forecasting" in capsys.readouterr().err
