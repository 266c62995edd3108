"""The multi-time attention encoder: its attention against a loop written out, batch
independence, masked cells without influence, and learning on the periodic toy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentode.models import LatentODEModel
from latentode.nn.mtan import MTANEncoder, TimeEmbedding, masked_time_attention


def _series(n: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    t = torch.sort(torch.rand(n, generator=g) * 5)[0]
    x = torch.randn(n, d, generator=g)
    m = (torch.rand(n, d, generator=g) < 0.6).to(torch.float32)
    m[0, 0] = 1.0
    return t, x, m


def test_attention_matches_a_loop_over_features():
    """Each (query, feature) is the softmax over that feature's observed points of the
    scores, times the values: computed here one cell at a time in float64 numpy."""
    g = torch.Generator().manual_seed(0)
    b, h, r, n, d = 2, 3, 4, 6, 2
    scores = torch.randn(b, h, r, n, generator=g, dtype=torch.float64) * 3
    values = torch.randn(b, n, d, generator=g, dtype=torch.float64)
    mask = (torch.rand(b, n, d, generator=g) < 0.5).double()
    mask[1, :, 1] = 0.0  # a feature never seen in series 1
    out, seen = masked_time_attention(scores, values, mask)
    s, v, m = scores.numpy(), values.numpy(), mask.numpy()
    for bi in range(b):
        for f in range(d):
            idx = np.flatnonzero(m[bi, :, f])
            for hi in range(h):
                for ri in range(r):
                    if not len(idx):
                        want = 0.0
                    else:
                        w = np.exp(s[bi, hi, ri, idx] - s[bi, hi, ri, idx].max())
                        want = float((w / w.sum()) @ v[bi, idx, f])
                    assert out[bi, hi, ri, f].item() == pytest.approx(want, rel=1e-12, abs=1e-12)
            assert seen[bi, 0, 0, f].item() == float(len(idx) > 0)


def test_time_embedding_shape_and_frequencies():
    emb = TimeEmbedding(8)
    out = emb(torch.zeros(3, 5))
    assert out.shape == (3, 5, 8)
    w = emb.periodic.weight.detach().squeeze(1)
    assert w.min().item() == pytest.approx(0.2) and w.max().item() == pytest.approx(20.0)
    with pytest.raises(ValueError, match="dim >= 2"):
        TimeEmbedding(1)


def _pad(parts, n_max):
    ts, xs, ms = [], [], []
    for t, x, m in parts:
        k = n_max - len(t)
        ts.append(torch.cat([t, t[-1].repeat(k)]))
        xs.append(torch.cat([x, torch.full((k, x.shape[1]), 7.0)]))
        ms.append(torch.cat([m, torch.zeros(k, m.shape[1])]))
    return torch.stack(ts), torch.stack(xs), torch.stack(ms)


def test_a_series_gets_in_a_batch_what_it_gets_alone():
    torch.manual_seed(0)
    enc = MTANEncoder(2, 4, hidden_dim=8, units=16).eval()
    parts = [_series(n, 2, s) for s, n in enumerate((5, 17, 9))]
    t, x, m = _pad(parts, 17)
    mean, std = enc(t, x, m, t[:, 0])
    for i, (ti, xi, mi) in enumerate(parts):
        mean1, std1 = enc(ti[None], xi[None], mi[None], ti[:1])
        torch.testing.assert_close(mean[i], mean1[0], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(std[i], std1[0], rtol=1e-5, atol=1e-6)


def test_masked_cells_have_no_influence():
    torch.manual_seed(1)
    enc = MTANEncoder(2, 3, hidden_dim=6, units=12)
    t, x, m = _series(12, 2, 3)
    m[5] = 0.0  # a row with no observed feature
    t, x, m = t[None], x[None], m[None]
    noisy = torch.where(m > 0, x, torch.full_like(x, float("nan")))
    other = torch.where(m > 0, x, torch.randn_like(x) * 100)
    a = enc(t, noisy, m, t[:, 0])
    b = enc(t, other, m, t[:, 0])
    torch.testing.assert_close(a[0], b[0])
    assert torch.isfinite(a[0]).all()
    # a row with no observed feature may sit anywhere in time
    t2 = t.clone()
    t2[0, 5] = t[0, 5] + 0.01
    c = enc(t2, other, m, t[:, 0])
    torch.testing.assert_close(a[0], c[0])
    # and an observed value does move it
    x3 = x.clone()
    i, f = m[0].nonzero()[0]
    x3[0, i, f] += 1.0
    assert not torch.allclose(enc(t, x3, m, t[:, 0])[0], b[0])


def test_gradients_reach_every_parameter():
    enc = MTANEncoder(1, 2, hidden_dim=4, units=8)
    t, x, m = _series(10, 1, 0)
    mean, std = enc(t[None], x[None], m[None], t[:1])
    (mean.sum() + std.sum()).backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert any(p.grad.abs().sum() > 0 for p in enc.parameters())


def test_model_builds_with_the_mtan_encoder_and_refuses_unknown_ones():
    model = LatentODEModel(1, 4, encoder="mtan", hidden_dim=8, enc_units=16)
    assert isinstance(model.encoder, MTANEncoder)
    with pytest.raises(ValueError, match="'mtan'"):
        LatentODEModel(1, 4, encoder="transformer")
