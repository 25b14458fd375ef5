"""loss_db entries of the segmentation family (issue 13), kept in their own file; loss_db.py imports ENTRIES.

References: tests/reference/segmentation.py (float64 NumPy, written from the
formulas; the Lovász functions are a port of Berman et al.'s reference code).
MONAI parity (values and gradients) is in tests/test_segmentation.py.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List

import numpy as np
import torch

from .loss_db import ErrorCase, LossInfo, Sample, _long, _t, hp_error
from .reference import segmentation as ref_seg

#: (N, C, d...) with 0, 1, 2 and 3 spatial dimensions
SEG_SHAPES = [(4, 3), (2, 3, 5), (2, 3, 4, 3), (2, 2, 3, 2, 2)]
IGNORE_CHOICES = (None, -1, 255, 1)


def _inputs(rng, shape, activation):
    if activation is None:  # probabilities in
        return rng.uniform(0.02, 0.98, size=shape)
    return rng.normal(0, 2, size=shape)


def _index_targets(rng, shape, ignore_index):
    n, c = shape[:2]
    y = rng.integers(0, c, size=(n, *shape[2:]))
    if ignore_index is not None:
        flat = y.reshape(-1)
        flat[rng.random(flat.size) < 0.25] = ignore_index
        flat[0] = 0 if ignore_index != 0 else c - 1  # at least one position counts
    return y


def segmentation_samples(
    hparams: Callable[[np.random.Generator, int], Dict[str, Any]],
    *,
    activations=("softmax", "sigmoid", None),
    weight: bool = True,
    common: bool = True,
    batch: bool = True,
    prob_targets: bool = True,
    onehot_input_grad_only: bool = False,
) -> Callable[[np.random.Generator], List[Sample]]:
    """Index targets over SEG_SHAPES with random common options, then probability / one-hot targets.

    ``onehot_input_grad_only``: one-hot target samples differentiate the input only (generalized Dice:
    the Sudre weight 1/T^2 of a class absent from a sample jumps from "the largest finite weight" at
    T = 0 to 1/eps^2 at T = eps, so the target derivative does not exist there; soft targets keep it).
    """

    def build(rng: np.random.Generator) -> List[Sample]:
        out = []
        for k, shape in enumerate(SEG_SHAPES):
            c = shape[1]
            activation = activations[k % len(activations)]
            if activation == "softmax" and c == 1:
                activation = "sigmoid"
            kw: Dict[str, Any] = {"activation": activation, **hparams(rng, c)}
            if common:
                kw["batch"] = bool(batch and rng.random() < 0.3)
                kw["include_background"] = bool(rng.random() < 0.6)
                kw["smooth"] = float(rng.choice([0.0, 1e-5, 1.0]))
            if weight and k % 2 == 0:
                kw["weight"] = _t(rng.uniform(0.2, 2.0, size=c))
            ignore_index = IGNORE_CHOICES[k % len(IGNORE_CHOICES)]
            if ignore_index is not None:
                kw["ignore_index"] = ignore_index
            x = _inputs(rng, shape, activation)
            y = _index_targets(rng, shape, ignore_index)
            out.append(Sample((_t(x), _long(y)), kw, desc=f"index {shape} {sorted(kw)}"))
        if prob_targets:
            for shape in SEG_SHAPES[1:3]:
                c = shape[1]
                onehot = np.moveaxis(np.eye(c)[rng.integers(0, c, size=(shape[0], *shape[2:]))], -1, 1)
                soft = rng.dirichlet(np.ones(c), size=(shape[0], *shape[2:]))
                soft = np.moveaxis(soft, -1, 1)
                for name, t in (("one-hot", onehot), ("soft", soft)):
                    kw = {"activation": "softmax", **hparams(rng, c)}
                    grads = (0,) if onehot_input_grad_only and name == "one-hot" else None
                    out.append(
                        Sample((_t(_inputs(rng, shape, "softmax")), _t(t)), kw, grad_args=grads, desc=f"{name} {shape}")
                    )
        return out

    return build


def _empty(**kw) -> Callable[[], Sample]:
    return lambda: Sample((torch.zeros(0, 3, 4, dtype=torch.float64), torch.zeros(0, 4, dtype=torch.long)), dict(kw))


def _nan_sample() -> Sample:
    return Sample((torch.randn(2, 3, 4, dtype=torch.float64), torch.tensor([[0, 1, 2, 1], [2, 2, 0, 1]])), {})


def _saturated(batch: bool = True, **fixed) -> Callable[[], List[Sample]]:
    """Logits ±1e4 (confidently right and wrong), and all-background images."""
    options = ({}, {"include_background": False}, {"activation": "sigmoid"}, *([{"batch": True}] if batch else []))

    def build() -> List[Sample]:
        y = torch.tensor([[[0, 1], [2, 0]], [[1, 1], [2, 2]]])
        right = torch.nn.functional.one_hot(y, 3).movedim(-1, 1).double() * 2e4 - 1e4
        wrong = right.roll(1, dims=1)
        background = torch.zeros_like(y)
        out = []
        for x in (right, wrong):
            for target, what in ((y, "mixed"), (background, "all background")):
                for kw in options:
                    kw = {**fixed, **kw}
                    out.append(Sample((x, target), kw, desc=f"saturated {what} {kw}"))
        return out

    return build


_INF = float("inf")


def _inf_logits() -> torch.Tensor:
    """(2, 3, 4) logits with ±inf: one +inf, a tie of two +inf, -inf on the target class, finite positions.

    Under the softmax limit a row with +inf puts all its mass on the +inf classes (shared equally by a tie);
    the sigmoid limits are 1 and 0. Against ``_INF_TARGETS`` the cross-entropy is +inf at several positions.
    """
    rows = [
        [[_INF, 0.0, -_INF], [0.0, _INF, 1.0], [-_INF, 0.0, 0.0], [1.0, -_INF, 2.0]],
        [[_INF, _INF, 0.0], [0.5, -1.0, 2.0], [-_INF, _INF, -_INF], [2.0, 0.0, _INF]],
    ]
    return torch.tensor(rows, dtype=torch.float64).transpose(1, 2).contiguous()


_INF_TARGETS = [[0, 0, 1, 1], [0, 2, 1, 0]]


def _finite_ce_logits() -> torch.Tensor:
    """(2, 3, 4) logits whose ±inf entries keep the cross-entropy against ``_INF_TARGETS`` finite.

    +inf only on the target class (alone, or tied with another: -log 1/2), -inf only on other classes.
    """
    rows = [
        [[_INF, 0.0, -_INF], [_INF, -_INF, 1.0], [-_INF, 0.5, 0.0], [1.0, _INF, -_INF]],
        [[_INF, _INF, 0.0], [0.5, -1.0, 2.0], [-_INF, _INF, -_INF], [_INF, 0.0, -_INF]],
    ]
    return torch.tensor(rows, dtype=torch.float64).transpose(1, 2).contiguous()


def _inf_soft_targets() -> torch.Tensor:
    """(2, 3, 4) probabilities, 0 wherever a class's softmax limit in ``_finite_ce_logits`` is 0 (CE finite)."""
    rows = [
        [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.4, 0.6], [0.0, 1.0, 0.0]],
        [[0.3, 0.7, 0.0], [0.2, 0.3, 0.5], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]],
    ]
    return torch.tensor(rows, dtype=torch.float64).transpose(1, 2).contiguous()


