"""``losskit plot``: a loss and its gradient along the axis that explains it, with a shape parameter overlaid."""

from __future__ import annotations

import math
import pathlib
from typing import Any, Dict, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from .._core.registry import describe, get_class, get_fn
from .._core.spec import Curve

AXIS_LABEL = {
    "residual": "residual  input − target",
    "margin": "margin  y · score (true-class score − other score)",
    "probability": "predicted probability of the true class",
    "log_rate": "predicted log-rate (target count 3)",
    "score": "critic score x (discriminator: real x, fake −x; generator: fake x)",
    "gradient_norm": "‖∇ₓ critic‖ (a linear critic of this slope)",
    "box_shift": "horizontal shift of a unit box against the unit target box",
    "distance": "distance of a dissimilar pair",
    "angle": "angle (rad) from the anchor to the negative / other class",
}


def spec_for(name: str) -> Curve:
    """The declared curve of a loss (``curve=`` in its declaration), or its family's default axis."""
    spec = describe(name)
    if spec.curve is not None:
        return spec.curve
    return Curve("residual" if spec.family == "regression" else "probability")


def _evaluate_embedding(name: str, x: torch.Tensor, params: Dict[str, Any]) -> torch.Tensor:
    """Metric-learning losses on the unit circle: the anchor at angle 0, a positive at 0.5 rad, the other at ``x``."""
    cls = get_class(name)
    n = x.shape[0]
    anchor = torch.tensor([[1.0, 0.0]], dtype=x.dtype).expand(n, 2)
    positive = torch.tensor([[math.cos(0.5), math.sin(0.5)]], dtype=x.dtype).expand(n, 2)
    other = torch.stack([torch.cos(x), torch.sin(x)], 1)
    if name in ("center", "arcface", "cosface"):  # modules that own parameters: the functional, fixed parameters
        fn = get_fn(name)
        if name == "center":  # the class centre at the anchor
            return fn(other, torch.zeros(n, dtype=torch.long), anchor[:1], **params, reduction="none")
        weight = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=x.dtype)  # class 0 at the anchor
        return fn(other, torch.zeros(n, dtype=torch.long), weight, **params, reduction="none")
    module = cls(**{**params, "reduction": "none"})
    if name == "cosine_similarity_loss":
        return module(other, anchor)
    if name == "cosine_embedding":  # a dissimilar pair
        return module(anchor, other, -torch.ones(n, dtype=x.dtype))
    if name in ("triplet_margin", "triplet_margin_with_distance"):
        return module(anchor, positive, other)
    if name == "info_nce":  # the other embedding is the one explicit negative
        return torch.cat([module(anchor[:1], positive[:1], negatives=other[i : i + 1]) for i in range(n)])
    # batch losses: a batch of three, [anchor, positive] of class 0 and the other of class 1, summed over anchors
    labels = torch.tensor([0, 0, 1])
    return torch.stack([module(torch.stack([anchor[0], positive[0], other[i]]), labels).sum() for i in range(n)])


def _class_frequencies(cls: Any, params: Dict[str, Any], dtype: torch.dtype) -> Dict[str, Any]:
    """The training counts a long-tail loss needs (ldam, logit_adjusted), unless given: the plotted true class
    is the rare one, 10 examples against the other class's 100 (where the margin or adjustment matters)."""
    if "class_counts" not in cls.spec.defaults or "class_counts" in params or "class_prior" in params:
        return {}
    return {"class_counts": torch.tensor([10.0, 100.0], dtype=dtype)}


