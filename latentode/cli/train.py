"""``latentode train``: config-driven experiments at the Lightning level, through
Lightning's ``LightningCLI`` with :class:`~latentode.training.LatentODEModule` and a data
module built from a long frame (:class:`FrameDataModule`, an
:class:`~latentode.training.IrregularDataModule`).

    latentode train --print_config > experiment.yaml    # every option, with defaults
    latentode train --config experiment.yaml --trainer.max_epochs 50

Needs ``jsonargparse`` (``pip install "latentode[cli]"``), Lightning's own dependency for
its CLI.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..training import IrregularDataModule

__all__ = ["FrameDataModule", "train_main", "GENERATED"]

#: data sets generated on the fly (``n_series`` of them); the other names are the shipped
#: loaders of :mod:`latentode.datasets`
GENERATED = ("periodic", "spiral")
_SHIPPED = ("chickweight", "phenobarb", "theophylline", "mauna_loa_co2")


def _load(data: str, n_series: int, seed: int, time_col: str):
    from .. import datasets
    from .io import read_frame

    if data in GENERATED:
        return getattr(datasets, data)(n_series=n_series, seed=seed)
    if data in _SHIPPED:
        return getattr(datasets, data)().frame
    if "." not in data:
        raise ValueError(
            f"data={data!r} is neither a file nor a data set; give a .csv/.parquet path or "
            f"one of {', '.join(GENERATED + _SHIPPED)}."
        )
    return read_frame(data, time_col)


class FrameDataModule(IrregularDataModule):
    """Training and validation batches from a long frame, for ``latentode train``.

    Args:
        data: a ``.csv`` / ``.parquet`` long frame, a generated data set
            (``"periodic"``, ``"spiral"``: ``n_series`` series) or a shipped one
            (``"chickweight"``, ``"phenobarb"``, ``"theophylline"``, ``"mauna_loa_co2"``).
        id_col, time_col, target_cols: the frame's columns (``None``: every numeric
            column but id and time, as the estimators choose them).
        n_series: series of a generated data set.
        val_size: fraction of series held out for validation (by a seeded shuffle).
        batch_size, num_workers, seed: as :class:`IrregularDataModule`.
        min_observed, extrapolate_prob: the training masks
            (:class:`~latentode.data.protocols.RandomObservation`), also applied, with
            ``seed + 1``, to the validation series.

    ``n_features`` is linked to the model's ``input_dim``.
    """

    def __init__(
        self,
        data: str = "periodic",
        *,
        id_col: str = "id",
        time_col: str = "time",
        target_cols: list[str] | None = None,
        n_series: int = 1000,
        val_size: float = 0.2,
        batch_size: int = 50,
        num_workers: int = 0,
        seed: int = 0,
        min_observed: float = 0.1,
        extrapolate_prob: float = 0.3,
    ) -> None:
        import numpy as np

        from ..data.protocols import RandomObservation
        from ..frames import TimeCodec, check_frame, frame_to_series

        if not 0 <= val_size < 1:
            raise ValueError(f"val_size must be in [0, 1), got {val_size!r}.")
        frame = _load(data, n_series, seed, time_col)
        if target_cols is None and data == "spiral":
            target_cols = ["x", "y"]  # its "direction" column is a label
        clean, targets = check_frame(frame, id_col, time_col, target_cols)
        self.target_cols = list(targets)
        series = frame_to_series(clean, id_col, time_col, targets, TimeCodec.fit(clean[time_col]))
        order = np.random.default_rng(seed).permutation(len(series))
        n_val = int(round(val_size * len(series)))
        if n_val and len(series) - n_val < 1:
            raise ValueError(f"val_size={val_size} leaves no training series.")
        masks = dict(fraction_range=(min_observed, 1.0), extrapolate_prob=extrapolate_prob)
        val = RandomObservation(**masks, seed=seed + 1)([series[i] for i in order[:n_val]])
        super().__init__(
            [series[i] for i in order[n_val:]],
            val,
            batch_size=batch_size,
            num_workers=num_workers,
            seed=seed,
            train_transform=RandomObservation(**masks, seed=seed),
        )


def train_main(argv: Sequence[str]) -> int:
    """Run ``LightningCLI`` on ``argv`` (without the ``train`` word): fit, then print the
    last logged metrics. Returns the exit status."""
    try:
        from lightning.pytorch.cli import LightningCLI
    except ImportError as err:  # pragma: no cover - lightning is a dependency
        raise ValueError(f"latentode train needs Lightning's CLI ({err}).") from None
    try:
        import jsonargparse  # noqa: F401
    except ImportError:
        raise ValueError(
            'latentode train needs jsonargparse: pip install "latentode[cli]" (or '
            '"jsonargparse[signatures]").'
        ) from None
    from ..training import LatentODEModule

    class _CLI(LightningCLI):
        def add_arguments_to_parser(self, parser) -> None:
            parser.link_arguments("data.n_features", "model.input_dim", apply_on="instantiate")

    cli = _CLI(
        LatentODEModule,
        FrameDataModule,
        run=False,
        args=list(argv),
        save_config_kwargs={"overwrite": True},
        trainer_defaults={"max_epochs": 30},
    )
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    metrics = {k: float(v) for k, v in cli.trainer.callback_metrics.items()}
    for name in sorted(metrics):
        print(f"{name}: {metrics[name]:.6g}")
    return 0
