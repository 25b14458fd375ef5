"""Distribution losses: kl_div, js_div, poisson_nll_loss, gaussian_nll_loss.

``kl_div`` and ``js_div`` are elementwise, like torch's ``kl_div``: the caller
normalises the distributions, and ``reduction="batchmean"`` (sum over
everything divided by the batch size) gives the mathematical divergence per
sample. Their ``"mean"`` — torch's default, kept for drop-in parity — divides
by the number of *elements* instead.
"""

from __future__ import annotations

import math
from typing import Optional, Union

import torch
import torch.nn.functional as F

from ._core import checks
from ._core.nonfinite import softmax_limit_scores
from ._core.reduction import fast_or_exact, reduce_loss
from ._core.spec import Curve, Role, loss
from ._core.validation import (
    check_floating,
    check_number,
    compute_dtype,
    data_checks_active,
    fmt_shape,
    prepare_pair,
    require,
    to_compute,
)

__all__ = ["kl_div", "js_div", "poisson_nll_loss", "gaussian_nll_loss"]

FAMILY = "distribution"
KL_REDUCTIONS = ("mean", "sum", "none", "batchmean")
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _plogp_from_prob(p: torch.Tensor) -> torch.Tensor:
    """``p log p`` with 0 at p = 0 and a finite gradient there (log 1 = 0 in the safe branch)."""
    return torch.xlogy(p, torch.where(p == 0, torch.ones_like(p), p))


def _plogp_from_log(log_p: torch.Tensor) -> tuple:
    """``(p, p log p)`` from log-probabilities; ``log p = -inf`` (p = 0) gives 0, not 0·(-inf)."""
    finite_log = torch.where(torch.isneginf(log_p), torch.zeros_like(log_p), log_p)
    p = torch.exp(log_p)
    return p, p * finite_log


# ---------------------------------------------------------------------------------------------
# functionals
# ---------------------------------------------------------------------------------------------


