"""torchvision's box-regression losses, re-expressed operation for operation (a test and benchmark reference).

torchvision from PyPI does not import beside torch 2.13, so the parity tests and
the benchmark use this port of ``torchvision.ops.generalized_box_iou_loss``,
``distance_box_iou_loss`` and ``complete_box_iou_loss`` (pytorch/vision,
``torchvision/ops/{giou,diou,ciou}_loss.py`` and ``_utils._loss_inter_union``,
BSD-3-Clause; read from its sources for this port). It performs the same tensor
operations in the same order, so its float64 values and autograd gradients are
torchvision's: the coordinates as ``unbind`` views, the intersection written
into a zero tensor through a boolean mask (no gradient where boxes only touch),
``eps`` added to the union, to the enclosing area and to the squared diagonal,
CIoU's ``alpha`` computed under ``no_grad``, and CIoU's inner DIoU evaluated
with the default ``eps`` whatever ``eps`` is passed (torchvision calls it
without one). Half-precision boxes stay in their dtype; integer boxes become
float32. Only torchvision's API-usage logging is left out. Nothing here imports
losskit.
"""

from typing import Tuple

import torch

_DEFAULT_EPS = 1e-7


def _as_float(boxes: torch.Tensor) -> torch.Tensor:
    return boxes if boxes.dtype in (torch.float32, torch.float64) else boxes.float()


def _intersection_union(p: torch.Tensor, g: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    px1, py1, px2, py2 = p.unbind(dim=-1)
    gx1, gy1, gx2, gy2 = g.unbind(dim=-1)
    left, top = torch.max(px1, gx1), torch.max(py1, gy1)
    right, bottom = torch.min(px2, gx2), torch.min(py2, gy2)
    inter = torch.zeros_like(px1)
    overlaps = (bottom > top) & (right > left)
    inter[overlaps] = (right[overlaps] - left[overlaps]) * (bottom[overlaps] - top[overlaps])
    union = (px2 - px1) * (py2 - py1) + (gx2 - gx1) * (gy2 - gy1) - inter
    return inter, union


def _enclosing(p: torch.Tensor, g: torch.Tensor):
    px1, py1, px2, py2 = p.unbind(dim=-1)
    gx1, gy1, gx2, gy2 = g.unbind(dim=-1)
    return torch.min(px1, gx1), torch.min(py1, gy1), torch.max(px2, gx2), torch.max(py2, gy2)


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean() if loss.numel() > 0 else 0.0 * loss.sum()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"Invalid reduction {reduction!r}; torchvision takes 'none', 'mean' or 'sum'")


def generalized_box_iou_loss(p: torch.Tensor, g: torch.Tensor, reduction: str = "none", eps: float = 1e-7):
    p, g = _as_float(p), _as_float(g)
    inter, union = _intersection_union(p, g)
    iou = inter / (union + eps)
    ex1, ey1, ex2, ey2 = _enclosing(p, g)
    enclosing_area = (ex2 - ex1) * (ey2 - ey1)
    giou = iou - ((enclosing_area - union) / (enclosing_area + eps))
    return _reduce(1 - giou, reduction)


def _diou_and_iou(p: torch.Tensor, g: torch.Tensor, eps: float = _DEFAULT_EPS):
    inter, union = _intersection_union(p, g)
    iou = inter / (union + eps)
    px1, py1, px2, py2 = p.unbind(dim=-1)
    gx1, gy1, gx2, gy2 = g.unbind(dim=-1)
    ex1, ey1, ex2, ey2 = _enclosing(p, g)
    diagonal2 = ((ex2 - ex1) ** 2) + ((ey2 - ey1) ** 2) + eps
    pcx, pcy = (px2 + px1) / 2, (py2 + py1) / 2
    gcx, gcy = (gx1 + gx2) / 2, (gy1 + gy2) / 2
    centres2 = ((pcx - gcx) ** 2) + ((pcy - gcy) ** 2)
    return 1 - iou + (centres2 / diagonal2), iou


def distance_box_iou_loss(p: torch.Tensor, g: torch.Tensor, reduction: str = "none", eps: float = 1e-7):
    p, g = _as_float(p), _as_float(g)
    loss, _ = _diou_and_iou(p, g, eps)
    return _reduce(loss, reduction)


def complete_box_iou_loss(p: torch.Tensor, g: torch.Tensor, reduction: str = "none", eps: float = 1e-7):
    p, g = _as_float(p), _as_float(g)
    diou, iou = _diou_and_iou(p, g)  # torchvision passes no eps here: the default 1e-7 applies
    px1, py1, px2, py2 = p.unbind(dim=-1)
    gx1, gy1, gx2, gy2 = g.unbind(dim=-1)
    pw, ph = px2 - px1, py2 - py1
    gw, gh = gx2 - gx1, gy2 - gy1
    v = (4 / (torch.pi**2)) * torch.pow((torch.atan(gw / gh) - torch.atan(pw / ph)), 2)
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return _reduce(diou + alpha * v, reduction)