def _inf_overlap(extra: Callable[[], List[Dict[str, Any]]] = lambda: [{}], *, batch: bool = True):
    """±inf logits against class indices (with the common options) and against one-hot and soft targets."""

    def build() -> List[Sample]:
        y = torch.tensor(_INF_TARGETS)
        ignored = y.clone()
        ignored[1, 3] = 255  # the position whose +inf is on another class: out of every sum
        w = torch.tensor([0.5, 2.0, 1.0], dtype=torch.float64)
        options: List[Dict[str, Any]] = [
            {},
            {"activation": "sigmoid"},
            {"include_background": False, "smooth": 0.0},
            {"weight": w},
            *([{"batch": True, "smooth": 1.0}] if batch else []),
        ]
        out = []
        for hp in extra():
            for kw in options:
                kw = {**hp, **kw}
                for x in (_inf_logits(), _finite_ce_logits()):
                    out.append(Sample((x, y.clone()), kw, desc=f"±inf logits, index targets {kw}"))
            kw = {**hp, "ignore_index": 255}
            out.append(Sample((_inf_logits(), ignored), kw, desc=f"±inf logits, ignored position {kw}"))
            onehot = torch.nn.functional.one_hot(y, 3).movedim(-1, 1).double()
            for t, what in ((onehot, "one-hot"), (_inf_soft_targets(), "soft")):
                out.append(Sample((_finite_ce_logits(), t), dict(hp), desc=f"±inf logits, {what} targets {hp}"))
        return out

    return build


