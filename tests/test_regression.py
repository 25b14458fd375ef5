"""Regression family: torch and Keras parity, the edges the foundation issue names, and properties."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import losskit as lk
import losskit.functional as LF

from .parity import REDUCTIONS, SHAPES, assert_same_value_and_grad, keras, keras_value


def _pair(shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(shape, generator=g, dtype=torch.float64, requires_grad=True)
    return x, y


TORCH_TWINS = [
    ("l1_loss", {}, {}),
    ("mse_loss", {}, {}),
    ("smooth_l1_loss", {"beta": 1.0}, {"beta": 1.0}),
    ("smooth_l1_loss", {"beta": 0.0}, {"beta": 0.0}),
    ("smooth_l1_loss", {"beta": 0.3}, {"beta": 0.3}),
    ("huber_loss", {"delta": 1.0}, {"delta": 1.0}),
    ("huber_loss", {"delta": 0.4}, {"delta": 0.4}),
]


@pytest.mark.parametrize("name,ours_kw,torch_kw", TORCH_TWINS, ids=lambda v: str(v))
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_torch_parity(name, ours_kw, torch_kw, shape, reduction):
    x, y = _pair(shape)
    assert_same_value_and_grad(
        lambda a, b: getattr(LF, name)(a, b, reduction=reduction, **ours_kw),
        lambda a, b: getattr(F, name)(a, b, reduction=reduction, **torch_kw),
        [x, y],
    )


@pytest.mark.parametrize(
    "ours,theirs,kw",
    [
        (lk.L1Loss, torch.nn.L1Loss, {}),
        (lk.MSELoss, torch.nn.MSELoss, {"reduction": "sum"}),
        (lk.SmoothL1Loss, torch.nn.SmoothL1Loss, {"beta": 0.5}),
        (lk.HuberLoss, torch.nn.HuberLoss, {"delta": 2.0, "reduction": "none"}),
    ],
)
def test_modules_equal_torch_modules(ours, theirs, kw):
    x, y = _pair((6, 3), seed=1)
    assert_same_value_and_grad(ours(**kw), theirs(**kw), [x, y])


def test_mse_refuses_the_classic_broadcast():
    with pytest.raises(ValueError, match=r"mse_loss: target must have the input's shape \(8, 1\); got \(8,\)"):
        LF.mse_loss(torch.randn(8, 1), torch.randn(8))
    with pytest.raises(ValueError, match=r"\(8, 1\).*\(8,\)"):
        lk.MSELoss()(torch.randn(8, 1), torch.randn(8))


@pytest.mark.parametrize(
    "name",
    [
        "l1_loss",
        "mse_loss",
        "rmse_loss",
        "smooth_l1_loss",
        "huber_loss",
        "log_cosh_loss",
        "mape_loss",
        "msle_loss",
        "quantile_loss",
    ],
)
def test_every_regression_loss_refuses_shape_mismatch(name):
    with pytest.raises(ValueError, match=r"\(8, 1\).*\(8,\)"):
        getattr(LF, name)(torch.rand(8, 1) + 0.5, torch.rand(8) + 0.5)


def test_log_cosh_exact_at_large_residuals():
    x = torch.tensor([1e4, -1e4], dtype=torch.float64, requires_grad=True)
    loss = LF.log_cosh_loss(x, torch.zeros(2, dtype=torch.float64), reduction="none")
    torch.testing.assert_close(loss, torch.full((2,), 1e4 - math.log(2), dtype=torch.float64), rtol=0, atol=1e-9)
    loss.sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([1.0, -1.0], dtype=torch.float64))
    x32 = torch.tensor([1e4, -1e4], requires_grad=True)
    out = LF.log_cosh_loss(x32, torch.zeros(2))
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(x32.grad).all()


def test_log_cosh_gradient_is_tanh():
    """Against NumPy (independent of the implementation's own torch.tanh backward) and central differences."""
    grid = np.linspace(-30, 30, 61)
    x = torch.tensor(grid, requires_grad=True)
    LF.log_cosh_loss(x, torch.zeros_like(x), reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), np.tanh(grid), rtol=1e-12, atol=1e-15)
    h = 1e-6
    log_cosh = lambda r: np.logaddexp(r, -r) - np.log(2.0)
    np.testing.assert_allclose(
        x.grad.numpy(), (log_cosh(grid + h) - log_cosh(grid - h)) / (2 * h), rtol=1e-6, atol=1e-8
    )


