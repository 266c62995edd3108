import math

import pytest
import torch

from latentode.nn.interpolate import cubic_interpolate, hermite_interpolate
from latentode.nn.solve import SolverConfig, evolve, solve_at_times

from .helpers import LinearField, expm_solution

A = torch.tensor([[-0.1, 2.0], [-2.0, -0.1]], dtype=torch.float64)


def _problem(b=5, n=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    z0 = torch.randn(b, 2, generator=g, dtype=torch.float64)
    t0 = torch.rand(b, generator=g, dtype=torch.float64) * 3 - 1
    span = torch.rand(b, 1, generator=g, dtype=torch.float64) * 2 + 0.1
    times = (
        t0[:, None] + torch.sort(torch.rand(b, n, generator=g, dtype=torch.float64), 1)[0] * span
    )
    times[:, 0] = t0
    return z0, t0, times


@pytest.mark.parametrize(
    "method,tol",
    [("dopri5", 1e-6), ("rk4", 1e-5), ("bosh3", 1e-5), ("dopri8", 1e-5), ("euler", 0.05)],
)
def test_linear_ode_matches_matrix_exponential(method, tol):
    z0, t0, times = _problem()
    cfg = SolverConfig(method=method, rtol=1e-9, atol=1e-10, grid_step=0.01)
    out = solve_at_times(LinearField(A), z0, t0, times, cfg)
    ref = expm_solution(A, z0, times - t0[:, None])
    assert out.shape == (5, 7, 2)
    assert (out - ref).abs().max() < tol


def test_default_solver_is_accurate_to_its_tolerance():
    z0, t0, times = _problem()
    out = solve_at_times(LinearField(A), z0, t0, times)
    ref = expm_solution(A, z0, times - t0[:, None])
    assert (out - ref).abs().max() < 5e-3


def test_stacked_samples_match_separate_solves():
    z0, t0, times = _problem()
    zs = torch.stack([z0, 2 * z0, -z0])
    cfg = SolverConfig(rtol=1e-9, atol=1e-10, grid_step=0.01)
    out = solve_at_times(LinearField(A), zs, t0, times, cfg)
    for k in range(3):
        ref = expm_solution(A, zs[k], times - t0[:, None])
        assert (out[k] - ref).abs().max() < 1e-6


def test_batch_equals_each_series_alone():
    z0, t0, times = _problem(b=6, n=9, seed=3)
    cfg = SolverConfig(rtol=1e-8, atol=1e-9, grid_step=0.01)
    f = LinearField(A)
    together = solve_at_times(f, z0, t0, times, cfg)
    for b in range(6):
        alone = solve_at_times(f, z0[b : b + 1], t0[b : b + 1], times[b : b + 1], cfg)
        assert (alone[0] - together[b]).abs().max() < 1e-6


def test_adjoint_gradients_equal_direct():
    z0, t0, times = _problem(b=4, n=6, seed=1)
    grads = []
    for adjoint in (False, True):
        f = LinearField(A)
        z = z0.clone().requires_grad_(True)
        cfg = SolverConfig(rtol=1e-9, atol=1e-10, adjoint=adjoint)
        loss = (solve_at_times(f, z, t0, times, cfg) ** 2).sum()
        loss.backward()
        grads.append((f.a.grad.clone(), z.grad.clone()))
    assert torch.allclose(grads[0][0], grads[1][0], atol=1e-5, rtol=1e-5)
    assert torch.allclose(grads[0][1], grads[1][1], atol=1e-5, rtol=1e-5)


def test_gradient_matches_analytic_derivative():
    # d/dz0 of sum(exp(A dt) z0) is sum of exp(A dt)^T 1
    z0, t0, times = _problem(b=2, n=3)
    z = z0.clone().requires_grad_(True)
    cfg = SolverConfig(rtol=1e-10, atol=1e-10)
    solve_at_times(LinearField(A), z, t0, times, cfg).sum().backward()
    mats = torch.linalg.matrix_exp(A[None, None] * (times - t0[:, None])[..., None, None])
    ref = mats.sum(1).transpose(-1, -2) @ torch.ones(2, dtype=torch.float64)
    assert torch.allclose(z.grad, ref, atol=1e-6)


def test_hermite_is_exact_for_cubics():
    grid = torch.arange(6, dtype=torch.float64) * 0.5
    p = lambda t: 2 * t**3 - t**2 + 0.5 * t - 3  # noqa: E731
    dp = lambda t: 6 * t**2 - 2 * t + 0.5  # noqa: E731
    zs, dzs = p(grid)[:, None, None], dp(grid)[:, None, None]
    q = torch.tensor([[0.0, 0.1, 0.77, 1.5, 2.49, 2.5]], dtype=torch.float64)
    out = hermite_interpolate(zs, dzs, 0.5, q)
    assert torch.allclose(out[0, :, 0], p(q[0]), atol=1e-12)


@pytest.mark.parametrize("sparse", [False, True])
def test_hermite_backward_equals_autograd(sparse):
    """The hand-written backward of the interpolation (it saves only the query
    positions) gives autograd's gradients, also for repeated nodes and sparse node lists."""
    from latentode.nn.interpolate import _hermite

    g = torch.Generator().manual_seed(0)
    m, b, n, d, step = 9, 3, 11, 2, 0.25
    zs = torch.randn(m, b, d, generator=g, dtype=torch.float64, requires_grad=True)
    dzs = torch.randn(m, b, d, generator=g, dtype=torch.float64, requires_grad=True)
    tau = torch.rand(b, n, generator=g, dtype=torch.float64) * (m - 1) * step
    tau[0, :3] = torch.tensor([0.0, 0.5, 0.5])  # on nodes, and twice the same query
    nodes = torch.arange(m) if sparse else None
    w = torch.randn(b, n, d, generator=g, dtype=torch.float64)
    out = hermite_interpolate(zs, dzs, step, tau, nodes)
    got = torch.autograd.grad((out * w).sum(), (zs, dzs))
    pos = tau / step
    left = (
        (torch.ceil(pos) - 1).clamp_min(0).long() if sparse else pos.floor().long().clamp(0, m - 2)
    )
    u = (pos - left.to(pos.dtype)).unsqueeze(-1)
    ref_out = _hermite(zs, dzs, step, left, torch.arange(b)[:, None], u)
    want = torch.autograd.grad((ref_out * w).sum(), (zs, dzs))
    torch.testing.assert_close(out, ref_out, rtol=0, atol=0)
    for a, c in zip(got, want, strict=True):
        torch.testing.assert_close(a, c, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(
        lambda a, c: hermite_interpolate(a, c, step, tau, nodes), (zs, dzs)
    )


def test_query_times_that_need_gradients_get_them():
    zs = torch.randn(5, 1, 1, dtype=torch.float64)
    dzs = torch.randn(5, 1, 1, dtype=torch.float64)
    tau = torch.tensor([[0.3, 0.71]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: hermite_interpolate(zs, dzs, 0.25, t), (tau,))


def test_cubic_is_exact_for_cubics_everywhere_including_the_ends():
    grid = torch.arange(8, dtype=torch.float64) * 0.5
    p = lambda t: 2 * t**3 - t**2 + 0.5 * t - 3  # noqa: E731
    zs = p(grid)[:, None, None]
    q = torch.tensor([[0.0, 0.1, 0.5, 0.77, 1.5, 2.49, 2.5, 2.99, 3.0]], dtype=torch.float64)
    out = cubic_interpolate(zs, 0.5, q)
    assert torch.allclose(out[0, :, 0], p(q[0]), atol=1e-12)
    # the same from a sparse node list holding each query's stencil
    sparse = torch.arange(8)
    assert torch.allclose(cubic_interpolate(zs, 0.5, q, sparse), out, atol=0, rtol=0)


def test_cubic_error_is_fourth_order():
    """Halving the node spacing divides the error of sin(t) by about 16."""
    errors = []
    for h in (0.2, 0.1, 0.05):
        grid = torch.arange(int(round(4 / h)) + 1, dtype=torch.float64) * h
        q = torch.linspace(0.0, 3.7, 301, dtype=torch.float64)[None]
        out = cubic_interpolate(torch.sin(grid)[:, None, None], h, q)
        errors.append(float((out[0, :, 0] - torch.sin(q[0])).abs().max()))
    for coarse, fine in zip(errors[:-1], errors[1:], strict=True):
        assert 10 < coarse / fine < 20
    assert errors[-1] < 0.05**4 / 24


def test_cubic_backward_equals_autograd():
    from latentode.nn.interpolate import _cubic, cubic_stencil

    g = torch.Generator().manual_seed(1)
    m, b, n, d, step = 10, 3, 12, 2, 0.25
    zs = torch.randn(m, b, d, generator=g, dtype=torch.float64, requires_grad=True)
    tau = torch.rand(b, n, generator=g, dtype=torch.float64) * (m - 1) * step
    tau[0, :3] = torch.tensor([0.0, 0.5, 0.5])
    w = torch.randn(b, n, d, generator=g, dtype=torch.float64)
    out = cubic_interpolate(zs, step, tau)
    got = torch.autograd.grad((out * w).sum(), zs)[0]
    first = cubic_stencil(tau, step).clamp_max(m - 4)
    v = (tau / step - first.to(tau.dtype)).unsqueeze(-1)
    ref = _cubic(zs, first, torch.arange(b)[:, None], v)
    want = torch.autograd.grad((ref * w).sum(), zs)[0]
    torch.testing.assert_close(out, ref, rtol=1e-14, atol=1e-14)  # in place: fused steps
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(lambda a: cubic_interpolate(a, step, tau), (zs,))


@pytest.mark.parametrize("method", ["dopri5", "rk4"])
def test_both_interpolations_match_the_matrix_exponential(method):
    z0, t0, times = _problem(b=4, n=9, seed=2)
    ref = expm_solution(A, z0, times - t0[:, None])
    for rule in ("cubic", "hermite"):
        cfg = SolverConfig(method=method, rtol=1e-9, atol=1e-10, grid_step=0.02, interpolation=rule)
        out = solve_at_times(LinearField(A), z0, t0, times, cfg)
        assert (out - ref).abs().max() < 1e-6, rule
    with pytest.raises(ValueError, match="interpolation"):
        SolverConfig(interpolation="linear")


def test_times_before_t0_are_refused():
    z0, t0, times = _problem()
    with pytest.raises(ValueError, match="t0"):
        solve_at_times(LinearField(A), z0, t0 + 10, times)


def test_zero_length_and_single_point_series_have_finite_gradients():
    z0 = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    t0 = torch.zeros(3, dtype=torch.float64)
    times = torch.zeros(3, 4, dtype=torch.float64)
    times[1] = torch.tensor([0.0, 0.0, 0.5, 0.5])
    out = solve_at_times(LinearField(A), z0, t0, times)
    out.sum().backward()
    assert torch.isfinite(z0.grad).all()
    assert torch.allclose(out[0], z0[0].detach().expand(4, 2))


@pytest.mark.parametrize("method", ["rk4", "dopri5"])
def test_evolve_backward_and_forward_per_row(method):
    g = torch.Generator().manual_seed(0)
    h = torch.randn(4, 2, generator=g, dtype=torch.float64)
    dt = torch.tensor([0.0, -0.3, 0.7, -1.9], dtype=torch.float64)
    out = evolve(
        LinearField(A),
        h,
        torch.zeros(4, dtype=torch.float64),
        dt,
        method=method,
        max_step=0.01,
        rtol=1e-9,
        atol=1e-10,
    )
    ref = expm_solution(A, h, dt[:, None])[:, 0]
    assert torch.equal(out[0], h[0])  # dt == 0 leaves the row untouched
    assert (out - ref).abs().max() < 1e-7


def test_solver_config_validates():
    with pytest.raises(ValueError, match="method"):
        SolverConfig(method="nope")
    with pytest.raises(ValueError, match="dopri5"):  # the message lists torchdiffeq's methods
        SolverConfig(method="tsit5")
    with pytest.raises(ValueError, match="grid_step"):
        SolverConfig(grid_step=math.inf)


class _Decay(torch.nn.Module):
    def forward(self, t, z):
        return -z


class _Rotate(torch.nn.Module):
    def forward(self, t, z):
        return torch.stack([-z[..., 1], z[..., 0]], -1)


def test_far_queries_cost_the_solver_steps_not_one_node_per_grid_step():
    import time

    from latentode.nn.solve import SpanError

    z0 = torch.tensor([[1.0], [2.0]], dtype=torch.float64)
    t0 = torch.zeros(2, dtype=torch.float64)
    times = torch.tensor([[0.5, 2e3], [1.0, 3.0]], dtype=torch.float64)
    started = time.perf_counter()
    out = solve_at_times(_Decay(), z0, t0, times, SolverConfig(rtol=1e-8, atol=1e-10))
    # a dense grid would hold 4e4 nodes (and their copies in the backward pass); the
    # explicit solver's stability still bounds its steps (|h| < 3.3 here): hundreds
    assert time.perf_counter() - started < 60.0
    torch.testing.assert_close(out[..., 0], z0 * torch.exp(-times), rtol=1e-5, atol=1e-9)
    # a fixed-step method still steps over every node: refused with the limit named
    with pytest.raises(SpanError, match="grid nodes"):
        far = torch.tensor([[0.5, 1e6], [1.0, 3.0]], dtype=torch.float64)
        solve_at_times(_Decay(), z0, t0, far, SolverConfig(method="rk4"))
    # an oscillation cannot be crossed in big steps: the step limit stops it, named
    with pytest.raises(SpanError, match="max_num_steps=500"):
        solve_at_times(
            _Rotate(),
            torch.tensor([[1.0, 0.0]], dtype=torch.float64),
            torch.zeros(1, dtype=torch.float64),
            torch.tensor([[1e6]], dtype=torch.float64),
            SolverConfig(max_num_steps=500),
        )
    # in float32 nodes 0.05 apart cannot be told apart at 1e8: refused, not wrong
    with pytest.raises(SpanError, match="float64"):
        solve_at_times(_Decay(), torch.ones(1, 1), torch.zeros(1), torch.tensor([[1e8]]))


@pytest.mark.parametrize("method", ["euler", "midpoint", "rk4"])
def test_written_out_steps_equal_torchdiffeq(method):
    """evolve writes these steps out; they must give torchdiffeq's numbers exactly."""
    from torchdiffeq import odeint

    from latentode.nn.odefunc import ODEFunc

    torch.manual_seed(0)
    func = ODEFunc(5, 20, 1, time_dependent=True)
    h, t0, dt = torch.randn(7, 5), torch.rand(7), torch.randn(7)
    got = evolve(func, h, t0, dt, method=method, max_step=0.3)
    steps = math.ceil(float(dt.abs().max()) / 0.3 - 1e-9)
    s = torch.linspace(0.0, 1.0, steps + 1)

    def field(si, y):
        return dt[:, None] * func(t0 + si * dt, y)

    want = odeint(field, h, s, method=method)[-1]
    assert torch.equal(got, want)


def test_methods_come_from_torchdiffeqs_registry():
    from torchdiffeq._impl.odeint import SOLVERS

    from latentode.nn.solve import ADAPTIVE_METHODS, FIXED_STEP_METHODS

    assert set(FIXED_STEP_METHODS) | set(ADAPTIVE_METHODS) == set(SOLVERS)
    assert not set(FIXED_STEP_METHODS) & set(ADAPTIVE_METHODS)
    assert {"euler", "rk4", "heun2"} <= set(FIXED_STEP_METHODS)
    assert {"dopri5", "bosh3"} <= set(ADAPTIVE_METHODS)
    a = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])
    z0, t = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 0.3, 0.7]])
    exact = expm_solution(a, z0, t)
    for method in ("heun2", "bosh3"):  # methods the old whitelist refused
        out = solve_at_times(
            LinearField(a),
            z0,
            torch.zeros(1),
            t,
            SolverConfig(method, rtol=1e-7, atol=1e-9, grid_step=0.01),
        )
        assert torch.allclose(out, exact, atol=1e-3), method


