"""Matplotlib figures of the estimators' answers (matplotlib is imported on use)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd

__all__ = ["plot_series", "plot_intensities"]


def plot_series(
    pred: pd.DataFrame,
    observed: pd.DataFrame,
    ids: Sequence[Hashable],
    id_col: Hashable,
    time_col: Hashable,
    target_cols: Sequence[Hashable],
    band: tuple[float, float],
):
    """One panel per target: for each series its observed points, the posterior mean and
    the ``band`` quantiles (columns ``<target>_q<q>`` of ``pred``). Returns the Figure."""
    import matplotlib.pyplot as plt

    lo, hi = band
    d = len(target_cols)
    fig, axes = plt.subplots(d, 1, figsize=(8, 2.6 * d), squeeze=False, sharex=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, sid in enumerate(ids):
        color = colors[k % len(colors)]
        p = pred[pred[id_col] == sid]
        rows = observed[observed[id_col] == sid]
        for j, c in enumerate(target_cols):
            ax = axes[j, 0]
            ax.fill_between(
                p[time_col],
                p[f"{c}_q{lo:g}"],
                p[f"{c}_q{hi:g}"],
                color=color,
                alpha=0.2,
                linewidth=0,
            )
            ax.plot(p[time_col], p[c], color=color, label=str(sid))
            ax.scatter(rows[time_col], rows[c], color=color, s=12, zorder=3)
            ax.set_ylabel(str(c))
    axes[0, 0].legend(title=str(id_col), fontsize="small", loc="best")
    axes[-1, 0].set_xlabel(str(time_col))
    fig.suptitle(f"Latent ODE posterior: mean and {lo:g}-{hi:g} band")
    fig.tight_layout()
    return fig


def plot_intensities(
    panels: Sequence[tuple[Hashable, np.ndarray, np.ndarray, np.ndarray]],
    time_col: Hashable,
    band: tuple[float, float] | None,
):
    """One panel per sequence ``(id, x (G,), rates (K, G), events)``: the mean rate with
    a ``band`` of quantiles over the K draws (``None``: no band, a deterministic rate
    given the earlier events) and the events as a rug. Returns the Figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.4 * len(panels)), squeeze=False)
    for ax, (sid, x, tot, events) in zip(axes[:, 0], panels, strict=True):
        if band is None:
            ax.plot(x, tot.mean(0), label="intensity given the earlier events")
        else:
            lo, hi = band
            ax.fill_between(
                x, np.quantile(tot, lo, 0), np.quantile(tot, hi, 0), alpha=0.25, linewidth=0
            )
            ax.plot(x, tot.mean(0), label="posterior mean intensity")
        ax.plot(events, np.zeros(len(events)), "|", color="k", markersize=12, label="events")
        ax.set_ylabel(f"λ ({sid})")
    axes[0, 0].legend(fontsize="small", loc="best")
    axes[-1, 0].set_xlabel(str(time_col))
    fig.tight_layout()
    return fig
