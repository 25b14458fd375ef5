"""Segmentation family (issue 13): MONAI parity, ignore_index, empty classes, perfect and saturated predictions,
1-D/2-D/3-D inputs, errors, and losskit.combine.

The NumPy references and the battery cases live in tests/reference/segmentation.py and
tests/loss_db_segmentation.py; this file holds what the battery does not check.
"""

from __future__ import annotations

import copy
import json
import pickle
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import losskit as lk
import losskit.functional as LF

from .reference import segmentation as ref

OVERLAP = ["dice_loss", "jaccard_loss", "tversky_loss", "focal_tversky_loss", "generalized_dice_loss"]
ALL = [*OVERLAP, "lovasz_softmax_loss", "dice_ce_loss"]


def _data(shape=(2, 4, 5, 6), seed=0, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=g, dtype=torch.float64) * scale
    y = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=g)
    return x, y


def _one_hot(y, c):
    return F.one_hot(y, c).movedim(-1, 1).to(torch.float64)


# ---------------------------------------------------------------------------------------------
# MONAI parity: values and gradients, float64, rtol 1e-6, for the options MONAI shares
# ---------------------------------------------------------------------------------------------


def _value_and_grad(fn, x, *args, **kwargs):
    x = x.detach().clone().requires_grad_(True)
    out = fn(x, *args, **kwargs)
    (grad,) = torch.autograd.grad(out.sum(), x)
    return out.detach().reshape(-1), grad


def _assert_parity(ours, theirs, what, atol=1e-12):
    (v1, g1), (v2, g2) = ours, theirs
    torch.testing.assert_close(v1, v2.to(v1.dtype), rtol=1e-6, atol=atol, msg=lambda m: f"{what} value: {m}")
    torch.testing.assert_close(g1, g2.to(g1.dtype), rtol=1e-6, atol=atol, msg=lambda m: f"{what} grad: {m}")


@pytest.mark.parametrize("batch", [False, True])
@pytest.mark.parametrize("include_background", [True, False])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_monai_dice_jaccard_tversky(batch, include_background, reduction):
    monai = pytest.importorskip("monai.losses")
    x, y = _data()
    y[1][y[1] == 2] = 0  # class 2 absent from sample 1
    oh = _one_hot(y, 4)
    common = dict(batch=batch, include_background=include_background, reduction=reduction)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for squared in (False, True):
            _assert_parity(
                _value_and_grad(LF.dice_loss, x, y, squared=squared, **common),
                _value_and_grad(monai.DiceLoss(softmax=True, squared_pred=squared, **common), x, oh),
                f"dice squared={squared}",
            )
            # MONAI's jaccard is (2I + s) / (2(P + T - I) + s): smooth 2s there is losskit's s
            _assert_parity(
                _value_and_grad(LF.jaccard_loss, x, y, squared=squared, smooth=1e-3, **common),
                _value_and_grad(
                    monai.DiceLoss(
                        softmax=True, jaccard=True, squared_pred=squared, smooth_nr=2e-3, smooth_dr=2e-3, **common
                    ),
                    x,
                    oh,
                ),
                f"jaccard squared={squared}",
            )
        _assert_parity(
            _value_and_grad(LF.tversky_loss, x, y, alpha=0.3, beta=0.8, smooth=0.1, **common),
            _value_and_grad(
                monai.TverskyLoss(softmax=True, alpha=0.3, beta=0.8, smooth_nr=0.1, smooth_dr=0.1, **common), x, oh
            ),
            "tversky",
        )
        # sigmoid and index targets (MONAI's to_onehot_y)
        _assert_parity(
            _value_and_grad(LF.dice_loss, x, y, activation="sigmoid", **common),
            _value_and_grad(monai.DiceLoss(sigmoid=True, to_onehot_y=True, **common), x, y[:, None]),
            "dice sigmoid",
        )


@pytest.mark.parametrize("weight_type", ["square", "simple", "uniform"])
@pytest.mark.parametrize("batch", [False, True])
@pytest.mark.parametrize("include_background", [True, False])
def test_monai_generalized_dice(weight_type, batch, include_background):
    monai = pytest.importorskip("monai.losses")
    x, y = _data(seed=1)
    y[0][y[0] == 3] = 1  # an absent class: its infinite weight becomes the largest finite one
    for reduction in ("mean", "sum", "none"):
        common = dict(batch=batch, include_background=include_background, reduction=reduction)
        _assert_parity(
            _value_and_grad(LF.generalized_dice_loss, x, y, weight_type=weight_type, **common),
            _value_and_grad(monai.GeneralizedDiceLoss(softmax=True, w_type=weight_type, **common), x, _one_hot(y, 4)),
            f"gdl {weight_type} {reduction}",
            atol=1e-9,  # MONAI computes the Sudre weights in float32 (ground_o.float()); gradients ~1e-2
        )


