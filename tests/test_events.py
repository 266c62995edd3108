import numpy as np
import pandas as pd
import pytest

from latentode import DataFrameError, EventIntensity
from latentode.datasets import spike_trains
from latentode.frames import TimeCodec, check_events, cut_windows, events_to_series, window_tuples
from latentode.naive import histogram_loglik, poisson_loglik

CODEC = TimeCodec.fit(pd.Series([0.0, 10.0]))


def _frame(rows):
    return pd.DataFrame(rows, columns=["id", "time"])


def test_check_events_sorts_and_windows():
    df = _frame([("b", 3.0), ("a", 2.0), ("a", 1.0)])
    seqs, marks = check_events(df, "id", "time", codec=CODEC)
    assert [s.id for s in seqs] == ["a", "b"] and marks == [None]
    assert seqs[0].times.tolist() == [1.0, 2.0] and (seqs[0].start, seqs[0].end) == (1.0, 2.0)
    seqs, _ = check_events(df, "id", "time", window=(0.0, 5.0), codec=CODEC)
    assert all((s.start, s.end) == (0.0, 5.0) for s in seqs)
    win = pd.DataFrame({"id": ["a", "b", "c"], "start": [0.0, 0.0, 1.0], "end": [4, 4, 2]})
    seqs, _ = check_events(df, "id", "time", window=win, codec=CODEC)
    assert [s.id for s in seqs] == ["a", "b", "c"] and len(seqs[2].times) == 0  # empty: allowed
    series = events_to_series(seqs, 1)
    assert series[0].times.tolist() == [0.0, 1.0, 2.0, 4.0]
    assert series[0].mask[:, 0].tolist() == [False, True, True, False]


def test_check_events_errors():
    with pytest.raises(DataFrameError, match="'a'"):
        check_events(_frame([("a", 1.0), ("a", 1.0)]), "id", "time", codec=CODEC)
    with pytest.raises(DataFrameError, match="outside their window"):
        check_events(_frame([("a", 1.0), ("b", 9.0)]), "id", "time", window=(0, 5), codec=CODEC)
    with pytest.raises(DataFrameError, match="missing 'time'"):
        check_events(_frame([("a", np.nan), ("b", 9.0)]), "id", "time", codec=CODEC)
    with pytest.raises(DataFrameError, match="kind"):
        check_events(_frame([("a", 1.0)]), "id", "kind", codec=CODEC)
    marked = pd.DataFrame({"id": [1, 1], "time": [0.0, 1.0], "kind": ["x", "y"]})
    with pytest.raises(DataFrameError, match="not seen in fit"):
        check_events(marked, "id", "time", "kind", codec=CODEC, marks=["x"])


