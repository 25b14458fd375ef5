"""Long-tailed and noisy labels: logit adjustment (balanced softmax), LDAM, symmetric cross-entropy.

Also :func:`class_balanced_weights`, Cui et al.'s effective-number class
weights for any loss's ``weight`` (a helper, not a loss: ``losskit.class_balanced_weights``).

The long-tail losses take the training set's class frequencies as
``class_counts`` ``(C,)`` (``logit_adjusted`` also takes a ``class_prior``).
Every count must be positive: a class with no training example has a log
prior of -inf (logit adjustment could never predict it), an infinite LDAM
margin and an infinite class-balanced weight, so a zero raises ``ValueError``
instead of giving NaN or a class that cannot be learnt. Drop such a class, or
give it a small positive count on purpose.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence, Tuple, Union, cast

import torch

from .._core import checks
from .._core.spec import Curve, Role, loss
from .._core.targets import (
    class_dim,
    class_index_target,
    is_probability_target,
    prepare_scores,
    reduce_per_target,
    safe_targets,
)
from .._core.validation import (
    check_broadcastable_to,
    check_class_weight,
    check_number,
    data_checks_active,
    fmt_shape,
    host_readable,
    require,
    to_compute,
)
from ._common import FAMILY
from .cross_entropy import cross_entropy

__all__ = ["logit_adjusted_cross_entropy", "ldam_loss", "symmetric_cross_entropy", "class_balanced_weights"]


def _check_positive_per_class(fn: str, name: str, value: object) -> None:
    """None, or a non-empty 1-D real tensor of positive, finite per-class values (counts or a prior)."""
    if value is None:
        return
    if not isinstance(value, torch.Tensor):
        hint = f" — wrap it with torch.tensor({name})" if isinstance(value, (list, tuple)) else ""
        raise TypeError(
            f"{fn}: {name} must be a 1-D torch.Tensor with one entry per class; got {type(value).__name__}{hint}"
        )
    if value.dtype == torch.bool or value.is_complex():
        raise TypeError(f"{fn}: {name} must be a real tensor; got {str(value.dtype).replace('torch.', '')}")
    if value.dim() != 1 or value.numel() == 0:
        raise ValueError(
            f"{fn}: {name} must be a 1-D tensor with one entry per class; got shape {fmt_shape(value.shape)}"
        )
    # runs on every call of the functional (a module passes its buffer): one min/max pass compared in Python,
    # then the slow path only to name the bad class; NaN propagates through aminmax and fails the comparison
    if data_checks_active(value) and not host_readable(value):
        require(
            (value > 0) & torch.isfinite(value),
            f"{fn}: {name} must be positive and finite for every class",
        )
    elif data_checks_active(value):
        low, high = (v.item() for v in torch.aminmax(value))
        if not (low > 0 and high < math.inf):
            bad = ~(value > 0) | ~torch.isfinite(value)
            k = int(bad.nonzero()[0, 0])
            raise ValueError(
                f"{fn}: {name} must be positive and finite for every class; got {value[k].item()!r} for class {k} "
                f"(a class without training examples has no finite log prior, margin or weight — drop the class, "
                f"or give it a small positive count)"
            )


COUNTS = checks.custom(
    _check_positive_per_class, "a 1-D tensor (C,) of positive per-class training counts, or None", tensor=True
)
PRIOR = checks.custom(
    _check_positive_per_class,
    "a 1-D tensor (C,) of positive class probabilities (only their ratios matter), or None",
    tensor=True,
)


def _one_prior(fn: str, values: Mapping[str, Any]) -> None:
    """logit adjustment needs the class frequencies exactly once: as counts or as a prior."""
    given = [k for k in ("class_counts", "class_prior") if values.get(k) is not None]
    if len(given) != 1:
        got = "both" if given else "neither"
        raise ValueError(
            f"{fn}: give exactly one of class_counts (training examples per class) and class_prior "
            f"(class probabilities), a (C,) tensor; got {got}"
        )


def _counts_required(fn: str, values: Mapping[str, Any]) -> None:
    if values.get("class_counts") is None:
        raise ValueError(f"{fn}: class_counts is required: a (C,) tensor of training examples per class; got None")


def _per_class(fn: str, name: str, value: torch.Tensor, num_classes: int, dtype: torch.dtype) -> torch.Tensor:
    """A checked (C,) hyperparameter in the compute dtype; its length must be the input's number of classes."""
    if value.numel() != num_classes:
        raise ValueError(f"{fn}: {name} must have one entry per class ({num_classes}); got {value.numel()}")
    return to_compute(dtype, value)


