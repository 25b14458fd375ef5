r"""Box regression losses: IoU, GIoU, DIoU, CIoU and EIoU.

Every functional takes ``(input, target)`` of shape ``(..., 4)`` — any leading
batch shape, one box per row — in ``box_format``:

* ``"xyxy"``: ``(x1, y1, x2, y2)``, corners, with ``x1 <= x2`` and ``y1 <= y2``;
* ``"xywh"``: ``(x1, y1, width, height)``;
* ``"cxcywh"``: ``(centre x, centre y, width, height)``.

Results are those of converting to ``xyxy`` first (``x2 = x1 + w``,
``x1 = cx - w / 2``, ``x2 = cx + w / 2``; gradients flow back through the
conversion). ``reduction="none"`` returns the leading shape ``(...)``.

Conventions, kept so that the numbers are torchvision's
(``torchvision.ops.generalized_box_iou_loss``, ``distance_box_iou_loss``,
``complete_box_iou_loss``) for ``xyxy`` boxes:

* ``IoU = I / (U + eps)``; GIoU adds ``(C - U) / (C + eps)`` with ``C`` the
  enclosing box's area; DIoU adds ``ρ² / (c² + eps)`` with ``ρ`` the distance
  of the centres and ``c`` the enclosing box's diagonal; CIoU adds ``α v`` with
  ``v = 4/π² (atan(w_gt/h_gt) - atan(w/h))²`` and
  ``α = v / (1 - IoU + v + eps)`` computed without gradient.
* The intersection is ``iw · ih`` where both are positive and 0 otherwise,
  with the gradient of torchvision's masked form (none where the boxes only
  touch); at ties of ``max``/``min`` the gradient is split evenly, as torch
  splits it.
* EIoU (Zhang et al. 2022) is
  ``1 - IoU + ρ²/(c² + eps) + (w - w_gt)²/(C_w² + eps) + (h - h_gt)²/(C_h² + eps)``
  with ``C_w``, ``C_h`` the enclosing box's width and height, ``c² = C_w² + C_h²``.

Degenerate boxes: zero-width, zero-height and point boxes give a finite loss
and finite gradients in every loss (torchvision's CIoU divides ``w / h`` and
returns NaN there; losskit writes ``atan(w/h)`` as ``atan2(w, h)``, equal for
``h > 0``, ``π/2`` for a zero height and 0 for a point box). Identical boxes
give 0 up to ``eps / area`` (torchvision's eps placement: ``IoU = A / (A + eps)``).

Boxes with ``x2 < x1`` or ``y2 < y1`` (a negative width or height in the other
formats) raise ``ValueError`` while data checks run (always on CPU; on an
accelerator until ``losskit.set_validation(False)``, after which the loss costs
no host synchronisation). NaN propagates.

The five losses share one fused autograd Function. Boxes are copied chunk by
chunk into coordinate-major rows (``x1, y1, x2, y2`` as contiguous rows, so
every operation is vectorised and reads only the coordinates it needs); the
forward pass computes the loss and, from the same intermediates, each box's
gradient, which it keeps (4 numbers per box); the backward pass only scales
those by the incoming gradient. On CPU (one thread, float32) this runs
forward + backward in about 0.35x torchvision's time at 1e4 boxes and 0.25x
at 1e6, with less peak memory (about a fifth at 1e6 boxes); see
``benchmarks/detection.py`` and the README. Under ``create_graph=True`` the gradient is
recomputed from the boxes with differentiable operations, so second
derivatives are exact (with CIoU's ``α`` held constant, as in the first
derivative and in torchvision).

float16/bfloat16 boxes compute in float32 and the loss is float32.
"""

from __future__ import annotations

import math
from typing import Any, List, Optional, Tuple

import torch

from ._core import checks
from ._core.reduction import reduce_loss
from ._core.spec import Curve, loss
from ._core.validation import (
    data_checks_active,
    fmt_shape,
    functorch_transforms_active,
    host_readable,
    prepare_pair,
    require,
)

__all__ = ["iou_loss", "giou_loss", "diou_loss", "ciou_loss", "eiou_loss"]

FAMILY = "detection"
BOX_FORMATS = ("xyxy", "xywh", "cxcywh")
BOX_FORMAT = checks.one_of(*BOX_FORMATS)

_IOU, _GIOU, _DIOU, _CIOU, _EIOU = range(5)
_CIOU_K = 4.0 / math.pi**2


# ---------------------------------------------------------------------------------------------
# private helpers: format conversion, validation, the fused Function
# ---------------------------------------------------------------------------------------------