def seg_errors(extra=(), smooth=True) -> Callable[[], List[ErrorCase]]:
    x, y = torch.randn(2, 3, 4), torch.tensor([[0, 1, 2, 1], [2, 0, 1, 1]])

    def build() -> List[ErrorCase]:
        return [
            ErrorCase((x, y[:, :3]), {}, ValueError, r"class-index target must have shape \(2, 4\)"),
            ErrorCase((x, y.float()), {}, TypeError, r"class-index targets must be an integer tensor; got float32"),
            ErrorCase((x, y + 1), {}, ValueError, r"target contains class 3, outside the valid range \[0, 2\]"),
            ErrorCase((x, y - 1), {"ignore_index": 255}, ValueError, r"class -1, outside the valid range"),
            ErrorCase((torch.randn(3), torch.tensor([0, 1, 2])), {}, ValueError, r"input must have shape \(N, C\)"),
            ErrorCase((x.int(), y), {}, TypeError, r"input must be a floating"),
            ErrorCase((x[:, :1], y * 0), {}, ValueError, r"activation='softmax' over a single channel"),
            ErrorCase(
                (x, torch.softmax(x, 1)), {"ignore_index": 255}, ValueError, r"ignore_index applies to class-index"
            ),
            hp_error({"activation": "relu"}, r"activation must be 'softmax' or 'sigmoid' or None", args=(x, y)),
            *([hp_error({"smooth": -1.0}, r"smooth must be in \[0, inf\)", args=(x, y))] if smooth else []),
            *extra,
        ]

    return build


def _weight_error(fn_args=(torch.randn(2, 3, 4), torch.tensor([[0, 1, 2, 1], [2, 0, 1, 1]]))):
    return ErrorCase(
        fn_args, {"weight": torch.ones(2)}, ValueError, r"weight must have one entry per class \(3\); got 2"
    )


def _overlap_entry(
    name,
    reference,
    hparams=lambda rng, c: {},
    errors=(),
    squared=False,
    onehot_input_grad_only=False,
    inf_hparams: Callable[[], List[Dict[str, Any]]] = lambda: [{}],
    **kw,
) -> LossInfo:
    def hp(rng, c):
        out = dict(hparams(rng, c))
        if squared and rng.random() < 0.4:
            out["squared"] = True
        return out

    return LossInfo(
        name=name,
        reference=reference,
        samples=segmentation_samples(hp, onehot_input_grad_only=onehot_input_grad_only),
        empty=_empty(),
        nan_sample=_nan_sample,
        errors=seg_errors([_weight_error(), *errors]),
        extremes=_saturated(),
        inf_extremes=_inf_overlap(inf_hparams),
        **kw,
    )


def _tversky_hp(rng, c):
    return {"alpha": float(rng.uniform(0, 1)), "beta": float(rng.uniform(0, 1))}


def _focal_tversky_hp(rng, c):
    return {**_tversky_hp(rng, c), "gamma": float(rng.choice([0.5, 0.75, 1.0, 2.0]))}


_X, _Y = torch.randn(2, 3, 4), torch.tensor([[0, 1, 2, 1], [2, 0, 1, 1]])


