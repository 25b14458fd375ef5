"""Adversarial family (issue 16): every kind × reduction × batch sizes against NumPy, the closed forms of the
penalties on a linear critic, seed 004's BCE form, one-sided label smoothing, (N, 1) scores, saturated logits,
errors, and one WGAN-GP critic step and one generator step end to end.

Values come from tests/reference/adversarial.py (float64 NumPy); gradients from central differences of the
same reference (step 1e-6, accurate to ~1e-9), so neither side uses losskit or torch's autograd.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import losskit as lk
import losskit.functional as LF

from .reference import adversarial as ref

KINDS = ("minimax", "non_saturating", "least_squares", "hinge", "wasserstein", "relativistic_average")
SMOOTHABLE = ("minimax", "non_saturating", "least_squares", "relativistic_average")
REDUCTIONS = ("mean", "sum", "none")
SIZES = [(6, 6), (4, 7), (9, 3)]  # (real batch, fake batch): equal and not


def _scores(n, seed, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, generator=g, dtype=torch.float64) * 2.0 + shift).requires_grad_(True)


def _numeric_grad(f, arrays, i, cotangent, h=1e-6):
    """d <cotangent, f(arrays)> / d arrays[i] by central differences of the NumPy reference."""
    x = arrays[i]
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        plus = [a.copy() for a in arrays]
        minus = [a.copy() for a in arrays]
        plus[i][idx] += h
        minus[i][idx] -= h
        grad[idx] = ((np.asarray(f(*plus)) - np.asarray(f(*minus))) * cotangent).sum() / (2 * h)
    return grad


def _check_against_reference(out, inputs, reference):
    """``out`` (from ``inputs``, float64 leaves) against ``reference(*numpy inputs)``: value and every gradient."""
    arrays = [t.detach().numpy().copy() for t in inputs]
    expected = np.asarray(reference(*arrays))
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-12, atol=1e-12)
    cotangent = np.random.default_rng(0).uniform(0.5, 1.5, size=expected.shape)
    grads = torch.autograd.grad(out, inputs, grad_outputs=torch.as_tensor(cotangent))
    for i, grad in enumerate(grads):
        np.testing.assert_allclose(
            grad.numpy(), _numeric_grad(reference, arrays, i, cotangent), rtol=1e-6, atol=1e-8, err_msg=f"grad {i}"
        )


def _cases():
    for kind, reduction, sizes in itertools.product(KINDS, REDUCTIONS, SIZES):
        if reduction == "none" and sizes[0] != sizes[1]:
            continue  # "none" is per pair; unequal sizes raise (test_none_needs_pairs)
        yield kind, reduction, sizes


@pytest.mark.parametrize("kind, reduction, sizes", list(_cases()))
def test_discriminator_against_numpy(kind, reduction, sizes):
    r, f = _scores(sizes[0], 1, 0.5), _scores(sizes[1], 2, -0.5)
    s = 0.2 if kind in SMOOTHABLE else 0.0
    out = LF.discriminator_loss(r, f, kind=kind, label_smoothing=s, reduction=reduction)
    _check_against_reference(
        out, [r, f], lambda a, b: ref.discriminator(a, b, kind=kind, label_smoothing=s, reduction=reduction)
    )


@pytest.mark.parametrize("kind, reduction, sizes", list(_cases()))
def test_generator_against_numpy(kind, reduction, sizes):
    f = _scores(sizes[1], 3, -0.5)
    if kind == "relativistic_average":  # real_logits is a keyword: the battery does not differentiate it, this does
        r = _scores(sizes[0], 4, 0.5)
        out = LF.generator_loss(f, kind=kind, real_logits=r, reduction=reduction)
        _check_against_reference(
            out, [f, r], lambda a, b: ref.generator(a, kind=kind, real_logits=b, reduction=reduction)
        )
    else:
        out = LF.generator_loss(f, kind=kind, reduction=reduction)
        _check_against_reference(out, [f], lambda a: ref.generator(a, kind=kind, reduction=reduction))


@pytest.mark.parametrize("kind", KINDS)
def test_each_loss_is_the_sum_of_its_term_means(kind):
    """Unequal batches: mean(real term) + mean(fake term), not a mean over the concatenation."""
    r, f = _scores(3, 5, 1.0), _scores(8, 6, -1.0)
    if kind == "relativistic_average":
        return  # its terms depend on the other batch's mean; covered against NumPy above
    mean = LF.discriminator_loss(r, f, kind=kind)
    total = LF.discriminator_loss(r, f, kind=kind, reduction="sum")
    # the terms, read off one-sided batches: fake term = loss(r, f) - loss(r, nothing)
    real_mean = LF.discriminator_loss(r, f[:0], kind=kind)
    real_sum = LF.discriminator_loss(r, f[:0], kind=kind, reduction="sum")
    fake_mean, fake_sum = mean - real_mean, total - real_sum
    torch.testing.assert_close(real_sum / 3 + fake_sum / 8, mean)
    torch.testing.assert_close(real_mean * 3 + fake_mean * 8, total)
    pooled = (real_sum + fake_sum) / 11
    assert not torch.allclose(pooled, mean)


def test_none_needs_pairs():
    with pytest.raises(ValueError, match=r"discriminator_loss: reduction='none' .*got \(4,\) and \(6,\)"):
        LF.discriminator_loss(torch.zeros(4), torch.zeros(6), reduction="none")
    out = LF.discriminator_loss(torch.zeros(4, 1), torch.zeros(4), reduction="none")
    assert out.shape == (4,)


# ---------------------------------------------------------------------------------------------
# conventions
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sizes", SIZES)
def test_non_saturating_is_seed_004s_bce(sizes):
    """As seed 004's code writes it: BCE-with-logits on real = 1 plus BCE-with-logits on fake = 0 (term means)."""
    r, f = _scores(sizes[0], 7), _scores(sizes[1], 8)
    r2, f2 = r.detach().clone().requires_grad_(True), f.detach().clone().requires_grad_(True)
    ours = LF.discriminator_loss(r, f)
    seed_004 = F.binary_cross_entropy_with_logits(r2, torch.ones_like(r2)) + F.binary_cross_entropy_with_logits(
        f2, torch.zeros_like(f2)
    )
    torch.testing.assert_close(ours, seed_004, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(torch.autograd.grad(ours, [r, f]), torch.autograd.grad(seed_004, [r2, f2]))
    # minimax has the same discriminator; the generators differ
    torch.testing.assert_close(LF.discriminator_loss(r, f, kind="minimax"), ours)
    torch.testing.assert_close(
        LF.generator_loss(f), F.binary_cross_entropy_with_logits(f, torch.ones_like(f)), rtol=1e-12, atol=1e-12
    )
    torch.testing.assert_close(
        LF.generator_loss(f, kind="minimax"),
        -F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)),
        rtol=1e-12,
        atol=1e-12,
    )


