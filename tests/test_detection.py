"""Box-regression losses: torchvision parity, torchvision's own expectations, formats, degenerate boxes, errors.

References: ``tests/torchvision_boxes.py`` (torchvision's GIoU/DIoU/CIoU code,
ported operation for operation because torchvision does not import beside torch
2.13), ``tests/reference/detection.py`` (float64 NumPy formulas) and shapely
(polygon areas, for IoU).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

import losskit as lk
import losskit.functional as LF
from losskit import detection
from losskit.detection import BOX_FORMATS

from . import torchvision_boxes as tv
from .boxes import random_pairs, to_format
from .parity import REDUCTIONS
from .reference import detection as ref_det

LOSSES = {"iou": LF.iou_loss, "giou": LF.giou_loss, "diou": LF.diou_loss, "ciou": LF.ciou_loss, "eiou": LF.eiou_loss}
TORCHVISION = {
    "giou": (LF.giou_loss, tv.generalized_box_iou_loss),
    "diou": (LF.diou_loss, tv.distance_box_iou_loss),
    "ciou": (LF.ciou_loss, tv.complete_box_iou_loss),
}


def _f64(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.float64)


def _pairs(seed: int, lead=(40,), box_format="xyxy"):
    pred, target = random_pairs(np.random.default_rng(seed), lead, box_format)
    return _f64(pred), _f64(target)


def _special_pairs():
    """Nested, identical (ties everywhere), touching, sharing an edge, disjoint and corner-overlapping boxes."""
    rows = [
        ([0.0, 0.0, 4.0, 4.0], [1.0, 1.0, 2.0, 3.0]),
        ([1.0, 2.0, 3.0, 5.0], [1.0, 2.0, 3.0, 5.0]),
        ([0.0, 0.0, 1.0, 1.0], [1.0, 0.0, 2.0, 1.0]),
        ([0.0, 0.0, 2.0, 1.0], [0.0, 0.0, 3.0, 2.0]),
        ([0.0, 0.0, 1.0, 1.0], [5.0, 6.0, 7.0, 9.0]),
        ([0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0]),
    ]
    return _f64([r[0] for r in rows]), _f64([r[1] for r in rows])


def _value_and_grads(fn, pred, target, grad_out=None, **kw):
    a, b = pred.clone().requires_grad_(), target.clone().requires_grad_()
    out = fn(a, b, **kw)
    g = grad_out if grad_out is not None else torch.ones_like(out)
    ga, gb = torch.autograd.grad(out, (a, b), g)
    return out.detach(), ga, gb


# ---------------------------------------------------------------------------------------------
# torchvision parity (float64, rtol 1e-6): values and gradients, every reduction
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TORCHVISION))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("lead", [(), (40,), (3, 5)], ids=str)
def test_torchvision_parity(name, reduction, lead):
    ours, theirs = TORCHVISION[name]
    pred, target = _pairs(sum(map(ord, name)) + len(lead), lead)
    grad_out = torch.randn(lead, dtype=torch.float64) if reduction == "none" else None
    v1, ga1, gb1 = _value_and_grads(ours, pred, target, grad_out, reduction=reduction)
    v2, ga2, gb2 = _value_and_grads(theirs, pred, target, grad_out, reduction=reduction)
    torch.testing.assert_close(v1, v2, rtol=1e-6, atol=0)
    torch.testing.assert_close(ga1, ga2, rtol=1e-6, atol=1e-12)
    torch.testing.assert_close(gb1, gb2, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_torchvision_parity_at_ties_and_touching_boxes(name):
    """Identical boxes (every max/min ties: torch splits the gradient), nested, touching (no gradient through I)."""
    ours, theirs = TORCHVISION[name]
    pred, target = _special_pairs()
    grad_out = torch.randn(len(pred), dtype=torch.float64)
    for x, y in zip(
        _value_and_grads(ours, pred, target, grad_out, reduction="none"),
        _value_and_grads(theirs, pred, target, grad_out, reduction="none"),
    ):
        torch.testing.assert_close(x, y, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_torchvision_parity_second_derivatives(name):
    """Hessian-vector products equal torchvision's (CIoU's alpha is a constant in both)."""
    ours, theirs = TORCHVISION[name]
    pred, target = _pairs(7, (12,))
    v = torch.randn_like(pred)
    hv = []
    for fn in (ours, theirs):
        a, b = pred.clone().requires_grad_(), target.clone().requires_grad_()
        (ga,) = torch.autograd.grad(fn(a, b, reduction="sum"), a, create_graph=True)
        hv.append(torch.autograd.grad((ga * v).sum(), (a, b)))
    for x, y in zip(*hv):
        torch.testing.assert_close(x, y, rtol=1e-6, atol=1e-12)


def test_ciou_eps_reaches_every_term():
    """torchvision's CIoU uses its default eps inside IoU and c² whatever eps is passed; losskit uses eps everywhere."""
    pred, target = _pairs(3, (10,))
    for eps in (1e-7, 1e-2):
        ours = LF.ciou_loss(pred, target, eps=eps, reduction="none")
        np.testing.assert_allclose(ours.numpy(), ref_det.ciou_values(pred.numpy(), target.numpy(), eps=eps), rtol=1e-9)
    torch.testing.assert_close(LF.ciou_loss(pred, target, reduction="none"), tv.complete_box_iou_loss(pred, target))
    assert not torch.allclose(
        LF.ciou_loss(pred, target, eps=1e-2, reduction="none"), tv.complete_box_iou_loss(pred, target, eps=1e-2)
    )


