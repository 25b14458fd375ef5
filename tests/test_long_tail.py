"""Long-tail and noisy-label losses: the identities and properties the battery's reference comparison does not show.

logit adjustment (tau = 0 is cross-entropy, counts and their prior agree, the balanced posterior is its
stationary point), LDAM (the margins read back from the loss, the authors' DRW form against torch),
symmetric cross-entropy (its closed form, the bounded reverse term, accuracy as p_y -> 1, the authors'
clamping convention), class_balanced_weights, the modules' buffers and the rule between hyperparameters.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import losskit as lk
import losskit.functional as LF

from .reference import long_tail as ref

COUNTS = torch.tensor([500, 120, 40, 9, 2])


def _logits(shape, seed=0, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g, dtype=torch.float64) * scale).requires_grad_()


def _targets(n, c, seed=1):
    return torch.randint(0, c, (n,), generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------------------------------
# logit adjustment
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [{}, {"label_smoothing": 0.2}, {"ignore_index": 1}, {"weight": True}, {"reduction": "none"}],
    ids=lambda o: ",".join(sorted(o)) or "plain",
)
def test_logit_adjusted_tau_zero_is_cross_entropy(options):
    x, y = _logits((7, 5)), _targets(7, 5)
    kw = dict(options)
    if kw.pop("weight", False):
        kw["weight"] = torch.rand(5, dtype=torch.float64) + 0.5
    got = LF.logit_adjusted_cross_entropy(x, y, class_counts=COUNTS, tau=0.0, **kw)
    torch.testing.assert_close(got, LF.cross_entropy(x, y, **kw), rtol=0, atol=0)


@pytest.mark.parametrize("tau", [0.5, 1.0, 2.0])
def test_logit_adjusted_is_cross_entropy_of_shifted_logits(tau):
    x, y = _logits((6, 5, 3)), torch.randint(0, 5, (6, 3), generator=torch.Generator().manual_seed(3))
    prior = COUNTS.double() / COUNTS.sum()
    got = LF.logit_adjusted_cross_entropy(x, y, class_counts=COUNTS, tau=tau, reduction="none")
    expected = F.cross_entropy(x + tau * prior.log().view(1, 5, 1), y, reduction="none")
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    (g1,) = torch.autograd.grad(got.sum(), x)
    (g2,) = torch.autograd.grad(expected.sum(), x)
    torch.testing.assert_close(g1, g2, rtol=1e-12, atol=1e-12)


def test_logit_adjusted_counts_prior_and_unnormalised_prior_agree():
    x, y = _logits((8, 5)), _targets(8, 5)
    by_counts = LF.logit_adjusted_cross_entropy(x, y, class_counts=COUNTS)
    by_prior = LF.logit_adjusted_cross_entropy(x, y, class_prior=COUNTS.double() / COUNTS.sum())
    by_scaled = LF.logit_adjusted_cross_entropy(x, y, class_prior=COUNTS.double() * 7.5)
    torch.testing.assert_close(by_prior, by_counts, rtol=1e-12, atol=0)
    torch.testing.assert_close(by_scaled, by_counts, rtol=1e-12, atol=0)


def test_balanced_softmax_alias_is_logit_adjustment_at_tau_one():
    assert lk.get_class("balanced_softmax") is lk.LogitAdjustedCrossEntropyLoss
    x, y = _logits((8, 5)), _targets(8, 5)
    torch.testing.assert_close(
        lk.get("balanced_softmax", class_counts=COUNTS)(x, y),
        LF.logit_adjusted_cross_entropy(x, y, class_counts=COUNTS, tau=1.0),
        rtol=0,
        atol=0,
    )


def test_logit_adjusted_balanced_logits_are_stationary_on_the_training_distribution():
    """Menon et al.'s point: on data with the training frequencies, the loss is minimal where the logits
    themselves are uniform (the balanced posterior), while plain cross-entropy pushes them towards the prior."""
    counts = torch.tensor([60, 25, 10, 5])
    y = torch.repeat_interleave(torch.arange(4), counts)  # exactly the training frequencies
    x = torch.zeros(len(y), 4, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(LF.logit_adjusted_cross_entropy(x, y, class_counts=counts), x)
    torch.testing.assert_close(grad.sum(0), torch.zeros(4, dtype=torch.float64), rtol=0, atol=1e-15)
    (grad_ce,) = torch.autograd.grad(LF.cross_entropy(x, y), x)
    assert grad_ce.sum(0)[0] < -0.1  # cross-entropy raises the frequent class's logit


def test_logit_adjusted_probability_targets_and_sample_weight():
    x = _logits((6, 5))
    t = torch.softmax(torch.randn(6, 5, dtype=torch.float64), 1)
    sw = torch.rand(6, dtype=torch.float64) + 0.1
    got = LF.logit_adjusted_cross_entropy(x, t, class_counts=COUNTS, tau=1.5, sample_weight=sw)
    expected = ref.logit_adjusted(
        x.detach().numpy(), t.numpy(), class_counts=COUNTS.numpy(), tau=1.5, sample_weight=sw.numpy()
    )
    np.testing.assert_allclose(got.item(), expected, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# LDAM
# ---------------------------------------------------------------------------------------------


def test_ldam_margins_read_back_from_the_loss():
    """At zero logits, loss(class c) = log((C - 1) + e^{-s m_c}) + s m_c: solve for m_c and compare with the paper."""
    c, s = len(COUNTS), 2.0
    x = torch.zeros(c, c, dtype=torch.float64)
    losses = LF.ldam_loss(x, torch.arange(c), class_counts=COUNTS, scale=s, max_margin=0.7, reduction="none")
    margins = []
    for value in losses.tolist():
        lo, hi = 0.0, 10.0  # the loss is increasing in m: bisection
        for _ in range(200):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if math.log((c - 1) + math.exp(-s * mid)) + s * mid < value else (lo, mid)
        margins.append(lo)
    n = COUNTS.double()
    expected = 0.7 * (n.min() / n) ** 0.25
    np.testing.assert_allclose(margins, expected.numpy(), rtol=1e-9, atol=1e-12)
    assert margins[-1] == pytest.approx(0.7)  # the rarest class gets max_margin
    assert all(a < b for a, b in zip(margins, margins[1:]))  # rarer classes, larger margins


def test_ldam_zero_margin_is_scaled_cross_entropy():
    x, y = _logits((9, 5)), _targets(9, 5)
    w = torch.rand(5, dtype=torch.float64) + 0.5
    got = LF.ldam_loss(x, y, class_counts=COUNTS, max_margin=0.0, scale=4.0, weight=w)
    torch.testing.assert_close(got, F.cross_entropy(4.0 * x, y, weight=w), rtol=1e-14, atol=0)


def test_ldam_drw_stage_matches_the_authors_formulation_in_torch():
    """The authors' LDAMLoss (written here from their description): margins 1/n^(1/4) scaled to max_m on the
    target logit, then F.cross_entropy(s * logits, weight=per_cls_weights); DRW's weights are class-balanced."""
    x, y = torch.tanh(_logits((16, 5))).detach().requires_grad_(), _targets(16, 5)
    drw = lk.class_balanced_weights(COUNTS, beta=0.9999).double()
    m_list = 1.0 / COUNTS.double().sqrt().sqrt()
    m_list = m_list * (0.5 / m_list.max())
    shifted = torch.where(F.one_hot(y, 5).bool(), x - m_list[y].unsqueeze(1), x)
    expected = F.cross_entropy(30.0 * shifted, y, weight=drw)
    got = lk.LDAMLoss(COUNTS, weight=drw)(x, y)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)
    (g1,) = torch.autograd.grad(got, x)
    (g2,) = torch.autograd.grad(expected, x)
    torch.testing.assert_close(g1, g2, rtol=1e-12, atol=1e-14)


