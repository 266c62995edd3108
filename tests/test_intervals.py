"""Prediction intervals (issue 13): exact quantiles of the posterior predictive mixture,
a point's band independent of the other times asked for, ``level=`` columns."""

import warnings

import numpy as np
import pytest
from scipy.stats import norm

from latentode import LatentODE
from latentode.datasets import periodic
from latentode.estimators.bands import band_factor, band_factors, mixture_quantiles, widen

QS = (0.05, 0.25, 0.5, 0.9)


def test_one_sample_is_a_normal_quantile_exactly():
    mu = np.array([[[1.0, -2.0]]])  # (K=1, n=1, D=2)
    got = mixture_quantiles(mu, np.array([0.5, 2.0]), QS)
    want = np.array([[1.0 + 0.5 * norm.ppf(q), -2.0 + 2.0 * norm.ppf(q)] for q in QS])
    np.testing.assert_allclose(got[:, 0], want, atol=1e-9)


def test_a_bimodal_mixture_matches_its_cdf_and_zero_noise_is_empirical():
    rng = np.random.default_rng(0)
    mu = np.concatenate([rng.normal(0, 0.2, 30), rng.normal(4, 0.2, 70)])[:, None, None]
    got = mixture_quantiles(np.repeat(mu, 2, axis=2), np.array([0.3, 0.0]), QS)
    cdf = norm.cdf((got[:, 0, 0][:, None] - mu[:, 0, 0][None]) / 0.3).mean(1)
    np.testing.assert_allclose(cdf, QS, atol=1e-9)
    np.testing.assert_allclose(got[:, 0, 1], np.quantile(mu[:, 0, 0], QS))


def test_band_factor_with_one_sample_is_the_normal_quantile_ratio():
    """One posterior sample per cell: the 90% band is ``mu +- 1.645 c std``, so the factor
    covering 90% of residuals ``r`` is the 90th percentile of ``|r| / (1.645 std)``."""
    rng = np.random.default_rng(0)
    r = rng.normal(0.0, 0.4, 2001)
    got = band_factor(np.zeros((1, 2001)), np.ones(2001), r)
    want = np.quantile(np.abs(r), 0.9) / norm.ppf(0.95)
    assert abs(got - want) < 2e-3


def test_band_factor_weights_count_cells_as_their_weight():
    """Weight 0 leaves a cell out; weight 2 counts it twice; each group of cells weighted
    by one over its size counts once, however many cells it has."""
    rng = np.random.default_rng(1)
    mu = rng.normal(0.0, 0.1, (5, 300))
    std = np.ones(300)
    y = np.concatenate([rng.normal(0.0, 0.3, 100), rng.normal(0.0, 1.5, 200)])
    first = np.arange(300) < 100
    alone = band_factor(mu[:, first], std[first], y[first])
    assert band_factor(mu, std, y, weights=first.astype(float)) == alone
    twice = np.where(first, 2.0, 1.0)
    repeated = band_factor(
        np.concatenate([mu, mu[:, first]], 1), np.ones(400), np.concatenate([y, y[first]])
    )
    assert band_factor(mu, std, y, weights=twice) == repeated
    per_group = np.where(first, 1 / 100, 1 / 200)
    pooled = band_factor(mu, std, y)
    balanced = band_factor(mu, std, y, weights=per_group)
    # the narrow group (std 0.3) weighs more once each group counts once: a smaller factor
    assert balanced < pooled


def test_widen_keeps_the_mean_and_scales_the_spread():
    rng = np.random.default_rng(2)
    samples = rng.normal(1.0, 0.5, (40, 7, 3))
    wide = widen(samples, 1.7)
    np.testing.assert_allclose(wide.mean(0), samples.mean(0), atol=1e-12)
    np.testing.assert_allclose(wide.std(0), 1.7 * samples.std(0), rtol=1e-12)
    assert widen(samples, 1.0) is samples


def test_band_coverage_is_that_of_the_exact_quantiles():
    """The coverage read from the mixture's CDF at each value equals the share of values
    between the band's exact quantiles (:func:`mixture_quantiles`)."""
    from latentode.estimators.bands import _coverage

    rng = np.random.default_rng(4)
    mu = rng.normal(0.0, rng.uniform(0.1, 2.0, 500), (30, 500))
    std, y, w = rng.uniform(0.05, 1.0, 500), rng.normal(0.0, 1.2, 500), rng.random(500)
    lo, hi = mixture_quantiles(mu[:, None, :], std, (0.05, 0.95))[:, 0]
    want = np.sum(w * ((y >= lo) & (y <= hi))) / np.sum(w)
    assert _coverage(mu, std, y, w, 0.9) == pytest.approx(want, abs=1e-12)


def _normal_cells(tau: float, var: float, n: int = 2000, k: int = 200) -> tuple:
    """Cells whose posterior samples are exactly N(0, tau^2)'s quantiles and whose values
    are N(0, var)'s: ``(mu (k, n), std (n,) = 1, y (n,), weights (n,))``."""
    mu = np.repeat(tau * norm.ppf((np.arange(k) + 0.5) / k)[:, None], n, 1)
    y = np.sqrt(var) * norm.ppf((np.arange(n) + 0.5) / n)
    return mu, np.ones(n), np.random.default_rng(3).permutation(y), np.ones(n)


