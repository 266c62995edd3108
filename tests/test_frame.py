"""Tests for the DataFrame layer (latentode.frames)."""

import datetime as dt
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from latentode.frames import (
    DataFrameError,
    TimeCodec,
    check_frame,
    check_quantiles,
    fit_scaler,
    frame_to_series,
    predictions_frame,
    query_times,
    scaler_from_dict,
    scaler_to_dict,
)


def long_frame() -> pd.DataFrame:
    """Three series, unsorted rows, a query row (all targets NaN), a text column."""
    return pd.DataFrame(
        {
            "id": ["b", "a", "a", "b", "c", "a", "c"],
            "time": [2.0, 1.0, 0.0, 0.5, 3.0, 5.0, 1.0],
            "x": [1.0, np.nan, 2.0, 4.0, 5.0, np.nan, 7.0],
            "y": [np.nan, 3.0, np.nan, 6.0, np.nan, np.nan, 8.0],
            "note": list("abcdefg"),
        }
    )


def check(df, *args, **kwargs):
    return check_frame(df, "id", "time", *args, **kwargs)


# --------------------------------------------------------------------------- check_frame ok
def test_check_frame_cleans_and_sorts():
    df = long_frame()
    clean, targets = check(df)
    assert targets == ["x", "y"]  # numeric columns only; "note" is text
    assert list(clean.columns) == ["id", "time", "x", "y"]
    assert clean["id"].tolist() == ["a", "a", "a", "b", "b", "c", "c"]
    assert clean["time"].tolist() == [0.0, 1.0, 5.0, 0.5, 2.0, 1.0, 3.0]
    assert clean.index.tolist() == list(range(7))
    # the all-NaN row of "a" at time 5 is a query time: kept
    assert clean.loc[2, ["x", "y"]].isna().all()
    # the input is untouched
    assert df["id"].tolist()[0] == "b"


def test_check_frame_excludes_bool_and_keeps_int_ids():
    df = pd.DataFrame(
        {"id": [10, 2, 2], "time": [0, 1, 0], "v": [1.0, 2.0, 3.0], "flag": [True, False, True]}
    )
    clean, targets = check(df)
    assert targets == ["v"]
    assert clean["id"].tolist() == [2, 2, 10]
    assert clean["time"].dtype == np.int64


def test_check_frame_explicit_targets_and_stable_sort():
    df = long_frame()
    clean, targets = check(df, ["y"])
    assert targets == ["y"]
    assert list(clean.columns) == ["id", "time", "y"]
    # single string works too
    assert check(df, "x")[1] == ["x"]


def test_check_frame_mixed_type_ids():
    df = pd.DataFrame({"id": ["b", 2, "a", 1, 2], "time": [0.0, 1, 0, 0, 0], "v": [1.0] * 5})
    clean, _ = check(df)
    assert clean["id"].tolist() == [1, 2, 2, "a", "b"]
    assert clean["time"].tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]


def test_check_frame_nullable_targets():
    df = pd.DataFrame({"id": [1, 1], "time": [0.0, 1.0], "v": pd.array([1, None], dtype="Int64")})
    clean, _ = check(df)
    assert clean["v"].dtype == np.float64
    assert np.isnan(clean["v"].iloc[1])


# --------------------------------------------------------------------------- check_frame errors
def test_not_a_dataframe():
    with pytest.raises(DataFrameError, match="DataFrame"):
        check_frame({"id": [1]}, "id", "time")


def test_no_rows():
    df = pd.DataFrame({"id": [], "time": [], "x": []})
    with pytest.raises(DataFrameError, match="no rows"):
        check(df)


def test_empty_frame_without_columns():
    with pytest.raises(DataFrameError, match="no rows"):
        check(pd.DataFrame())


def test_unhashable_ids_named():
    df = pd.DataFrame({"id": [[1], [2]], "time": [0.0, 1.0], "x": [1.0, 2.0]})
    with pytest.raises(DataFrameError, match=r"column 'id'.*hashable"):
        check(df)


def test_mixed_time_zones_in_object_column():
    t = pd.Series([pd.Timestamp("2020", tz="UTC"), pd.Timestamp("2020")], dtype=object)
    df = pd.DataFrame({"id": [1, 2], "time": t, "x": [1.0, 2.0]})
    with pytest.raises(DataFrameError, match=r"'time'.*utc=True"):
        check(df)