def test_rmse_finite_gradient_at_zero_residual():
    x = torch.zeros(5, requires_grad=True)
    loss = LF.rmse_loss(x, torch.zeros(5))
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(x.grad, torch.zeros(5))
    x = torch.zeros(5, requires_grad=True)
    LF.rmse_loss(x, torch.zeros(5), eps=1e-8).backward()
    assert torch.isfinite(x.grad).all()


def test_rmse_is_sqrt_of_mse():
    x, y = _pair((10, 3))
    torch.testing.assert_close(LF.rmse_loss(x, y), F.mse_loss(x, y).sqrt())
    torch.testing.assert_close(LF.rmse_loss(x, y, reduction="sum"), (x - y).norm())


def test_smooth_l1_beta_zero_is_l1_with_finite_grads():
    x, y = _pair((50,), seed=3)
    with torch.no_grad():
        x[:5] = y[:5]  # zero residuals too
    a = LF.smooth_l1_loss(x, y, beta=0.0)
    a.backward()
    gx = x.grad.clone()
    x.grad = None
    torch.testing.assert_close(a, LF.l1_loss(x, y))
    assert torch.isfinite(gx).all()


def test_quantile_multi_equals_stacked_scalars():
    x = torch.randn(20, 3, dtype=torch.float64)
    y = torch.randn(20, dtype=torch.float64)
    qs = [0.1, 0.5, 0.9]
    multi = LF.quantile_loss(x, y, quantile=torch.tensor(qs, dtype=torch.float64), reduction="none")
    for j, q in enumerate(qs):
        torch.testing.assert_close(multi[:, j], LF.quantile_loss(x[:, j], y, quantile=q, reduction="none"))


def test_quantile_half_is_half_l1():
    x, y = _pair((30,))
    torch.testing.assert_close(LF.quantile_loss(x, y, quantile=0.5), 0.5 * LF.l1_loss(x, y))


def test_sample_weight_is_a_weighted_mean():
    x, y = _pair((4, 3))
    w = torch.tensor([[1.0], [0.0], [2.0], [0.5]], dtype=torch.float64)
    per = (x - y).square()
    torch.testing.assert_close(LF.mse_loss(x, y, sample_weight=w), (per * w).sum() / (w.expand(4, 3).sum()))
    torch.testing.assert_close(
        LF.mse_loss(x, y, sample_weight=torch.zeros(4, 1, dtype=torch.float64)), torch.tensor(0.0, dtype=torch.float64)
    )
    with pytest.raises(
        ValueError, match=r"sample_weight must broadcast to the unreduced loss shape \(4, 3\); got \(3, 1\)"
    ):
        LF.mse_loss(x, y, sample_weight=torch.ones(3, 1))


# --- Keras 3 (torch backend) cross-checks: per-sample means over the last axis -----------------------

KERAS_TWINS = [
    ("mean_squared_error", LF.mse_loss, {}, {}),
    ("mean_absolute_error", LF.l1_loss, {}, {}),
    ("mean_absolute_percentage_error", LF.mape_loss, {}, {}),
    ("mean_squared_logarithmic_error", LF.msle_loss, {}, {}),
    ("log_cosh", LF.log_cosh_loss, {}, {}),
    ("huber", LF.huber_loss, {"delta": 0.7}, {"delta": 0.7}),
]


