"""torchdiffeq's ``odeint``, with the solution collected by stacking.

torchdiffeq writes each output time into a preallocated tensor (``solution[i] = ...``).
Under autograd every such write is an in-place copy whose backward clones the whole
gradient of the solution, so a solve read at ``M`` nodes costs ``O(M^2)`` memory traffic in
the backward pass: at the reference toy's 100 nodes and 150 trajectories that was about a
tenth of a training step (``benchmarks/README.md``, issue 10). :func:`odeint_stacked` runs
the same solver objects, step for step, and stacks the outputs instead, so the forward
values are torchdiffeq's bit for bit and the backward is one split of the gradient.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torchdiffeq import odeint
from torchdiffeq._impl.misc import _check_inputs
from torchdiffeq._impl.odeint import SOLVERS
from torchdiffeq._impl.solvers import AdaptiveStepsizeODESolver, FixedGridODESolver

__all__ = ["odeint_stacked"]


def odeint_stacked(
    func: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    y0: torch.Tensor,
    t: torch.Tensor,
    *,
    method: str,
    rtol: float,
    atol: float,
    options: dict | None = None,
) -> torch.Tensor:
    """``torchdiffeq.odeint(func, y0, t, ...)`` for a tensor ``y0 (B, L)`` and increasing
    ``t (M,)``: returns ``(M, B, L)``, equal to torchdiffeq's result, with a backward pass
    linear in ``M``. Solvers other than torchdiffeq's adaptive and fixed-grid families
    (``scipy_solver``) go through ``odeint`` itself."""
    if len(t) < 2 or not torch.is_tensor(y0):
        return odeint(func, y0, t, method=method, rtol=rtol, atol=atol, options=options)
    shapes, func, y0, t, rtol, atol, method, options, _, reversed_ = _check_inputs(
        func, y0, t, rtol, atol, method, options, None, SOLVERS
    )
    solver = SOLVERS[method](func=func, y0=y0, rtol=rtol, atol=atol, **options)
    if shapes is not None or reversed_:  # not produced by a tensor state on increasing t
        return solver.integrate(t)
    if isinstance(solver, AdaptiveStepsizeODESolver):
        t = t.to(solver.dtype)
        solver._before_integrate(t)
        out = [solver.y0] + [solver._advance(t[i]).to(y0.dtype) for i in range(1, len(t))]
        return torch.stack(out)
    if isinstance(solver, FixedGridODESolver) and solver.interp in ("linear", "cubic"):
        return _fixed_grid(solver, t)
    return solver.integrate(t)


def _fixed_grid(solver: FixedGridODESolver, t: torch.Tensor) -> torch.Tensor:
    """``FixedGridODESolver.integrate`` with the outputs stacked (the same steps and
    interpolation between them)."""
    grid = solver.grid_constructor(solver.func, solver.y0, t)
    if not (grid[0] == t[0] and grid[-1] == t[-1]):
        return solver.integrate(t)
    out = [solver.y0]
    j, y0 = 1, solver.y0
    for t0, t1 in zip(grid[:-1], grid[1:], strict=True):
        dt = t1 - t0
        solver.func.callback_step(t0, y0, dt)
        dy, f0 = solver._step_func(solver.func, t0, dt, t1, y0)
        y1 = y0 + dy
        while j < len(t) and t1 >= t[j]:
            if solver.interp == "linear":
                out.append(solver._linear_interp(t0, t1, y0, y1, t[j]))
            else:
                f1 = solver.func(t1, y1)
                out.append(solver._cubic_hermite_interp(t0, y0, f0, t1, y1, f1, t[j]))
            j += 1
        y0 = y1
    return torch.stack([o.to(solver.y0.dtype) for o in out])