@pytest.mark.parametrize("batch", [False, True])
@pytest.mark.parametrize("include_background", [True, False])
def test_monai_dice_ce(batch, include_background):
    monai = pytest.importorskip("monai.losses")
    x, y = _data(seed=2)
    w = torch.tensor([0.5, 1.0, 2.0, 1.5], dtype=torch.float64)
    for reduction in ("mean", "sum"):
        for kw in ({}, {"weight": w}, {"label_smoothing": 0.1}):
            common = dict(batch=batch, include_background=include_background, reduction=reduction)
            theirs = dict(kw)
            if "weight" in kw and not include_background:
                pass  # MONAI's DiceCELoss takes the full (C,) weight and drops weight[0] for Dice itself
            ours = _value_and_grad(LF.dice_ce_loss, x, y, lambda_dice=0.7, lambda_ce=1.3, **kw, **common)
            if "weight" in kw and reduction == "mean":
                # MONAI's Dice "mean" divides the weighted scores by N·C, losskit by N·Σw: compare the parts
                dice_ours = LF.dice_loss(x, y, weight=w, **common)
                dice_monai = monai.DiceLoss(softmax=True, weight=w if include_background else w[1:], **common)(
                    x, _one_hot(y, 4)
                )
                kept = w if include_background else w[1:]
                torch.testing.assert_close(dice_ours * kept.sum() / kept.numel(), dice_monai, rtol=1e-6, atol=1e-12)
                continue
            monai_loss = monai.DiceCELoss(
                softmax=True, to_onehot_y=True, lambda_dice=0.7, lambda_ce=1.3, **theirs, **common
            )
            _assert_parity(ours, _value_and_grad(monai_loss, x, y[:, None]), f"dice_ce {kw} {reduction}")


def test_monai_weight_and_ignore_index():
    monai = pytest.importorskip("monai.losses")
    x, y = _data(seed=3)
    w = torch.tensor([0.5, 1.0, 2.0, 3.0], dtype=torch.float64)
    # "none" and "sum" are MONAI's; "mean" is Σ w·l / (N Σ w) where MONAI divides by N·C
    for reduction in ("none", "sum"):
        _assert_parity(
            _value_and_grad(LF.dice_loss, x, y, weight=w, reduction=reduction),
            _value_and_grad(monai.DiceLoss(softmax=True, weight=w, reduction=reduction), x, _one_hot(y, 4)),
            f"dice weight {reduction}",
        )
    mean_ours = LF.dice_loss(x, y, weight=w)
    mean_monai = monai.DiceLoss(softmax=True, weight=w)(x, _one_hot(y, 4))
    torch.testing.assert_close(mean_ours * w.sum() / 4, mean_monai, rtol=1e-6, atol=0)
    # MONAI 1.6 has ignore_index too (a sentinel outside [0, C))
    y[0, :2] = 255
    for fn, cls in ((LF.dice_loss, monai.DiceLoss), (LF.tversky_loss, monai.TverskyLoss)):
        _assert_parity(
            _value_and_grad(fn, x, y, ignore_index=255, reduction="none"),
            _value_and_grad(cls(softmax=True, to_onehot_y=True, ignore_index=255, reduction="none"), x, y[:, None]),
            f"{fn.__name__} ignore_index",
        )


# ---------------------------------------------------------------------------------------------
# ignore_index: ignored pixels count nowhere
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
def test_ignored_pixels_count_nowhere(name, activation):
    fn = getattr(LF, name)
    x, y = _data((2, 3, 4, 5), seed=4)
    y[0, 1:3] = -1
    y[1, :, 0] = -1
    ignored = (y == -1).unsqueeze(1).expand_as(x)
    kw = {"ignore_index": -1, "activation": activation}
    x1 = x.clone().requires_grad_(True)
    loss1 = fn(x1, y, **kw)
    (g1,) = torch.autograd.grad(loss1, x1)
    # anything at the ignored pixels, saturated logits included
    x2 = torch.where(ignored, torch.randn_like(x) * 1e4, x).requires_grad_(True)
    loss2 = fn(x2, y, **kw)
    (g2,) = torch.autograd.grad(loss2, x2)
    torch.testing.assert_close(loss1, loss2, rtol=1e-12, atol=0)
    torch.testing.assert_close(g1, g2, rtol=1e-12, atol=0)
    assert torch.all(g1[ignored] == 0), f"{name}: ignored pixels received gradient"
    # ... and equal the loss of the same pixels with the ignored ones cut out (one image per sample here)
    if name not in ("dice_ce_loss",):
        keep = y[0] != -1
        cut = fn(x[:1, :, keep].reshape(1, 3, -1), y[:1, keep].reshape(1, -1), activation=activation)
        alone = fn(x[:1], y[:1], **kw)
        torch.testing.assert_close(cut, alone, rtol=1e-12, atol=1e-15)


def test_lovasz_hinge_ignored_pixels():
    x, _ = _data((3, 4, 5), seed=5)
    y = (torch.rand(3, 4, 5, generator=torch.Generator().manual_seed(0)) > 0.5).long()
    y[0, 0] = 255
    ignored = y == 255
    x1 = x.clone().requires_grad_(True)
    loss1 = LF.lovasz_hinge_loss(x1, y, ignore_index=255)
    (g1,) = torch.autograd.grad(loss1, x1)
    x2 = torch.where(ignored, x * 1e4, x).requires_grad_(True)
    loss2 = LF.lovasz_hinge_loss(x2, y, ignore_index=255)
    (g2,) = torch.autograd.grad(loss2, x2)
    torch.testing.assert_close(loss1, loss2, rtol=1e-12, atol=0)
    torch.testing.assert_close(g1, g2, rtol=1e-12, atol=0)
    assert torch.all(g1[ignored] == 0)


# ---------------------------------------------------------------------------------------------
# empty classes, perfect predictions, saturated logits, dtypes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", OVERLAP)
@pytest.mark.parametrize("smooth", [0.0, 1e-5])
def test_absent_class_scores_zero(name, smooth):
    """A class absent from prediction and target gives exactly 0 (not NaN), with smooth = 0 too."""
    fn = getattr(LF, name)
    y = torch.tensor([[0, 1, 1, 0]])
    probs = _one_hot(y, 3).requires_grad_(True)  # class 2 absent from both
    out = fn(probs, y, activation=None, smooth=smooth, reduction="none")
    assert torch.isfinite(out).all()
    if name != "generalized_dice_loss":
        assert out[0, 2] == 0
    out.sum().backward()
    assert torch.isfinite(probs.grad).all()