def _lovasz_softmax_hp(rng, c):
    return {"classes": str(rng.choice(["present", "all"])), "per_image": bool(rng.random() < 0.5)}


def _inf_lovasz() -> List[Sample]:
    y = torch.tensor(_INF_TARGETS)
    ignored = y.clone()
    ignored[1, 3] = 255
    onehot = torch.nn.functional.one_hot(y, 3).movedim(-1, 1).double()
    out = []
    for kw in (
        {},
        {"classes": "all"},
        {"per_image": True},
        {"per_image": True, "classes": "all", "activation": "sigmoid"},
        {"activation": "sigmoid"},
    ):
        for x in (_inf_logits(), _finite_ce_logits()):
            out.append(Sample((x, y.clone()), dict(kw), desc=f"±inf logits, index targets {kw}"))
    out.append(Sample((_inf_logits(), ignored), {"ignore_index": 255}, desc="±inf logits, ignored position"))
    for t, what in ((onehot, "one-hot"), (_inf_soft_targets(), "soft")):
        out.append(Sample((_finite_ce_logits(), t), {"per_image": True}, desc=f"±inf logits, {what} targets"))
    return out


def _lovasz_hinge_samples(rng) -> List[Sample]:
    out = []
    for k, shape in enumerate([(5,), (3, 6), (2, 4, 3), (2, 3, 2, 2)]):
        x = rng.normal(0, 2, size=shape)
        y = rng.integers(0, 2, size=shape)
        kw: Dict[str, Any] = {"per_image": bool(k % 2 == 0)}
        if k >= 2:
            kw["ignore_index"] = 255
            flat = y.reshape(-1)
            flat[rng.random(flat.size) < 0.25] = 255
            flat[0] = 1
        out.append(Sample((_t(x), _long(y)), kw, desc=f"{shape} {sorted(kw)}"))
    x = rng.normal(0, 2, size=(3, 5))
    out.append(Sample((_t(x), _t(rng.integers(0, 2, size=(3, 5)))), {"per_image": False}, desc="float labels"))
    return out


def _lovasz_hinge_extremes() -> List[Sample]:
    x = torch.tensor([[1e4, -1e4, 1e4], [-1e4, 1e4, 0.0]], dtype=torch.float64)
    out = []
    for y in (torch.tensor([[1, 0, 1], [0, 1, 1]]), torch.tensor([[0, 1, 0], [1, 0, 0]]), torch.zeros(2, 3).long()):
        for per_image in (True, False):
            out.append(Sample((x, y), {"per_image": per_image}, desc=f"saturated {y.tolist()}"))
    return out


