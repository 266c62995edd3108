"""Random streams keyed by series id, and chunked inference over many series.

Every series gets its own random stream, derived from ``(seed, key)``, so its draws do
not depend on which other series are in the frame or in which order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import numpy as np
import torch

__all__ = ["keyed_seed", "keyed_normal", "keyed_rng", "chunks", "keyed_chunks", "seeded"]

T = TypeVar("T")


def _canonical(key: Any) -> Any:
    """Keys that compare equal give one stream: numpy scalars as Python ones, and a float
    id with an integer value as that integer (pandas turns int ids into floats when a
    column gains a NaN)."""
    if isinstance(key, tuple):
        return tuple(_canonical(k) for k in key)
    if isinstance(key, np.generic):
        key = key.item()
    if isinstance(key, float) and key.is_integer():
        return int(key)
    return key


def keyed_seed(seed: int, key: Any) -> int:
    """A 64-bit integer seed derived from ``(seed, key)``; keys equal as ids (``1``,
    ``1.0``, ``np.int32(1)``) give the same seed."""
    digest = hashlib.sha256(f"{seed}|{_canonical(key)!r}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def keyed_normal(seed: int, key: Any, n: int, dim: int) -> torch.Tensor:
    """``(n, dim)`` standard normals from the torch stream keyed by ``(seed, key)``."""
    gen = torch.Generator().manual_seed(keyed_seed(seed, key) >> 1)
    return torch.randn(n, dim, generator=gen)


def keyed_rng(seed: int, key: Any) -> np.random.Generator:
    """The numpy stream keyed by ``(seed, key)``."""
    return np.random.default_rng(keyed_seed(seed, key))


def chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """Consecutive slices of at most ``size`` items."""
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def keyed_chunks(
    items: Sequence[T], size: int, seed: int, n_samples: int, dim: int
) -> Iterator[tuple[list[T], torch.Tensor]]:
    """Chunks of series (anything with an ``id``) with their z0 draws: ``eps (K, B, dim)``
    standard normals, column ``b`` from the stream keyed by the ``b``-th series' id."""
    for chunk in chunks(items, size):
        eps = torch.stack([keyed_normal(seed, s.id, n_samples, dim) for s in chunk], dim=1)
        yield chunk, eps


class seeded:  # noqa: N801 - used like a function: ``with seeded(seed): ...``
    """Run a block with torch's global generators (CPU and any CUDA devices) seeded,
    then restore them: the caller's random state is left as it was."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
        self._fork = torch.random.fork_rng(devices=devices)

    def __enter__(self) -> None:
        self._fork.__enter__()
        torch.manual_seed(self.seed)

    def __exit__(self, *exc: Any) -> None:
        self._fork.__exit__(*exc)
