"""Saved models checked whole (issue 12): the config's own checksum, its schema with the
field named, size limits before allocation, the format version, atomic saves."""

import json
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import pandas as pd
import pytest

from latentode import EventIntensity, LatentODE, ModelFileError
from latentode.datasets import periodic
from latentode.estimators.persistence import FORMAT_VERSION, _config_sha256


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    df = periodic(12, 10, irregular=True, seed=0, noise_std=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LatentODE(latent_dim=2, hidden_dim=4, units=8, max_epochs=1, verbose=False)
        model.fit(df)
    path = model.save(tmp_path_factory.mktemp("m") / "model")
    return path, df, json.loads((path / "config.json").read_text())


def _write(path, config, resign=True):
    """Write a modified config; ``resign`` recomputes its checksum (as a careful forger, or
    a newer writer, would), so the schema check has to find the problem."""
    target = path.parent / f"edited-{time.monotonic_ns()}"
    target.mkdir()
    (target / "weights.pt").write_bytes((path / "weights.pt").read_bytes())
    if resign:
        config = {**config, "config_sha256": _config_sha256(config)}
    (target / "config.json").write_text(json.dumps(config))
    return target


def test_saved_config_has_version_and_its_own_checksum(saved):
    path, df, config = saved
    assert config["format_version"] == FORMAT_VERSION
    assert config["config_sha256"] == _config_sha256(config)
    pd.testing.assert_frame_equal(
        LatentODE.load(path).predict(df), LatentODE.load(path).predict(df)
    )


def test_any_edit_of_the_config_fails_its_checksum(saved):
    path, _, config = saved
    edited = json.loads(json.dumps(config))
    edited["fitted"]["scaler"]["mean"][0] += 1e-9
    with pytest.raises(ModelFileError, match="its own checksum"):
        LatentODE.load(_write(path, edited, resign=False))


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda c: c["fitted"].pop("codec"), "fitted.codec is missing"),
        (lambda c: c["fitted"].pop("module_hparams"), "fitted.module_hparams is missing"),
        (lambda c: c["fitted"].__setitem__("n_series", "twelve"), "fitted.n_series must be"),
        (lambda c: c["fitted"].__setitem__("target_cols", "value"), "fitted.target_cols"),
        (lambda c: c["fitted"].__setitem__("noise_scale", True), "fitted.noise_scale"),
        (lambda c: c["params"].__setitem__("latent_dim", -1), "latent_dim"),
        (lambda c: c["params"].__setitem__("solver", "euler2"), "solver"),
        (lambda c: c["params"].__setitem__("colour", "red"), "params.colour"),
        (lambda c: c.__setitem__("params", []), "field params"),
        (lambda c: c["fitted"]["codec"].pop("origin"), "fitted state does not describe"),
        (lambda c: c["fitted"].__setitem__("noise_scale", -1.0), "noise_scale"),
        (lambda c: c["fitted"]["module_hparams"].__setitem__("units", 10**9), "units must be"),
        (lambda c: c["fitted"]["module_hparams"].__setitem__("latent_dim", 5e5), "latent_dim"),
        (lambda c: c["fitted"]["module_hparams"].__setitem__("depth", 10**6), "depth must be"),
        (lambda c: c["fitted"]["module_hparams"].__setitem__("colour", 1), "does not describe"),
        (lambda c: c.__setitem__("format_version", "2"), "format_version must be"),
        (lambda c: c.__setitem__("estimator", "EventIntensity"), "EventIntensity model"),
    ],
)
def test_a_damaged_config_names_the_field(saved, edit, field):
    path, _, config = saved
    edited = json.loads(json.dumps(config))
    edit(edited)
    start = time.perf_counter()
    with pytest.raises(ModelFileError, match=field):
        LatentODE.load(_write(path, edited))
    assert time.perf_counter() - start < 5  # refused before allocating anything big


def test_a_newer_format_says_to_upgrade(saved):
    path, _, config = saved
    with pytest.raises(ModelFileError, match=r"format 99.*Upgrade latentode"):
        LatentODE.load(_write(path, {**config, "format_version": 99}))


def test_save_refuses_a_folder_that_is_not_a_model_and_keeps_its_files(saved, tmp_path):
    path, _, _ = saved
    model = LatentODE.load(path)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ModelFileError, match="not a saved latentode model"):
        model.save(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelFileError):
        model.save(tmp_path / "file")


def test_save_replaces_an_earlier_model_and_leaves_no_temporary_folders(saved, tmp_path):
    path, df, _ = saved
    model = LatentODE.load(path)
    target = tmp_path / "m"
    model.save(target)
    model.save(target)  # over itself
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    assert sorted(p.name for p in target.iterdir()) == ["config.json", "weights.pt"]
    pd.testing.assert_frame_equal(LatentODE.load(target).predict(df), model.predict(df))


_KILLED_SAVE = """
import os, signal, sys, warnings
import torch
from latentode import LatentODE
from latentode.estimators import persistence
model = LatentODE.load(sys.argv[1])
real_save = torch.save

def save_then_die(obj, f):
    real_save(obj, f)
    with open(f, "r+b") as fh:  # half the file on disk, then the process dies
        fh.truncate(os.path.getsize(f) // 2)
    os.kill(os.getpid(), signal.SIGKILL)

persistence.torch.save = save_then_die
model.save(sys.argv[2])
"""


@pytest.mark.parametrize("earlier", [False, True])
def test_a_save_killed_midway_never_leaves_a_model_that_loads_half_written(
    saved, tmp_path, earlier
):
    path, df, _ = saved
    script = tmp_path / "save.py"
    script.write_text(textwrap.dedent(_KILLED_SAVE))
    target = tmp_path / "target"
    if earlier:
        LatentODE.load(path).save(target)
    run = subprocess.run(
        [sys.executable, str(script), str(path), str(target)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == -signal.SIGKILL, run.stderr[-2000:]
    if earlier:  # the earlier model is still there, whole
        pd.testing.assert_frame_equal(
            LatentODE.load(target).predict(df), LatentODE.load(path).predict(df)
        )
    else:
        assert not target.exists()
        with pytest.raises(ModelFileError, match="not a saved latentode model"):
            LatentODE.load(target)
    # the half-written temporary folder is beside it, hidden, and never a model
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".target.saving-")]
    assert len(leftovers) == 1
    with pytest.raises(ModelFileError):
        LatentODE.load(leftovers[0])


def test_event_model_files_are_checked_too(tmp_path):
    events = pd.DataFrame({"id": [0, 0, 0, 1, 1], "time": [0.5, 1.0, 2.5, 0.2, 3.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = EventIntensity(latent_dim=2, units=8, max_epochs=1, verbose=False)
        model.fit(events, window=(0.0, 4.0))
    path = model.save(tmp_path / "ev")
    config = json.loads((path / "config.json").read_text())
    config["fitted"]["marks"] = "all"
    with pytest.raises(ModelFileError, match="fitted.marks must be list"):
        EventIntensity.load(_write(path, config))
    with pytest.raises(ModelFileError, match="holds a EventIntensity model"):
        LatentODE.load(path)
