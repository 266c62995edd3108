"""torchdiffeq's ``odeint``, with the solution collected by stacking.

torchdiffeq writes each output time into a preallocated tensor (``solution[i] = ...``).
Under autograd every such write is an in-place copy whose backward clones the whole
gradient of the solution, so a solve read at ``M`` nodes costs ``O(M^2)`` memory traffic in
the backward pass: at the reference toy's 100 nodes and 150 trajectories that was about a
tenth of a training step (``benchmarks/README.md``, issue 10). :func:`odeint_stacked` runs
the same solver objects, step for step, and stacks the outputs instead, so the forward
values are torchdiffeq's bit for bit and the backward is one split of the gradient.

For the Runge-Kutta adaptive solvers (dopri5, bosh3, ...) it also reads every output time
that falls inside one accepted step in one batched evaluation of that step's interpolating
polynomial, where torchdiffeq evaluates it once per output time: the same arithmetic
elementwise (so the same values bit for bit), with about ten tensor operations per solver
step instead of ten per output. A decoder read at 100 grid nodes over a dozen steps builds
an autograd graph several times smaller.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torchdiffeq import odeint
from torchdiffeq._impl.misc import _check_inputs
from torchdiffeq._impl.odeint import SOLVERS
from torchdiffeq._impl.rk_common import RKAdaptiveStepsizeODESolver
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
    if isinstance(solver, RKAdaptiveStepsizeODESolver):
        return _runge_kutta(solver, t.to(solver.dtype)).to(y0.dtype)
    if isinstance(solver, AdaptiveStepsizeODESolver):
        t = t.to(solver.dtype)
        solver._before_integrate(t)
        out = [solver.y0] + [solver._advance(t[i]).to(y0.dtype) for i in range(1, len(t))]
        return torch.stack(out)
    if isinstance(solver, FixedGridODESolver) and solver.interp in ("linear", "cubic"):
        return _fixed_grid(solver, t)
    return solver.integrate(t)


def _runge_kutta(solver: RKAdaptiveStepsizeODESolver, t: torch.Tensor) -> torch.Tensor:
    """``RKAdaptiveStepsizeODESolver.integrate`` with the outputs of each accepted step read
    together: ``t (M,)`` increasing, returns ``(M, *y0.shape)``.

    The steps are torchdiffeq's own (``_adaptive_step``, with its step-size control, its
    ``step_t``/``jump_t`` handling and its ``max_num_steps`` limit); only the reading of the
    interpolant is batched over the output times of a step."""
    solver._before_integrate(t)
    times = t.tolist()  # Python floats: the comparisons torchdiffeq makes on tensors
    chunks = [solver.y0.unsqueeze(0)]
    i = 1
    while i < len(times):
        n_steps = 0
        while times[i] > float(solver.rk_state.t1.detach()):
            if n_steps >= solver.max_num_steps:
                raise AssertionError(
                    f"max_num_steps exceeded ({n_steps}>={solver.max_num_steps})"
                )  # torchdiffeq's own check and message
            solver.rk_state = solver._adaptive_step(solver.rk_state)
            n_steps += 1
        state = solver.rk_state
        t1 = float(state.t1.detach())
        j = i + 1
        while j < len(times) and times[j] <= t1:
            j += 1
        chunks.append(_interp_evaluate_many(state.interp_coeff, state.t0, state.t1, t[i:j]))
        i = j
    return torch.cat(chunks)


def _interp_evaluate_many(
    coefficients: list[torch.Tensor], t0: torch.Tensor, t1: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    """torchdiffeq's ``_interp_evaluate`` at several times ``t (k,)`` in ``[t0, t1]`` at once:
    ``sum_p coefficients[p] * x**p`` with ``x = (t - t0) / (t1 - t0)``, the powers and sums
    taken in the same order, so each output equals the scalar evaluation bit for bit.
    Returns ``(k, *coefficients[0].shape)``."""
    first = coefficients[0]
    x = ((t - t0) / (t1 - t0)).to(first.dtype).view(-1, *([1] * first.dim()))
    total = first + x * coefficients[1]
    x_power = x
    for coefficient in coefficients[2:]:
        x_power = x_power * x
        total = total + x_power * coefficient
    return total


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