def test_timedelta_times_rejected():
    df = pd.DataFrame({"id": [1, 1], "time": pd.to_timedelta([1, 2], unit="s"), "x": [1.0, 2]})
    with pytest.raises(DataFrameError, match="total_seconds"):
        check(df)


def test_missing_id_time_columns_listed_with_available():
    df = pd.DataFrame({"series": [1], "t": [0.0], "x": [1.0]})
    with pytest.raises(DataFrameError) as e:
        check(df)
    msg = str(e.value)
    assert "'id'" in msg and "'time'" in msg and "'series'" in msg and "'t'" in msg


def test_missing_id_column_in_index_hint():
    df = pd.DataFrame({"time": [0.0], "x": [1.0]}, index=pd.Index([1], name="id"))
    with pytest.raises(DataFrameError, match="reset_index"):
        check(df)


def test_missing_target_column():
    with pytest.raises(DataFrameError) as e:
        check(long_frame(), ["x", "zz"])
    assert "'zz'" in str(e.value) and "'x'" in str(e.value)  # lists available columns


def test_no_numeric_targets():
    df = pd.DataFrame({"id": [1], "time": [0.0], "note": ["a"]})
    with pytest.raises(DataFrameError, match="target_cols"):
        check(df)


def test_non_numeric_target_named():
    df = long_frame()
    with pytest.raises(DataFrameError) as e:
        check(df, ["x", "note"])
    assert "'note'" in str(e.value) and "pd.to_numeric" in str(e.value)


def test_target_overlaps_id():
    with pytest.raises(DataFrameError, match="'id'"):
        check(long_frame(), ["x", "id"])


def test_nan_times_name_series():
    df = long_frame()
    df.loc[4, "time"] = np.nan
    df.loc[0, "time"] = np.inf
    with pytest.raises(DataFrameError) as e:
        check(df)
    msg = str(e.value)
    assert "2 NaN/NaT/infinite" in msg and "'c'" in msg and "'b'" in msg and "'time'" in msg


def test_nat_times():
    df = pd.DataFrame({"id": [1, 2], "time": pd.to_datetime(["2020-01-01", None]), "x": [1.0, 2.0]})
    with pytest.raises(DataFrameError, match=r"NaT.*series 2"):
        check(df)


def test_mixed_datetime_and_float_times():
    df = pd.DataFrame(
        {"id": [1, 1], "time": pd.Series([pd.Timestamp("2020-01-01"), 3.0], dtype=object)}
    )
    df["x"] = [1.0, 2.0]
    with pytest.raises(DataFrameError, match=r"'time'.*mix datetimes and numbers"):
        check(df)


def test_string_times_suggest_conversion():
    df = pd.DataFrame({"id": [1], "time": ["2020-01-01"], "x": [1.0]})
    with pytest.raises(DataFrameError, match="pd.to_datetime"):
        check(df)


def test_inf_target_named():
    df = long_frame()
    df.loc[3, "y"] = -np.inf
    with pytest.raises(DataFrameError) as e:
        check(df)
    assert "'y'" in str(e.value) and "'b'" in str(e.value)


def test_nan_ids():
    df = long_frame()
    df.loc[2, "id"] = None
    with pytest.raises(DataFrameError, match=r"'id'.*1 missing"):
        check(df)


def test_duplicates_error_names_pairs():
    df = long_frame()
    df.loc[0, "time"] = 0.5  # "b" at 0.5 twice
    with pytest.raises(DataFrameError) as e:
        check(df)
    msg = str(e.value)
    assert "id='b'" in msg and "time=0.5" in msg and "duplicates='mean'" in msg


def test_duplicates_mean_merges_with_warning():
    df = pd.DataFrame(
        {
            "id": [1, 1, 1, 2, 1],
            "time": [0.0, 0.0, 1.0, 0.0, 0.0],
            "x": [1.0, 3.0, 5.0, 7.0, np.nan],
            "y": [np.nan, np.nan, 1.0, 2.0, 4.0],
        }
    )
    with pytest.warns(UserWarning, match=r"merged 3 rows.*1 \(id, time\) pairs"):
        clean, _ = check(df, duplicates="mean")
    assert len(clean) == 3
    first = clean.iloc[0]
    assert first["id"] == 1 and first["time"] == 0.0
    assert first["x"] == 2.0 and first["y"] == 4.0  # nanmean: observed values kept


