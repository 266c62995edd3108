"""Lightning data module over lists of :class:`Series`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import lightning as L
import torch
from torch.utils.data import DataLoader

from ..data.batch import Series, collate
from ..data.scaling import fit_time_scale, fit_value_scale

__all__ = ["IrregularDataModule"]


class IrregularDataModule(L.LightningDataModule):
    """Batches of irregular series for ``lightning.Trainer``.

    Args:
        train, val, test, predict: lists of :class:`Series` (masks already set by
            a protocol from :mod:`latentode.data.protocols` if wanted).
        batch_size: series per batch.
        num_workers: DataLoader workers.
        seed: seed of the training shuffle.
        train_transform: applied to each training batch's series before collation,
            e.g. :class:`~latentode.data.protocols.RandomObservation`.

    ``time_offset`` / ``time_scale`` (:func:`~latentode.data.scaling.fit_time_scale`)
    and ``value_offset`` / ``value_scale`` (per feature,
    :func:`~latentode.data.scaling.fit_value_scale`) are fitted on ``train`` and picked
    up by the Lightning modules at the start of fitting, unless the model has its own.
    """

    def __init__(
        self,
        train: Sequence[Series],
        val: Sequence[Series] | None = None,
        test: Sequence[Series] | None = None,
        predict: Sequence[Series] | None = None,
        *,
        batch_size: int = 50,
        num_workers: int = 0,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
        train_transform: Callable[[list[Series]], list[Series]] | None = None,
    ) -> None:
        super().__init__()
        if not train:
            raise ValueError("IrregularDataModule needs at least one training series.")
        self.train_set, self.val_set = list(train), list(val or [])
        self.test_set, self.predict_set = list(test or []), list(predict or [])
        self.batch_size, self.num_workers, self.seed, self.dtype = (
            batch_size,
            num_workers,
            seed,
            dtype,
        )
        self.time_offset, self.time_scale = fit_time_scale(self.train_set)
        self.value_offset, self.value_scale = fit_value_scale(self.train_set)
        self.n_features = self.train_set[0].n_features
        self.train_transform = train_transform

    def _collate(self, items: list[Series]):
        return collate(items, dtype=self.dtype)

    def _collate_train(self, items: list[Series]):
        if self.train_transform is not None:
            items = self.train_transform(items)
        return collate(items, dtype=self.dtype)

    def _loader(self, data: list[Series], shuffle: bool) -> DataLoader:
        gen = torch.Generator().manual_seed(self.seed) if shuffle else None
        return DataLoader(
            data,
            batch_size=self.batch_size,
            shuffle=shuffle,
            generator=gen,
            collate_fn=self._collate_train if shuffle else self._collate,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, True)

    def val_dataloader(self) -> DataLoader | list:
        return self._loader(self.val_set, False) if self.val_set else []

    def test_dataloader(self) -> DataLoader | list:
        return self._loader(self.test_set, False) if self.test_set else []

    def predict_dataloader(self) -> DataLoader | list:
        return self._loader(self.predict_set, False) if self.predict_set else []
