import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from latentode import DataFrameError, LatentODE, ModelFileError
from latentode.datasets import periodic


def _frame(n=40, points=25, seed=0):
    df = periodic(n, points, irregular=True, seed=seed, noise_std=0.05)
    df["id"] = "s" + df["id"].astype(str)
    rng = np.random.default_rng(seed)
    df["other"] = np.where(rng.random(len(df)) < 0.5, np.nan, df["value"] * 2 + 1)
    return df


@pytest.fixture(scope="module")
def fitted():
    torch.manual_seed(0)
    df = _frame()
    model = LatentODE(
        latent_dim=4, hidden_dim=8, units=32, max_epochs=4, batch_size=16, verbose=False, seed=0
    )
    return model.fit(df), df


def test_sklearn_contract(fitted):
    model, df = fitted
    params = model.get_params()
    assert params["latent_dim"] == 4
    fresh = clone(model)
    assert not hasattr(fresh, "module_") and fresh.get_params() == params
    fresh.set_params(latent_dim=3)
    assert fresh.latent_dim == 3
    with pytest.raises(NotFittedError):
        fresh.predict(df)
    assert model.target_cols_ == ["value", "other"] and model.n_features_in_ == 2


def test_predict_shape_columns_and_order(fitted):
    model, df = fitted
    sub = df[df["id"].isin(["s3", "s1"])].sample(frac=1.0, random_state=0)  # unsorted rows
    out = model.predict(sub, times=[0.5, 2.0, 4.0], quantiles=(0.05, 0.5, 0.95), n_samples=30)
    assert list(out.columns) == [
        "id",
        "time",
        "value",
        "value_q0.05",
        "value_q0.5",
        "value_q0.95",
        "other",
        "other_q0.05",
        "other_q0.5",
        "other_q0.95",
    ]
    assert out["id"].tolist() == ["s1"] * 3 + ["s3"] * 3
    assert out["time"].tolist() == [0.5, 2.0, 4.0] * 2
    assert (out["value_q0.05"] <= out["value_q0.95"]).all()
    by_dict = model.predict(
        sub, times={"s1": [1.0], "s3": [2.0, 3.0]}, quantiles=None, n_samples=10
    )
    assert by_dict.shape == (3, 4)


def test_batch_does_not_change_a_series_prediction(fitted):
    model, df = fitted
    one = model.predict(df[df["id"] == "s2"], times=[1.0, 3.0], n_samples=20)
    many = model.predict(
        df[df["id"].isin(["s2", "s5", "s7", "s0"])], times=[1.0, 3.0], n_samples=20
    )
    same = many[many["id"] == "s2"].reset_index(drop=True)
    cols = [c for c in one.columns if c not in ("id", "time")]
    assert np.allclose(one[cols].to_numpy(), same[cols].to_numpy(), atol=1e-3)
    other = many[many["id"] == "s5"].reset_index(drop=True)
    assert not np.allclose(one[cols].to_numpy(), other[cols].to_numpy(), atol=1e-3)


def test_new_series_and_interpolate(fitted):
    model, df = fitted
    new = _frame(3, 20, seed=9)
    new.loc[new.index[::3], "value"] = np.nan
    filled = model.interpolate(new, n_samples=20)
    assert len(filled) == len(new)
    assert filled["value"].notna().all()
    merged = new.sort_values(["id", "time"]).reset_index(drop=True)
    observed = merged["value"].notna()
    assert np.allclose(filled.loc[observed, "value"], merged.loc[observed, "value"])


def test_extrapolate_times_and_errors(fitted):
    model, df = fitted
    sub = df[df["id"] == "s0"]
    out = model.extrapolate(sub, horizon=2.0, n_points=4, n_samples=10)
    last = sub["time"].max()
    assert np.allclose(out["time"], last + np.array([0.5, 1.0, 1.5, 2.0]))
    for bad in (-1.0, float("nan"), 0.0):
        with pytest.raises(ValueError, match="horizon"):
            model.extrapolate(sub, horizon=bad)


def test_sample_frame(fitted):
    model, df = fitted
    out = model.sample(df[df["id"] == "s0"], times=[1.0, 2.0], n_samples=7)
    assert list(out.columns) == ["id", "time", "sample", "value", "other"]
    assert len(out) == 14 and sorted(out["sample"].unique()) == list(range(7))