@pytest.mark.parametrize("s", [0.1, 0.25, 1.0])
def test_label_smoothing_is_one_sided(s):
    r, f = _scores(5, 9), _scores(7, 10)
    ours = LF.discriminator_loss(r, f, label_smoothing=s)
    expected = F.binary_cross_entropy_with_logits(r, torch.full_like(r, 1 - s)) + F.binary_cross_entropy_with_logits(
        f, torch.zeros_like(f)
    )
    torch.testing.assert_close(ours, expected, rtol=1e-12, atol=1e-12)
    # the fake term (and its gradient) does not move with s
    g_smooth = torch.autograd.grad(LF.discriminator_loss(r, f, label_smoothing=s), f)[0]
    g_plain = torch.autograd.grad(LF.discriminator_loss(r, f), f)[0]
    torch.testing.assert_close(g_smooth, g_plain, rtol=0, atol=0)
    # least squares: the real target becomes 1 - s, the fake target stays 0
    ls = LF.discriminator_loss(r, f, kind="least_squares", label_smoothing=s)
    torch.testing.assert_close(ls, 0.5 * (r - (1 - s)).square().mean() + 0.5 * f.square().mean())


@pytest.mark.parametrize("kind", ["hinge", "wasserstein"])
def test_label_smoothing_is_refused_without_a_real_target(kind):
    with pytest.raises(ValueError, match=rf"discriminator_loss: label_smoothing applies .*kind='{kind}'"):
        lk.DiscriminatorLoss(kind=kind, label_smoothing=0.1)(torch.zeros(3), torch.zeros(3))
    LF.discriminator_loss(torch.zeros(3), torch.zeros(3), kind=kind, label_smoothing=0.0)


