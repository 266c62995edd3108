"""The Latent ODE paper's interpolation/extrapolation tables, side by side with ours.

Runs Latent ODE (ODE-RNN encoder), Latent ODE (RNN encoder), ODE-RNN, RNN-VAE and GRU-Δt
(and, when ``--models`` names it, the Latent ODE with the multi-time attention encoder,
``Latent ODE (mTAN enc)``) on the periodic set and on the MuJoCo hopper set, for
interpolation (the encoder sees a fraction of the points, every point is scored) and
extrapolation (the encoder sees a fraction of the points of the first half of each series,
the second half is scored), at
10/20/30/50% observed. Prints test MSE next to the paper's (Rubanova et al. 2019, Table 3;
MuJoCo, x1e-2), seconds per epoch, and the seconds until the validation MSE first reached
the paper's number for the same model and cell (hopper) and first beat per-series linear
interpolation. Writes JSON, prints markdown, and with ``--readme`` writes the markdown into
``benchmarks/README.md`` between ``<!-- paper_tables:NAME -->`` markers.

    python benchmarks/paper_tables.py --budget smoke     # plumbing check, ~5 min
    python benchmarks/paper_tables.py --budget quick     # CPU budget, ~1-2 h
    python benchmarks/paper_tables.py --budget full      # the paper's sizes, for a GPU

Hopper needs ``pip install -e ".[hopper]"``; without it the hopper rows are skipped.
Hopper follows the reference code (``--hopper-scaling reference``, the default): series of
200 steps, each state dimension mapped by ``(x - min) / max`` over the whole set (the
reference's ``normalize_data``; ``range`` maps to [0, 1] instead); interpolation on a random
window of 100 consecutive steps per series with times ``k / 200``; extrapolation on the whole
series, the encoder seeing the first third (the reference's ``n_observed_tp = T // 3`` for
hopper) and the last two thirds scored. The periodic set is cut at half its span.

In extrapolation the VAEs place z0 at the first scored time, after the cut
(``--decoder-start scored``, the default), as the published code does: its decoder solves
only over the times it predicts, from z0 at the first of them. ``--decoder-start first``
places z0 at each series' first time instead (the library's default, and this benchmark's
before 2026-12-05). Interpolation is the same either way.

For the VAEs each row also has ``test_mse_weighted``: the test MSE of the importance-weighted
posterior mean (``LatentODEModel.posterior_samples``, 50 draws weighted by the values the
encoder was shown, as ``LatentODE.predict`` predicts) beside ``test_mse``, the protocol's mean
of the unweighted draws. With z0 at the first scored time (extrapolation, the default) the
decoder does not model the shown values and the weights are equal.

The training series get a fresh random subset of their points for the encoder at every
draw (``--train-masks fresh``, the default since 2026-12-06), as the published code does:
its data loader subsamples each batch when it is collated. Validation and test keep one
fixed draw. ``--train-masks fixed`` draws the training masks once (this benchmark's
protocol before 2026-12-06).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from reference_cells import ReferenceCells, check_reference_dir

from latentode.data import (
    Series,
    collate,
    split_extrapolation,
    subsample_observed,
)
from latentode.datasets import periodic_series
from latentode.naive import linear_interpolation
from latentode.training import (
    IrregularDataModule,
    LatentODEModule,
    RecurrentModule,
    masked_errors,
)

ROOT = Path(__file__).parent

#: paper, Table 3, MuJoCo test MSE x1e-2: interp 10/20/30/50%, extrap 10/20/30/50%
PAPER_MUJOCO = {
    "GRU-Δt": [2.454, 1.714, 1.250, 0.785, 7.259, 6.792, 6.594, 30.571],
    "ODE-RNN": [1.647, 1.209, 0.986, 0.665, 13.508, 31.950, 15.465, 26.463],
    "RNN-VAE": [6.514, 6.408, 6.305, 6.100, 2.378, 2.135, 2.021, 1.782],
    "Latent ODE (RNN enc)": [2.477, 0.578, 2.768, 0.447, 1.663, 1.653, 1.485, 1.377],
    "Latent ODE (ODE enc)": [0.360, 0.295, 0.300, 0.285, 1.441, 1.400, 1.175, 1.258],
}
#: models beyond the paper's table (``--models`` names them; no published numbers)
EXTRA_MODELS = ("Latent ODE (mTAN enc)",)
FRACTIONS = (0.1, 0.2, 0.3, 0.5)
BUDGETS = {
    "smoke": dict(
        n_series=100,
        periodic_points=50,
        hopper_steps=50,
        max_steps=20,
        fractions=(0.5,),
        latent=6,
        units=50,
        depth=1,
        hidden_dim=12,
    ),
    "quick": dict(
        n_series=500,
        periodic_points=100,
        hopper_steps=200,
        max_steps=300,
        fractions=FRACTIONS,
        latent=10,
        units=100,
        depth=1,
        hidden_dim=20,
    ),
    "full": dict(
        n_series=10000,
        periodic_points=100,
        hopper_steps=200,
        max_steps=30000,
        fractions=FRACTIONS,
        # the paper's MuJoCo settings: latent 15, encoder state 30, 3 layers of 300 units
        latent=15,
        units=300,
        depth=3,
        hidden_dim=30,
    ),
}


def make_model(
    name: str, dim: int, budget: dict, obs_std: float | None = None, decoder_start: str = "first"
) -> L.LightningModule:
    """One of the five models of the paper's table, sized by the budget; ``obs_std``
    fixes the Gaussian observation std (``None``: learned); ``decoder_start`` is the VAEs'
    (``LatentODEModel(decoder_start=...)``)."""
    latent, units, depth = budget["latent"], budget["units"], budget["depth"]
    common = dict(training=dict(lr=1e-2), units=units, depth=depth, obs_std=obs_std)
    # the VAEs train with their encoder's optimiser and learning rate
    # (``latentode.training.latent_ode.DEFAULT_OPTIMIZATION``)
    vae = dict(
        common, hidden_dim=budget["hidden_dim"], training=dict(kl_delay=5, kl_rate=0.95),
        decoder_start=decoder_start,
    )  # fmt: skip
    if name == "Latent ODE (ODE enc)":
        return LatentODEModule(
            dim, latent, encoder="odernn", enc_units=units, enc_depth=depth, **vae
        )
    if name == "Latent ODE (RNN enc)":
        return LatentODEModule(dim, latent, encoder="rnn", **vae)
    if name == "Latent ODE (mTAN enc)":
        return LatentODEModule(dim, latent, encoder="mtan", enc_units=units, **vae)
    if name == "RNN-VAE":
        return LatentODEModule(dim, latent, encoder="rnn", decoder="rnn", **vae)
    if name == "ODE-RNN":
        return RecurrentModule(dim, budget["hidden_dim"], ode=True, **common)
    if name == "GRU-Δt":
        return RecurrentModule(dim, budget["hidden_dim"], ode=False, **common)
    raise ValueError(name)


def scale_hopper(x: np.ndarray, how: str) -> np.ndarray:
    """Map each state dimension of ``x: (n_series, n_steps, 14)`` as ``how`` says.

    ``reference``: ``(x - min) / max`` per dimension over the whole set, with ``max = 0``
    replaced by 1, as the reference code's ``normalize_data`` does (so a dimension whose
    minimum is about ``-max`` spans about [0, 2]); ``range``: ``(x - min) / (max - min)``.
    """
    flat = x.reshape(-1, x.shape[-1])
    lo, hi = flat.min(0), flat.max(0)
    if how == "reference":
        return (x - lo) / np.where(hi == 0, 1.0, hi)
    if how == "range":
        return (x - lo) / np.where(hi > lo, hi - lo, 1.0)
    raise ValueError(f"hopper scaling must be 'reference' or 'range', got {how!r}")


def load_sets(budget: dict, seed: int, hopper_scaling: str = "reference") -> dict[str, dict]:
    """``{name: {"interpolation": series, "extrapolation": series, "cut": fraction}}``."""
    periodic = periodic_series(budget["n_series"], budget["periodic_points"], 5.0, seed=seed)
    sets = {"periodic": {"interpolation": periodic, "extrapolation": periodic, "cut": 0.5}}
    try:
        from latentode.datasets.hopper import hopper_array

        x = hopper_array(budget["n_series"], budget["hopper_steps"], seed=seed)
    except ImportError as err:
        print(f"hopper skipped: {err}")
        return sets
    x = scale_hopper(x.astype(np.float64), hopper_scaling)
    n_steps = x.shape[1]
    window = max(2, n_steps // 2)
    starts = np.random.default_rng(seed).integers(0, n_steps - window + 1, size=len(x))
    times = np.arange(n_steps) / n_steps
    sets["hopper"] = {
        "interpolation": [
            Series(times=times[:window], values=x[i, a : a + window], id=i)
            for i, a in enumerate(starts)
        ],
        "extrapolation": [Series(times=times, values=x[i], id=i) for i in range(len(x))],
        "cut": 1 / 3,
    }
    return sets


def protocol(
    series: list[Series], task: str, fraction: float, seed: int, cut: float = 0.5
) -> list[Series]:
    """Interpolation: the encoder sees ``fraction`` of each series' points, all are scored.
    Extrapolation: it sees ``fraction`` of the points before ``cut`` of the span, the
    points after the cut are scored."""
    if task == "interpolation":
        return subsample_observed(series, fraction, seed)
    return subsample_observed(split_extrapolation(series, cut), fraction, seed)


class FreshMasks:
    """Training transform: a new random ``fraction`` of each series' readable points
    (``obs_mask``, so in extrapolation only points before the cut) at every draw, as
    the published code's collate function does. ``scores_seen``: the drawn points are
    also scored."""

    def __init__(self, fraction: float, seed: int, scores_seen: bool = False) -> None:
        self.fraction, self.scores_seen = fraction, scores_seen
        self.rng = np.random.default_rng(seed)

    def __call__(self, series: list[Series]) -> list[Series]:
        out = subsample_observed(series, self.fraction, int(self.rng.integers(2**31)))
        if self.scores_seen:
            out = [s.with_masks(s.obs_mask, s.target_mask | s.obs_mask) for s in out]
        return out


class ValidationCurve(Callback):
    """Records ``(seconds since the start of fitting, val_mse)`` after each validation."""

    def __init__(self) -> None:
        self.start, self.points = 0.0, []

    def on_fit_start(self, trainer, module) -> None:
        self.start = time.perf_counter()

    def on_validation_end(self, trainer, module) -> None:
        mse = trainer.callback_metrics.get("val_mse")
        if mse is not None and not trainer.sanity_checking:
            self.points.append((time.perf_counter() - self.start, float(mse)))


def seconds_to(curve: list[tuple[float, float]], target: float | None) -> float | None:
    """First time on ``curve`` at which the MSE is at or below ``target``, else None."""
    if target is None:
        return None
    return next((t for t, mse in curve if mse <= target), None)


def paper_value(dataset: str, name: str, task: str, fraction: float) -> float | None:
    """The paper's MuJoCo test MSE (not x1e-2) for this cell, or None."""
    if dataset != "hopper" or fraction not in FRACTIONS or name not in PAPER_MUJOCO:
        return None
    k = FRACTIONS.index(fraction) + (4 if task == "extrapolation" else 0)
    return PAPER_MUJOCO[name][k] / 100