@pytest.mark.parametrize("name", [*OVERLAP, "lovasz_softmax_loss"])
def test_perfect_prediction_is_zero(name):
    fn = getattr(LF, name)
    y = torch.tensor([[[0, 1], [2, 2]], [[1, 1], [0, 0]]])
    logits = (_one_hot(y, 3) * 2e4 - 1e4).requires_grad_(True)
    for kw in ({}, {"activation": None}):
        x = _one_hot(y, 3).requires_grad_(True) if kw else logits
        out = fn(x, y, **kw)
        assert float(out.detach()) == 0.0, f"{name} {kw}: {out}"
        (g,) = torch.autograd.grad(out, x)
        assert torch.isfinite(g).all()


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs_compute_in_float32(name, dtype):
    fn = getattr(LF, name)
    x, y = _data((2, 3, 8, 8), seed=6)
    xh = x.to(dtype).requires_grad_(True)
    out = fn(xh, y)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, fn(x.to(dtype).float(), y), rtol=1e-6, atol=1e-7)
    out.backward()
    assert xh.grad.dtype == dtype and torch.isfinite(xh.grad.float()).all()


@pytest.mark.parametrize("name", ALL)
def test_saturated_all_background_is_finite(name):
    fn = getattr(LF, name)
    y = torch.zeros(2, 6, 6, dtype=torch.long)
    for sign in (1.0, -1.0):
        x = torch.full((2, 3, 6, 6), -1e4 * sign, dtype=torch.float32)
        x[:, 0] = 1e4 * sign
        x.requires_grad_(True)
        for kw in ({}, {"include_background": False} if name != "lovasz_softmax_loss" else {"classes": "all"}):
            out = fn(x, y, **kw)
            (g,) = torch.autograd.grad(out, x)
            assert torch.isfinite(out) and torch.isfinite(g).all(), f"{name} {kw}: {out}"


# ---------------------------------------------------------------------------------------------
# 1-D / 2-D / 3-D, formulas, Lovász against the reference
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 3, 7), (2, 3, 4, 5), (2, 3, 3, 4, 2)], ids=["1d", "2d", "3d"])
@pytest.mark.parametrize("name", ALL)
def test_any_number_of_spatial_dims(shape, name):
    fn = getattr(LF, name)
    x, y = _data(shape, seed=7)
    reference = getattr(ref, name.replace("_loss", ""))
    np.testing.assert_allclose(fn(x, y).numpy(), reference(x.numpy(), y.numpy()), rtol=1e-10)
    # channels-last memory layout gives the same numbers
    if len(shape) == 4:
        cl = x.contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(fn(cl, y), fn(x, y), rtol=1e-12, atol=0)


def test_tversky_special_cases_and_focal_gamma_one():
    x, y = _data(seed=8)
    # alpha = beta = 1/2 is Dice and alpha = beta = 1 Jaccard at smooth 0 (smooth enters each ratio once)
    torch.testing.assert_close(LF.tversky_loss(x, y, smooth=0.0), LF.dice_loss(x, y, smooth=0.0), rtol=1e-12, atol=0)
    torch.testing.assert_close(LF.tversky_loss(x, y, alpha=1.0, beta=1.0), LF.jaccard_loss(x, y), rtol=1e-12, atol=0)
    torch.testing.assert_close(
        LF.focal_tversky_loss(x, y, gamma=1.0), LF.tversky_loss(x, y, alpha=0.3, beta=0.7), rtol=1e-12, atol=0
    )
    # alpha weighs false positives, beta false negatives: predict class 1 everywhere where the target is 0
    p = torch.zeros(1, 2, 4, dtype=torch.float64)
    p[:, 1] = 1.0
    t = torch.zeros(1, 4, dtype=torch.long)
    only_fp = LF.tversky_loss(p, t, activation=None, alpha=1.0, beta=0.0, smooth=0.0, reduction="none")
    only_fn = LF.tversky_loss(p, t, activation=None, alpha=0.0, beta=1.0, smooth=0.0, reduction="none")
    assert only_fp.tolist() == [[0.0, 1.0]]  # class 1 is all false positives; class 0's misses weigh 0
    assert only_fn.tolist() == [[1.0, 0.0]]  # class 0 is all false negatives


def test_lovasz_matches_reference_loop():
    x, y = _data((3, 4, 6, 5), seed=9)
    y[0][y[0] == 3] = 1
    for kw in ({}, {"per_image": True}, {"classes": "all"}, {"classes": "all", "per_image": True}):
        for reduction in ("mean", "sum", "none"):
            np.testing.assert_allclose(
                LF.lovasz_softmax_loss(x, y, reduction=reduction, **kw).numpy(),
                ref.lovasz_softmax(x.numpy(), y.numpy(), reduction=reduction, **kw),
                rtol=1e-10,
            )
    xb = x[:, 0]
    yb = (y > 1).long()
    for kw in ({}, {"per_image": False}):
        np.testing.assert_allclose(
            LF.lovasz_hinge_loss(xb, yb, **kw).numpy(), ref.lovasz_hinge(xb.numpy(), yb.numpy(), **kw), rtol=1e-10
        )


