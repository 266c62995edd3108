"""Irregular series and their padded per-sample batch layout.

Every series keeps its own observation times. A batch pads series to the longest
one; nothing is ever merged onto a union-of-times grid.

Shapes used throughout (``B`` series, ``N`` padded points, ``D`` features):

* ``times``: ``(B, N)``, sorted within each row; padding repeats the last time.
* ``values``: ``(B, N, D)``; padding and unobserved cells are 0.
* ``mask``: ``(B, N, D)``, 1 where a value exists in the data.
* ``obs_mask``: ``(B, N, D)``, the subset of ``mask`` the encoder may read.
* ``target_mask``: ``(B, N, D)``, the subset of ``mask`` the loss and metrics score.
* ``lengths``: ``(B,)``, number of real points per row.

Covariates (optional, :mod:`latentode.nn.covariates`): ``statics (B, S)``, and the input
signal's knots ``input_times (B, M)`` (padding ``+inf``) and ``input_values (B, M, C)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import torch

__all__ = ["Series", "IrregularBatch", "collate"]


@dataclass
class Series:
    """One irregularly sampled, possibly partly observed, multivariate series.

    Attributes:
        times: ``(n,)`` observation times (any order; sorted by :func:`collate`).
        values: ``(n, D)`` values; entries where ``mask`` is 0 are ignored.
        mask: ``(n, D)`` 1 where a value was observed. Defaults to ``isfinite(values)``.
        obs_mask: ``(n, D)`` what the encoder may read. Defaults to ``mask``.
        target_mask: ``(n, D)`` what is scored. Defaults to ``mask``.
        label: optional sequence label (scalar) or per-point labels ``(n,)``.
        id: any hashable identifier, carried through for the DataFrame layer.
        statics: ``(S,)`` per-series covariates, or ``None``.
        input_times, input_values: ``(m,)`` sorted knots and ``(m, C)`` values of the
            series' piecewise-constant input signal (:mod:`latentode.nn.covariates`), or
            ``None``; independent of ``times`` (known future inputs have knots after the
            last observation).
    """

    times: np.ndarray
    values: np.ndarray
    mask: np.ndarray | None = None
    obs_mask: np.ndarray | None = None
    target_mask: np.ndarray | None = None
    label: Any = None
    id: Any = None
    statics: np.ndarray | None = None
    input_times: np.ndarray | None = None
    input_values: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.statics is not None:
            self.statics = np.asarray(self.statics, dtype=np.float64).reshape(-1)
        if (self.input_times is None) != (self.input_values is None):
            raise ValueError(f"series {self.id!r}: give input_times and input_values together.")
        if self.input_times is not None:
            self.input_times = np.asarray(self.input_times, dtype=np.float64).reshape(-1)
            iv = np.asarray(self.input_values, dtype=np.float64)
            self.input_values = iv.reshape(len(self.input_times), -1)
        self.times = np.asarray(self.times, dtype=np.float64).reshape(-1)
        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        if values.shape[0] != self.times.shape[0]:
            raise ValueError(
                f"series {self.id!r}: {self.times.shape[0]} times but {values.shape[0]} rows "
                "of values; give one row of values per time."
            )
        if self.mask is None:
            mask = np.isfinite(values)
        else:
            mask = np.asarray(self.mask, dtype=bool).reshape(values.shape) & np.isfinite(values)
        self.mask = mask
        self.values = np.where(mask, values, 0.0)
        for name in ("obs_mask", "target_mask"):
            m = getattr(self, name)
            m = mask.copy() if m is None else np.asarray(m, dtype=bool).reshape(values.shape) & mask
            setattr(self, name, m)

    def __len__(self) -> int:
        return int(self.times.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.values.shape[1])

    def with_masks(
        self, obs_mask: np.ndarray | None = None, target_mask: np.ndarray | None = None
    ) -> Series:
        """Copy with new encoder/score masks (each intersected with ``mask``)."""
        return replace(
            self,
            obs_mask=self.obs_mask if obs_mask is None else obs_mask,
            target_mask=self.target_mask if target_mask is None else target_mask,
        )


@dataclass
class IrregularBatch:
    """A padded batch of series, each on its own time grid. See the module docstring."""

    times: torch.Tensor
    values: torch.Tensor
    mask: torch.Tensor
    obs_mask: torch.Tensor
    target_mask: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor | None = None
    ids: list = field(default_factory=list)
    statics: torch.Tensor | None = None
    input_times: torch.Tensor | None = None
    input_values: torch.Tensor | None = None

    # ------------------------------------------------------------------ basics
    @property
    def batch_size(self) -> int:
        return int(self.times.shape[0])

    @property
    def n_points(self) -> int:
        return int(self.times.shape[1])

    @property
    def n_features(self) -> int:
        return int(self.values.shape[2])

    @property
    def point_mask(self) -> torch.Tensor:
        """``(B, N)`` bool, True for real (non-padding) points."""
        n = self.times.shape[1]
        return torch.arange(n, device=self.times.device)[None, :] < self.lengths[:, None]

    @property
    def t0(self) -> torch.Tensor:
        """``(B,)`` reference time of each series: its first point (observed or not)."""
        return self.times[:, 0]

    def __len__(self) -> int:
        return self.batch_size

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> IrregularBatch:
        """Move tensors to ``device`` (float tensors also to ``dtype`` if given)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, torch.Tensor):
                if dtype is not None and v.is_floating_point():
                    v = v.to(device=device, dtype=dtype)
                else:
                    v = v.to(device)
            out[f.name] = v
        return IrregularBatch(**out)

    def select(self, index: Sequence[int] | torch.Tensor) -> IrregularBatch:
        """Rows ``index`` of the batch (padding is kept)."""
        idx = torch.as_tensor(index, dtype=torch.long, device=self.times.device)
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, torch.Tensor):
                v = v[idx]
            elif f.name == "ids" and v:
                v = [v[int(i)] for i in idx]
            out[f.name] = v
        return IrregularBatch(**out)


