"""Why does the Latent ODE stay on the constant-predictor plateau? One toggle per row.

The paper's periodic toy at the reference code's settings (issue 9): 1000 series (800
train / 200 test) on 100 shared times drawn in [0, 5] (0 included), ``sin(2 pi f t) + c``
with ``f ~ U(0.4, 0.8)``, ``c ~ N(1, 0.1^2)``, noise ``0.01 * U(0, 1)``; the encoder sees a
fresh random 50 of the 100 points of each training series at every step (a fixed 50 for
the test series) and every point is scored; latent 10, encoder state 20, ODE functions with
two hidden layers of 100 units, batch 50, Adamax lr 1e-2 decayed by 0.999 per step down to
1e-3, 3 samples of z0, observation std 0.01, KL weight 0 for 10 epochs then
``1 - 0.99^(epoch - 9)``. A plain training loop over :class:`LatentODEModel` (no Lightning),
one thread.

Rows (``--rows``, comma separated; ``+`` joins toggles):

* ``base``: the library's defaults before issue 9 (``nn.GRUCell``, softplus std head,
  per-series IWAE over summed log-likelihoods);
* ``cell``: the gated-MLP update with a std channel (``encoder_cell="mlp"``);
* ``abs``: the q(z0) head's std as ``|raw|`` (``encoder_std_link="abs"``);
* ``elbo``: the per-series ELBO (K-sample mean) as the training loss;
* ``pooled``: the reference's reduction: per-point mean log-likelihood per series, mean
  over the batch, minus the KL averaged over series and latent dimensions, then
  log-sum-exp over the K samples (not a bound on the per-series likelihood);
* ``rnn``: the GRU encoder with time gaps instead of the ODE-RNN;
* ``det``: while the KL weight is 0, train on the posterior mean (an autoencoder);
* ``std``: standardize values inside the model (``set_value_scale`` with the training
  mean and std; the observation std stays 0.01 in data units).

    python benchmarks/ablation_periodic.py --rows base,cell+abs+pooled --seeds 0,1,2,3

Prints a markdown table (test MSE at epochs 10/20/30, first epoch below 0.3 and 0.1) and
writes every curve to ``benchmarks/results/ablation_periodic.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from latentode.data.batch import Series, collate
from latentode.data.scaling import fit_time_scale, fit_value_scale
from latentode.models.latent_ode import LatentODEModel
from latentode.nn.bounds import KLSchedule
from latentode.nn.likelihoods import GaussianLikelihood, gaussian_kl, reparameterize

TOGGLES = ("base", "cell", "abs", "elbo", "pooled", "rnn", "det", "std")


def make_data(seed: int) -> tuple[list[Series], list[Series]]:
    rng = np.random.default_rng(seed)
    times = np.sort(np.concatenate([[0.0], rng.uniform(0.0, 5.0, 99)]))
    out = []
    for i in range(1000):
        f, c = rng.uniform(0.4, 0.8), 1.0 + rng.normal(0.0, 0.1)
        y = np.sin(2 * np.pi * f * times) + c
        y[1:] += 0.01 * rng.uniform(0.0, 1.0, 99)
        out.append(Series(times=times, values=y[:, None], id=i))
    return out[:800], out[800:]


def observe_half(series: list[Series], rng: np.random.Generator) -> list[Series]:
    out = []
    for s in series:
        keep = np.zeros(len(s), dtype=bool)
        keep[rng.choice(len(s), len(s) // 2, replace=False)] = True
        out.append(s.with_masks(keep[:, None], np.ones((len(s), 1), dtype=bool)))
    return out


def loss_fn(model: LatentODEModel, batch, kl_weight: float, toggles: set[str]) -> torch.Tensor:
    mean, std = model.encode(batch)
    if "det" in toggles and kl_weight == 0.0:
        pred = model.observe(model.latent_trajectory(mean[None], batch))
        return -model.gaussian_log_prob(batch, pred).mean()
    z0, log_pz, log_qz = reparameterize(mean, std, 3)
    pred = model.observe(model.latent_trajectory(z0, batch))
    mask = batch.target_mask
    log_px = model.gaussian_log_prob(batch, pred)  # (K, B)
    if "pooled" in toggles:
        per_point = log_px / mask.sum((-1, -2))
        kl = gaussian_kl(mean, std).mean() / mean.shape[-1]
        return -torch.logsumexp(per_point.mean(1) - kl_weight * kl, 0)
    if "elbo" in toggles:
        return -(log_px.mean(0) - kl_weight * gaussian_kl(mean, std)).mean()
    log_w = log_px + kl_weight * (log_pz - log_qz)
    return -(torch.logsumexp(log_w, 0) - math.log(3)).mean()


def run(toggles: set[str], seed: int, epochs: int) -> dict:
    torch.manual_seed(seed)
    train, test = make_data(seed)
    model = LatentODEModel(
        1,
        10,
        encoder="rnn" if "rnn" in toggles else "odernn",
        hidden_dim=20,
        units=100,
        depth=2,
        enc_units=100,
        enc_depth=2,
        obs_std=0.01,
        encoder_cell="mlp" if "cell" in toggles else "gru",
        encoder_std_link="abs" if "abs" in toggles else "softplus",
    )
    model.set_time_scale(*fit_time_scale(train))
    if "std" in toggles:
        offset, scale = fit_value_scale(train)
        model.set_value_scale(offset, scale)
        # the same likelihood in data units: std 0.01 there is 0.01 / scale here
        model.likelihood = GaussianLikelihood(1, 0.01 / float(scale[0]))
    opt = torch.optim.Adamax(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.999**s, 0.1))
    kl = KLSchedule(10, 0.99)
    test_batches = [
        collate(observe_half(test[i : i + 50], np.random.default_rng(99)))
        for i in range(0, len(test), 50)
    ]
    rng = np.random.default_rng(seed + 1)
    curve, start = [], time.perf_counter()
    for epoch in range(epochs):
        for i in range(0, len(train), 50):
            loss = loss_fn(model, collate(observe_half(train[i : i + 50], rng)), kl(epoch), toggles)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        with torch.no_grad():
            se = n = 0.0
            for b in test_batches:
                pred = model.predict_samples(b, 3)
                se += float(((pred - b.values) ** 2 * b.target_mask).sum()) / 3
                n += float(b.target_mask.sum())
        curve.append(se / n)
        name = "+".join(sorted(toggles)) or "base"
        print(f"  {name} seed {seed} epoch {epoch + 1}: {curve[-1]:.4f}", flush=True)
    return {"curve": curve, "seconds": time.perf_counter() - start}


def first_below(curve: list[float], level: float) -> str:
    return next((str(i + 1) for i, v in enumerate(curve) if v < level), "-")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", default="base,cell+abs+pooled,cell+abs+elbo")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results/ablation_periodic.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    results = {}
    for row in args.rows.split(","):
        toggles = set(row.split("+"))
        unknown = toggles - set(TOGGLES)
        if unknown:
            raise SystemExit(f"unknown toggles {sorted(unknown)}; choose from {TOGGLES}")
        results[row] = {str(s): run(toggles - {"base"}, s, args.epochs) for s in seeds}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"epochs": args.epochs, "rows": results}, indent=1))
    print("\n| row | seed | MSE ep 10 | ep 20 | ep 30 | first epoch < 0.3 | < 0.1 | s |")
    print("|---|---|---|---|---|---|---|---|")
    for row, by_seed in results.items():
        for s, r in by_seed.items():
            c = r["curve"]
            at = [f"{c[e - 1]:.3f}" if len(c) >= e else "-" for e in (10, 20, 30)]
            print(
                f"| {row} | {s} | {' | '.join(at)} | {first_below(c, 0.3)} | "
                f"{first_below(c, 0.1)} | {r['seconds']:.0f} |"
            )


if __name__ == "__main__":
    main()