def test_ldam_ignored_targets_do_not_shift_any_logit():
    x, y = _logits((6, 5, 4)), torch.randint(0, 5, (6, 4), generator=torch.Generator().manual_seed(5))
    y[:, 0] = -100
    full = LF.ldam_loss(x, y, class_counts=COUNTS, reduction="none")
    assert torch.all(full[:, 0] == 0)
    kept = LF.ldam_loss(x[:, :, 1:], y[:, 1:], class_counts=COUNTS, reduction="none")
    torch.testing.assert_close(full[:, 1:], kept, rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------
# symmetric cross-entropy
# ---------------------------------------------------------------------------------------------


def test_sce_closed_form_and_its_two_ends():
    x, y = _logits((10, 4)), _targets(10, 4)
    p_y = torch.softmax(x, 1).gather(1, y[:, None]).squeeze(1)
    got = LF.symmetric_cross_entropy(x, y, alpha=0.3, beta=0.7, log_zero=-4.0, reduction="none")
    expected = 0.3 * F.cross_entropy(x, y, reduction="none") + 0.7 * 4.0 * (1 - p_y)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-14)
    ce_only = LF.symmetric_cross_entropy(x, y, alpha=1.0, beta=0.0)
    torch.testing.assert_close(ce_only, F.cross_entropy(x, y), rtol=1e-14, atol=0)


