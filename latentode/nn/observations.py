"""Where z0 sits in a batch, and the observed points gathered per series in the order a
recurrent encoder reads them: towards z0 (latest first, or earliest first where z0 lies
after them)."""

from __future__ import annotations

import torch

__all__ = ["first_scored_time", "ordered_observations", "toward_t0"]


def toward_t0(times: torch.Tensor, obs_mask: torch.Tensor, t0: torch.Tensor) -> torch.Tensor:
    """Per row, whether reading the observations towards ``t0`` means latest first:
    ``True`` unless ``t0`` lies after the row's last observed time (z0 at a time after the
    points the encoder reads, as in extrapolation with ``decoder_start="scored"``), so a
    recurrent encoder ends at the observation nearest z0.

    ``times (B, N)``, ``obs_mask (B, N, D)``, ``t0 (B,)`` -> ``(B,)`` bool.
    """
    observed = obs_mask.amax(dim=-1) > 0
    last = torch.where(observed, times, torch.full_like(times, -torch.inf)).amax(1)
    return ~(observed.any(1) & (t0 > last))


def ordered_observations(
    times: torch.Tensor,
    values: torch.Tensor,
    obs_mask: torch.Tensor,
    *,
    latest_first: bool | torch.Tensor = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gather each series' observed points into the first slots, latest first (or earliest
    first).

    Args:
        times: ``(B, N)`` sorted per row.
        values, obs_mask: ``(B, N, D)``.
        latest_first: order of the gathered points, for all rows or per row (``(B,)``
            bool).

    Returns:
        ``t (B, M)``, ``x (B, M, D)``, ``m (B, M, D)``, ``valid (B, M)``, ``counts (B,)``
        where ``M`` is the largest number of observed points of a series (>= 1).
        Invalid slots repeat the last valid time and have zero values and masks.
    """
    b, n = times.shape
    observed = obs_mask.amax(dim=-1) > 0
    counts = observed.sum(1)
    ar = torch.arange(n, device=times.device)
    if isinstance(latest_first, torch.Tensor):
        rank = torch.where(latest_first[:, None], -ar, ar)
    else:
        rank = -ar if latest_first else ar
    key = torch.where(observed, rank, 2 * n + ar)
    order = torch.argsort(key, dim=1)
    m = max(int(counts.max()) if b else 0, 1)
    order = order[:, :m]
    valid = torch.arange(m, device=times.device)[None, :] < counts[:, None]
    t = times.gather(1, order)
    last = t.gather(1, (counts - 1).clamp_min(0)[:, None])
    t = torch.where(valid, t, last)
    idx = order[..., None].expand(-1, -1, values.shape[-1])
    vf = valid[..., None].to(values.dtype)
    mk = obs_mask.gather(1, idx) * vf
    x = values.gather(1, idx) * mk
    return t, x, mk, valid, counts


def first_scored_time(times: torch.Tensor, target_mask: torch.Tensor) -> torch.Tensor:
    """Each series' first time with a scored cell: ``times (B, N)``, ``target_mask
    (B, N, D)`` -> ``(B,)``; a series with no scored cell gives its first time."""
    scored = target_mask.amax(-1) > 0
    inf = torch.full_like(times, float("inf"))
    first = torch.where(scored, times, inf).amin(1)
    return torch.where(scored.any(1), first, times[:, 0])
