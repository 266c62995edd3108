"""Label heads learn separable toy labellings, jointly with the reconstruction."""

import lightning as L
import numpy as np
import pandas as pd
import torch

from latentode.data import Series, collate
from latentode.datasets import spiral_series
from latentode.training import IrregularDataModule, LatentODEModule, TrainingConfig
from tests.learning_runs import quiet_trainer


def _fit(module, train, val, steps, tmp_path):
    dm = IrregularDataModule(train, val, val, batch_size=25, seed=0)
    trainer = quiet_trainer(tmp_path, max_steps=steps, num_sanity_val_steps=0)
    trainer.fit(module, dm)
    return trainer.test(module, dm, verbose=False)[0]


def test_sequence_label_from_z0_spiral_direction(tmp_path):
    L.seed_everything(0, verbose=False)
    series = spiral_series(150, 30, noise_std=0.1, seed=0)  # label: clockwise or not
    module = LatentODEModule(
        2,
        4,
        units=32,
        enc_units=32,
        n_labels=1,
        label_weight=10.0,
        training=TrainingConfig(lr=0.02, kl_delay=0, kl_rate=0.5),
    )
    res = _fit(module, series[:120], series[120:], 120, tmp_path)
    print(
        f"\nspiral direction from z0: test AUC {res['test_auc']:.3f}, "
        f"accuracy {res['test_accuracy']:.3f} (chance 0.5)"
    )
    assert res["test_auc"] > 0.9


def test_point_labels_from_z_t(tmp_path):
    L.seed_everything(0, verbose=False)
    rng = np.random.default_rng(0)
    series = []
    for i in range(120):
        t = np.sort(rng.uniform(0, 2, 20))
        y = np.sin(2 * np.pi * 0.5 * t + rng.uniform(0, 0.3)) + rng.normal(0, 0.05, 20)
        series.append(Series(times=t, values=y[:, None], label=(t > 1.0).astype(float), id=i))
    module = LatentODEModule(
        1,
        4,
        units=32,
        enc_units=32,
        n_labels=2,
        label_kind="point",
        label_weight=5.0,
        training=TrainingConfig(lr=0.02, kl_delay=0, kl_rate=0.5),
    )
    res = _fit(module, series[:100], series[100:], 150, tmp_path)
    batch = collate(series[100:])
    probs = module.model.predict_labels(batch, 5)
    assert probs.shape == (20, 20, 2)
    majority = max((batch.labels == 1).float().mean(), (batch.labels == 0).float().mean())
    print(
        f"\nper-point label from z(t): test accuracy {res['test_accuracy']:.3f} "
        f"(majority class {float(majority):.3f})"
    )
    assert res["test_accuracy"] > float(majority) + 0.2
    assert torch.isfinite(torch.tensor(res["test_loss"]))


def test_estimator_classify_sequence_labels(tmp_path):
    from latentode import LatentODE
    from latentode.datasets import spiral

    df = spiral(120, 25, noise_std=0.1, seed=1)
    df["direction"] = np.where(df["direction"] == 0, "clockwise", "counter")
    train, test = df[df["id"] < 96], df[df["id"] >= 96]
    model = LatentODE(
        latent_dim=4,
        hidden_dim=16,
        units=32,
        max_epochs=25,
        lr=0.02,
        kl_delay=0,
        kl_rate=0.5,
        classify="sequence",
        label_weight=10.0,
        batch_size=24,
        verbose=False,
        seed=0,
    )
    model.fit(train, label_col="direction")
    assert model.target_cols_ == ["x", "y"] and model.classes_ == ["clockwise", "counter"]
    proba = model.predict_proba(test.drop(columns=["direction"]), n_samples=20)
    assert list(proba.columns) == ["id", "p_clockwise", "p_counter"]
    assert np.allclose(proba[["p_clockwise", "p_counter"]].sum(1), 1.0)
    truth = test.groupby("id")["direction"].first().loc[proba["id"]].to_numpy()
    pred = np.where(proba["p_counter"] > 0.5, "counter", "clockwise")
    accuracy = (pred == truth).mean()
    print(f"\nLatentODE(classify='sequence') on spiral direction: accuracy {accuracy:.3f}")
    assert accuracy > 0.8
    loaded = LatentODE.load(model.save(tmp_path / "m"))
    pd.testing.assert_frame_equal(
        loaded.predict_proba(test, n_samples=5), model.predict_proba(test, n_samples=5)
    )
