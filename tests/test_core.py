"""The shared machinery: hyperparameter checks, validation switches, config round trips, reduce_loss dims, info rendering.

Covers issue 11 items 8 (every argument checked for type and finiteness),
13 (bool-only set_validation and the context manager), 16 (tensor dtypes
survive get_config/from_config), 21 (one renderer: no markup in ``losskit
info``) and 30 (the accelerator half of set_validation, tested on CPU with
meta tensors).
"""

from __future__ import annotations

import json
import re

import pytest
import torch
from typer.testing import CliRunner

import losskit as lk
import losskit.functional as LF
from losskit._core import checks
from losskit._core import reduction as reduction_module
from losskit._core.reduction import fast_or_exact, reduce_loss, safe_divide
from losskit._core.rst import latex_to_text, rst_to_text
from losskit._core.targets import hinge_targets, log_target_probability
from losskit._core.validation import check_number, compute_dtype, data_checks_active, validation_enabled
from losskit.cli import app

# ---------------------------------------------------------------------------------------------
# item 8: hyperparameters
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (
            lambda: LF.huber_loss(torch.zeros(2), torch.zeros(2), delta=float("inf")),
            ValueError,
            r"delta must be a finite number in \(0, inf\); got inf",
        ),
        (
            lambda: LF.huber_loss(torch.zeros(2), torch.zeros(2), delta=float("nan")),
            ValueError,
            r"delta must be a finite number .*; got NaN",
        ),
        (
            lambda: LF.huber_loss(torch.zeros(2), torch.zeros(2), delta=True),
            TypeError,
            r"delta must be a real number; got a bool True",
        ),
        (
            lambda: LF.softmax_focal_loss(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), gamma=float("inf")),
            ValueError,
            r"gamma must be a finite number",
        ),
        (
            lambda: lk.SoftmaxFocalLoss(gamma=float("inf")),
            ValueError,
            r"SoftmaxFocalLoss: gamma must be a finite number",
        ),
        (lambda: lk.HuberLoss(delta=float("inf")), ValueError, r"HuberLoss: delta must be a finite number"),
        (
            lambda: lk.PoissonNLLLoss(full="false"),
            TypeError,
            r"PoissonNLLLoss: full must be True or False; got 'false'",
        ),
        (
            lambda: LF.kl_div(torch.zeros(2), torch.zeros(2), log_target=1),
            TypeError,
            r"kl_div: log_target must be True or False; got 1",
        ),
        (
            lambda: lk.CrossEntropyLoss(ignore_index=1.5),
            TypeError,
            r"CrossEntropyLoss: ignore_index must be an integer; got 1.5",
        ),
        (lambda: lk.CrossEntropyLoss(ignore_index=True), TypeError, r"ignore_index must be an integer; got True"),
        (
            lambda: LF.cross_entropy(torch.zeros(3, 3), [0, 1, 2]),
            TypeError,
            r"cross_entropy: target must be a torch.Tensor; got list — wrap it",
        ),
        (
            lambda: LF.mse_loss([1.0, 2.0], torch.zeros(2)),
            TypeError,
            r"mse_loss: input must be a torch.Tensor; got list",
        ),
        (
            lambda: LF.gaussian_nll_loss(torch.zeros(2), torch.zeros(2), "1"),
            TypeError,
            r"var must be a torch.Tensor or a number; got str",
        ),
        (lambda: lk.MultiMarginLoss(p=1.0), ValueError, r"p must be 1 or 2; got 1.0"),
        (lambda: lk.QuantileLoss(quantile=float("nan")), ValueError, r"quantile must be a finite number"),
        (lambda: lk.LinearCrossEntropyLoss(4, 7, softcap=float("inf")), ValueError, r"softcap must be a finite number"),
    ],
)
def test_item08_every_argument_is_checked_for_type_and_finiteness(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_item08_a_number_still_works_as_gaussian_variance():
    torch.testing.assert_close(
        LF.gaussian_nll_loss(torch.zeros(3), torch.ones(3), 2.0),
        LF.gaussian_nll_loss(torch.zeros(3), torch.ones(3), torch.full((3,), 2.0)),
    )


# ---------------------------------------------------------------------------------------------
# items 13 and 30: validation switches
# ---------------------------------------------------------------------------------------------


def test_item13_set_validation_takes_bools_only():
    for bad in (0, 1, "no", None):
        with pytest.raises(TypeError, match=r"set_validation: enabled must be True or False"):
            lk.set_validation(bad)
    assert validation_enabled() is True


def test_item13_validation_context_manager_restores_the_setting():
    assert validation_enabled()
    with lk.validation(False):
        assert not validation_enabled()
        with lk.validation(True):
            assert validation_enabled()
        assert not validation_enabled()
    assert validation_enabled()
    with pytest.raises(RuntimeError), lk.validation(False):
        raise RuntimeError("inside")
    assert validation_enabled()


def test_item30_accelerator_checks_follow_the_switch():
    """Off CPU (a meta tensor stands in for an accelerator) data checks run only while validation is on."""
    on_device = torch.empty(3, device="meta")
    on_cpu = torch.empty(3)
    assert data_checks_active(on_device) and data_checks_active(on_cpu)
    with lk.validation(False):
        assert not data_checks_active(on_device)
        assert data_checks_active(on_cpu), "CPU checks always run"


# ---------------------------------------------------------------------------------------------
# item 16: config round trips keep tensor dtypes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.float32])
def test_item16_tensor_hyperparameter_dtype_survives_config(dtype):
    module = lk.CrossEntropyLoss(torch.tensor([1.0, 2.0, 0.5], dtype=dtype))
    config = module.get_config()
    assert json.loads(json.dumps(config)) == config
    rebuilt = lk.from_config(config)
    assert rebuilt.weight.dtype == dtype
    torch.testing.assert_close(rebuilt.weight, module.weight)


def test_item16_default_dtype_configs_stay_as_before():
    assert lk.CrossEntropyLoss(torch.ones(2)).get_config() == {
        "name": "cross_entropy",
        "weight": [1.0, 1.0],
        "ignore_index": -100,
        "reduction": "mean",
        "label_smoothing": 0.0,
    }


# ---------------------------------------------------------------------------------------------
# reduce_loss over dims
# ---------------------------------------------------------------------------------------------


def test_reduce_loss_over_dims():
    loss = torch.arange(12.0).reshape(2, 3, 2)
    torch.testing.assert_close(reduce_loss(loss, "sum", dim=(1, 2)), loss.sum((1, 2)))
    torch.testing.assert_close(reduce_loss(loss, "mean", dim=2), loss.mean(2))
    weight = torch.tensor([[[1.0, 0.0]], [[0.0, 0.0]]])
    torch.testing.assert_close(
        reduce_loss(loss, "mean", weight=weight, dim=(1, 2)), torch.stack([loss[0, :, 0].mean(), torch.tensor(0.0)])
    )
    mask = loss > 4
    torch.testing.assert_close(
        reduce_loss(loss, "mean", mask=mask, dim=(1, 2)), torch.stack([loss[0][mask[0]].mean(), loss[1].mean()])
    )
    with pytest.raises(ValueError, match="cannot be combined with dim"):
        reduce_loss(loss, "batchmean", dim=1)


# ---------------------------------------------------------------------------------------------
# item 21: one renderer for docstring maths
# ---------------------------------------------------------------------------------------------


def test_latex_and_rst_render_to_text():
    assert latex_to_text(r"\frac{1 - p_t^{\,q}}{q}") == "(1 - p_t^( q))/(q)"
    assert latex_to_text(r"\ell_i = -\alpha\, \log p") == "ℓ_i = -α log p"
    assert (
        rst_to_text("see :func:`cross_entropy` and ``x`` and :math:`\\gamma \\ge 0`")
        == "see cross_entropy and x and γ ≥ 0"
    )


MARKUP = re.compile(r":math:|\.\. math::|``|:func:|\\frac|\\operatorname")


@pytest.mark.parametrize("name", lk.available())
def test_item21_info_shows_a_formula_without_markup(name):
    result = CliRunner().invoke(app, ["info", name], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Formula" in result.output, f"{name}: no formula"
    assert not MARKUP.search(result.output), MARKUP.search(result.output)


# ---------------------------------------------------------------------------------------------
# item 10: a drop-in takes every input torch takes — integer targets of elementwise losses
# ---------------------------------------------------------------------------------------------

TORCH_ELEMENTWISE = [
    (LF.mse_loss, torch.nn.functional.mse_loss),
    (LF.l1_loss, torch.nn.functional.l1_loss),
    (LF.smooth_l1_loss, torch.nn.functional.smooth_l1_loss),
    (LF.huber_loss, torch.nn.functional.huber_loss),
    (LF.soft_margin_loss, torch.nn.functional.soft_margin_loss),
    (LF.poisson_nll_loss, torch.nn.functional.poisson_nll_loss),
]


@pytest.mark.parametrize("ours, theirs", TORCH_ELEMENTWISE, ids=lambda f: getattr(f, "__name__", ""))
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8])
def test_item10_integer_targets_give_torchs_numbers(ours, theirs, dtype):
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([[1, 0, 1], [0, 1, 1], [1, 1, 0], [0, 0, 1]], dtype=dtype)
    if ours is LF.soft_margin_loss:
        labels = (2 * labels.long() - 1).to(torch.int64 if dtype == torch.uint8 else dtype)
    expected = theirs(x, labels.to(x.dtype))  # torch's huber backward fails on integer targets; its value does not
    (expected_grad,) = torch.autograd.grad(expected, x)
    actual = ours(x, labels)
    (actual_grad,) = torch.autograd.grad(actual, x)
    torch.testing.assert_close(actual, expected)
    torch.testing.assert_close(actual_grad, expected_grad)


