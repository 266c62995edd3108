import math

import torch
from torch import nn

from latentode.nn.intensity import (
    AugmentedField,
    IntensityHead,
    cell_poisson_log_likelihood,
    poisson_process_log_likelihood,
)
from latentode.nn.odefunc import ODEFunc
from latentode.nn.solve import SolverConfig, solve_at_times

TIGHT = SolverConfig(rtol=1e-10, atol=1e-10, grid_step=0.01)


class Clock(nn.Module):
    """dz/dt = 1: z(t) = t when z(T0) = T0."""

    def forward(self, t, z):
        return torch.ones_like(z)


class SineRate(nn.Module):
    n_marks = 1

    def __init__(self, a, b):
        super().__init__()
        self.a, self.b = a, b

    def forward(self, z):
        return self.a + self.b * torch.sin(z)


def _compensator(field, z0, t0, t1):
    state0 = torch.cat([z0, torch.zeros(z0.shape[0], 1, dtype=z0.dtype)], -1)
    out = solve_at_times(field, state0, t0, torch.stack([t0, t1], 1), TIGHT)
    return out[:, -1, -1], out


def test_constant_rate_closed_form():
    rate = 2.5
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]], dtype=torch.float64)
    t0 = torch.tensor([0.0, -1.0], dtype=torch.float64)
    t1 = torch.tensor([3.0, 1.0], dtype=torch.float64)
    field = AugmentedField(Clock(), SineRate(rate, 0.0))
    comp, _ = _compensator(field, t0[:, None], t0, t1)
    rates = torch.full((2, 4, 1), rate, dtype=torch.float64)
    ll = poisson_process_log_likelihood(rates, None, mask, comp)
    hand = torch.tensor([3 * math.log(rate) - rate * 3.0, math.log(rate) - rate * 2.0])
    assert torch.allclose(ll, hand.double(), atol=1e-8)


def test_sinusoidal_rate_closed_form_per_sample_windows():
    a, b = 1.5, 0.8
    t0 = torch.tensor([0.0, 0.7, 2.0], dtype=torch.float64)
    t1 = torch.tensor([4.0, 1.2, 6.5], dtype=torch.float64)
    field = AugmentedField(Clock(), SineRate(a, b))
    comp, _ = _compensator(field, t0[:, None], t0, t1)
    exact = a * (t1 - t0) - b * (torch.cos(t1) - torch.cos(t0))
    assert torch.allclose(comp, exact, atol=1e-7)
    events = torch.tensor([[0.5, 3.0], [0.9, 1.0], [2.5, 2.5]], dtype=torch.float64)
    mask = torch.tensor([[1, 1], [1, 1], [1, 0]], dtype=torch.float64)
    rates = (a + b * torch.sin(events))[..., None]
    ll = poisson_process_log_likelihood(rates, None, mask, comp)
    hand = (torch.log(a + b * torch.sin(events)) * mask).sum(1) - exact
    assert torch.allclose(ll, hand, atol=1e-7)


def test_augmented_integral_matches_quadrature_of_a_neural_rate():
    torch.manual_seed(0)
    func = ODEFunc(3, 16).double()
    head = IntensityHead(3, n_marks=2, units=8).double()
    field = AugmentedField(func, head)
    z0 = torch.randn(2, 3, dtype=torch.float64)
    t0 = torch.tensor([0.0, 1.0], dtype=torch.float64)
    grid = t0[:, None] + torch.linspace(0, 2.0, 2001, dtype=torch.float64)[None]
    state0 = torch.cat([z0, torch.zeros(2, 2, dtype=torch.float64)], -1)
    out = solve_at_times(field, state0, t0, grid, TIGHT)
    z = solve_at_times(func, z0, t0, grid, TIGHT)
    lam = head(z)  # (B, T, M)
    h = 2.0 / 2000
    simpson = (
        h / 3 * (lam[:, 0] + lam[:, -1] + 4 * lam[:, 1:-1:2].sum(1) + 2 * lam[:, 2:-1:2].sum(1))
    )
    assert torch.allclose(out[:, -1, 3:], simpson, atol=1e-7)
    assert torch.allclose(out[:, :, :3], z, atol=1e-7)


def test_marks_and_empty_sequences():
    rates = torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]])
    marks = torch.tensor([[1, 0], [0, 0]])
    mask = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    comp = torch.tensor([0.5, 2.0])
    ll = poisson_process_log_likelihood(rates, marks, mask, comp)
    assert torch.allclose(ll, torch.tensor([math.log(2.0) + math.log(3.0) - 0.5, -2.0]))


def test_cell_likelihood_equals_marked_events():
    """Cells observed per feature are the events of a marked process with one mark per
    feature: the two likelihoods agree, and unmarked cells have no influence."""
    torch.manual_seed(0)
    k, b, n, d = 2, 3, 5, 4
    rates = torch.rand(k, b, n, d) + 0.1
    marks = torch.randint(0, d, (b, n))
    event = (torch.rand(b, n) < 0.7).float()
    cells = torch.nn.functional.one_hot(marks, d).float() * event[..., None]
    comp = torch.rand(k, b)
    want = poisson_process_log_likelihood(rates, marks, event, comp)
    got = cell_poisson_log_likelihood(rates, cells, comp)
    assert torch.allclose(got, want, atol=1e-6)
    closed = (torch.log(rates) * cells).sum((-1, -2)) - comp
    assert torch.allclose(got, closed, atol=1e-6)
    other = rates.clone()
    other[..., cells == 0] = 1e-30  # rates at unobserved cells change nothing
    assert torch.allclose(cell_poisson_log_likelihood(other, cells, comp), got)