def test_duplicates_bad_option():
    with pytest.raises(DataFrameError, match="duplicates"):
        check(long_frame(), duplicates="first")


def test_all_nan_target_column():
    df = long_frame()
    df["z"] = np.nan
    with pytest.raises(DataFrameError, match="'z'"):
        check(df)
    # at predict time an unobserved column is fine
    clean, targets = check(df, fit_targets=["x", "y", "z"])
    assert targets == ["x", "y", "z"]


def test_series_without_observations():
    df = long_frame()
    df = pd.concat(
        [df, pd.DataFrame({"id": ["d", "d"], "time": [0.0, 1.0], "x": np.nan, "y": np.nan})]
    )
    with pytest.raises(DataFrameError) as e:
        check(df)
    assert "'d'" in str(e.value) and "drop those rows" in str(e.value)
    assert "allow_empty_series" not in str(e.value)  # the estimators do not take it
    clean, _ = check(df, allow_empty_series=True)
    assert (clean["id"] == "d").sum() == 2


def test_fit_targets_missing_and_extra():
    df = long_frame()
    df["w"] = 1.0
    with pytest.raises(DataFrameError) as e:
        check(df, fit_targets=["x", "y", "v"])
    msg = str(e.value)
    assert "missing 'v'" in msg and "extra 'w'" in msg
    # same set in another order: follows the fitted order
    clean, targets = check(df, ["w", "y", "x"], fit_targets=["x", "y", "w"])
    assert targets == ["x", "y", "w"] and list(clean.columns)[2:] == targets


def test_codec_kind_mismatch():
    codec = TimeCodec.fit(pd.Series(pd.to_datetime(["2020-01-01"])))
    with pytest.raises(DataFrameError, match=r"'time'.*numbers.*datetimes"):
        check(long_frame(), codec=codec)


# --------------------------------------------------------------------------- TimeCodec
def test_codec_numeric_large_offset_precision():
    t = 1e9 + np.array([0.0, 0.001, 0.25, 1.5, 3600.125])
    codec = TimeCodec.fit(pd.Series(t))
    assert codec.kind == "numeric" and codec.origin == 1e9
    enc = codec.encode(t)
    np.testing.assert_array_equal(enc, t - 1e9)
    assert enc.max() < 3601
    np.testing.assert_array_equal(codec.decode(enc), t)  # exact round trip
    np.testing.assert_allclose(np.diff(enc), [0.001, 0.249, 1.25, 3598.625], atol=1e-6)


def test_codec_numeric_ints():
    t = np.array([1_700_000_000_123, 1_700_000_000_000], dtype=np.int64)
    codec = TimeCodec.fit(t)
    np.testing.assert_array_equal(codec.encode(t), [123.0, 0.0])
    np.testing.assert_array_equal(codec.decode([123.0, 0.0]), t.astype(float))


@pytest.mark.parametrize("tz", [None, "UTC", "Europe/Paris"])
def test_codec_datetime_round_trip(tz):
    times = pd.Series(
        pd.to_datetime(
            [
                "2021-03-28 00:59:59",  # around the Paris DST change
                "2021-03-28 03:00:01.250",
                "2021-10-31 12:00:00",
                "1999-12-31 23:59:59.999",
            ],
            format="ISO8601",
        )
    )
    if tz is not None:
        times = times.dt.tz_localize(tz)
    codec = TimeCodec.fit(times)
    assert codec.kind == "datetime" and codec.tz == tz and codec.unit_seconds == 1.0
    enc = codec.encode(times)
    assert enc.min() >= 0 and enc.min() < 1  # origin: floor of the earliest second
    back = codec.decode(enc)
    pd.testing.assert_series_equal(back, times.reset_index(drop=True))
    # seconds as float units
    secs = (times - times.min()).dt.total_seconds().to_numpy()
    np.testing.assert_allclose(enc - enc.min(), secs, atol=1e-6)
    # JSON round trip
    codec2 = TimeCodec.from_dict(json.loads(json.dumps(codec.to_dict())))
    assert codec2 == codec
    pd.testing.assert_series_equal(codec2.decode(codec2.encode(times)), back)


def test_codec_datetime_nanoseconds_recent():
    raw = ["2024-05-01 10:00:00.123456789", "2024-05-02"]
    times = pd.Series(pd.to_datetime(raw, format="ISO8601")).astype("datetime64[ns]")
    codec = TimeCodec.fit(times)
    assert codec.resolution == "ns"
    back = codec.decode(codec.encode(times))
    # float64 seconds over a day keeps ~10 ns; exact to the microsecond
    diff = (back - times).abs().max()
    assert diff <= pd.Timedelta(100, "ns")
    pd.testing.assert_series_equal(back.dt.floor("s"), times.dt.floor("s"))


