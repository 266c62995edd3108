"""Covariates: static columns and known inputs (held values and impulses), from the
tensor layer (closed forms) through the pandas layer (checks, encodings) to the
estimator (known future inputs, saving, learning)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from latentode import LatentODE
from latentode.data.batch import Series, collate
from latentode.frames import CovariateSpec, DataFrameError, TimeCodec
from latentode.models.latent_ode import LatentODEModel
from latentode.nn.covariates import ConditionedField, Covariates
from latentode.nn.solve import SolverConfig, solve_at_times

TIGHT = SolverConfig(method="dopri5", rtol=1e-8, atol=1e-9, grid_step=0.01)


def _cov(knots, values, n_held, statics=None):
    return Covariates(
        None if statics is None else torch.tensor(statics, dtype=torch.float64),
        torch.tensor(knots, dtype=torch.float64),
        torch.tensor(values, dtype=torch.float64),
        n_held,
    )


# ------------------------------------------------------------------ tensor layer
def test_signal_is_the_step_function_of_its_knots():
    cov = _cov([[-np.inf, 0.0, 2.0, np.inf]], [[[5.0], [1.0], [3.0], [3.0]]], 1)
    t = torch.tensor([[-1.0, 0.0, 1.999, 2.0, 7.0]], dtype=torch.float64)
    got = cov.signal(t)[0, :, 0].tolist()
    assert got == [5.0, 1.0, 1.0, 3.0, 3.0]  # a knot's value applies from the knot on


class _Linear(nn.Module):
    """dz/dt = -k z + (cond summed): a field with a closed-form solution."""

    def __init__(self, k: float) -> None:
        super().__init__()
        self.k = k

    def forward(self, t, z, cond=None):
        out = -self.k * z
        return out if cond is None else out + cond.sum(-1, keepdim=True)


def test_impulses_jump_the_state_by_j_times_the_amount():
    # one compartment: dz/dt = -k z, doses u_i at s_i move z by J u_i
    k, j = 0.7, 1.5
    doses = [(0.0, 2.0), (1.0, 1.0), (2.5, 3.0)]
    knots = [[-np.inf] + [s for s, _ in doses]]
    cum = np.cumsum([0.0] + [u for _, u in doses])
    cov = _cov(knots, cum[None, :, None], 0)
    jump = nn.Linear(1, 1, bias=False).double()
    jump.weight.data.fill_(j)
    field = ConditionedField(_Linear(k), cov, jump)
    # (a grid interval holding a jump is interpolated to O(grid_step x the jump in dz/dt):
    # 0.985 sits in the interval before the one that holds the dose at 1.0)
    times = torch.tensor([[0.0, 0.5, 0.985, 1.0, 2.0, 2.6, 4.0]], dtype=torch.float64)
    z0 = torch.tensor([[0.3]], dtype=torch.float64)
    y = solve_at_times(field, z0, times[:, 0], times, TIGHT)
    z = y + jump(cov.split(cov.signal(times))[1])
    t = times[0].numpy()
    want = 0.3 * np.exp(-k * t)
    for s, u in doses:
        want = want + np.where(t >= s, j * u * np.exp(-k * (t - s)), 0.0)
    assert np.allclose(z[0, :, 0].detach().numpy(), want, atol=1e-5)


def test_held_inputs_and_statics_enter_the_field():
    # dz/dt = -k z + s + u(t): statics s and a held input u switching at t = 1
    k, s = 0.5, 0.4
    cov = _cov([[-np.inf, 0.0, 1.0]], [[[2.0], [2.0], [-1.0]]], 1, statics=[[s]])
    field = ConditionedField(_Linear(k), cov, None)
    times = torch.tensor([[0.0, 0.5, 1.0, 2.0, 3.0]], dtype=torch.float64)
    z = solve_at_times(field, torch.zeros(1, 1, dtype=torch.float64), times[:, 0], times, TIGHT)
    t = times[0].numpy()
    c1, c2 = s + 2.0, s - 1.0  # the forcing before and after the switch
    z1 = c1 / k * (1 - np.exp(-k * np.minimum(t, 1.0)))
    want = np.where(t <= 1.0, z1, c2 / k + (z1 - c2 / k) * np.exp(-k * (t - 1.0)))
    assert np.allclose(z[0, :, 0].detach().numpy(), want, atol=1e-5)


def _series(i, rng, doses):
    t = np.sort(rng.uniform(0, 5, 8))
    knots = np.concatenate([[-np.inf], [s for s, _ in doses]])
    values = np.cumsum([[0.0, 0.0]] + [[u, 1.0] for _, u in doses], axis=0)
    values[:, 1] = rng.normal()  # the first channel is held, the second an impulse
    return Series(
        times=t, values=rng.normal(size=(8, 2)), id=i, statics=[float(i % 2), rng.normal()],
        input_times=knots, input_values=values,
    )  # fmt: skip


def test_a_series_gets_the_same_answer_alone_and_in_a_batch():
    rng = np.random.default_rng(0)
    series = [_series(i, rng, [(rng.uniform(0, 5), 1.0)] * (i + 1)) for i in range(4)]
    torch.manual_seed(0)
    model = LatentODEModel(2, 4, n_statics=2, n_held=1, n_impulses=1, solver=TIGHT).double()
    model.set_time_scale(0.0, 50.0)  # encoder gaps within one step: no batch-set step count
    eps = torch.randn(3, 4, 4, dtype=torch.float64)
    together = model.predict_samples(collate(series, torch.float64), 3, eps)
    for b, s in enumerate(series):
        alone = model.predict_samples(collate([s], torch.float64), 3, eps[:, b : b + 1])
        assert torch.allclose(alone[:, 0], together[:, b, : len(s)], atol=1e-6)


def test_a_model_with_covariates_refuses_a_batch_without_them():
    model = LatentODEModel(2, 4, n_statics=1)
    batch = collate([Series(times=[0.0, 1.0], values=np.zeros((2, 2)))])
    with pytest.raises(ValueError, match="batch.statics of width 1, got 0"):
        model.predict_samples(batch, 2)


# ------------------------------------------------------------------ pandas layer
def _frame():
    return pd.DataFrame(
        {
            "id": ["a"] * 4 + ["b"] * 3,
            "time": [0.0, 1.0, 2.0, 3.0, 0.0, 1.5, 1.5],
            "y": [1.0, 2.0, np.nan, 3.0, 0.5, np.nan, 1.0],
            "diet": ["x", "x", "x", "x", "y", "y", "y"],
            "weight": [2.0] * 4 + [4.0] * 3,
            "dose": [5.0, np.nan, 1.0, np.nan, np.nan, 2.0, 3.0],
            "rate": [1.0, np.nan, 3.0, np.nan, np.nan, 6.0, np.nan],
        }
    )


def _spec(df, **kw):
    kw.setdefault("static_cols", ["diet", "weight"])
    kw.setdefault("input_cols", {"rate": "held", "dose": "impulse"})
    return CovariateSpec.fit(df, "id", "time", reserved=["y"], **kw)


def _attach(spec, df):
    codec = TimeCodec.fit(df["time"])
    series = [Series(times=codec.encode(g["time"]), values=g[["y"]], id=i) for i, g in
              df.groupby("id")]  # fmt: skip
    return spec.attach(series, df, "id", "time", codec), codec


def test_statics_are_encoded_per_series():
    df = _frame()
    spec = _spec(df)
    (a, b), _ = _attach(spec, df)
    # diet one-hot (x, y), weight standardized over the two series (2 and 4)
    assert a.statics.tolist() == [1.0, 0.0, -1.0] and b.statics.tolist() == [0.0, 1.0, 1.0]
    assert spec.n_statics == 3


def test_inputs_are_held_or_accumulated_at_their_rows():
    df = _frame()
    spec = _spec(df)
    (a, b), codec = _attach(spec, df)
    rate_scale, dose_scale = spec.inputs[0], spec.inputs[1]
    assert list(spec.input_cols) == ["rate", "dose"]  # held channels first
    rate = a.input_values[:, 0] * rate_scale["scale"] + rate_scale["offset"]
    dose = a.input_values[:, 1] * dose_scale["scale"]
    assert np.isneginf(a.input_times[0]) and np.allclose(codec.decode_values(a.input_times[1:]),
                                                         [0, 1, 2, 3])  # fmt: skip
    assert np.allclose(rate, [1, 1, 1, 3, 3])  # before the first row: the first value
    assert np.allclose(dose, [0, 5, 5, 6, 6])  # cumulative; nothing before the first row
    # series b: its held input starts at its second row (back-filled), two doses at t=1.5 add
    rate_b = b.input_values[:, 0] * rate_scale["scale"] + rate_scale["offset"]
    assert np.allclose(rate_b, [6, 6, 6])
    assert np.allclose(b.input_values[:, 1] * dose_scale["scale"], [0, 0, 5])
    assert dose_scale["scale"] == pytest.approx(np.sqrt(np.mean(np.square([5, 1, 2, 3]))))


def test_the_spec_survives_json():
    import json

    df = _frame()
    spec = _spec(df)
    again = CovariateSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    (a1, b1), _ = _attach(spec, df)
    (a2, b2), _ = _attach(again, df)
    assert np.array_equal(a1.statics, a2.statics) and np.array_equal(
        b1.input_values, b2.input_values
    )


@pytest.mark.parametrize(
    ("change", "kw", "match"),
    [
        (lambda d: d.assign(diet=["x", "z", "x", "x", "y", "y", "y"]), {},
         r"static column 'diet' varies within series 'a' \(series 'a' takes 'x', 'z'\)"),
        (lambda d: d.assign(weight=[2.0, np.nan, 2, 2, 4, 4, 4]), {},
         r"static column 'weight' is missing \(NaN\) in series 'a'"),
        (lambda d: d.assign(dose=list("abcdefg")), {}, "input column 'dose' has dtype"),
        (lambda d: d.assign(rate=[np.nan] * 4 + [1.0] * 3), {},
         r"held input column\(s\) 'rate' have no value in series 'a'"),
        (lambda d: d.assign(dose=[np.inf] + [1.0] * 6), {}, "'dose' has 1 infinite"),
        (lambda d: d, {"static_cols": ["y"]}, "'y' is also a target or label column"),
        (lambda d: d, {"static_cols": ["dose"]}, "'dose' is also in static_cols"),
        (lambda d: d, {"static_cols": ["nope"]}, "covariate column.*'nope' not found"),
        (lambda d: d, {"input_cols": {"dose": "bolus"}}, "kinds {'dose': 'bolus'} unknown"),
        (lambda d: d, {"static_cols": ["id"]}, "'id' is also the id column"),
    ],
)  # fmt: skip
def test_bad_covariates_are_refused_by_name(change, kw, match):
    df = change(_frame())
    with pytest.raises((DataFrameError, ValueError), match=match):
        _attach(_spec(df, **kw), df)


def test_an_unseen_category_is_refused_by_name():
    df = _frame()
    spec = _spec(df)
    with pytest.raises(DataFrameError, match=r"categories 'q' not seen in fit \(series 'b'"):
        _attach(spec, df.assign(diet=["x"] * 4 + ["q"] * 3))


# ------------------------------------------------------------------ estimator
def _fit(df, **kw):
    est = LatentODE(latent_dim=4, units=16, hidden_dim=8, max_epochs=2, batch_size=4,
                    verbose=False, val_size=0.0, solver="rk4")  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(df, **kw)


def _dosed(n=6, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        for t in np.arange(0, 6.0, 0.5):
            rows.append({"id": i, "time": t, "conc": float(np.exp(-t) + rng.normal(0, 0.01)),
                         "dose": 1.0 if t == 0 else np.nan, "group": "ab"[i % 2]})  # fmt: skip
    return pd.DataFrame(rows)


def test_future_inputs_change_only_the_predictions_after_them():
    df = _dosed()
    est = _fit(df, target_cols=["conc"], input_cols={"dose": "impulse"})
    past = df[df["time"] <= 2.0]
    later = pd.DataFrame({"id": [0], "time": [4.0], "conc": [np.nan], "dose": [2.0]})
    # fixed steps: a solve reads no field value after its query (adaptive steps would
    # shift within the tolerance when a later input changes)
    times = {0: np.array([1.0, 3.0, 3.5, 4.0, 5.0])}
    plain_pred = est.predict(past[past["id"] == 0], times=times, quantiles=None)
    dosed_pred = est.predict(pd.concat([past[past["id"] == 0], later]), times=times,
                             quantiles=None)  # fmt: skip
    before = plain_pred["time"] < 4.0
    assert np.allclose(plain_pred.loc[before, "conc"], dosed_pred.loc[before, "conc"], atol=1e-5)
    assert not np.allclose(plain_pred.loc[~before, "conc"], dosed_pred.loc[~before, "conc"])


def test_covariates_are_saved_and_reloaded(tmp_path):
    df = _dosed()
    est = _fit(df, target_cols=["conc"], static_cols=["group"], input_cols={"dose": "impulse"})
    est.save(tmp_path / "m")
    again = LatentODE.load(tmp_path / "m")
    assert again.covariates_.to_dict() == est.covariates_.to_dict()
    a, b = est.predict(df), again.predict(df)
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(DataFrameError, match="covariate column.*'group' not found"):
        est.predict(df.drop(columns="group"))


def test_target_cols_none_leaves_the_covariates_out():
    df = _dosed().assign(w=1.0)
    est = _fit(df, static_cols=["w"], input_cols={"dose": "impulse"})
    assert est.target_cols_ == ["conc"]
    assert est.module_.model.n_statics == 1 and est.module_.model.n_impulses == 1


def test_covariates_with_poisson_are_refused():
    with pytest.raises(ValueError, match="do not work with poisson=True"):
        LatentODE(poisson=True).fit(_dosed(), static_cols=["group"])


def _signed_trends(n=48, seed=0):
    """y = sign * t: the sign is given only as a static category; every series starts
    at 0, so its first half barely tells the direction from noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        sign = 1.0 if i % 2 else -1.0
        for t in np.linspace(0, 2, 9):
            rows.append({"id": i, "time": t, "y": sign * t**2 + rng.normal(0, 0.3),
                         "kind": "up" if sign > 0 else "down"})  # fmt: skip
    return pd.DataFrame(rows)


def test_a_static_covariate_is_learned():
    df = _signed_trends()
    train, test = df[df["id"] < 36], df[df["id"] >= 36]
    scores = {}
    for name, kw in (("static", {"static_cols": ["kind"]}), ("none", {})):
        est = LatentODE(latent_dim=4, units=32, hidden_dim=8, max_epochs=40, batch_size=8,
                        verbose=False, seed=0, val_size=0.0)  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(train, target_cols=["y"], **kw)
            table = est.evaluate(test, task="extrapolate", fraction=0.3).set_index("method")
        scores[name] = table.loc["LatentODE", "mse_y"]
        scores["best baseline"] = table.drop(index="LatentODE")["mse_y"].min()
    assert scores["static"] < 0.5 * scores["none"], scores
    assert scores["static"] < 0.5 * scores["best baseline"], scores