#: the reference code's fixed observation std per data set (``--obs-std reference``)
REFERENCE_OBS_STD = {"periodic": 0.01, "hopper": 1e-3}


def obs_std_for(dataset: str, how: str) -> float | None:
    """``"learned"`` -> None, ``"reference"`` -> :data:`REFERENCE_OBS_STD`, else a float."""
    if how == "learned":
        return None
    if how == "reference":
        return REFERENCE_OBS_STD[dataset]
    return float(how)


#: posterior draws behind ``test_mse_weighted``
WEIGHTED_SAMPLES = 50


@torch.no_grad()
def weighted_mse(module, series: list[Series], n_samples: int = WEIGHTED_SAMPLES) -> float:
    """Test MSE of the importance-weighted posterior mean of a VAE, in chunks of 50 series."""
    torch.manual_seed(0)
    total, count = 0.0, 0
    for start in range(0, len(series), 50):
        batch = collate(series[start : start + 50])
        samples, log_w = module.model.posterior_samples(batch, n_samples)
        w = torch.softmax(log_w, 0)[..., None, None]
        value, n = masked_errors(batch, (w * samples).sum(0))["mse"]
        total, count = total + float(value) * n, count + n
    return total / max(count, 1)


def linear_mse(batch) -> float:
    """MSE of per-series linear interpolation of the encoder's points on the scored cells
    (held flat past the last one, so in extrapolation it is "last value carried forward")."""
    return float(masked_errors(batch, linear_interpolation(batch))["mse"][0])