@loss(
    "kl_div",
    family=FAMILY,
    module="KLDivLoss",
    aliases=("kld", "kl_divergence", "kullback_leibler_divergence"),
    hparams={"log_target": checks.boolean},
    reductions=KL_REDUCTIONS,
    capabilities=("compile", "double_backward", "probability_targets"),
    references=("torch.nn.functional.kl_div", "scipy.special.rel_entr", "Keras kl_divergence"),
    curve=Curve("probability"),
)
def kl_div(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
    log_target: bool = False,
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Kullback-Leibler divergence ``KL(target ‖ input)``, torch's ``kl_div`` semantics.

    ``input`` holds log-probabilities; ``target`` probabilities (or
    log-probabilities with ``log_target=True``). Elementwise:

    .. math::
        \ell_i = y_i (\log y_i - x_i) \quad\text{or, with log targets,}\quad
        \ell_i = e^{y_i} (y_i - x_i)

    Zero-probability targets contribute exactly 0 with finite gradients for
    input and target (torch's gradient with respect to such a target is NaN),
    also where the input is ``-inf`` (torch: 0 · (-inf) = NaN), and
    ``log_target=True`` accepts ``-inf`` targets the same way.

    Args:
        input: log-probabilities, any shape ``(*)`` (typically ``(N, C)``).
        target: the input's shape.
        reduction: ``"mean"`` (over elements, torch's default) | ``"batchmean"``
            (sum / N: the true KL per sample) | ``"sum"`` | ``"none"``.
        log_target: whether ``target`` is given as log-probabilities.
        sample_weight: optional weights broadcastable to ``(*)``.

    Returns:
        A scalar, or ``(*)`` with ``reduction="none"``.

    Example:
        >>> p = torch.tensor([[0.5, 0.5]]); q = torch.tensor([[0.9, 0.1]])
        >>> kl_div(q.log(), p, reduction="batchmean")
        tensor(0.5108)

    Reference:
        ``torch.nn.functional.kl_div``; ``scipy.special.rel_entr``;
        Kullback & Leibler, "On Information and Sufficiency", 1951.
    """
    fn = "kl_div"
    input, target = prepare_pair(fn, input, target)
    if (
        reduction != "none"
        and not log_target
        and not target.requires_grad
        and sample_weight is None
        and input.numel() > 0
    ):
        # torch's kernel: same value, and the input gradient (-target) is finite. A target that
        # needs a gradient, or log targets (torch turns -inf ones into NaN), take the exact path below;
        # "mean": torch warns on every call, and sum / numel is the same number
        divisor = input.numel() if reduction == "mean" else 1
        return fast_or_exact(
            input,
            lambda: F.kl_div(input, target, reduction="sum" if reduction == "mean" else reduction) / divisor,
            lambda: _kl_exact(input, target, reduction, log_target, None, fn),
        )
    return _kl_exact(input, target, reduction, log_target, sample_weight, fn)


def _kl_exact(
    input: torch.Tensor,
    target: torch.Tensor,
    reduction: str,
    log_target: bool,
    sample_weight: Optional[torch.Tensor],
    fn: str,
) -> torch.Tensor:
    """kl_div written out: 0 for every zero-probability target, whatever the input there."""
    if log_target:
        target_prob, target_plogp = _plogp_from_log(target)
    else:
        target_prob, target_plogp = target, _plogp_from_prob(target)
    # y · x with 0 where y = 0: a masked class (log-probability -inf, e.g. log_softmax over -inf
    # logits) with target 0 contributes 0, not torch's 0 · (-inf) = NaN; the gradient there is -y = 0
    cross = torch.where(target_prob == 0, torch.zeros_like(input), input) * target_prob
    return reduce_loss(target_plogp - cross, reduction, weight=sample_weight, fn=fn)


@loss(
    "js_div",
    family=FAMILY,
    module="JSDivLoss",
    aliases=("jsd", "jensen_shannon"),
    hparams={"log_target": checks.boolean, "from_logits": checks.boolean, "dim": checks.optional_integer},
    reductions=KL_REDUCTIONS,
    capabilities=("compile", "double_backward", "probability_targets"),
    references=("scipy.spatial.distance.jensenshannon",),
    curve=Curve("probability"),
)
def js_div(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
    log_target: bool = False,
    from_logits: bool = False,
    dim: Optional[int] = None,
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Jensen-Shannon divergence, elementwise like :func:`kl_div` (natural log).

    With ``p = exp(input)``, ``q`` the target and ``m = (p + q) / 2``:

    .. math::
        \ell_i = \tfrac12\big(p_i \log p_i + q_i \log q_i\big) - m_i \log m_i
        \;=\; \tfrac12 \big(p_i \log\tfrac{p_i}{m_i} + q_i \log\tfrac{q_i}{m_i}\big) \;\ge 0

    Summed over the class dimension this is ``JS(P ‖ Q) = ½ KL(P‖M) + ½ KL(Q‖M)``,
    symmetric and bounded by ``log 2``; ``reduction="batchmean"`` gives its
    batch mean (SciPy's ``jensenshannon(p, q) ** 2`` per row).

    Inputs: ``input`` holds log-probabilities, as for :func:`kl_div`. With
    ``from_logits=True`` it holds logits instead and is normalised with
    ``log_softmax`` over ``dim`` (and so is ``target`` if ``log_target=True``).
    ``target`` holds probabilities, or log-probabilities with ``log_target=True``.

    Args:
        input: log-probabilities (or logits), ``(N, C, *)`` or ``(C,)``.
        target: the input's shape.
        reduction: ``"mean"`` (over elements) | ``"batchmean"`` | ``"sum"`` | ``"none"``.
        log_target: whether ``target`` is given as log-probabilities.
        from_logits: whether ``input`` (and a log ``target``) are unnormalised logits.
        dim: class dimension for ``from_logits``; default 1 (0 for 1-D input).
        sample_weight: optional weights broadcastable to the input's shape.

    Returns:
        A scalar, or the input's shape with ``reduction="none"``.

    Example:
        >>> p = torch.tensor([[1.0, 0.0]]); q = torch.tensor([[0.0, 1.0]])
        >>> js_div(p.log(), q, reduction="batchmean")  # disjoint supports: log 2
        tensor(0.6931)

    Reference:
        ``scipy.spatial.distance.jensenshannon``; Lin, "Divergence measures
        based on the Shannon entropy", 1991.
    """
    fn = "js_div"
    input, target = prepare_pair(fn, input, target)

    def divergence(log_p: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p, p_logp = _plogp_from_log(log_p)
        if log_target:
            q, q_logq = _plogp_from_log(target)
        else:
            q, q_logq = target, _plogp_from_prob(target)
        m = 0.5 * (p + q)
        # each term is >= 0 by convexity of x log x; the clamp removes rounding below 0
        return (0.5 * (p_logp + q_logq) - _plogp_from_prob(m)).clamp_min(0.0)

    if from_logits:
        class_dim = dim if dim is not None else (1 if input.dim() > 1 else 0)

        def normalised(limit: bool) -> torch.Tensor:
            # a row of logits holding +inf has the one-hot (shared among the +inf classes) softmax limit;
            # log_softmax itself gives inf - inf = NaN there, so the limit path runs only when that happened
            x, t = input, target
            if limit:
                x = softmax_limit_scores(x, class_dim)
                t = softmax_limit_scores(t, class_dim) if log_target else t
            return divergence(torch.log_softmax(x, class_dim), torch.log_softmax(t, class_dim) if log_target else t)

        loss = fast_or_exact(input, lambda: normalised(False), lambda: normalised(True))
    else:
        loss = divergence(input, target)
    return reduce_loss(loss, reduction, weight=sample_weight, fn=fn)


@loss(
    "poisson_nll",
    family=FAMILY,
    module="PoissonNLLLoss",
    aliases=("poisson",),
    hparams={"log_input": checks.boolean, "full": checks.boolean, "eps": checks.positive},
    roles=(Role("input"), Role("target", differentiable=False)),
    references=("torch.nn.functional.poisson_nll_loss", "Keras poisson"),
    curve=Curve("log_rate", "full", (False, True)),
)
def poisson_nll_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    log_input: bool = True,
    full: bool = False,
    eps: float = 1e-8,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Poisson negative log-likelihood, torch's ``poisson_nll_loss`` (its kernel underneath).

    .. math::
        \ell_i = e^{x_i} - y_i x_i \;\;(\text{log\_input}) \qquad
        \ell_i = x_i - y_i \log(x_i + \epsilon) \;\;(\text{otherwise})

    plus, with ``full=True``, Stirling's term
    :math:`y \log y - y + \tfrac12 \log(2\pi y)` for ``y > 1``.

    At a rate (or log-rate) of ``+inf`` the loss is ``+inf`` and at a log-rate
    of ``-inf`` with count 0 it is 0 — the limits, where torch's formula gives
    NaN (∞ - ∞, 0 · ∞).

    Args:
        input: log-rates (``log_input=True``) or rates, any shape ``(*)``.
        target: counts, the input's shape.
        log_input: whether ``input`` is the log of the rate.
        full: add the Stirling approximation of ``log(y!)``.
        eps: added to the rate inside the log when ``log_input=False``, ``> 0``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        sample_weight: optional weights broadcastable to ``(*)``.

    Returns:
        A scalar, or ``(*)`` with ``reduction="none"``.

    Example:
        >>> poisson_nll_loss(torch.tensor([0.0]), torch.tensor([2.0]))
        tensor(1.)

    Reference:
        ``torch.nn.functional.poisson_nll_loss``; Keras ``poisson`` (rates,
        ``log_input=False``, with Keras's epsilon 1e-7).
    """
    fn = "poisson_nll_loss"
    input, target = prepare_pair(fn, input, target)
    log_input, full, eps = bool(log_input), bool(full), float(eps)
    if reduction != "none" and sample_weight is None and input.numel() > 0:
        return fast_or_exact(
            input,
            lambda: F.poisson_nll_loss(input, target, log_input=log_input, full=full, eps=eps, reduction=reduction),
            lambda: _poisson_exact(input, target, log_input, full, eps, reduction, None, fn),
        )
    return _poisson_exact(input, target, log_input, full, eps, reduction, sample_weight, fn)


def _poisson_exact(
    input: torch.Tensor,
    target: torch.Tensor,
    log_input: bool,
    full: bool,
    eps: float,
    reduction: str,
    sample_weight: Optional[torch.Tensor],
    fn: str,
) -> torch.Tensor:
    """torch's elementwise Poisson NLL with its NaNs at infinite rates replaced by the limits."""
    # torch's formula is ∞ - ∞ = NaN at a rate of +inf (the limit is +inf: the rate term dominates), and
    # 0 · (-inf) = NaN at a log-rate of -inf with a count of 0 (the limit is e^x = 0). Those entries take the
    # rate term alone, whose value and gradient (e^x, or 1 for rates) are the limits; torch's formula sees
    # a finite stand-in there, so its (unused) gradient is not 0 · ∞ either.
    if log_input:
        at_limit = input.isposinf() | (input.isneginf() & (target == 0))
        limit = torch.exp(input)
    else:
        at_limit, limit = input.isposinf(), input
    safe_input = torch.where(at_limit, torch.ones_like(input), input)
    loss = torch.where(
        at_limit,
        limit,
        F.poisson_nll_loss(safe_input, target, log_input=log_input, full=full, eps=eps, reduction="none"),
    )
    return reduce_loss(loss, reduction, weight=sample_weight, fn=fn)


def _gaussian_var(fn: str, input: torch.Tensor, var: Union[torch.Tensor, float]) -> torch.Tensor:
    """torch's accepted ``var`` layouts, expanded to broadcast against ``input``."""
    if not isinstance(var, torch.Tensor):
        check_number(fn, "var", var, low=0.0)
        return torch.full_like(input, float(var))
    check_floating(fn, "var", var)
    if var.shape == input.shape:
        return var
    if var.shape == input.shape[:-1]:  # one variance per sample, shared over the last dim
        return var.unsqueeze(-1)
    mismatched = [v for i, v in zip(input.shape, var.shape) if i != v]
    if var.dim() == input.dim() and mismatched == [1]:
        return var
    raise ValueError(
        f"{fn}: var must have the input's shape {fmt_shape(input.shape)}, that shape without its last "
        f"dimension, or size 1 in one dimension; got {fmt_shape(var.shape)}"
    )


@loss(
    "gaussian_nll",
    family=FAMILY,
    module="GaussianNLLLoss",
    hparams={"full": checks.boolean, "eps": checks.positive},
    roles=(Role("input"), Role("target"), Role("var", "(*), (*[:-1]) or a number", also="number")),
    references=("torch.nn.functional.gaussian_nll_loss", "NumPy reference"),
    curve=Curve("residual"),
)
def gaussian_nll_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    var: Union[torch.Tensor, float],
    *,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Gaussian negative log-likelihood with a predicted variance (torch's semantics).

    .. math::
        \ell_i = \tfrac12\Big(\log\max(\sigma^2_i, \epsilon) + \frac{(x_i - y_i)^2}{\max(\sigma^2_i, \epsilon)}\Big)
        \;\big(+\tfrac12\log 2\pi \text{ if full}\big)

    As in torch, the clamp at ``eps`` changes the value but not the gradient
    path (the gradient with respect to ``var`` is taken as if unclamped).
    ``var`` may have the input's shape, that shape without the last dimension,
    or size 1 in one dimension; a Python float is a shared variance. A
    negative variance raises ``ValueError`` (a data check: always on CPU, on
    accelerators unless validation is off; skipped under ``torch.compile``).

    Args:
        input: predicted means ``(*)``.
        target: observations, the input's shape.
        var: predicted variances (see above).
        full: add the constant ``0.5 log(2 pi)``.
        eps: variance floor, ``> 0``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        sample_weight: optional weights broadcastable to ``(*)``.

    Returns:
        A scalar, or ``(*)`` with ``reduction="none"``.

    Example:
        >>> gaussian_nll_loss(torch.tensor([0.0]), torch.tensor([2.0]), torch.tensor([4.0]))
        tensor(1.1931)

    Reference:
        ``torch.nn.functional.gaussian_nll_loss``; Nix & Weigend, "Estimating
        the mean and variance of the target probability distribution", 1994.
    """
    fn = "gaussian_nll_loss"
    input, target = prepare_pair(fn, input, target)
    var_t = _gaussian_var(fn, input, var)
    if var_t.numel() > 0 and data_checks_active(var_t):
        require(
            ~(var_t < 0),  # NaN passes (and reaches the loss)
            f"{fn}: var must be non-negative",
            lambda: f"{fn}: var must be non-negative; got a minimum of {float(var_t.min()):g}",
        )
    # torch's straight-through clamp: the floor changes the value but not the gradient path
    var_t = to_compute(compute_dtype(input, var_t), var_t).clone()
    with torch.no_grad():
        var_t.clamp_(min=eps)
    loss = 0.5 * (torch.log(var_t) + (input - target).square() / var_t)
    if full:
        loss = loss + _HALF_LOG_2PI
    return reduce_loss(loss, reduction, weight=sample_weight, fn=fn)