def test_codec_tz_instants_and_mismatch():
    paris = pd.Series(pd.date_range("2022-01-01", periods=3, freq="h", tz="Europe/Paris"))
    codec = TimeCodec.fit(paris)
    # the same instants in another zone encode identically
    np.testing.assert_array_equal(codec.encode(paris.dt.tz_convert("UTC")), codec.encode(paris))
    with pytest.raises(DataFrameError, match="tz_localize"):
        codec.encode(paris.dt.tz_localize(None))
    naive = TimeCodec.fit(paris.dt.tz_localize(None))
    with pytest.raises(DataFrameError, match="tz-aware"):
        naive.encode(paris)


def test_codec_encode_errors():
    num = TimeCodec.fit(pd.Series([0.0, 1.0]))
    dtc = TimeCodec.fit(pd.Series(pd.to_datetime(["2020-01-01"])))
    with pytest.raises(DataFrameError, match="fitted on numbers"):
        num.encode(pd.to_datetime(["2020-01-01"]))
    with pytest.raises(DataFrameError, match="fitted on datetimes"):
        dtc.encode([1.0])
    with pytest.raises(DataFrameError, match="NaN"):
        num.encode([1.0, np.nan])
    with pytest.raises(DataFrameError, match="NaN"):
        num.encode(np.array([np.inf]))
    with pytest.raises(DataFrameError, match="NaT"):
        dtc.encode(pd.Series(pd.to_datetime(["2020-01-01", None])))
    with pytest.raises(DataFrameError, match="mix"):
        num.encode([pd.Timestamp("2020-01-01"), 1.0])
    with pytest.raises(DataFrameError, match="kind"):
        TimeCodec("hours", None, 1.0, 0.0)
    # a scalar works
    np.testing.assert_array_equal(num.encode(2.5), [2.5])


def test_codec_object_datetimes():
    objs = pd.Series([dt.datetime(2020, 1, 1, 12), dt.datetime(2020, 1, 2)], dtype=object)
    codec = TimeCodec.fit(objs)
    assert codec.kind == "datetime"
    np.testing.assert_array_equal(codec.encode(objs), [0.0, 43200.0])


# --------------------------------------------------------------------------- series / scaler
def test_frame_to_series_shapes_and_standardization():
    clean, targets = check(long_frame())
    codec = TimeCodec.fit(clean["time"])
    scaler = fit_scaler(clean, targets)
    series = frame_to_series(clean, "id", "time", targets, codec, scaler)
    assert [s.id for s in series] == ["a", "b", "c"]
    assert [len(s) for s in series] == [3, 2, 2]
    assert all(s.n_features == 2 for s in series)
    assert all(np.all(np.diff(s.times) >= 0) for s in series)
    np.testing.assert_array_equal(series[0].times, [0.0, 1.0, 5.0])
    vals = np.concatenate([np.where(s.mask, s.values, np.nan) for s in series])
    np.testing.assert_allclose(np.nanmean(vals, axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.nanstd(vals, axis=0), 1.0, atol=1e-12)
    raw = clean[targets].to_numpy()
    np.testing.assert_array_equal(np.isfinite(raw), np.concatenate([s.mask for s in series]))
    # without a scaler: raw values
    plain = frame_to_series(clean, "id", "time", targets, codec)
    np.testing.assert_array_equal(plain[1].values, [[4.0, 6.0], [1.0, 0.0]])


def test_scaler_dict_round_trip():
    clean, targets = check(long_frame())
    scaler = fit_scaler(clean, targets)
    d = json.loads(json.dumps(scaler_to_dict(scaler)))
    back = scaler_from_dict(d)
    for attr in ("mean_", "var_", "scale_", "n_samples_seen_"):
        np.testing.assert_array_equal(getattr(back, attr), getattr(scaler, attr))
    assert back.n_features_in_ == scaler.n_features_in_
    x = np.array([[1.0, np.nan], [3.3, -2.0]])
    np.testing.assert_array_equal(back.transform(x), scaler.transform(x))
    assert scaler_to_dict(back) == scaler_to_dict(scaler)
    with pytest.raises(DataFrameError):
        scaler_from_dict({"mean": [0.0]})


# --------------------------------------------------------------------------- predictions
def test_predictions_frame_columns_order_and_inverse_scaling():
    clean, targets = check(long_frame())
    codec = TimeCodec.fit(clean["time"])
    scaler = fit_scaler(clean, targets)
    ids = ["b", "a"]  # unsorted on purpose
    times = [np.array([2.0, 1.0]), np.array([0.5])]
    mean = [np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[-1.0, 2.0]])]
    quantiles = {0.95: [m + 1 for m in mean], 0.05: [m - 1 for m in mean]}
    out = predictions_frame(
        ids,
        times,
        mean,
        quantiles,
        id_col="id",
        time_col="time",
        target_cols=targets,
        codec=codec,
        scaler=scaler,
    )
    assert list(out.columns) == [
        "id",
        "time",
        "x",
        "x_q0.05",
        "x_q0.95",
        "y",
        "y_q0.05",
        "y_q0.95",
    ]
    assert out["id"].tolist() == ["a", "b", "b"]
    assert out["time"].tolist() == [0.5, 1.0, 2.0]
    mu, sd = scaler.mean_, scaler.scale_
    np.testing.assert_allclose(out.loc[0, ["x", "y"]].to_numpy(float), [-1, 2] * sd + mu)
    np.testing.assert_allclose(out.loc[1, ["x", "y"]].to_numpy(float), [1, 0] * sd + mu)
    np.testing.assert_allclose(out["x_q0.95"] - out["x"], sd[0])
    np.testing.assert_allclose(out["y"] - out["y_q0.05"], sd[1])
    assert (out["x_q0.05"] < out["x"]).all() and (out["x"] < out["x_q0.95"]).all()


