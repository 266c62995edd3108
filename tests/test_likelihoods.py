import math

import torch
from torch.distributions import Normal, kl_divergence

from latentode.nn.bounds import KLSchedule, elbo, iwae, mc_elbo
from latentode.nn.likelihoods import (
    GaussianLikelihood,
    bernoulli_log_likelihood,
    categorical_log_likelihood,
    gaussian_kl,
    gaussian_log_likelihood,
    normal_log_prob,
)


def test_masked_gaussian_matches_hand_computation():
    values = torch.tensor([[[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]]])
    mean = torch.tensor([[[0.5, 2.5], [0.0, 0.0], [1.0, 1.0]]])
    std = torch.tensor([0.5, 2.0])
    mask = torch.tensor([[[1, 0], [1, 1], [0, 1]]], dtype=torch.float32)
    hand = 0.0
    for n in range(3):
        for d in range(2):
            if mask[0, n, d]:
                x, m, s = values[0, n, d].item(), mean[0, n, d].item(), std[d].item()
                hand += -0.5 * ((x - m) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)
    out = gaussian_log_likelihood(values, mean, std, mask)
    assert out.shape == (1,)
    assert abs(out.item() - hand) < 1e-5


def test_masked_cells_have_no_influence_even_nan():
    values = torch.randn(2, 4, 3)
    mean = torch.randn(2, 4, 3, requires_grad=True)
    mask = (torch.rand(2, 4, 3) > 0.5).float()
    a = gaussian_log_likelihood(values, mean, torch.tensor(0.3), mask)
    poisoned = torch.where(mask > 0, values, torch.full_like(values, float("nan")))
    b = gaussian_log_likelihood(poisoned, mean, torch.tensor(0.3), mask)
    assert torch.equal(a, b)
    b.sum().backward()
    assert torch.isfinite(mean.grad).all()
    assert (mean.grad[mask == 0] == 0).all()


def test_sample_dims_broadcast():
    values = torch.randn(2, 4, 3)
    mean = torch.randn(5, 2, 4, 3)
    mask = torch.ones(2, 4, 3)
    out = gaussian_log_likelihood(values, mean, torch.tensor(1.0), mask)
    assert out.shape == (5, 2)
    assert torch.allclose(out[3], gaussian_log_likelihood(values, mean[3], torch.tensor(1.0), mask))


def test_learned_and_fixed_std():
    lik = GaussianLikelihood(3, None, init_std=0.2)
    assert torch.allclose(lik.std(), torch.full((3,), 0.2), atol=1e-5)
    assert lik.learned and lik.raw_std.requires_grad
    fixed = GaussianLikelihood(3, 0.01)
    assert torch.equal(fixed.std(), torch.full((3,), 0.01))
    assert not list(fixed.parameters())


def test_kl_matches_torch_distributions_and_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mean = torch.randn(4, 3, generator=g, dtype=torch.float64)
    std = torch.rand(4, 3, generator=g, dtype=torch.float64) + 0.2
    pm, ps = torch.tensor(0.5, dtype=torch.float64), torch.tensor(1.5, dtype=torch.float64)
    ours = gaussian_kl(mean, std, pm, ps)
    ref = kl_divergence(Normal(mean, std), Normal(pm, ps)).sum(-1)
    assert torch.allclose(ours, ref, atol=1e-12)
    z = mean + std * torch.randn(200000, 4, 3, generator=g, dtype=torch.float64)
    mc = (normal_log_prob(z, mean, std) - normal_log_prob(z, pm.expand(3), ps.expand(3))).mean(0)
    assert torch.allclose(ours, mc, atol=0.02)


def test_iwae_bounds():
    g = torch.Generator().manual_seed(1)
    log_px, log_pz, log_qz = (torch.randn(7, 5, generator=g) * 3 for _ in range(3))
    assert (iwae(log_px, log_pz, log_qz) >= mc_elbo(log_px, log_pz, log_qz) - 1e-6).all()
    one = [x[:1] for x in (log_px, log_pz, log_qz)]
    assert torch.allclose(iwae(*one), mc_elbo(*one))
    # per-series log-mean-exp with - log K, computed by hand for series 2
    w = (log_px + log_pz - log_qz)[:, 2]
    hand = math.log(sum(math.exp(v) for v in w.tolist()) / 7)
    assert abs(iwae(log_px, log_pz, log_qz)[2].item() - hand) < 1e-4
    # series are independent: permuting the batch permutes the result
    perm = torch.tensor([4, 2, 0, 1, 3])
    assert torch.allclose(
        iwae(log_px[:, perm], log_pz[:, perm], log_qz[:, perm]), iwae(log_px, log_pz, log_qz)[perm]
    )