# ---------------------------------------------------------------------------------------------
# torchvision's own test cases (test/test_ops.py: TestGeneralizedBoxIouLoss, TestDistanceBoxIouLoss,
# TestCompleteBoxIouLoss), with reduction="none" where torchvision's default is "none"
# ---------------------------------------------------------------------------------------------


def _torchvision_boxes(dtype):
    box1 = torch.tensor([-1, -1, 1, 1], dtype=dtype)
    box2 = torch.tensor([0, 0, 1, 1], dtype=dtype)
    box3 = torch.tensor([0, 1, 1, 2], dtype=dtype)
    box4 = torch.tensor([1, 1, 2, 2], dtype=dtype)
    return box1, box2, box3, box4, torch.stack([box2, box2]), torch.stack([box3, box4])


def _expect(fn, a, b, expected, reduction="none"):
    out = fn(a, b, reduction=reduction)
    assert out.dtype == torch.float32  # half boxes compute in float32
    torch.testing.assert_close(out, torch.tensor(expected))


@pytest.mark.parametrize("dtype", [torch.float32, torch.half], ids=str)
def test_torchvision_giou_expectations(dtype):
    box1, box2, box3, box4, box1s, box2s = _torchvision_boxes(dtype)
    _expect(LF.giou_loss, box1, box1, 0.0)  # identical boxes
    _expect(LF.giou_loss, box1, box2, 0.75)  # quarter-size box inside: IoU 0.25
    _expect(LF.giou_loss, box2, box3, 1.0)  # side by side: IoU 0, GIoU 0
    _expect(LF.giou_loss, box2, box4, 1.5)  # diagonally adjacent: GIoU -0.5
    _expect(LF.giou_loss, box1s, box2s, 2.5, "sum")
    _expect(LF.giou_loss, box1s, box2s, 1.25, "mean")
    with pytest.raises(ValueError, match="(?i)invalid"):
        LF.giou_loss(box1s, box2s, reduction="xyz")


@pytest.mark.parametrize("fn", [LF.diou_loss, LF.ciou_loss], ids=["diou", "ciou"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.half], ids=str)
def test_torchvision_diou_ciou_expectations(fn, dtype):
    box1, box2, box3, box4, box1s, box2s = _torchvision_boxes(dtype)
    _expect(fn, box1, box1, 0.0)
    _expect(fn, box1, box2, 0.8125)
    _expect(fn, box1, box3, 1.1923)
    _expect(fn, box1, box4, 1.2500)
    _expect(fn, box1s, box2s, 1.2250, "mean")
    _expect(fn, box1s, box2s, 2.4500, "sum")
    with pytest.raises(ValueError, match="(?i)invalid"):
        fn(box1s, box2s, reduction="xyz")


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("dtype", [torch.float32, torch.half], ids=str)
def test_torchvision_empty_inputs(name, dtype):
    """torchvision's assert_empty_loss, for every box loss: "mean" of nothing is 0 with a working backward."""
    fn = LOSSES[name]
    box1 = torch.randn([0, 4], dtype=dtype).requires_grad_()
    box2 = torch.randn([0, 4], dtype=dtype).requires_grad_()
    loss = fn(box1, box2, reduction="mean")
    loss.backward()
    torch.testing.assert_close(loss, torch.tensor(0.0))
    assert box1.grad is not None and box2.grad is not None
    assert fn(box1, box2, reduction="none").numel() == 0