def _simulate(n_seq, seed, t_end=10.0):
    """Thinning from λ(t) = 0.5 + 4 exp(-(t - 3)^2 / 2) (a burst, then a quiet rate)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_seq):
        n = rng.poisson(5.0 * t_end)
        c = np.sort(rng.uniform(0, t_end, n))
        keep = rng.random(n) * 5.0 < _rate(c)
        rows += [(i, t) for t in c[keep]]
    return _frame(rows)


def _rate(t):
    return 0.5 + 4.0 * np.exp(-0.5 * (t - 3.0) ** 2)


#: epochs per dynamics: the jump state (a fixed-step flow, about 4x the latent model's
#: time per epoch) passed these tests after 20 epochs on 2026-12-07 (intensity MAE 0.341
#: against the 0.568 bar, held-out loglik/event -0.388 against the homogeneous -0.692) and
#: was near the MAE bar after 10 (0.540); the latent model needs its 40 (0.612 after 20)
EPOCHS = {"jump": 20, "latent": 40}


@pytest.fixture(scope="module", params=["jump", "latent"])
def fitted(request):
    train = _simulate(60, seed=0)
    model = EventIntensity(
        latent_dim=4,
        units=32,
        max_epochs=EPOCHS[request.param],
        batch_size=10,
        lr=0.02,
        verbose=False,
        seed=0,
        dynamics=request.param,
    )
    return model.fit(train, window=(0.0, 10.0)), train


def test_recovers_the_rate_and_beats_a_homogeneous_poisson(fitted):
    model, train = fitted
    test = _simulate(20, seed=1)
    grid = np.linspace(0, 10, 50)
    est = model.intensity(test, times=grid, window=(0.0, 10.0), n_samples=30)
    mae = np.abs(est["intensity"].to_numpy() - _rate(est["time"].to_numpy())).mean()
    const_mae = np.abs(_rate(grid) - _rate(grid).mean()).mean()
    score = model.score_details(test, window=(0.0, 10.0), n_samples=50)
    rate = len(train) / (60 * 10.0)  # homogeneous MLE on the same training data
    hom = (len(test) * np.log(rate) - rate * 10.0 * 20) / len(test)
    print(
        f"\nintensity MAE {mae:.3f} (constant {const_mae:.3f}); held-out loglik/event "
        f"{score['loglik_per_event']:.4f} vs homogeneous {hom:.4f}"
    )
    assert score["n_events"] == len(test)
    assert mae < 0.5 * const_mae
    assert score["loglik_per_event"] > hom


def test_sample_counts_match_expected_count(fitted):
    model, _ = fitted
    test = _simulate(5, seed=2)
    expected = model.expected_count(test, 0.0, 10.0, window=(0.0, 10.0), n_samples=200)
    draws = model.sample(test, window=(0.0, 10.0), n_samples=200)
    counts = draws.groupby(["id", "sample"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=range(200), fill_value=0)
    mean = counts.mean(axis=1).to_numpy()
    sd = counts.std(axis=1).to_numpy() / np.sqrt(200)
    exp = expected.set_index("id").loc[counts.index, "expected_count"].to_numpy()
    assert np.all(np.abs(mean - exp) < 4 * sd + 0.05 * exp)


def test_predict_next_save_load_plot(fitted, tmp_path):
    model, train = fitted
    sub = train[train["id"] < 3]
    nxt = model.predict_next(sub, quantiles=(0.1, 0.5, 0.9), n_samples=30)
    last = sub.groupby("id")["time"].max().to_numpy()
    assert (nxt["next_q0.1"].to_numpy() >= last).all()
    assert (nxt["next_q0.1"] <= nxt["next_q0.5"]).all() and (
        nxt["next_q0.5"] <= nxt["next_q0.9"]
    ).all()
    path = model.save(tmp_path / "ev")
    loaded = EventIntensity.load(path)
    a = model.intensity(sub, times=[1.0, 5.0], window=(0.0, 10.0), n_samples=10)
    b = loaded.intensity(sub, times=[1.0, 5.0], window=(0.0, 10.0), n_samples=10)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    fig = model.plot(sub, window=(0.0, 10.0), ids=[0, 1])
    assert len(fig.axes) == 2


def test_batched_answers_are_each_sequences_own(fitted):
    """predict_next and sample run all sequences in one batched posterior; a sequence gets
    what it gets alone (its own random streams; the solve is shared only to within the
    solver tolerance)."""
    model, _ = fitted
    test = _simulate(6, seed=5)
    both = model.predict_next(test, n_samples=20).set_index("id")
    draws = model.sample(test, window=(0.0, 10.0), n_samples=5)
    for i in (0, 3):
        mine = test[test["id"] == i]
        alone = model.predict_next(mine, n_samples=20).set_index("id")
        np.testing.assert_allclose(alone.loc[i].to_numpy(float), both.loc[i].to_numpy(float),
                                   rtol=5e-3)  # fmt: skip
        own = model.sample(mine, window=(0.0, 10.0), n_samples=5)
        theirs = draws[draws["id"] == i].reset_index(drop=True)
        assert len(own) == len(theirs) and np.allclose(own["time"], theirs["time"])


def test_predict_next_horizon_is_a_duration():
    """A numeric horizon is a span after each sequence's last event, as in
    ``LatentODE.extrapolate``, whatever the times' origin (it was read as a time, so on
    times near 1000 a horizon of 3 meant "up to t = 3": every quantile NaN)."""
    events = _simulate(12, seed=4)
    events["time"] += 1000.0
    model = EventIntensity(latent_dim=3, units=16, max_epochs=2, batch_size=6, verbose=False)
    with pytest.warns(UserWarning, match="optimisation steps"):
        model.fit(events, window=(1000.0, 1010.0))
    sub = events[events["id"] < 4]
    last = sub.groupby("id")["time"].max().to_numpy()
    wide = model.predict_next(sub, quantiles=(0.5,), n_samples=10, horizon=50.0)
    gap = wide["next_q0.5"].to_numpy() - last
    assert np.all(np.isfinite(gap)) and np.all(gap > 0)
    short = model.predict_next(sub, quantiles=(0.5,), n_samples=10, horizon=float(gap.max()) * 2)
    coarse = 2 * 50.0 / 399  # twice the wide call's grid spacing
    assert np.allclose(short["next_q0.5"].to_numpy(), wide["next_q0.5"].to_numpy(), atol=coarse)
    none = model.predict_next(sub, quantiles=(0.5,), n_samples=10, horizon=float(gap.min()) / 4)
    assert none["next_q0.5"].isna().all()


def test_marks_and_datetimes():
    rng = np.random.default_rng(3)
    base = pd.Timestamp("2024-01-01", tz="UTC")
    rows = []
    for i in range(6):
        t = np.sort(rng.uniform(0, 86400 * 5, 15))
        rows += [
            (i, base + pd.Timedelta(seconds=float(s)), rng.choice(["quake", "tremor"])) for s in t
        ]
    df = pd.DataFrame(rows, columns=["id", "time", "kind"])
    model = EventIntensity(latent_dim=3, units=16, max_epochs=2, verbose=False)
    model.fit(df, mark_col="kind")
    assert model.marks_ == ["quake", "tremor"]
    out = model.intensity(df[df["id"] == 0], times=[base + pd.Timedelta("1D")], n_samples=5)
    assert list(out.columns) == ["id", "time", "intensity_quake", "intensity_tremor"]
    assert isinstance(out["time"].dtype, pd.DatetimeTZDtype)
    res = model.score_details(df, n_samples=5)
    assert model.score(df, n_samples=5) == res["loglik_per_event"]
    assert res["n_events"] == len(df) and np.isfinite(res["loglik"])


def test_jump_dynamics_recover_per_sequence_rhythm():
    """Near-regular spike trains, each with its own rate and phase: the history state
    predicts the next spike, so it beats both pooled baselines by a wide margin and its
    rate peaks at the events. (The z0-driven rate gains about 0.03 nats here.)"""
    df = spike_trains(90, 10.0, seed=0)[["id", "time"]]
    train, test = df[df["id"] < 60], df[df["id"] >= 60]
    model = EventIntensity(latent_dim=8, units=50, max_epochs=20, verbose=False, seed=0)
    model.fit(train, window=(0.0, 10.0))
    assert model.get_params()["dynamics"] == "jump"

    def windows(frame):
        return [(g["time"].to_numpy(), 0.0, 10.0) for _, g in frame.groupby("id")]

    hom = poisson_loglik(windows(train), windows(test))
    hist = histogram_loglik(windows(train), windows(test), 10)
    got = model.score(test, window=(0.0, 10.0))
    print(f"\nloglik/event {got:.3f}, homogeneous {hom:.3f}, histogram {hist:.3f}")
    assert got > max(hom, hist) + 0.15
    # the rate just before each spike against the rate half-way between spikes
    one = test[test["id"] == 60]
    t = np.sort(one["time"].to_numpy())
    at = model.intensity(one, t[1:] - 1e-6, window=(0.0, 10.0))["intensity"].mean()
    mid = model.intensity(one, (t[1:] + t[:-1]) / 2, window=(0.0, 10.0))["intensity"].mean()
    assert at > 1.3 * mid


def test_event_baselines_closed_form():
    train = [(np.array([1.0, 2.0, 3.0]), 0.0, 4.0), (np.array([5.0]), 4.0, 6.0)]
    test = [(np.array([0.5, 1.5]), 0.0, 2.0)]
    rate = 4 / 6.0
    assert poisson_loglik(train, test) == pytest.approx((2 * np.log(rate) - rate * 2.0) / 2)
    # two bins over time since the window start ([0, 2), [2, 4]): train counts 2 and 2 on
    # exposures 4 and 2; rates (2.5 / 4, 2.5 / 2) with the 0.5 prior count
    got = histogram_loglik(train, test, 2, relative=True)
    r0 = 2.5 / 4
    assert got == pytest.approx((2 * np.log(r0) - r0 * 2.0) / 2)
    with pytest.raises(ValueError, match="positive exposure"):
        poisson_loglik([(np.zeros(0), 0.0, 1.0)], test)


def test_spike_trains_are_regular_with_a_rate_per_sequence():
    df = spike_trains(40, 50.0, regularity=25.0, seed=3)
    assert df.groupby("id")["rate"].nunique().eq(1).all()
    assert df["time"].between(0.0, 50.0).all()
    gaps = df.groupby("id")["time"].diff().dropna()
    cv = (gaps.groupby(df["id"]).std() / gaps.groupby(df["id"]).mean()).mean()
    assert abs(cv - 1 / 5) < 0.05  # 1 / sqrt(regularity); a Poisson process has 1
    counts = df.groupby("id").size()
    expected = 50.0 * df.groupby("id")["rate"].first()
    # renewal counts: sd about sqrt(mean) / 5; a Poisson process's would be sqrt(mean)
    z = (counts - expected) / np.sqrt(expected)
    assert float(np.sqrt((z**2).mean())) < 0.4
    pd.testing.assert_frame_equal(df, spike_trains(40, 50.0, regularity=25.0, seed=3))


def test_cut_windows_keeps_every_event_and_empty_windows():
    ev, win = cut_windows([0.5, 1.2, 1.3, 7.9, 8.0], 2.0)
    assert win["start"].tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert (win["end"] - win["start"]).eq(2.0).all()
    assert ev["id"].tolist() == [0, 0, 0, 3, 4] and len(ev) == 5
    merged = ev.merge(win, on="id")
    assert ((merged["time"] >= merged["start"]) & (merged["time"] < merged["end"])).all()
    tuples = window_tuples(ev, win)
    assert [len(t) for t, _, _ in tuples] == [3, 0, 0, 1, 1]  # empty windows kept
    assert [(a, b) for _, a, b in tuples] == list(zip(win["start"], win["end"], strict=True))
    with pytest.raises(ValueError, match="width"):
        cut_windows([1.0], 0.0)


def test_files_saved_before_the_jump_dynamics_load_as_latent(tmp_path):
    import json

    from latentode.models.event import EventModel

    df = spike_trains(6, 5.0, seed=1)[["id", "time"]]
    model = EventIntensity(
        latent_dim=2, units=8, max_epochs=1, verbose=False, dynamics="latent", val_size=0.0
    )
    model.fit(df, window=(0.0, 5.0))
    path = model.save(tmp_path / "old")
    cfg_path = next(p for p in tmp_path.rglob("config.json"))
    cfg = json.loads(cfg_path.read_text())
    cfg["params"].pop("dynamics")  # as written before the option existed
    cfg["params"].pop("max_step")
    cfg["fitted"]["module_hparams"].pop("dynamics")
    cfg.pop("format_version"), cfg.pop("config_sha256")  # format 1 had neither
    cfg_path.write_text(json.dumps(cfg))
    loaded = EventIntensity.load(path)
    assert loaded.dynamics == "latent" and isinstance(loaded.module_.model, EventModel)
    a = model.intensity(df, times=[1.0, 2.0], window=(0.0, 5.0), n_samples=5)
    b = loaded.intensity(df, times=[1.0, 2.0], window=(0.0, 5.0), n_samples=5)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
