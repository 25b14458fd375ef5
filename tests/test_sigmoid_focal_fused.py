"""The reduced sigmoid focal path (issue 17): the loss and its gradient block by block in the forward pass.

Checked against losskit's elementwise path (reduction "none", reduced here), which the battery checks
against the NumPy reference, and against torchvision's formula through autograd in float64.
"""

import pytest
import torch
import torch.nn.functional as F

import losskit.classification.focal as focal
import losskit.functional as LF

FUSED = "_SigmoidFocalReducedBackward"
SETTINGS = [(0.25, 2.0), (None, 2.0), (0.25, 0.5), (0.7, 0.0), (None, 1.0), (0.4, 3.0)]


@pytest.fixture
def fused_everywhere(monkeypatch):
    """The fused path for every size, in blocks of 7 elements (so that every test walks several blocks)."""
    monkeypatch.setattr(focal, "_REDUCED_MIN_ELEMENTS", 1)
    monkeypatch.setattr(focal, "_REDUCED_BLOCK", 7)


def _inputs(n=40, dtype=torch.float64, soft=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=g, dtype=dtype) * 4
    x[:2] = torch.tensor([30.0, -30.0], dtype=dtype)  # saturated logits: σ(-x) underflows towards 0
    t = torch.rand(n, generator=g, dtype=dtype)
    if not soft:
        t = (t > 0.5).to(dtype)
        t[:2] = torch.tensor([1.0, 0.0], dtype=dtype)  # the well-classified side of the saturated logits
    return x.requires_grad_(), t


def _torchvision_formula(x, t, alpha, gamma):
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * (1 - p_t) ** gamma
    return loss if alpha is None else (alpha * t + (1 - alpha) * (1 - t)) * loss


@pytest.mark.parametrize("alpha, gamma", SETTINGS)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("soft", [False, True], ids=["binary", "soft"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_fused_equals_the_elementwise_path(fused_everywhere, alpha, gamma, reduction, soft, dtype):
    """Value and gradient of the fused path equal the elementwise path's, reduced, to rounding."""
    x, t = _inputs(dtype=dtype, soft=soft)
    x2 = x.detach().clone().requires_grad_()
    loss = LF.sigmoid_focal_loss(x, t, alpha=alpha, gamma=gamma, reduction=reduction)
    assert type(loss.grad_fn).__name__ == FUSED, "the fused path was not taken"
    elementwise = LF.sigmoid_focal_loss(x2, t, alpha=alpha, gamma=gamma, reduction="none")
    assert type(elementwise.grad_fn).__name__ != FUSED
    expected = elementwise.mean() if reduction == "mean" else elementwise.sum()
    tol = {"rtol": 1e-5, "atol": 1e-7} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 1e-15}
    torch.testing.assert_close(loss, expected, **tol)
    loss.backward()
    expected.backward()
    torch.testing.assert_close(x.grad, x2.grad, **tol)


@pytest.mark.parametrize("alpha, gamma", SETTINGS)
def test_fused_gradient_is_torchvisions_formula_in_float64(fused_everywhere, alpha, gamma):
    """Against autograd through torchvision's formula, away from the saturated logits where the formula's
    (1 - p_t) cancels."""
    x, t = _inputs(soft=True)
    x, t = x.detach()[2:].requires_grad_(), t[2:]
    xr = x.detach().clone().requires_grad_()
    loss = LF.sigmoid_focal_loss(x, t, alpha=alpha, gamma=gamma)
    expected = _torchvision_formula(xr, t, alpha, gamma).mean()
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=0)
    loss.backward()
    expected.backward()
    torch.testing.assert_close(x.grad, xr.grad, rtol=1e-9, atol=1e-15)