@pytest.mark.parametrize("kname,ours,ours_kw,keras_kw", KERAS_TWINS, ids=lambda v: v if isinstance(v, str) else "")
def test_keras_parity(kname, ours, ours_kw, keras_kw):
    k = keras()
    g = torch.Generator().manual_seed(11)
    y_true = torch.rand(6, 5, generator=g, dtype=torch.float64) * 4 - 1
    y_pred = torch.rand(6, 5, generator=g, dtype=torch.float64) * 4 - 1
    expected = keras_value(getattr(k.losses, kname), y_true, y_pred, **keras_kw)
    per_sample = ours(y_pred, y_true, reduction="none", **ours_kw).mean(-1)
    torch.testing.assert_close(per_sample, expected, rtol=1e-5, atol=1e-5)


# --- properties ---------------------------------------------------------------------------------------

finite = st.floats(-1e3, 1e3, allow_nan=False, width=64)
vectors = arrays(np.float64, st.integers(1, 12), elements=finite)
NONNEG = [
    LF.l1_loss,
    LF.mse_loss,
    LF.rmse_loss,
    LF.smooth_l1_loss,
    LF.huber_loss,
    LF.log_cosh_loss,
    LF.mape_loss,
    LF.msle_loss,
    LF.quantile_loss,
]