def test_score(fitted):
    model, df = fitted
    some = df[df["id"].isin(["s0", "s1", "s2"])]
    res = model.score_details(some, n_samples=10)
    assert model.score(some, n_samples=10) == -res["nll"]  # one float, higher is better
    assert set(res["mse"]) == {"value", "other", "overall"}
    assert res["n_observed"] == int(
        df[df["id"].isin(["s0", "s1", "s2"])][["value", "other"]].notna().to_numpy().sum()
    )
    assert np.isfinite(res["nll"]) and res["mse"]["value"] >= 0


def test_save_load_bit_identical_and_tamper(fitted, tmp_path):
    model, df = fitted
    path = model.save(tmp_path / "m")
    loaded = LatentODE.load(path)
    sub = df[df["id"].isin(["s0", "s4"])]
    a = model.predict(sub, times=[0.3, 1.7], n_samples=20)
    b = loaded.predict(sub, times=[0.3, 1.7], n_samples=20)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    weights = path / "weights.pt"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated or modified"):
        LatentODE.load(path)
    (path / "config.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="JSON"):
        LatentODE.load(path)
    with pytest.raises(ModelFileError, match="not a saved latentode model"):
        LatentODE.load(tmp_path / "nowhere")


def test_gru_encoder_saves_its_fitted_gap_factor(tmp_path):
    """``encoder="rnn"`` fits the factor on its time gaps at the first training batch;
    the saved model loads with that factor and predicts bit for bit the same."""
    torch.manual_seed(0)
    df = _frame()
    model = LatentODE(
        encoder="rnn", latent_dim=4, hidden_dim=8, units=32, max_epochs=2, batch_size=16,
        verbose=False, seed=0,
    )  # fmt: skip
    model.fit(df)
    encoder = model.module_.model.encoder
    assert float(encoder.gap_factor) > 0 and encoder.gap_scale != 20.0
    loaded = LatentODE.load(model.save(tmp_path / "m"))
    assert loaded.module_.model.encoder.gap_scale == encoder.gap_scale
    sub = df[df["id"].isin(["s0", "s4"])]
    a = model.predict(sub, times=[0.3, 1.7], n_samples=20)
    b = loaded.predict(sub, times=[0.3, 1.7], n_samples=20)
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_predict_rejects_other_targets_and_bad_quantiles(fitted):
    model, df = fitted
    with pytest.raises(DataFrameError):
        model.predict(df.drop(columns=["other"]))
    with pytest.raises(DataFrameError):
        model.predict(df, quantiles=(0.0, 0.5))
    with pytest.raises(DataFrameError):
        model.predict(df, quantiles=(1.5,))


def test_datetime_times_round_trip():
    df = _frame(12, 15, seed=3)
    base = pd.Timestamp("2024-03-01", tz="Europe/Paris")
    df["time"] = base + pd.to_timedelta(df["time"] * 86400, unit="s")
    model = LatentODE(latent_dim=3, hidden_dim=8, units=16, max_epochs=1, verbose=False)
    model.fit(df)
    out = model.extrapolate(df[df["id"] == "s0"], horizon="2D", n_points=2, n_samples=5)
    assert isinstance(out["time"].dtype, pd.DatetimeTZDtype)
    last = df[df["id"] == "s0"]["time"].max()
    assert (out["time"].iloc[-1] - last) == pd.Timedelta("2D")
    grid = pd.date_range(base, periods=3, freq="1D")
    pred = model.predict(df[df["id"] == "s1"], times=grid, n_samples=5)
    assert (pred["time"].to_numpy() == grid.to_numpy()).all()


def test_fit_errors_are_clear():
    df = _frame(6, 5)
    model = LatentODE(max_epochs=1, verbose=False)
    with pytest.raises(DataFrameError, match="nope"):
        model.fit(df, id_col="nope")
    dup = pd.concat([df, df.iloc[:1]])
    with pytest.raises(DataFrameError, match="s0"):
        model.fit(dup)
    empty = df.copy()
    empty.loc[empty["id"] == "s1", ["value", "other"]] = np.nan
    with pytest.raises(DataFrameError, match="s1"):
        model.fit(empty)
    with pytest.raises(DataFrameError):
        model.fit(df.iloc[:0])


def test_poisson_option_fits_and_scores():
    df = _frame(12, 15, seed=4)
    model = LatentODE(
        latent_dim=3, hidden_dim=8, units=16, max_epochs=2, poisson=True, verbose=False
    )
    model.fit(df)
    assert model.module_.model.poisson
    rates = model.module_.model.intensity.base_rate
    assert rates[0] > rates[1] > 0  # "other" is observed about half as often as "value"
    res = model.score_details(df, n_samples=5)
    assert np.isfinite(res["nll"])


def test_band_factors_are_calibrated_to_90_percent_and_saved(fitted, tmp_path):
    """Validation series of two kinds: "gap" series show their first and last five rows
    (the hidden rows lie inside the shown span), "forecast" series their first five (the
    hidden rows lie beyond it). Posterior draws are N(0, (tau sigma)^2)'s quantiles, tau
    0.5 in gap series and 2 in forecast series, and hidden values are drawn with variance
    ``sigma^2 (a^2 tau^2 + c^2)``, a = 0.8, c = 0.6: the factors on the spread and the
    std that cover 90% of each kind are (a, c), a closed form, found to 0.03."""
    from scipy.stats import norm

    from latentode.data.batch import Series

    model, _ = fitted
    sigma = float(model.module_.model.likelihood.std().detach()[0])
    a, c, k = 0.8, 0.6, 200
    grid = norm.ppf((np.arange(k) + 0.5) / k)
    rng = np.random.default_rng(0)
    val, taus = [], {}
    for i in range(80):
        gap = i % 2 == 0
        tau = 0.5 if gap else 2.0
        values = rng.normal(0.0, sigma * np.sqrt(a**2 * tau**2 + c**2), (50, 1))
        obs = np.zeros((50, 1))
        obs[:5] = 1
        if gap:
            obs[-5:] = 1
        val.append(Series(times=np.arange(50.0), values=values, obs_mask=obs, id=f"v{i}"))
        taus[f"v{i}"] = tau

    def draws(series, n, calibrated=True):
        assert not calibrated  # the factors are fitted on the model's own draws
        return [
            (
                np.broadcast_to(sigma * taus[s.id] * grid[:, None, None], (n, len(s), 1)),
                np.full(n, 1.0 / n),
            )
            for s in series
        ]

    original = model._samples
    model._samples = draws
    try:
        spread, noise = model._calibrate_bands(val, n_samples=k)
    finally:
        model._samples = original
    print(f"\nsigma {sigma:.3f}, calibrated spread {spread:.3f}, noise {noise:.3f}")
    assert abs(spread - a) < 0.03 and abs(noise - c) < 0.03
    assert 0.0 <= model.noise_scale_ <= 3.0 and 0.0 < model.spread_scale_ <= 2.0
    loaded = LatentODE.load(model.save(tmp_path / "m"))
    assert (loaded.noise_scale_, loaded.spread_scale_) == (
        model.noise_scale_,
        model.spread_scale_,
    )


def test_compile_option_trains_through_the_compiled_step(monkeypatch, tmp_path):
    """``compile=True`` trains and predicts through the compiled encoder step (here
    captured by dynamo and run by ``aot_eager``: inductor's code generation is tested in
    ``test_encoders``) and gives the eager fit's predictions to rounding."""
    import functools

    import torch._dynamo
    from torch._dynamo.utils import counters

    import latentode.nn.encoders as encoders

    df = _frame(12, 10)
    kw = dict(latent_dim=2, hidden_dim=4, units=8, max_epochs=2, batch_size=6, verbose=False)
    eager = LatentODE(**kw).fit(df).predict(df, n_samples=3)
    monkeypatch.setattr(
        encoders.torch, "compile", functools.partial(torch.compile, backend="aot_eager")
    )
    torch._dynamo.reset()
    counters.clear()
    model = LatentODE(compile=True, **kw).fit(df)
    assert model.module_.model.encoder.compiled
    assert counters["stats"]["unique_graphs"] >= 2
    compiled = model.predict(df, n_samples=3)
    cols = [c for c in eager.columns if eager[c].dtype.kind == "f"]
    np.testing.assert_allclose(compiled[cols], eager[cols], rtol=1e-4, atol=1e-5)
    loaded = LatentODE.load(model.save(tmp_path / "m"))  # not saved: predicts eagerly
    assert loaded.get_params()["compile"] is False and not loaded.module_.model.encoder.compiled
    with pytest.raises(ValueError, match="encoder='odernn'"):
        LatentODE(compile=True, encoder="mtan", max_epochs=1).fit(df)