# ---------------------------------------------------------------------------------------------
# item 32: tests for the mutants that survived the mutation pass (docs/mutation.md)
# ---------------------------------------------------------------------------------------------


def test_checks_number_rule_and_text():
    """The validators are built at import (positive = number(0.0, low_open=True)): build some at test time."""
    c = checks.number(0.0, 1.0, low_open=True)
    assert (c.text, c.tensor) == ("a real number in (0, 1]", False)
    c("f", "p", 1.0)
    c("f", "p", 0.5)
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match=rf"^f: p must be in \(0, 1\]; got {bad}$"):
            c("f", "p", bad)
    with pytest.raises(TypeError, match=r"^f: p must be a real number; got NoneType None$"):
        c("f", "p", None)
    c = checks.number(-1.0, 2.0, high_open=True)
    assert c.text == "a real number in [-1, 2)"
    c("f", "q", -1.0)
    with pytest.raises(ValueError, match=r"^f: q must be in \[-1, 2\); got 2.0$"):
        c("f", "q", 2.0)
    assert checks.number().text == "a real number in (-inf, inf)"
    c = checks.number(allow_none=True)
    assert c.text == "a real number in (-inf, inf), or None"
    c("f", "r", None)
    c("f", "r", -1e300)
    with pytest.raises(TypeError, match=r"^f: r must be a real number or None; got str 'x'$"):
        c("f", "r", "x")


