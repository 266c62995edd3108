import subprocess
import sys

import pandas as pd

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
