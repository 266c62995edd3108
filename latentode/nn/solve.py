"""Per-sample ODE solving on top of torchdiffeq.

Two operations, both free of any union-of-times grid:

* :func:`solve_at_times` evaluates a batch of trajectories, each started at its
  own ``t0`` and read at its own ``times (B, N)``. It solves once, with any
  torchdiffeq method, onto a shared grid of *relative* times ``tau = t - t0``
  spaced ``grid_step`` apart, then evaluates every series at its own times by cubic
  interpolation between the grid nodes (:mod:`latentode.nn.interpolate`).
  The nodes sit at multiples of ``grid_step``, so a series reads the same nodes
  whatever else is in its batch; the cost grows with the span, not with ``B x N``.
  Adaptive methods keep only the nodes some query needs (their steps do not depend
  on where the outputs are), so a query far beyond the data costs the solver's
  steps to get there, not one node per ``grid_step``. Measured against the alternatives in
  ``benchmarks/batching.py`` (see ``benchmarks/README.md``).
* :func:`evolve` moves every row of a state by its own signed duration ``dt (B,)``
  by per-sample time rescaling: ``s in [0, 1]``, ``t = t_start + s dt``,
  ``dh/ds = dt f(t, h)``. Rows with ``dt = 0`` are left exactly unchanged. The
  ODE-RNN encoders use it between consecutive observations.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torchdiffeq import odeint, odeint_adjoint
from torchdiffeq._impl.odeint import SOLVERS as _TORCHDIFFEQ_SOLVERS
from torchdiffeq._impl.solvers import FixedGridODESolver

from .integrate import odeint_stacked
from .interpolate import (
    INTERPOLATIONS,
    cubic_interpolate,
    cubic_stencil,
    hermite_interpolate,
    left_nodes,
)

__all__ = [
    "WRITTEN_OUT_METHODS",
    "SolverConfig",
    "FIXED_STEP_METHODS",
    "ADAPTIVE_METHODS",
    "solve_at_times",
    "solve_grid",
    "hermite_interpolate",
    "cubic_interpolate",
    "evolve",
    "SpanError",
    "MAX_GRID_NODES",
    "MAX_EVOLVE_STEPS",
    "DEFAULT_INTERPOLATION",
    "LEGACY_INTERPOLATION",
]

#: most nodes a fixed-step solve may allocate (``span / grid_step``)
MAX_GRID_NODES = 2_000_000
#: most fixed steps :func:`evolve` takes over one gap (``span / max_step``)
MAX_EVOLVE_STEPS = 10_000


class SpanError(ValueError):
    """A solve would need more grid nodes or solver steps than the configured limits."""


class SolverError(ValueError):
    """The ODE solver could not advance: its step size underflowed, which happens when
    the state or the vector field is not finite (a diverged model) or extremely stiff."""


#: torchdiffeq's own registry of methods: fixed-step ones step over a grid, the rest
#: choose their steps to meet ``rtol`` / ``atol``
FIXED_STEP_METHODS = tuple(
    name for name, cls in _TORCHDIFFEQ_SOLVERS.items() if issubclass(cls, FixedGridODESolver)
)
ADAPTIVE_METHODS = tuple(name for name in _TORCHDIFFEQ_SOLVERS if name not in FIXED_STEP_METHODS)


#: the interpolation rule of a :class:`SolverConfig` that names none: ``"cubic"`` since
#: 2026-12-04 (issue 10: a training step 1.4x faster at the reference's settings, and
#: learning curves as good over three seeds; ``benchmarks/README.md``)
DEFAULT_INTERPOLATION = "cubic"
#: the rule of files saved before the default changed (they name none): estimator files
#: and Lightning checkpoints load with it (``estimators.persistence``,
#: ``training.base.TrainingModule.on_load_checkpoint``)
LEGACY_INTERPOLATION = "hermite"


@dataclass
class SolverConfig:
    """How trajectories are solved.

    Args:
        method: any method in torchdiffeq's registry (``dopri5`` default; ``rk4``,
            ``euler``, ...); :data:`FIXED_STEP_METHODS` and :data:`ADAPTIVE_METHODS`.
        rtol, atol: tolerances of adaptive methods.
        grid_step: spacing of the shared output grid in rescaled time units; the
            step of fixed-step methods. Interpolation error is O(grid_step^4).
        interpolation: ``"cubic"`` (the default, :data:`DEFAULT_INTERPOLATION`: Lagrange
            through four nodes; states only) or ``"hermite"`` (states and the field's
            derivatives at two nodes: one more batched field evaluation at every node,
            about 1.4x slower a training step); :mod:`latentode.nn.interpolate`.
        adjoint: use ``odeint_adjoint`` (O(1) memory in the number of steps,
            a slower backward).
        options: extra torchdiffeq options (e.g. ``{"step_size": 0.01}``).
        max_num_steps: most steps an adaptive solve may take before it stops with a
            :class:`SpanError` (a query absurdly far away, or stiff dynamics).
    """

    method: str = "dopri5"
    rtol: float = 1e-3
    atol: float = 1e-4
    grid_step: float = 0.05
    adjoint: bool = False
    options: dict = field(default_factory=dict)
    max_num_steps: int = 100_000
    interpolation: str = field(default_factory=lambda: DEFAULT_INTERPOLATION)

    def __setstate__(self, state: dict) -> None:
        # pickles made before the field existed were trained with Hermite's rule
        self.__dict__.update({"interpolation": LEGACY_INTERPOLATION, **state})

    def __post_init__(self) -> None:
        if self.method not in FIXED_STEP_METHODS + ADAPTIVE_METHODS:
            raise ValueError(
                f"solver method {self.method!r} unknown; choose one of "
                f"{FIXED_STEP_METHODS + ADAPTIVE_METHODS}."
            )
        if not (self.grid_step > 0 and math.isfinite(self.grid_step)):
            raise ValueError(f"grid_step must be a positive number, got {self.grid_step}.")
        if self.rtol <= 0 or self.atol <= 0:
            raise ValueError("rtol and atol must be positive.")
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(
                f"interpolation must be one of {INTERPOLATIONS}, got {self.interpolation!r}."
            )
        if not (isinstance(self.max_num_steps, int) and self.max_num_steps >= 1):
            raise ValueError(f"max_num_steps must be a positive int, got {self.max_num_steps}.")


class _Shifted(nn.Module):
    """dz/dtau = f(t0 + tau, z): per-sample time origin for a shared relative grid."""

    def __init__(self, func: nn.Module, t0: torch.Tensor) -> None:
        super().__init__()
        self.func = func
        self.t0 = t0

    def forward(self, tau: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.func(self.t0 + tau, z)


def _odeint(
    func: nn.Module, z0: torch.Tensor, t: torch.Tensor, config: SolverConfig
) -> torch.Tensor:
    kwargs = dict(method=config.method, rtol=config.rtol, atol=config.atol)
    options = dict(config.options)
    if config.method in ADAPTIVE_METHODS and config.method != "scipy_solver":
        options.setdefault("max_num_steps", config.max_num_steps)
    if options:
        kwargs["options"] = options
    try:
        if config.adjoint:
            params = tuple(p for p in func.parameters() if p.requires_grad)
            return odeint_adjoint(func, z0, t, adjoint_params=params, **kwargs)
        return odeint_stacked(func, z0, t, **kwargs)
    except AssertionError as err:  # torchdiffeq signals its failures this way
        if "max_num_steps" not in str(err):
            finite = bool(torch.isfinite(z0).all()) and all(
                bool(torch.isfinite(p).all()) for p in func.parameters()
            )
            why = (
                "the initial state or the vector field's weights are not finite"
                if not finite
                else "the dynamics are too stiff for the tolerances"
            )
            raise SolverError(
                f"the {config.method} solver could not advance ({err}): {why}. A model "
                "that diverged in training does this; refit with a lower learning rate."
            ) from None
        raise SpanError(
            f"the ODE solve to relative time {float(t[-1]):.6g} (rescaled units) needed more "
            f"than max_num_steps={options['max_num_steps']} {config.method} steps: ask for "
            "times nearer the data, or raise SolverConfig.max_num_steps."
        ) from None


def _nodes(tau: torch.Tensor, config: SolverConfig) -> torch.Tensor:
    """Grid nodes (integer multiples of ``grid_step``) the queries ``tau (B, N)`` need:
    the two around each query (``hermite``) or the four of its stencil (``cubic``), and
    node 0. Fixed-step methods step over every node up to the last."""
    h = config.grid_step
    if config.interpolation == "cubic":
        first, width = cubic_stencil(tau, h), 4
    else:
        first, width = left_nodes(tau, h), 2
    first = first.reshape(-1)
    top = float(first.max()) + width - 1 if first.numel() else float(width - 1)
    if config.method in ADAPTIVE_METHODS:
        # the sorted distinct nodes, marked in a mask (``torch.unique`` sorts: slower)
        used = torch.zeros(int(top) + 1, dtype=torch.bool, device=tau.device)
        used[0] = True
        for j in range(width):
            used[first + j] = True
        return used.nonzero().squeeze(1)
    if top + 1 > MAX_GRID_NODES:
        raise SpanError(
            f"a {config.method} solve to relative time {float(tau.max()):.6g} (rescaled units) "
            f"needs {top + 1:.0f} grid nodes at grid_step={h}, over the limit of "
            f"{MAX_GRID_NODES}: ask for times nearer the data, or use an adaptive method."
        )
    return torch.arange(int(top) + 1, device=tau.device)


def solve_grid(
    func: nn.Module,
    z0: torch.Tensor,
    t0: torch.Tensor,
    nodes: torch.Tensor,
    config: SolverConfig,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Solve from each row's ``t0`` to the relative times ``nodes * grid_step``.

    Args:
        func: vector field ``f(t, z)`` with per-sample ``t (B,)``.
        z0: ``(B, L)`` initial states at ``t0``.
        t0: ``(B,)`` per-sample start times.
        nodes: ``(M,)`` increasing node indices, starting at 0.

    Returns:
        ``z (M, B, L)`` and ``dz (M, B, L)`` (the field at the nodes, one batched
        evaluation; ``None`` for ``interpolation="cubic"``, which does not use it).
    """
    grid = (nodes.double() * config.grid_step).to(z0.dtype)
    if grid.numel() > 1 and not bool((grid[1:] > grid[:-1]).all()):
        raise SpanError(
            f"relative time {float(grid[-1]):.6g} is too far to resolve grid_step="
            f"{config.grid_step} in {z0.dtype}: ask for times nearer the data, or use float64."
        )
    shifted = _Shifted(func, t0)
    zs = _odeint(shifted, z0, grid, config)
    if config.interpolation == "cubic":
        return zs, None
    mm, b, d = zs.shape
    times = (t0[None, :] + grid[:, None]).reshape(-1)
    flat = zs.reshape(mm * b, d)
    if config.adjoint and torch.is_grad_enabled():
        dz = _field_checkpointed(func, times, flat)
    else:
        dz = func(times, flat)
    return zs, dz.reshape(mm, b, d)