def _corners(boxes: torch.Tensor, box_format: str) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(lo, hi)``: the ``(x1, y1)`` and ``(x2, y2)`` corners, each ``(..., 2)``."""
    first, second = boxes[..., :2], boxes[..., 2:]
    if box_format == "xyxy":
        return first, second
    if box_format == "xywh":
        return first, first + second
    half = second * 0.5
    return first - half, first + half


def _corner_grads_to_format(grad_lo: torch.Tensor, grad_hi: torch.Tensor, box_format: str) -> torch.Tensor:
    """Map gradients with respect to the corners back to the box format's coordinates."""
    if box_format == "xyxy":
        return torch.cat((grad_lo, grad_hi), -1)
    if box_format == "xywh":  # lo = p, hi = p + s
        return torch.cat((grad_lo + grad_hi, grad_hi), -1)
    # lo = c - s/2, hi = c + s/2
    return torch.cat((grad_lo + grad_hi, (grad_hi - grad_lo) * 0.5), -1)


def _check_boxes(fn: str, box_format: str, a: torch.Tensor, b: torch.Tensor, lows: List[torch.Tensor]) -> None:
    """Raise when a box has a negative width or height; ``lows`` are the chunks' minima (one host read on CPU)."""
    if not lows:
        return
    if not host_readable(a):  # on an accelerator: a device-side check (NaN compares False and passes)
        require(
            ~(torch.stack(lows).amin(0) < 0),
            f"{fn}: input or target has a box with a negative width or height (box_format={box_format!r})",
        )
        return
    low = torch.stack(lows).amin(0).tolist()  # NaN compares False: NaN boxes pass through
    for name, value, boxes in zip(("input", "target"), low, (a, b)):
        if value < 0:
            t = _coordinate_major(boxes, box_format)
            flat = int(torch.nonzero(((t[2:] - t[:2]) < 0).any(0))[0])
            shape = tuple(boxes.shape[:-1])
            index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), shape)) if shape else ()
            where = f" at index {index}" if index else ""
            if box_format == "xyxy":
                raise ValueError(
                    f"{fn}: {name} has a box with x2 < x1 or y2 < y1{where}; "
                    f"'xyxy' boxes need x1 <= x2 and y1 <= y2 (pass box_format= for other layouts)"
                )
            raise ValueError(
                f"{fn}: {name} has a box with a negative width or height{where}; "
                f"{box_format!r} boxes need width >= 0 and height >= 0"
            )


def _coordinate_major(boxes: torch.Tensor, box_format: str) -> torch.Tensor:
    """A fresh contiguous ``(4, M)`` copy of ``boxes (..., 4)`` as ``x1, y1, x2, y2`` rows.

    Every later operation then runs over contiguous rows (vectorised, and
    reading only the coordinates it needs) instead of stride-4 views.
    """
    t = torch.stack(boxes.reshape(-1, 4).unbind(1))  # a new tensor; twice as fast as t().contiguous() on CPU
    if box_format == "xywh":
        t[2:] += t[:2]
    elif box_format == "cxcywh":
        half = t[2:] * 0.5
        torch.add(t[:2], half, out=t[2:])
        t[:2] -= half
    return t


def _to_format(grad: torch.Tensor, box_format: str) -> torch.Tensor:
    """Gradients ``(4, M)`` with respect to the corners, mapped back to the format's coordinates (in place)."""
    if box_format == "xywh":  # lo = p, hi = p + s
        grad[:2] += grad[2:]
    elif box_format == "cxcywh":  # lo = c - s/2, hi = c + s/2
        lo, hi = grad[:2].clone(), grad[2:]
        grad[:2] += hi
        hi.sub_(lo).mul_(0.5)
    return grad


