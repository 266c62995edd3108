"""Run by test_training_api.py in a subprocess: the LatentODE estimator with strategy="ddp"
on 2 CPU processes (Lightning starts the second by running this script again), then the
same fit in one process; rank 0 writes both results."""

import json
import os
import sys
import warnings

import numpy as np
import torch

from latentode import LatentODE
from latentode.datasets import periodic

if __name__ == "__main__":
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    df = periodic(32, 12, irregular=True, seed=0, noise_std=0.05)
    kw = dict(latent_dim=3, hidden_dim=6, units=16, max_epochs=3, batch_size=8, verbose=False)
    ddp = LatentODE(**kw, accelerator="cpu", devices=2, strategy="ddp").fit(df)
    if os.environ.get("LOCAL_RANK", "0") != "0":
        sys.exit(0)
    single = LatentODE(**kw, accelerator="cpu", devices=1).fit(df)
    truth = df.sort_values(["id", "time"])["value"].to_numpy()
    out = {}
    for name, model in (("ddp", ddp), ("single", single)):
        pred = model.predict(df, quantiles=None)["value"].to_numpy()
        out[name] = {
            "mse": float(np.mean((pred - truth) ** 2)),
            "finite": bool(np.isfinite(pred).all()),
            "epochs": model.n_epochs_,
            "history": len(model.history_),
            "best_val_loss": model.best_val_loss_,
        }
    out["world_size"] = int(os.environ.get("WORLD_SIZE", "1"))
    with open(sys.argv[1], "w") as f:
        json.dump(out, f)
