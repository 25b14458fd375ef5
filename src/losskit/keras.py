"""Keras 3's losses, with Keras's semantics and numbers, computed with PyTorch.

    import losskit.keras as lkk
    loss = lkk.categorical_crossentropy(y_true, y_pred)          # per-sample, (N,)
    crit = lkk.CategoricalCrossentropy(from_logits=True)         # Keras's class
    value = crit(y_true, y_pred, sample_weight=w)                # Keras's reduction
    crit = lkk.get("categorical_crossentropy")                   # Keras's names

What differs from the rest of losskit, on purpose, because Keras does it so:

* argument order ``(y_true, y_pred)``;
* probabilities in by default (``from_logits=False``), clipped to
  ``[1e-7, 1 - 1e-7]`` (Keras's epsilon) before the log;
* functions return the per-sample loss: the mean (or sum) over the last axis;
* classes reduce with ``"sum_over_batch_size"`` (Σ w·l / number of entries),
  ``"sum"``, ``"mean"`` (the same as sum_over_batch_size),
  ``"mean_with_sample_weight"`` (Σ w·l / Σ w) or ``"none"``/``None``, and
  broadcast ``sample_weight`` after squeezing or expanding one trailing
  dimension of size 1, exactly as Keras's ``reduce_weighted_values`` does.

Two deliberate departures: a reduction over an empty batch gives 0 on the
autograd graph (Keras returns the empty tensor), and ``get_config()`` returns
Keras's keys plus any hyperparameter Keras forgets to save (``Huber``'s
``delta``, ``CosineSimilarity``'s and ``SparseCategoricalCrossentropy``'s
``axis``), so a config round trip keeps them; Keras's ``from_config`` accepts
the extra keys.
"""
from __future__ import annotations

import difflib
from typing import Any, Callable, Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from . import functional as LF
from ._core.reduction import safe_divide, zero_loss
from ._core.validation import check_number, compute_dtype

__all__ = [
    "EPSILON",
    "get",
    "mean_squared_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "huber",
    "log_cosh",
    "hinge",
    "squared_hinge",
    "categorical_hinge",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "sparse_categorical_crossentropy",
    "kl_divergence",
    "poisson",
    "cosine_similarity",
    "categorical_generalized_cross_entropy",
    "KerasLoss",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "Huber",
    "LogCosh",
    "Hinge",
    "SquaredHinge",
    "CategoricalHinge",
    "BinaryCrossentropy",
    "BinaryFocalCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy",
    "SparseCategoricalCrossentropy",
    "KLDivergence",
    "Poisson",
    "CosineSimilarity",
    "CategoricalGeneralizedCrossEntropy",
]

#: Keras's backend epsilon (``keras.backend.epsilon()``)
EPSILON = 1e-7
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


# ---------------------------------------------------------------------------------------------
# private helpers: Keras's conversions, rank alignment and reduction
# ---------------------------------------------------------------------------------------------


def _as_pred(y_pred) -> torch.Tensor:
    """y_pred as a floating tensor (half precision computes in float32, as everywhere in losskit)."""
    y_pred = torch.as_tensor(y_pred)
    if not y_pred.is_floating_point():
        return y_pred.to(torch.float32)
    return y_pred.to(compute_dtype(y_pred))