def test_lovasz_float32_integer_sort_matches_the_float64_path():
    """float32 errors sort as int64 keys (one radix sort over the rows): the same order, loss and gradients as the
    float argsort that float64 takes, with ignored positions (and NaN there), ties and -0.0 included."""
    from losskit.segmentation import _descending_order

    g = torch.Generator().manual_seed(11)
    key = torch.rand(3, 200, generator=g)
    key[0, :20] = 0.25  # ties
    key[1, :5] = -0.0
    key[2, :3] = float("inf")
    valid = torch.rand(3, 200, generator=g) > 0.3
    for mask in (None, valid):
        order = _descending_order(key, mask)
        assert torch.equal(order.sort(-1).values, torch.arange(200).expand(3, 200))  # a permutation of each row
        masked = key if mask is None else torch.where(mask, key, torch.full_like(key, -1.0))
        reference = masked.double().sort(-1, descending=True).values
        torch.testing.assert_close(masked.gather(-1, order).double(), reference, rtol=0, atol=0)
    x, y = _data((3, 4, 6, 5), seed=12)
    y[1, 0] = 255
    x[1, :, 0] = float("nan")
    for kw in ({}, {"per_image": True}, {"classes": "all"}):
        v64, g64 = _value_and_grad(LF.lovasz_softmax_loss, x, y, ignore_index=255, reduction="none", **kw)
        v32, g32 = _value_and_grad(LF.lovasz_softmax_loss, x.float(), y, ignore_index=255, reduction="none", **kw)
        torch.testing.assert_close(v32.double(), v64, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(g32.double(), g64, rtol=1e-4, atol=1e-6)
        assert (g32[1, :, 0] == 0).all()
    labels = (y > 1).long().masked_fill(y == 255, 255)
    for per_image in (True, False):
        v64, g64 = _value_and_grad(LF.lovasz_hinge_loss, x[:, 0], labels, ignore_index=255, per_image=per_image)
        v32, g32 = _value_and_grad(LF.lovasz_hinge_loss, x[:, 0].float(), labels, ignore_index=255, per_image=per_image)
        torch.testing.assert_close(v32.double(), v64, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(g32.double(), g64, rtol=1e-4, atol=1e-6)


def test_lovasz_gradcheck():
    x, y = _data((2, 3, 3, 4), seed=10)
    x = x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: LF.lovasz_softmax_loss(a, y, per_image=True), (x,))
    assert torch.autograd.gradcheck(lambda a: LF.lovasz_hinge_loss(a[:, 0], (y > 0).long()), (x,))


def test_generalized_dice_batch_and_none_shapes():
    x, y = _data(seed=11)
    assert LF.generalized_dice_loss(x, y, reduction="none").shape == (2,)
    assert LF.generalized_dice_loss(x, y, batch=True, reduction="none").shape == ()
    assert LF.dice_loss(x, y, batch=True, reduction="none").shape == (4,)
    assert LF.dice_loss(x, y, include_background=False, reduction="none").shape == (2, 3)
    assert LF.lovasz_softmax_loss(x, y, per_image=True, reduction="none").shape == (2,)
    assert LF.dice_ce_loss(x, y, reduction="none").shape == (2,)
    with pytest.raises(ValueError, match=r"dice_ce_loss: reduction='none' .* needs batch=False"):
        LF.dice_ce_loss(x, y, batch=True, reduction="none")


def test_dice_ce_is_the_weighted_sum():
    x, y = _data(seed=12)
    for activation in ("softmax", "sigmoid"):
        total = LF.dice_ce_loss(x, y, lambda_dice=0.3, lambda_ce=2.0, activation=activation, include_background=False)
        dice = LF.dice_loss(x, y, activation=activation, include_background=False)
        if activation == "softmax":
            ce = LF.cross_entropy(x, y)  # over all C classes
        else:
            ce = LF.binary_cross_entropy_with_logits(x, _one_hot(y, 4))
        torch.testing.assert_close(total, 0.3 * dice + 2.0 * ce, rtol=1e-12, atol=0)


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"weight_type": "log"}, ValueError, r"generalized_dice_loss: weight_type must be"),
        ({"activation": "tanh"}, ValueError, r"generalized_dice_loss: activation must be"),
        ({"smooth": -1.0}, ValueError, r"generalized_dice_loss: smooth must be in \[0, inf\)"),
        ({"weight": torch.ones(3)}, ValueError, r"weight must have one entry per class \(4\); got 3"),
    ],
)
def test_errors_name_function_and_argument(kwargs, exc, match):
    x, y = _data()
    with pytest.raises(exc, match=match):
        LF.generalized_dice_loss(x, y, **kwargs)


def test_more_errors():
    x, y = _data()
    with pytest.raises(ValueError, match=r"dice_loss: class-index target must have shape \(2, 5, 6\)"):
        LF.dice_loss(x, y[:, :4])
    with pytest.raises(TypeError, match=r"dice_loss: class-index targets must be an integer tensor"):
        LF.dice_loss(x, y.double())
    with pytest.raises(ValueError, match=r"tversky_loss: target contains class 4"):
        LF.tversky_loss(x, y + 1)
    with pytest.raises(ValueError, match=r"tversky_loss: alpha must be in \[0, inf\)"):
        LF.tversky_loss(x, y, alpha=-1.0)
    with pytest.raises(ValueError, match=r"FocalTverskyLoss: gamma must be in \(0, inf\)"):
        lk.FocalTverskyLoss(gamma=0.0)
    with pytest.raises(ValueError, match=r"lovasz_softmax_loss: classes must be 'present' or 'all'"):
        LF.lovasz_softmax_loss(x, y, classes=[1, 2])
    with pytest.raises(ValueError, match=r"LovaszSoftmaxLoss: classes must be"):
        lk.LovaszSoftmaxLoss(classes="some")


