"""``LatentODE.evaluate`` (issue 13): the seeded protocols, the baselines against
independent computations, and ``score`` as one float for scikit-learn's model selection."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score

from latentode import EventIntensity, LatentODE
from latentode.datasets import periodic
from latentode.estimators.evaluation import hide_cells, mean_curve_fill

TINY = dict(latent_dim=2, hidden_dim=4, units=8, max_epochs=2, verbose=False)


@pytest.fixture(scope="module")
def fitted():
    df = periodic(24, 12, irregular=True, seed=0, noise_std=0.05)
    df["other"] = np.where(np.arange(len(df)) % 3 == 0, np.nan, 2 * df["value"] + 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LatentODE(**TINY).fit(df[df["id"] < 18])
    return model, df[df["id"] >= 18].reset_index(drop=True)


def test_interpolate_protocol_and_baselines_match_independent_computations(fitted):
    model, test = fitted
    table = model.evaluate(test, task="interpolate", fraction=0.4, seed=3)
    assert list(table["method"]) == [
        "LatentODE",
        "linear",
        "linear trend",
        "last",
        "mean curve + offset",
    ]
    hidden = hide_cells(test, ["value", "other"], "id", 0.4, 3)
    observed = test[["value", "other"]].notna().to_numpy()
    assert (hidden <= observed).all()
    assert 0.3 < hidden.sum() / observed.sum() < 0.5
    first = test.groupby("id").head(1).index
    assert not hidden[first].any()  # every series keeps its first row
    assert (table["n_cells"] == hidden.sum()).all()
    # linear interpolation of the visible cells, by hand
    errors = []
    for _, g in test.groupby("id"):
        rows = g.index.to_numpy()
        v = g["value"].to_numpy()
        seen = ~np.isnan(v) & ~hidden[rows, 0]
        fill = np.interp(g["time"].to_numpy(), g["time"].to_numpy()[seen], v[seen])
        errors += list((fill - v)[hidden[rows, 0]])
    linear = table.set_index("method").loc["linear"]
    assert linear["mse_value"] == pytest.approx(np.mean(np.square(errors)))
    # the model's row: predict from the visible cells, by hand
    context = test.copy()
    context[["value", "other"]] = np.where(hidden, np.nan, test[["value", "other"]])
    pred = model.predict(context, quantiles=None)
    err = (pred["value"].to_numpy() - test["value"].to_numpy())[hidden[:, 0]]
    row = table.set_index("method").loc["LatentODE"]
    assert row["mse_value"] == pytest.approx(np.mean(err**2))
    assert 0 <= row["coverage"] <= 1 and np.isnan(linear["coverage"])
    # the same seed hides the same cells
    again = model.evaluate(test, task="interpolate", fraction=0.4, seed=3)
    pd.testing.assert_frame_equal(table, again)


def test_extrapolate_protocol_scores_the_rows_after_each_cut(fitted):
    model, test = fitted
    table = model.evaluate(test, task="extrapolate", fraction=0.6)
    lo = test.groupby("id")["time"].transform("min")
    hi = test.groupby("id")["time"].transform("max")
    after = test["time"] > lo + 0.6 * (hi - lo)
    n = int(test.loc[after, ["value", "other"]].notna().to_numpy().sum())
    assert (table["n_cells"] == n).all()
    by_horizon = model.evaluate(test, task="extrapolate", horizon=0.5, baselines=False)
    assert list(by_horizon["method"]) == ["LatentODE"]
    n_h = int(test.loc[test["time"] > hi - 0.5, ["value", "other"]].notna().to_numpy().sum())
    assert by_horizon["n_cells"].iloc[0] == n_h


def test_mean_curve_plus_offset_recovers_a_shifted_shared_curve():
    t = np.tile(np.linspace(0, 1, 50), 3)
    ids = np.repeat([0, 1, 2], 50)
    v = np.sin(3 * t) + np.array([0.0, 1.0, -2.0])[ids]
    got = mean_curve_fill(t, v, ids, np.array([0.5, 0.5]), np.array([1, 2]), n_bins=25)
    np.testing.assert_allclose(got, np.sin(1.5) + np.array([1.0, -2.0]), atol=0.02)


def test_evaluate_refuses_bad_protocols(fitted):
    model, test = fitted
    for kwargs, needle in [
        ({"task": "forecast"}, "task"),
        ({"fraction": 1.5}, "fraction"),
        ({"task": "interpolate", "horizon": 1.0}, "horizon"),
        ({"level": 95}, "level"),
    ]:
        with pytest.raises(ValueError, match=needle):
            model.evaluate(test, **kwargs)


def test_score_is_one_float_for_model_selection():
    df = periodic(18, 10, irregular=True, seed=1, noise_std=0.05)
    est = LatentODE(**TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = cross_val_score(est, df, cv=GroupKFold(3), groups=df["id"])
        search = GridSearchCV(est, {"latent_dim": [2, 3]}, cv=GroupKFold(2))
        search.fit(df, groups=df["id"])
    assert scores.shape == (3,) and np.isfinite(scores).all()
    assert search.best_params_["latent_dim"] in (2, 3)
    events = pd.DataFrame({"id": [0, 0, 1, 1, 1], "time": [0.5, 1.0, 0.2, 1.7, 3.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = EventIntensity(latent_dim=2, units=8, max_epochs=1, verbose=False)
        ev.fit(events, window=(0.0, 4.0))
    assert isinstance(ev.score(events, window=(0.0, 4.0)), float)


def test_event_evaluate_scores_the_continuation_next_to_poisson_baselines():
    events = pd.DataFrame(
        {"id": [0, 0, 0, 0, 1, 1, 2], "time": [0.5, 1.0, 2.5, 3.5, 0.2, 3.0, 1.0]}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = EventIntensity(latent_dim=2, units=8, max_epochs=1, verbose=False)
        ev.fit(events, window=(0.0, 4.0))
    table = ev.evaluate(events, window=(0.0, 4.0), fraction=0.5, n_samples=5)
    assert list(table["method"]) == [
        "EventIntensity",
        "Poisson (pooled rate)",
        "Poisson (own rate)",
    ]
    after = events[events["time"] > 2.0]
    assert (table["n_events"] == len(after)).all() and (table["n_sequences"] == 3).all()
    # the pooled baseline by hand: 4 events before the cuts in 3 x 2 time units
    rate = 4 / 6.0
    pooled = len(after) * np.log(rate) - rate * 3 * 2.0
    row = table.set_index("method")
    assert row.loc["Poisson (pooled rate)", "loglik"] == pytest.approx(pooled)
    # the model's row: log p(all) - log p(before the cut), from score_details
    full = ev.score_details(events, window=(0.0, 4.0), n_samples=5)["loglik"]
    before = events[events["time"] <= 2.0]
    windows = pd.DataFrame({"id": [0, 1, 2], "start": 0.0, "end": 2.0})
    part = ev.score_details(before, window=windows, n_samples=5)["loglik"]
    assert row.loc["EventIntensity", "loglik"] == pytest.approx(full - part)
    with pytest.raises(ValueError, match="fraction"):
        ev.evaluate(events, window=(0.0, 4.0), fraction=1.0)
    with pytest.raises(ValueError, match="no event falls after"):
        ev.evaluate(events[events["time"] < 1.5], window=(0.0, 4.0), fraction=0.9)


def test_linear_trend_is_the_least_squares_line():
    from latentode.naive import linear_trend_fill

    rng = np.random.default_rng(0)
    t, v, q = np.sort(rng.uniform(0, 5, 7)), rng.normal(size=7), np.array([-1.0, 2.0, 9.0])
    slope, intercept = np.polyfit(t, v, 1)
    assert np.allclose(linear_trend_fill(t, v, q), intercept + slope * q)
    assert np.allclose(linear_trend_fill(np.array([1.0]), np.array([3.0]), q), 3.0)