def run_one(
    name, dataset, sets, task, fraction, budget, seed, obs_std="learned", scores_seen=False,
    decoder_start="scored", train_masks="fresh",
):  # fmt: skip
    """One cell. ``scores_seen``: in extrapolation, the training bound also scores the
    points the encoder reads (the joint likelihood; validation and test still score only
    the points after the cut). ``decoder_start``: where the VAEs place z0 (see the module
    docstring). ``train_masks``: ``"fresh"`` draws the training series' encoder points
    anew at every draw, ``"fixed"`` once."""
    data = sets[dataset][task]
    n = len(data)
    n_tr, n_va = int(0.8 * n), int(0.1 * n)
    masked = protocol(data, task, fraction, seed, cut=sets[dataset]["cut"])
    train, val, test = masked[:n_tr], masked[n_tr : n_tr + n_va], masked[n_tr + n_va :]
    seen = scores_seen and task == "extrapolation"
    transform = None
    if train_masks == "fresh":
        pool = data[:n_tr]
        if task == "extrapolation":
            pool = split_extrapolation(pool, sets[dataset]["cut"])
        train, transform = pool, FreshMasks(fraction, seed + 1, scores_seen=seen)
    elif seen:
        train = [s.with_masks(s.obs_mask, s.target_mask | s.obs_mask) for s in train]
    val_linear = linear_mse(collate(val))
    L.seed_everything(seed, verbose=False)
    module = make_model(
        name, data[0].n_features, budget, obs_std_for(dataset, obs_std), decoder_start
    )
    dm = IrregularDataModule(train, val, test, batch_size=50, seed=seed, train_transform=transform)
    curve = ValidationCurve()
    steps_per_epoch = max(1, -(-len(train) // 50))
    trainer = L.Trainer(
        max_steps=budget["max_steps"],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[curve],
        check_val_every_n_epoch=1,
        num_sanity_val_steps=0,
    )
    t0 = time.perf_counter()
    trainer.fit(module, dm)
    seconds = time.perf_counter() - t0
    res = trainer.test(module, dm, verbose=False)[0]
    module.eval()
    vae = isinstance(module, LatentODEModule)
    weighted = weighted_mse(module, test) if vae else None
    paper = paper_value(dataset, name, task, fraction)
    return {
        "model": name,
        "task": task,
        "decoder_start": decoder_start,
        "train_masks": train_masks,
        "fraction": fraction,
        "test_mse": res["test_mse"],
        "test_mse_weighted": weighted,
        "linear_mse": linear_mse(collate(test)),
        "paper_mse": paper,
        "seconds": seconds,
        "epochs": max(trainer.current_epoch, 1),
        "sec_per_epoch": seconds / max(trainer.global_step / steps_per_epoch, 1e-9),
        "val_curve": curve.points,
        "val_linear_mse": val_linear,
        "sec_to_paper": seconds_to(curve.points, paper),
        "sec_to_beat_linear": seconds_to(curve.points, val_linear),
    }


def _reach(times: list[float | None]) -> str:
    reached = [t for t in times if t is not None]
    if not times:
        return ""
    if not reached:
        return f"never (0/{len(times)})"
    return f"{np.median(reached):.0f} ({len(reached)}/{len(times)})"


def markdown(rows: list[dict], dataset: str, fractions) -> str:
    """One table: a row per model, then the linear-interpolation row."""
    hop = any(r.get("paper_mse") is not None for r in rows)
    head = [f"interp {round(f * 100)}%" for f in fractions]
    head += [f"extrap {round(f * 100)}%" for f in fractions]
    head += ["s/epoch"] + (["s to paper's MSE"] if hop else []) + ["s to beat linear"]
    lines = [
        f"#### {dataset} (test MSE x1e-2" + ("; the paper's in brackets)" if hop else ")"),
        "",
        "| model | " + " | ".join(head) + " |",
        "|---" * (len(head) + 1) + "|",
    ]

    def find(name, task, f):
        match = (r for r in rows if (r["model"], r["task"], r["fraction"]) == (name, task, f))
        return next(match, None)

    for name in (*PAPER_MUJOCO, *EXTRA_MODELS):
        cells, speed, to_paper, to_linear = [], [], [], []
        for task in ("interpolation", "extrapolation"):
            for f in fractions:
                r = find(name, task, f)
                if r is None:
                    cells.append("-")
                    continue
                cell = f"{100 * r['test_mse']:.3f}"
                if r.get("paper_mse") is not None:
                    cell += f" [{100 * r['paper_mse']:.3f}]"
                cells.append(cell)
                speed.append(r["sec_per_epoch"])
                to_paper.append(r.get("sec_to_paper"))
                to_linear.append(r["sec_to_beat_linear"])
        if not speed:
            continue
        tail = [f"{np.mean(speed):.1f}"] + ([_reach(to_paper)] if hop else [])
        tail.append(_reach(to_linear))
        lines.append(f"| {name} | " + " | ".join(cells + tail) + " |")
        if any(r.get("reference_mse") is not None for r in rows if r["model"] == name):
            ref_cells = []
            for task in ("interpolation", "extrapolation"):
                for f in fractions:
                    r = find(name, task, f)
                    mse = None if r is None else r.get("reference_mse")
                    ref_cells.append("-" if mse is None else f"{100 * mse:.3f}")
            blanks = [""] * (len(head) - len(ref_cells))
            lines.append(f"| {name}, published code | " + " | ".join(ref_cells + blanks) + " |")
    ref = next((n for n in PAPER_MUJOCO if any(r["model"] == n for r in rows)), None)
    if ref is not None:
        cells = []
        for task in ("interpolation", "extrapolation"):
            for f in fractions:
                r = find(ref, task, f)
                cells.append("-" if r is None else f"{100 * r['linear_mse']:.3f}")
        blanks = [""] * (len(head) - len(cells))
        lines.append("| linear interpolation | " + " | ".join(cells + blanks) + " |")
    return "\n".join(lines)


def write_readme(readme: Path, name: str, text: str) -> None:
    """Replace the text between ``<!-- paper_tables:name -->`` and
    ``<!-- /paper_tables:name -->`` in ``readme`` (appending the block if absent)."""
    start, end = f"<!-- paper_tables:{name} -->", f"<!-- /paper_tables:{name} -->"
    doc = readme.read_text() if readme.exists() else ""
    block = f"{start}\n{text.strip()}\n{end}"
    if start in doc and end in doc:
        head, rest = doc.split(start, 1)
        doc = head + block + rest.split(end, 1)[1]
    else:
        doc = doc.rstrip() + "\n\n" + block + "\n"
    readme.write_text(doc)


def tables(rows: list[dict], fractions) -> str:
    """The markdown tables of ``rows``, one per data set, in the order they were run."""
    datasets = dict.fromkeys(r["dataset"] for r in rows)
    return "\n\n".join(
        markdown([r for r in rows if r["dataset"] == d], d, fractions) for d in datasets
    )


def render(path: Path, readme: bool) -> None:
    """Print the tables of a results JSON; with ``readme``, write them into the README."""
    record = json.loads(path.read_text())
    rows, settings = record["rows"], record["settings"]
    text = tables(rows, sorted({r["fraction"] for r in rows}))
    print(text)
    if readme:
        datasets = dict.fromkeys(r["dataset"] for r in rows)
        tag = record.get("tag") or f"{record['budget']}_{'_'.join(datasets)}"
        note = (
            f"`{path.name}`: {len(rows)} runs, {record['seconds'] / 60:.0f} min, "
            f"{settings['n_series']} series, {settings['max_steps']} steps per model:"
        )
        write_readme(ROOT / "README.md", tag, note + "\n\n" + text)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="smoke")
    parser.add_argument("--datasets", default="periodic,hopper")
    parser.add_argument("--models", default=",".join(PAPER_MUJOCO))
    parser.add_argument("--tasks", default="interpolation,extrapolation")
    parser.add_argument("--fractions", help="comma-separated, overriding the budget's")
    parser.add_argument("--max-steps", type=int, help="overrides the budget's")
    parser.add_argument("--n-series", type=int, help="overrides the budget's")
    parser.add_argument("--hopper-scaling", choices=("reference", "range"), default="reference")
    parser.add_argument(
        "--obs-std",
        default="learned",
        help="Gaussian observation std: 'learned' (default), 'reference' (the reference "
        "code's fixed 0.01 for periodic, 1e-3 for hopper) or a number",
    )
    parser.add_argument(
        "--train-scores-seen",
        action="store_true",
        help="extrapolation: the training bound also scores the points the encoder reads "
        "(the paper's protocol scores only those after the cut); test MSE is unchanged",
    )
    parser.add_argument(
        "--decoder-start",
        choices=("scored", "first"),
        default="scored",
        help="where the VAEs place z0: at the first scored time (the published code's "
        "extrapolation; default) or at each series' first time",
    )
    parser.add_argument(
        "--train-masks",
        choices=("fresh", "fixed"),
        default="fresh",
        help="the training series' encoder points: drawn anew at every draw, as the "
        "published code does (default), or once",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--reference-json",
        metavar="JSON",
        help="take the published code's rows from an earlier run's JSON (its runs are "
        "seeded by --seed, so they repeat) instead of running them again",
    )
    parser.add_argument(
        "--reference-dir",
        help="the published code's directory (see reference_cells.py): also run it on the "
        "periodic cells, on a second process while latentode trains, and add its test MSE "
        "to the table as '<model>, published code'",
    )
    parser.add_argument(
        "--tag",
        help="names the JSON (results/paper_<tag>.json) and the README block; "
        "default <budget>_<datasets>",
    )
    parser.add_argument("--out", default=None, help="JSON path (default results/paper_<tag>)")
    parser.add_argument(
        "--render",
        metavar="JSON",
        help="print (and with --readme write) the tables of an earlier run's JSON; runs nothing",
    )
    parser.add_argument(
        "--readme",
        action="store_true",
        help="write the tables into benchmarks/README.md (block named <budget>_<datasets>)",
    )
    args = parser.parse_args()
    bad = set(args.tasks.split(",")) - {"interpolation", "extrapolation"}
    if bad:
        parser.error(f"--tasks takes interpolation and/or extrapolation, not {sorted(bad)}")
    try:
        obs_std_for("periodic", args.obs_std)
    except ValueError:
        parser.error(f"--obs-std takes learned, reference or a number, not {args.obs_std!r}")
    torch.set_num_threads(args.threads)
    budget = dict(BUDGETS[args.budget])
    if args.fractions:
        budget["fractions"] = tuple(float(f) for f in args.fractions.split(","))
    for key in ("max_steps", "n_series"):
        if getattr(args, key):
            budget[key] = getattr(args, key)
    if args.render:
        render(Path(args.render), args.readme)
        return
    started = time.perf_counter()
    tag = args.tag or f"{args.budget}_{args.datasets.replace(',', '_')}"
    out = Path(args.out or ROOT / "results" / f"paper_{tag}.json")
    out.parent.mkdir(exist_ok=True)
    settings = dict(
        budget, seed=args.seed, hopper_scaling=args.hopper_scaling, obs_std=args.obs_std,
        train_scores_seen=args.train_scores_seen, decoder_start=args.decoder_start,
        train_masks=args.train_masks,
    )  # fmt: skip
    record = {"budget": args.budget, "tag": tag, "settings": settings}
    sets = load_sets(budget, args.seed, args.hopper_scaling)
    reference = None
    if args.reference_dir and "periodic" in args.datasets.split(","):
        cells = [
            (name, task, f)
            for task in args.tasks.split(",")
            for f in budget["fractions"]
            for name in args.models.split(",")
        ]
        ref_dir = check_reference_dir(args.reference_dir)
        reference = ReferenceCells(ref_dir, cells, budget, args.seed)
        reference.start()
        settings["reference_dir"] = str(args.reference_dir)
    rows = []
    for dataset in args.datasets.split(","):
        if dataset not in sets:
            continue
        for task in args.tasks.split(","):
            for f in budget["fractions"]:
                for name in args.models.split(","):
                    r = run_one(
                        name, dataset, sets, task, f, budget, args.seed, args.obs_std,
                        args.train_scores_seen, args.decoder_start, args.train_masks,
                    )  # fmt: skip
                    r["dataset"] = dataset
                    rows.append(r)
                    print(
                        f"{dataset:9s} {task:13s} {f:.1f} {name:22s} "
                        f"test MSE {r['test_mse']:.5f} (linear {r['linear_mse']:.5f}) "
                        f"{r['seconds']:.0f} s",
                        flush=True,
                    )
                    # written after every run, so an interrupted run keeps its rows
                    record.update(seconds=time.perf_counter() - started, rows=rows)
                    out.write_text(json.dumps(record, indent=2))
    ref_rows = {}
    if reference is not None:
        reference.join()
        ref_rows = reference.results
    elif args.reference_json:
        earlier = json.loads(Path(args.reference_json).read_text())["rows"]
        keys = ("reference_mse", "reference_curve", "reference_seconds", "reference_error")
        ref_rows = {
            (r["model"], r["task"], r["fraction"]): {k: r[k] for k in keys if k in r}
            for r in earlier
            if r.get("dataset") == "periodic"
        }
        settings["reference_json"] = str(args.reference_json)
    if ref_rows:
        for r in rows:
            if r["dataset"] == "periodic":
                r.update(ref_rows.get((r["model"], r["task"], r["fraction"]), {}))
        record.update(seconds=time.perf_counter() - started, rows=rows)
        out.write_text(json.dumps(record, indent=2))
    total = time.perf_counter() - started
    text = tables(rows, budget["fractions"])
    print()
    print(text)
    if args.readme:
        cmd = shlex.join(["python", "benchmarks/paper_tables.py", *sys.argv[1:]])
        where = out.relative_to(ROOT.parent) if out.is_relative_to(ROOT.parent) else out
        note = (
            f"`{cmd}` ({time.strftime('%Y-%m-%d')}, {torch.get_num_threads()} thread(s), "
            f"{total / 60:.0f} min; `{where}`):"
        )
        write_readme(ROOT / "README.md", tag, note + "\n\n" + text)


if __name__ == "__main__":
    main()
