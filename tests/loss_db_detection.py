"""loss_db entries of the box-regression losses (losskit.detection); tests/loss_db.py appends them.

References: the float64 NumPy formulas in tests/reference/detection.py back every
value here; torchvision's numbers (GIoU/DIoU/CIoU) and shapely's areas (IoU) are
compared in tests/test_detection.py.
"""

from __future__ import annotations

from typing import List

import numpy as np
import torch

from .boxes import random_pairs
from .loss_db import ErrorCase, LossInfo, Sample, _t, hp_error
from .reference import detection as ref_det


def _samples(rng: np.random.Generator) -> List[Sample]:
    out = []
    cases = [
        ((), "xyxy", {}),
        ((6,), "xywh", {}),
        ((2, 3), "cxcywh", {}),
        ((5,), "xyxy", {"eps": 1e-3}),
        ((4,), "cxcywh", {"sample_weight": _t(rng.uniform(0.1, 2.0, size=(4,)))}),
        ((3, 2), "xywh", {"sample_weight": _t(rng.uniform(0.1, 2.0, size=(3, 1)))}),
    ]
    for lead, box_format, extra in cases:
        pred, target = random_pairs(rng, lead, box_format)
        kwargs = {"box_format": box_format, **extra}
        out.append(Sample((_t(pred), _t(target)), kwargs, desc=f"{box_format} lead={lead} {sorted(extra)}"))
    return out


def _extremes() -> List[Sample]:
    """Degenerate and far-apart boxes: finite loss and finite gradients in every loss (xyxy)."""
    rows = [
        ([1.0, 1.0, 3.0, 2.0], [1.0, 1.0, 3.0, 2.0]),  # identical
        ([1.0, 1.0, 1.0, 3.0], [0.0, 0.0, 2.0, 2.0]),  # zero width
        ([1.0, 1.0, 3.0, 1.0], [1.0, 1.0, 3.0, 1.0]),  # identical zero-height
        ([2.0, 2.0, 2.0, 2.0], [2.0, 2.0, 2.0, 2.0]),  # the same point
        ([2.0, 2.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0]),  # a point against a box
        ([0.0, 0.0, 1.0, 1.0], [1.0, 0.0, 2.0, 1.0]),  # touching
        ([0.0, 0.0, 1.0, 1.0], [1e4, 1e4, 1e4 + 1.0, 1e4 + 1.0]),  # far apart
        ([0.0, 0.0, 1e-30, 1e-30], [0.0, 0.0, 2e-30, 1e-30]),  # tiny
        ([-1e4, -1e4, 1e4, 1e4], [0.0, 0.0, 1.0, 1.0]),  # huge against small
    ]
    pred = torch.tensor([r[0] for r in rows], dtype=torch.float64)
    target = torch.tensor([r[1] for r in rows], dtype=torch.float64)
    return [Sample((pred, target), {}, desc="degenerate, touching, far, tiny and huge boxes")]


def _errors(name: str) -> List[ErrorCase]:
    fn = f"{name}_loss"
    good = torch.tensor([[0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 4.0]])
    flipped = torch.tensor([[0.0, 0.0, 2.0, 2.0], [3.0, 1.0, 1.0, 4.0]])  # x2 < x1 in box 1
    return [
        ErrorCase(
            (torch.randn(3, 5), torch.randn(3, 5)), {}, ValueError, rf"{fn}: input must have shape \(\.\.\., 4\)"
        ),
        ErrorCase((torch.randn(4), torch.randn(4, 4)), {}, ValueError, rf"{fn}: target must have the input's shape"),
        ErrorCase((good, good[:1]), {}, ValueError, r"target must have the input's shape \(2, 4\); got \(1, 4\)"),
        ErrorCase((good.long(), good), {}, TypeError, rf"{fn}: input must be a floating"),
        ErrorCase((flipped, good), {}, ValueError, rf"{fn}: input has a box with x2 < x1 or y2 < y1 at index \(1,\)"),
        ErrorCase((good, flipped), {}, ValueError, rf"{fn}: target has a box with x2 < x1 or y2 < y1"),
        ErrorCase(
            (torch.tensor([1.0, 1.0, -2.0, 2.0]), torch.tensor([1.0, 1.0, 2.0, 2.0])),
            {"box_format": "xywh"},
            ValueError,
            rf"{fn}: input has a box with a negative width or height; 'xywh' boxes",
        ),
        ErrorCase(
            (torch.tensor([1.0, 1.0, 2.0, 2.0]), torch.tensor([1.0, 1.0, 2.0, -0.5])),
            {"box_format": "cxcywh"},
            ValueError,
            rf"{fn}: target has a box with a negative width or height",
        ),
        hp_error(
            {"box_format": "xyz"}, r"box_format must be 'xyxy' or 'xywh' or 'cxcywh'; got 'xyz'", args=(good, good)
        ),
        hp_error({"box_format": "XYXY"}, r"box_format must be", args=(good, good)),
        hp_error({"eps": 0.0}, r"eps must be in \(0, inf\); got 0.0", args=(good, good)),
        hp_error({"eps": -1e-7}, r"eps must be in \(0, inf\)", args=(good, good)),
        ErrorCase((good, good), {"box_format": "yxyx"}, ValueError, rf"^{fn}: box_format must be"),
        ErrorCase((good, good), {"eps": 0}, ValueError, rf"^{fn}: eps must be in"),
    ]


def _entry(name: str, reference, **kw) -> LossInfo:
    return LossInfo(
        name=name,
        reference=reference,
        samples=_samples,
        empty=lambda: Sample((torch.zeros(0, 4, dtype=torch.float64), torch.zeros(0, 4, dtype=torch.float64))),
        errors=lambda: _errors(name),
        extremes=_extremes,
        **kw,
    )


ENTRIES: List[LossInfo] = [
    _entry("iou", ref_det.iou),
    _entry("giou", ref_det.giou),
    _entry("diou", ref_det.diou),
    _entry(
        "ciou",
        ref_det.ciou,
        gradcheck_exempt=(
            "CIoU's alpha is held constant in the gradient (torchvision's convention), so the gradient is not "
            "the numerical derivative of the value; test_detection.py checks it against torchvision's autograd "
            "and against the numerical derivative with alpha frozen"
        ),
    ),
    _entry("eiou", ref_det.eiou),
]