def test_least_squares_uses_the_factor_one_half():
    assert float(LF.discriminator_loss(torch.tensor([3.0]), torch.tensor([2.0]), kind="least_squares")) == 0.5 * (4 + 4)
    assert float(LF.generator_loss(torch.tensor([3.0]), kind="least_squares")) == 0.5 * 4


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_column_scores_equal_flat_scores(kind, reduction):
    r, f = _scores(5, 11), _scores(5, 12)
    flat_d = LF.discriminator_loss(r, f, kind=kind, reduction=reduction)
    col_d = LF.discriminator_loss(r[:, None], f[:, None], kind=kind, reduction=reduction)
    mixed = LF.discriminator_loss(r[:, None], f, kind=kind, reduction=reduction)
    flat_g = LF.generator_loss(f, kind=kind, real_logits=r, reduction=reduction)
    col_g = LF.generator_loss(f[:, None], kind=kind, real_logits=r[:, None], reduction=reduction)
    for a, b in ((flat_d, col_d), (flat_d, mixed), (flat_g, col_g)):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_saturated_logits_stay_finite(kind, dtype):
    big = torch.tensor([1e4, -1e4, 1e4, -1e4], dtype=dtype, requires_grad=True)
    other = torch.tensor([-1e4, 1e4, 1e4, -1e4], dtype=dtype, requires_grad=True)
    for out in (
        LF.discriminator_loss(big, other, kind=kind),
        LF.discriminator_loss(big, other, kind=kind, label_smoothing=0.1 if kind in SMOOTHABLE else 0.0),
        LF.generator_loss(other, kind=kind, real_logits=big),
    ):
        assert torch.isfinite(out)
        grads = torch.autograd.grad(out, [big, other], allow_unused=True)
        assert all(g is None or torch.isfinite(g).all() for g in grads)
    expected = ref.discriminator(big.detach().double().numpy(), other.detach().double().numpy(), kind=kind)
    np.testing.assert_allclose(float(LF.discriminator_loss(big, other, kind=kind).detach()), expected, rtol=1e-6)


def test_minimax_generator_saturates_and_non_saturating_does_not():
    """The reason for the default: where D rejects the fakes (f ≪ 0), log(1 − σ(f)) has almost no gradient."""
    f = torch.tensor([-8.0], requires_grad=True)
    (g_minimax,) = torch.autograd.grad(LF.generator_loss(f, kind="minimax"), f)
    (g_ns,) = torch.autograd.grad(LF.generator_loss(f), f)
    assert abs(float(g_minimax)) < 1e-3 < 0.99 < abs(float(g_ns))


def test_relativistic_generator_needs_real_logits():
    with pytest.raises(ValueError, match=r"generator_loss: kind='relativistic_average' .*pass real_logits"):
        lk.GeneratorLoss(kind="relativistic_average")(torch.zeros(3))
    # ignored by the other kinds, so one training loop can always pass it
    torch.testing.assert_close(
        LF.generator_loss(torch.ones(3), real_logits=torch.zeros(5)), LF.generator_loss(torch.ones(3))
    )


def test_unknown_kind():
    with pytest.raises(ValueError, match=r"DiscriminatorLoss: kind must be 'minimax' or .*; got 'vanilla'"):
        lk.DiscriminatorLoss(kind="vanilla")
    with pytest.raises(ValueError, match=r"generator_loss: kind must be 'minimax' or .*; got 'lsgan'"):
        LF.generator_loss(torch.zeros(2), kind="lsgan")