def _fused(
    a: torch.Tensor,
    b: torch.Tensor,
    box_format: str,
    kind: int,
    eps: float,
    *,
    grad_a: bool = False,
    grad_b: bool = False,
    lows: Optional[List[torch.Tensor]] = None,
) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
    """The loss ``(M,)`` of boxes ``a``, ``b`` ``(M, 4)`` in ``box_format``, and its local gradients.

    With ``grad_a`` / ``grad_b`` it also returns ``∂loss_m/∂a_m`` and ``∂loss_m/∂b_m`` as ``(4, M)``
    tensors in ``box_format``'s coordinates, computed in the same pass from the same intermediates
    (the backward pass then only scales them by the incoming gradient). With ``lows`` it appends the
    smallest width or height of ``a`` and of ``b`` (a ``(2,)`` tensor, no sync). Nothing here records
    a graph.
    """
    ta, tb = _coordinate_major(a, box_format), _coordinate_major(b, box_format)  # (4, M) corners
    lo_a, hi_a, lo_b, hi_b = ta[:2], ta[2:], tb[:2], tb[2:]
    wh_a = hi_a - lo_a
    wh_b = hi_b - lo_b
    if lows is not None:
        lows.append(torch.stack((wh_a.amin(), wh_b.amin())))
    grads = grad_a or grad_b
    hi_min = torch.minimum(hi_a, hi_b)
    iwh_raw = hi_min.sub_(torch.maximum(lo_a, lo_b))  # intersection width and height (may be negative)
    # torchvision's mask: I has a gradient only where both sides are positive (none where boxes only touch)
    overlaps = iwh_raw > 0 if grads else None
    iwh = iwh_raw.clamp_(min=0)
    inter = iwh[0] * iwh[1]
    union = torch.mul(wh_a[0], wh_a[1]).addcmul_(wh_b[0], wh_b[1]).sub_(inter)
    ue = union + eps
    iou = inter.div_(ue)  # I / (U + eps); ``inter`` is not needed again
    loss = torch.sub(1.0, iou)
    # the value: the same operations with and without gradients, so both paths give the same bits
    if kind == _GIOU:
        ewh = torch.maximum(hi_a, hi_b).sub_(torch.minimum(lo_a, lo_b))  # enclosing box's width and height
        area_c = ewh[0] * ewh[1]
        gap = area_c - union
        q = area_c.add_(eps).reciprocal_()  # 1 / (C + eps)
        loss.addcmul_(gap, q)  # (C - U) / (C + eps)
    elif kind != _IOU:
        ewh = torch.maximum(hi_a, hi_b).sub_(torch.minimum(lo_a, lo_b))
        ewh2 = ewh.square() if grads else ewh.square_()
        rc = torch.add(ewh2[0], ewh2[1]).add_(eps).reciprocal_()  # 1 / (c² + eps)
        d = (lo_a + hi_a).sub_(lo_b).sub_(hi_b)  # 2 Δcentre
        dist = d.square().sum(0).mul_(0.25).mul_(rc)  # ρ² / (c² + eps)
        loss.add_(dist)
        if kind == _CIOU:
            w_a, h_a, w_b, h_b = wh_a[0], wh_a[1], wh_b[0], wh_b[1]
            diff = torch.atan2(w_b, h_b).sub_(torch.atan2(w_a, h_a))
            v = diff.square().mul_(_CIOU_K)
            alpha = v / (v - iou).add_(1.0 + eps)  # a constant for the gradient, as in torchvision
            loss.addcmul_(alpha, v)
        elif kind == _EIOU:
            ce = ewh2.add_(eps).reciprocal_()  # 1 / (C_w² + eps), 1 / (C_h² + eps)
            dwh = wh_a - wh_b
            p = dwh.square().mul_(ce)
            loss.add_(p[0]).add_(p[1])
    if not grads:
        return loss, None, None
    assert overlaps is not None
    sgn = ta.sub_(tb).sign_()  # max/min pick a (+1/-1) or split a tie evenly (0), as torch does; ta is a copy
    del ta, tb, lo_a, hi_a, lo_b, hi_b, hi_min  # free what the gradient does not need
    if kind != _GIOU:
        del union

    # ∂L/∂A (both areas, through U) and ∂L/∂I of the IoU term: I/(U+eps)² and -(U+eps+I)/(U+eps)²
    r = ue.reciprocal_()
    g_area = iou * r
    g_inter = (iou + 1.0).mul_(r).neg_()
    del iou, r  # (dead temporaries are dropped as the gradient goes: a chunk's peak stays low)
    g_ewh: Optional[torch.Tensor] = None
    g_d: Optional[torch.Tensor] = None
    g_wh_a = g_wh_b = None  # extra ∂L/∂(w, h) beyond the area term
    if kind == _GIOU:
        g_c = union.add_(eps).mul_(q).mul_(q)  # ∂/∂C = (U + eps)/(C + eps)²
        g_ewh = torch.stack((g_c * ewh[1], g_c * ewh[0]))
        g_area.sub_(q)  # ∂/∂U = -1/(C + eps)
        g_inter.add_(q)
    elif kind != _IOU:
        g_d = d.mul_(rc * 0.5)  # ∂/∂(2 Δcentre) = 2 Δcentre / (2 (c² + eps))
        g_ewh = ewh * dist.mul_(rc).mul_(-2.0)  # ∂/∂(C_w, C_h) through c²
        del dist, rc
        if kind != _EIOU:
            del ewh2
        if kind == _CIOU:
            g_t = alpha.mul_(diff).mul_(2.0 * _CIOU_K)  # ∂/∂atan2(w_b, h_b); ∂/∂atan2(w_a, h_a) is its negative
            tiny = torch.finfo(w_a.dtype).tiny
            ra = g_t / torch.addcmul(w_a * w_a, h_a, h_a).clamp_(min=tiny)
            rb = g_t / torch.addcmul(w_b * w_b, h_b, h_b).clamp_(min=tiny)
            g_wh_a = torch.stack((-h_a * ra, w_a * ra))  # atan2(w, h)' = (h, -w) / (w² + h²), 0 at a point box
            g_wh_b = torch.stack((h_b * rb, -w_b * rb))
            del ra, rb, g_t, diff, v
        elif kind == _EIOU:
            g_wh_a = dwh.mul_(ce).mul_(2.0)
            g_wh_b = -g_wh_a
            g_ewh.addcmul_(p, ewh.mul_(ce), value=-2.0)
    g_iwh = torch.stack((iwh[1], iwh[0])).mul_(g_inter).mul_(overlaps)
    del iwh, overlaps, g_inter
    if g_ewh is None:  # IoU: mean = g_iwh / 2, half = -g_iwh / 2
        mean = g_iwh.mul_(0.5)
        half = -mean
    else:
        mean = (g_iwh + g_ewh).mul_(0.5)
        half = g_ewh.sub_(g_iwh).mul_(0.5)
        del g_iwh, g_ewh
    hs = sgn.view(2, 2, -1).mul_(half)
    out: List[Optional[torch.Tensor]] = []
    for wanted, wh, g_wh, sign in ((grad_a, wh_a, g_wh_a, 1.0), (grad_b, wh_b, g_wh_b, -1.0)):
        if not wanted:
            out.append(None)
            continue
        k = torch.stack((wh[1], wh[0])).mul_(g_area)  # ∂/∂(w, h) through the area
        if kind == _IOU:
            # a box of infinite width (a ±inf side) against a finite one: U = ∞, so ∂L/∂A = I / U² = 0 and
            # w · ∂L/∂A is ∞ · 0; its limit is 0 (I · w / (w h)² -> 0). Where the IoU term is the whole loss,
            # ∂L/∂A = 0 means the area term is 0 for any width (a NaN input makes ∂L/∂A NaN, not 0)
            k.masked_fill_(g_area == 0, 0.0)
        k.add_(mean)  # plus the min/max mean
        if g_wh is not None:
            k.add_(g_wh)
        last = sign < 0 or not grad_b
        g = sgn if last else torch.empty_like(sgn)  # the last side writes over hs
        torch.mul(hs, sign, out=g.view(2, 2, -1))
        g[:2] -= k
        g[2:] += k
        if g_d is not None:
            g.view(2, 2, -1).add_(g_d, alpha=sign)
        out.append(_to_format(g, box_format))
    return loss, out[0], out[1]