# ---------------------------------------------------------------------------------------------
# independent references: NumPy formulas, shapely areas; CIoU's gradient with alpha frozen
# ---------------------------------------------------------------------------------------------


def test_iou_against_shapely():
    shapely = pytest.importorskip("shapely")
    pred, target = _pairs(11, (50,))
    expected = []
    for p, t in zip(pred.tolist(), target.tolist()):
        a, b = shapely.box(*p), shapely.box(*t)
        expected.append(1.0 - a.intersection(b).area / (a.union(b).area + 1e-7))
    np.testing.assert_allclose(LF.iou_loss(pred, target, reduction="none").numpy(), expected, rtol=1e-9, atol=1e-12)


def test_ciou_gradient_is_the_derivative_with_alpha_frozen():
    """Central differences of diou + alpha0 · v with alpha0 fixed at the evaluation point (NumPy, float64)."""
    pred, target = _pairs(5, (6,))
    p0 = ref_det._parts(pred.numpy(), target.numpy(), "xyxy", 1e-7)

    def v_of(x):
        p = ref_det._parts(x, target.numpy(), "xyxy", 1e-7)
        return 4.0 / np.pi**2 * (np.arctan2(p["wg"], p["hg"]) - np.arctan2(p["w"], p["h"])) ** 2

    v0 = v_of(pred.numpy())
    alpha0 = v0 / (1.0 - p0["iou"] + v0 + 1e-7)

    def frozen(x):
        return (ref_det.diou_values(x, target.numpy()) + alpha0 * v_of(x)).sum()

    x0, h = pred.numpy(), 1e-6
    numeric = np.zeros_like(x0)
    for idx in np.ndindex(*x0.shape):
        up, down = x0.copy(), x0.copy()
        up[idx] += h
        down[idx] -= h
        numeric[idx] = (frozen(up) - frozen(down)) / (2 * h)
    _, ga, _ = _value_and_grads(LF.ciou_loss, pred, target, reduction="sum")
    np.testing.assert_allclose(ga.numpy(), numeric, rtol=1e-5, atol=1e-8)


# ---------------------------------------------------------------------------------------------
# formats, shapes, layouts
# ---------------------------------------------------------------------------------------------


def _to_xyxy_torch(boxes: torch.Tensor, box_format: str) -> torch.Tensor:
    p, s = boxes[..., :2], boxes[..., 2:]
    if box_format == "xyxy":
        return boxes
    if box_format == "xywh":
        return torch.cat([p, p + s], -1)
    return torch.cat([p - s * 0.5, p + s * 0.5], -1)


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("box_format", BOX_FORMATS)
def test_formats_equal_converting_to_xyxy_first(name, box_format):
    """Values and gradients (through the conversion) equal those of converting to xyxy first."""
    fn = LOSSES[name]
    pred, target = _pairs(21, (2, 7), box_format)
    grad_out = torch.randn(2, 7, dtype=torch.float64)
    direct = _value_and_grads(fn, pred, target, grad_out, box_format=box_format, reduction="none")
    converted = _value_and_grads(
        lambda a, b, **kw: fn(_to_xyxy_torch(a, box_format), _to_xyxy_torch(b, box_format), **kw),
        pred,
        target,
        grad_out,
        reduction="none",
    )
    for x, y in zip(direct, converted):
        torch.testing.assert_close(x, y, rtol=1e-12, atol=1e-14)