def test_elbo_with_analytic_kl():
    log_px = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    kl = torch.tensor([0.5, 1.0])
    assert torch.allclose(elbo(log_px, kl), torch.tensor([1.5, 2.0]))
    assert torch.allclose(elbo(log_px, kl, 0.0), torch.tensor([2.0, 3.0]))


def test_kl_schedule():
    s = KLSchedule(delay=2, rate=0.5)
    assert [s(e) for e in range(5)] == [0.0, 0.0, 0.5, 0.75, 0.875]
    assert KLSchedule(0, 0.0)(0) == 1.0


def test_bernoulli_and_categorical_against_torch():
    logits = torch.randn(3, 4)
    labels = (torch.rand(3, 4) > 0.5).float()
    ref = torch.distributions.Bernoulli(logits=logits).log_prob(labels).sum(-1)
    assert torch.allclose(bernoulli_log_likelihood(logits, labels), ref, atol=1e-6)
    mask = torch.tensor([[1, 0, 1, 1]] * 3, dtype=torch.float32)
    ref_m = (torch.distributions.Bernoulli(logits=logits).log_prob(labels) * mask).sum(-1)
    assert torch.allclose(bernoulli_log_likelihood(logits, labels, mask), ref_m, atol=1e-6)
    clogits = torch.randn(2, 5, 3)
    clabels = torch.tensor([[0, 2, 1, -1, 2], [1, 1, 0, 0, -1]])
    lp = torch.log_softmax(clogits, -1)
    hand = torch.zeros(2)
    for b in range(2):
        for n in range(5):
            if clabels[b, n] >= 0:
                hand[b] += lp[b, n, clabels[b, n]]
    assert torch.allclose(categorical_log_likelihood(clogits, clabels), hand, atol=1e-6)


def test_label_heads_shapes_and_log_probs():
    from latentode.nn.likelihoods import BernoulliHead, CategoricalHead

    z = torch.randn(3, 4, 5)  # (K, B, L)
    b = BernoulliHead(5, units=8)
    labels = torch.tensor([1.0, 0.0, 1.0, 1.0])
    lp = b.log_prob(z, labels)
    assert lp.shape == (3, 4)
    ref = torch.distributions.Bernoulli(logits=b(z)).log_prob(labels.expand(3, 4))
    assert torch.allclose(lp, ref, atol=1e-6)
    c = CategoricalHead(5, 3, units=8)
    zt = torch.randn(4, 6, 5)  # per-time-point (B, N, L)
    lab = torch.randint(0, 3, (4, 6))
    lab[0, 0] = -1
    lp = c.log_prob(zt, lab)
    logp = torch.log_softmax(c(zt), -1).gather(-1, lab.clamp_min(0)[..., None])[..., 0]
    logp[0, 0] = 0.0
    assert torch.allclose(lp, logp.sum(-1), atol=1e-6)


def test_frozen_learned_std_keeps_its_value_and_gets_zero_gradient():
    import torch

    from latentode.nn.likelihoods import GaussianLikelihood

    lik = GaussianLikelihood(2, None, init_std=0.3)
    x, mu, mask = torch.randn(4, 5, 2), torch.zeros(4, 5, 2), torch.ones(4, 5, 2)
    lik.frozen = True
    value = lik.std().detach().clone()
    lik.log_prob(x, mu, mask).sum().backward()
    assert torch.allclose(value, torch.full((2,), 0.3))
    assert lik.raw_std.grad is not None and torch.all(lik.raw_std.grad == 0)
    lik.frozen = False
    lik.raw_std.grad = None
    lik.log_prob(x, mu, mask).sum().backward()
    assert torch.all(lik.raw_std.grad != 0)
