"""Box-regression losses in float64 NumPy, written from the formulas (never imports losskit).

Boxes are ``(..., 4)`` arrays in ``box_format`` ("xyxy", "xywh" or "cxcywh"),
converted to corners first. ``eps`` is placed as torchvision places it:
``IoU = I / (U + eps)``, GIoU's ``(C - U) / (C + eps)``, DIoU's
``ρ² / (c² + eps)``, CIoU's ``α = v / (1 - IoU + v + eps)``; EIoU (Zhang et al.
2022) adds ``(w - w_gt)² / (C_w² + eps) + (h - h_gt)² / (C_h² + eps)``. The
aspect-ratio angle ``atan(w / h)`` is written ``arctan2(w, h)`` (equal for
``h > 0``; π/2 at zero height, 0 at a point box).
"""

import numpy as np

from . import reduce


def corners(boxes, box_format="xyxy"):
    """``(x1, y1, x2, y2)`` as four arrays of the leading shape."""
    b = np.asarray(boxes, dtype=np.float64)
    p, q, r, s = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    if box_format == "xyxy":
        return p, q, r, s
    if box_format == "xywh":
        return p, q, p + r, q + s
    if box_format == "cxcywh":
        return p - 0.5 * r, q - 0.5 * s, p + 0.5 * r, q + 0.5 * s
    raise ValueError(box_format)


def _parts(input, target, box_format, eps):
    x1, y1, x2, y2 = corners(input, box_format)
    u1, v1, u2, v2 = corners(target, box_format)
    w, h, wg, hg = x2 - x1, y2 - y1, u2 - u1, v2 - v1
    inter = np.maximum(np.minimum(x2, u2) - np.maximum(x1, u1), 0.0) * np.maximum(
        np.minimum(y2, v2) - np.maximum(y1, v1), 0.0
    )
    union = w * h + wg * hg - inter
    iou = inter / (union + eps)
    cw = np.maximum(x2, u2) - np.minimum(x1, u1)
    ch = np.maximum(y2, v2) - np.minimum(y1, v1)
    rho2 = ((x1 + x2) / 2 - (u1 + u2) / 2) ** 2 + ((y1 + y2) / 2 - (v1 + v2) / 2) ** 2
    return dict(w=w, h=h, wg=wg, hg=hg, union=union, iou=iou, cw=cw, ch=ch, rho2=rho2)


def iou_values(input, target, box_format="xyxy", eps=1e-7):
    p = _parts(input, target, box_format, eps)
    return 1.0 - p["iou"]


def giou_values(input, target, box_format="xyxy", eps=1e-7):
    p = _parts(input, target, box_format, eps)
    area_c = p["cw"] * p["ch"]
    return 1.0 - p["iou"] + (area_c - p["union"]) / (area_c + eps)


def diou_values(input, target, box_format="xyxy", eps=1e-7):
    p = _parts(input, target, box_format, eps)
    return 1.0 - p["iou"] + p["rho2"] / (p["cw"] ** 2 + p["ch"] ** 2 + eps)


def ciou_values(input, target, box_format="xyxy", eps=1e-7):
    p = _parts(input, target, box_format, eps)
    v = 4.0 / np.pi**2 * (np.arctan2(p["wg"], p["hg"]) - np.arctan2(p["w"], p["h"])) ** 2
    alpha = v / (1.0 - p["iou"] + v + eps)
    return diou_values(input, target, box_format, eps) + alpha * v


def eiou_values(input, target, box_format="xyxy", eps=1e-7):
    p = _parts(input, target, box_format, eps)
    cw2, ch2 = p["cw"] ** 2, p["ch"] ** 2
    return (
        1.0
        - p["iou"]
        + p["rho2"] / (cw2 + ch2 + eps)
        + (p["w"] - p["wg"]) ** 2 / (cw2 + eps)
        + (p["h"] - p["hg"]) ** 2 / (ch2 + eps)
    )


def _reduced(values):
    def ref(input, target, *, box_format="xyxy", eps=1e-7, reduction="mean", sample_weight=None):
        return reduce(values(input, target, box_format, eps), reduction, sample_weight)

    ref.__name__ = values.__name__.replace("_values", "")
    return ref


iou = _reduced(iou_values)
giou = _reduced(giou_values)
diou = _reduced(diou_values)
ciou = _reduced(ciou_values)
eiou = _reduced(eiou_values)