def test_sce_reverse_term_is_bounded_by_minus_log_zero():
    x = torch.tensor([[-1e4, 1e4, 0.0], [0.0, 0.0, 0.0], [50.0, -50.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([0, 0, 0])
    rce = LF.symmetric_cross_entropy(x, y, alpha=0.0, beta=1.0, log_zero=-4.0, reduction="none")
    torch.testing.assert_close(rce, torch.tensor([4.0, 4.0 * 2 / 3, 4.0 * 2 * math.exp(-50.0)], dtype=torch.float64))
    assert float(rce.max()) <= 4.0


def test_sce_stays_accurate_as_the_true_class_probability_reaches_one():
    """1 - p_y summed from the other classes: exact where a difference 1 - p_y would round to 0."""
    x = torch.tensor([[40.0, 0.0, 0.0]], dtype=torch.float64)
    rce = LF.symmetric_cross_entropy(x, torch.tensor([0]), alpha=0.0, beta=1.0, log_zero=-4.0)
    assert float(rce) == pytest.approx(4.0 * 2 * math.exp(-40.0), rel=1e-12)
    assert 1.0 - float(torch.softmax(x, 1)[0, 0]) == 0.0  # what the naive form would see


def test_sce_with_the_authors_clamping_constant():
    """The authors' code: CE + RCE with q clamped to [1e-4, 1] and p to [1e-7, 1]: log_zero = log(1e-4),
    the same wherever no probability falls below 1e-7 (written here from their description)."""
    x, y = _logits((12, 5), scale=1.0), _targets(12, 5)
    p = torch.softmax(x, 1)
    assert float(p.min()) > 1e-7
    q = F.one_hot(y, 5).double().clamp(1e-4, 1.0)
    authors = 0.1 * F.cross_entropy(x, y) + 1.0 * (-(p.clamp(1e-7, 1.0) * q.log()).sum(1)).mean()
    got = LF.symmetric_cross_entropy(x, y, alpha=0.1, beta=1.0, log_zero=math.log(1e-4))
    torch.testing.assert_close(got, authors, rtol=1e-12, atol=0)


# ---------------------------------------------------------------------------------------------
# class_balanced_weights
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [0.0, 0.9, 0.99, 0.999, 0.9999])
def test_class_balanced_weights_against_reference(beta):
    counts = torch.tensor([5000, 1200, 300, 40, 7, 1])
    got = lk.class_balanced_weights(counts, beta=beta)
    assert got.dtype == torch.get_default_dtype() and got.shape == (6,)
    np.testing.assert_allclose(got.double().numpy(), ref.class_balanced_weights(counts.numpy(), beta), rtol=1e-6)
    assert float(got.sum()) == pytest.approx(6.0, rel=1e-6)
    exact = lk.class_balanced_weights(counts.double(), beta=beta)
    assert exact.dtype == torch.float64
    np.testing.assert_allclose(exact.numpy(), ref.class_balanced_weights(counts.numpy(), beta), rtol=1e-13)


def test_class_balanced_weights_limits():
    counts = torch.tensor([1000.0, 100.0, 10.0], dtype=torch.float64)
    torch.testing.assert_close(lk.class_balanced_weights(counts, beta=0.0), torch.ones(3, dtype=torch.float64))
    inverse = (1 / counts) / (1 / counts).sum() * 3
    torch.testing.assert_close(lk.class_balanced_weights(counts, beta=1 - 1e-12), inverse, rtol=1e-6, atol=0)
    # a count of 1 has effective number 1 whatever beta: its weight is exact near beta = 1 (no 1 - beta^n cancellation)
    w = lk.class_balanced_weights(torch.tensor([1.0, 1.0], dtype=torch.float64), beta=1 - 1e-15)
    torch.testing.assert_close(w, torch.ones(2, dtype=torch.float64), rtol=1e-15, atol=0)


def test_class_balanced_weights_inputs():
    from_list = lk.class_balanced_weights([100, 10, 1], beta=0.99)
    torch.testing.assert_close(from_list, lk.class_balanced_weights(torch.tensor([100, 10, 1]), beta=0.99))
    assert "class_balanced_weights" in dir(lk)
    x, y = _logits((6, 3)), _targets(6, 3)
    LF.softmax_focal_loss(x, y, weight=lk.class_balanced_weights(torch.tensor([100, 10, 1])).double()).backward()


@pytest.mark.parametrize(
    "args,exc,match",
    [
        (([10, 0, 3],), ValueError, r"class_balanced_weights: class_counts must be positive .*; got 0.0 for class 1"),
        ((torch.tensor([10, -1]),), ValueError, r"got -1 for class 1"),
        ((torch.ones(2, 2),), ValueError, r"class_counts must be a 1-D tensor"),
        ((torch.tensor([True, True]),), TypeError, r"class_counts must be a real tensor"),
        ((["a", 3],), TypeError, r"class_counts must be a 1-D tensor or a sequence of numbers"),
        ((None,), TypeError, r"class_counts must be a 1-D tensor or a sequence of numbers; got NoneType"),
        ((torch.tensor([10, 3]), 1.0), ValueError, r"beta must be in \[0, 1\); got 1.0"),
        ((torch.tensor([10, 3]), -0.1), ValueError, r"beta must be in \[0, 1\)"),
        ((torch.tensor([10, 3]), float("nan")), ValueError, r"beta must be a finite number"),
    ],
)
def test_class_balanced_weights_errors(args, exc, match):
    with pytest.raises(exc, match=match):
        lk.class_balanced_weights(*args)


# ---------------------------------------------------------------------------------------------
# modules and the rule between hyperparameters
# ---------------------------------------------------------------------------------------------


def test_modules_keep_counts_and_prior_as_buffers():
    module = lk.LDAMLoss(COUNTS)  # torch-style: the counts positionally, like the authors' LDAMLoss(cls_num_list)
    assert "class_counts" in module.state_dict() and module.class_counts.dtype == torch.long
    prior = lk.LogitAdjustedCrossEntropyLoss(class_prior=torch.tensor([0.7, 0.2, 0.1]))
    assert prior.class_counts is None and set(prior.state_dict()) == {"class_prior"}
    assert prior.to(torch.float64).class_prior.dtype == torch.float64
    from_list = lk.LogitAdjustedCrossEntropyLoss([30, 5, 1], tau=0.5)
    x, y = _logits((4, 3)), _targets(4, 3)
    torch.testing.assert_close(
        from_list(x, y), LF.logit_adjusted_cross_entropy(x, y, class_counts=torch.tensor([30, 5, 1]), tau=0.5)
    )
    rebuilt = lk.from_config(module.get_config())
    assert rebuilt.class_counts.dtype == torch.long and torch.equal(rebuilt.class_counts, COUNTS)


@pytest.mark.parametrize(
    "build,match",
    [
        (
            lambda: lk.LogitAdjustedCrossEntropyLoss(),
            r"LogitAdjustedCrossEntropyLoss: give exactly one .*; got neither",
        ),
        (
            lambda: lk.get("logit_adjusted", class_counts=COUNTS, class_prior=COUNTS / 671.0),
            r"LogitAdjustedCrossEntropyLoss: give exactly one .*; got both",
        ),
        (lambda: lk.LDAMLoss(), r"LDAMLoss: class_counts is required"),
        (
            lambda: LF.logit_adjusted_cross_entropy(torch.randn(2, 5), torch.tensor([0, 1])),
            r"logit_adjusted_cross_entropy: give exactly one .*; got neither",
        ),
        (lambda: LF.ldam_loss(torch.randn(2, 5), torch.tensor([0, 1])), r"ldam_loss: class_counts is required"),
    ],
)
def test_the_rule_between_hyperparameters(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_every_long_tail_loss_is_listed_and_trains_a_linear_model():
    assert {"logit_adjusted", "ldam", "symmetric_cross_entropy"} <= set(lk.available(family="classification"))
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    for crit in (
        lk.get("logit_adjusted", class_counts=[50, 10, 2]),
        lk.get("ldam", class_counts=[50, 10, 2]),
        lk.get("sce"),
    ):
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        before = float(crit(model(x), y))
        for _ in range(20):
            opt.zero_grad()
            crit(model(x), y).backward()
            opt.step()
        assert float(crit(model(x), y)) < before, crit
