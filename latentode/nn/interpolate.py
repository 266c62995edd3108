"""Interpolation of solved states between the nodes of a uniform grid.

The solver layer (:mod:`latentode.nn.solve`) solves each batch once onto nodes at integer
multiples of ``grid_step`` and reads every series at its own times from them. Two cubic
rules, both with error O(grid_step^4):

* ``"cubic"`` (the default): the Lagrange cubic through the four nodes around a query
  (one-sided in the first interval). It needs only the states, so the solve costs no
  extra evaluation of the vector field; its error bound is ``h^4 max|z^(4)| / 24``
  (``h = grid_step``), against Hermite's ``/ 384``.
* ``"hermite"``: the cubic Hermite interpolant from the states and the field's derivatives
  at the two nodes around a query; the derivatives cost one batched evaluation of the
  field at every node (about half of a decoder's forward and backward at the reference's
  settings, ``benchmarks/README.md``). The default until 2026-12-04; files trained with it
  load with it.

Both have hand-written backward passes that keep only the queries' positions, not the
``(B, N, L)`` intermediates autograd would save.
"""

from __future__ import annotations

import torch

__all__ = [
    "INTERPOLATIONS",
    "left_nodes",
    "cubic_stencil",
    "cubic_interpolate",
    "hermite_interpolate",
]

#: the interpolation rules between grid nodes
INTERPOLATIONS = ("cubic", "hermite")


def left_nodes(tau: torch.Tensor, step: float) -> torch.Tensor:
    """The left node ``k`` of the interval ``[k, k + 1]`` holding each query ``tau``
    (long, same shape); a query on a node ``k > 0`` uses ``[k - 1, k]``."""
    return (torch.ceil(tau.detach().double() / step) - 1).clamp_min(0).long()


def cubic_stencil(tau: torch.Tensor, step: float) -> torch.Tensor:
    """The first of the four nodes the cubic rule reads for each query: ``k - 1`` for the
    interval ``[k, k + 1]``, ``0`` in the first interval."""
    return (left_nodes(tau, step) - 1).clamp_min(0)