def test_predictions_frame_datetimes_no_quantiles():
    times = pd.Series(pd.date_range("2023-06-01", periods=3, freq="D", tz="Europe/Paris"))
    codec = TimeCodec.fit(times)
    enc = codec.encode(times)
    out = predictions_frame(
        [7],
        [enc],
        [np.arange(3.0)[:, None]],
        None,
        id_col="sid",
        time_col="when",
        target_cols=["v"],
        codec=codec,
        scaler=None,
    )
    assert list(out.columns) == ["sid", "when", "v"]
    pd.testing.assert_series_equal(out["when"], times, check_names=False)
    assert out["sid"].tolist() == [7, 7, 7]
    with pytest.raises(DataFrameError, match="shape"):
        predictions_frame(
            [7],
            [enc],
            [np.zeros((2, 1))],
            None,
            id_col="sid",
            time_col="when",
            target_cols=["v"],
            codec=codec,
            scaler=None,
        )


# --------------------------------------------------------------------------- query_times
def test_query_times_three_forms():
    codec = TimeCodec.fit(pd.Series([10.0, 20.0]))
    ids = ["a", "b", 3]
    shared = query_times([15.0, 12.0, 15.0], ids, codec, id_col="id", time_col="time")
    assert list(shared) == ids
    for v in shared.values():
        np.testing.assert_array_equal(v, [2.0, 5.0])  # sorted, unique, encoded
    as_dict = query_times(
        {3: [11.0], "a": np.array([13.0, 11.0])}, ids, codec, id_col="id", time_col="time"
    )
    assert list(as_dict) == ["a", 3]
    np.testing.assert_array_equal(as_dict["a"], [1.0, 3.0])
    frame = pd.DataFrame({"id": ["b", "a", "b"], "time": [30.0, 10.0, 20.0]})
    as_frame = query_times(frame, ids, codec, id_col="id", time_col="time")
    assert list(as_frame) == ["a", "b"]
    np.testing.assert_array_equal(as_frame["b"], [10.0, 20.0])


def test_query_times_datetimes():
    codec = TimeCodec.fit(pd.Series(pd.to_datetime(["2020-01-01"])).dt.tz_localize("UTC"))
    q = query_times(
        pd.date_range("2020-01-01 01:00", periods=2, freq="h", tz="UTC"),
        [1],
        codec,
        id_col="id",
        time_col="time",
    )
    np.testing.assert_array_equal(q[1], [3600.0, 7200.0])


