"""Contracts of the reorganised layers (issue 11): keyword-only estimators with declarative
parameter checks, solver configs as parameters, a shared training config, no global side
effects, one horizon rule."""

import random
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from latentode import EventIntensity, LatentODE, SolverConfig, TrainingConfig
from latentode.datasets import periodic
from latentode.frames import DataFrameError, TimeCodec, horizon_units
from latentode.training import EventModule, LatentODEModule, RecurrentModule


def _small(**kw):
    return LatentODE(latent_dim=3, hidden_dim=4, units=8, max_epochs=1, verbose=False, **kw)


def test_estimators_take_keyword_arguments_only():
    with pytest.raises(TypeError):
        LatentODE(4)  # positional: refused
    with pytest.raises(TypeError):
        EventIntensity(4)


@pytest.mark.parametrize(
    "kw, name",
    [
        ({"latent_dim": 0}, "latent_dim"),
        ({"hidden_dim": 0}, "hidden_dim"),
        ({"max_epochs": 1.5}, "max_epochs"),
        ({"lr": -0.01}, "lr"),
        ({"train_samples": 0}, "train_samples"),
        ({"objective": "elbow"}, "objective"),
        ({"solver": "tsit5"}, "solver"),
        ({"val_size": 1.0}, "val_size"),
        ({"classify": "yes"}, "classify"),
        ({"encoder": "lstm"}, "encoder"),
        ({"optimizer": "sgd"}, "optimizer"),
    ],
)
def test_bad_parameters_are_refused_before_any_work(kw, name):
    df = periodic(6, 5, seed=0)
    with pytest.raises(ValueError, match=name):
        LatentODE(**kw).fit(df)


def test_event_parameters_are_checked():
    events = pd.DataFrame({"id": [0, 0, 1], "time": [0.1, 0.5, 0.2]})
    for kw, name in (({"dynamics": "hawkes"}, "dynamics"), ({"max_step": 0}, "max_step")):
        with pytest.raises(ValueError, match=name):
            EventIntensity(**kw).fit(events)


