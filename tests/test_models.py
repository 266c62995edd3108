from dataclasses import replace

import lightning as L
import numpy as np
import pytest
import torch
from torch.distributions import Normal

from latentode.data import Series, collate, subsample_observed
from latentode.datasets import periodic_series
from latentode.models import ODERNN, GRUDelta, LatentODEModel, rnn_vae
from latentode.training import IrregularDataModule, LatentODEModule


def _batch(n=6, seed=0):
    series = subsample_observed(periodic_series(n, 30, irregular=True, seed=seed), 0.5, seed=seed)
    return series


def _tight(model):
    model.decoder.solver.rtol = 1e-9
    model.decoder.solver.atol = 1e-9
    return model.double()


def test_each_series_gets_the_same_prediction_alone_or_batched():
    series = _batch()
    model = _tight(LatentODEModel(1, 4, units=16, enc_units=16))
    model.set_time_scale(0.0, 5.0)

    def posterior_mean_prediction(b):
        mean, _ = model.encode(b)
        return model.readout(model.latent_trajectory(mean[None], b))[0]

    together = posterior_mean_prediction(collate(series, dtype=torch.float64))
    for i, s in enumerate(series):
        alone = posterior_mean_prediction(collate([s], dtype=torch.float64))
        n = len(s)
        assert torch.allclose(alone[0, :n], together[i, :n], atol=1e-6)


def test_times_rescaled_so_scale_is_irrelevant():
    series = _batch(4)
    model = _tight(LatentODEModel(1, 4, units=16, enc_units=16))
    model.set_time_scale(0.0, 5.0)
    b1 = collate(series, dtype=torch.float64)
    mean1, _ = model.encode(b1)
    p1 = model.readout(model.latent_trajectory(mean1[None], b1))
    scaled = [
        Series(
            times=s.times * 1e5 + 3e5,
            values=s.values,
            mask=s.mask,
            obs_mask=s.obs_mask,
            target_mask=s.target_mask,
        )
        for s in series
    ]
    model.set_time_scale(3e5, 5e5)
    b2 = collate(scaled, dtype=torch.float64)
    mean2, _ = model.encode(b2)
    p2 = model.readout(model.latent_trajectory(mean2[None], b2))
    assert torch.allclose(p1, p2, atol=1e-6)


def test_training_with_times_times_1e5_stays_finite(tmp_path):
    L.seed_everything(0)
    series = [
        Series(times=s.times * 1e5, values=s.values, mask=s.mask, obs_mask=s.obs_mask)
        for s in _batch(40, seed=1)
    ]
    dm = IrregularDataModule(series, series[:10], batch_size=20)
    module = LatentODEModule(1, 4, units=16, enc_units=16, training={"kl_delay": 0})
    trainer = L.Trainer(
        max_steps=4,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        val_check_interval=2,
    )
    trainer.fit(module, dm)
    assert float(module.model.time_scale) > 1e5
    metrics = trainer.callback_metrics
    assert np.isfinite(float(metrics["train_loss"]))
    assert np.isfinite(float(metrics["val_loss"]))
    assert all(torch.isfinite(p).all() for p in module.parameters())


def test_bounds_from_the_model():
    b = collate(_batch())
    model = LatentODEModel(1, 4, units=16, enc_units=16)
    out = model(b, n_samples=5)
    assert (out["iwae"] >= out["mc_elbo"] - 1e-3).all()
    assert out["pred"].shape == b.values.shape
    assert out["samples"].shape == (5, *b.values.shape)
    assert torch.isfinite(model.log_marginal(b, 20)).all()
    with pytest.raises(ValueError, match="objective"):
        model(b, objective="nope")


@pytest.mark.parametrize("make", [ODERNN, GRUDelta])
def test_recurrent_baselines_predict_from_earlier_points_only(make):
    model = make(1, hidden_dim=8, units=16).double()
    s = _batch(1)[0]
    s = Series(times=s.times, values=s.values, mask=s.mask)  # all observed
    b = collate([s], dtype=torch.float64)
    p1 = model.predict(b)
    b2 = collate([s], dtype=torch.float64)
    b2.values[0, 10] += 3.0
    p2 = model.predict(b2)
    assert torch.equal(p1[0, :11], p2[0, :11])  # point 10 itself is predicted before its update
    assert not torch.allclose(p1[0, 11:], p2[0, 11:])
    out = model(b)
    assert torch.isfinite(out["loss"])