def test_query_times_errors():
    codec = TimeCodec.fit(pd.Series([0.0, 1.0]))
    kw = dict(id_col="id", time_col="time")
    with pytest.raises(DataFrameError, match="'zz'"):
        query_times({"zz": [1.0]}, ["a"], codec, **kw)
    with pytest.raises(DataFrameError, match="'zz'"):
        query_times(pd.DataFrame({"id": ["zz"], "time": [1.0]}), ["a"], codec, **kw)
    with pytest.raises(DataFrameError, match="NaN"):
        query_times([1.0, np.nan], ["a"], codec, **kw)
    with pytest.raises(DataFrameError, match=r"series 'a'.*NaN"):
        query_times({"a": [np.nan]}, ["a"], codec, **kw)
    with pytest.raises(DataFrameError, match="array-like"):
        query_times("tomorrow", ["a"], codec, **kw)
    with pytest.raises(DataFrameError, match="array-like"):
        query_times(None, ["a"], codec, **kw)
    with pytest.raises(DataFrameError, match="'time'"):
        query_times(pd.DataFrame({"id": ["a"]}), ["a"], codec, **kw)


# --------------------------------------------------------------------------- quantiles
def test_check_quantiles():
    assert check_quantiles([0.95, 0.05, 0.5, 0.5]) == (0.05, 0.5, 0.95)
    assert check_quantiles(0.5) == (0.5,)
    assert check_quantiles(None) == ()
    for bad in ([0.0], [1.0], [0.5, 1.2], [-0.1], [np.nan]):
        with pytest.raises(DataFrameError, match="outside"):
            check_quantiles(bad)
    for bad in (["0.5"], "0.5", [True], [None]):
        with pytest.raises(DataFrameError, match="not a number"):
            check_quantiles(bad)
    with pytest.raises(DataFrameError):
        check_quantiles(object())


# --------------------------------------------------------------------------- fuzzing
ids_strategy = st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b", "id-1", "Z"]))
cell = st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False))


@st.composite
def long_frames(draw):
    n = draw(st.integers(1, 25))
    d = draw(st.integers(1, 3))
    int_times = draw(st.booleans())
    time_el = st.integers(-5, 50) if int_times else st.floats(-1e3, 1e9, allow_nan=False)
    rows = draw(
        st.lists(
            st.tuples(ids_strategy, time_el, st.lists(cell, min_size=d, max_size=d)),
            min_size=n,
            max_size=n,
        )
    )
    data = {"id": [r[0] for r in rows], "time": [r[1] for r in rows]}
    for j in range(d):
        data[f"f{j}"] = [np.nan if r[2][j] is None else r[2][j] for r in rows]
    df = pd.DataFrame(data)
    if draw(st.integers(0, 9)) == 0:  # sprinkle a bad time sometimes
        df.loc[draw(st.integers(0, len(df) - 1)), "time"] = np.nan
    return df


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=long_frames(), dup=st.sampled_from(["error", "mean"]), empty_ok=st.booleans())
def test_fuzz_check_frame_to_series_loses_nothing(df, dup, empty_ok):
    targets = [c for c in df.columns if c.startswith("f")]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            clean, resolved = check_frame(
                df, "id", "time", None, duplicates=dup, allow_empty_series=empty_ok
            )
    except DataFrameError:
        return
    assert resolved == targets
    codec = TimeCodec.fit(clean["time"])
    series = frame_to_series(clean, "id", "time", resolved, codec, fit_scaler(clean, resolved))
    n_obs = sum(int(s.mask.sum()) for s in series)
    if dup == "error":
        expected = int(df[targets].notna().to_numpy().sum())
        assert sum(len(s) for s in series) == len(df)
    else:  # one cell per (id, time, column) that had an observation
        key = df["id"].map(lambda v: (type(v).__name__, v))
        long = df.assign(key=key).melt(id_vars=["key", "time"], value_vars=targets).dropna()
        expected = len(long.drop_duplicates(["key", "time", "variable"]))
    assert n_obs == expected
    # the clean frame is sorted by id then time; after merging, (id, time) pairs are unique
    for _, g in clean.groupby(clean["id"].map(lambda v: (type(v).__name__, v)), sort=False):
        steps = np.diff(g["time"].to_numpy(dtype=float))
        assert np.all(steps > 0)
    assert len(series) == df["id"].map(lambda v: (type(v).__name__, v)).nunique()
    for s in series:
        # encoded times may tie where raw times differ by less than float64 resolution
        assert np.all(np.diff(s.times) >= 0)
        assert np.all(np.isfinite(s.values))
        assert s.n_features == len(targets)