# ----------------------------------------------------------------------- cubic (Lagrange)
def _cubic_weights(v: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Lagrange weights of nodes 0, 1, 2, 3 at the position ``v`` (in node units)."""
    a, b, c = v - 1, v - 2, v - 3
    return -a * b * c / 6, v * b * c / 2, -v * a * c / 2, v * a * b / 6


def _cubic(zs, idx, rows, v):
    w = _cubic_weights(v)
    out = zs[idx, rows] * w[0]
    for j in (1, 2, 3):
        out = out + zs[idx + j, rows] * w[j]
    return out


class _Cubic(torch.autograd.Function):
    """:func:`_cubic` keeping only the flat row of each query's first node and ``v`` for
    the backward pass.

    The nodes are read as rows ``node * B + series`` of the ``(M * B, L)`` states, with
    ``index_select``, and the backward adds into them with ``index_add_``: on a CPU,
    indexing ``zs[idx, rows]`` with two index tensors and its backward (an accumulating
    ``index_put_``, which sorts the indices) cost about 4% of a training step at the
    reference's settings (``benchmarks/README.md``). One node of the stencil at a time, so
    two ``(B, N, L)`` tensors live at a time."""

    @staticmethod
    def forward(ctx, zs, idx, rows, v):
        m, b, dim = zs.shape
        first = (idx * b + rows).reshape(-1)
        ctx.save_for_backward(first, v)
        ctx.shape = zs.shape
        flat = zs.reshape(m * b, dim)
        w = _cubic_weights(v)
        out = flat.index_select(0, first).view(*idx.shape, dim).mul_(w[0])
        for j in (1, 2, 3):
            out.addcmul_(flat.index_select(0, first + j * b).view(*idx.shape, dim), w[j])
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        first, v = ctx.saved_tensors
        m, b, dim = ctx.shape
        g = grad.new_zeros(m * b, dim)
        for j, w in enumerate(_cubic_weights(v)):
            g.index_add_(0, first + j * b, (w * grad).reshape(-1, dim))
        return g.view(m, b, dim), None, None, None


def cubic_interpolate(
    zs: torch.Tensor, step: float, tau: torch.Tensor, nodes: torch.Tensor | None = None
) -> torch.Tensor:
    """Lagrange cubic interpolation on a uniform grid.

    Args:
        zs: ``(M, B, L)`` states at nodes ``0, step, ...`` (or at ``nodes * step``), M >= 4.
        step: node spacing.
        tau: ``(B, N)`` query times (relative), within the nodes' range.
        nodes: ``(M,)`` increasing node indices when only some nodes are stored; the four
            nodes from :func:`cubic_stencil` on of each query must be among them.

    Returns:
        ``(B, N, L)``.
    """
    m = zs.shape[0]
    if m < 4:
        raise ValueError(f"cubic interpolation needs at least 4 nodes, got {m}.")
    first = cubic_stencil(tau, step)
    if nodes is None:
        first = first.clamp_max(m - 4)
        idx = first
    else:
        idx = torch.searchsorted(nodes, first)  # the same rule as the solve's node list
    v = (tau / step - first.to(tau.dtype)).unsqueeze(-1)
    rows = torch.arange(tau.shape[0], device=tau.device)[:, None]
    if v.requires_grad:  # differentiable in the query times too: plain autograd
        return _cubic(zs, idx, rows, v)
    return _Cubic.apply(zs, idx, rows, v)


# ----------------------------------------------------------------------- Hermite
def hermite_interpolate(
    zs: torch.Tensor,
    dzs: torch.Tensor,
    step: float,
    tau: torch.Tensor,
    nodes: torch.Tensor | None = None,
) -> torch.Tensor:
    """Cubic Hermite interpolation on a uniform grid.

    Args:
        zs, dzs: ``(M, B, L)`` states and derivatives at nodes ``0, step, ...`` (or at
            ``nodes * step``).
        step: node spacing.
        tau: ``(B, N)`` query times (relative), within the nodes' range.
        nodes: ``(M,)`` increasing node indices when only some nodes are stored; each
            query's two neighbouring nodes must be among them.

    Returns:
        ``(B, N, L)``.
    """
    m = zs.shape[0]
    b = tau.shape[0]
    pos = tau / step
    if nodes is None:
        idx = pos.detach().floor().long().clamp(0, m - 2)
        left = idx
    else:
        left = left_nodes(tau, step)
        idx = torch.searchsorted(nodes, left)  # the same rule as the solve's node list
    u = (pos - left.to(pos.dtype)).unsqueeze(-1)
    rows = torch.arange(b, device=tau.device)[:, None]
    if u.requires_grad:  # differentiable in the query times too: plain autograd
        return _hermite(zs, dzs, step, idx, rows, u)
    return _Hermite.apply(zs, dzs, step, idx, rows, u)


def _hermite(zs, dzs, step, idx, rows, u):
    z_a, z_b = zs[idx, rows], zs[idx + 1, rows]
    d_a, d_b = dzs[idx, rows] * step, dzs[idx + 1, rows] * step
    u2 = u * u
    u3 = u2 * u
    return (
        (2 * u3 - 3 * u2 + 1) * z_a
        + (u3 - 2 * u2 + u) * d_a
        + (-2 * u3 + 3 * u2) * z_b
        + (u3 - u2) * d_b
    )


class _Hermite(torch.autograd.Function):
    """:func:`_hermite` keeping only ``idx``, ``rows`` and ``u`` for the backward pass."""

    @staticmethod
    def forward(ctx, zs, dzs, step, idx, rows, u):
        ctx.save_for_backward(idx, rows, u)
        ctx.step, ctx.shape = step, zs.shape
        return _hermite(zs, dzs, step, idx, rows, u)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        idx, rows, u = ctx.saved_tensors
        rows = rows.expand_as(idx)
        u2 = u * u
        u3 = u2 * u

        def scattered(w_a, w_b, scale=None):
            # each node's two contributions summed as autograd sums them (bit-identical)
            g_a, g_b = w_a * grad, w_b * grad
            if scale is not None:
                g_a, g_b = g_a * scale, g_b * scale
            out_a = grad.new_zeros(ctx.shape).index_put_((idx, rows), g_a, True)
            return out_a + grad.new_zeros(ctx.shape).index_put_((idx + 1, rows), g_b, True)

        g_zs = scattered(2 * u3 - 3 * u2 + 1, -2 * u3 + 3 * u2) if ctx.needs_input_grad[0] else None
        g_dzs = scattered(u3 - 2 * u2 + u, u3 - u2, ctx.step) if ctx.needs_input_grad[1] else None
        return g_zs, g_dzs, None, None, None, None
