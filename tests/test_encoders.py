import os

import numpy as np
import pytest
import torch
from torchdiffeq import odeint

from latentode.data.batch import Series, collate
from latentode.nn.cells import GatedMLPCell, LinearGRUCell
from latentode.nn.encoders import ODERNNEncoder, RNNEncoder


def _series(n, d=2, seed=0, obs_frac=0.7):
    g = torch.Generator().manual_seed(seed)
    t = torch.sort(torch.rand(n, generator=g))[0].numpy() * 2
    v = torch.randn(n, d, generator=g).numpy()
    m = (torch.rand(n, d, generator=g) < obs_frac).numpy()
    m[0, 0] = True
    return Series(times=t, values=v, mask=m, id=seed)


ENCODERS = [
    lambda: ODERNNEncoder(2, 3, 8, 16, max_step=0.02),
    lambda: ODERNNEncoder(2, 3, 8, 16, max_step=0.02, cell="mlp", std_link="abs"),
    lambda: ODERNNEncoder(2, 3, 8, 16, max_step=0.02, cell="linear_gru"),
    lambda: RNNEncoder(2, 3, 8, 16),
    lambda: RNNEncoder(2, 3, 8, 16, cell="linear_gru"),
    lambda: RNNEncoder(2, 3, 8, 16, cell="mlp"),
]


def _encode(enc, batch):
    return enc(
        batch.times.double(),
        batch.values.double(),
        batch.obs_mask.double(),
        batch.times[:, 0].double(),
    )


@pytest.mark.parametrize("make", ENCODERS)
def test_q_z0_independent_of_batch_and_padding(make):
    enc = make().double()
    series = [_series(n, seed=i) for i, n in enumerate([3, 9, 5, 1, 7])]
    mean_b, std_b = _encode(enc, collate(series))
    for i, s in enumerate(series):
        mean_a, std_a = _encode(enc, collate([s]))
        assert torch.allclose(mean_a[0], mean_b[i], atol=1e-10)
        assert torch.allclose(std_a[0], std_b[i], atol=1e-10)


@pytest.mark.parametrize("make", ENCODERS)
def test_masked_values_have_no_influence(make):
    enc = make().double()
    s = _series(8, seed=3)
    poisoned = Series(times=s.times, values=s.values.copy(), mask=s.mask)
    poisoned.values[~s.mask] = 1e6
    s2 = Series(times=s.times, values=s.values, mask=s.mask, obs_mask=s.mask)
    a = _encode(enc, collate([s2]))
    b = _encode(enc, collate([poisoned]))
    assert torch.equal(a[0], b[0])
    # and values observed in the data but hidden from the encoder do not count either
    hidden = s.mask.copy()
    hidden[4:] = False
    c = _encode(enc, collate([s.with_masks(obs_mask=hidden)]))
    changed = s.values.copy()
    changed[4:] += 5.0
    d = _encode(enc, collate([Series(times=s.times, values=changed, mask=s.mask, obs_mask=hidden)]))
    assert torch.allclose(c[0], d[0])


def _reference_backward_odernn(enc, s):
    """Independent per-series loop: dopri5 between observations, backwards in time."""
    t = torch.tensor(s.times, dtype=torch.float64)
    x = torch.tensor(s.values, dtype=torch.float64)
    m = torch.tensor(s.mask, dtype=torch.float64)
    rows = [i for i in range(len(t)) if m[i].any()]
    h = torch.zeros(1, enc.hidden_dim, dtype=torch.float64)
    prev = None
    for i in reversed(rows):
        if prev is not None:
            h = odeint(
                lambda tt, y: enc.func(tt, y),
                h,
                torch.stack([t[prev], t[i]]),
                rtol=1e-10,
                atol=1e-10,
            )[-1]
        h = enc.gru(torch.cat([x[i] * m[i], m[i]])[None], h)
        prev = i
    if t[prev] != t[0]:
        h = odeint(
            lambda tt, y: enc.func(tt, y), h, torch.stack([t[prev], t[0]]), rtol=1e-10, atol=1e-10
        )[-1]
    return enc.head(h)


def test_odernn_runs_backwards_like_the_reference():
    enc = ODERNNEncoder(2, 3, 8, 16, max_step=0.005).double()
    s = _series(6, seed=5)
    s = Series(times=s.times + 0.3, values=s.values, mask=s.mask)
    ref_mean, ref_std = _reference_backward_odernn(enc, s)
    mean, std = _encode(enc, collate([s]))
    assert torch.allclose(mean, ref_mean, atol=1e-7)
    assert torch.allclose(std, ref_std, atol=1e-7)
    enc.reverse = False  # a forward-running encoder must not pass this check
    fmean, _ = _encode(enc, collate([s]))
    assert (fmean - ref_mean).abs().max() > 1e-3


