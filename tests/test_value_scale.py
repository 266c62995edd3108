"""The value rescaling: fitted statistics, exact invariance of the model, old files."""

import numpy as np
import pytest
import torch

from latentode.data.batch import Series, collate
from latentode.data.scaling import fit_value_scale
from latentode.models.latent_ode import LatentODEModel
from latentode.models.recurrent import ODERNN
from latentode.models.timescale import ValueScaler


def _series(seed: int = 0, n: int = 6) -> list[Series]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        t = np.sort(rng.uniform(0, 3, 12))
        v = np.stack([5.0 + 2.0 * np.sin(t + i), -300.0 + 40.0 * rng.normal(size=12)], 1)
        v[rng.random(v.shape) < 0.3] = np.nan  # missing cells
        out.append(Series(times=t, values=v, id=i))
    return out


def test_fit_value_scale_is_the_mean_and_std_of_present_values():
    series = _series()
    offset, scale = fit_value_scale(series)
    for j in range(2):
        v = np.concatenate([s.values[s.mask[:, j], j] for s in series])
        assert offset[j] == pytest.approx(v.mean())
        assert scale[j] == pytest.approx(v.std())


def test_fit_value_scale_constant_and_empty_features():
    t = np.arange(4.0)
    a = Series(times=t, values=np.stack([np.full(4, 7.0), np.full(4, np.nan)], 1))
    offset, scale = fit_value_scale([a])
    assert offset.tolist() == [7.0, 0.0] and scale.tolist() == [1.0, 1.0]
    with pytest.raises(ValueError):
        fit_value_scale([])


def test_value_scaler_rejects_bad_scales():
    vs = ValueScaler(2)
    with pytest.raises(ValueError, match="finite and positive"):
        vs.set([0.0, 0.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="finite and positive"):
        vs.set(float("nan"), 1.0)


def _pair(factory):
    """Two models with identical weights; the second standardizes with (o, s)."""
    torch.manual_seed(0)
    a = factory()
    b = factory()
    b.load_state_dict(a.state_dict())
    return a, b


@pytest.mark.parametrize("kind", ["latent_ode", "odernn"])
def test_model_with_value_scale_is_the_identity_model_on_standardized_data(kind):
    series = _series()
    offset, scale = fit_value_scale(series)
    if kind == "latent_ode":
        a, b = _pair(lambda: LatentODEModel(2, 4, units=16, enc_units=16, obs_std=0.3))
    else:
        a, b = _pair(lambda: ODERNN(2, units=16, obs_std=0.3))
    b.set_value_scale(offset, scale)
    raw = collate(series, dtype=torch.float64)
    std = collate(
        [
            Series(times=s.times, values=np.where(s.mask, (s.values - offset) / scale, np.nan))
            for s in series
        ],
        dtype=torch.float64,
    )
    a, b = a.double(), b.double()
    torch.manual_seed(1)
    if kind == "latent_ode":
        eps = torch.randn(3, len(series), 4, dtype=torch.float64)
        pa, pb = a.predict_samples(std, 3, eps), b.predict_samples(raw, 3, eps)
        torch.manual_seed(2)
        la = a._log_weight_terms(std, 3)[3]
        torch.manual_seed(2)
        lb = b._log_weight_terms(raw, 3)[3]
    else:
        pa, pb = a.predict(std), b.predict(raw)
        la, lb = a(std)["log_px"], b(raw)["log_px"]
    s = torch.as_tensor(scale)
    o = torch.as_tensor(offset)
    torch.testing.assert_close(pb, o + s * pa)
    # log p(x) in data units = log p(standardized x) - sum of log scale per scored value
    jac = (raw.target_mask * torch.log(s)).sum((-1, -2))
    torch.testing.assert_close(lb, la - jac)


def test_masked_values_have_no_influence_with_a_value_scale():
    series = _series()
    model = LatentODEModel(2, 4, units=16, enc_units=16, obs_std=0.3).double()
    model.set_value_scale(*fit_value_scale(series))
    batch = collate(series, dtype=torch.float64)
    changed = collate(series, dtype=torch.float64)
    changed.values[changed.mask == 0] = 1e6  # padding and missing cells
    m1, s1 = model.encode(batch)
    m2, s2 = model.encode(changed)
    torch.testing.assert_close(m1, m2)
    torch.testing.assert_close(s1, s2)