def test_patch_scores_average_over_every_element():
    r, f = torch.randn(2, 1, 4, 4, dtype=torch.float64), torch.randn(3, 1, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(
        LF.discriminator_loss(r, f, kind="hinge"), F.relu(1 - r).mean() + F.relu(1 + f).mean(), rtol=0, atol=0
    )


# ---------------------------------------------------------------------------------------------
# penalties
# ---------------------------------------------------------------------------------------------


def _linear_critic(d, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(d, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn((), generator=g, dtype=torch.float64, requires_grad=True)
    return w, b, (lambda x: x.flatten(1) @ w + b)


@pytest.mark.parametrize("shape", [(6, 3), (4, 2, 3), (3, 1, 2, 2), (5, 1)])
@pytest.mark.parametrize("target_norm, weight", [(1.0, 10.0), (0.0, 1.0), (2.5, 3.0)])
def test_gradient_penalty_linear_critic_closed_form(shape, target_norm, weight):
    """weight · (‖w‖ − c)² for every interpolation, and gradient 2·weight·(‖w‖ − c)·w/‖w‖ with respect to w."""
    d = int(np.prod(shape[1:]))
    w, b, critic = _linear_critic(d, seed=len(shape))
    norm = float(w.detach().norm())
    for seed in range(3):  # random interpolations, and explicit ones at the ends of the segment
        torch.manual_seed(seed)
        real, fake = torch.randn(shape, dtype=torch.float64), torch.randn(shape, dtype=torch.float64)
        for interpolation in (None, torch.zeros(shape[0]), torch.ones(shape[0])):
            out = LF.gradient_penalty(
                critic, real, fake, target_norm=target_norm, weight=weight, interpolation=interpolation
            )
            np.testing.assert_allclose(out.item(), weight * (norm - target_norm) ** 2, rtol=1e-12)
            gw, gb = torch.autograd.grad(out, [w, b], allow_unused=True)
            expected = 2 * weight * (norm - target_norm) * w.detach().numpy() / norm
            np.testing.assert_allclose(gw.numpy(), expected, rtol=1e-10, atol=1e-12)
            assert gb is None or float(gb) == 0.0


@pytest.mark.parametrize("shape", [(6, 3), (4, 2, 3)])
@pytest.mark.parametrize("gamma", [10.0, 0.5])
def test_r1_linear_critic_closed_form(shape, gamma):
    d = int(np.prod(shape[1:]))
    w, b, critic = _linear_critic(d, seed=7)
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    out = LF.r1_penalty(critic(x), x, gamma=gamma)
    np.testing.assert_allclose(out.item(), gamma / 2 * float(w.detach().square().sum()), rtol=1e-12)
    (gw,) = torch.autograd.grad(out, w)
    np.testing.assert_allclose(gw.numpy(), gamma * w.detach().numpy(), rtol=1e-12)
    out_module = lk.R1Penalty(gamma=gamma)(critic(x)[:, None], x)  # (N, 1) scores: the same
    torch.testing.assert_close(out_module, out)


class _TanhCritic(torch.nn.Module):
    """D(x) = <v, tanh(W flat(x) + c)> + b, with the parameter names the NumPy reference reads."""

    def __init__(self, d, h=6, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.W = torch.nn.Parameter(torch.randn(h, d, generator=g, dtype=torch.float64))
        self.c = torch.nn.Parameter(torch.randn(h, generator=g, dtype=torch.float64))
        self.v = torch.nn.Parameter(torch.randn(h, generator=g, dtype=torch.float64))
        self.b = torch.nn.Parameter(torch.randn((), generator=g, dtype=torch.float64))

    @property
    def params(self):
        return {k: p.detach().numpy().copy() for k, p in self.named_parameters()}

    def forward(self, x):
        return torch.tanh(x.flatten(1) @ self.W.T + self.c) @ self.v + self.b


def test_penalties_train_the_critic():
    """create_graph=True: the penalty's gradient with respect to the critic's parameters matches NumPy's."""
    critic = _TanhCritic(4, seed=3)
    real, fake = torch.randn(5, 2, 2, dtype=torch.float64), torch.randn(5, 2, 2, dtype=torch.float64)
    eps = torch.rand(5, dtype=torch.float64)
    names = [n for n, _ in critic.named_parameters()]

    class P:  # the reference's view of a critic with given parameters
        def __init__(self, params):
            self.params = params

    def value_gp(params):
        return ref.gradient_penalty(P(params), real.numpy(), fake.numpy(), interpolation=eps.numpy())

    def value_r1(params):
        return ref.r1(type("D", (), {"critic": P(params)})(), real.numpy(), gamma=3.0)

    x = real.clone().requires_grad_(True)
    for out, value in (
        (LF.gradient_penalty(critic, real, fake, interpolation=eps), value_gp),
        (LF.r1_penalty(critic(x), x, gamma=3.0), value_r1),
    ):
        base = critic.params
        np.testing.assert_allclose(out.item(), value(base), rtol=1e-12)
        grads = torch.autograd.grad(out, list(critic.parameters()), allow_unused=True)
        for name, grad in zip(names, grads):
            if name == "b":  # the bias does not move an input gradient
                assert grad is None
                continue
            assert grad.abs().sum() > 0, name
            numeric = np.zeros_like(base[name])
            for idx in np.ndindex(numeric.shape):
                plus, minus = {k: v.copy() for k, v in base.items()}, {k: v.copy() for k, v in base.items()}
                plus[name][idx] += 1e-6
                minus[name][idx] -= 1e-6
                numeric[idx] = (value(plus) - value(minus)) / 2e-6
            np.testing.assert_allclose(grad.numpy(), numeric, rtol=1e-6, atol=1e-7, err_msg=name)


def test_one_uniform_epsilon_per_sample():
    seen = {}

    def critic(x):
        seen["x"] = x.detach().clone()
        return (x.flatten(1) ** 2).sum(1)

    real = torch.randn(64, 3, 2, 2, dtype=torch.float64)
    fake = torch.randn(64, 3, 2, 2, dtype=torch.float64)
    torch.manual_seed(0)
    first = LF.gradient_penalty(critic, real, fake)
    eps = ((seen["x"] - fake) / (real - fake)).flatten(1)
    torch.testing.assert_close(eps, eps[:, :1].expand_as(eps))  # one ε per sample, broadcast over the rest
    assert float(eps.min()) >= 0 and float(eps.max()) < 1 and float(eps[:, 0].std()) > 0.2  # uniform in [0, 1)
    torch.manual_seed(0)
    again = LF.gradient_penalty(critic, real, fake, interpolation=torch.rand(64, dtype=torch.float64))
    torch.testing.assert_close(first, again, rtol=0, atol=0)  # reproducible under a seed, the draw as written


def test_zero_gradient_is_finite():
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    y = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    scale = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    out = LF.gradient_penalty(lambda z: scale * z.sum(1), x, y, weight=2.0, target_norm=1.5)
    assert out.item() == 2.0 * 1.5**2
    grads = torch.autograd.grad(out, [x, y, scale], allow_unused=True)
    assert all(g is None or torch.isfinite(g).all() for g in grads)
    z = torch.randn(4, 3, requires_grad=True)
    r1 = LF.r1_penalty(scale.float() * z.sum(1), z)
    assert r1.item() == 0.0
    g_z, g_scale = torch.autograd.grad(r1, [z, scale], allow_unused=True)
    assert g_z is None and float(g_scale) == 0.0


def test_penalty_errors_name_function_and_argument():
    critic = _TanhCritic(3)
    x = torch.randn(4, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"gradient_penalty: fake must have the real's shape \(4, 3\); got \(5, 3\)"):
        lk.GradientPenalty()(critic, x, torch.randn(5, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"gradient_penalty: critic's output does not depend on the input"):
        LF.gradient_penalty(lambda z: torch.ones(len(z)), x, x)
    with pytest.raises(TypeError, match=r"gradient_penalty: critic must be a callable"):
        LF.gradient_penalty("critic", x, x)
    with pytest.raises(ValueError, match=r"r1_penalty: real_logits does not depend on the input"):
        xr = x.clone().requires_grad_(True)
        LF.r1_penalty(critic(x), xr)
    with pytest.raises(ValueError, match=r"r1_penalty: real_inputs must require grad"):
        LF.r1_penalty(critic(x), x)
    with pytest.raises(ValueError, match=r"GradientPenalty: weight must be in \[0, inf\); got -1"):
        lk.GradientPenalty(weight=-1)


def test_gradient_penalty_under_no_grad_and_in_half_precision():
    critic = _TanhCritic(3)
    real, fake = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    eps = torch.rand(4, dtype=torch.float64)
    expected = LF.gradient_penalty(critic, real, fake, interpolation=eps)
    with torch.no_grad():
        logged = LF.gradient_penalty(critic, real, fake, interpolation=eps)
    assert not logged.requires_grad
    torch.testing.assert_close(logged, expected.detach())
    # a bfloat16 critic gets bfloat16 interpolates; the penalty comes back float32
    lin = torch.nn.Linear(3, 1).to(torch.bfloat16)
    out = LF.gradient_penalty(lin, real.bfloat16(), fake.bfloat16())
    assert out.dtype == torch.float32
    w = lin.weight.detach().float()
    torch.testing.assert_close(out, 10 * (w.norm() - 1) ** 2, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# end to end: one WGAN-GP critic step, one non-saturating generator step
# ---------------------------------------------------------------------------------------------


def _nets(seed=0):
    torch.manual_seed(seed)
    gen = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    # no batch normalisation in the critic: the penalty reads per-sample gradients
    critic = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.LayerNorm(8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    return gen, critic.double()


def test_wgan_gp_critic_step_and_generator_step():
    gen, critic = _nets()
    real, z = torch.randn(16, 3, dtype=torch.float64), torch.randn(16, 2, dtype=torch.float64)
    eps = torch.rand(16, dtype=torch.float64)
    d_loss, gp = lk.get("discriminator", kind="wasserstein"), lk.get("wgan_gp")  # weight 10, target norm 1

    # critic step, as the README shows it
    fake = gen(z).detach()
    loss = d_loss(critic(real), critic(fake)) + gp(critic, real, fake, interpolation=eps)
    ours = torch.autograd.grad(loss, list(critic.parameters()), retain_graph=True)

    # the same step written out by hand (Gulrajani et al. 2017, algorithm 1)
    x_hat = (eps[:, None] * real + (1 - eps[:, None]) * fake).requires_grad_(True)
    (g,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    by_hand = critic(fake).mean() - critic(real).mean() + 10 * ((g.norm(dim=1) - 1) ** 2).mean()
    torch.testing.assert_close(loss, by_hand)
    for a, b in zip(ours, torch.autograd.grad(by_hand, list(critic.parameters()))):
        torch.testing.assert_close(a, b)

    # an optimiser step moves the critic; the generator got nothing (fake was detached)
    opt = torch.optim.SGD(critic.parameters(), lr=1e-2)
    before = [p.detach().clone() for p in critic.parameters()]
    opt.zero_grad()
    loss.backward()
    opt.step()
    # (every weight matrix moves; the last bias cancels in mean f − mean r and the penalty ignores it)
    assert all(not torch.equal(p, q) for p, q in zip(critic.parameters(), before) if p.dim() == 2)
    assert all(p.grad is None for p in gen.parameters())

    # generator step, non-saturating: −log σ(D(G(z)))
    g_loss = lk.GeneratorLoss()(critic(gen(z)))
    ours = torch.autograd.grad(g_loss, list(gen.parameters()))
    fake_scores = critic(gen(z)).squeeze(1)
    by_hand = F.binary_cross_entropy_with_logits(fake_scores, torch.ones_like(fake_scores))
    torch.testing.assert_close(g_loss, by_hand)
    for a, b in zip(ours, torch.autograd.grad(by_hand, list(gen.parameters()))):
        torch.testing.assert_close(a, b)


def test_r1_step_on_a_non_saturating_discriminator():
    gen, disc = _nets(1)
    real = torch.randn(8, 3, dtype=torch.float64).requires_grad_(True)
    fake = gen(torch.randn(8, 2, dtype=torch.float64)).detach()
    real_logits = disc(real)
    loss = lk.DiscriminatorLoss()(real_logits, disc(fake)) + lk.R1Penalty(gamma=5.0)(real_logits, real)
    (g,) = torch.autograd.grad(disc(real).sum(), real, create_graph=True)
    by_hand = F.softplus(-disc(real)).mean() + F.softplus(disc(fake)).mean() + 2.5 * g.square().sum(1).mean()
    torch.testing.assert_close(loss, by_hand)
    for a, b in zip(
        torch.autograd.grad(loss, list(disc.parameters())), torch.autograd.grad(by_hand, list(disc.parameters()))
    ):
        torch.testing.assert_close(a, b)


def test_registry_names_and_modules():
    assert lk.get_class("gan_discriminator") is lk.DiscriminatorLoss is lk.get_class("discriminator")
    assert lk.get_class("gan_generator") is lk.GeneratorLoss is lk.get_class("generator")
    assert lk.get_class("wgan_gp") is lk.GradientPenalty is lk.get_class("gradient_penalty")
    assert lk.get_class("r1_penalty") is lk.R1Penalty is lk.get_class("r1")
    assert lk.available(family="adversarial") == ["gan_discriminator", "gan_generator", "gradient_penalty", "r1"]
    for cls in (lk.GradientPenalty, lk.R1Penalty):
        assert list(cls().parameters()) == [] and cls().state_dict() == {}
    assert lk.GradientPenalty().get_config() == {"name": "gradient_penalty", "target_norm": 1.0, "weight": 10.0}