def _as_true(y_true, y_pred: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(y_true, device=y_pred.device).to(y_pred.dtype)


def _same_rank(x1: torch.Tensor, x2: torch.Tensor, expand_rank_1: bool = True) -> Tuple[torch.Tensor, torch.Tensor]:
    """Keras's ``squeeze_or_expand_to_same_rank``: fix a rank difference of one trailing size-1 axis."""
    r1, r2 = x1.dim(), x2.dim()
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2.unsqueeze(-1)
        else:
            x1 = x1.squeeze(-1)
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1.unsqueeze(-1)
        else:
            x2 = x2.squeeze(-1)
    return x1, x2


def _prepare(y_true, y_pred) -> Tuple[torch.Tensor, torch.Tensor]:
    y_pred = _as_pred(y_pred)
    y_true, y_pred = _same_rank(_as_true(y_true, y_pred), y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"losskit.keras: y_true and y_pred must have the same shape (after Keras's squeeze of a trailing "
            f"size-1 axis); got y_true {tuple(y_true.shape)} and y_pred {tuple(y_pred.shape)}"
        )
    return y_true, y_pred


def _clip_probabilities(p: torch.Tensor) -> torch.Tensor:
    return p.clamp(EPSILON, 1.0 - EPSILON)


def _keras_reduce(values: torch.Tensor, sample_weight, mask: Optional[torch.Tensor], reduction) -> torch.Tensor:
    """Keras 3's ``reduce_weighted_values`` (with ``apply_mask``), divisions that cannot give NaN."""
    if mask is not None:
        mask = mask.to(values.dtype)
        if reduction in ("mean", "sum_over_batch_size"):
            # valid entries weigh total/valid, so the mean runs over the valid entries only
            mask = mask * safe_divide(torch.tensor(float(mask.numel()), dtype=values.dtype, device=values.device), mask.sum())
        if sample_weight is not None:
            sample_weight = torch.as_tensor(sample_weight, dtype=values.dtype, device=values.device)
            mask, sample_weight = _same_rank(mask, sample_weight)
            sample_weight = sample_weight * mask
        else:
            sample_weight = mask
    if sample_weight is not None:
        sample_weight = torch.as_tensor(sample_weight, dtype=values.dtype, device=values.device)
        values, sample_weight = _same_rank(values, sample_weight)
        try:
            torch.broadcast_shapes(values.shape, sample_weight.shape)
        except RuntimeError:
            raise ValueError(
                f"losskit.keras: sample_weight of shape {tuple(sample_weight.shape)} does not broadcast against the "
                f"per-sample loss of shape {tuple(values.shape)} (Keras squeezes or expands one trailing size-1 axis, "
                f"then broadcasts)"
            ) from None
        values = values * sample_weight
    if reduction is None or reduction == "none" or values.dim() == 0:
        return values
    if values.numel() == 0:
        return zero_loss(values)
    total = values.sum()
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return safe_divide(total, sample_weight.sum())
    return safe_divide(total, torch.tensor(float(values.numel()), dtype=total.dtype, device=total.device))


# ---------------------------------------------------------------------------------------------
# functions: (y_true, y_pred, ...) -> per-sample loss, Keras's numbers
# ---------------------------------------------------------------------------------------------


def mean_squared_error(y_true, y_pred) -> torch.Tensor:
    r"""Keras ``mean_squared_error``: :math:`\operatorname{mean}_{-1} (y_{true} - y_{pred})^2`."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return LF.mse_loss(y_pred, y_true, reduction="none").mean(-1)


def mean_absolute_error(y_true, y_pred) -> torch.Tensor:
    r"""Keras ``mean_absolute_error``: :math:`\operatorname{mean}_{-1} |y_{true} - y_{pred}|`."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return LF.l1_loss(y_pred, y_true, reduction="none").mean(-1)


def mean_absolute_percentage_error(y_true, y_pred) -> torch.Tensor:
    r"""Keras ``mean_absolute_percentage_error``: :math:`100\,\operatorname{mean}_{-1} |y_t - y_p| / \max(|y_t|, \epsilon)`."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return LF.mape_loss(y_pred, y_true, eps=EPSILON, reduction="none").mean(-1)


def mean_squared_logarithmic_error(y_true, y_pred) -> torch.Tensor:
    r"""Keras ``mean_squared_logarithmic_error`` (values clamped at epsilon before ``log1p``)."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return LF.msle_loss(y_pred, y_true, eps=EPSILON, reduction="none").mean(-1)


def huber(y_true, y_pred, delta: float = 1.0) -> torch.Tensor:
    r"""Keras ``huber``: the mean over the last axis of :func:`losskit.functional.huber_loss`."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return LF.huber_loss(y_pred, y_true, delta=delta, reduction="none").mean(-1)


def log_cosh(y_true, y_pred) -> torch.Tensor:
    r"""Keras ``log_cosh``: :math:`\operatorname{mean}_{-1}\log\cosh(y_p - y_t)`, stable for large residuals."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return LF.log_cosh_loss(y_pred, y_true, reduction="none").mean(-1)


def _hinge_labels(y_true: torch.Tensor) -> torch.Tensor:
    """Keras's ``convert_binary_labels_to_hinge``: all-{0,1} labels become ±1, anything else is kept."""
    is_binary = ((y_true == 0) | (y_true == 1)).all()
    return torch.where(is_binary, 2.0 * y_true - 1.0, y_true)


def hinge(y_true, y_pred) -> torch.Tensor:
    r"""Keras ``hinge``: :math:`\operatorname{mean}_{-1}\max(0, 1 - y_t y_p)`, {0,1} labels mapped to ±1."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return torch.relu(1.0 - _hinge_labels(y_true) * y_pred).mean(-1)


def squared_hinge(y_true, y_pred) -> torch.Tensor:
    r"""Keras ``squared_hinge``: :math:`\operatorname{mean}_{-1}\max(0, 1 - y_t y_p)^2`."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return torch.relu(1.0 - _hinge_labels(y_true) * y_pred).square().mean(-1)


def categorical_hinge(y_true, y_pred) -> torch.Tensor:
    r"""Keras ``categorical_hinge`` over the last axis (one-hot ``y_true``)."""
    y_true, y_pred = _prepare(y_true, y_pred)
    if y_pred.dim() == 1:
        return LF.categorical_hinge_loss(y_pred, y_true, reduction="none")
    return LF.categorical_hinge_loss(y_pred.movedim(-1, 1), y_true.movedim(-1, 1), reduction="none")


def binary_crossentropy(y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1) -> torch.Tensor:
    r"""Keras ``binary_crossentropy``: mean over ``axis`` of the elementwise BCE.

    Targets are smoothed towards 1/2; probabilities are clipped to ``[eps, 1 - eps]``.
    """
    y_true, y_pred = _prepare(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        loss = LF.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
    else:
        loss = LF.binary_cross_entropy(_clip_probabilities(y_pred), y_true, reduction="none")
    return loss.mean(axis)


def binary_focal_crossentropy(
    y_true, y_pred, apply_class_balancing: bool = False, alpha: float = 0.25, gamma: float = 2.0,
    from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
) -> torch.Tensor:
    r"""Keras ``binary_focal_crossentropy``: :math:`\operatorname{mean}\, \alpha_t (1-p_t)^\gamma \operatorname{BCE}`.

    As in Keras, logits are turned into probabilities first and the BCE is
    taken on clipped probabilities (so it saturates at ``-log(1e-7)``). The
    modulating factor's base is floored at the smallest normal number, which
    changes no value but keeps its gradient finite where ``1 - p_t = 0``.
    """
    y_true, y_pred = _prepare(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        y_pred = torch.sigmoid(y_pred)
    bce = LF.binary_cross_entropy(_clip_probabilities(y_pred), y_true, reduction="none")
    p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
    focal = (1.0 - p_t).clamp_min(torch.finfo(p_t.dtype).tiny).pow(gamma) * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal
    return focal.mean(axis)


def _log_probabilities(y_pred: torch.Tensor, from_logits: bool, axis: int) -> torch.Tensor:
    """Keras's path to log-probabilities: log_softmax of logits, or log of renormalised clipped probabilities."""
    if from_logits:
        return torch.log_softmax(y_pred, axis)
    return torch.log(_clip_probabilities(y_pred / y_pred.sum(axis, keepdim=True)))


def categorical_crossentropy(y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1) -> torch.Tensor:
    r"""Keras ``categorical_crossentropy``: :math:`-\sum_{axis} y'_t \log p` with smoothed targets."""
    y_true, y_pred = _prepare(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[axis]
    return -(y_true * _log_probabilities(y_pred, from_logits, axis)).sum(axis)


def categorical_focal_crossentropy(
    y_true, y_pred, alpha: float = 0.25, gamma: float = 2.0, from_logits: bool = False,
    label_smoothing: float = 0.0, axis: int = -1,
) -> torch.Tensor:
    r"""Keras ``categorical_focal_crossentropy``: :math:`-\sum_{axis} \alpha (1-p)^\gamma y_t \log p`, p clipped."""
    y_true, y_pred = _prepare(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[axis]
    if from_logits:
        y_pred = torch.softmax(y_pred, axis)
    output = _clip_probabilities(y_pred / y_pred.sum(axis, keepdim=True))
    return (alpha * (1.0 - output).pow(gamma) * (-y_true * torch.log(output))).sum(axis)


def _sparse_ce(y_true, y_pred, from_logits, ignore_class, axis) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    y_pred = _as_pred(y_pred)
    y_true = torch.as_tensor(y_true, device=y_pred.device)
    if y_true.dim() == y_pred.dim() and y_true.shape[axis] == 1:
        y_true = y_true.squeeze(axis)
    if y_true.is_floating_point():
        y_true = y_true.long()  # Keras casts labels to integers
    class_axis = axis % y_pred.dim()
    expected = y_pred.shape[:class_axis] + y_pred.shape[class_axis + 1 :]
    if y_true.shape != expected:
        raise ValueError(
            f"losskit.keras.sparse_categorical_crossentropy: y_true must have y_pred's shape without the class "
            f"axis {tuple(expected)}; got {tuple(y_true.shape)}"
        )
    valid = None
    if ignore_class is not None:
        valid = y_true != ignore_class
        y_true = torch.where(valid, y_true, torch.zeros_like(y_true))
    log_p = _log_probabilities(y_pred, from_logits, class_axis)
    loss = -log_p.gather(class_axis, y_true.unsqueeze(class_axis)).squeeze(class_axis)
    if valid is not None:
        loss = torch.where(valid, loss, torch.zeros_like(loss))
    return loss, valid


def sparse_categorical_crossentropy(y_true, y_pred, from_logits: bool = False, ignore_class: Optional[int] = None,
                                    axis: int = -1) -> torch.Tensor:
    r"""Keras ``sparse_categorical_crossentropy``: :math:`-\log p_{y}` per entry; ``ignore_class`` entries give 0.

    The class reduction (:class:`SparseCategoricalCrossentropy`) then averages
    over the entries that are not ignored, as Keras's mask does.
    """
    return _sparse_ce(y_true, y_pred, from_logits, ignore_class, axis)[0]


def kl_divergence(y_true, y_pred) -> torch.Tensor:
    r"""Keras ``kl_divergence``: :math:`\sum_{-1} y_t \log(y_t / y_p)`, both clipped to ``[eps, 1]``."""
    y_true, y_pred = _prepare(y_true, y_pred)
    y_true, y_pred = y_true.clamp(EPSILON, 1.0), y_pred.clamp(EPSILON, 1.0)
    return (y_true * torch.log(y_true / y_pred)).sum(-1)


def poisson(y_true, y_pred) -> torch.Tensor:
    r"""Keras ``poisson``: :math:`\operatorname{mean}_{-1} (y_p - y_t \log(y_p + \epsilon))`."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return LF.poisson_nll_loss(y_pred, y_true, log_input=False, eps=EPSILON, reduction="none").mean(-1)


def _l2_normalize(x: torch.Tensor, axis: int) -> torch.Tensor:
    """Keras's ``normalize``: ``x * min(rsqrt(Σx²), 1/eps)``, with a finite gradient at zero vectors."""
    return x * torch.rsqrt(x.square().sum(axis, keepdim=True).clamp_min(EPSILON**2))


def cosine_similarity(y_true, y_pred, axis: int = -1) -> torch.Tensor:
    r"""Keras ``cosine_similarity`` as a loss: :math:`-\sum_{axis} \hat y_t \hat y_p` (unit vectors), in [-1, 1]."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return -(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis)).sum(axis)


def categorical_generalized_cross_entropy(y_true, y_pred, q: float) -> torch.Tensor:
    r"""Keras ``categorical_generalized_cross_entropy``: :math:`(1 - p_y^q) / q` of *probabilities* and integer labels."""
    check_number("categorical_generalized_cross_entropy", "q", q, low=0.0, high=1.0, low_open=True)
    y_pred = _as_pred(y_pred)
    labels = torch.as_tensor(y_true, device=y_pred.device).long()
    p = (y_pred * F.one_hot(labels, y_pred.shape[-1]).to(y_pred.dtype)).sum(-1)
    return (1.0 - p.pow(q)) / q


# ---------------------------------------------------------------------------------------------
# classes: Keras's constructors, reductions and configs
# ---------------------------------------------------------------------------------------------


class KerasLoss(nn.Module):
    """Base of the Keras-compatible loss classes: ``loss(y_true, y_pred, sample_weight=None)``."""

    fn: Callable = staticmethod(lambda y_true, y_pred: y_true)
    default_name: str = ""
    #: hyperparameters Keras's get_config saves (beyond name and reduction)
    config_keys: Tuple[str, ...] = ()

    def __init__(self, reduction="sum_over_batch_size", name: Optional[str] = None, dtype=None, **fn_kwargs: Any) -> None:
        super().__init__()
        if reduction not in REDUCTIONS:
            choices = ", ".join(repr(r) for r in REDUCTIONS)
            raise ValueError(f"{type(self).__name__}: invalid reduction {reduction!r}; expected one of {choices}")
        self.reduction = reduction
        self.name = name or self.default_name
        self.fn_kwargs = fn_kwargs

    def _values(self, y_true, y_pred) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        return type(self).fn(y_true, y_pred, **self.fn_kwargs), None

    def forward(self, y_true, y_pred, sample_weight=None) -> torch.Tensor:
        values, mask = self._values(y_true, y_pred)
        return _keras_reduce(values, sample_weight, mask, self.reduction)

    def get_config(self) -> Dict[str, Any]:
        config = {"name": self.name, "reduction": self.reduction}
        config.update({k: self.fn_kwargs[k] for k in self.config_keys})
        config.update({k: v for k, v in self.fn_kwargs.items() if k not in config})  # what Keras forgets
        return config

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "KerasLoss":
        return cls(**config)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())


def _keras_class(class_name: str, function: Callable, default_name: str, params: Dict[str, Any], config_keys=()):
    """Build a Keras class: its constructor takes ``params`` (with Keras's defaults) then reduction, name, dtype."""

    def __init__(self, *args, reduction="sum_over_batch_size", name=default_name, dtype=None, **kwargs):
        if len(args) > len(params):
            raise TypeError(f"{class_name}() takes at most {len(params)} positional arguments; got {len(args)}")
        values = dict(params)
        values.update(zip(params, args))
        unknown = set(kwargs) - set(params)
        if unknown:
            raise TypeError(f"{class_name}() got unexpected keyword arguments {sorted(unknown)}; it takes {sorted(params)}")
        values.update(kwargs)
        KerasLoss.__init__(self, reduction=reduction, name=name, dtype=dtype, **values)

    doc = (function.__doc__ or "").strip().splitlines()[0]
    return type(class_name, (KerasLoss,), {
        "__init__": __init__, "fn": staticmethod(function), "default_name": default_name,
        "config_keys": tuple(config_keys), "__doc__": f"Keras ``{class_name}``. {doc}",
        "__module__": __name__,
    })


MeanSquaredError = _keras_class("MeanSquaredError", mean_squared_error, "mean_squared_error", {})
MeanAbsoluteError = _keras_class("MeanAbsoluteError", mean_absolute_error, "mean_absolute_error", {})
MeanAbsolutePercentageError = _keras_class("MeanAbsolutePercentageError", mean_absolute_percentage_error,
                                           "mean_absolute_percentage_error", {})
MeanSquaredLogarithmicError = _keras_class("MeanSquaredLogarithmicError", mean_squared_logarithmic_error,
                                           "mean_squared_logarithmic_error", {})
Huber = _keras_class("Huber", huber, "huber_loss", {"delta": 1.0})
LogCosh = _keras_class("LogCosh", log_cosh, "log_cosh", {})
Hinge = _keras_class("Hinge", hinge, "hinge", {})
SquaredHinge = _keras_class("SquaredHinge", squared_hinge, "squared_hinge", {})
CategoricalHinge = _keras_class("CategoricalHinge", categorical_hinge, "categorical_hinge", {})
KLDivergence = _keras_class("KLDivergence", kl_divergence, "kl_divergence", {})
Poisson = _keras_class("Poisson", poisson, "poisson", {})
CosineSimilarity = _keras_class("CosineSimilarity", cosine_similarity, "cosine_similarity", {"axis": -1})
BinaryCrossentropy = _keras_class(
    "BinaryCrossentropy", binary_crossentropy, "binary_crossentropy",
    {"from_logits": False, "label_smoothing": 0.0, "axis": -1}, ("from_logits", "label_smoothing", "axis"))
BinaryFocalCrossentropy = _keras_class(
    "BinaryFocalCrossentropy", binary_focal_crossentropy, "binary_focal_crossentropy",
    {"apply_class_balancing": False, "alpha": 0.25, "gamma": 2.0, "from_logits": False, "label_smoothing": 0.0, "axis": -1},
    ("from_logits", "label_smoothing", "axis", "apply_class_balancing", "alpha", "gamma"))
CategoricalCrossentropy = _keras_class(
    "CategoricalCrossentropy", categorical_crossentropy, "categorical_crossentropy",
    {"from_logits": False, "label_smoothing": 0.0, "axis": -1}, ("from_logits", "label_smoothing", "axis"))
CategoricalFocalCrossentropy = _keras_class(
    "CategoricalFocalCrossentropy", categorical_focal_crossentropy, "categorical_focal_crossentropy",
    {"alpha": 0.25, "gamma": 2.0, "from_logits": False, "label_smoothing": 0.0, "axis": -1},
    ("from_logits", "label_smoothing", "axis", "alpha", "gamma"))
class CategoricalGeneralizedCrossEntropy(KerasLoss):
    """Keras ``CategoricalGeneralizedCrossEntropy``; like Keras's class, it takes q in (0, 1) (the function also q = 1)."""

    fn = staticmethod(categorical_generalized_cross_entropy)
    default_name = "categorical_generalized_cross_entropy"
    config_keys = ("q",)

    def __init__(self, q: float = 0.5, reduction="sum_over_batch_size", name: str = "categorical_generalized_cross_entropy",
                 dtype=None) -> None:
        check_number(type(self).__name__, "q", q, low=0.0, high=1.0, low_open=True, high_open=True)
        super().__init__(reduction=reduction, name=name, dtype=dtype, q=q)


class SparseCategoricalCrossentropy(KerasLoss):
    """Keras ``SparseCategoricalCrossentropy``; ``ignore_class`` entries are masked out of the mean."""

    fn = staticmethod(sparse_categorical_crossentropy)
    default_name = "sparse_categorical_crossentropy"
    config_keys = ("from_logits", "ignore_class")

    def __init__(self, from_logits: bool = False, ignore_class: Optional[int] = None, reduction="sum_over_batch_size",
                 axis: int = -1, name: str = "sparse_categorical_crossentropy", dtype=None) -> None:
        super().__init__(reduction=reduction, name=name, dtype=dtype, from_logits=from_logits, ignore_class=ignore_class, axis=axis)

    def _values(self, y_true, y_pred):
        return _sparse_ce(y_true, y_pred, **self.fn_kwargs)


# ---------------------------------------------------------------------------------------------
# get
# ---------------------------------------------------------------------------------------------

_FUNCTIONS = {f.__name__: f for f in (
    mean_squared_error, mean_absolute_error, mean_absolute_percentage_error, mean_squared_logarithmic_error, huber,
    log_cosh, hinge, squared_hinge, categorical_hinge, binary_crossentropy, binary_focal_crossentropy,
    categorical_crossentropy, categorical_focal_crossentropy, sparse_categorical_crossentropy, kl_divergence, poisson,
    cosine_similarity, categorical_generalized_cross_entropy)}
_CLASSES = {c.__name__: c for c in (
    MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError, Huber, LogCosh, Hinge,
    SquaredHinge, CategoricalHinge, BinaryCrossentropy, BinaryFocalCrossentropy, CategoricalCrossentropy,
    CategoricalFocalCrossentropy, SparseCategoricalCrossentropy, KLDivergence, Poisson, CosineSimilarity,
    CategoricalGeneralizedCrossEntropy)}
_ALIASES = {
    "mse": mean_squared_error, "MSE": mean_squared_error, "mae": mean_absolute_error, "MAE": mean_absolute_error,
    "mape": mean_absolute_percentage_error, "MAPE": mean_absolute_percentage_error,
    "msle": mean_squared_logarithmic_error, "MSLE": mean_squared_logarithmic_error,
    "bce": binary_crossentropy, "BCE": binary_crossentropy, "kld": kl_divergence, "KLD": kl_divergence,
    "kullback_leibler_divergence": kl_divergence, "logcosh": log_cosh, "cosine_proximity": cosine_similarity,
}


def get(identifier):
    """Keras's ``keras.losses.get``: a function for a function name or alias, an instance for a class name.

    Accepts Keras's function names, class names and short aliases (mse, mae,
    mape, msle, bce, kld, their upper-case forms), the older ``logcosh`` and
    ``cosine_proximity``, a ``{"class_name": ..., "config": {...}}`` dict, a
    callable (returned as it is) or None (returns None).
    """
    if identifier is None or callable(identifier):
        return identifier
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        if name not in _CLASSES:
            raise ValueError(f"losskit.keras.get: unknown loss class {name!r}; expected one of {', '.join(sorted(_CLASSES))}")
        return _CLASSES[name].from_config(identifier.get("config", {}))
    if not isinstance(identifier, str):
        raise ValueError(f"losskit.keras.get: could not interpret loss identifier {identifier!r}")
    for table in (_FUNCTIONS, _ALIASES):
        if identifier in table:
            return table[identifier]
    if identifier in _CLASSES:
        return _CLASSES[identifier]()
    known = [*_FUNCTIONS, *_ALIASES, *_CLASSES]
    close = difflib.get_close_matches(identifier, known, n=4, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"losskit.keras.get: unknown loss {identifier!r}{hint}")