def test_data_checks_honour_set_validation_flag():
    """The class-range check is the only host sync; it is a data check (on CPU it always runs)."""
    x, y = _data()
    with lk.validation(False):
        with pytest.raises(ValueError, match="outside the valid range"):
            LF.dice_loss(x, y + 1)  # CPU: data checks always run


# ---------------------------------------------------------------------------------------------
# losskit.combine
# ---------------------------------------------------------------------------------------------


def test_combine_weighted_sum_and_last():
    x, y = _data(seed=13)
    crit = lk.combine(lk.DiceLoss(), lk.CrossEntropyLoss(), lk.DiceLoss(smooth=1.0), weights=(1.0, 0.5, 2.0))
    x = x.requires_grad_(True)
    out = crit(x, y)
    expected = LF.dice_loss(x, y) + 0.5 * LF.cross_entropy(x, y) + 2.0 * LF.dice_loss(x, y, smooth=1.0)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=0)
    assert list(crit.last) == ["dice", "cross_entropy", "dice_2"]
    assert all(not v.requires_grad for v in crit.last.values())
    torch.testing.assert_close(crit.last["cross_entropy"], LF.cross_entropy(x, y).detach())
    out.backward()
    assert x.grad is not None


def test_combine_config_pickle_state_dict_and_dtype():
    w = torch.tensor([1.0, 2.0, 0.5, 1.0])
    crit = lk.combine(lk.DiceLoss(weight=w), lk.CrossEntropyLoss(weight=w), weights=[1.0, 0.25])
    x, y = _data(seed=14)
    x = x.float()
    expected = crit(x, y)
    config = crit.get_config()
    assert json.loads(json.dumps(config)) == config
    rebuilt = lk.from_config(config)
    assert isinstance(rebuilt, lk.Combined)
    torch.testing.assert_close(rebuilt(x, y), expected)
    for clone in (pickle.loads(pickle.dumps(crit)), copy.deepcopy(crit)):
        torch.testing.assert_close(clone(x, y), expected)
    state = crit.state_dict()
    assert set(state) == {"terms.0.weight", "terms.1.weight"}
    doubled = crit.double()
    assert doubled.terms[0].weight.dtype == torch.float64
    # nested combinations round-trip too
    nested = lk.combine(crit, lk.JaccardLoss())
    torch.testing.assert_close(lk.from_config(nested.get_config())(x.double(), y), nested(x.double(), y))


def test_combine_errors():
    with pytest.raises(ValueError, match=r"losskit.combine: losses must hold at least one"):
        lk.combine()
    with pytest.raises(ValueError, match=r"weights must have one entry per loss \(2\); got 1"):
        lk.combine(lk.DiceLoss(), lk.CrossEntropyLoss(), weights=(1.0,))
    with pytest.raises(TypeError, match=r"loss 1 must be an nn.Module"):
        lk.combine(lk.DiceLoss(), LF.cross_entropy)
    with pytest.raises(TypeError, match=r"weights\[0\] must be a real number"):
        lk.combine(lk.DiceLoss(), weights=("1",))
    crit = lk.combine(lk.DiceLoss(), torch.nn.CrossEntropyLoss())
    x, y = _data()
    crit(x, y)
    assert list(crit.last) == ["dice", "CrossEntropyLoss"]
    with pytest.raises(TypeError, match=r"loss 1 \(CrossEntropyLoss\) has none"):
        crit.get_config()


# ---------------------------------------------------------------------------------------------
# losskit.keras: dice / Dice, tversky / Tversky with Keras 3's numbers
# ---------------------------------------------------------------------------------------------

KERAS_DOC_TRUE = [[[[1.0], [1.0]], [[0.0], [0.0]]], [[[1.0], [1.0]], [[0.0], [0.0]]]]
KERAS_DOC_PRED = [[[[0.0], [1.0]], [[0.0], [1.0]]], [[[0.4], [0.0]], [[0.0], [0.9]]]]


def test_keras_dice_documented_example():
    import losskit.keras as lkk

    y_true, y_pred = torch.tensor(KERAS_DOC_TRUE), torch.tensor(KERAS_DOC_PRED)
    loss = lkk.Dice(axis=(1, 2, 3), reduction=None)(y_true, y_pred)
    assert loss.shape == (2,)
    np.testing.assert_allclose(loss.numpy(), [0.5, 0.75757575], rtol=1e-6)
    loss = lkk.Dice()(y_true, y_pred)
    assert loss.shape == ()
    np.testing.assert_allclose(loss.numpy(), 0.6164384, rtol=1e-6)
    np.testing.assert_allclose(lkk.dice(y_true, y_pred, axis=(1, 2, 3)).numpy(), [0.5, 0.75757575], rtol=1e-6)
    np.testing.assert_allclose(lkk.dice(np.array(KERAS_DOC_TRUE), np.array(KERAS_DOC_PRED)).numpy(), 0.6164384)