@settings(max_examples=60, deadline=None)
@given(x=vectors, data=st.data())
def test_properties_nonnegative_zero_at_perfect_symmetric(x, data):
    y = data.draw(arrays(np.float64, x.shape, elements=finite))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for fn in NONNEG:
        assert fn(xt, yt, reduction="none").min() >= 0, fn.__name__
        assert fn(yt, yt).item() == pytest.approx(0.0, abs=1e-12), fn.__name__
    for fn in (LF.l1_loss, LF.mse_loss, LF.rmse_loss, LF.smooth_l1_loss, LF.huber_loss, LF.log_cosh_loss):
        torch.testing.assert_close(fn(xt, yt), fn(yt, xt), rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(x=vectors, delta=st.floats(0.05, 5.0))
def test_property_huber_between_l1_and_l2(x, delta):
    xt = torch.from_numpy(x)
    zero = torch.zeros_like(xt)
    h = LF.huber_loss(xt, zero, delta=delta, reduction="none")
    assert (h <= 0.5 * xt.square() + 1e-9).all()
    assert (h <= delta * xt.abs() + 1e-9).all()
    torch.testing.assert_close(LF.smooth_l1_loss(xt, zero, beta=delta), LF.huber_loss(xt, zero, delta=delta) / delta)


# --- mutation-testing survivors (issue 11 item 32, docs/mutation.md) ---------------------------------


def test_log_cosh_target_gradient_and_second_derivatives():
    """d/dy = -tanh(x - y) and the double-backward path (create_graph) against NumPy: sech² and -sech²."""
    xs = np.linspace(-4.0, 4.0, 9)
    ys = np.linspace(1.5, -0.5, 9)  # a residual other than x, and other than x + y
    x = torch.tensor(xs, requires_grad=True)
    y = torch.tensor(ys, requires_grad=True)
    gx, gy = torch.autograd.grad(LF.log_cosh_loss(x, y, reduction="sum"), (x, y), create_graph=True)
    np.testing.assert_allclose(gx.detach().numpy(), np.tanh(xs - ys), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(gy.detach().numpy(), -np.tanh(xs - ys), rtol=1e-12, atol=1e-15)
    hxx, hxy = torch.autograd.grad(gx.sum(), (x, y))
    sech2 = 1.0 / np.cosh(xs - ys) ** 2
    np.testing.assert_allclose(hxx.numpy(), sech2, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(hxy.numpy(), -sech2, rtol=1e-12, atol=1e-15)
    # first order without create_graph, the target alone requiring grad
    y1 = torch.tensor(ys, requires_grad=True)
    LF.log_cosh_loss(torch.tensor(xs), y1, reduction="sum").backward()
    np.testing.assert_allclose(y1.grad.numpy(), -np.tanh(xs - ys), rtol=1e-12, atol=1e-15)


def test_quantile_tensor_of_one_quantile():
    x = torch.zeros(2, 1, dtype=torch.float64)
    y = torch.tensor([1.0, -1.0], dtype=torch.float64)
    out = LF.quantile_loss(x, y, quantile=torch.tensor([0.25], dtype=torch.float64), reduction="none")
    torch.testing.assert_close(out, torch.tensor([[0.25], [0.75]], dtype=torch.float64), rtol=0, atol=0)


@pytest.mark.parametrize(
    "quantile, exc, match",
    [
        (
            torch.tensor([[0.5]]),
            ValueError,
            r"quantile must be a number or a 1-D tensor of quantiles; got shape \(1, 1\)",
        ),
        (torch.tensor([]), ValueError, r"quantile must be a number or a 1-D tensor of quantiles; got shape \(0,\)"),
        (torch.tensor([1, 0]), TypeError, r"quantile must be a floating tensor; got torch.int64"),
        (torch.tensor([0.0, 0.5]), ValueError, r"every quantile must be in \(0, 1\); got \[0.0, 0.5\]"),
        (torch.tensor([0.5, 1.0]), ValueError, r"every quantile must be in \(0, 1\); got \[0.5, 1.0\]"),
    ],
)
def test_quantile_tensor_errors(quantile, exc, match):
    with pytest.raises(exc, match=r"quantile_loss: " + match):
        LF.quantile_loss(torch.zeros(3, 2), torch.zeros(3), quantile=quantile)
    with pytest.raises(exc, match=r"QuantileLoss: " + match):
        lk.QuantileLoss(quantile=quantile)


# ---------------------------------------------------------------------------------------------
# the fused-gradient path (issue 17): the loss and its gradient in one forward pass
# ---------------------------------------------------------------------------------------------

FUSED = [
    ("mse", LF.mse_loss, F.mse_loss, {}),
    ("l1", LF.l1_loss, F.l1_loss, {}),
    ("huber", LF.huber_loss, F.huber_loss, {"delta": 0.7}),
    ("smooth_l1", LF.smooth_l1_loss, F.smooth_l1_loss, {"beta": 0.3}),
    ("smooth_l1_beta0", LF.smooth_l1_loss, F.smooth_l1_loss, {"beta": 0.0}),
]


@pytest.fixture
def fused_everywhere(monkeypatch):
    """The fused path for every size, in blocks of 5 elements (so that every test walks several blocks)."""
    import losskit.regression as regression

    monkeypatch.setattr(regression, "_FUSED_MIN_ELEMENTS", 1)
    monkeypatch.setattr(regression, "_FUSED_MIN_ELEMENTS_CLAMPED", 1)
    monkeypatch.setattr(regression, "_FUSED_BLOCK", 5)


def _fused_inputs(dtype=torch.float64, n=23, target_grad=False):
    g = torch.Generator().manual_seed(n)
    x = torch.randn(n, generator=g, dtype=dtype) * 2
    y = torch.randn(n, generator=g, dtype=dtype)
    x[:3] = y[:3]  # zero residuals: sgn(0) = 0
    x[3], x[4] = y[3] + 0.7, y[4] - 0.3  # residuals at the switch points
    return x.requires_grad_(), y.requires_grad_(target_grad)


@pytest.mark.parametrize("name, ours, theirs, kw", FUSED, ids=[f[0] for f in FUSED])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_fused_gradient_equals_torch(fused_everywhere, name, ours, theirs, kw, reduction, dtype):
    """Same value (summed block by block), the same gradients bit for bit, for input and target."""
    x, y = _fused_inputs(dtype, target_grad=True)
    x2, y2 = x.detach().clone().requires_grad_(), y.detach().clone().requires_grad_()
    loss, expected = ours(x, y, reduction=reduction, **kw), theirs(x2, y2, reduction=reduction, **kw)
    assert type(loss.grad_fn).__name__ == "_FusedGradientBackward", "the fused path was not taken"
    torch.testing.assert_close(loss, expected, rtol=1e-6 if dtype == torch.float32 else 1e-14, atol=0)
    loss.backward()
    expected.backward()
    assert torch.equal(x.grad, x2.grad) and torch.equal(y.grad, y2.grad)


@pytest.mark.parametrize("threads, n", [(1, 991), (2, 2 * 50047)])
@pytest.mark.parametrize("name, ours, theirs", [FUSED[2][:3], FUSED[3][:3]], ids=["huber", "smooth_l1"])
def test_fused_gradient_gives_each_element_torchs_loop(fused_everywhere, threads, n, name, ours, theirs):
    """torch's backward kernel writes most elements in its vectorised loop and the last ones of each
    thread's range (n mod two vectors: here 31 on AVX-512, 15 on AVX2) in its scalar loop, which rounds
    huber's δ·(1/n) (δ a double) and smooth_l1's (r·(1/n))/β differently at float32 with δ = β = 0.3 and
    these n: the fused path still gives every element torch's bits, on one thread and on two."""
    g = torch.Generator().manual_seed(n)
    y = torch.randn(n, generator=g)
    # huber's two loops differ outside |r| < δ, smooth_l1's inside |r| < β: most residuals there
    x = (y + (2.0 if name == "huber" else 0.1) * torch.randn(n, generator=g)).requires_grad_()
    x2 = x.detach().clone().requires_grad_()
    kw = {"delta": 0.3} if name == "huber" else {"beta": 0.3}
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        loss, expected = ours(x, y, **kw), theirs(x2, y, **kw)
        assert type(loss.grad_fn).__name__ == "_FusedGradientBackward"
        torch.testing.assert_close(loss, expected, rtol=1e-6, atol=0)
        loss.backward()
        expected.backward()
    finally:
        torch.set_num_threads(previous_threads)
    clamped = (x - y).detach().clamp(-0.3, 0.3)
    vectorised_loop_everywhere = (clamped if name == "huber" else clamped / 0.3) * (1.0 / n)
    assert not torch.equal(vectorised_loop_everywhere, x2.grad), "this case does not tell torch's loops apart"
    assert torch.equal(x.grad, x2.grad)


@pytest.mark.parametrize("name, ours, theirs, kw", FUSED, ids=[f[0] for f in FUSED])
def test_fused_gradient_scaled_kept_graph_and_gradcheck(fused_everywhere, name, ours, theirs, kw):
    """A grad_output other than 1, a graph kept for a second backward, gradcheck and gradgradcheck."""
    x, y = _fused_inputs()
    x2 = x.detach().clone().requires_grad_()
    loss, expected = 2.5 * ours(x, y, **kw), 2.5 * theirs(x2, y, **kw)
    for _ in range(2):  # the saved gradient must survive the first backward unchanged
        loss.backward(retain_graph=True)
        expected.backward(retain_graph=True)
    torch.testing.assert_close(x.grad, x2.grad, rtol=1e-15, atol=0)
    assert torch.autograd.gradcheck(
        lambda a, b: ours(a, b, **kw), (x.detach().requires_grad_(), y.detach().requires_grad_())
    )
    # away from the kinks, where the second derivative exists
    xs, ys = torch.randn(11, dtype=torch.float64, requires_grad=True), torch.randn(11, dtype=torch.float64)
    assert torch.autograd.gradgradcheck(lambda a: ours(a, ys, reduction="sum", **kw), (xs,))


@pytest.mark.parametrize("name, ours, theirs, kw", FUSED, ids=[f[0] for f in FUSED])
def test_fused_gradient_double_backward_is_torchs(fused_everywhere, name, ours, theirs, kw):
    """create_graph=True differentiates torch's own loss: the second derivatives are torch's exactly."""
    x, y = _fused_inputs(target_grad=True)
    x2, y2 = x.detach().clone().requires_grad_(), y.detach().clone().requires_grad_()
    (gx, gy) = torch.autograd.grad(ours(x, y, **kw), (x, y), create_graph=True)
    (gx2, gy2) = torch.autograd.grad(theirs(x2, y2, **kw), (x2, y2), create_graph=True)
    assert torch.equal(gx, gx2) and torch.equal(gy, gy2)
    v = torch.linspace(-1.0, 1.0, x.numel(), dtype=torch.float64)
    second = torch.autograd.grad((gx * v).sum() + (gy * v).sum(), (x, y), allow_unused=True, materialize_grads=True)
    expected = torch.autograd.grad(
        (gx2 * v).sum() + (gy2 * v).sum(), (x2, y2), allow_unused=True, materialize_grads=True
    )
    assert all(torch.equal(a, b) for a, b in zip(second, expected))


def test_fused_gradient_half_precision_target_only_and_fallbacks(fused_everywhere):
    """float16 computes in float32 with a float16 gradient; a target-only gradient; torch's kernel for
    'none', sample weights, non-contiguous inputs and inference."""
    x, y = _fused_inputs(torch.float16)
    x32 = x.detach().float().requires_grad_()
    LF.mse_loss(x, y).backward()
    F.mse_loss(x32, y.float()).backward()
    assert x.grad.dtype == torch.float16 and torch.equal(x.grad, x32.grad.half())
    x, y = _fused_inputs(target_grad=True)
    y2 = y.detach().clone().requires_grad_()
    loss = LF.huber_loss(x.detach(), y)
    assert type(loss.grad_fn).__name__ == "_FusedGradientBackward"
    loss.backward()
    F.huber_loss(x.detach(), y2).backward()
    assert torch.equal(y.grad, y2.grad)
    x, y = _fused_inputs()
    plain = [
        LF.l1_loss(x, y, reduction="none"),
        LF.l1_loss(x, y, sample_weight=torch.ones(23, dtype=torch.float64)),
        LF.l1_loss(x.view(1, 23).expand(2, 23).t(), y.view(1, 23).expand(2, 23).t()),
    ]
    assert all(type(p.grad_fn).__name__ != "_FusedGradientBackward" for p in plain)
    with torch.no_grad():
        assert LF.mse_loss(x, y).grad_fn is None


def test_fused_gradient_keeps_nan_and_inf(fused_everywhere):
    """NaN passes through (torch's sgn gives 0 at NaN for l1, as torch does); ±inf gives torch's infinities."""
    x, y = _fused_inputs()
    with torch.no_grad():
        x[7], x[9] = float("nan"), float("inf")
    for ours, theirs in ((LF.mse_loss, F.mse_loss), (LF.l1_loss, F.l1_loss), (LF.huber_loss, F.huber_loss)):
        a, b = x.detach().clone().requires_grad_(), x.detach().clone().requires_grad_()
        loss, expected = ours(a, y), theirs(b, y)
        assert torch.isnan(loss) and torch.isnan(expected)
        loss.backward()
        expected.backward()
        torch.testing.assert_close(a.grad, b.grad, equal_nan=True, rtol=0, atol=0)


def test_fused_gradient_leaves_torch_func_and_forward_ad_to_torch(fused_everywhere):
    """torch.func transforms and forward-mode AD differentiate torch's kernels (the fused Function has no jvp)."""
    import torch.autograd.forward_ad as fwAD

    x, y = (t.detach() for t in _fused_inputs())
    for ours, theirs in ((LF.huber_loss, F.huber_loss), (LF.mse_loss, F.mse_loss)):
        torch.testing.assert_close(
            torch.func.grad(lambda a: ours(a, y))(x), torch.func.grad(lambda a: theirs(a, y))(x), rtol=0, atol=0
        )
        with fwAD.dual_level():
            dual = fwAD.make_dual(x, torch.ones_like(x))
            ours_tangent = fwAD.unpack_dual(ours(dual, y)).tangent
            torch.testing.assert_close(ours_tangent, fwAD.unpack_dual(theirs(dual, y)).tangent, rtol=0, atol=0)