def _graph_nodes(tensor: torch.Tensor) -> list[str]:
    seen, stack, names = set(), [tensor.grad_fn], []
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.append(type(node).__name__)
        stack += [nxt for nxt, _ in node.next_functions]
    return names


@pytest.mark.parametrize(
    "method, options",
    [
        ("dopri5", None),
        ("bosh3", None),
        ("rk4", {"step_size": 0.07}),
        ("euler", None),
        ("midpoint", {"step_size": 0.3, "interp": "cubic"}),
        ("implicit_adams", {"step_size": 0.1}),
    ],
)
def test_stacked_solution_equals_torchdiffeq_without_in_place_copies(method, options):
    """``odeint_stacked`` runs torchdiffeq's own solver objects: the same values bit for
    bit, the same gradients up to summation order, and a graph with no in-place writes
    into the solution (whose backward pass copies the whole gradient once per output)."""
    from torchdiffeq import odeint

    from latentode.nn.integrate import odeint_stacked

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))

    def f(t, y):
        return net(y) * (1 + 0.1 * t)

    y0 = torch.randn(5, 3, requires_grad=True)
    t = torch.linspace(0, 2, 11)
    kw = dict(method=method, rtol=1e-3, atol=1e-4, options=options)
    want, got = odeint(f, y0, t, **kw), odeint_stacked(f, y0, t, **kw)
    assert torch.equal(got, want)
    assert "CopySlices" in _graph_nodes(want)  # what the stacking avoids
    assert "CopySlices" not in _graph_nodes(got)
    params = [y0, *net.parameters()]
    g_want = torch.autograd.grad((want**2).sum(), params)
    g_got = torch.autograd.grad((got**2).sum(), params)
    for a, b in zip(g_got, g_want, strict=True):
        # float32 sums in another order: 2.9e-6 apart (2e-5 relative) on a 2026-12 CPU
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("method", ["dopri5", "bosh3", "adaptive_heun", "fehlberg2"])
def test_dense_outputs_of_a_step_are_read_together(method):
    """Many output times inside each accepted Runge-Kutta step: ``odeint_stacked`` reads
    them in one batched evaluation of the step's interpolant, with torchdiffeq's values bit
    for bit, its gradients up to summation order (float64 here: a sum over 300 outputs in
    another order moves float32 by 1e-5), and a smaller graph (dopri5: under half)."""
    from torchdiffeq import odeint

    from latentode.nn.integrate import odeint_stacked

    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.Tanh(), torch.nn.Linear(32, 4))
    net = net.double()
    y0 = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    t = torch.cat([torch.linspace(0, 3, 301), torch.tensor([3.0001, 5.0])]).double()
    kw = dict(method=method, rtol=1e-4, atol=1e-6)
    want = odeint(lambda _, y: net(y), y0, t, **kw)
    got = odeint_stacked(lambda _, y: net(y), y0, t, **kw)
    assert got.shape == (len(t), 6, 4)
    assert torch.equal(got, want)
    smaller = len(_graph_nodes(got)) / len(_graph_nodes(want))
    assert smaller < (0.5 if method == "dopri5" else 1.0)  # heun: small steps, few per step
    params = [y0, *net.parameters()]
    weights = torch.randn_like(want)
    g_want = torch.autograd.grad((want * weights).sum(), params)
    g_got = torch.autograd.grad((got * weights).sum(), params)
    for a, b in zip(g_got, g_want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_stacked_solve_keeps_torchdiffeqs_step_limit():
    """A solve that needs more than ``max_num_steps`` steps fails as torchdiffeq's does."""
    from latentode.nn.integrate import odeint_stacked

    y0 = torch.ones(2, 1)
    t = torch.tensor([0.0, 10.0])
    with pytest.raises(AssertionError, match="max_num_steps"):
        odeint_stacked(
            lambda _, y: -50 * y, y0, t, method="dopri5", rtol=1e-9, atol=1e-12,
            options={"max_num_steps": 5},
        )  # fmt: skip


def test_cubic_is_the_default_and_old_pickles_read_hermite():
    """Cubic interpolation is the default (issue 10); a ``SolverConfig`` pickled before the
    field existed (its state has no ``interpolation``) was trained with Hermite's rule."""
    import pickle

    from latentode.nn.solve import DEFAULT_INTERPOLATION

    assert SolverConfig().interpolation == DEFAULT_INTERPOLATION == "cubic"
    config = SolverConfig(method="rk4")
    old_state = {k: v for k, v in vars(config).items() if k != "interpolation"}
    old = SolverConfig.__new__(SolverConfig)
    old.__setstate__(old_state)
    assert old.interpolation == "hermite" and old.method == "rk4"
    for rule in ("cubic", "hermite"):
        assert pickle.loads(pickle.dumps(SolverConfig(interpolation=rule))).interpolation == rule