ENTRIES: List[LossInfo] = [
    _overlap_entry("dice", ref_seg.dice, squared=True, inf_hparams=lambda: [{}, {"squared": True}]),
    _overlap_entry("jaccard", ref_seg.jaccard, squared=True, inf_hparams=lambda: [{}, {"squared": True}]),
    _overlap_entry(
        "tversky",
        ref_seg.tversky,
        _tversky_hp,
        inf_hparams=lambda: [{}, {"alpha": 0.2, "beta": 0.9}],
        errors=[
            hp_error({"alpha": -0.1}, r"alpha must be in \[0, inf\)", args=(_X, _Y)),
            hp_error({"beta": -1.0}, r"beta must be in \[0, inf\)", args=(_X, _Y)),
        ],
    ),
    _overlap_entry(
        "focal_tversky",
        ref_seg.focal_tversky,
        _focal_tversky_hp,
        inf_hparams=lambda: [{}, {"gamma": 2.0, "alpha": 0.6, "beta": 0.2}],
        errors=[
            hp_error({"alpha": -0.1}, r"alpha must be in \[0, inf\)", args=(_X, _Y)),
            hp_error({"beta": -1.0}, r"beta must be in \[0, inf\)", args=(_X, _Y)),
            hp_error({"gamma": 0.0}, r"gamma must be in \(0, inf\)", args=(_X, _Y)),
        ],
    ),
    _overlap_entry(
        "generalized_dice",
        ref_seg.generalized_dice,
        lambda rng, c: {"weight_type": str(rng.choice(["square", "simple", "uniform"]))},
        onehot_input_grad_only=True,
        inf_hparams=lambda: [{"weight_type": t} for t in ("square", "simple", "uniform")],
        errors=[
            hp_error({"weight_type": "log"}, r"weight_type must be 'square' or 'simple' or 'uniform'", args=(_X, _Y))
        ],
    ),
    LossInfo(
        name="dice_ce",
        reference=ref_seg.dice_ce,
        samples=segmentation_samples(
            lambda rng, c: {
                "lambda_dice": float(rng.uniform(0, 2)),
                "lambda_ce": float(rng.uniform(0, 2)),
                "label_smoothing": float(rng.choice([0.0, 0.1])),
                **({"squared": True} if rng.random() < 0.3 else {}),
            },
            batch=False,  # "none" (per sample) needs batch=False; batch=True is checked against MONAI
        ),
        empty=_empty(),
        nan_sample=_nan_sample,
        errors=seg_errors(
            [
                _weight_error(),
                hp_error({"lambda_ce": -1.0}, r"lambda_ce must be in \[0, inf\)", args=(_X, _Y)),
                hp_error({"label_smoothing": 1.5}, r"label_smoothing must be in \[0, 1\]", args=(_X, _Y)),
            ]
        ),
        extremes=_saturated(batch=False),
        # "none" is per sample and needs batch=False
        inf_extremes=_inf_overlap(
            lambda: [
                {},
                {"lambda_ce": 0.0, "lambda_dice": 1.5},
                {"lambda_dice": 0.0, "label_smoothing": 0.1},
                {"squared": True, "lambda_ce": 0.5},
            ],
            batch=False,
        ),
        reduction_consistent=False,
        reasons={
            "reduction_consistent": "'none' is per sample (Dice averaged over classes, CE over the sample's "
            "positions), so its sum is not the 'sum' of the two terms (Σ over classes and positions)"
        },
    ),
    LossInfo(
        name="lovasz_softmax",
        reference=ref_seg.lovasz_softmax,
        samples=segmentation_samples(_lovasz_softmax_hp, weight=False, common=False),
        empty=_empty(per_image=True),
        nan_sample=_nan_sample,
        errors=seg_errors(
            [hp_error({"classes": "some"}, r"classes must be 'present' or 'all'", args=(_X, _Y))], smooth=False
        ),
        extremes=lambda: (
            [
                Sample(
                    s.args, {k: v for k, v in s.kwargs.items() if k not in ("batch", "include_background")}, desc=s.desc
                )
                for s in _saturated()()
            ]
            + [
                Sample(
                    s.args,
                    {"per_image": True, **({"activation": "sigmoid"} if "activation" in s.kwargs else {})},
                    desc=s.desc,
                )
                for s in _saturated(False)()
                if "include_background" not in s.kwargs
            ]
        ),
        inf_extremes=_inf_lovasz,
    ),
    LossInfo(
        name="lovasz_hinge",
        reference=ref_seg.lovasz_hinge,
        samples=_lovasz_hinge_samples,
        empty=lambda: Sample((torch.zeros(0, 4, dtype=torch.float64), torch.zeros(0, 4, dtype=torch.long)), {}),
        nan_sample=lambda: Sample(
            (torch.randn(2, 4, dtype=torch.float64), torch.tensor([[0, 1, 1, 0], [1, 1, 0, 0]])), {}
        ),
        errors=lambda: [
            ErrorCase((torch.randn(2, 4), torch.zeros(2, 3)), {}, ValueError, r"target must have the input's shape"),
            ErrorCase((torch.randn(2, 2), torch.tensor([[0, 2], [1, 0]])), {}, ValueError, r"labels 0 or 1; got 2"),
            ErrorCase((torch.tensor(1.0), torch.tensor(1)), {}, ValueError, r"input must have shape \(N, d1, ...\)"),
            ErrorCase((torch.randn(2, 2).int(), torch.zeros(2, 2)), {}, TypeError, r"input must be a floating"),
        ],
        extremes=_lovasz_hinge_extremes,
    ),
]