def test_formats_describe_the_same_boxes():
    pred, target = _pairs(2, (9,))
    for fn in LOSSES.values():
        base = fn(pred, target, reduction="none")
        for box_format in ("xywh", "cxcywh"):
            p, t = (_f64(to_format(x.numpy(), box_format)) for x in (pred, target))
            torch.testing.assert_close(fn(p, t, box_format=box_format, reduction="none"), base, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_none_keeps_the_leading_shape_and_layouts(name):
    fn = LOSSES[name]
    pred, target = _pairs(4, (2, 3, 5))
    assert fn(pred, target, reduction="none").shape == (2, 3, 5)
    assert fn(pred[0, 0, 0], target[0, 0, 0], reduction="none").shape == ()
    assert fn(pred[:, :0], target[:, :0], reduction="none").shape == (2, 0, 5)
    # non-contiguous inputs (a slice of a wider tensor, a transposed batch) give the same numbers and gradients
    wide = torch.cat([pred, torch.zeros_like(pred)], -1)[..., :4]
    swapped = pred.transpose(0, 1).contiguous().transpose(0, 1)
    base = _value_and_grads(fn, pred, target, reduction="sum")
    for p in (wide, swapped):
        for x, y in zip(_value_and_grads(fn, p, target, reduction="sum"), base):
            torch.testing.assert_close(x, y, rtol=1e-14, atol=0)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradient_paths_agree(name):
    """Per-box gradients from the forward pass == the differentiable recomputation (create_graph); no-grad values match."""
    fn = LOSSES[name]
    for box_format in BOX_FORMATS:
        pred, target = _pairs(8, (10,), box_format)
        a, b = pred.clone().requires_grad_(), target.clone().requires_grad_()
        fast = torch.autograd.grad(fn(a, b, box_format=box_format, reduction="sum"), (a, b))
        slow = torch.autograd.grad(fn(a, b, box_format=box_format, reduction="sum"), (a, b), create_graph=True)
        for x, y in zip(fast, slow):
            torch.testing.assert_close(x, y, rtol=1e-12, atol=1e-14)
        with torch.no_grad():
            plain = fn(a, b, box_format=box_format, reduction="none")
        torch.testing.assert_close(plain, fn(a, b, box_format=box_format, reduction="none").detach(), rtol=0, atol=0)
        # only the target requires grad
        t = target.clone().requires_grad_()
        (gt,) = torch.autograd.grad(fn(pred, t, box_format=box_format, reduction="sum"), t)
        torch.testing.assert_close(gt, fast[1], rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_chunks_give_the_same_numbers(name, monkeypatch):
    """Large batches run in chunks: chunk boundaries change no number, and a bad box in a late chunk is found."""
    fn = LOSSES[name]
    pred, target = _pairs(12, (3, 13), "cxcywh")
    grad_out = torch.randn(3, 13, dtype=torch.float64)
    whole = _value_and_grads(fn, pred, target, grad_out, box_format="cxcywh", reduction="none")
    monkeypatch.setattr(detection, "_chunk_size", lambda m, device: 5)
    chunked = _value_and_grads(fn, pred, target, grad_out, box_format="cxcywh", reduction="none")
    for x, y in zip(chunked, whole):  # to rounding: SIMD kernels treat a short chunk's tail with scalar code
        torch.testing.assert_close(x, y, rtol=1e-14, atol=1e-16)
    bad = target.clone()
    bad[2, 11, 3] = -0.5
    with pytest.raises(
        ValueError, match=rf"{name}_loss: target has a box with a negative width or height at index \(2, 11\)"
    ):
        fn(pred, bad, box_format="cxcywh")


# ---------------------------------------------------------------------------------------------
# degenerate boxes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_identical_boxes_give_zero(name):
    pred, _ = _pairs(6, (20,))
    area = (pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1])
    for dtype, tol in ((torch.float64, 1e-15), (torch.float32, 1e-6)):
        out, ga, _ = _value_and_grads(LOSSES[name], pred.to(dtype), pred.to(dtype), reduction="none")
        assert (out.double() <= 1e-7 / area + tol).all()  # eps / area: torchvision's IoU = A / (A + eps)
        assert (out >= 0).all() and torch.isfinite(ga).all()


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("box_format", BOX_FORMATS)
def test_zero_area_boxes_are_finite_and_match_the_reference(name, box_format):
    xyxy_pred = np.array(
        [[1, 1, 1, 3], [1, 1, 3, 1], [2, 2, 2, 2], [2, 2, 2, 2], [0, 0, 0, 0], [0, 0, 4, 4]], dtype=np.float64
    )
    xyxy_target = np.array(
        [[0, 0, 2, 2], [1, 1, 3, 1], [2, 2, 2, 2], [0, 0, 1, 1], [0, 0, 0, 0], [2, 2, 2, 2]], dtype=np.float64
    )
    pred, target = _f64(to_format(xyxy_pred, box_format)), _f64(to_format(xyxy_target, box_format))
    out, ga, gb = _value_and_grads(LOSSES[name], pred, target, box_format=box_format, reduction="none")
    assert torch.isfinite(out).all() and torch.isfinite(ga).all() and torch.isfinite(gb).all()
    expected = getattr(ref_det, f"{name}_values")(pred.numpy(), target.numpy(), box_format)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_ciou_is_finite_where_torchvision_is_nan():
    pred = _f64([[1.0, 1.0, 3.0, 1.0], [2.0, 2.0, 2.0, 2.0]])  # zero height; a point
    target = _f64([[0.0, 0.0, 2.0, 2.0], [2.0, 2.0, 2.0, 2.0]])
    _, tv_grad, _ = _value_and_grads(tv.complete_box_iou_loss, pred, target, reduction="sum")
    assert torch.isnan(tv_grad).any()
    out, ga, gb = _value_and_grads(LF.ciou_loss, pred, target, reduction="none")
    assert torch.isfinite(out).all() and torch.isfinite(ga).all() and torch.isfinite(gb).all()
    # where torchvision's value is finite (zero height: atan(w / 0) = π/2) the values agree
    torch.testing.assert_close(out[0], tv.complete_box_iou_loss(pred, target)[0])


# ---------------------------------------------------------------------------------------------
# errors and data checks
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_errors_name_function_and_argument(name):
    fn, cls = LOSSES[name], lk.get_class(name)
    boxes = torch.rand(3, 4)
    boxes[:, 2:] += boxes[:, :2]
    with pytest.raises(ValueError, match=rf"^{name}_loss: input must have shape \(\.\.\., 4\).*got \(3, 3\)"):
        fn(boxes[:, :3], boxes[:, :3])
    with pytest.raises(ValueError, match=rf"^{name}_loss: target must have the input's shape"):
        fn(boxes, boxes[:2])
    with pytest.raises(ValueError, match=rf"^{name}_loss: box_format must be 'xyxy' or 'xywh' or 'cxcywh'"):
        fn(boxes, boxes, box_format="ltrb")
    with pytest.raises(ValueError, match=rf"^{cls.__name__}: box_format must be"):
        cls(box_format="ltrb")
    with pytest.raises(ValueError, match=rf"^{name}_loss: eps must be in \(0, inf\); got -1"):
        fn(boxes, boxes, eps=-1)
    with pytest.raises(ValueError, match=rf"^{cls.__name__}: eps must be in \(0, inf\)"):
        cls(eps=0.0)


def test_bad_boxes_raise_on_cpu_even_with_validation_off():
    good = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 2.0, 2.0]])
    bad = good.clone()
    bad[1, 3] = -1.0  # y2 < y1
    with lk.validation(False):
        with pytest.raises(ValueError, match=r"giou_loss: input has a box with x2 < x1 or y2 < y1 at index \(1,\)"):
            LF.giou_loss(bad, good)
    nan = good.clone()
    nan[0, 0] = float("nan")
    assert torch.isnan(LF.giou_loss(nan, good))  # NaN is not a bad box: it propagates


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("checks", [False, True], ids=["validation off", "validation on"])
def test_no_data_read_off_the_host(name, checks):
    """Off the CPU nothing reads box values on the host, with validation off or on (the check is then a
    device-side assertion; test_sync_free.py checks that it fires): meta tensors cannot be read, any read fails."""
    pred = torch.empty(8, 4, device="meta", requires_grad=True)
    target = torch.empty(8, 4, device="meta")
    with lk.validation(checks):
        out = LOSSES[name](pred, target)
        out.backward()
    assert out.device.type == "meta" and pred.grad.shape == (8, 4)


# ---------------------------------------------------------------------------------------------
# torch.compile
# ---------------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("g++") is None and shutil.which("c++") is None, reason="inductor needs a C++ compiler")
def test_compile_inductor_ciou():
    """The fused Function through the real inductor backend (fullgraph): values and gradients equal eager."""
    torch._dynamo.reset()
    pred, target = _pairs(9, (64,))
    pred, target = pred.float(), target.float()
    module = lk.CIoULoss(box_format="xyxy")
    compiled = torch.compile(module, fullgraph=True)
    a1, a2 = pred.clone().requires_grad_(), pred.clone().requires_grad_()
    eager, out = module(a1, target), compiled(a2, target)
    eager.backward()
    out.backward()
    torch.testing.assert_close(out, eager, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a2.grad, a1.grad, rtol=1e-5, atol=1e-6)
