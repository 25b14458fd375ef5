"""Issue 11: each numbered case found by probing the landed package, as a test that failed before its fix.

References: float64 gradcheck/gradgradcheck (finite differences of the function itself), the NumPy
references in tests/reference (values), torch.nn.functional where torch has the loss and gives a number.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck, gradgradcheck

import losskit as lk
import losskit.functional as LF

from .reference import classification as ref_cls

INF = float("inf")
F64 = torch.float64


def _leaf(values, dtype=F64):
    return torch.tensor(values, dtype=dtype, requires_grad=True)


# ---------------------------------------------------------------------------------------------
# item 1: the gradient with respect to a probability target at targets exactly 0 and 1
# ---------------------------------------------------------------------------------------------

_BINARY_X = [2.0, -1.5, 0.3, -0.7, 1.2, -2.5, 0.0, 4.0]
_BINARY_T = [0.0, 1.0, 0.0, 1.0, 0.3, 0.0, 1.0, 0.6]
_SOFT_X = [[1.0, -0.5, 2.0], [0.3, 0.1, -1.2], [-2.0, 1.5, 0.0], [0.7, 0.7, -0.4]]
_SOFT_T = [[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.0, 0.0, 1.0], [0.2, 0.8, 0.0]]

ITEM01_CASES = [
    *[
        ("sigmoid_focal", {"gamma": g, "alpha": a, "label_smoothing": ls}, ref_cls.sigmoid_focal)
        for g in (0.0, 0.5, 2.0)
        for a in (None, 0.25)
        for ls in (0.0, 0.1)
    ],
    ("generalized_cross_entropy", {"q": 0.7}, ref_cls.gce),
    ("generalized_cross_entropy", {"q": 0.3}, ref_cls.gce),
    ("poly1", {"epsilon": 1.0}, ref_cls.poly1),
    ("poly1", {"epsilon": 2.0, "label_smoothing": 0.1}, ref_cls.poly1),
]


@pytest.mark.parametrize("name, kwargs, reference", ITEM01_CASES, ids=lambda v: str(v) if not callable(v) else "")
def test_item01_target_gradient_at_0_and_1(name, kwargs, reference):
    fn = lk.get_fn(name)
    x, t = (_leaf(_BINARY_X), _leaf(_BINARY_T)) if name == "sigmoid_focal" else (_leaf(_SOFT_X), _leaf(_SOFT_T))
    for reduction in ("sum", "none"):
        f = lambda x, t: fn(x, t, reduction=reduction, **kwargs)
        assert gradcheck(f, (x, t), eps=1e-6, atol=1e-7, rtol=1e-5), f"{name} {kwargs} {reduction}"
        assert gradgradcheck(f, (x, t), eps=1e-6, atol=1e-7, rtol=1e-5), f"{name} {kwargs} {reduction}"
        expected = reference(x.detach().numpy(), t.detach().numpy(), reduction=reduction, **kwargs)
        np.testing.assert_allclose(f(x, t).detach().numpy(), expected, rtol=1e-12, atol=1e-14)


def test_item01_binary_cross_entropy_target_gradient_is_the_clamped_values():
    """torch gives ±inf at probabilities 0 and 1; the value clamps the logs at -100, so its derivative is finite."""
    x = torch.tensor([0.0, 1.0, 0.0, 1.0, 1e-30, 0.3, 0.9], dtype=F64)
    t = _leaf([0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.5])
    loss = LF.binary_cross_entropy(x, t, reduction="none")
    np.testing.assert_allclose(
        loss.detach().numpy(), ref_cls.binary_cross_entropy(x.numpy(), t.detach().numpy(), reduction="none")
    )
    loss.sum().backward()
    clamped = lambda p: np.maximum(np.log(p), -100.0)
    with np.errstate(divide="ignore"):
        expected = clamped(1 - x.numpy()) - clamped(x.numpy())  # d/dt of -(t log x + (1 - t) log(1 - x))
    np.testing.assert_allclose(t.grad.numpy(), expected, rtol=1e-12)
    assert torch.isfinite(t.grad).all()
    xs, ts, w = _leaf([0.1, 0.5, 0.97]), _leaf([0.0, 1.0, 0.4]), torch.tensor([0.5, 2.0, 1.0], dtype=F64)
    f = lambda x, t: LF.binary_cross_entropy(x, t, weight=w, reduction="mean")
    assert gradcheck(f, (xs, ts)) and gradgradcheck(f, (xs, ts))


# ---------------------------------------------------------------------------------------------
# item 2: linear_cross_entropy under create_graph=True
# ---------------------------------------------------------------------------------------------

ITEM02_OPTIONS = [
    {},
    {"label_smoothing": 0.2, "chunk_size": 5},
    {"softcap": 2.5, "z_loss": 1e-2, "chunk_size": 3},
    {"ignore_index": 2, "chunk_size": 2, "bias": True},
]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("options", ITEM02_OPTIONS, ids=lambda o: ",".join(sorted(o)) or "plain")
def test_item02_linear_cross_entropy_double_backward(options, reduction):
    gen = torch.Generator().manual_seed(2)
    h = torch.randn(7, 4, dtype=F64, generator=gen, requires_grad=True)
    w = torch.randn(5, 4, dtype=F64, generator=gen, requires_grad=True)
    y = torch.randint(0, 5, (7,), generator=gen)
    kw = {k: v for k, v in options.items() if k != "bias"}
    if options.get("bias"):
        b = torch.randn(5, dtype=F64, generator=gen, requires_grad=True)
        f, args = (lambda h, w, b: LF.linear_cross_entropy(h, w, y, bias=b, reduction=reduction, **kw)), (h, w, b)
    else:
        f, args = (lambda h, w: LF.linear_cross_entropy(h, w, y, reduction=reduction, **kw)), (h, w)
    assert gradgradcheck(f, args, eps=1e-6, atol=1e-7, rtol=1e-5)


def test_item02_gradient_penalty_matches_the_unfused_loss():
    gen = torch.Generator().manual_seed(3)
    h = torch.randn(6, 4, dtype=F64, generator=gen, requires_grad=True)
    w = torch.randn(9, 4, dtype=F64, generator=gen, requires_grad=True)
    y = torch.randint(0, 9, (6,), generator=gen)

    def penalty(loss):
        (g,) = torch.autograd.grad(loss, h, create_graph=True)
        return torch.autograd.grad(g.square().sum(), w)[0]

    fused = penalty(LF.linear_cross_entropy(h, w, y, chunk_size=4))
    unfused = penalty(F.cross_entropy(h @ w.T, y))
    torch.testing.assert_close(fused, unfused, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# item 3: nothing to average (every counted target of weight 0) with label smoothing
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [4, 40])
@pytest.mark.parametrize("sample_weight", [False, True])
def test_item03_all_zero_weight_with_label_smoothing_is_zero(n, sample_weight):
    x = torch.randn(n, 3, dtype=F64, requires_grad=True)
    y = torch.zeros(n, dtype=torch.long)
    kw = {"weight": torch.tensor([0.0, 1.0, 1.0], dtype=F64), "label_smoothing": 0.1}
    if sample_weight:
        kw["sample_weight"] = torch.rand(n, dtype=F64) + 0.1
    out = LF.cross_entropy(x, y, **kw)
    assert out.item() == 0.0
    out.backward()
    assert x.grad is not None and x.grad.abs().sum() == 0
    expected = ref_cls.cross_entropy(
        x.detach().numpy(), y.numpy(), weight=kw["weight"].numpy(), label_smoothing=0.1, reduction="mean"
    )
    assert expected == 0.0


# ---------------------------------------------------------------------------------------------
# item 4: ignore_index with probability targets
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cross_entropy", "focal", "poly1", "generalized_cross_entropy"])
def test_item04_ignore_index_with_probability_targets_raises(name):
    x, p = torch.randn(4, 3), torch.softmax(torch.randn(4, 3), 1)
    with pytest.raises(ValueError, match=r"ignore_index applies to class-index targets; got ignore_index=1"):
        lk.get_fn(name)(x, p, ignore_index=1)
    with pytest.raises(ValueError, match=r"ignore_index"):
        lk.get(name, ignore_index=1)(x, p)
    assert torch.isfinite(lk.get_fn(name)(x, p, ignore_index=-100))  # the default means "none"
    with pytest.raises(RuntimeError):  # torch refuses it too
        F.cross_entropy(x, p, ignore_index=1)


# ---------------------------------------------------------------------------------------------
# item 5: ±inf scores in margin losses
# ---------------------------------------------------------------------------------------------

_XS = torch.tensor([[INF, 0.0, -INF], [0.0, INF, 1.0], [-INF, 0.0, 0.0], [1.0, -INF, 2.0]])
_Y = torch.tensor([0, 0, 1, 1])
_V = torch.tensor([INF, -INF, INF, -INF, 0.5])
_PM1 = torch.tensor([1.0, 1.0, -1.0, -1.0, 1.0])
_LISTS = torch.tensor([[0, -1, 0], [1, 2, -1], [2, -1, 0], [0, 1, -1]])

ITEM05_CASES = {
    "hinge": (lambda: LF.hinge_loss(_V, _PM1, reduction="none"), [0.0, INF, INF, 0.0, 0.5]),
    "squared_hinge": (lambda: LF.squared_hinge_loss(_V, _PM1, reduction="none"), [0.0, INF, INF, 0.0, 0.25]),
    "soft_margin": (
        lambda: LF.soft_margin_loss(_V, _PM1, reduction="none"),
        F.soft_margin_loss(_V, _PM1, reduction="none").tolist(),
    ),
    "categorical_hinge": (lambda: LF.categorical_hinge_loss(_XS, _Y, reduction="none"), [0.0, INF, 1.0, INF]),
    "categorical_hinge_one_hot": (
        lambda: LF.categorical_hinge_loss(_XS, F.one_hot(_Y, 3).float(), reduction="none"),
        [0.0, INF, 1.0, INF],
    ),
    "multi_margin": (
        lambda: LF.multi_margin_loss(_XS, _Y, reduction="none"),
        F.multi_margin_loss(_XS, _Y, reduction="none").tolist(),
    ),
    "multilabel_margin": (
        lambda: LF.multilabel_margin_loss(_XS, _LISTS, reduction="none"),
        F.multilabel_margin_loss(_XS, _LISTS, reduction="none").tolist(),
    ),
    # torch gives NaN in rows 0 and 1 (0 · log σ(-inf)); the loss there is +inf and log(2)/3 + softplus(-1)/3
    "multilabel_soft_margin": (
        lambda: LF.multilabel_soft_margin_loss(
            _XS, torch.tensor([[1.0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0]]), reduction="none"
        ),
        [
            INF,
            float((np.log(2) + np.logaddexp(0, -1.0)) / 3),
            INF,
            float((np.logaddexp(0, -1.0) + np.logaddexp(0, 2.0)) / 3),
        ],
    ),
}


@pytest.mark.parametrize("case", list(ITEM05_CASES))
def test_item05_margin_losses_with_infinite_scores(case):
    compute, expected = ITEM05_CASES[case]
    out = compute()
    assert not torch.isnan(out).any(), f"{case}: {out}"
    np.testing.assert_allclose(out.double().numpy(), np.asarray(expected, dtype=np.float64), rtol=1e-6)
    assert not torch.isnan(out.sum()), case


# ---------------------------------------------------------------------------------------------
# item 6: softmax focal's second derivative for gamma < 1 at large margins
# ---------------------------------------------------------------------------------------------


def _focal_hessian_row(margin, gamma, dtype):
    x = torch.tensor([[margin, 0.0, 0.0]], dtype=dtype, requires_grad=True)
    loss = LF.softmax_focal_loss(x, torch.tensor([0]), gamma=gamma, reduction="sum")
    (g,) = torch.autograd.grad(loss, x, create_graph=True)
    return torch.autograd.grad(g[0, 0], x)[0]


@pytest.mark.parametrize("gamma", [0.25, 0.5, 0.75])
@pytest.mark.parametrize("margin", [5.0, 17.0, 30.0, 60.0, 100.0])
def test_item06_softmax_focal_second_derivative_finite(gamma, margin):
    h32 = _focal_hessian_row(margin, gamma, torch.float32)
    assert torch.isfinite(h32).all(), h32
    h64 = _focal_hessian_row(margin, gamma, F64)
    assert torch.isfinite(h64).all(), h64
    torch.testing.assert_close(h32.double(), h64, rtol=1e-3, atol=1e-6)


def test_item06_gradgradcheck_at_large_margins():
    x = torch.tensor([[30.0, 0.0, -1.0], [0.5, 40.0, 0.0], [-3.0, 1.0, 2.0]], dtype=F64, requires_grad=True)
    y = torch.tensor([0, 1, 2])
    for gamma in (0.25, 0.5, 2.0):
        assert gradgradcheck(lambda x: LF.softmax_focal_loss(x, y, gamma=gamma, reduction="sum"), (x,))


# ---------------------------------------------------------------------------------------------
# item 7: log_cosh at ±inf and near float32's largest values
# ---------------------------------------------------------------------------------------------


def test_item07_log_cosh_infinite_and_huge_residuals():
    x = torch.tensor([INF, -INF, 3e38, -3e38, -1e4], requires_grad=True)
    out = LF.log_cosh_loss(x, torch.zeros(5), reduction="none")
    assert out[0] == INF and out[1] == INF
    expected = np.abs(x.detach().double().numpy()[2:]) - np.log(2.0)  # log cosh r = |r| - log 2 + O(e^{-2|r|})
    np.testing.assert_allclose(out[2:].detach().double().numpy(), expected, rtol=1e-6)
    out.sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([1.0, -1.0, 1.0, -1.0, -1.0]))


# ---------------------------------------------------------------------------------------------
# item 9: one rule for integer class-index dtypes
# ---------------------------------------------------------------------------------------------

INT_DTYPES = [torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8]


def _index_calls():
    x, w = torch.randn(4, 3, dtype=F64), torch.rand(3, dtype=F64)
    yield "cross_entropy", lambda t: LF.cross_entropy(x, t)
    yield "cross_entropy weighted", lambda t: LF.cross_entropy(x, t, weight=w, ignore_index=1)
    yield "nll_loss", lambda t: LF.nll_loss(torch.log_softmax(x, 1), t)
    yield "softmax_focal_loss", lambda t: LF.softmax_focal_loss(x, t, alpha=w)
    yield "poly1_cross_entropy", lambda t: LF.poly1_cross_entropy(x, t)
    yield "generalized_cross_entropy", lambda t: LF.generalized_cross_entropy(x, t)
    yield "multi_margin_loss", lambda t: LF.multi_margin_loss(x, t)
    yield "categorical_hinge_loss", lambda t: LF.categorical_hinge_loss(x, t)
    h, w = torch.randn(4, 2, dtype=F64), torch.randn(3, 2, dtype=F64)
    yield "linear_cross_entropy", lambda t: LF.linear_cross_entropy(h, w, t)
    lists = torch.tensor([[0, -1, 0], [1, 2, -1], [2, 0, -1], [1, -1, 2]])
    yield (
        "multilabel_margin_loss",
        lambda t: LF.multilabel_margin_loss(x, lists.to(t.dtype) if t.is_signed() else lists),
    )


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=str)
def test_item09_every_integer_target_dtype(dtype):
    y = torch.tensor([0, 1, 2, 1])
    for name, call in _index_calls():
        torch.testing.assert_close(call(y.to(dtype)), call(y), rtol=0, atol=0, msg=name)
    with pytest.raises(TypeError, match=r"class-index targets must be an integer tensor; got bool"):
        LF.cross_entropy(torch.randn(4, 3), torch.tensor([True, False, True, False]))
    with pytest.raises(TypeError, match=r"class-index targets must be an integer tensor; got bool"):
        LF.softmax_focal_loss(torch.randn(4, 3), torch.tensor([True, False, True, False]))


def test_item09_modules_and_ignore_index_with_uint8():
    x, y = torch.randn(5, 3), torch.tensor([0, 255, 2, 1, 255], dtype=torch.uint8)
    expected = F.cross_entropy(x, y.long(), ignore_index=255)
    torch.testing.assert_close(lk.CrossEntropyLoss(ignore_index=255)(x, y), expected)
    torch.testing.assert_close(lk.get("focal", gamma=0.0, ignore_index=255)(x, y), expected)


# ---------------------------------------------------------------------------------------------
# item 10: inputs torch accepts, torch's numbers
# ---------------------------------------------------------------------------------------------


def test_item10_multilabel_soft_margin_integer_targets():
    x = torch.randn(6, 4)
    for dtype in (torch.int64, torch.int32, torch.uint8):
        y = torch.randint(0, 2, (6, 4)).to(dtype)
        for reduction in ("mean", "sum", "none"):
            torch.testing.assert_close(
                LF.multilabel_soft_margin_loss(x, y, reduction=reduction),
                F.multilabel_soft_margin_loss(x, y, reduction=reduction),
            )
        torch.testing.assert_close(lk.MultiLabelSoftMarginLoss()(x, y), torch.nn.MultiLabelSoftMarginLoss()(x, y))


def test_item10_scalar_and_unbatched_inputs_give_torchs_numbers():
    s, v, m = torch.randn(()), torch.randn(3), torch.randn(4, 3)
    cases = [
        ("mse_loss", (s, torch.randn(()))),
        ("l1_loss", (s, torch.randn(()))),
        ("smooth_l1_loss", (s, torch.randn(()))),
        ("huber_loss", (s, torch.randn(()))),
        ("soft_margin_loss", (s, torch.tensor(1.0))),
        ("binary_cross_entropy", (torch.rand(()), torch.rand(()))),
        ("binary_cross_entropy_with_logits", (s, torch.rand(()))),
        ("kl_div", (torch.log_softmax(v, 0), torch.softmax(torch.randn(3), 0))),
        ("cross_entropy", (v, torch.tensor(1))),
        ("cross_entropy", (v, torch.softmax(torch.randn(3), 0))),
        ("nll_loss", (torch.log_softmax(v, 0), torch.tensor(2))),
        ("multi_margin_loss", (v, torch.tensor(1))),
        ("multilabel_margin_loss", (v, torch.tensor([0, 2, -1]))),
        ("multilabel_soft_margin_loss", (v, torch.tensor([1.0, 0.0, 1.0]))),
        ("multilabel_soft_margin_loss", (m, torch.randint(0, 2, (4, 3)).float())),
    ]
    for name, args in cases:
        for reduction in ("mean", "sum", "none"):
            torch.testing.assert_close(
                getattr(LF, name)(*args, reduction=reduction), getattr(F, name)(*args, reduction=reduction), msg=name
            )


# ---------------------------------------------------------------------------------------------
# item 11: C = 0 classes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "cross_entropy",
        "nll_loss",
        "softmax_focal_loss",
        "poly1_cross_entropy",
        "generalized_cross_entropy",
        "multi_margin_loss",
        "categorical_hinge_loss",
    ],
)
def test_item11_zero_classes_is_a_clear_value_error(name):
    fn = getattr(LF, name)
    for target in (torch.zeros(4, dtype=torch.long), torch.full((4,), -100)):  # the second: every target ignored
        with pytest.raises(
            ValueError, match=rf"{name}: input must have at least one class \(C >= 1\); got shape \(4, 0\)"
        ):
            fn(torch.randn(4, 0), target)
    with pytest.raises(ValueError, match=r"at least one class"):
        fn(torch.randn(0), torch.zeros((), dtype=torch.long))


def test_item11_zero_classes_other_layouts():
    with pytest.raises(ValueError, match=r"multilabel_soft_margin_loss: input must have at least one class"):
        LF.multilabel_soft_margin_loss(torch.randn(4, 0), torch.zeros(4, 0))
    with pytest.raises(ValueError, match=r"multilabel_margin_loss: input must have at least one class"):
        LF.multilabel_margin_loss(torch.randn(4, 0), torch.zeros(4, 0, dtype=torch.long))
    with pytest.raises(ValueError, match=r"linear_cross_entropy: linear_weight must have at least one row"):
        LF.linear_cross_entropy(torch.randn(4, 3), torch.randn(0, 3), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"probability|at least one class"):
        LF.cross_entropy(torch.randn(4, 0), torch.zeros(4, 0))


# ---------------------------------------------------------------------------------------------
# item 12: channels_last (N, C, H, W) scores
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", ["nll_loss", "cross_entropy"])
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 4, 1, 6), (1, 5, 3, 3)])
def test_item12_channels_last_backward(name, reduction, shape):
    gen = torch.Generator().manual_seed(12)
    base = torch.randn(shape, generator=gen)
    y = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=gen)
    fn = getattr(LF, name)
    prepare = (lambda x: torch.log_softmax(x, 1)) if name == "nll_loss" else (lambda x: x)
    grads = []
    for layout in (torch.contiguous_format, torch.channels_last):
        x = prepare(base).detach().to(memory_format=layout).requires_grad_(True)
        out = fn(x, y, reduction=reduction)
        out.sum().backward()
        grads.append((out.detach(), x.grad))
    torch.testing.assert_close(grads[1][0], grads[0][0])
    torch.testing.assert_close(grads[1][1], grads[0][1])