def _evaluate(name: str, x: torch.Tensor, axis: str, params: Dict[str, Any]) -> torch.Tensor:
    """The per-point loss for points ``x`` on ``axis`` (x requires grad)."""
    cls = get_class(name)
    if axis == "gradient_norm":  # the penalties (no reduction): one linear critic of slope x_i per point
        return _penalty_curve(cls, x, params)
    if axis == "angle":
        return _evaluate_embedding(name, x, params)
    if axis == "distance":  # hinge_embedding: a dissimilar pair at distance x
        return cls(**{**params, "reduction": "none"})(x, -torch.ones_like(x))
    if cls.name == "linear_cross_entropy":  # the module owns its projection: 2 features, 2 classes, the identity
        module = cls(2, 2, dtype=x.dtype, **{**params, "reduction": "none"})
        with torch.no_grad():
            projection: Any = module.linear  # an nn.Linear (nn.Module's attributes are typed loosely)
            projection.weight.copy_(torch.eye(2, dtype=x.dtype))
    else:
        per_point = {"per_image": True} if cls.name == "lovasz_softmax" else {}  # each point a one-pixel image
        module = cls(**{**per_point, **_class_frequencies(cls, params, x.dtype), **params, "reduction": "none"})
    n = x.shape[0]
    if axis == "residual":
        if cls.name == "gaussian_nll":
            return module(x, torch.zeros_like(x), torch.ones_like(x))
        if cls.name in ("mape", "msle"):  # relative errors: a target of 1
            return module(1.0 + x, torch.ones_like(x))
        return module(x, torch.zeros_like(x))
    if axis == "log_rate":
        return module(x, torch.full_like(x, 3.0))
    if axis == "score":
        if cls.name == "gan_generator":
            return module(x, real_logits=torch.zeros_like(x))  # real_logits: relativistic_average only
        return module(x, -x)
    if axis == "box_shift":  # xyxy boxes: (x, 0, x + 1, 1) against (0, 0, 1, 1)
        zeros = torch.zeros_like(x)
        pred = torch.stack([x, zeros, x + 1.0, zeros + 1.0], 1)
        return module(pred, torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=x.dtype).expand(n, 4))
    if axis == "margin":
        if cls.name in ("hinge", "squared_hinge", "soft_margin", "lovasz_hinge"):  # lovasz_hinge: 1-pixel images
            return module(x, torch.ones_like(x))
        if cls.name == "margin_ranking":  # input1 − input2 = x, input1 should rank higher
            return module(x, torch.zeros_like(x), torch.ones_like(x))
        if cls.name == "multilabel_soft_margin":
            return module(x.unsqueeze(1), torch.ones(n, 1, dtype=x.dtype))
        if cls.name == "multilabel_margin":
            return module(torch.stack([x, torch.zeros_like(x)], 1), torch.tensor([[0, -1]]).expand(n, 2))
        # two classes: true-class score x, other class 0
        return module(torch.stack([x, torch.zeros_like(x)], 1), torch.zeros(n, dtype=torch.long))
    # probability of the true class p: binary losses get logit(p) with target 1; softmax losses [log p, log(1-p)]
    if cls.family == "distribution":
        p = torch.stack([x, 1 - x], 1)
        return module(p.log(), torch.full_like(p, 0.5)).sum(1)
    if cls.name in ("bce", "sigmoid_focal", "balanced_bce", "soft_margin"):
        return module(torch.logit(x), torch.ones_like(x))
    if cls.name == "binary_cross_entropy":
        return module(x, torch.ones_like(x))
    if cls.name == "ctc":  # one frame, target [1]: the only alignment emits class 1, so the loss is -log p
        log_probs = torch.stack([(1 - x).log(), x.log()], 1).unsqueeze(0)
        return module(log_probs, torch.ones(n, 1, dtype=torch.long), [1] * n, [1] * n)
    logits = torch.stack([x.log(), (1 - x).log()], 1)
    if cls.name == "nll":
        logits = torch.log_softmax(logits, 1)
    if cls.name == "linear_cross_entropy":  # input = the logits themselves, through the identity projection
        return module(logits, torch.zeros(n, dtype=torch.long))
    return module(logits, torch.zeros(n, dtype=torch.long))


def _penalty_curve(cls: Any, x: torch.Tensor, params: Dict[str, Any]) -> torch.Tensor:
    module = cls(**params)
    one = torch.ones(1, 1, dtype=x.dtype)
    out = []
    for slope in x:
        if cls.name == "r1":
            inputs = one.clone().requires_grad_(True)
            out.append(module(inputs[:, 0] * slope, inputs))
        else:
            out.append(module(lambda z, s=slope: z[:, 0] * s, one, torch.zeros_like(one)))
    return torch.stack(out)


def plot_loss(name: str, params: Dict[str, Any], out: pathlib.Path, points: int = 401) -> pathlib.Path:
    cls = get_class(name)
    spec = spec_for(cls.name)
    if spec.axis == "probability":
        grid = torch.linspace(1e-3, 1 - 1e-3, points, dtype=torch.float64)
    elif spec.axis == "log_rate":
        grid = torch.linspace(-2, 4, points, dtype=torch.float64)
    elif spec.axis == "gradient_norm":
        grid = torch.linspace(0, 3, 121, dtype=torch.float64)
    elif spec.axis == "angle":
        grid = torch.linspace(0.0, math.pi, points, dtype=torch.float64)
    elif spec.axis == "distance":
        grid = torch.linspace(0.0, 3.0, points, dtype=torch.float64)
    else:
        grid = torch.linspace(-3, 3, points, dtype=torch.float64)
    overlay: Sequence[Any] = spec.values if spec.shape_param and spec.shape_param not in params else (None,)
    fig, (ax_loss, ax_grad) = plt.subplots(1, 2, figsize=(11, 4.2))
    for value in overlay:
        kwargs = dict(params)
        label = ", ".join(f"{k}={v}" for k, v in params.items()) or cls.name
        if value is not None and spec.shape_param is not None:
            kwargs[spec.shape_param] = value
            label = f"{spec.shape_param}={value}"
        leaf = (torch.logit(grid) if spec.axis == "probability" else grid).clone().requires_grad_(True)
        # on the probability axis, the gradient shown is with respect to the logit (what the network moves)
        x = torch.sigmoid(leaf) if spec.axis == "probability" else leaf
        loss = _evaluate(cls.name, x, spec.axis, kwargs)
        (grad,) = torch.autograd.grad(loss.sum(), leaf)
        ax_loss.plot(grid.numpy(), loss.detach().numpy(), label=label)
        ax_grad.plot(grid.numpy(), grad.numpy(), label=label)
    grad_label = "d loss / d logit of the true class" if spec.axis == "probability" else "d loss / d x"
    for ax, what in ((ax_loss, "loss"), (ax_grad, grad_label)):
        ax.set_xlabel(AXIS_LABEL[spec.axis])
        ax.set_ylabel(what)
        ax.grid(alpha=0.3)
        ax.axhline(0, color="black", lw=0.6)
    counts_note = ", true class 10 examples, other 100" if _class_frequencies(cls, params, torch.float64) else ""
    ax_loss.set_title(f"{cls.name} ({cls.__name__}{counts_note})")
    ax_grad.set_title("gradient")
    ax_loss.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