def _class_shape(input: torch.Tensor, cdim: int) -> Sequence[int]:
    """The shape that broadcasts a (C,) vector along the class dimension of ``input``."""
    shape = [1] * input.dim()
    shape[cdim] = input.shape[cdim]
    return shape


def _index_targets_only(
    fn: str, input: torch.Tensor, target: torch.Tensor, ignore_index: int, why: str
) -> Tuple[torch.Tensor, Optional[bool]]:
    """Checked int64 class indices; a floating (probability) target raises with the reason this loss needs indices."""
    if target.is_floating_point():
        raise TypeError(
            f"{fn}: class-index targets must be an integer tensor; got {str(target.dtype).replace('torch.', '')} of "
            f"shape {fmt_shape(target.shape)} — {fn} takes class indices only ({why}); pass target.long()"
        )
    return class_index_target(fn, input, target, ignore_index=ignore_index)


@loss(
    "logit_adjusted",
    family=FAMILY,
    module="LogitAdjustedCrossEntropyLoss",
    aliases=("balanced_softmax",),
    positional=("class_counts",),
    roles=(
        Role("input", "logits (N, C), (N, C, d1, ...) or (C,)"),
        Role("target", "class indices (N, d1, ...) or probabilities of the input's shape"),
    ),
    hparams={
        "class_counts": COUNTS,
        "class_prior": PRIOR,
        "tau": checks.non_negative,
        "weight": checks.class_weight,
        "ignore_index": checks.integer,
        "label_smoothing": checks.unit_interval,
    },
    capabilities=(
        "compile",
        "double_backward",
        "class_weight",
        "ignore_index",
        "index_targets",
        "probability_targets",
        "label_smoothing",
    ),
    references=("NumPy reference (Menon et al. 2021, eq. 10; Ren et al. 2020)",),
    curve=Curve("probability", "tau", (0.0, 0.5, 1.0, 2.0)),
    hparam_rule=_one_prior,
)
def logit_adjusted_cross_entropy(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    class_counts: Optional[torch.Tensor] = None,
    class_prior: Optional[torch.Tensor] = None,
    tau: float = 1.0,
    weight: Optional[torch.Tensor] = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Logit-adjusted cross-entropy for long-tailed classes; ``tau=1`` is the balanced softmax.

    The cross-entropy of the logits shifted by the scaled log prior of each
    class, :math:`\pi_c = n_c / \sum_k n_k`:

    .. math::
        \ell_i = -\log \operatorname{softmax}\big(x_i + \tau \log \pi\big)_{y_i}
               = -x_{i,y_i} - \tau \log \pi_{y_i} + \log \sum_c e^{x_{i,c} + \tau \log \pi_c}

    Training with it makes the plain logits :math:`x` estimate the balanced
    (class-uniform) posterior, so the arg-max of ``input`` favours no class
    for being frequent. Weight, ignore_index, label smoothing, probability
    targets and reductions are :func:`cross_entropy`'s, applied to the
    adjusted logits. Give ``class_counts`` or ``class_prior``, not both; a
    prior need not sum to 1 (softmax ignores the constant :math:`\tau\log\sum\pi`),
    so counts and the prior they imply give the same loss. ``tau=0`` is
    plain cross-entropy. A count or prior of 0 raises ``ValueError`` (its
    class would have logit :math:`-\infty`: never predicted, an infinite
    loss for its examples).

    Args:
        input: logits ``(N, C)``, ``(N, C, d1, ..., dk)`` or ``(C,)``.
        target: class indices ``(N)``, ``(N, d1, ..., dk)`` or ``()`` (integer),
            or probabilities of the input's shape.
        class_counts: training examples per class ``(C,)``, positive.
        class_prior: class probabilities ``(C,)``, positive (instead of ``class_counts``).
        tau: the scale :math:`\tau \ge 0` of the adjustment.
        weight: per-class weights ``(C,)``.
        ignore_index: a target value that contributes nothing (index targets).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (shape ``(N, d1, ..., dk)``).
        label_smoothing: :math:`\varepsilon \in [0, 1]`, as in :func:`cross_entropy`.
        sample_weight: optional per-sample weights broadcastable to the unreduced loss.

    Returns:
        A scalar, or the per-sample loss with ``reduction="none"``.

    Example:
        >>> logits = torch.tensor([[2.0, 0.0, 0.0]])
        >>> logit_adjusted_cross_entropy(logits, torch.tensor([0]), class_counts=torch.tensor([100, 10, 1]))
        tensor(0.0148)

    Reference:
        Menon et al., "Long-tail learning via logit adjustment", ICLR 2021
        (the logit-adjusted loss, eq. 10); Ren et al., "Balanced Meta-Softmax
        for Long-Tailed Visual Recognition", NeurIPS 2020 (``tau=1``).
    """
    fn = "logit_adjusted_cross_entropy"
    input = prepare_scores(fn, input)
    cdim = class_dim(input)
    num_classes = input.shape[cdim]
    # exactly one is given (the declared rule, _one_prior, has run)
    name, frequencies = ("class_counts", class_counts) if class_counts is not None else ("class_prior", class_prior)
    log_prior = torch.log(_per_class(fn, name, cast(torch.Tensor, frequencies), num_classes, input.dtype))
    # the checks of cross_entropy run again inside it; run them here first so that messages name this function
    check_class_weight(fn, weight, num_classes)
    if is_probability_target(fn, input, target, ignore_index):
        check_broadcastable_to(fn, "sample_weight", sample_weight, input.shape[:cdim] + input.shape[cdim + 1 :])
    else:
        target, _ = class_index_target(fn, input, target, ignore_index=ignore_index)
        check_broadcastable_to(fn, "sample_weight", sample_weight, target.shape)
    adjusted = torch.add(input, log_prior.view(_class_shape(input, cdim)), alpha=float(tau))
    return cross_entropy(
        adjusted,
        target,
        weight=weight,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
        sample_weight=sample_weight,
    )


@loss(
    "ldam",
    family=FAMILY,
    module="LDAMLoss",
    positional=("class_counts",),
    roles=(
        Role("input", "logits (N, C), (N, C, d1, ...) or (C,)"),
        Role("target", "class indices (N, d1, ...)", differentiable=False),
    ),
    hparams={
        "class_counts": COUNTS,
        "max_margin": checks.non_negative,
        "scale": checks.positive,
        "weight": checks.class_weight,
        "ignore_index": checks.integer,
    },
    capabilities=("compile", "double_backward", "class_weight", "ignore_index", "index_targets"),
    references=("NumPy reference (Cao et al. 2019; the authors' LDAMLoss, kaidic/LDAM-DRW)",),
    curve=Curve("probability", "max_margin", (0.0, 0.25, 0.5, 1.0)),
    hparam_rule=_counts_required,
)
def ldam_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    class_counts: Optional[torch.Tensor] = None,
    max_margin: float = 0.5,
    scale: float = 30.0,
    weight: Optional[torch.Tensor] = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Label-distribution-aware margin loss (LDAM, Cao et al. 2019).

    Each class gets a margin that grows as its training count shrinks,
    proportional to :math:`n_c^{-1/4}`, scaled so that the rarest class's is
    ``max_margin``; the target logit loses its class's margin and the
    cross-entropy is taken of the scaled logits:

    .. math::
        m_c = M \left(\frac{n_r}{n_c}\right)^{1/4}, \qquad
        \ell_i = \operatorname{CE}\big(s\,(x_i - m_{y_i} e_{y_i}),\ y_i\big)

    with :math:`M` = ``max_margin``, :math:`n_r` the rarest class's count,
    :math:`s` = ``scale`` and :math:`e_{y}` the one-hot vector of the
    target, as in the authors' code (which normalises features and weights of
    the last layer, so ``input`` is usually cosine logits in [-1, 1]).
    ``weight`` is :func:`cross_entropy`'s class weight: deferred re-weighting
    (DRW) passes :func:`class_balanced_weights` after the first stage, and
    "mean" is then :math:`\sum_i w_{y_i}\ell_i / \sum_i w_{y_i}`.
    ``max_margin=0`` is cross-entropy of ``scale * input``. Class-index targets
    only (the margin belongs to the labelled class); a count of 0 raises
    ``ValueError`` (its margin would be infinite).

    Args:
        input: logits ``(N, C)``, ``(N, C, d1, ..., dk)`` or ``(C,)``.
        target: class indices ``(N)``, ``(N, d1, ..., dk)`` or ``()`` (integer).
        class_counts: training examples per class ``(C,)``, positive (required).
        max_margin: the rarest class's margin :math:`M \ge 0`.
        scale: :math:`s > 0`, multiplies the logits after the margin.
        weight: per-class weights ``(C,)`` (the DRW stage).
        ignore_index: a target value that contributes nothing.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (shape ``(N, d1, ..., dk)``).
        sample_weight: optional per-sample weights broadcastable to the unreduced loss.

    Returns:
        A scalar, or the per-sample loss with ``reduction="none"``.

    Example:
        >>> cosines = torch.tensor([[0.8, 0.1, -0.2]])
        >>> ldam_loss(cosines, torch.tensor([1]), class_counts=torch.tensor([100, 10, 1]))
        tensor(29.4351)

    Reference:
        Cao et al., "Learning Imbalanced Datasets with Label-Distribution-Aware
        Margin Loss", NeurIPS 2019 (eq. 13 and the authors' ``LDAMLoss``).
    """
    fn = "ldam_loss"
    input = prepare_scores(fn, input)
    cdim = class_dim(input)
    num_classes = input.shape[cdim]
    # class_counts is given (the declared rule, _counts_required, has run)
    counts = _per_class(fn, "class_counts", cast(torch.Tensor, class_counts), num_classes, input.dtype)
    target, has_ignored = _index_targets_only(fn, input, target, ignore_index, "the margin is the labelled class's")
    check_class_weight(fn, weight, num_classes)
    check_broadcastable_to(fn, "sample_weight", sample_weight, target.shape)
    # (min n / n)^(1/4): the rarest class gets exactly max_margin, and no count is raised to a negative power
    margins = max_margin * (counts.min() / counts) ** 0.25
    safe = safe_targets(target, None if has_ignored is False else target != ignore_index).unsqueeze(cdim)
    shifted = input.scatter_add(cdim, safe, -margins[safe])
    return cross_entropy(
        scale * shifted,
        target,
        weight=weight,
        ignore_index=ignore_index,
        reduction=reduction,
        sample_weight=sample_weight,
    )


@loss(
    "symmetric_cross_entropy",
    family=FAMILY,
    module="SymmetricCrossEntropyLoss",
    aliases=("sce",),
    roles=(
        Role("input", "logits (N, C), (N, C, d1, ...) or (C,)"),
        Role("target", "class indices (N, d1, ...)", differentiable=False),
    ),
    hparams={
        "alpha": checks.non_negative,
        "beta": checks.non_negative,
        "log_zero": checks.number(high=0.0, high_open=True),
        "weight": checks.class_weight,
        "ignore_index": checks.integer,
    },
    capabilities=("compile", "double_backward", "class_weight", "ignore_index", "index_targets"),
    references=("NumPy reference (Wang et al. 2019, eq. 5-7)",),
    curve=Curve("probability", "beta", (0.0, 0.5, 1.0, 2.0)),
)
def symmetric_cross_entropy(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float = 0.1,
    beta: float = 1.0,
    log_zero: float = -4.0,
    weight: Optional[torch.Tensor] = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Symmetric cross-entropy for noisy labels (SCE, Wang et al. 2019).

    Cross-entropy plus the reverse cross-entropy, which swaps the roles of
    the prediction :math:`p = \operatorname{softmax}(x)` and the one-hot label
    :math:`q`, with :math:`\log 0` replaced by the constant :math:`A` =
    ``log_zero``:

    .. math::
        \ell_i = \alpha\,(-\log p_{i,y_i}) + \beta\,\Big(-\sum_c p_{i,c} \log q_{i,c}\Big)
               = -\alpha \log p_{i,y_i} - \beta A \,(1 - p_{i,y_i})

    The reverse term is bounded (at most :math:`-A`), which is what makes it
    robust to flipped labels. This is the paper's definition; the authors'
    code instead clamps :math:`q` to :math:`[10^{-4}, 1]` and :math:`p` to
    :math:`[10^{-7}, 1]`, which is :math:`A = \log 10^{-4} \approx -9.21` up
    to the clamp of :math:`p` — pass ``log_zero=math.log(1e-4)`` for that
    scale. :math:`1 - p_y` is summed from the other classes' probabilities,
    never formed as a difference, so it stays accurate as :math:`p_y \to 1`.
    ``weight`` scales each target's whole loss by :math:`w_{y_i}` and "mean"
    divides by :math:`\sum_i w_{y_i}` over targets that count. Class-index
    targets only (the label is one-hot by definition).

    Args:
        input: logits ``(N, C)``, ``(N, C, d1, ..., dk)`` or ``(C,)``.
        target: class indices ``(N)``, ``(N, d1, ..., dk)`` or ``()`` (integer).
        alpha: weight :math:`\alpha \ge 0` of the cross-entropy.
        beta: weight :math:`\beta \ge 0` of the reverse cross-entropy.
        log_zero: :math:`A < 0`, the value taken for :math:`\log 0`.
        weight: per-class weights ``(C,)``.
        ignore_index: a target value that contributes nothing.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (shape ``(N, d1, ..., dk)``).
        sample_weight: optional per-sample weights broadcastable to the unreduced loss.

    Returns:
        A scalar, or the per-sample loss with ``reduction="none"``.

    Example:
        >>> symmetric_cross_entropy(torch.tensor([[2.0, 0.0, 0.0]]), torch.tensor([0]))
        tensor(0.8760)

    Reference:
        Wang et al., "Symmetric Cross Entropy for Robust Learning with Noisy
        Labels", ICCV 2019 (eq. 5-7).
    """
    fn = "symmetric_cross_entropy"
    input = prepare_scores(fn, input)
    cdim = class_dim(input)
    target, has_ignored = _index_targets_only(fn, input, target, ignore_index, "the reverse term needs one-hot labels")
    check_class_weight(fn, weight, input.shape[cdim])
    weight = to_compute(input.dtype, weight) if weight is not None else None
    valid = None if has_ignored is False else target != ignore_index
    safe = safe_targets(target, valid).unsqueeze(cdim)
    log_p = torch.log_softmax(input, cdim)
    ce = -log_p.gather(cdim, safe).squeeze(cdim)
    other_mass = torch.exp(log_p).scatter(cdim, safe, 0.0).sum(cdim)  # Σ_{c≠y} p_c = 1 - p_y, without cancellation
    per_target = alpha * ce - (beta * log_zero) * other_mass
    return reduce_per_target(per_target, target, weight, valid, reduction, sample_weight, fn)


def class_balanced_weights(class_counts: Union[torch.Tensor, Sequence[float]], beta: float = 0.999) -> torch.Tensor:
    r"""Class-balanced weights from the effective number of samples (Cui et al. 2019).

    .. math::
        w_c = \frac{1 - \beta}{1 - \beta^{n_c}}, \qquad
        w \leftarrow C\, \frac{w}{\sum_k w_k}

    normalised to sum to the number of classes :math:`C` (an average weight
    of 1, so a loss keeps its scale). :math:`\beta = 0` gives every class 1;
    :math:`\beta \to 1` approaches inverse class frequency. Pass the result
    as any loss's ``weight`` (class-balanced focal or cross-entropy, the DRW
    stage of :func:`ldam_loss`). A count of 0 raises ``ValueError``: a class
    without examples has effective number 0 and an infinite weight.
    :math:`1 - \beta^{n}` is computed as :math:`-\operatorname{expm1}(n \log\beta)`,
    accurate for small counts and :math:`\beta` near 1.

    Args:
        class_counts: training examples per class ``(C,)``, positive: a tensor
            (integer or floating) or a sequence of numbers.
        beta: :math:`\beta \in [0, 1)`.

    Returns:
        The weights ``(C,)``, on ``class_counts``' device, in its dtype when it
        is a floating tensor, else (integer counts, a sequence) in torch's
        default dtype.

    Example:
        >>> class_balanced_weights(torch.tensor([1000, 100, 10]), beta=0.99)
        tensor([0.2301, 0.3630, 2.4068])

    Reference:
        Cui et al., "Class-Balanced Loss Based on Effective Number of
        Samples", CVPR 2019 (eq. 3 and the authors' normalisation to C).
    """
    fn = "class_balanced_weights"
    dtype = torch.get_default_dtype()
    if isinstance(class_counts, (list, tuple)):
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in class_counts):
            raise TypeError(f"{fn}: class_counts must be a 1-D tensor or a sequence of numbers; got {class_counts!r}")
        class_counts = torch.tensor(class_counts, dtype=torch.float64)
    elif not isinstance(class_counts, torch.Tensor):
        raise TypeError(
            f"{fn}: class_counts must be a 1-D tensor or a sequence of numbers; got {type(class_counts).__name__}"
        )
    elif class_counts.is_floating_point():
        dtype = class_counts.dtype
    _check_positive_per_class(fn, "class_counts", class_counts)
    check_number(fn, "beta", beta, low=0.0, high=1.0, high_open=True)
    # float64 inside: 1 - beta^n for beta = 0.9999 and n ~ 1e6 needs more than float32 to be exact
    counts = class_counts.to(torch.float64)
    log_beta = math.log(beta) if beta > 0 else -math.inf
    effective_number = -torch.expm1(counts * log_beta) / (1.0 - beta)  # (1 - beta^n) / (1 - beta)
    weights = 1.0 / effective_number
    return (weights * (counts.numel() / weights.sum())).to(dtype)
