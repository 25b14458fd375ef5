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
from losskit._core.reduction import reduce_loss
from losskit._core.rst import latex_to_text, rst_to_text
from losskit._core.validation import data_checks_active, validation_enabled
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