def test_latest_first_order_means_first_observation_is_read_last():
    # Changing the first observation must move q(z0) through a single GRU update,
    # while changing the last observation passes through the whole chain.
    enc = ODERNNEncoder(1, 2, 4, 8).double()
    t = [0.0, 0.5, 1.0, 1.5]
    base = collate([Series(times=t, values=[[0.0], [0.0], [0.0], [0.0]])])
    first = collate([Series(times=t, values=[[1.0], [0.0], [0.0], [0.0]])])
    h_base = _encode(enc, base)[0]
    h_first = _encode(enc, first)[0]
    enc.reverse = False
    h_fwd_base = _encode(enc, base)[0]
    h_fwd_first = _encode(enc, first)[0]
    assert not torch.allclose(h_base, h_first)
    assert not torch.allclose(h_first - h_base, h_fwd_first - h_fwd_base)


def test_series_with_no_observation_gets_a_finite_posterior():
    enc = ODERNNEncoder(2, 3, 8, 16).double()
    s = _series(4)
    empty = s.with_masks(obs_mask=s.mask & False)
    mean, std = _encode(enc, collate([empty, s]))
    assert torch.isfinite(mean).all() and (std > 0).all()


def test_gated_mlp_cell_matches_its_formula():
    torch.manual_seed(0)
    cell = GatedMLPCell(4, 3, units=7).double()
    x = torch.randn(5, 4, dtype=torch.float64)
    state = torch.randn(5, 6, dtype=torch.float64)
    mean, std = state[:, :3], state[:, 3:]
    joint = torch.cat([mean, std, x], -1)
    u = torch.sigmoid(cell.update(joint))
    r = torch.sigmoid(cell.reset(joint))
    cand = cell.candidate(torch.cat([mean * r, std * r, x], -1))
    want = torch.cat([(1 - u) * cand[:, :3] + u * mean, (1 - u) * cand[:, 3:].abs() + u * std], -1)
    assert torch.allclose(cell(x, state), want, atol=1e-12)
    # an update gate of 1 keeps the state exactly
    with torch.no_grad():
        cell.update[-1].bias.fill_(1e3)
    assert torch.allclose(cell(x, state), state, atol=1e-12)


def test_linear_gru_cell_matches_its_formula_in_numpy():
    """The gates of a GRU and an unsquashed candidate, computed independently in numpy."""
    torch.manual_seed(0)
    cell = LinearGRUCell(4, 3).double()
    x = torch.randn(5, 4, dtype=torch.float64)
    h = torch.randn(5, 3, dtype=torch.float64)
    wi, bi = cell.input_map.weight.detach().numpy(), cell.input_map.bias.detach().numpy()
    wh, bh = cell.state_map.weight.detach().numpy(), cell.state_map.bias.detach().numpy()
    xn, hn = x.numpy(), h.numpy()
    gi, gh = xn @ wi.T + bi, hn @ wh.T + bh

    def sig(a):
        return 1.0 / (1.0 + np.exp(-a))

    r, u = sig(gi[:, :3] + gh[:, :3]), sig(gi[:, 3:6] + gh[:, 3:6])
    cand = gi[:, 6:] + r * gh[:, 6:]
    want = (1 - u) * cand + u * hn
    np.testing.assert_allclose(cell(x, h).detach().numpy(), want, rtol=1e-12, atol=1e-12)
    # unlike nn.GRUCell's, the candidate is not confined to [-1, 1]: a closed update gate
    # passes a large input straight into the state
    with torch.no_grad():
        cell.input_map.bias[3:6].fill_(-1e3)
        cell.input_map.weight[6:].zero_()
        cell.input_map.weight[6:, 0] = 1.0
        cell.state_map.weight[6:].zero_()
        cell.state_map.bias.zero_()
        cell.input_map.bias[6:].zero_()
    big = torch.zeros(2, 4, dtype=torch.float64)
    big[:, 0] = torch.tensor([7.0, -30.0])
    np.testing.assert_allclose(cell(big, torch.zeros(2, 3, dtype=torch.float64)).detach().numpy(),
                               big[:, :1].expand(2, 3).numpy(), atol=1e-12)  # fmt: skip