def test_checks_one_of():
    c = checks.one_of(1, 2)
    assert c.text == "1 or 2"
    c("f", "p", 1)
    c("f", "p", 2)
    for bad in (3, 1.0, True, "1"):
        with pytest.raises(ValueError, match=rf"^f: p must be 1 or 2; got {re.escape(repr(bad))}$"):
            c("f", "p", bad)


def test_checks_custom():
    seen = []
    c = checks.custom(lambda fn, name, value: seen.append((fn, name, value)), "a thing", tensor=True)
    assert (c.text, c.tensor) == ("a thing", True)
    c("f", "x", 3)
    assert seen == [("f", "x", 3)]
    assert checks.custom(lambda fn, name, value: None, "t").tensor is False


@pytest.mark.parametrize(
    "target, match",
    [
        ([1.0, 2.0], r"^mse_loss: target must be a torch.Tensor; got list — wrap it with torch.tensor\(target\)$"),
        (1.0, r"^mse_loss: target must be a torch.Tensor; got float$"),
    ],
)
def test_non_tensor_target_is_a_type_error(target, match):
    with pytest.raises(TypeError, match=match):
        LF.mse_loss(torch.zeros(2), target)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("classes", [2, 3])
def test_log_target_probability_per_row_and_far_below_the_others(dtype, classes):
    """log Σ_c t_c p_c row by row: a target class 800 nats below the best class, next to an ordinary row.

    The shift is per row and taken over the classes with t_c > 0 only, and the classes with t_c = 0 never
    overflow to 0·inf = NaN (log p - shift = 800 there, beyond float64's exp range).
    """
    log_p = torch.full((2, classes), -900.0, dtype=dtype)
    log_p[0, 0], log_p[0, 1] = -0.1, -2.4
    log_p[1, 0], log_p[1, 1] = 0.0, -800.0
    target = torch.zeros(2, classes, dtype=dtype)
    target[0, 0] = 1.0
    target[1, 1] = 1.0
    out = log_target_probability(log_p, target, 1)
    torch.testing.assert_close(out, torch.tensor([-0.1, -800.0], dtype=dtype), rtol=1e-12, atol=1e-12)


