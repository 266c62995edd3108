"""The MuJoCo hopper generator (needs the ``hopper`` extra: dm-control, mujoco)."""

import importlib

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("dm_control")

# ``latentode.datasets.hopper`` is the function (re-exported); fetch the module itself.
hm = importlib.import_module("latentode.datasets.hopper")

N_SERIES, N_STEPS = 3, 20


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("hopper_cache")


@pytest.fixture(scope="module")
def frame(cache_dir):
    return hm.hopper(N_SERIES, N_STEPS, seed=0, cache_dir=cache_dir)


def test_shape_and_dtypes(frame):
    assert frame.shape == (N_SERIES * N_STEPS, 16)
    assert list(frame.columns) == ["id", "time", *hm.HOPPER_COLUMNS]
    assert pd.api.types.is_integer_dtype(frame["id"])
    for col in ["time", *hm.HOPPER_COLUMNS]:
        assert pd.api.types.is_float_dtype(frame[col]), col
    assert sorted(frame["id"].unique()) == list(range(N_SERIES))
    times = frame.loc[frame["id"] == 0, "time"].to_numpy()
    np.testing.assert_allclose(times, np.arange(N_STEPS) / N_STEPS)
    assert times.min() >= 0 and times.max() < 1


def test_physics_plausible(frame):
    values = frame[hm.HOPPER_COLUMNS].to_numpy()
    assert np.isfinite(values).all()
    first = frame[frame["time"] == 0]
    assert len(first) == N_SERIES
    # The first recorded state is the sampled initial state.
    assert first[["qpos_0", "qpos_1"]].to_numpy().min() >= 0
    assert first[["qpos_0", "qpos_1"]].to_numpy().max() <= 0.5
    assert np.abs(first[[f"qpos_{i}" for i in range(2, 7)]].to_numpy()).max() <= 2
    assert np.abs(first[[f"qvel_{i}" for i in range(7)]].to_numpy()).max() <= 5
    # ... and the simulation moves it.
    assert not np.allclose(values[0], values[1])


def test_deterministic_and_seeded(tmp_path, frame):
    again = hm.hopper(N_SERIES, N_STEPS, seed=0, cache_dir=tmp_path / "fresh")
    pd.testing.assert_frame_equal(again, frame)
    other = hm.hopper(N_SERIES, N_STEPS, seed=1, cache_dir=tmp_path / "fresh")
    assert not np.allclose(other[hm.HOPPER_COLUMNS], frame[hm.HOPPER_COLUMNS])


def test_cache_hit_does_not_rebuild(monkeypatch, cache_dir, frame):
    path = hm.hopper_cache_path(N_SERIES, N_STEPS, 0, cache_dir=cache_dir)
    assert path.exists()

    def fail(*args, **kwargs):
        raise AssertionError("rebuilt despite a cache hit")

    monkeypatch.setattr(hm, "_build", fail)
    pd.testing.assert_frame_equal(hm.hopper(N_SERIES, N_STEPS, 0, cache_dir=cache_dir), frame)


def test_env_var_sets_default_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("LATENTODE_CACHE", str(tmp_path))
    assert hm.hopper_cache_path(2, 5, 0).parent == tmp_path / "hopper"


def test_corrupt_cache_is_rebuilt(monkeypatch, tmp_path, frame):
    path = hm.hopper_cache_path(N_SERIES, N_STEPS, 0, cache_dir=tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not an npz file")
    calls = []
    real_build = hm._build

    def counting(*args):
        calls.append(args)
        return real_build(*args)

    monkeypatch.setattr(hm, "_build", counting)
    with pytest.warns(UserWarning, match="rebuilding"):
        rebuilt = hm.hopper(N_SERIES, N_STEPS, 0, cache_dir=tmp_path)
    assert len(calls) == 1
    pd.testing.assert_frame_equal(rebuilt, frame)
    with np.load(path) as f:  # the corrupt file was replaced by a good one
        assert f["data"].shape == (N_SERIES, N_STEPS, 14)


def test_physics_steps_per_step_changes_the_data(tmp_path, frame):
    coarse = hm.hopper(N_SERIES, N_STEPS, 0, cache_dir=tmp_path, physics_steps_per_step=4)
    first = frame["time"] == 0
    # Same initial states, different sampling interval afterwards.
    np.testing.assert_array_equal(
        coarse.loc[first, hm.HOPPER_COLUMNS].to_numpy(), frame.loc[first, hm.HOPPER_COLUMNS]
    )
    assert not np.allclose(coarse[hm.HOPPER_COLUMNS], frame[hm.HOPPER_COLUMNS])


def test_rejects_bad_sizes(tmp_path):
    with pytest.raises(ValueError, match="n_series"):
        hm.hopper(0, 5, cache_dir=tmp_path)