def test_mlp_cell_std_channel_does_not_move_between_observations():
    enc = ODERNNEncoder(1, 2, 3, 8, cell="mlp").double()
    h = torch.randn(4, 6, dtype=torch.float64)
    out = enc._evolve(h, torch.zeros(4, dtype=torch.float64), -torch.ones(4, dtype=torch.float64))
    assert torch.equal(out[:, 3:], h[:, 3:])
    assert not torch.allclose(out[:, :3], h[:, :3])


def test_unknown_cell_and_std_link_are_refused():
    with pytest.raises(ValueError, match="cell"):
        ODERNNEncoder(1, 2, cell="lstm")
    with pytest.raises(ValueError, match="std_link"):
        ODERNNEncoder(1, 2, std_link="exp")


def test_rnn_encoder_is_a_gru_over_reversed_points_with_scaled_gaps():
    """Written out for one series: a GRU cell over the observed points, latest first, each
    read with its mask and ``gap_scale`` times the gap to the point read before it; the
    head reads the last state and the scaled gap from the first point to ``t0``. A
    gap scale ``s`` is the same encoder on times stretched by ``s``."""
    s = _series(7, seed=5)
    t0 = float(s.times[0]) - 0.3
    enc = RNNEncoder(2, 3, 8, 16, gap_scale=20.0).double()
    batch = collate([s])
    args = (batch.times.double(), batch.values.double(), batch.obs_mask.double())
    mean, std = enc(*args, torch.tensor([t0], dtype=torch.float64))
    rows = [i for i in range(len(s)) if s.mask[i].any()][::-1]
    h = torch.zeros(1, 8, dtype=torch.float64)
    prev = None
    for i in rows:
        m = torch.as_tensor(s.mask[i], dtype=torch.float64)
        x = torch.as_tensor(s.values[i], dtype=torch.float64) * m
        gap = 0.0 if prev is None else 20.0 * abs(s.times[i] - prev)
        h = enc.gru(torch.cat([x, m, torch.tensor([gap], dtype=torch.float64)])[None], h)
        prev = s.times[i]
    last = torch.tensor([[20.0 * abs(prev - t0)]], dtype=torch.float64)
    want_mean, want_std = enc.head(torch.cat([h, last], dim=-1))
    torch.testing.assert_close(mean, want_mean)
    torch.testing.assert_close(std, want_std)
    raw = RNNEncoder(2, 3, 8, 16, gap_scale=1.0).double()
    # a state dict without the factor (as saved before it was a buffer) keeps raw's own
    raw.load_state_dict({k: v for k, v in enc.state_dict().items() if k != "gap_factor"})
    assert raw.gap_scale == 1.0
    stretched = raw(args[0] * 20.0, *args[1:], torch.tensor([t0 * 20.0], dtype=torch.float64))
    torch.testing.assert_close(stretched[0], mean)
    torch.testing.assert_close(stretched[1], std)
    with pytest.raises(ValueError, match="gap_scale"):
        RNNEncoder(2, 3, gap_scale=0.0)
    with pytest.raises(ValueError, match="gap_scale"):
        RNNEncoder(2, 3, gap_scale="fitted")


def test_toward_t0_reads_forwards_only_when_z0_is_after_the_observations():
    times = torch.tensor([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [0.0, 1.0, 2.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0], [1, 1, 0], [0, 0, 0]], dtype=torch.float64)
    t0 = torch.tensor([0.0, 1.5, 1.0, 5.0])
    from latentode.nn.encoders import toward_t0

    # z0 at the first time: backwards; after the last observed time (2.0 unobserved):
    # forwards; at the last observation: backwards; nothing observed: backwards
    assert toward_t0(times, mask[..., None], t0).tolist() == [True, False, True, True]


@pytest.mark.parametrize("make", ENCODERS)
def test_an_encoder_reads_towards_a_z0_after_its_observations(make):
    """A row whose z0 lies after its observations (extrapolation with z0 at the first
    scored time) is read earliest to latest, as the forward encoder reads it, so the last
    update is at the observation nearest z0; the other rows keep the backward reading, and
    a batch mixing both gives each row what it gets alone."""
    enc = make().double()
    series = [_series(n, seed=i) for i, n in enumerate([6, 4, 8])]
    batch = collate(series)
    args = (batch.times.double(), batch.values.double(), batch.obs_mask.double())
    t0 = torch.tensor([s.times[0] for s in series], dtype=torch.float64)
    t0[1] = float(series[1].times[-1]) + 0.4  # after series 1's last time
    mean, std = enc(*args, t0)
    for i, s in enumerate(series):
        one = collate([s])
        alone = enc(one.times.double(), one.values.double(), one.obs_mask.double(), t0[i : i + 1])
        torch.testing.assert_close(alone[0][0], mean[i], atol=1e-10, rtol=0)
    enc.reverse = False  # forwards for every row (the ODE-RNN then stops at the last point)
    fwd_mean, _ = enc(*args, t0)
    assert (fwd_mean[0] - mean[0]).abs().max() > 1e-4  # row 0 was read backwards
    if isinstance(enc, RNNEncoder):
        torch.testing.assert_close(fwd_mean[1], mean[1], atol=1e-10, rtol=0)