def test_log_target_probability_without_target_mass_is_huge_and_finite():
    out = log_target_probability(torch.log(torch.tensor([[0.25, 0.75]], dtype=torch.float64)), torch.zeros(1, 2), 1)
    assert torch.isfinite(out).all() and out.item() < -1e300


def test_hinge_targets_checks_labels():
    for bad in ([2.0], [1.0, 2.0]):
        with pytest.raises(ValueError, match=r"^hinge: target must hold labels in \{-1, 1\} or in \{0, 1\}; got 2.0$"):
            hinge_targets("hinge", torch.tensor(bad))
    with pytest.raises(ValueError, match=r"got a mix of -1 and 0$"):
        hinge_targets("hinge", torch.tensor([-1.0, 0.0, 1.0]))
    torch.testing.assert_close(hinge_targets("hinge", torch.tensor([0.0, 1.0])), torch.tensor([-1.0, 1.0]))
    assert hinge_targets("hinge", torch.empty(0)).numel() == 0
    with lk.validation(False):  # off CPU the label check is a data check: skipped while validation is off
        assert hinge_targets("hinge", torch.tensor([2.0], device="meta")).shape == (1,)


def test_class_index_setup_names_the_loss():
    """index_setup's checks: the class-weight length (the only one multi_margin has) and the target range."""
    with pytest.raises(ValueError, match=r"^multi_margin_loss: weight must have one entry per class \(3\); got 4$"):
        LF.multi_margin_loss(torch.zeros(2, 3), torch.tensor([0, 1]), weight=torch.ones(4))
    with pytest.raises(
        ValueError, match=r"^softmax_focal_loss: target contains class 3, outside the valid range \[0, 2\]"
    ):
        LF.softmax_focal_loss(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(
        ValueError, match=r"^poly1_cross_entropy: target contains class 3, outside the valid range \[0, 2\]"
    ):
        LF.poly1_cross_entropy(torch.zeros(2, 3), torch.tensor([0, 3]))


def test_per_target_reduction_masks_ignored_targets_and_checks_sample_weight():
    """An ignored target's loss never leaks (a NaN row gives 0, not 0·NaN); sample_weight is checked by name."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, generator=g, dtype=torch.float64)
    x[1] = float("nan")
    t = torch.tensor([0, -100, 2, 1])
    keep = torch.tensor([0, 2, 3])
    for reduction in ("sum", "mean"):
        torch.testing.assert_close(
            LF.softmax_focal_loss(x, t, reduction=reduction),
            LF.softmax_focal_loss(x[keep], t[keep], reduction=reduction),
        )
    none = LF.softmax_focal_loss(x, t, reduction="none")
    assert none[1].item() == 0.0 and torch.isfinite(none).all()
    with pytest.raises(
        ValueError,
        match=r"^softmax_focal_loss: sample_weight must broadcast to the unreduced loss shape \(4,\); got \(4, 1\)$",
    ):
        LF.softmax_focal_loss(x, t, sample_weight=torch.ones(4, 1))


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (
            lambda: LF.softmax_focal_loss(torch.zeros(2, 3, dtype=torch.long), torch.tensor([0, 1])),
            TypeError,
            r"^softmax_focal_loss: input must be a floating-point tensor; got int64 — convert it with input.float\(\)$",
        ),
        (
            lambda: LF.softmax_focal_loss(torch.tensor(1.0), torch.tensor(0)),
            ValueError,
            r"^softmax_focal_loss: input must have a class dimension, \(C,\), \(N, C\) or \(N, C, d1, ...\); got a scalar$",
        ),
        (
            lambda: LF.cross_entropy(torch.zeros(2, 0), torch.tensor([0, 0])),
            ValueError,
            r"^cross_entropy: input must have at least one class \(C >= 1\); got shape \(2, 0\)$",
        ),
        (
            lambda: LF.cross_entropy(torch.zeros(2, 3), torch.full((2, 3), 1 / 3), ignore_index=1),
            ValueError,
            r"^cross_entropy: ignore_index applies to class-index targets; got ignore_index=1 with probability "
            r"targets of shape \(2, 3\) — leave it at -100, or give ignored samples sample_weight 0$",
        ),
        (
            lambda: LF.cross_entropy(torch.zeros(2, 3), torch.zeros(2)),
            TypeError,
            r"^cross_entropy: class-index targets must be an integer tensor; got float32 of shape \(2,\)",
        ),
        (
            lambda: LF.cross_entropy(torch.zeros(2, 3), torch.tensor([True, False])),
            TypeError,
            r"^cross_entropy: class-index targets must be an integer tensor; got bool of shape \(2,\)",
        ),
        (
            lambda: LF.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 5])),
            ValueError,
            r"^cross_entropy: target contains class 5, outside the valid range \[0, 2\] or ignore_index=-100$",
        ),
        (
            lambda: LF.multi_margin_loss(torch.zeros(2, 3), torch.tensor([0, 5])),
            ValueError,
            r"^multi_margin_loss: target contains class 5, outside the valid range \[0, 2\]$",
        ),
        (
            lambda: LF.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1]), weight=[1.0, 1.0, 1.0]),
            TypeError,
            r"^cross_entropy: weight must be a 1-D torch.Tensor of per-class weights; got list$",
        ),
        (
            lambda: LF.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1]), weight=torch.ones(1, 3)),
            ValueError,
            r"^cross_entropy: weight must be a 1-D tensor of per-class weights; got shape \(1, 3\)$",
        ),
        (
            lambda: LF.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1]), weight=torch.ones(3, dtype=torch.long)),
            TypeError,
            r"^cross_entropy: weight must be a floating tensor; got int64$",
        ),
        (
            lambda: LF.mse_loss(torch.zeros(2), torch.zeros(2), sample_weight=[1.0, 2.0]),
            TypeError,
            r"^mse_loss: sample_weight must be a torch.Tensor or None; got list$",
        ),
    ],
)
def test_class_score_and_target_errors_name_loss_argument_and_value(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_one_class_is_a_valid_class_dimension():
    out = LF.cross_entropy(torch.tensor([[2.0], [-1.0]]), torch.tensor([0, 0]), reduction="none")
    torch.testing.assert_close(out, torch.zeros(2), rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int16, torch.uint8])
def test_narrow_integer_class_targets_give_the_int64_numbers(dtype):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(5, 4, generator=g, dtype=torch.float64)
    t = torch.tensor([0, 3, 1, 2, 3])
    expected = torch.nn.functional.cross_entropy(x, t)
    torch.testing.assert_close(LF.cross_entropy(x, t.to(dtype)), expected)
    torch.testing.assert_close(LF.nll_loss(x.log_softmax(1), t.to(dtype)), expected)


def test_ignore_index_zero_is_a_class_that_is_ignored():
    """ignore_index=0 is also a valid class: targets equal to it are dropped, not counted as class 0."""
    g = torch.Generator().manual_seed(4)
    x = torch.randn(5, 3, generator=g, dtype=torch.float64)
    t = torch.tensor([0, 2, 1, 0, 2])
    keep = t != 0
    for fn in (LF.softmax_focal_loss, LF.poly1_cross_entropy, LF.cross_entropy):
        torch.testing.assert_close(fn(x, t, ignore_index=0), fn(x[keep], t[keep]))
    torch.testing.assert_close(
        LF.cross_entropy(x, t, ignore_index=0), torch.nn.functional.cross_entropy(x, t, ignore_index=0)
    )


def test_check_number_defaults_are_closed_and_refuse_none():
    check_number("f", "x", 0.0, low=0.0)
    check_number("f", "x", 1.0, high=1.0)
    with pytest.raises(TypeError, match=r"^f: x must be a real number; got NoneType None$"):
        check_number("f", "x", None)


def test_integer_checks():
    checks.integer("f", "k", 3)
    checks.optional_integer("f", "k", None)
    with pytest.raises(TypeError, match=r"^f: k must be an integer; got None$"):
        checks.integer("f", "k", None)
    with pytest.raises(TypeError, match=r"^f: k must be an integer or None; got 1.5$"):
        checks.optional_integer("f", "k", 1.5)


def test_compute_dtype_is_the_widest_floating_dtype_half_computes_in_float32():
    f16, f32, f64 = (torch.zeros(1, dtype=d) for d in (torch.float16, torch.float32, torch.float64))
    bf16, i64 = torch.zeros(1, dtype=torch.bfloat16), torch.zeros(1, dtype=torch.long)
    assert compute_dtype(f16) == torch.float32
    assert compute_dtype(bf16, f16) == torch.float32
    assert compute_dtype(f32, f64) == torch.float64
    assert compute_dtype(f64, f32) == torch.float64
    assert compute_dtype(None, i64, f64) == torch.float64
    assert compute_dtype(i64) == torch.float32
    assert compute_dtype() == torch.float32


def test_sample_weight_shape_error_names_the_loss():
    with pytest.raises(
        ValueError, match=r"^mse_loss: sample_weight must broadcast to the unreduced loss shape \(4, 3\); got \(3, 1\)$"
    ):
        LF.mse_loss(torch.zeros(4, 3), torch.zeros(4, 3), sample_weight=torch.ones(3, 1))


def test_nothing_counts_is_zero_even_with_a_nonzero_numerator():
    """Label smoothing with weight 0 on every target's class: Σ w·l > 0 over Σ w[y] = 0 gives 0 (issue 11 item 3)."""
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    out = LF.cross_entropy(
        x, torch.zeros(4, dtype=torch.long), weight=torch.tensor([0.0, 1.0, 1.0]), label_smoothing=0.1
    )
    assert out.item() == 0.0
    out.backward()
    assert torch.equal(x.grad, torch.zeros_like(x))
    assert safe_divide(torch.tensor(3.0), torch.tensor(0.0)).item() == 0.0
    assert safe_divide(torch.tensor(3.0), torch.tensor(2.0)).item() == 1.5


def test_non_tensor_bias_is_a_type_error():
    # torch 2.13's name for the projection's bias (bias= is its deprecated alias)
    with pytest.raises(TypeError, match=r"^linear_cross_entropy: linear_bias must be a torch.Tensor; got list$"):
        LF.linear_cross_entropy(torch.zeros(2, 4), torch.zeros(3, 4), torch.tensor([0, 1]), linear_bias=[0.0, 0.0, 0.0])


@pytest.mark.parametrize("compiling", [False, True], ids=["eager-cpu", "compiling"])
def test_fast_or_exact_takes_the_exact_path_only_where_flagged(monkeypatch, compiling):
    """Eager on CPU: the fused result, read once, and the exact path only for NaN; compiling: the exact path."""
    monkeypatch.setattr(reduction_module, "_is_compiling", lambda: compiling)
    calls = []
    x = torch.tensor([1.0, 2.0], requires_grad=True)

    def exact(value):
        def run():
            calls.append(value)
            return (x * 2.0).sum() * 0.0 + value

        return run

    out = fast_or_exact(x, lambda: (x * 3.0).sum(), exact(7.0))
    assert out.item() == (7.0 if compiling else 9.0)
    out.backward()
    torch.testing.assert_close(x.grad, torch.zeros(2) if compiling else torch.full((2,), 3.0))
    assert calls == ([7.0] if compiling else [])
    x.grad = None
    out = fast_or_exact(x, lambda: (x * float("nan")).sum(), exact(5.0))
    assert out.item() == 5.0
    out.backward()
    torch.testing.assert_close(x.grad, torch.zeros(2))  # only the exact path is on the graph

    x.grad = None
    out = fast_or_exact(x, lambda: (x * float("inf")).sum(), exact(3.0), redo_where=torch.isinf)
    assert out.item() == 3.0  # an infinite fast result, flagged by isinf