def test_fused_scaled_kept_graph_double_backward_and_gradcheck(fused_everywhere):
    """A grad_output other than 1, a graph kept for a second backward (the saved gradient survives the
    first), create_graph (second derivatives of the analytic gradient), gradcheck and gradgradcheck."""
    x, t = _inputs(soft=True)
    x2 = x.detach().clone().requires_grad_()
    loss = 2.5 * LF.sigmoid_focal_loss(x, t)
    expected = 2.5 * LF.sigmoid_focal_loss(x2, t, reduction="none").mean()
    for _ in range(2):
        loss.backward(retain_graph=True)
        expected.backward(retain_graph=True)
    torch.testing.assert_close(x.grad, x2.grad, rtol=1e-12, atol=1e-15)
    (gx,) = torch.autograd.grad(LF.sigmoid_focal_loss(x, t), x, create_graph=True)
    (gx2,) = torch.autograd.grad(LF.sigmoid_focal_loss(x2, t, reduction="none").mean(), x2, create_graph=True)
    torch.testing.assert_close(gx, gx2, rtol=1e-12, atol=1e-15)
    v = torch.linspace(-1.0, 1.0, x.numel(), dtype=torch.float64)
    (second,) = torch.autograd.grad((gx * v).sum(), x)
    (expected_second,) = torch.autograd.grad((gx2 * v).sum(), x2)
    torch.testing.assert_close(second, expected_second, rtol=1e-10, atol=1e-14)
    xs = x.detach()[2:12].requires_grad_()
    assert torch.autograd.gradcheck(lambda a: LF.sigmoid_focal_loss(a, t[2:12], reduction="sum"), (xs,))
    assert torch.autograd.gradgradcheck(lambda a: LF.sigmoid_focal_loss(a, t[2:12], reduction="sum"), (xs,))


def test_infinite_logits_leave_the_fused_path_for_the_limits(fused_everywhere):
    """±inf logits make the fused sum non-finite: the careful elementwise path gives the limits, as without it."""
    x, t = _inputs()
    with torch.no_grad():
        x[5], x[6] = float("inf"), float("-inf")
        t[5], t[6] = 1.0, 0.0  # the infinities on their targets' side: loss 0 there, gradient 0
    x2 = x.detach().clone().requires_grad_()
    loss = LF.sigmoid_focal_loss(x, t)
    expected = LF.sigmoid_focal_loss(x2, t, reduction="none").mean()
    assert torch.isfinite(loss)
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=0)
    loss.backward()
    expected.backward()
    assert torch.isfinite(x.grad).all()
    torch.testing.assert_close(x.grad, x2.grad, rtol=1e-12, atol=1e-15)


def test_the_fused_path_is_taken_only_where_it_applies(fused_everywhere):
    """'none', sample weights, a target that needs a gradient, non-contiguous inputs and inference take the
    elementwise path."""
    x, t = _inputs()
    plain = [
        LF.sigmoid_focal_loss(x, t, reduction="none"),
        LF.sigmoid_focal_loss(x, t, sample_weight=torch.ones(40, dtype=torch.float64)),
        LF.sigmoid_focal_loss(x, t.clone().requires_grad_()),
        LF.sigmoid_focal_loss(x.view(1, 40).expand(2, 40).t(), t.view(1, 40).expand(2, 40).t()),
    ]
    assert all(type(p.grad_fn).__name__ != FUSED for p in plain)
    with torch.no_grad():
        assert LF.sigmoid_focal_loss(x, t).grad_fn is None


def test_default_threshold_and_half_precision():
    """At the default threshold and block size the fused path runs on large inputs (several blocks: 2^17 + 5
    elements), not on small ones; float16 logits compute in float32 with a float16 gradient."""
    x, t = _inputs(n=2**17 + 5, dtype=torch.float32, seed=1)
    x2 = x.detach().clone().requires_grad_()
    loss = LF.sigmoid_focal_loss(x, t)
    assert type(loss.grad_fn).__name__ == FUSED
    expected = LF.sigmoid_focal_loss(x2, t, reduction="none").mean()
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=0)
    loss.backward()
    expected.backward()
    torch.testing.assert_close(x.grad, x2.grad, rtol=1e-5, atol=1e-12)
    small, st = _inputs(n=100, dtype=torch.float32)
    assert type(LF.sigmoid_focal_loss(small, st).grad_fn).__name__ != FUSED
    xh = x.detach()[: 2**16].half().requires_grad_()
    LF.sigmoid_focal_loss(xh, t[: 2**16].half()).backward()
    xf = xh.detach().float().requires_grad_()
    LF.sigmoid_focal_loss(xf, t[: 2**16]).backward()
    assert xh.grad.dtype == torch.float16
    torch.testing.assert_close(xh.grad, xf.grad.half(), rtol=1e-3, atol=1e-7)