def test_odernn_reads_forwards_then_evolves_to_a_later_z0():
    """Written out for one fully observed series with z0 after its last point: GRU updates
    earliest to latest with the ODE flow over each gap, then the flow to ``t0``."""
    enc = ODERNNEncoder(2, 3, 8, 16, max_step=0.01, cell="gru").double()
    s = _series(5, seed=7, obs_frac=2.0)
    t0 = float(s.times[-1]) + 0.5
    batch = collate([s])
    args = (batch.times.double(), batch.values.double(), batch.obs_mask.double())
    mean, std = enc(*args, torch.tensor([t0], dtype=torch.float64))
    h = torch.zeros(1, 8, dtype=torch.float64)
    t = torch.as_tensor(s.times, dtype=torch.float64)
    for i in range(len(s)):
        if i:
            h = enc._evolve(h, t[i - 1 : i], t[i : i + 1] - t[i - 1 : i])
        x = torch.as_tensor(s.values[i], dtype=torch.float64)
        h = enc.gru(torch.cat([x, torch.ones(2, dtype=torch.float64)])[None], h)
    h = enc._evolve(h, t[-1:], torch.tensor([t0], dtype=torch.float64) - t[-1:])
    want_mean, want_std = enc.head(h)
    torch.testing.assert_close(mean, want_mean)
    torch.testing.assert_close(std, want_std)


def test_rnn_encoder_fits_its_gap_factor_to_the_gaps_it_reads():
    """``gap_scale="fit"``: the first training-mode forward sets the factor to 1 / the
    median positive gap between consecutive read points of the batch (computed here
    from the series directly); it stays fixed after, is saved in the state dict, and
    an eval-mode forward of an unfitted encoder uses 20 and fits nothing."""
    series = [_series(9, seed=k) for k in range(4)]
    batch = collate(series)
    args = (batch.times.double(), batch.values.double(), batch.obs_mask.double())
    t0 = batch.times[:, 0].double() - 0.1
    enc = RNNEncoder(2, 3, 8, 16, gap_scale="fit").double()
    enc.eval()
    enc(*args, t0)
    assert float(enc.gap_factor) == 0.0 and enc.gap_scale == 20.0
    enc.train()
    enc(*args, t0)
    gaps = []
    for s in series:
        read = np.asarray(s.times)[np.asarray(s.mask).any(axis=1)]
        gaps += [g for g in np.diff(read) if g > 0]
    assert enc.gap_scale == pytest.approx(1.0 / np.median(gaps), rel=1e-6)
    fitted = enc.gap_scale
    enc(args[0] * 3.0, *args[1:], t0 * 3.0)  # another batch does not refit it
    assert enc.gap_scale == fitted
    fixed = RNNEncoder(2, 3, 8, 16, gap_scale=fitted).double()
    fixed.load_state_dict(enc.state_dict())
    enc.eval()
    torch.testing.assert_close(enc(*args, t0)[0], fixed.eval()(*args, t0)[0])
    copy = RNNEncoder(2, 3, 8, 16, gap_scale="fit").double()
    copy.load_state_dict(enc.state_dict())
    assert copy.gap_scale == fitted
    copy.train()(args[0] * 3.0, *args[1:], t0 * 3.0)  # a loaded factor is not refitted
    assert copy.gap_scale == fitted
    # each series alone gets what it gets in the batch (eval mode, factor fixed)
    alone = collate(series[:1])
    one = enc(alone.times.double(), alone.values.double(), alone.obs_mask.double(), t0[:1])
    torch.testing.assert_close(one[0], enc(*args, t0)[0][:1])


def _reset_dynamo() -> None:
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()


def _compiled_graphs() -> int:
    from torch._dynamo.utils import counters

    return counters["stats"]["unique_graphs"]