def test_rnn_vae_and_rnn_encoder_run():
    b = collate(_batch())
    for model in (rnn_vae(1, 4, units=16), LatentODEModel(1, 4, encoder="rnn", units=16)):
        out = model(b)
        out["loss"].backward()
        assert torch.isfinite(out["loss"])
    with pytest.raises(ValueError, match="encoder"):
        LatentODEModel(1, encoder="lstm")


def test_poisson_observation_times_term():
    torch.manual_seed(0)
    b = collate(_batch(), dtype=torch.float64)
    plain = _tight(LatentODEModel(1, 4, units=16, enc_units=16)).double()
    joint = _tight(
        LatentODEModel(1, 4, units=16, enc_units=16, poisson=True, poisson_base_rate=3.0)
    ).double()
    joint.load_state_dict(plain.state_dict(), strict=False)
    for m in (plain, joint):
        m.set_time_scale(0.0, 5.0)
    mean, std = plain.encode(b)
    z0 = mean[None]
    z, log_times = joint.poisson_log_likelihood(z0, b)
    assert torch.allclose(z, plain.latent_trajectory(z0, b), atol=1e-6)
    # independent computation: rate at the scored cells, trapezoid integral of the rate
    t = joint.rescale(b.times)
    for i in range(b.batch_size):
        n = int(b.lengths[i])
        grid = torch.linspace(float(t[i, 0]), float(t[i, n - 1]), 4001, dtype=torch.float64)
        zg = plain.decoder(z0[:, i : i + 1], t[i : i + 1, 0], grid[None])[0, 0]
        lam = joint.intensity(zg)[:, 0]
        integral = torch.trapezoid(lam, grid)
        cells = b.target_mask[i, :n, 0] > 0
        events = torch.log(joint.intensity(z[0, i, :n])[:, 0][cells]).sum()
        assert torch.allclose(log_times[0, i], events - integral, atol=1e-4)
    out = joint(b, n_samples=2)
    out["loss"].backward()
    assert joint.intensity.net[0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="poisson"):
        LatentODEModel(1, decoder="rnn", poisson=True)


@pytest.mark.parametrize("decoder", ["ode", "rnn"])
def test_decoder_start_scored_places_z0_at_each_series_first_scored_time(decoder):
    """``decoder_start="scored"`` (the published code's extrapolation): each series'
    trajectory is the decoder started from z0 at its own first scored time, computed
    here series by series on only the times from there on; earlier times read z0."""
    from latentode.data import split_extrapolation

    series = split_extrapolation(periodic_series(4, 30, irregular=True, seed=2), 0.4)
    batch = collate(series, dtype=torch.float64)
    model = LatentODEModel(1, 4, units=16, enc_units=16, decoder=decoder, decoder_start="scored")
    model = model.double()
    if decoder == "ode":
        _tight(model)
    model.set_time_scale(0.0, 5.0)
    z0 = torch.randn(2, len(series), 4, dtype=torch.float64)
    z = model.latent_trajectory(z0, batch)
    t = model.rescale(batch.times)
    for i, s in enumerate(series):
        n = len(s)
        k = int(np.argmax(s.target_mask.any(1)))  # the first scored row
        assert k > 0
        alone = model.decoder(z0[:, i : i + 1], t[i : i + 1, k], t[i : i + 1, k:n])
        torch.testing.assert_close(z[:, i, k:n], alone[:, 0], rtol=1e-6, atol=1e-7)
        assert torch.equal(z[:, i, :k], z0[:, i, None].expand(-1, k, -1))
    # interpolation batches (every row scored) are the same as with decoder_start="first"
    first = LatentODEModel(1, 4, units=16, enc_units=16, decoder=decoder).double()
    first.load_state_dict(model.state_dict())
    if decoder == "ode":
        _tight(first)
    first.set_time_scale(0.0, 5.0)
    full = collate(periodic_series(4, 30, irregular=True, seed=2), dtype=torch.float64)
    torch.testing.assert_close(
        model.latent_trajectory(z0, full), first.latent_trajectory(z0, full), rtol=0, atol=0
    )
    # the encoder is told where z0 sits: each series' first scored time
    t0 = torch.stack([t[i, int(np.argmax(s.target_mask.any(1)))] for i, s in enumerate(series)])
    torch.testing.assert_close(model.z0_time(t, batch), t0, rtol=0, atol=0)
    want = model.encoder(t, model.value_scaler.normalize(batch.values), batch.obs_mask, t0)
    for got, expected in zip(model.encode(batch), want, strict=True):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_decoder_start_is_validated():
    with pytest.raises(ValueError, match="decoder_start"):
        LatentODEModel(1, decoder_start="cut")
    with pytest.raises(ValueError, match="decoder_start='first'"):
        LatentODEModel(1, decoder_start="scored", poisson=True)


