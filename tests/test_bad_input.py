"""A table of bad and awkward inputs (issue 12), each with its outcome class:

- ``refused``: an error of the library's own kind (DataFrameError, ModelFileError,
  TrainingError, NotFittedError) or a ValueError/TypeError (scikit-learn's
  InvalidParameterError) whose message names the argument or column;
- ``repaired``: a result plus a warning that says what was done;
- ``correct``: a correct result (checked against an independent expectation).

Never a raw error from torch, torchdiffeq, pandas or Lightning, an AssertionError, a hang
or a silent wrong result. The saved-file, training-fault and CLI kinds are in
test_model_files.py, test_faults.py and test_cli.py."""

import time
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from latentode import DataFrameError, EventIntensity, LatentODE
from latentode.datasets import periodic

TINY = dict(latent_dim=2, hidden_dim=4, units=8, max_epochs=1, verbose=False)
OWN = (DataFrameError, InvalidParameterError, NotFittedError, ValueError, TypeError)


@pytest.fixture(scope="module")
def ctx():
    df = periodic(10, 8, irregular=True, seed=0, noise_std=0.05)
    events = pd.DataFrame(
        {"id": [0, 0, 0, 1, 1, 1], "time": [0.5, 1.0, 2.5, 0.2, 1.7, 3.0], "kind": list("ababab")}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LatentODE(**TINY).fit(df)
        ev = EventIntensity(latent_dim=2, units=8, max_epochs=1, verbose=False)
        ev.fit(events, window=(0.0, 4.0))
    return {"df": df, "model": model, "events": events, "ev": ev}


def _fit(df, **params):
    def run(c):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*optimisation steps.*")
            return LatentODE(**{**TINY, **params}).fit(df(c) if callable(df) else df)

    return run


def _with(col, values):
    return lambda c: c["df"].assign(**{col: values(c["df"]) if callable(values) else values})


def _dates(c):
    return pd.Timestamp("2021-03-01") + pd.to_timedelta(c["df"]["time"], unit="D")


# (kind, call(ctx), needle in the error message)
REFUSED = [
    ("fit: not a DataFrame", lambda c: LatentODE(**TINY).fit(c["df"].to_numpy()), "DataFrame"),
    ("fit: no rows", _fit(lambda c: c["df"].iloc[:0]), "no rows"),
    (
        "fit: id column missing",
        lambda c: LatentODE(**TINY).fit(c["df"], id_col="patient"),
        "patient",
    ),
    ("fit: time column missing", lambda c: LatentODE(**TINY).fit(c["df"], time_col="t"), "'t'"),
    (
        "fit: target column missing",
        lambda c: LatentODE(**TINY).fit(c["df"], target_cols=["hr"]),
        "hr",
    ),
    ("fit: text target", _fit(_with("value", "high")), "value"),
    ("fit: all-NaN target", _fit(_with("value", np.nan)), "no observed value"),
    ("fit: NaN times", _fit(_with("time", lambda d: d["time"].where(d.index != 3))), "NaN"),
    (
        "fit: infinite times",
        _fit(_with("time", lambda d: d["time"].where(d.index != 3, np.inf))),
        "infinite",
    ),
    (
        "fit: NaT datetimes",
        _fit(lambda c: c["df"].assign(time=_dates(c).where(c["df"].index != 2))),
        "NaT",
    ),
    ("fit: boolean times", _fit(_with("time", lambda d: d["time"] > 1)), "booleans"),
    (
        "fit: timedelta times",
        _fit(_with("time", lambda d: pd.to_timedelta(d["time"], unit="s"))),
        "timedeltas",
    ),
    (
        "fit: text times",
        _fit(_with("time", lambda d: d["time"].astype(str).astype("string"))),
        "pd.to_datetime",
    ),
    (
        "fit: mixed datetimes and numbers",
        _fit(
            _with(
                "time",
                lambda d: pd.Series(
                    [pd.Timestamp("2020-01-01")] + list(d["time"][1:]), dtype=object
                ),
            )
        ),
        "mix",
    ),
    ("fit: NaN ids", _fit(_with("id", lambda d: d["id"].where(d.index != 0))), "id"),
    (
        "fit: duplicate (id, time) rows",
        _fit(lambda c: pd.concat([c["df"], c["df"].iloc[:3]])),
        "duplicate",
    ),
    (
        "fit: a series with no observation",
        _fit(lambda c: c["df"].assign(value=c["df"]["value"].where(c["df"]["id"] != 3))),
        "no observed target value",
    ),
    (
        "fit: same id and time column",
        lambda c: LatentODE(**TINY).fit(c["df"], time_col="id"),
        "both",
    ),
    (
        "fit: label_col without classify",
        lambda c: LatentODE(**TINY).fit(c["df"], label_col="value"),
        "classify",
    ),
    (
        "fit: checkpoint_dir not a path",
        lambda c: LatentODE(**TINY).fit(c["df"], checkpoint_dir=3),
        "checkpoint_dir",
    ),
    ("param: latent_dim=0", _fit(lambda c: c["df"], latent_dim=0), "latent_dim"),
    ("param: latent_dim=True", _fit(lambda c: c["df"], latent_dim=True), "latent_dim"),
    ("param: hidden_dim=0", _fit(lambda c: c["df"], hidden_dim=0), "hidden_dim"),
    ("param: units=0", _fit(lambda c: c["df"], units=0), "units"),
    ("param: depth=-1", _fit(lambda c: c["df"], depth=-1), "depth"),
    ("param: max_epochs=1.5", _fit(lambda c: c["df"], max_epochs=1.5), "max_epochs"),
    ("param: train_samples=0", _fit(lambda c: c["df"], train_samples=0), "train_samples"),
    ("param: lr=-0.01", _fit(lambda c: c["df"], lr=-0.01), "lr"),
    ("param: lr=nan", _fit(lambda c: c["df"], lr=float("nan")), "lr"),
    ("param: batch_size=0", _fit(lambda c: c["df"], batch_size=0), "batch_size"),
    ("param: kl_rate=2", _fit(lambda c: c["df"], kl_rate=2.0), "kl_rate"),
    ("param: val_size=1", _fit(lambda c: c["df"], val_size=1.0), "val_size"),
    ("param: unknown solver", _fit(lambda c: c["df"], solver="euler2"), "solver"),
    ("param: unknown objective", _fit(lambda c: c["df"], objective="mle"), "objective"),
    ("param: unknown encoder", _fit(lambda c: c["df"], encoder="lstm"), "encoder"),
    ("param: negative seed", _fit(lambda c: c["df"], seed=-1), "seed"),
    ("param: trainer_kwargs a list", _fit(lambda c: c["df"], trainer_kwargs=[1]), "trainer_kwargs"),
    ("param: obs_std=0", _fit(lambda c: c["df"], obs_std=0.0), "obs_std"),
    ("predict: before fit", lambda c: LatentODE().predict(c["df"]), "not fitted"),
    ("predict: n_samples=0", lambda c: c["model"].predict(c["df"], n_samples=0), "n_samples"),
    ("predict: n_samples=2.5", lambda c: c["model"].predict(c["df"], n_samples=2.5), "n_samples"),
    (
        "predict: quantile 1.5",
        lambda c: c["model"].predict(c["df"], quantiles=[1.5]),
        "outside (0, 1)",
    ),
    (
        "predict: quantile text",
        lambda c: c["model"].predict(c["df"], quantiles=["a"]),
        "not a number",
    ),
    (
        "predict: times of an unknown id",
        lambda c: c["model"].predict(c["df"], times={99: [1.0]}),
        "unknown series ids",
    ),
    ("predict: NaN query time", lambda c: c["model"].predict(c["df"], times=[1.0, np.nan]), "NaN"),
    ("predict: no query times", lambda c: c["model"].predict(c["df"], times=[]), "no times"),
    ("predict: times as text", lambda c: c["model"].predict(c["df"], times="1.0"), "times"),
    (
        "predict: times frame without time column",
        lambda c: c["model"].predict(c["df"], times=pd.DataFrame({"id": [0]})),
        "time",
    ),
    (
        "predict: datetimes to a numeric model",
        lambda c: c["model"].predict(c["df"], times=pd.to_datetime(["2020-01-01"])),
        "datetimes",
    ),
    (
        "predict: target column missing",
        lambda c: c["model"].predict(c["df"].drop(columns="value")),
        "value",
    ),
    (
        "extrapolate: negative horizon",
        lambda c: c["model"].extrapolate(c["df"], horizon=-1.0),
        "horizon",
    ),
    (
        "extrapolate: horizon text for numbers",
        lambda c: c["model"].extrapolate(c["df"], horizon="7D"),
        "horizon",
    ),
    (
        "extrapolate: n_points=0",
        lambda c: c["model"].extrapolate(c["df"], 1.0, n_points=0),
        "n_points",
    ),
    ("sample: n_samples=0", lambda c: c["model"].sample(c["df"], n_samples=0), "n_samples"),
    ("score: n_samples=-1", lambda c: c["model"].score(c["df"], n_samples=-1), "n_samples"),
    ("plot: n_grid=1", lambda c: c["model"].plot(c["df"], n_grid=1), "n_grid"),
    ("plot: unknown id", lambda c: c["model"].plot(c["df"], ids=[99]), "99"),
    (
        "predict: a query far before the data",
        lambda c: c["model"].predict(c["df"], times=[-1e6]),
        "far",
    ),
    (
        "predict: a query far after the data",
        lambda c: c["model"].predict(c["df"], times=[1e9]),
        "too far",
    ),
    (
        "predict: a stray observation far away",
        lambda c: c["model"].predict(
            c["df"].assign(time=np.where(c["df"].index == 3, 1e9, c["df"]["time"]))
        ),
        "far apart",
    ),
    (
        "predict: a far query says what a rescaled unit is",
        lambda c: c["model"].predict(c["df"], times=[1e9]),
        "LatentODE.predict: relative time",
    ),
    (
        "predict: a far query in the data's units",
        lambda c: c["model"].predict(c["df"], times=[1e9]),
        "one rescaled time unit is",
    ),
    ("events: intensity far away", lambda c: c["ev"].intensity(c["events"], [1e9]), "nearer the"),
    (
        "events: predict_next over a huge horizon (was minutes)",
        lambda c: c["ev"].predict_next(c["events"], horizon=1e6),
        "MAX_FLOW_STEPS",
    ),
    (
        "events: expected_count over a huge span",
        lambda c: c["ev"].expected_count(c["events"], 0.0, 1e6),
        "shorten the window",
    ),
    (
        "events: single event, no window",
        lambda c: EventIntensity(max_epochs=1, verbose=False).fit(
            pd.DataFrame({"id": [0], "time": [1.0]})
        ),
        "zero length",
    ),
    (
        "events: window end before start",
        lambda c: c["ev"].intensity(c["events"], [1.0], window=(3.0, 1.0)),
        "window",
    ),
    (
        "events: infinite event time",
        lambda c: c["ev"].intensity(c["events"].assign(time=[np.inf, 1, 2, 3, 4, 5.0]), [1.0]),
        "infinite",
    ),
    (
        "events: intensity n_samples=0",
        lambda c: c["ev"].intensity(c["events"], [1.0], n_samples=0),
        "n_samples",
    ),
    (
        "events: expected_count end before start",
        lambda c: c["ev"].expected_count(c["events"], 3.0, 1.0),
        "end must not be before",
    ),
    (
        "events: predict_next horizon=-1",
        lambda c: c["ev"].predict_next(c["events"], horizon=-1.0),
        "horizon",
    ),
    (
        "events: predict_next n_grid=1",
        lambda c: c["ev"].predict_next(c["events"], n_grid=1),
        "n_grid",
    ),
    (
        "events: predict_next no quantiles",
        lambda c: c["ev"].predict_next(c["events"], quantiles=[]),
        "quantile",
    ),
    (
        "events: sample n_samples=0",
        lambda c: c["ev"].sample(c["events"], (0.0, 4.0), n_samples=0),
        "n_samples",
    ),
    ("events: score n_samples=0", lambda c: c["ev"].score(c["events"], n_samples=0), "n_samples"),
    (
        "events: param max_step=0",
        lambda c: EventIntensity(max_step=0.0).fit(c["events"]),
        "max_step",
    ),
    (
        "events: param dynamics unknown",
        lambda c: EventIntensity(dynamics="hawkes").fit(c["events"]),
        "dynamics",
    ),
]


@pytest.mark.parametrize("kind, call, needle", REFUSED, ids=[k for k, _, _ in REFUSED])
def test_refused_with_a_message_naming_the_problem(ctx, kind, call, needle):
    start = time.perf_counter()
    with pytest.raises(OWN) as err:
        call(ctx)
    assert not isinstance(err.value, AssertionError)
    assert needle.lower() in str(err.value).lower(), f"{kind}: {err.value}"
    # the library's own errors: nothing raw from a dependency
    assert type(err.value).__module__.split(".")[0] in ("latentode", "sklearn", "builtins"), kind
    assert time.perf_counter() - start < 30, kind


def test_repaired_duplicates_are_merged_with_a_warning_counting_them(ctx):
    df = ctx["df"]
    dup = pd.concat([df, df.iloc[:3].assign(value=df["value"].iloc[:3] + 1.0)])
    with pytest.warns(UserWarning, match=r"merged 6 rows sharing 3 \(id, time\) pairs"):
        model = LatentODE(**{**TINY, "duplicates": "mean"}).fit(dup)
    out = model.predict(dup, quantiles=None)
    assert len(out) == len(df)  # every (id, time) once
    merged = dup.groupby(["id", "time"], as_index=False)["value"].mean()
    pd.testing.assert_frame_equal(
        out[["id", "time"]].reset_index(drop=True), merged[["id", "time"]]
    )


def test_repaired_few_steps_warns_and_fits(ctx):
    with pytest.warns(UserWarning, match="only 1 optimisation steps"):
        LatentODE(**TINY).fit(ctx["df"])


def test_correct_unsorted_rows_and_row_order_do_not_matter(ctx):
    df, model = ctx["df"], ctx["model"]
    shuffled = df.sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(model.predict(shuffled), model.predict(df))


def test_correct_ids_of_any_hashable_kind(ctx):
    df, model = ctx["df"], ctx["model"]
    base = model.predict(df, quantiles=None)
    for ids in (df["id"].astype("int32"), df["id"] * 1.0):  # the same ids: the same draws
        out = model.predict(df.assign(id=ids), quantiles=None)
        np.testing.assert_array_equal(out["value"], base["value"])
    # other ids draw from other keyed streams: the same posterior within Monte Carlo error
    out = model.predict(df.assign(id=df["id"].map(lambda i: f"p{i}")), quantiles=None)
    assert out["id"].tolist() == [f"p{i}" for i in base["id"]]
    np.testing.assert_allclose(out["value"], base["value"], atol=0.05)


def test_correct_output_times_join_back_to_the_users_rows(ctx):
    """Every requested time comes back bit for bit (no float round trip)."""
    df, model = ctx["df"], ctx["model"]
    df = df.assign(time=df["time"] + 0.1)  # off the codec's origin
    rng = np.random.default_rng(0)
    ask = {i: rng.uniform(0, 5, 40) for i in (0, 3, 7)}
    out = model.predict(df, times=ask, quantiles=None)
    for i, t in ask.items():
        assert set(out.loc[out["id"] == i, "time"]) == set(t)
    assert len(model.interpolate(df).merge(df, on=["id", "time"])) == len(df)
    assert len(model.predict(df).merge(df, on=["id", "time"])) == len(df)
    frame = df[["id", "time"]].iloc[::3]
    s = model.sample(df, times=frame, n_samples=2)
    assert len(s.merge(frame, on=["id", "time"])) == 2 * len(frame)


def test_correct_sample_with_times_for_some_ids_only(ctx):
    s = ctx["model"].sample(ctx["df"], times={2: [0.5, 1.5]}, n_samples=3)
    assert list(s.columns) == ["id", "time", "sample", "value"]
    assert set(s["id"]) == {2} and len(s) == 6


def test_correct_new_series_and_missing_cells_are_accounted_for(ctx):
    df, model = ctx["df"], ctx["model"]
    new = df.assign(id=df["id"] + 100)
    holes = new.assign(value=new["value"].where(new.index % 3 != 0))
    out = model.interpolate(holes)
    assert len(out) == len(holes) and out["value"].notna().all()
    observed = holes["value"].notna().to_numpy()
    np.testing.assert_array_equal(
        out.sort_values(["id", "time"])["value"].to_numpy()[
            observed[np.lexsort((holes["time"], holes["id"]))]
        ],
        holes.sort_values(["id", "time"])["value"].dropna().to_numpy(),
    )


def test_correct_timezones_round_trip(ctx):
    df = ctx["df"].assign(
        time=lambda d: (
            pd.Timestamp("2021-03-27", tz="Europe/Paris") + pd.to_timedelta(d["time"], unit="D")
        )
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LatentODE(**TINY).fit(df)
    out = model.interpolate(df)
    assert str(out["time"].dt.tz) == "Europe/Paris"
    assert len(out.merge(df, on=["id", "time"])) == len(df)
    with pytest.raises(DataFrameError, match="naive"):
        model.predict(df.assign(time=df["time"].dt.tz_localize(None)))


def test_the_public_methods_declare_their_argument_constraints():
    for cls in (LatentODE, EventIntensity):
        for name in ("predict", "interpolate", "extrapolate", "sample", "score", "plot"):
            method = getattr(cls, name, None)
            if method is None:
                continue
            assert "n_samples" in method._parameter_constraints, (cls.__name__, name)
    assert "horizon" in EventIntensity.predict_next._parameter_constraints
    assert "n_samples" in EventIntensity.intensity._parameter_constraints


def test_repaired_index_like_columns_are_not_targets_and_the_choice_is_named(ctx):
    from latentode.frames import resolve_targets

    df = ctx["df"].reset_index(drop=True)
    framed = df.assign(rownames=np.arange(1, len(df) + 1), count=np.arange(len(df)) % 7)
    with pytest.warns(UserWarning, match=r"targets are 'value', 'count'.*'rownames'"):
        assert resolve_targets(framed, "id", "time", None) == ["value", "count"]
    csv = pd.read_csv(__import__("io").StringIO(df.to_csv()))  # an "Unnamed: 0" column
    with pytest.warns(UserWarning, match="Unnamed: 0"):
        assert resolve_targets(csv, "id", "time", None) == ["value"]
    assert resolve_targets(framed, "id", "time", ["rownames"]) == ["rownames"]  # if asked