def test_optimizer_is_a_parameter_that_trains_and_saves(tmp_path):
    """Issue 9 item 6: the estimators name their optimiser (Adamax by default, the
    module's optimiser otherwise); it reaches the training config and the saved file."""
    assert LatentODE().optimizer == "adamax" and EventIntensity().optimizer == "adamax"
    model = _small(optimizer="adam", lr=3e-3)
    df = periodic(8, 10, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model.fit(df)
    cfg = model.module_.training_config
    assert (cfg.optimizer, cfg.lr) == ("adam", 3e-3)
    loaded = LatentODE.load(model.save(tmp_path / "m"))
    assert loaded.optimizer == "adam"
    assert loaded.module_.training_config == cfg


def test_solver_config_is_a_parameter_that_clones_and_saves(tmp_path):
    solver = SolverConfig(method="rk4", grid_step=0.1)
    model = _small(solver=solver)
    assert clone(model).get_params()["solver"] == solver
    model.set_params(solver="dopri5")
    assert model.solver == "dopri5"
    model.set_params(solver=solver)
    df = periodic(8, 10, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model.fit(df)
    assert model.module_.model.decoder.solver.method == "rk4"
    assert model.module_.model.decoder.solver.grid_step == 0.1
    loaded = LatentODE.load(model.save(tmp_path / "m"))
    assert loaded.solver == solver
    pd.testing.assert_frame_equal(model.predict(df), loaded.predict(df), check_exact=True)


def test_fit_leaves_the_callers_random_state_alone():
    df = periodic(8, 10, seed=2)
    torch.manual_seed(123)
    np.random.seed(5)  # noqa: NPY002 - the global state under test
    random.seed(7)
    before = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())  # noqa: NPY002
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = _small(seed=3).fit(df)
        model.predict(df)
        model.score(df, n_samples=5)
    assert torch.equal(torch.get_rng_state(), before[0])
    assert np.array_equal(np.random.get_state()[1], before[1])  # noqa: NPY002
    assert random.getstate() == before[2]
    # and the seed alone decides the fit, whatever the caller's state
    torch.manual_seed(999)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        again = _small(seed=3).fit(df)
    pd.testing.assert_frame_equal(model.predict(df), again.predict(df), check_exact=True)


def test_training_config_is_checked_when_built():
    with pytest.raises(ValueError, match="objective"):
        TrainingConfig(objective="elbow")
    with pytest.raises(ValueError, match="optimizer"):
        TrainingConfig(optimizer="sgdd")
    with pytest.raises(ValueError, match="lr"):
        TrainingConfig(lr=0.0)
    for bad in (1.0, -0.1, "0.9"):
        with pytest.raises(ValueError, match="beta2"):
            TrainingConfig(beta2=bad)
    with pytest.raises(TypeError, match="unknown training fields") as err:
        LatentODEModule(1, 2, training={"learning_rate": 0.1})
    assert isinstance(err.value, ValueError)  # refused like every other option


def test_modules_share_one_training_config():
    cfg = TrainingConfig(lr=0.05, n_samples=2, objective="iwae")
    for module in (
        LatentODEModule(1, 2, units=8, training=cfg),
        EventModule(1, 2, units=8, training=cfg),
        RecurrentModule(1, 4, units=8, training=cfg),
    ):
        assert module.training_config == cfg
        assert module.hparams["training"] == cfg.to_dict()
        opt = module.configure_optimizers()["optimizer"]
        assert opt.param_groups[0]["lr"] == 0.05
    # a dict overrides each module's own defaults
    ev = EventModule(1, 2, units=8, training={"lr": 0.05})
    assert ev.training_config.objective == "iwae" and ev.training_config.kl_delay == 5
    lat = LatentODEModule(1, 2, units=8, training={"lr": 0.05})
    assert lat.training_config.objective == "elbo" and lat.training_config.kl_delay == 10


def test_latent_ode_module_trains_with_its_encoders_optimiser():
    """Issue 9 item 6: Adam at 3e-3 (ODE-RNN encoder) or 1e-2 (GRU encoder), with a
    second-moment decay of 0.9, when ``training`` names no optimiser; Adamax at 1e-2
    (:class:`TrainingConfig`) for an encoder without its own entry; a dict setting ``lr``
    keeps the encoder's optimiser; one naming an optimiser gets that optimiser's betas."""
    from latentode.training.latent_ode import DEFAULT_OPTIMIZATION

    for encoder, want in (("odernn", ("adam", 3e-3)), ("rnn", ("adam", 1e-2))):
        assert DEFAULT_OPTIMIZATION[encoder] == {"optimizer": want[0], "lr": want[1], "beta2": 0.9}
        module = LatentODEModule(1, 2, units=8, encoder=encoder)
        cfg = module.training_config
        assert (cfg.optimizer, cfg.lr, cfg.beta2) == (*want, 0.9)
        assert module.hparams["training"]["optimizer"] == want[0]
        assert module.hparams["training"]["beta2"] == 0.9
        opt = module.configure_optimizers()["optimizer"]
        assert isinstance(opt, torch.optim.Adam) and opt.param_groups[0]["lr"] == want[1]
        assert opt.param_groups[0]["betas"] == (0.9, 0.9)
        # an optimiser named without beta2 runs with its own betas
        named = LatentODEModule(1, 2, units=8, encoder=encoder, training={"optimizer": "adamax"})
        assert named.training_config.beta2 is None
        opt = named.configure_optimizers()["optimizer"]
        assert isinstance(opt, torch.optim.Adamax) and opt.param_groups[0]["betas"] == (0.9, 0.999)
    mtan = LatentODEModule(1, 2, units=8, encoder="mtan").training_config
    assert (mtan.optimizer, mtan.lr) == ("adamax", 1e-2)
    faster = LatentODEModule(1, 2, units=8, encoder="rnn", training={"lr": 0.05})
    assert (faster.training_config.optimizer, faster.training_config.lr) == ("adam", 0.05)
    assert faster.training_config.beta2 == 0.9
    # saved by the code of 2026-12-06 (Adam named, no beta2): it trained with 0.999
    adam = LatentODEModule.from_hparams(
        {"input_dim": 1, "latent_dim": 2, "units": 8, "training": {"optimizer": "adam"}}
    )
    assert adam.training_config.beta2 is None
    # hyperparameters saved without an optimiser trained with Adamax
    old = LatentODEModule.from_hparams(
        {"input_dim": 1, "latent_dim": 2, "units": 8, "training": {"lr": 0.02}}
    )
    assert (old.training_config.optimizer, old.training_config.lr) == ("adamax", 0.02)
    assert old.training_config.beta2 is None
    saved = LatentODEModule.from_hparams(dict(LatentODEModule(1, 2, units=8).hparams))
    assert saved.training_config == LatentODEModule(1, 2, units=8).training_config


def _largest_step_after_a_spike(module: LatentODEModule) -> float:
    """The largest move of one weight, in units of the learning rate, over 5000 steps of a
    constant gradient (past the bias corrections), one step of a gradient 1000x larger,
    then 50 more steps; from the module's own optimiser, the learning rate held fixed."""
    opt = module.configure_optimizers()["optimizer"]
    p = min(module.parameters(), key=torch.Tensor.numel)  # the others have no gradient
    lr, largest = opt.param_groups[0]["lr"], 0.0
    for step in range(5051):
        p.grad = torch.full_like(p, 1e-3 * (1000.0 if step == 5000 else 1.0))
        before = p.detach()[(0,) * p.dim()].item()
        opt.step()
        largest = max(largest, abs(p.detach()[(0,) * p.dim()].item() - before) / lr)
    return largest


def test_default_optimiser_moves_a_weight_at_most_its_learning_rate_after_a_spike():
    """Adam's step is bounded by ``lr * (1 - beta1) / sqrt(1 - beta2)`` where that exceeds
    ``lr`` (Kingma and Ba 2015, section 2.1): about 3.2 lr with beta2 = 0.999, at most lr
    with 0.9. At a small fixed observation std the gradients come in such spikes, and the
    ODE-RNN and GRU encoders' Adam at 0.999 fell back to the constant predictor again and
    again at the published code's settings (``benchmarks/README.md``)."""
    for encoder in ("odernn", "rnn"):
        assert _largest_step_after_a_spike(LatentODEModule(1, 2, units=8, encoder=encoder)) <= (
            1.0 + 1e-4
        )
        adam_999 = LatentODEModule(1, 2, units=8, encoder=encoder, training={"optimizer": "adam"})
        assert _largest_step_after_a_spike(adam_999) == pytest.approx(3.2, abs=0.1)


def test_flat_training_fields_still_load_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="TrainingConfig"):
        old = LatentODEModule(1, 2, units=8, lr=0.05, kl_delay=3, enc_hidden=6)
    assert old.training_config.lr == 0.05 and old.training_config.kl_delay == 3
    assert old.model.encoder.hidden_dim == 6
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = LatentODEModule.from_hparams(
            {"input_dim": 1, "latent_dim": 2, "units": 8, "lr": 0.05, "kl_delay": 3}
        )
    assert again.training_config == old.training_config
    # saved before the config existed, so trained with its defaults (Adamax)
    assert old.training_config.optimizer == "adamax"


def test_one_horizon_rule_for_numbers_and_datetimes():
    numeric = TimeCodec.fit(pd.Series([100.0, 105.0]))
    assert horizon_units(3.0, numeric) == 3.0  # a duration, whatever the origin
    dates = TimeCodec.fit(pd.Series(pd.to_datetime(["2024-01-01", "2024-01-03"])))
    assert horizon_units("2D", dates) == horizon_units(pd.Timedelta(days=2), dates)
    assert horizon_units("2D", dates) * dates.unit_seconds == 2 * 86400
    for bad in (-1.0, 0, float("nan"), "soon"):
        with pytest.raises(DataFrameError, match="horizon"):
            horizon_units(bad, numeric if bad != "soon" else dates)