def _weights_setup(n=4, k=7):
    series = _batch(n)
    model = _tight(LatentODEModel(1, 4, units=16, enc_units=16))
    model.set_time_scale(0.0, 5.0)
    model.value_scaler.set(0.3, 2.0)  # the weights are in data units (a Jacobian term)
    eps = torch.randn(k, n, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    return series, model, eps


def test_posterior_weights_are_the_joint_of_the_shown_values_over_q():
    """log w = log p(x_shown | z) + log p(z) - log q(z | x_shown), computed here with
    ``torch.distributions`` in data units: the shown cells only, never the held-out ones."""
    series, model, eps = _weights_setup()
    b = collate(series, dtype=torch.float64)
    assert ((b.target_mask > 0) & (b.obs_mask == 0)).any()  # held-out cells exist
    with torch.no_grad():
        samples, log_w = model.posterior_samples(b, 7, eps)
        mean, std = model.encode(b)
        z0 = mean + std * eps
        want_samples = model.observe(model.latent_trajectory(z0, b))
        obs_std = model.likelihood.std() * model.value_scaler.scale  # data units
    cells = Normal(samples, obs_std).log_prob(b.values.expand_as(samples)) * b.obs_mask
    log_px = cells.sum((-1, -2))
    log_pz = Normal(0.0, 1.0).log_prob(z0).sum(-1)
    log_qz = Normal(mean, std).log_prob(z0).sum(-1)
    torch.testing.assert_close(samples, want_samples)
    torch.testing.assert_close(log_w, log_px + log_pz - log_qz)


def test_posterior_weights_ignore_held_out_values_and_batch_mates():
    series, model, eps = _weights_setup()
    b = collate(series, dtype=torch.float64)
    with torch.no_grad():
        _, log_w = model.posterior_samples(b, 7, eps)
        hidden = (b.target_mask > 0) & (b.obs_mask == 0)
        moved = b.values.masked_fill(hidden, 50.0)
        _, log_w_moved = model.posterior_samples(replace(b, values=moved), 7, eps)
        shown = b.values + 0.5 * (b.obs_mask > 0)
        _, log_w_shown = model.posterior_samples(replace(b, values=shown), 7, eps)
        for i, s in enumerate(series):
            _, alone = model.posterior_samples(
                collate([s], dtype=torch.float64), 7, eps[:, i : i + 1]
            )
            torch.testing.assert_close(alone[:, 0], log_w[:, i], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(log_w_moved, log_w)
    assert (log_w_shown - log_w).abs().min() > 1e-3


def test_posterior_weights_are_equal_when_the_decoder_starts_at_the_scored_times():
    series, _, eps = _weights_setup()
    model = _tight(LatentODEModel(1, 4, units=16, enc_units=16, decoder_start="scored"))
    model.set_time_scale(0.0, 5.0)
    with torch.no_grad():
        samples, log_w = model.posterior_samples(collate(series, dtype=torch.float64), 7, eps)
    assert samples.shape[:2] == (7, 4)
    assert torch.equal(log_w, torch.zeros(7, 4, dtype=torch.float64))
