"""The neural jump ODE intensity: exact likelihood, causality, batching, simulation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchdiffeq import odeint

from latentode.data.batch import collate
from latentode.frames import EventSequence, events_to_series
from latentode.models.jump_event import JumpEventModel

SEQS = [
    EventSequence("a", np.array([0.1, 0.3, 0.35, 0.9]), np.array([0, 1, 0, 0]), 0.0, 1.0),
    EventSequence("b", np.array([0.5]), np.array([1]), 0.0, 0.8),
    EventSequence("c", np.zeros(0), np.zeros(0, int), 0.2, 0.7),
]


def _model(max_step: float = 0.005) -> JumpEventModel:
    torch.manual_seed(0)
    model = JumpEventModel(2, 4, units=16, max_step=max_step, base_rate=[2.0, 0.5]).double()
    with torch.no_grad():  # a state that moves and a rate that depends on it; with these
        model.h0.normal_()  # sizes a step of 0.2 is off by about 1e-4 (the test fails)
        for p in model.func.parameters():
            p.mul_(10.0)
        for p in model.head.net.parameters():
            p.mul_(3.0)
    return model


def _batch(seqs):
    return collate(events_to_series(seqs, 2), dtype=torch.float64)


@torch.no_grad()
def _reference_loglik(model: JumpEventModel, s: EventSequence) -> float:
    """Segment by segment with dopri5 at tight tolerance and the jumps applied by hand."""
    h = model.h0.detach().clone()[None]
    cum = torch.zeros(1, 2, dtype=torch.float64)
    total = 0.0
    grid = list(s.times) + [s.end]
    prev = s.start
    for i, t in enumerate(grid):
        state = torch.cat([h, cum], -1)
        if t > prev:
            span = torch.tensor([prev, t], dtype=torch.float64)
            state = odeint(model.field, state, span, method="dopri5", rtol=1e-10, atol=1e-12)[-1]
        h, cum = state[:, :4], state[:, 4:]
        if i < len(s.times):
            mark = int(s.marks[i])
            total += float(torch.log(model.head(h)[0, mark]).detach())
            x = torch.nn.functional.one_hot(torch.tensor([mark]), 2).double()
            h = model.cell(x, h)
        prev = t
    return total - float(cum.sum())


@torch.no_grad()
def test_log_likelihood_matches_a_tight_solve_and_each_row_alone():
    model = _model()
    batched = model.log_likelihood(_batch(SEQS))
    for i, s in enumerate(SEQS):
        ref = _reference_loglik(model, s)
        alone = float(model.log_likelihood(_batch([s]))[0])
        assert abs(float(batched[i]) - ref) < 1e-5 * max(1.0, abs(ref)), (s.id, batched[i], ref)
        assert abs(float(batched[i]) - alone) < 1e-10


@torch.no_grad()
def test_rate_at_a_time_depends_only_on_earlier_events():
    model = _model()
    q = torch.tensor([[0.2, 0.3, 0.6]], dtype=torch.float64)
    eps = torch.zeros(1, 1, 4)
    base, _ = model.posterior(_batch(SEQS[:1]), q, eps)
    later = EventSequence("a", np.array([0.1, 0.3, 0.35, 0.65]), np.array([0, 1, 0, 1]), 0.0, 1.0)
    moved, _ = model.posterior(_batch([later]), q, eps)
    n = _batch(SEQS[:1]).times.shape[1]
    # queries at 0.2, 0.3 (left limit: before the event at 0.3) and 0.6 precede every change
    torch.testing.assert_close(base[0, 0, n:], moved[0, 0, n:])
    # the query at an event time is the rate just before the event: the event row's rate
    torch.testing.assert_close(base[0, 0, n + 1], base[0, 0, 2])
    # and a query set does not change the rates at the other queries
    single, _ = model.posterior(_batch(SEQS[:1]), q[:, 2:], eps)
    torch.testing.assert_close(single[0, 0, n], base[0, 0, n + 2])


def test_gradients_reach_every_part():
    model = _model(max_step=0.05)
    loss = model(_batch(SEQS))["loss"]
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert float(p.grad.abs().sum()) > 0, name


@torch.no_grad()
def test_simulation_of_a_constant_rate_is_poisson():
    model = JumpEventModel(1, 2, units=8, base_rate=3.0).double()
    for p in [*model.func.parameters(), *model.head.net.parameters()]:
        p.zero_()  # h never moves and the rate is the base rate: a Poisson process
    batch = _batch([EventSequence(0, np.zeros(0), np.zeros(0, int), 0.0, 1.0)])
    gen = torch.Generator().manual_seed(0)
    paths, exceeded = model.simulate(batch, torch.tensor([11.0]), 400, gen)
    counts = np.array([len(p) for p in paths])
    assert exceeded == 0
    # Poisson(3 * 10): mean 30 and variance 30, within a few standard errors
    assert abs(counts.mean() - 30.0) < 4 * np.sqrt(30 / 400)
    assert 20 < counts.var() < 42
    times = np.concatenate([[t for t, _ in p] for p in paths])
    assert times.min() >= 1.0 and times.max() <= 11.0


@torch.no_grad()
def test_a_generator_per_row_gives_each_row_its_paths_alone():
    """Simulated in one batch with a generator per row, each row's continuations are the
    ones it gets alone from the same seed: its draws do not depend on the other rows. (The
    times agree to the flow's discretisation: a batch takes as many fixed steps over a gap
    as its largest gap needs, so a row's steps are smaller in a batch; 1e-9 here.)"""
    model = _model(max_step=0.02)
    hists = [
        EventSequence("a", np.array([0.1, 0.3]), np.array([0, 1]), 0.0, 0.4),
        EventSequence("b", np.array([0.2]), np.array([1]), 0.0, 0.4),
        EventSequence("c", np.zeros(0), np.zeros(0, int), 0.0, 0.4),
    ]
    end = torch.tensor([1.5, 0.9, 1.2], dtype=torch.float64)
    together, _ = model.simulate(
        _batch(hists), end, 6, [torch.Generator().manual_seed(10 + i) for i in range(3)]
    )
    assert sum(len(p) for p in together) > 10  # events drawn, marks of both kinds
    assert {m for p in together for _, m in p} == {0, 1}
    for i, h in enumerate(hists):
        alone, _ = model.simulate(
            _batch([h]), end[i : i + 1], 6, [torch.Generator().manual_seed(10 + i)]
        )
        mine = together[i * 6 : (i + 1) * 6]
        assert [len(p) for p in alone] == [len(p) for p in mine], h.id
        for a, b in zip(alone, mine, strict=True):
            assert [m for _, m in a] == [m for _, m in b]
            np.testing.assert_allclose([t for t, _ in a], [t for t, _ in b], rtol=1e-6)
    with pytest.raises(ValueError, match="one generator per row"):
        model.simulate(_batch(hists), end, 2, [torch.Generator()])


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="fixed-step"):
        JumpEventModel(1, 2, method="dopri5")
    with pytest.raises(ValueError, match="max_step"):
        JumpEventModel(1, 2, max_step=0.0)
    with pytest.raises(ValueError, match="objective"):
        JumpEventModel(1, 2)(_batch(SEQS).to("cpu", torch.float32), objective="bogus")