#: rows of one checkpointed chunk of the field's evaluation at the grid nodes
CHECKPOINT_ROWS = 4096


def _field_checkpointed(func: nn.Module, times: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``func(times, z)`` for ``z (R, L)`` in chunks whose activations are recomputed in
    the backward pass: with ``adjoint=True`` the memory of the derivatives at the nodes
    then grows with the nodes' states, not with the field's hidden layers."""
    from torch.utils.checkpoint import checkpoint

    parts = [
        checkpoint(func, times[i : i + CHECKPOINT_ROWS], z[i : i + CHECKPOINT_ROWS],
                   use_reentrant=False)
        for i in range(0, z.shape[0], CHECKPOINT_ROWS)
    ]  # fmt: skip
    return torch.cat(parts) if len(parts) > 1 else parts[0]


def solve_at_times(
    func: nn.Module,
    z0: torch.Tensor,
    t0: torch.Tensor,
    times: torch.Tensor,
    config: SolverConfig | None = None,
) -> torch.Tensor:
    """Evaluate trajectories at per-sample times.

    Args:
        func: vector field ``f(t, z)`` taking per-sample ``t (B,)`` and ``z (B, L)``.
        z0: ``(B, L)`` or ``(S, B, L)`` (S samples per series) states at ``t0``.
        t0: ``(B,)`` start time of each series.
        times: ``(B, N)`` query times of each series, each ``>= t0``.

    Returns:
        ``(B, N, L)``, or ``(S, B, N, L)`` for stacked samples.
    """
    config = config or SolverConfig()
    stacked = z0.dim() == 3
    s = z0.shape[0] if stacked else 1
    b = t0.shape[0]
    tau = times - t0[:, None]
    if tau.numel() and float(tau.min()) < -1e-6 * max(1.0, float(tau.abs().max())):
        raise ValueError("solve_at_times: every query time must be >= its series' t0.")
    tau = tau.clamp_min(0)
    flat = z0.reshape(s * b, z0.shape[-1])
    t0_rep = t0.repeat(s)
    nodes = _nodes(tau, config)
    zs, dzs = solve_grid(func, flat, t0_rep, nodes, config)
    if config.interpolation == "cubic":
        out = cubic_interpolate(zs, config.grid_step, tau.repeat(s, 1), nodes)
    else:
        out = hermite_interpolate(zs, dzs, config.grid_step, tau.repeat(s, 1), nodes)
    if stacked:
        return out.reshape(s, b, *out.shape[1:])
    return out


def _explicit_steps(
    field: Callable[[float, torch.Tensor], torch.Tensor],
    y: torch.Tensor,
    s: list[float],
    method: str,
) -> torch.Tensor:
    """torchdiffeq's ``euler``, ``midpoint`` or ``rk4`` (its 3/8-rule step) over the grid
    ``s`` (Python floats: the step's fractions cost no tensor operations), written out with
    the same arithmetic: a short solve called once per observation costs more in
    torchdiffeq's bookkeeping (and its solution tensor's copies in the backward pass) than
    in arithmetic."""
    third, two_thirds = 1.0 / 3.0, 2.0 / 3.0
    for s0, s1 in zip(s[:-1], s[1:], strict=True):
        ds = s1 - s0
        k1 = field(s0, y)
        if method == "euler":
            dy = k1 if ds == 1.0 else ds * k1
        elif method == "midpoint":
            half = 0.5 * ds
            k2 = field(s0 + half, y + k1 * half)
            dy = k2 if ds == 1.0 else ds * k2
        else:
            k2 = field(s0 + ds * third, y + ds * k1 * third)
            k3 = field(s0 + ds * two_thirds, y + ds * (k2 - k1 * third))
            k4 = field(s1, y + ds * (k1 - k2 + k3))
            dy = (k1 + 3 * (k2 + k3) + k4) * ds * 0.125
        y = y + dy
    return y


#: fixed-step methods :func:`evolve` writes out (no torchdiffeq call per short solve)
WRITTEN_OUT_METHODS = ("euler", "midpoint", "rk4")


def evolve(
    func: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    h: torch.Tensor,
    t_start: torch.Tensor,
    dt: torch.Tensor,
    *,
    method: str = "rk4",
    max_step: float = 0.25,
    rtol: float = 1e-3,
    atol: float = 1e-4,
    span: float | None = None,
) -> torch.Tensor:
    """Move each row ``h[b]`` from ``t_start[b]`` to ``t_start[b] + dt[b]``.

    Args:
        func: vector field ``f(t, h)`` with per-sample ``t (B,)``.
        h: ``(B, H)`` states.
        t_start: ``(B,)`` start times.
        dt: ``(B,)`` signed durations (negative runs backwards in time).
        method: torchdiffeq method; fixed-step methods take
            ``ceil(max|dt| / max_step)`` steps, so the largest gap sets the count.
        span: ``max|dt|`` if the caller knows it (a loop over many gaps reads them all
            from the device at once); ``None`` reads it from ``dt``, a device sync.

    Returns:
        ``(B, H)``; rows with ``dt == 0`` are returned unchanged.
    """
    if span is None:
        span = float(dt.detach().abs().max()) if dt.numel() else 0.0
    if span == 0.0:
        return h
    scale = dt.unsqueeze(-1)

    if getattr(func, "autonomous", False):  # the time of an evaluation is not needed

        def field(s: float | torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return scale * func(s, y)

    else:

        def field(s: float | torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return scale * func(t_start + s * dt, y)

    if method in FIXED_STEP_METHODS:
        steps = max(1, math.ceil(span / max_step - 1e-9))
        if steps > MAX_EVOLVE_STEPS:
            raise SpanError(
                f"a gap of {span:.6g} rescaled time units needs {steps} {method} steps of "
                f"max_step={max_step:g}, more than MAX_EVOLVE_STEPS={MAX_EVOLVE_STEPS}: the "
                "times are far apart for the data's time scale (a stray time, or mixed "
                "units?); drop or fix it, or split the series."
            )
    if method in WRITTEN_OUT_METHODS:
        # the float32/float64 grid torchdiffeq would use, as Python floats
        s = torch.linspace(0.0, 1.0, steps + 1, dtype=h.dtype).tolist() if steps > 1 else [0.0, 1.0]
        return _explicit_steps(field, h, s, method)
    if method in FIXED_STEP_METHODS:
        s = torch.linspace(0.0, 1.0, steps + 1, dtype=h.dtype, device=h.device)
        out = odeint(field, h, s, method=method)
    else:
        s = torch.tensor([0.0, 1.0], dtype=h.dtype, device=h.device)
        out = odeint(field, h, s, method=method, rtol=rtol, atol=atol)
    return out[-1]