@pytest.mark.parametrize(
    "method, cell", [("midpoint", "gru"), ("rk4", "mlp"), ("euler", "linear_gru")]
)
def test_compiled_step_matches_the_eager_encoder(method, cell):
    """The compiled per-observation step (captured by dynamo, run by aot_eager: fast to
    build, the same graph inductor fuses) gives the eager encoder's q(z0) and gradients,
    for every gap length (several steps over one gap, one step, none)."""
    torch.manual_seed(0)
    enc = ODERNNEncoder(2, 3, 5, 16, 2, method=method, max_step=0.3, cell=cell).double()
    series = [_series(n, seed=i) for i, n in enumerate([6, 2, 9, 1])]
    batch = collate(series)
    params = list(enc.parameters())

    def run():
        mean, std = _encode(enc, batch)
        grads = torch.autograd.grad((mean.square() + std).sum(), params)
        return [mean, std, *grads]

    want = run()
    _reset_dynamo()
    enc.compile_step(backend="aot_eager")
    assert enc.compiled
    got = run()
    assert _compiled_graphs() >= 2  # both compiled functions ran (not an eager fallback)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)
    enc.compile_step(False)
    assert not enc.compiled


def test_a_copy_of_a_compiled_encoder_runs_its_own_weights():
    import copy

    torch.manual_seed(0)
    enc = ODERNNEncoder(2, 3, 4, 8, 1, method="midpoint", max_step=0.3).double()
    batch = collate([_series(n, seed=i) for i, n in enumerate([5, 3])])
    enc.compile_step(backend="aot_eager")
    before = _encode(enc, batch)[0]
    twin = copy.deepcopy(enc)
    with torch.no_grad():
        for p in twin.parameters():
            p.mul_(2.0)
    assert twin.compiled
    torch.testing.assert_close(_encode(twin, batch)[0], _encode(twin.compile_step(False), batch)[0])
    torch.testing.assert_close(_encode(enc, batch)[0], before)


@pytest.mark.skipif(
    os.environ.get("LATENTODE_TEST_INDUCTOR") != "1",
    reason="inductor compiles C++ (about 20 s cold); LATENTODE_TEST_INDUCTOR=1 runs it",
)
def test_compiled_step_with_inductor_matches_eager():
    """The default backend (inductor's fused kernels) to float32 rounding."""
    torch.manual_seed(0)
    enc = ODERNNEncoder(2, 3, 4, 8, 1, method="midpoint", max_step=0.3)
    batch = collate([_series(n, seed=i) for i, n in enumerate([5, 3])])
    want = enc(batch.times, batch.values, batch.obs_mask, batch.times[:, 0])
    _reset_dynamo()
    enc.compile_step()
    got = enc(batch.times, batch.values, batch.obs_mask, batch.times[:, 0])
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert _compiled_graphs() >= 1


def test_compile_needs_a_fixed_step_method_and_the_odernn_encoder():
    with pytest.raises(ValueError, match="compile_step needs a method"):
        ODERNNEncoder(2, 3, 4, 8, method="dopri5").compile_step()
    from latentode.training import LatentODEModule

    with pytest.raises(ValueError, match="encoder='odernn'"):
        LatentODEModule(1, 2, encoder="rnn", training=dict(compile=True))
    with pytest.raises(ValueError, match="compile must be True or False"):
        LatentODEModule(1, 2, training=dict(compile="yes"))
    module = LatentODEModule(1, 2, hidden_dim=4, units=8, training=dict(compile=True))
    assert module.model.encoder.compiled


def test_weights_saved_from_a_gru_cell_load_into_a_default_model():
    """Models saved before the linear candidate became the ODE-RNN's default carry
    ``nn.GRUCell`` weights; a model built with today's default takes them and encodes as
    the saved one did."""
    from latentode.models import LatentODEModel

    torch.manual_seed(0)
    saved = LatentODEModel(2, 3, hidden_dim=8, encoder_cell="gru").double()
    loaded = LatentODEModel(2, 3, hidden_dim=8).double()
    assert isinstance(loaded.encoder.gru, LinearGRUCell)
    loaded.load_state_dict(saved.state_dict())
    assert isinstance(loaded.encoder.gru, torch.nn.GRUCell)
    batch = collate([_series(n, seed=i) for i, n in enumerate([4, 7])])
    want, got = saved.encode(batch.to(torch.float64)), loaded.encode(batch.to(torch.float64))
    for a, b in zip(got, want, strict=True):
        assert torch.equal(a, b)
    # and a default model's own weights load back into the linear cell
    again = LatentODEModel(2, 3, hidden_dim=8)
    again.load_state_dict(LatentODEModel(2, 3, hidden_dim=8).state_dict())
    assert isinstance(again.encoder.gru, LinearGRUCell)