def collate(series: Sequence[Series], dtype: torch.dtype = torch.float32) -> IrregularBatch:
    """Pad a list of :class:`Series` into an :class:`IrregularBatch`.

    Points are sorted by time within each series; padding repeats the last time,
    has zero values and all-zero masks, so it has no influence anywhere.
    Labels: scalars give ``labels (B,)``; per-point labels give ``labels (B, N)``
    padded with -1.
    """
    if len(series) == 0:
        raise ValueError("collate needs at least one series.")
    d = series[0].n_features
    for s in series:
        if s.n_features != d:
            raise ValueError(
                f"series {s.id!r} has {s.n_features} features, expected {d}: every series "
                "in a batch must have the same feature columns."
            )
        if len(s) == 0:
            raise ValueError(f"series {s.id!r} has no points; drop it before batching.")
    b = len(series)
    n = max(len(s) for s in series)
    times = np.zeros((b, n))
    values = np.zeros((b, n, d))
    masks = {k: np.zeros((b, n, d), dtype=bool) for k in ("mask", "obs_mask", "target_mask")}
    lengths = np.zeros(b, dtype=np.int64)
    label_list = [s.label for s in series]
    per_point = any(lab is not None and np.ndim(lab) > 0 for lab in label_list)
    labels = np.full((b, n) if per_point else (b,), -1, dtype=np.float64)
    has_labels = any(lab is not None for lab in label_list)
    for i, s in enumerate(series):
        order = np.argsort(s.times, kind="stable")
        k = len(s)
        lengths[i] = k
        times[i, :k] = s.times[order]
        times[i, k:] = s.times[order][-1]
        values[i, :k] = s.values[order]
        for name, arr in masks.items():
            arr[i, :k] = getattr(s, name)[order]
        if s.label is not None:
            if per_point:
                labels[i, :k] = np.asarray(s.label, dtype=np.float64).reshape(-1)[order]
            else:
                labels[i] = float(s.label)
    f = dict(dtype=dtype)
    return IrregularBatch(
        **_collate_covariates(series, dtype),
        times=torch.as_tensor(times, **f),
        values=torch.as_tensor(values, **f),
        mask=torch.as_tensor(masks["mask"], **f),
        obs_mask=torch.as_tensor(masks["obs_mask"], **f),
        target_mask=torch.as_tensor(masks["target_mask"], **f),
        lengths=torch.as_tensor(lengths),
        labels=torch.as_tensor(labels, **f) if has_labels else None,
        ids=[s.id for s in series],
    )


def _collate_covariates(series: Sequence[Series], dtype: torch.dtype) -> dict:
    """``statics (B, S)``, ``input_times (B, M)`` (padded with ``+inf``) and
    ``input_values (B, M, C)`` (padded with the last knot's values), when the series have
    them; all series must agree."""
    out: dict = {}
    has_statics = [s.statics is not None for s in series]
    has_inputs = [s.input_times is not None for s in series]
    for name, has in (("statics", has_statics), ("inputs", has_inputs)):
        if any(has) and not all(has):
            odd = next(s.id for s, h in zip(series, has, strict=True) if not h)
            raise ValueError(f"series {odd!r} has no {name} but others in the batch do.")
    if all(has_statics):
        out["statics"] = torch.as_tensor(np.stack([s.statics for s in series]), dtype=dtype)
    if all(has_inputs):
        m = max(len(s.input_times) for s in series)
        c = series[0].input_values.shape[1]
        times = np.full((len(series), m), np.inf)
        values = np.zeros((len(series), m, c))
        for i, s in enumerate(series):
            k = len(s.input_times)
            times[i, :k] = s.input_times
            values[i, :k] = s.input_values
            values[i, k:] = s.input_values[-1]
        out["input_times"] = torch.as_tensor(times, dtype=dtype)
        out["input_values"] = torch.as_tensor(values, dtype=dtype)
    return out