@pytest.mark.parametrize("axis", [None, (1, 2, 3), (1, 2), -1, [1, 2]])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight", None])
def test_keras_dice_tversky_match_keras(axis, reduction):
    import losskit.keras as lkk

    from .parity import keras as load_keras

    keras = load_keras()
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, size=(3, 4, 5, 2)).astype(np.float32)
    y_pred = rng.uniform(0.02, 0.98, size=(3, 4, 5, 2)).astype(np.float32)
    weights = [None, rng.uniform(0.1, 2.0, size=(3,)).astype(np.float32)]
    for sample_weight in weights:
        if sample_weight is not None and axis != (1, 2, 3):
            continue  # a per-sample (3,) weight fits the per-sample loss of axis=(1, 2, 3)
        kt, lt = torch.tensor(y_true), torch.tensor(y_pred)
        sw = None if sample_weight is None else torch.tensor(sample_weight)
        cases = [
            (keras.losses.Dice(axis=axis, reduction=reduction), lkk.Dice(axis=axis, reduction=reduction)),
            (
                keras.losses.Tversky(0.3, 0.8, axis=axis, reduction=reduction),
                lkk.Tversky(0.3, 0.8, axis=axis, reduction=reduction),
            ),
        ]
        for theirs, ours in cases:
            expected = np.asarray(theirs(y_true, y_pred, sample_weight=sample_weight))
            np.testing.assert_allclose(ours(kt, lt, sample_weight=sw).numpy(), expected, rtol=1e-5, atol=1e-6)
            assert ours.get_config() == theirs.get_config()
    expected = np.asarray(keras.losses.tversky(y_true, y_pred, alpha=0.2, beta=0.9, axis=axis))
    np.testing.assert_allclose(lkk.tversky(y_true, y_pred, alpha=0.2, beta=0.9, axis=axis).numpy(), expected, rtol=1e-5)
    expected = np.asarray(keras.losses.dice(y_true.astype(np.float64), y_pred.astype(np.float64), axis=axis))
    ours = lkk.dice(y_true.astype(np.float64), y_pred.astype(np.float64), axis=axis)
    assert ours.dtype == torch.float64
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-12)


def test_keras_tversky_alpha_is_on_y_true_times_one_minus_y_pred():
    import losskit.keras as lkk

    y_true = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    y_pred = torch.tensor([[1.0, 0.0, 0.0, 0.0]])  # one hit, one miss, nothing extra
    # Σ y_true (1 - y_pred) = 1 is weighted by alpha (Keras's code; "false positives" in its docstring)
    np.testing.assert_allclose(float(lkk.tversky(y_true, y_pred, alpha=1.0, beta=0.0)), 1 - 1 / 2, rtol=1e-6)
    np.testing.assert_allclose(float(lkk.tversky(y_true, y_pred, alpha=0.0, beta=1.0)), 0.0, atol=1e-6)


def test_keras_get_and_config_round_trip():
    import losskit.keras as lkk

    assert lkk.get("dice") is lkk.dice and lkk.get("tversky") is lkk.tversky
    crit = lkk.get({"class_name": "Tversky", "config": {"alpha": 0.2, "beta": 0.7, "axis": (1, 2)}})
    assert isinstance(crit, lkk.Tversky) and crit.get_config()["axis"] == (1, 2)
    assert lkk.Dice.from_config(lkk.Dice(axis=-1).get_config()).get_config() == lkk.Dice(axis=-1).get_config()
    with pytest.raises(TypeError, match=r"losskit.keras.Dice: axis must be None, an int or a tuple of ints"):
        lkk.Dice(axis="h")


# ---------------------------------------------------------------------------------------------
# the fused class-index path (_IndexOverlap) against the one-hot path it replaces
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["softmax", "sigmoid", None])
@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("ignore", [False, True])
def test_index_targets_equal_one_hot_targets(activation, squared, ignore):
    """Class indices (fused forward, analytic backward) give the values and gradients of their one-hot targets.

    With ``ignore``, the first row of every image is ignored (and NaN in the input): the loss and the other
    gradients equal the one-hot path on the images without that row, and the ignored inputs get exactly 0.
    """
    x, y = _data(seed=3)
    if activation is None:
        x = torch.softmax(x, 1)
    kept = slice(1, None) if ignore else slice(None)
    if ignore:
        y[:, 0] = 255
        x[:, :, 0] = float("nan")
    kw = {"activation": activation, "weight": torch.tensor([0.5, 1.0, 2.0, 0.0], dtype=torch.float64)}
    for name, extra in [("dice", {"squared": squared}), ("jaccard", {"squared": squared}), ("tversky", {"beta": 0.8})]:
        fn = getattr(LF, f"{name}_loss")
        for reduction, batch in (("mean", False), ("none", False), ("sum", True)):
            common = {**kw, **extra, "reduction": reduction, "batch": batch}
            value, grad = _value_and_grad(fn, x, y, ignore_index=255 if ignore else None, **common)
            expected = _value_and_grad(fn, x[:, :, kept], _one_hot(y[:, kept], 4), **common)
            what = f"{name} {activation} squared={squared} {reduction}"
            _assert_parity((value, grad[:, :, kept]), expected, what)
            if ignore:
                assert (grad[:, :, 0] == 0).all(), what


def test_index_path_gradcheck_and_double_backward():
    x, y = _data(shape=(2, 3, 4), seed=5, scale=1.0)
    y[1, 0] = 255
    x.requires_grad_(True)
    probabilities = torch.softmax(x.detach(), 1).requires_grad_(True)
    for inputs, kw in (
        (x, {"ignore_index": 255}),
        (x, {"ignore_index": 255, "squared": True, "batch": True}),
        (x, {"ignore_index": 255, "activation": "sigmoid", "squared": True}),
        (probabilities, {"ignore_index": 255, "activation": None}),
    ):
        assert torch.autograd.gradcheck(lambda t: LF.dice_loss(t, y, **kw), (inputs,))
        assert torch.autograd.gradgradcheck(lambda t: LF.dice_loss(t, y, **kw), (inputs,))
    w = torch.tensor([1.0, 0.5, 2.0], dtype=torch.float64)
    for reduction in ("mean", "sum", "none"):
        f = lambda t: LF.dice_ce_loss(t, y, weight=w, ignore_index=255, reduction=reduction)
        assert torch.autograd.gradcheck(f, (x,))
        assert torch.autograd.gradgradcheck(f, (x,))