def test_band_factors_solve_the_two_coverage_equations_in_closed_form():
    """Samples of spread tau widened by ``a`` plus noise ``c * std`` give the predictive
    N(0, a^2 tau^2 + c^2): values of variance ``a^2 tau^2 + c^2`` are covered 90% only at
    that ``(a, c)`` when the two kinds of cells have different ``tau``."""
    a, c = 0.8, 0.6
    inside = _normal_cells(0.5, a**2 * 0.25 + c**2)
    beyond = _normal_cells(2.0, a**2 * 4.0 + c**2)
    spread, noise = band_factors(inside, beyond)
    assert abs(spread - a) < 0.03 and abs(noise - c) < 0.03
    # one noise factor fitted to the inside cells over-covers the others: var 4.27 > 2.92
    from latentode.estimators.bands import _coverage

    alone = band_factor(*inside[:3], weights=inside[3])
    assert abs(alone - np.sqrt(0.52 - 0.25)) < 0.03
    assert _coverage(beyond[0], alone * beyond[1], beyond[2], beyond[3], 0.9) > 0.95


def test_band_factors_with_one_kind_of_cells_is_the_noise_factor_alone():
    cells = _normal_cells(0.5, 0.25 + 0.49)
    empty = (np.zeros((400, 0)), np.zeros(0), np.zeros(0), np.zeros(0))
    assert band_factors(cells, empty) == (1.0, band_factor(*cells[:3], weights=cells[3]))
    assert band_factors(empty, cells) == (1.0, band_factor(*cells[:3], weights=cells[3]))
    assert band_factors(empty, empty) == (1.0, 1.0)


@pytest.fixture(scope="module")
def model():
    df = periodic(12, 10, irregular=True, seed=0, noise_std=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LatentODE(latent_dim=2, hidden_dim=4, units=8, max_epochs=2, verbose=False).fit(
            df
        ), df


def test_a_points_band_does_not_depend_on_the_other_times_asked(model):
    est, df = model
    alone = est.predict(df, times={3: [1.5]})
    among = est.predict(df, times={3: [1.2, 1.5, 1.8, 3.0]})
    row = among[among["time"] == 1.5].reset_index(drop=True)
    cols = ["value_q0.05", "value_q0.5", "value_q0.95"]
    np.testing.assert_allclose(row[cols].to_numpy(), alone[cols].to_numpy(), rtol=1e-6)


def test_level_columns_follow_neuralforecast_names(model):
    est, df = model
    out = est.predict(df, times=[0.5, 1.0], quantiles=[0.5], level=(90, 80))
    assert list(out.columns) == [
        "id", "time", "value", "value_q0.5",
        "value-lo-80", "value-hi-80", "value-lo-90", "value-hi-90",
    ]  # fmt: skip
    q = est.predict(df, times=[0.5, 1.0], quantiles=[0.05, 0.1, 0.9, 0.95])
    np.testing.assert_allclose(out["value-lo-90"], q["value_q0.05"])
    np.testing.assert_allclose(out["value-hi-80"], q["value_q0.9"])
    assert (out["value-lo-90"] <= out["value-lo-80"]).all()
    ext = est.extrapolate(df, horizon=1.0, n_points=3, quantiles=None, level=50)
    assert list(ext.columns) == ["id", "time", "value", "value-lo-50", "value-hi-50"]
    filled = est.interpolate(df, level=[95])
    assert "value-hi-95" in filled and len(filled) == len(df)
    for bad in (0, 100, 150, "90", True):
        with pytest.raises(ValueError, match="level"):
            est.predict(df, level=bad)


def test_plot_draws_into_given_axes_with_truth_and_per_series_panels(model):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    est, df = model
    seen, held = df[df.index % 2 == 0], df[df.index % 2 == 1]
    fig, ax = plt.subplots()
    got = est.plot(seen, ids=[3], ax=ax, truth=held)
    assert got is fig and len(fig.axes) == 1
    offsets = [c.get_offsets() for c in ax.collections if len(c.get_offsets())]
    n_held = int((held["id"] == 3).sum())
    assert any(len(o) == n_held for o in offsets)  # the held-out markers
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"observed", "posterior mean", "held out", "0.05-0.95 band"} <= set(labels)
    # the curve covers the held-out times as well as the observed ones
    x = ax.lines[0].get_xdata()
    sub = df[df["id"] == 3]["time"]
    assert x.min() <= sub.min() + 1e-12 and x.max() >= sub.max() - 1e-12
    grid = est.plot(seen, ids=[3, 4, 5], panels="series")
    assert len(grid.axes) == 3
    with pytest.raises(ValueError, match="needs 3"):
        est.plot(seen, ids=[3, 4, 5], panels="series", ax=ax)
    with pytest.raises(ValueError, match="panels"):
        est.plot(seen, panels="grid")
    plt.close("all")