def _safe_atan2_grads(w: torch.Tensor, h: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(∂/∂w, ∂/∂h)`` of ``atan2(w, h)``: ``(h, -w) / (w² + h²)``, and 0 at a point box (w = h = 0)."""
    r = (w * w + h * h).clamp(min=torch.finfo(w.dtype).tiny)
    return h / r, -w / r


def _flip(t: torch.Tensor) -> torch.Tensor:
    """``(a, b) -> (b, a)`` over the last dimension of a ``(..., 2)`` tensor."""
    return t.flip(-1)


def _backward(
    a: torch.Tensor, b: torch.Tensor, grad: torch.Tensor, box_format: str, kind: int, eps: float
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Analytic gradients of the unreduced loss with respect to ``a`` and ``b``, times ``grad``.

    Written with out-of-place differentiable operations, so that it can itself
    be differentiated (double backward). ``grad`` has the loss's shape ``(...)``.
    """
    lo_a, hi_a = _corners(a, box_format)
    lo_b, hi_b = _corners(b, box_format)
    wh_a = hi_a - lo_a
    wh_b = hi_b - lo_b
    s_lo = torch.sign(lo_a - lo_b)  # max/min pick a (±1) or split a tie evenly (0), as torch does
    s_hi = torch.sign(hi_a - hi_b)
    iwh_raw = torch.minimum(hi_a, hi_b) - torch.maximum(lo_a, lo_b)
    iwh = iwh_raw.clamp(min=0)
    inter = iwh[..., 0] * iwh[..., 1]
    union = wh_a[..., 0] * wh_a[..., 1] + wh_b[..., 0] * wh_b[..., 1] - inter
    ue = union + eps
    # in factors of 1 / (U + eps), as _fused: 0, not ∞ / ∞, where a box of infinite width makes U = ∞
    r = 1.0 / ue
    iou_r = inter * r * r
    g_area = grad * iou_r  # ∂L/∂A_a = ∂L/∂A_b (through U): I / (U + eps)²
    g_inter = -grad * (r + iou_r)  # through I and U = A_a + A_b - I: -(U + eps + I) / (U + eps)²
    g_ewh = None
    g_wh_a = g_area.unsqueeze(-1) * _flip(wh_a)
    g_wh_b = g_area.unsqueeze(-1) * _flip(wh_b)
    if kind == _IOU:  # as in _fused: ∂L/∂A = 0 (a box of infinite width: U = ∞) makes the area term 0, not 0 · ∞
        no_area = (g_area == 0).unsqueeze(-1)
        zero = torch.zeros((), dtype=g_wh_a.dtype, device=g_wh_a.device)
        g_wh_a, g_wh_b = torch.where(no_area, zero, g_wh_a), torch.where(no_area, zero, g_wh_b)
    g_d = None
    if kind != _IOU:
        ewh = torch.maximum(hi_a, hi_b) - torch.minimum(lo_a, lo_b)
        if kind == _GIOU:
            area_c = ewh[..., 0] * ewh[..., 1]
            cp = area_c + eps
            # (C - U) / (C + eps): ∂/∂C = (U + eps) / (C + eps)², ∂/∂U = -1 / (C + eps)
            g_ewh = (grad * (union + eps) / (cp * cp)).unsqueeze(-1) * _flip(ewh)
            g_u = grad / cp
            g_inter = g_inter + g_u
            g_wh_a = g_wh_a - g_u.unsqueeze(-1) * _flip(wh_a)
            g_wh_b = g_wh_b - g_u.unsqueeze(-1) * _flip(wh_b)
        else:
            ewh2 = ewh * ewh
            c2 = ewh2[..., 0] + ewh2[..., 1] + eps
            d = (lo_a + hi_a) - (lo_b + hi_b)  # 2 Δcentre
            rho2 = (d * d).sum(-1) * 0.25
            g_c2 = (grad / c2).unsqueeze(-1)
            g_d = g_c2 * d * 0.5
            g_ewh = -2.0 * (g_c2 * (rho2 / c2).unsqueeze(-1)) * ewh
            if kind == _CIOU:
                iou = inter / ue
                t_a = torch.atan2(wh_a[..., 0], wh_a[..., 1])
                diff = torch.atan2(wh_b[..., 0], wh_b[..., 1]) - t_a
                v = _CIOU_K * diff * diff
                alpha = (v / (1.0 - iou + v + eps)).detach()  # torchvision: alpha without gradient
                g_t = grad * alpha * (2.0 * _CIOU_K) * diff  # ∂/∂t_b; ∂/∂t_a is its negative
                dw_a, dh_a = _safe_atan2_grads(wh_a[..., 0], wh_a[..., 1])
                dw_b, dh_b = _safe_atan2_grads(wh_b[..., 0], wh_b[..., 1])
                g_wh_a = g_wh_a - g_t.unsqueeze(-1) * torch.stack((dw_a, dh_a), -1)
                g_wh_b = g_wh_b + g_t.unsqueeze(-1) * torch.stack((dw_b, dh_b), -1)
            elif kind == _EIOU:
                ce = ewh2 + eps
                dwh = wh_a - wh_b
                g_p = grad.unsqueeze(-1) * (2.0 * dwh) / ce
                g_wh_a = g_wh_a + g_p
                g_wh_b = g_wh_b - g_p
                g_ewh = g_ewh - g_p * dwh * ewh / ce
    g_iwh = g_inter.unsqueeze(-1) * _flip(iwh) * (iwh_raw > 0)  # torchvision's mask: no gradient when touching
    # iwh = min(hi) - max(lo), ewh = max(hi) - min(lo), wh = hi - lo, d = (lo + hi)_a - (lo + hi)_b
    if g_ewh is None:
        mean = g_iwh * 0.5
        half = -mean
    else:
        mean = (g_iwh + g_ewh) * 0.5
        half = (g_ewh - g_iwh) * 0.5
    k_a = mean + g_wh_a
    k_b = mean + g_wh_b
    h_lo, h_hi = half * s_lo, half * s_hi
    grad_lo_a, grad_hi_a = h_lo - k_a, h_hi + k_a
    grad_lo_b, grad_hi_b = -h_lo - k_b, -h_hi + k_b
    if g_d is not None:
        grad_lo_a, grad_hi_a = grad_lo_a + g_d, grad_hi_a + g_d
        grad_lo_b, grad_hi_b = grad_lo_b - g_d, grad_hi_b - g_d
    return (
        _corner_grads_to_format(grad_lo_a, grad_hi_a, box_format),
        _corner_grads_to_format(grad_lo_b, grad_hi_b, box_format),
    )


def _chunk_size(m: int, device: torch.device) -> int:
    """Boxes per chunk: equal chunks of at most 16384 boxes on CPU (262144 on an accelerator).

    A chunk's temporaries (about 40 floats per box) then stay in cache, and for large batches the peak
    memory is the 5 floats per box the forward pass keeps (loss and per-box gradient) plus one chunk's
    temporaries, a fraction of an autograd composition's; on an accelerator larger chunks keep the
    number of kernel launches down.
    """
    high = 1 << 14 if device.type == "cpu" else 1 << 18
    chunks = max(1, -(-m // high))
    return max(1, -(-m // chunks))


def _compute(
    a: torch.Tensor,
    b: torch.Tensor,
    box_format: str,
    kind: int,
    eps: float,
    grad_a: bool,
    grad_b: bool,
    check: Optional[str],
) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
    """Loss ``(...)`` of boxes ``(..., 4)``, and per-box gradients ``(M, 4)`` where asked, chunk by chunk."""
    a2, b2 = a.reshape(-1, 4), b.reshape(-1, 4)
    m = a2.shape[0]
    loss = torch.empty(m, dtype=a.dtype, device=a.device)
    ga = torch.empty((m, 4), dtype=a.dtype, device=a.device) if grad_a else None
    gb = torch.empty((m, 4), dtype=a.dtype, device=a.device) if grad_b else None
    lows: Optional[List[torch.Tensor]] = [] if check is not None else None
    chunk = _chunk_size(m, a.device)
    for start in range(0, m, chunk):
        end = min(m, start + chunk)
        value, la, lb = _fused(
            a2[start:end],
            b2[start:end],
            box_format,
            kind,
            eps,
            grad_a=grad_a,
            grad_b=grad_b,
            lows=lows,
        )
        loss[start:end] = value
        if ga is not None and la is not None:
            ga[start:end] = la.t()
        if gb is not None and lb is not None:
            gb[start:end] = lb.t()
    if check is not None and lows is not None:
        _check_boxes(check, box_format, a, b, lows)
    return loss.view(a.shape[:-1]), ga, gb


class _BoxLoss(torch.autograd.Function):
    """Unreduced box loss ``(...)``: the forward pass also computes the per-box gradients.

    The backward pass scales the saved per-box gradients by the incoming
    gradient. Under ``create_graph=True`` it instead recomputes them with
    differentiable operations from the saved boxes (:func:`_backward`), which
    gives exact second derivatives. Eager only: see :class:`_BoxLossComposable`.
    """

    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, b: torch.Tensor, box_format: str, kind: int, eps: float, check: Any):
        loss, ga, gb = _compute(a, b, box_format, kind, eps, ctx.needs_input_grad[0], ctx.needs_input_grad[1], check)
        ctx.save_for_backward(a, b, ga, gb)
        ctx.box_format, ctx.kind, ctx.eps = box_format, kind, eps
        return loss

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor):
        a, b, ga, gb = ctx.saved_tensors
        da: Optional[torch.Tensor]
        db: Optional[torch.Tensor]
        if torch.is_grad_enabled():  # create_graph=True: differentiable recomputation
            da, db = _backward(a, b, grad, ctx.box_format, ctx.kind, ctx.eps)
        else:
            g = grad.reshape(-1, 1)
            da = torch.mul(ga, g).view(a.shape) if ga is not None else None
            db = torch.mul(gb, g).view(b.shape) if gb is not None else None
        return (
            da if ctx.needs_input_grad[0] else None,
            db if ctx.needs_input_grad[1] else None,
            None,
            None,
            None,
            None,
        )


class _BoxLossComposable(torch.autograd.Function):
    """:class:`_BoxLoss` for torch.func transforms (``grad``, ``vjp``, ``jacrev``, ``vmap``), which refuse a
    Function without ``setup_context``.

    The forward computes the loss only (no per-box gradients to keep); the backward is :class:`_BoxLoss`'s
    ``create_graph`` gradient, :func:`_backward`, written with differentiable out-of-place operations, so the
    gradient is the eager one (torchvision's conventions: no gradient through the intersection of boxes that
    only touch, CIoU's alpha held constant) and transforms can differentiate and batch it again. The loss is
    per box, so ``vmap`` moves the batch dimension to the front and calls the Function once on the batch.
    """

    @staticmethod
    def forward(a: torch.Tensor, b: torch.Tensor, box_format: str, kind: int, eps: float) -> torch.Tensor:
        return _compute(a, b, box_format, kind, eps, False, False, None)[0]

    @staticmethod
    def setup_context(ctx: Any, inputs: Tuple[Any, ...], output: torch.Tensor) -> None:
        a, b, box_format, kind, eps = inputs
        ctx.save_for_backward(a, b)
        ctx.box_format, ctx.kind, ctx.eps = box_format, kind, eps

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor):
        a, b = ctx.saved_tensors
        da, db = _backward(a, b, grad, ctx.box_format, ctx.kind, ctx.eps)
        return (da if ctx.needs_input_grad[0] else None, db if ctx.needs_input_grad[1] else None, None, None, None)

    @staticmethod
    def vmap(info: Any, in_dims: Tuple[Optional[int], ...], a, b, box_format, kind, eps):
        # boxes (..., 4): any leading dimension is a batch of boxes, so the vmapped one joins them at the front
        a, b = (
            x.movedim(d, 0) if d is not None else x.expand(info.batch_size, *x.shape) for x, d in zip((a, b), in_dims)
        )
        return _BoxLossComposable.apply(a, b, box_format, kind, eps), 0


def _box_loss(
    fn: str,
    kind: int,
    input: torch.Tensor,
    target: torch.Tensor,
    box_format: str,
    eps: float,
    reduction: str,
    sample_weight: Optional[torch.Tensor],
) -> torch.Tensor:
    input, target = prepare_pair(fn, input, target)
    if input.dim() == 0 or input.shape[-1] != 4:
        raise ValueError(
            f"{fn}: input must have shape (..., 4), one box of 4 coordinates per row in {box_format!r} format; "
            f"got {fmt_shape(input.shape)}"
        )
    if functorch_transforms_active():  # no data check there (see _core/validation.py)
        return reduce_loss(
            _BoxLossComposable.apply(input, target, box_format, kind, float(eps)),
            reduction,
            weight=sample_weight,
            fn=fn,
        )
    check = fn if data_checks_active(input) else None
    if torch.is_grad_enabled() and (input.requires_grad or target.requires_grad):
        out = _BoxLoss.apply(input, target, box_format, kind, float(eps), check)
    else:
        out = _compute(input, target, box_format, kind, float(eps), False, False, check)[0]
    return reduce_loss(out, reduction, weight=sample_weight, fn=fn)


_REFS = "NumPy reference (tests/reference/detection.py)"

# ---------------------------------------------------------------------------------------------
# functionals
# ---------------------------------------------------------------------------------------------


@loss(
    "iou",
    family=FAMILY,
    module="IoULoss",
    aliases=("box_iou",),
    hparams={"box_format": BOX_FORMAT, "eps": checks.positive},
    curve=Curve("box_shift"),
    references=(_REFS, "shapely polygon intersection and union", "plain-torch IoU"),
)
def iou_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    box_format: str = "xyxy",
    eps: float = 1e-7,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""IoU loss, ``1 - IoU`` of predicted and target boxes.

    .. math::
        \ell = 1 - \frac{I}{U + \epsilon}, \qquad
        I = \max(0, i_w) \max(0, i_h), \quad U = A + A_\mathrm{gt} - I

    with ``i_w``, ``i_h`` the intersection's width and height. Disjoint boxes
    give 1 with a zero gradient; prefer GIoU/DIoU/CIoU when boxes start apart.

    Args:
        input: predicted boxes ``(..., 4)`` in ``box_format``.
        target: target boxes, the input's shape.
        box_format: ``"xyxy"`` (corners) | ``"xywh"`` (x1, y1, width, height) |
            ``"cxcywh"`` (centre x, centre y, width, height).
        eps: added to the union, ``> 0``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        sample_weight: optional weights broadcastable to the leading shape ``(...)``.

    Returns:
        A scalar, or the leading shape ``(...)`` with ``reduction="none"``.

    Example:
        >>> iou_loss(torch.tensor([0.0, 0.0, 2.0, 2.0]), torch.tensor([1.0, 1.0, 3.0, 3.0]))
        tensor(0.8571)

    Reference:
        Yu et al., "UnitBox: An Advanced Object Detection Network", 2016.
    """
    return _box_loss("iou_loss", _IOU, input, target, box_format, eps, reduction, sample_weight)


@loss(
    "giou",
    family=FAMILY,
    module="GIoULoss",
    aliases=("generalized_iou",),
    hparams={"box_format": BOX_FORMAT, "eps": checks.positive},
    curve=Curve("box_shift"),
    references=("torchvision.ops.generalized_box_iou_loss (inline port in the tests)", _REFS),
)
def giou_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    box_format: str = "xyxy",
    eps: float = 1e-7,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Generalized IoU loss (torchvision's ``generalized_box_iou_loss`` numbers).

    .. math::
        \ell = 1 - \frac{I}{U + \epsilon} + \frac{C - U}{C + \epsilon}

    with ``C`` the area of the smallest box enclosing both. Unlike
    torchvision the default reduction is ``"mean"`` (losskit's default
    everywhere); pass ``reduction="none"`` for torchvision's default.

    Args:
        input: predicted boxes ``(..., 4)`` in ``box_format``.
        target: target boxes, the input's shape.
        box_format: ``"xyxy"`` (corners) | ``"xywh"`` (x1, y1, width, height) |
            ``"cxcywh"`` (centre x, centre y, width, height).
        eps: added to the union and to ``C``, ``> 0``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        sample_weight: optional weights broadcastable to the leading shape ``(...)``.

    Returns:
        A scalar, or the leading shape ``(...)`` with ``reduction="none"``.

    Example:
        >>> giou_loss(torch.tensor([0.0, 0.0, 1.0, 1.0]), torch.tensor([1.0, 1.0, 2.0, 2.0]))
        tensor(1.5000)

    Reference:
        Rezatofighi et al., "Generalized Intersection over Union", CVPR 2019.
    """
    return _box_loss("giou_loss", _GIOU, input, target, box_format, eps, reduction, sample_weight)


@loss(
    "diou",
    family=FAMILY,
    module="DIoULoss",
    aliases=("distance_iou",),
    hparams={"box_format": BOX_FORMAT, "eps": checks.positive},
    curve=Curve("box_shift"),
    references=("torchvision.ops.distance_box_iou_loss (inline port in the tests)", _REFS),
)
def diou_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    box_format: str = "xyxy",
    eps: float = 1e-7,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Distance IoU loss (torchvision's ``distance_box_iou_loss`` numbers).

    .. math::
        \ell = 1 - \frac{I}{U + \epsilon} + \frac{\rho^2(b, b_\mathrm{gt})}{c^2 + \epsilon}

    with ``ρ`` the distance between the boxes' centres and ``c`` the diagonal
    of the smallest box enclosing both.

    Args:
        input: predicted boxes ``(..., 4)`` in ``box_format``.
        target: target boxes, the input's shape.
        box_format: ``"xyxy"`` (corners) | ``"xywh"`` (x1, y1, width, height) |
            ``"cxcywh"`` (centre x, centre y, width, height).
        eps: added to the union and to ``c²``, ``> 0``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        sample_weight: optional weights broadcastable to the leading shape ``(...)``.

    Returns:
        A scalar, or the leading shape ``(...)`` with ``reduction="none"``.

    Example:
        >>> diou_loss(torch.tensor([-1.0, -1.0, 1.0, 1.0]), torch.tensor([0.0, 1.0, 1.0, 2.0]))
        tensor(1.1923)

    Reference:
        Zheng et al., "Distance-IoU Loss", AAAI 2020.
    """
    return _box_loss("diou_loss", _DIOU, input, target, box_format, eps, reduction, sample_weight)


@loss(
    "ciou",
    family=FAMILY,
    module="CIoULoss",
    aliases=("complete_iou",),
    hparams={"box_format": BOX_FORMAT, "eps": checks.positive},
    curve=Curve("box_shift"),
    references=("torchvision.ops.complete_box_iou_loss (inline port in the tests)", _REFS),
)
def ciou_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    box_format: str = "xyxy",
    eps: float = 1e-7,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Complete IoU loss (torchvision's ``complete_box_iou_loss`` numbers).

    .. math::
        \ell = 1 - \mathrm{IoU} + \frac{\rho^2}{c^2 + \epsilon} + \alpha v, \quad
        v = \frac{4}{\pi^2}\big(\operatorname{atan}(w_\mathrm{gt} / h_\mathrm{gt}) - \operatorname{atan}(w / h)\big)^2, \quad
        \alpha = \frac{v}{1 - \mathrm{IoU} + v + \epsilon}

    ``α`` is computed without gradient, as torchvision does. ``atan(w/h)`` is
    evaluated as ``atan2(w, h)``: equal for ``h > 0``, and finite (with finite
    gradients) for zero-height and point boxes, where torchvision gives NaN.
    torchvision's CIoU uses its default ``eps = 1e-7`` inside IoU and ``c²``
    whatever ``eps`` it is given (only ``α`` sees it); losskit uses ``eps``
    everywhere, so the two agree at the default ``eps``.

    Args:
        input: predicted boxes ``(..., 4)`` in ``box_format``.
        target: target boxes, the input's shape.
        box_format: ``"xyxy"`` (corners) | ``"xywh"`` (x1, y1, width, height) |
            ``"cxcywh"`` (centre x, centre y, width, height).
        eps: added to the union, to ``c²`` and to ``α``'s denominator, ``> 0``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        sample_weight: optional weights broadcastable to the leading shape ``(...)``.

    Returns:
        A scalar, or the leading shape ``(...)`` with ``reduction="none"``.

    Example:
        >>> ciou_loss(torch.tensor([0.0, 0.0, 2.0, 1.0]), torch.tensor([0.0, 0.0, 1.0, 1.0]))
        tensor(0.5532)

    Reference:
        Zheng et al., "Enhancing Geometric Factors in Model Learning and
        Inference for Object Detection and Instance Segmentation", 2021.
    """
    return _box_loss("ciou_loss", _CIOU, input, target, box_format, eps, reduction, sample_weight)


@loss(
    "eiou",
    family=FAMILY,
    module="EIoULoss",
    aliases=("efficient_iou",),
    hparams={"box_format": BOX_FORMAT, "eps": checks.positive},
    curve=Curve("box_shift"),
    references=(_REFS + ", written from Zhang et al. 2022",),
)
def eiou_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    box_format: str = "xyxy",
    eps: float = 1e-7,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Efficient IoU loss (Zhang et al. 2022): DIoU plus width and height penalties.

    .. math::
        \ell = 1 - \mathrm{IoU} + \frac{\rho^2(b, b_\mathrm{gt})}{c^2 + \epsilon}
             + \frac{(w - w_\mathrm{gt})^2}{C_w^2 + \epsilon} + \frac{(h - h_\mathrm{gt})^2}{C_h^2 + \epsilon}

    with ``C_w``, ``C_h`` the width and height of the smallest box enclosing
    both, ``c² = C_w² + C_h²`` and ``IoU = I / (U + ε)`` as in the other losses.
    This is the plain EIoU loss, without the paper's Focal-EIoU reweighting
    (multiply by ``IoU ** gamma`` for that).

    Args:
        input: predicted boxes ``(..., 4)`` in ``box_format``.
        target: target boxes, the input's shape.
        box_format: ``"xyxy"`` (corners) | ``"xywh"`` (x1, y1, width, height) |
            ``"cxcywh"`` (centre x, centre y, width, height).
        eps: added to the union, to ``c²``, ``C_w²`` and ``C_h²``, ``> 0``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        sample_weight: optional weights broadcastable to the leading shape ``(...)``.

    Returns:
        A scalar, or the leading shape ``(...)`` with ``reduction="none"``.

    Example:
        >>> eiou_loss(torch.tensor([0.0, 0.0, 2.0, 1.0]), torch.tensor([0.0, 0.0, 1.0, 1.0]))
        tensor(0.8000)

    Reference:
        Zhang et al., "Focal and Efficient IOU Loss for Accurate Bounding Box
        Regression", Neurocomputing 506, 2022.
    """
    return _box_loss("eiou_loss", _EIOU, input, target, box_format, eps, reduction, sample_weight)