@pytest.mark.parametrize("activation", ["softmax", "sigmoid", None])
@pytest.mark.parametrize("ignore", [False, True])
def test_index_path_backward_through_a_retained_graph(activation, ignore):
    """The softmax backward overwrites the forward's probability buffer (it becomes the gradient); a second
    backward through the retained graph recomputes it and gives the same gradient, and the gradient is a buffer
    of its own (not the input, not shared with the loss's other tensors)."""
    x, y = _data(seed=11)
    if activation is None:
        x = torch.softmax(x, 1)
    if ignore:
        y[:, 0] = 255
    kw = {"activation": activation, "ignore_index": 255 if ignore else None}
    for fn, extra in ((LF.dice_loss, {}), (LF.generalized_dice_loss, {}), (LF.dice_ce_loss, {"lambda_ce": 0.5})):
        if fn is LF.dice_ce_loss and activation is None:
            continue
        leaf = x.detach().clone().requires_grad_(True)
        (expected,) = torch.autograd.grad(fn(leaf, y, **kw, **extra), leaf)
        loss = fn(leaf, y, **kw, **extra)
        first = torch.autograd.grad(loss, leaf, retain_graph=True)[0]
        second = torch.autograd.grad(loss, leaf)[0]
        what = f"{fn.__name__} {activation} ignore={ignore}"
        torch.testing.assert_close(first, expected, rtol=0, atol=0, msg=lambda m: f"{what}: {m}")
        torch.testing.assert_close(second, expected, rtol=1e-12, atol=1e-15, msg=lambda m: f"{what}: {m}")
        assert first.data_ptr() != leaf.data_ptr() and first.data_ptr() != second.data_ptr(), what


@pytest.mark.parametrize("name", OVERLAP + ["dice_ce_loss"])
def test_out_of_range_class_raises_without_ignore_index(name):
    """Without ignore_index the CPU range check is the fused gather's own; the error is still losskit's."""
    x, y = _data()
    for bad in (4, -1):
        z = y.clone()
        z[1, 2, 3] = bad
        with pytest.raises(ValueError, match=rf"{name}: target contains class {bad}, outside the valid range \[0, 3\]"):
            getattr(LF, name)(x, z)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_dice_ce_shared_log_softmax_equals_the_two_terms(reduction, weighted):
    """The fused Dice + CE (one log_softmax) equals dice_loss + torch's cross_entropy, values and gradients."""
    x, y = _data(seed=7)
    y[1, 0] = 255
    w = torch.tensor([0.5, 1.0, 2.0, 1.5], dtype=torch.float64) if weighted else None
    kw = {"weight": w, "ignore_index": 255}
    ours = _value_and_grad(LF.dice_ce_loss, x, y, lambda_dice=0.7, lambda_ce=1.3, reduction=reduction, **kw)

    def separate(t, target):
        dice = LF.dice_loss(t, target, reduction=reduction, **kw)
        ce = F.cross_entropy(
            t, target, weight=w, ignore_index=255, reduction="none" if reduction == "none" else reduction
        )
        if reduction == "none":  # per sample: Dice averaged over classes, CE over the sample's counted positions
            total = w.sum() if w is not None else torch.tensor(4.0, dtype=t.dtype)
            dice = dice.sum(-1) / total
            counted = (y != 255).to(t.dtype) * (w[y.clamp_max(3)] if w is not None else 1.0)
            ce = ce.flatten(1).sum(-1) / counted.flatten(1).sum(-1)
        return 0.7 * dice + 1.3 * ce

    _assert_parity(ours, _value_and_grad(separate, x, y), f"dice_ce {reduction} weighted={weighted}")


# ---------------------------------------------------------------------------------------------
# gather=True over torch.distributed (two gloo processes against one process on the whole batch)
# ---------------------------------------------------------------------------------------------

