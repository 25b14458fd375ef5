"""Distribution family: torch parity (kl_div, poisson_nll, gaussian_nll), SciPy for js_div, Keras, properties."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import jensenshannon

import losskit as lk
import losskit.functional as LF

from .parity import REDUCTIONS, SHAPES, assert_same_value_and_grad, keras, keras_value

KL_REDUCTIONS = REDUCTIONS + ("batchmean",)


def _logp(shape, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    if x.dim() == 0:
        return torch.rand((), generator=g, dtype=torch.float64).clamp_min(0.05).log()
    return torch.log_softmax(x, dim=1 if x.dim() > 1 else 0)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", KL_REDUCTIONS)
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_torch_parity(shape, reduction, log_target):
    x = _logp(shape, 0).requires_grad_()
    t = _logp(shape, 1)
    t = (t if log_target else t.exp()).requires_grad_()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about reduction="mean"
        assert_same_value_and_grad(
            lambda a, b: LF.kl_div(a, b, reduction=reduction, log_target=log_target),
            lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target),
            [x, t],
        )


def test_kl_div_zero_targets_finite_where_torch_is_nan():
    x = torch.log_softmax(torch.randn(4, 5, dtype=torch.float64), 1).requires_grad_()
    t = torch.softmax(torch.randn(4, 5, dtype=torch.float64), 1)
    t[:, :2] = 0
    t = (t / t.sum(1, keepdim=True)).requires_grad_()
    loss = LF.kl_div(x, t, reduction="batchmean")
    torch.testing.assert_close(loss, F.kl_div(x, t, reduction="batchmean"))
    loss.backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(t.grad).all()
    torch.testing.assert_close(x.grad, -t.detach() / 4)
    # log-space targets of -inf (zero probability) are fine too
    lt = torch.log(t.detach())
    assert torch.isfinite(LF.kl_div(x, lt, log_target=True, reduction="sum"))


@pytest.mark.parametrize("reduction", ["mean", "sum", "batchmean", "none"])
def test_kl_div_masked_class_is_zero_on_the_fused_path(reduction):
    """A -inf log-probability under a zero target (a masked class) contributes 0 — also through torch's
    kernel, which the functional runs when the target needs no gradient, and which gives 0 · (-inf) = NaN."""
    logits = torch.tensor([[2.0, -math.inf, 0.5], [0.1, 0.2, -math.inf]], dtype=torch.float64)
    x = torch.log_softmax(logits, 1).requires_grad_()
    t = torch.tensor([[0.7, 0.0, 0.3], [0.4, 0.6, 0.0]], dtype=torch.float64)
    assert torch.isnan(F.kl_div(x, t, reduction="sum")), "torch's kernel no longer gives NaN: simplify"
    loss = LF.kl_div(x, t, reduction=reduction)
    finite = torch.where(t == 0, torch.zeros_like(t), t * (t.log() - x.detach()))
    expected = {"mean": finite.mean(), "sum": finite.sum(), "batchmean": finite.sum() / 2, "none": finite}[reduction]
    torch.testing.assert_close(loss.detach(), expected)
    loss.sum().backward()
    scale = {"mean": 1 / 6, "sum": 1.0, "batchmean": 0.5, "none": 1.0}[reduction]
    torch.testing.assert_close(x.grad, -t * scale)


def test_kl_div_module_equals_torch_module():
    x, t = _logp((6, 4), 2).requires_grad_(), _logp((6, 4), 3).exp()
    assert_same_value_and_grad(lk.KLDivLoss(reduction="batchmean"), torch.nn.KLDivLoss(reduction="batchmean"), [x, t])


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input,full", [(True, False), (True, True), (False, False), (False, True)])
def test_poisson_nll_torch_parity(shape, reduction, log_input, full):
    g = torch.Generator().manual_seed(5)
    x = (
        torch.randn(shape, generator=g, dtype=torch.float64)
        if log_input
        else torch.rand(shape, generator=g, dtype=torch.float64) * 3 + 0.1
    ).requires_grad_()
    y = torch.poisson(torch.full(shape, 2.5, dtype=torch.float64), generator=g)
    assert_same_value_and_grad(
        lambda a, b: LF.poisson_nll_loss(a, b, log_input=log_input, full=full, reduction=reduction),
        lambda a, b: F.poisson_nll_loss(a, b, log_input=log_input, full=full, reduction=reduction),
        [x, y],
    )


@pytest.mark.parametrize(
    "shape,var_shape",
    [
        ((), ()),
        ((7,), (7,)),
        ((5, 4), (5, 4)),
        ((5, 4), (5, 1)),
        ((5, 4), (5,)),
        ((2, 3, 4, 5), (2, 3, 4, 5)),
        ((2, 3, 4, 5), (2, 3, 4, 1)),
        ((2, 3, 4, 5), (2, 1, 4, 5)),
    ],
    ids=str,
)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll_torch_parity(shape, var_shape, reduction, full):
    g = torch.Generator().manual_seed(7)
    x = torch.randn(shape, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(shape, generator=g, dtype=torch.float64, requires_grad=True)
    v = torch.rand(var_shape, generator=g, dtype=torch.float64) + 0.1
    v[(0,) * v.dim()] = 1e-9  # below eps: clamped in value, straight-through in gradient, as torch does
    v.requires_grad_()
    assert_same_value_and_grad(
        lambda a, b, c: LF.gaussian_nll_loss(a, b, c, full=full, reduction=reduction),
        lambda a, b, c: F.gaussian_nll_loss(a, b, c, full=full, reduction=reduction),
        [x, y, v],
    )


def test_gaussian_nll_float_var_and_negative_var():
    x, y = torch.randn(5, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    torch.testing.assert_close(
        LF.gaussian_nll_loss(x, y, 0.5), F.gaussian_nll_loss(x, y, torch.full((5,), 0.5, dtype=torch.float64))
    )
    with pytest.raises(ValueError, match="var must be non-negative"):
        LF.gaussian_nll_loss(x, y, torch.tensor([1.0, 1, 1, 1, -0.1], dtype=torch.float64))
    with pytest.raises(ValueError, match="var must be in"):
        LF.gaussian_nll_loss(x, y, -1.0)


def test_js_div_matches_scipy_and_is_symmetric():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(6), size=8)
    q = rng.dirichlet(np.ones(6), size=8)
    q[0, :3] = 0
    q[0] /= q[0].sum()
    expected = jensenshannon(p, q, axis=1) ** 2
    pt, qt = torch.from_numpy(p), torch.from_numpy(q)
    per_row = LF.js_div(pt.log(), qt, reduction="none").sum(1)
    torch.testing.assert_close(per_row, torch.from_numpy(expected), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(
        LF.js_div(pt.log(), qt, reduction="batchmean"), torch.tensor(expected.mean(), dtype=torch.float64)
    )
    torch.testing.assert_close(LF.js_div(pt.log(), qt, reduction="sum"), LF.js_div(qt.log(), pt, reduction="sum"))
    # logits in, log-target: the same number
    torch.testing.assert_close(
        LF.js_div(pt.log() + 3.0, qt.log() - 1.0, from_logits=True, log_target=True, reduction="batchmean"),
        torch.tensor(expected.mean(), dtype=torch.float64),
    )


def test_js_div_bounded_by_log2_with_finite_grads_on_disjoint_support():
    x = torch.log_softmax(torch.tensor([[1e4, 0.0, -1e4]], dtype=torch.float64), 1).requires_grad_()
    t = torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64, requires_grad=True)
    loss = LF.js_div(x, t, reduction="batchmean")
    torch.testing.assert_close(loss, torch.tensor(np.log(2.0), dtype=torch.float64))
    loss.backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(t.grad).all()


# rows of positive masses (some tiny, some exactly 0 after normalisation's rounding), drawn by hypothesis itself
_masses = st.integers(2, 8).flatmap(
    lambda c: arrays(np.float64, (3, c), elements=st.one_of(st.just(0.0), st.floats(1e-6, 1e3, allow_nan=False)))
)


@settings(max_examples=50, deadline=None)
@given(_masses, _masses)
def test_properties_divergences(p_mass, q_mass):
    if p_mass.shape != q_mass.shape:
        q_mass = np.resize(q_mass, p_mass.shape)
    p_mass, q_mass = p_mass.copy(), q_mass.copy()
    p_mass[:, 0] += 1.0  # every row has some mass; the other entries may be exactly 0
    q_mass[:, -1] += 1.0
    p = torch.from_numpy(p_mass / p_mass.sum(1, keepdims=True)).clamp_min(1e-300)
    q = torch.from_numpy(q_mass / q_mass.sum(1, keepdims=True)).clamp_min(1e-300)
    expected_js = np.square(jensenshannon(p.numpy(), q.numpy(), axis=1))
    np.testing.assert_allclose(
        LF.js_div(p.log(), q, reduction="none").sum(1).numpy(), expected_js, rtol=1e-6, atol=1e-9
    )
    assert LF.kl_div(p.log(), q, reduction="none").sum(1).min() >= -1e-12  # Gibbs' inequality
    js = LF.js_div(p.log(), q, reduction="none")
    assert js.min() >= 0 and js.sum(1).max() <= np.log(2) + 1e-12
    assert LF.kl_div(p.log(), p, reduction="sum").abs() < 1e-12
    assert LF.js_div(p.log(), p, reduction="sum").abs() < 1e-12


def test_keras_parity_kl_and_poisson():
    k = keras()
    rng = np.random.default_rng(3)
    y_true = torch.from_numpy(rng.dirichlet(np.ones(5), size=4))
    y_pred = torch.from_numpy(rng.dirichlet(np.ones(5), size=4))
    expected = keras_value(k.losses.kl_divergence, y_true, y_pred)
    torch.testing.assert_close(
        LF.kl_div(y_pred.log(), y_true, reduction="none").sum(-1), expected, rtol=1e-5, atol=1e-5
    )
    counts = torch.from_numpy(rng.poisson(3.0, size=(4, 5)).astype(np.float64))
    rates = torch.from_numpy(rng.uniform(0.5, 4.0, size=(4, 5)))
    expected = keras_value(k.losses.poisson, counts, rates)
    ours = LF.poisson_nll_loss(rates, counts, log_input=False, eps=1e-7, reduction="none").mean(-1)
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)
