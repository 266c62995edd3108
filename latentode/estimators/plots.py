"""Matplotlib figures of the estimators' answers (matplotlib is imported on use)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["plot_series", "plot_intensities"]


def _axes_grid(ax: Any, rows: int, cols: int, figsize: tuple[float, float]) -> tuple[Any, Any]:
    """``(figure, axes (rows, cols))``: new ones, or the given ``ax`` (one Axes for one
    panel, or an array of ``rows * cols``)."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, axes = plt.subplots(rows, cols, figsize=figsize, squeeze=False, sharex=True)
        return fig, axes
    axes = np.asarray(ax, dtype=object).reshape(-1)
    if len(axes) != rows * cols:
        raise ValueError(
            f"plot: ax holds {len(axes)} axes; this plot needs {rows * cols} "
            f"({rows} x {cols}); pass that many, or ax=None."
        )
    return axes[0].figure, axes.reshape(rows, cols)


def plot_series(
    pred: pd.DataFrame,
    observed: pd.DataFrame,
    ids: Sequence[Hashable],
    id_col: Hashable,
    time_col: Hashable,
    target_cols: Sequence[Hashable],
    band: tuple[float, float],
    *,
    ax: Any = None,
    truth: pd.DataFrame | None = None,
    panels: str = "target",
):
    """Observed points, the posterior mean and the ``band`` quantiles (columns
    ``<target>_q<q>`` of ``pred``) per series, and held-out ``truth`` as hollow markers.

    ``panels="target"``: one panel per target, the series overlaid in their colours;
    ``"series"``: one row of panels per series (a column per target). ``ax``: draw into
    these axes instead of a new figure. Returns the Figure."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if panels not in ("target", "series"):
        raise ValueError(f"panels must be 'target' or 'series', got {panels!r}.")
    lo, hi = band
    d, n = len(target_cols), len(ids)
    rows = d if panels == "target" else n * d
    fig, axes = _axes_grid(ax, rows, 1, (8, 2.6 * rows))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, sid in enumerate(ids):
        color = colors[k % len(colors)]
        p = pred[pred[id_col] == sid]
        seen = observed[observed[id_col] == sid]
        held = truth[truth[id_col] == sid] if truth is not None else None
        for j, c in enumerate(target_cols):
            a = axes[j if panels == "target" else k * d + j, 0]
            a.fill_between(
                p[time_col], p[f"{c}_q{lo:g}"], p[f"{c}_q{hi:g}"], color=color, alpha=0.18,
                linewidth=0,
            )  # fmt: skip
            a.plot(p[time_col], p[c], color=color, linewidth=1.6)
            a.scatter(seen[time_col], seen[c], color=color, s=14, zorder=3)
            if held is not None and c in held:
                a.scatter(
                    held[time_col], held[c], facecolors="none", edgecolors=color, s=22,
                    linewidths=1.0, zorder=3,
                )  # fmt: skip
            label = str(c) if panels == "target" else f"{c} ({id_col} {sid})"
            a.set_ylabel(label)
    handles = [Line2D([], [], color=colors[k % len(colors)], label=str(s)) for k, s in
               enumerate(ids)] if panels == "target" else []  # fmt: skip
    handles += [
        Line2D([], [], color="0.3", marker="o", linestyle="", markersize=4, label="observed"),
        Line2D([], [], color="0.3", linewidth=1.6, label="posterior mean"),
        Patch(color="0.3", alpha=0.18, label=f"{lo:g}-{hi:g} band"),
    ]
    if truth is not None:
        handles.append(
            Line2D([], [], color="0.3", marker="o", markerfacecolor="none", linestyle="",
                   markersize=5, label="held out"),
        )  # fmt: skip
    axes[0, 0].legend(handles=handles, title=str(id_col) if panels == "target" else None,
                      fontsize="small", loc="best", ncol=2)  # fmt: skip
    axes[-1, 0].set_xlabel(str(time_col))
    if ax is None:
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