GATHER_WORKER = r"""
import datetime, json, sys
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
import losskit.functional as LF

rank, port, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
torch.set_num_threads(1)
dist.init_process_group(
    "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2, timeout=datetime.timedelta(seconds=60)
)
sizes = [2, 3]  # different batch sizes on the two ranks
start, stop = sum(sizes[:rank]), sum(sizes[: rank + 1])
g = torch.Generator().manual_seed(0)
features = torch.randn(5, 3, 6, 5, generator=g, dtype=torch.float64)
labels = torch.randint(0, 4, (5, 6, 5), generator=g)
labels[0, 0] = 255  # ignored positions on rank 0 only
soft = torch.softmax(torch.randn(5, 4, 6, 5, generator=g, dtype=torch.float64), 1)
w = torch.tensor([0.5, 1.0, 2.0, 1.5], dtype=torch.float64)
torch.manual_seed(1)
base = torch.nn.Conv2d(3, 4, 1).double()

CASES = [
    ("dice", {"batch": True}),
    ("dice", {"batch": True, "include_background": False, "weight": w, "reduction": "sum", "squared": True}),
    ("dice", {"batch": True, "activation": "sigmoid", "soft": True}),
    ("dice", {"batch": False}),
    ("dice", {"batch": False, "weight": w, "reduction": "sum"}),
    ("jaccard", {"batch": True}),
    ("tversky", {"batch": True, "alpha": 0.3, "beta": 0.7}),
    ("focal_tversky", {"batch": True, "gamma": 0.75}),
    ("focal_tversky", {"batch": False, "weight": w}),
    ("generalized_dice", {"batch": True}),
    ("generalized_dice", {"batch": False}),
    ("generalized_dice", {"batch": False, "reduction": "sum", "weight_type": "simple"}),
]


def run(model, x, y, y_soft, case, gather):
    name, kw = case
    kw = dict(kw)
    target = y_soft if kw.pop("soft", False) else y
    if target is y:
        kw["ignore_index"] = 255
    return getattr(LF, name + "_loss")(model(x), target, gather=gather, **kw)


report = []
for case in CASES:
    single = torch.nn.Conv2d(3, 4, 1).double()
    single.load_state_dict(base.state_dict())
    expected = run(single, features, labels, soft, case, False)
    expected_grads = torch.autograd.grad(expected, list(single.parameters()))
    local = torch.nn.Conv2d(3, 4, 1).double()
    local.load_state_dict(base.state_dict())
    ddp = DDP(local)
    loss = run(ddp, features[start:stop], labels[start:stop], soft[start:stop], case, True)
    loss.backward()
    grads = [p.grad for p in local.parameters()]
    report.append(
        {
            "case": f"{case[0]} { {k: 'w' if torch.is_tensor(v) else v for k, v in case[1].items()} }",
            "loss": float(loss),
            "expected": float(expected),
            "grad_ok": all(torch.allclose(a, b, rtol=1e-6, atol=1e-12) for a, b in zip(grads, expected_grads)),
            "max_grad_diff": max(float((a - b).abs().max()) for a, b in zip(grads, expected_grads)),
        }
    )
# "none" stays this rank's own per-sample scores
none = LF.dice_loss(base(features[start:stop]), labels[start:stop], ignore_index=255, gather=True, reduction="none")
full = LF.dice_loss(base(features), labels, ignore_index=255, reduction="none")
report.append({"case": "none", "none_ok": bool(torch.allclose(none, full[start:stop]))})
dist.barrier()
dist.destroy_process_group()
with open(out, "w") as f:
    json.dump(report, f)
"""


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without torch.distributed")
def test_gather_over_two_gloo_processes(tmp_path):
    """gather=True: each rank's loss is the whole batch's, and DDP's averaged gradients are the single-process ones."""
    from .distributed_launch import run_ranks

    for rank, report in enumerate(run_ranks(GATHER_WORKER, tmp_path)):
        for row in report:
            if row["case"] == "none":
                assert row["none_ok"], f"rank {rank}: 'none' is not this rank's rows of the whole batch's scores"
                continue
            assert row["loss"] == pytest.approx(row["expected"], rel=1e-9, abs=1e-12), (rank, row)
            assert row["grad_ok"], (rank, row)


def test_gather_without_a_process_group_is_the_local_loss():
    """Without an initialised process group gather=True is a documented no-op (as the embedding losses')."""
    x, y = _data()
    for name in OVERLAP:
        fn = getattr(LF, name)
        for batch in (False, True):
            torch.testing.assert_close(fn(x, y, batch=batch, gather=True), fn(x, y, batch=batch), rtol=0, atol=0)
    assert lk.DiceLoss(batch=True, gather=True).gather is True
    assert "gather" in lk.describe("dice").capabilities


# ---------------------------------------------------------------------------------------------
# ±inf logits: the softmax limit (values against the references are in the battery's inf_extremes)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_plus_inf_logits_are_the_softmax_limit(name):
    """A +inf logit makes its position's softmax one-hot (two +inf share it): the loss of those probabilities.

    A position whose one +inf sits on its target class is a perfect, saturated prediction: its gradient is the
    limit of the softmax's, 0 for every logit there.
    """
    x, y = _data((2, 3, 4), seed=3)
    x[0, 1, 0] = x[1, 0, 2] = x[1, 2, 2] = float("inf")
    y[0, 0], y[1, 2] = 1, 0  # the cross-entropy stays finite: the +inf are on the target class
    limit = torch.softmax(x.where(~torch.isinf(x), x.new_zeros(())), 1)
    limit[0, :, 0] = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    limit[1, :, 2] = torch.tensor([0.5, 0.0, 0.5], dtype=torch.float64)
    x.requires_grad_(True)
    out = getattr(LF, name)(x, y, reduction="sum")
    expected = getattr(LF, name)(limit, y, activation=None, reduction="sum") if name != "dice_ce_loss" else None
    assert torch.isfinite(out)
    if expected is not None:  # dice_ce's cross-entropy of probabilities floors log p; the battery checks its value
        torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    out.backward()
    assert torch.isfinite(x.grad).all()
    assert (x.grad[0, :, 0] == 0).all()


@pytest.mark.parametrize("name", ALL)
def test_nan_logit_next_to_plus_inf_stays_nan(name):
    """The recompute on the softmax limit keeps NaN: a NaN logit (also in a row holding +inf) gives NaN."""
    x, y = _data((2, 3, 4), seed=4)
    x[0, 1, 0] = float("inf")
    for where in ((0, 2, 0), (1, 0, 3)):  # in the +inf row, and in another row
        bad = x.clone()
        bad[where] = float("nan")
        assert torch.isnan(getattr(LF, name)(bad, y)), where


def test_dice_ce_without_its_cross_entropy_is_finite_at_minus_inf():
    """lambda_ce = 0 leaves the cross-entropy out, not 0 · inf: -inf on the target class gives the Dice term."""
    x, y = _data((2, 3, 4), seed=5)
    x[0, y[0, 0], 0] = -float("inf")
    assert torch.isinf(LF.dice_ce_loss(x, y))
    out = LF.dice_ce_loss(x, y, lambda_ce=0.0, lambda_dice=2.0)
    torch.testing.assert_close(out, 2.0 * LF.dice_loss(x, y), rtol=1e-12, atol=0.0)
