"""Ranking and metric learning: torch's pair and triplet losses, batch losses with mining, and margin softmax.

Three kinds of loss live here.

* **torch's pair and triplet losses** (``margin_ranking_loss``,
  ``hinge_embedding_loss``, ``cosine_embedding_loss``, ``triplet_margin_loss``,
  ``triplet_margin_with_distance_loss``): torch's kernels, torch's arguments
  and numbers, with losskit's checks (no silent broadcast), half precision in
  float32, ``sample_weight`` and 0 for an empty batch.
* **batch losses** ``(embeddings (N, D), labels (N,), *, ...)``: every pair or
  triplet inside the batch is formed from one pairwise distance matrix and
  label masks — no Python loop over anchors or pairs. Triplet mining sorts each
  anchor's negative distances once, so ``batch_all`` and ``semi_hard`` cost
  O(N² log N) time and O(N²) memory instead of the O(N³) of a triplet tensor.
  With ``gather=True`` the anchors of this rank are compared with the global
  batch across ``torch.distributed`` ranks (:mod:`losskit.distributed`). A
  batch with no valid pair or triplet gives 0 on the graph, never NaN.
  ``reduction="none"`` returns one value per anchor (per local anchor with
  ``gather=True``), the terms that ``"sum"`` adds up; ``"mean"`` divides their
  sum by the number of things that count (documented per loss), so
  ``none.mean()`` is not ``"mean"`` in general.
* **losses whose modules own parameters**: :class:`CenterLoss` (learned
  centres), :class:`ArcFaceLoss` and :class:`CosFaceLoss` (class-weight
  matrices). Their functionals take the parameter as a third role.

**±inf inputs** give the limit, never a spurious NaN (NaN inputs still give NaN). A vector
holding ±inf is normalised to the direction it tends to (±e_k; several infinite entries share
equally, signs kept), with zero gradient: cosine_embedding, cosine_similarity_loss, arcface,
cosface, circle, supervised_contrastive, info_nce, and the cosine distance. An infinitely far
pair is at distance +inf: triplet_margin(_with_distance) gives +inf (positive) or 0 (negative)
with the limits of the gradients (torch's kernel gives NaN gradients); contrastive gives +inf
for a far positive pair and 0 for a far negative; batch_triplet gives 0 for far negatives. On
CPU these limits cost nothing until a result (or the batch's sum) is not finite; the fused
InfoNCE and contrastive Functions are unchanged.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from . import distributed as _dist
from ._core import checks
from ._core.module import Loss
from ._core.nonfinite import computed_with_limits, safe_sqrt
from ._core.reduction import fast_or_exact, reduce_loss
from ._core.spec import Check, Curve, Role, loss, module_for
from ._core.targets import log_softmax_at
from ._core.validation import (
    _is_compiling,
    check_floating,
    check_number,
    check_same_shape,
    compute_dtype,
    data_checks_active,
    fmt_shape,
    functorch_transforms_active,
    host_readable,
    require,
    to_compute,
)

__all__ = [
    "margin_ranking_loss",
    "hinge_embedding_loss",
    "cosine_embedding_loss",
    "cosine_similarity_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
    "batch_triplet_loss",
    "contrastive_loss",
    "circle_loss",
    "supervised_contrastive_loss",
    "info_nce_loss",
    "center_loss",
    "arcface_loss",
    "cosface_loss",
    "CenterLoss",
    "ArcFaceLoss",
    "CosFaceLoss",
]

FAMILY = "embedding"

MINING = ("batch_all", "batch_hard", "semi_hard")
DISTANCES = ("euclidean", "squared_euclidean", "cosine")

_BATCH_CAPABILITIES = ("compile", "double_backward", "gather")
_PARAM_CAPABILITIES = ("compile", "double_backward", "parameters")


# ---------------------------------------------------------------------------------------------
# private helpers: checks, distances, masks, reductions
# ---------------------------------------------------------------------------------------------


def _dtype_name(t: torch.Tensor) -> str:
    return str(t.dtype).replace("torch.", "")


def _prepare(fn: str, *tensors: torch.Tensor, names: Tuple[str, ...]) -> Tuple[torch.Tensor, ...]:
    """Floating inputs cast to one compute dtype (half precision computes in float32)."""
    for t, name in zip(tensors, names):
        check_floating(fn, name, t)
    dtype = compute_dtype(*tensors)
    out = to_compute(dtype, *tensors)
    return out if isinstance(out, tuple) else (out,)


def _check_2d(fn: str, name: str, x: torch.Tensor) -> None:
    if x.dim() != 2:
        raise ValueError(f"{fn}: {name} must be 2-D (N, D); got shape {fmt_shape(x.shape)}")


def _labels(fn: str, labels: torch.Tensor, n: int, rows: str = "embeddings", name: str = "labels") -> torch.Tensor:
    """Integer labels of shape (N,), one per row of ``rows``; returned as int64."""
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(
            f"{fn}: {name} must be an integer tensor of class ids; got {_dtype_name(labels)} — pass {name}.long()"
        )
    if labels.shape != (n,):
        raise ValueError(
            f"{fn}: {name} must have shape ({n},), one label per row of {rows}; got {fmt_shape(labels.shape)}"
        )
    return labels if labels.dtype == torch.long else labels.long()


def _batch_inputs(fn: str, embeddings: torch.Tensor, labels: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    (embeddings,) = _prepare(fn, embeddings, names=("embeddings",))
    _check_2d(fn, "embeddings", embeddings)
    return embeddings, _labels(fn, labels, embeddings.shape[0])


def _check_class_range(fn: str, labels: torch.Tensor, num_classes: int) -> None:
    if labels.numel() == 0 or not data_checks_active(labels):
        return
    if not host_readable(labels):
        require(
            (labels >= 0) & (labels < num_classes),
            f"{fn}: labels contain a class outside the valid range [0, {num_classes - 1}]",
        )
        return
    lo, hi = (int(v) for v in torch.aminmax(labels))
    if lo < 0 or hi >= num_classes:
        raise ValueError(
            f"{fn}: labels contain class {lo if lo < 0 else hi}, outside the valid range [0, {num_classes - 1}]"
        )


def _normalize(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """``x / max(‖x‖, eps)`` along the last dim; a zero vector stays 0 with a finite gradient."""
    return x * torch.rsqrt(x.square().sum(-1, keepdim=True).clamp_min(eps * eps))


def _direction_limits(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``x`` with each vector (along ``dim``) that holds ±inf replaced by its limit direction, as a constant.

    As entries grow to ±inf the normalised vector tends to ±e_k (several infinite entries: an equal
    share each, the sign kept; the finite entries' share goes to 0). Such a vector becomes ``±L`` at
    its infinite entries and 0 elsewhere, with ``L = max ** (1/8)`` of the dtype: large enough that
    an eps added to a squared norm (torch's cosine, 1e-12) or a norm floor is negligible, small
    enough that the product of two squared norms stays finite. Its gradient is 0 — the limit of
    ``∂ (x / ‖x‖) / ∂x``, which falls as ``1 / ‖x‖``. Vectors holding NaN are kept (NaN in, NaN out).
    """
    infinite = torch.isinf(x)
    limit_rows = infinite.any(dim, keepdim=True) & ~torch.isnan(x).any(dim, keepdim=True)
    big = torch.finfo(x.dtype).max ** 0.125
    limit = torch.where(infinite, torch.sign(x.detach()) * big, torch.zeros((), dtype=x.dtype, device=x.device))
    return torch.where(limit_rows, limit, x)


def _normalize_with_limits(
    compute: Callable[..., torch.Tensor], *inputs: Optional[torch.Tensor], dim: int = -1
) -> torch.Tensor:
    """``compute(*inputs)`` for a loss that normalises its inputs; recomputed at the ±inf limits where it gives NaN.

    ``x / ‖x‖`` is ``inf / inf`` = NaN at an infinite entry, though it tends to a finite direction
    (:func:`_direction_limits`). Through :func:`~losskit._core.reduction.fast_or_exact`: on CPU the
    plain result is checked once for NaN and only then recomputed on the limit directions (a NaN
    input stays NaN there); elsewhere the limits are always taken (a few (N, D) passes).
    """
    first = next(t for t in inputs if t is not None)
    return fast_or_exact(
        first,
        lambda: compute(*inputs),
        lambda: compute(*(None if t is None else _direction_limits(t, dim) for t in inputs)),
    )


def _squared_distances(anchors: torch.Tensor, refs: torch.Tensor) -> torch.Tensor:
    """‖a_i − r_j‖² (n, M) as one matrix product of augmented rows: [−2a, ‖a‖², 1] · [r, 1, ‖r‖²]ᵀ."""
    ones_a = torch.ones_like(anchors[:, :1])
    ones_r = torch.ones_like(refs[:, :1])
    left = torch.cat([-2.0 * anchors, anchors.square().sum(1, keepdim=True), ones_a], 1)
    right = torch.cat([refs, ones_r, refs.square().sum(1, keepdim=True)], 1)
    return left @ right.T


#: the smallest squared distance taken to a root: below it the Euclidean distance is ~1e-15 with gradient 0
_TINY = 1e-30


def _distances(anchors: torch.Tensor, refs: torch.Tensor, distance: str) -> torch.Tensor:
    """Pairwise distances (n, M) between anchor rows and reference rows, from one matrix product.

    The Euclidean distance is ``sqrt(max(‖a − r‖², 1e-30))``: at zero distance (the same
    embedding twice) it is 1e-15 with gradient 0 instead of an infinite one. An anchor's
    distance to itself is not exactly 0 here (rounding in the Gram form): every caller masks
    or subtracts the anchor's own column.
    """
    if distance == "cosine":
        return 1.0 - _normalize(anchors) @ _normalize(refs).T
    sq = _squared_distances(anchors, refs)
    if distance == "squared_euclidean":
        return sq.clamp_min(0.0)
    return sq.clamp_min(_TINY).sqrt()


def _pair_distances(a: torch.Tensor, b: torch.Tensor, distance: str) -> torch.Tensor:
    """Distances between matching rows of ``a`` and ``b`` (n,), from the differences (exact at zero distance)."""
    if distance == "cosine":
        return 1.0 - (_normalize(a) * _normalize(b)).sum(1)
    sq = (a - b).square().sum(1)
    return sq if distance == "squared_euclidean" else safe_sqrt(sq)


class _Batch:
    """A batch loss's anchors (this rank's rows) against its references (the global batch with ``gather``)."""

    def __init__(self, x: torch.Tensor, labels: Optional[torch.Tensor], gather: bool) -> None:
        self.gathered = bool(gather) and _dist.is_distributed()
        if self.gathered:
            self.refs, self.offset, sizes = _dist.all_gather_with_grad(x)
            self.ref_labels = None if labels is None else _dist.all_gather_no_grad(labels, sizes)
        else:
            self.refs, self.offset, self.ref_labels = x, 0, labels
        self.anchors, self.labels = x, labels

    @property
    def self_mask(self) -> torch.Tensor:
        """(n, M): the reference is the anchor itself (built on demand: contrastive_loss never needs it)."""
        n, m, device = self.anchors.shape[0], self.refs.shape[0], self.anchors.device
        rows = torch.arange(n, device=device) + self.offset
        return rows[:, None] == torch.arange(m, device=device)[None, :]

    def same(self) -> torch.Tensor:
        """(n, M): the reference has the anchor's label (the anchor's own column included)."""
        labels, ref_labels = self.labels, self.ref_labels
        if labels is None or ref_labels is None:  # pragma: no cover - every caller passes labels
            raise RuntimeError("losskit: a batch without labels has no positive/negative masks")
        return labels[:, None] == ref_labels[None, :]

    def masks(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """(positives: same label, not the anchor itself; negatives: a different label), each (n, M)."""
        same = self.same()
        return same & ~self.self_mask, ~same


def _finish(per: torch.Tensor, count: Optional[torch.Tensor], reduction: str, gathered: bool) -> torch.Tensor:
    """Reduce per-anchor losses: "none" as they are, "sum" their sum, "mean" their sum / ``count`` (0 if nothing counts)."""
    if reduction == "none":
        return per
    total = per.sum()
    return _dist.global_reduce(total, None if reduction == "sum" else count, gathered)


def _masked_logsumexp(x: torch.Tensor, mask: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """logsumexp over the entries where ``mask`` holds; a row without any gives a huge negative, finite value.

    The masked entries are filled with a finite very negative number (not -inf), so a row with
    nothing in it has finite gradients (0 after the caller masks the row out).
    """
    fill = torch.finfo(x.dtype).min / 4
    return torch.logsumexp(torch.where(mask, x, torch.full_like(x, fill)), dim)


def _torch_loss(
    torch_fn: Callable[..., torch.Tensor],
    args: Tuple[torch.Tensor, ...],
    reduction: str,
    sample_weight: Optional[torch.Tensor],
    fn: str,
    **kwargs: Any,
) -> torch.Tensor:
    """torch's loss with its own reduction where that is exact; weights and empty batches through reduce_loss."""
    if sample_weight is None and args[0].numel() > 0:
        return torch_fn(*args, reduction=reduction, **kwargs)
    return reduce_loss(torch_fn(*args, reduction="none", **kwargs), reduction, weight=sample_weight, fn=fn)


def _check_callable(fn: str, name: str, value: Any) -> None:
    if value is not None and not callable(value):
        raise TypeError(f"{fn}: {name} must be a callable (x1, x2) -> distances, or None; got {type(value).__name__}")


_distance_function = checks.custom(_check_callable, "a callable (x1, x2) -> distances, or None (pairwise_distance)")


# ---------------------------------------------------------------------------------------------
# torch's pair and triplet losses
# ---------------------------------------------------------------------------------------------


@loss(
    "margin_ranking",
    family=FAMILY,
    module="MarginRankingLoss",
    roles=(
        Role("input1", "(*)"),
        Role("input2", "the input1's shape"),
        Role("target", "labels ±1, the input1's shape", differentiable=False),
    ),
    hparams={"margin": checks.non_negative},
    positional=("margin",),
    references=("torch.nn.functional.margin_ranking_loss", "NumPy reference"),
    curve=Curve("margin", "margin", (0.0, 0.5, 1.0)),
)
def margin_ranking_loss(
    input1: torch.Tensor,
    input2: torch.Tensor,
    target: torch.Tensor,
    *,
    margin: float = 0.0,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Pairwise ranking hinge loss; torch's ``margin_ranking_loss``.

    .. math::
        \ell_i = \max(0,\; -y_i (x^{(1)}_i - x^{(2)}_i) + \text{margin})

    ``y = 1`` says ``input1`` should rank higher, ``y = -1`` the reverse. The
    three tensors must have one shape (torch broadcasts; losskit refuses).

    Args:
        input1: scores ``(*)``.
        input2: scores, the input1's shape.
        target: labels ±1, the input1's shape (other values scale the term, as in torch).
        margin: the margin, ``>= 0``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        sample_weight: optional weights broadcastable to ``(*)``.

    Returns:
        A scalar, or ``(*)`` with ``reduction="none"``.

    Example:
        >>> margin_ranking_loss(torch.tensor([1.0, 0.2]), torch.tensor([0.5, 0.4]), torch.tensor([1.0, 1.0]), margin=0.1)
        tensor(0.1500)

    Reference:
        ``torch.nn.functional.margin_ranking_loss``.
    """
    fn = "margin_ranking_loss"
    input1, input2 = _prepare(fn, input1, input2, names=("input1", "input2"))
    check_same_shape(fn, input1, input2, input_name="input1", target_name="input2")
    check_same_shape(fn, input1, target, input_name="input1", target_name="target")
    target = target.to(input1.dtype)
    return _torch_loss(
        F.margin_ranking_loss, (input1, input2, target), reduction, sample_weight, fn, margin=float(margin)
    )


@loss(
    "hinge_embedding",
    family=FAMILY,
    module="HingeEmbeddingLoss",
    roles=(Role("input", "distances (*)"), Role("target", "labels ±1, the input's shape", differentiable=False)),
    hparams={"margin": checks.non_negative},
    positional=("margin",),
    references=("torch.nn.functional.hinge_embedding_loss", "NumPy reference"),
    curve=Curve("distance", "margin", (0.5, 1.0, 2.0)),
)
def hinge_embedding_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    margin: float = 1.0,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Hinge embedding loss over distances; torch's ``hinge_embedding_loss``.

    .. math::
        \ell_i = \begin{cases} x_i & y_i = 1 \\ \max(0,\, \text{margin} - x_i) & y_i = -1 \end{cases}

    (Other label values add both terms, as in torch.)

    Args:
        input: distances (or any scores) ``(*)``.
        target: labels ±1, the input's shape.
        margin: the margin for dissimilar pairs, ``>= 0``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        sample_weight: optional weights broadcastable to ``(*)``.

    Returns:
        A scalar, or ``(*)`` with ``reduction="none"``.

    Example:
        >>> hinge_embedding_loss(torch.tensor([0.3, 0.4]), torch.tensor([1.0, -1.0]))
        tensor(0.4500)

    Reference:
        ``torch.nn.functional.hinge_embedding_loss``.
    """
    fn = "hinge_embedding_loss"
    (input,) = _prepare(fn, input, names=("input",))
    check_same_shape(fn, input, target)
    target = target.to(input.dtype)
    return _torch_loss(F.hinge_embedding_loss, (input, target), reduction, sample_weight, fn, margin=float(margin))


def _check_vector_pair(fn: str, a: torch.Tensor, b: torch.Tensor, names: Tuple[str, str]) -> None:
    if a.dim() not in (1, 2):
        raise ValueError(f"{fn}: {names[0]} must be (N, D) or (D,); got shape {fmt_shape(a.shape)}")
    check_same_shape(fn, a, b, input_name=names[0], target_name=names[1])


@loss(
    "cosine_embedding",
    family=FAMILY,
    module="CosineEmbeddingLoss",
    roles=(
        Role("input1", "(N, D) or (D,)"),
        Role("input2", "the input1's shape"),
        Role("target", "labels ±1, (N,) or ()", differentiable=False),
    ),
    hparams={"margin": checks.number(-1.0, 1.0)},
    positional=("margin",),
    references=("torch.nn.functional.cosine_embedding_loss", "NumPy reference"),
    curve=Curve("angle", "margin", (-0.5, 0.0, 0.5)),
)
def cosine_embedding_loss(
    input1: torch.Tensor,
    input2: torch.Tensor,
    target: torch.Tensor,
    *,
    margin: float = 0.0,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Cosine embedding loss; torch's ``cosine_embedding_loss``.

    .. math::
        \ell_i = \begin{cases} 1 - \cos(x^{(1)}_i, x^{(2)}_i) & y_i = 1 \\
        \max(0,\, \cos(x^{(1)}_i, x^{(2)}_i) - \text{margin}) & y_i = -1 \end{cases}

    The cosine is torch's, with ``1e-12`` added to each squared norm, so zero
    vectors give a finite loss and gradient. ``margin`` lies in [-1, 1] (a
    negative margin is meaningful here: dissimilar pairs are pushed below it).

    Args:
        input1: ``(N, D)`` or ``(D,)``.
        input2: the input1's shape.
        target: labels ±1, ``(N,)`` or ``()``.
        margin: the margin for dissimilar pairs, in [-1, 1].
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (shape ``(N,)``).
        sample_weight: optional weights broadcastable to ``(N,)``.

    Returns:
        A scalar, or ``(N,)`` with ``reduction="none"``.

    Example:
        >>> cosine_embedding_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]]), torch.tensor([1]))
        tensor(1.)

    Reference:
        ``torch.nn.functional.cosine_embedding_loss``.
    """
    fn = "cosine_embedding_loss"
    input1, input2 = _prepare(fn, input1, input2, names=("input1", "input2"))
    _check_vector_pair(fn, input1, input2, ("input1", "input2"))
    if target.shape != input1.shape[:-1]:
        raise ValueError(
            f"{fn}: target must have shape {fmt_shape(input1.shape[:-1])} for inputs of shape "
            f"{fmt_shape(input1.shape)}; got {fmt_shape(target.shape)}"
        )
    target = target.to(input1.dtype)

    def compute(x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return _torch_loss(
            F.cosine_embedding_loss, (x1, x2, target), reduction, sample_weight, fn, margin=float(margin)
        )

    return _normalize_with_limits(compute, input1, input2)


@loss(
    "cosine_similarity_loss",
    family=FAMILY,
    module="CosineSimilarityLoss",
    aliases=("negative_cosine_similarity",),
    roles=(Role("input", "(*, D, *)"), Role("target", "the input's shape")),
    hparams={"dim": checks.integer, "eps": checks.positive},
    references=("Keras cosine_similarity", "NumPy reference"),
    curve=Curve("angle"),
)
def cosine_similarity_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    dim: int = -1,
    eps: float = 1e-7,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Negative cosine similarity (Keras's ``cosine_similarity`` loss), in [-1, 1].

    .. math::
        \ell = -\sum_d \frac{x_d}{\max(\lVert x \rVert, \epsilon)} \frac{y_d}{\max(\lVert y \rVert, \epsilon)}

    ``eps`` defaults to Keras's epsilon (1e-7), so the numbers are Keras's. A
    zero vector gives 0 and a finite gradient. Both inputs are differentiable
    (BYOL/SimSiam's loss is ``cosine_similarity_loss(p, z.detach())``).

    Args:
        input: any shape with the vectors along ``dim``.
        target: the input's shape.
        dim: the vector dimension.
        eps: the smallest norm divided by, ``> 0``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (the shape without ``dim``).
        sample_weight: optional weights broadcastable to the shape without ``dim``.

    Returns:
        A scalar, or the input's shape without ``dim`` with ``reduction="none"``.

    Example:
        >>> cosine_similarity_loss(torch.tensor([[1.0, 1.0], [1.0, 0.0]]), torch.tensor([[2.0, 2.0], [0.0, 0.0]]))
        tensor(-0.5000)

    Reference:
        Keras ``cosine_similarity``.
    """
    fn = "cosine_similarity_loss"
    input, target = _prepare(fn, input, target, names=("input", "target"))
    check_same_shape(fn, input, target)
    if not -input.dim() <= dim < max(input.dim(), 1) or input.dim() == 0:
        raise ValueError(
            f"{fn}: dim must be in [{-input.dim()}, {input.dim() - 1}] for input of shape {fmt_shape(input.shape)}; got {dim}"
        )

    def unit(x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.square().sum(dim, keepdim=True).clamp_min(eps * eps))

    def compute(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return reduce_loss(-(unit(x) * unit(y)).sum(dim), reduction, weight=sample_weight, fn=fn)

    return _normalize_with_limits(compute, input, target, dim=dim)


def _check_triplet(fn: str, anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> None:
    _check_vector_pair(fn, anchor, positive, ("anchor", "positive"))
    check_same_shape(fn, anchor, negative, input_name="anchor", target_name="negative")


class _DirectionWithGradient(torch.autograd.Function):
    """Vectors (last dim) holding ±inf become their direction (±1 at the infinite entries, 0 elsewhere); identity backward.

    ``setup_context`` style with a generated vmap rule: it runs under torch.func transforms too.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        infinite = torch.isinf(x)
        rows = infinite.any(-1, keepdim=True) & ~torch.isnan(x).any(-1, keepdim=True)
        return torch.where(rows, torch.where(infinite, torch.sign(x), torch.zeros_like(x)), x)

    @staticmethod
    def setup_context(ctx: Any, inputs: Tuple[Any, ...], output: torch.Tensor) -> None:
        pass

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad


def _pairwise_distance_with_limits(x1: torch.Tensor, x2: torch.Tensor, p: float, eps: float) -> torch.Tensor:
    """torch's ``pairwise_distance`` ``‖x1 − x2 + eps‖_p``, whose gradient at an infinite difference is its limit.

    The value is +inf there, but torch's norm backward divides ∞ by ∞ (NaN). ``∂‖v‖_p / ∂v`` is
    homogeneous of degree 0, so as ``v`` grows to ±inf along entries k it tends to the gradient at the
    direction ±e_k (equal shares for several): that is the gradient taken here, the value stays +inf.
    (For p = 1 the gradient is sign(v) at any size; for p < 1, not a norm, the finite entries'
    gradient grows without bound and is taken as 0.)
    """
    diff = x1 - x2 + eps
    if p == 1.0:  # the L1 norm's gradient sign(v) is exact at any size, ±inf included
        return torch.linalg.vector_norm(diff, ord=1, dim=-1)
    infinite = torch.isinf(diff).any(-1) & ~torch.isnan(diff).any(-1)
    norm = torch.linalg.vector_norm(_DirectionWithGradient.apply(diff), ord=p, dim=-1)
    return norm + torch.where(infinite, math.inf, 0.0).to(norm.dtype)


def _triplet_with_limits(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    margin: float,
    p: float,
    eps: float,
    swap: bool,
    reduction: str,
    sample_weight: Optional[torch.Tensor],
    fn: str,
) -> torch.Tensor:
    """torch's triplet loss, or the same formula with limit gradients where an input holds ±inf.

    With a positive at ±inf the loss is +inf with finite gradients (the distance's direction); with a
    negative at ±inf it is 0 with zero gradients — torch's kernel gives NaN gradients for both. On CPU the
    loss is torch's own composition (``at::triplet_margin_loss`` and ``triplet_margin_with_distance_loss``:
    ``pairwise_distance`` twice, or three times with ``swap``, then ``clamp_min(margin + d⁺ − d⁻, 0)``, the
    same operations, so the same numbers and gradients), and the distances decide: an infinite or NaN input
    makes one of them non-finite, read once on the host as ``Σ (d⁺ + d⁻)`` (N numbers, not the (N, D)
    inputs). Elsewhere the limit formula always runs (the policy of ``fast_or_exact``).
    """

    def exact() -> torch.Tensor:
        d_ap = _pairwise_distance_with_limits(anchor, positive, p, eps)
        d_an = _pairwise_distance_with_limits(anchor, negative, p, eps)
        if swap:
            d_an = torch.minimum(d_an, _pairwise_distance_with_limits(positive, negative, p, eps))
        return reduce_loss(torch.relu(d_ap - d_an + margin), reduction, weight=sample_weight, fn=fn)

    if _is_compiling() or not host_readable(anchor):  # fast_or_exact's policy: no host read there
        return exact()
    d_ap = F.pairwise_distance(anchor, positive, p, eps)
    d_an = F.pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_an = torch.minimum(d_an, F.pairwise_distance(positive, negative, p, eps))
    if not math.isfinite(float((d_ap + d_an).detach().sum())):
        return exact()
    # reduce_loss's mean and sum are torch's (and 0 for an empty batch, where torch's mean is NaN)
    return reduce_loss(torch.clamp_min(margin + d_ap - d_an, 0), reduction, weight=sample_weight, fn=fn)


@loss(
    "triplet_margin",
    family=FAMILY,
    module="TripletMarginLoss",
    aliases=("triplet",),
    roles=(
        Role("anchor", "(N, D) or (D,)"),
        Role("positive", "the anchor's shape"),
        Role("negative", "the anchor's shape"),
    ),
    hparams={"margin": checks.non_negative, "p": checks.positive, "eps": checks.non_negative, "swap": checks.boolean},
    positional=("margin", "p", "eps", "swap"),
    references=("torch.nn.functional.triplet_margin_loss", "NumPy reference"),
    curve=Curve("angle", "margin", (0.5, 1.0, 2.0)),
)
def triplet_margin_loss(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    *,
    margin: float = 1.0,
    p: float = 2.0,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Triplet margin loss; torch's ``triplet_margin_loss``.

    .. math::
        \ell_i = \max(0,\; d(a_i, p_i) - d(a_i, n_i) + \text{margin}), \qquad d(x, y) = \lVert x - y + \epsilon \rVert_p

    With ``swap=True`` the negative distance is ``min(d(a, n), d(p, n))``
    (Balntas et al. 2016).

    Args:
        anchor: ``(N, D)`` or ``(D,)``.
        positive: the anchor's shape.
        negative: the anchor's shape.
        margin: the margin, ``>= 0``.
        p: the norm degree, ``> 0``.
        eps: added to the difference before the norm (torch's ``pairwise_distance``).
        swap: use the distance swap.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (shape ``(N,)``).
        sample_weight: optional weights broadcastable to ``(N,)``.

    Returns:
        A scalar, or ``(N,)`` with ``reduction="none"``.

    Example:
        >>> triplet_margin_loss(torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 1.0]]), eps=0.0)
        tensor(0.5858)

    Reference:
        ``torch.nn.functional.triplet_margin_loss``; Schroff et al. 2015.
    """
    fn = "triplet_margin_loss"
    anchor, positive, negative = _prepare(fn, anchor, positive, negative, names=("anchor", "positive", "negative"))
    _check_triplet(fn, anchor, positive, negative)
    margin, p, eps = float(margin), float(p), float(eps)
    return _triplet_with_limits(anchor, positive, negative, margin, p, eps, swap, reduction, sample_weight, fn)


@loss(
    "triplet_margin_with_distance",
    family=FAMILY,
    module="TripletMarginWithDistanceLoss",
    roles=(
        Role("anchor", "(N, D) or (D,)"),
        Role("positive", "the anchor's shape"),
        Role("negative", "the anchor's shape"),
    ),
    hparams={"distance_function": _distance_function, "margin": checks.positive, "swap": checks.boolean},
    references=("torch.nn.functional.triplet_margin_with_distance_loss", "NumPy reference"),
    curve=Curve("angle", "margin", (0.5, 1.0, 2.0)),
)
def triplet_margin_with_distance_loss(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    *,
    distance_function: Optional[Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
    sample_weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Triplet margin loss with any distance; torch's ``triplet_margin_with_distance_loss``.

    .. math::
        \ell_i = \max(0,\; d(a_i, p_i) - d(a_i, n_i) + \text{margin})

    ``distance_function=None`` is ``torch.nn.functional.pairwise_distance``.
    ``margin`` must be ``> 0``, as torch requires. A module holding a lambda
    as ``distance_function`` cannot be pickled or written to JSON config.

    Args:
        anchor: ``(N, D)`` or ``(D,)``.
        positive: the anchor's shape.
        negative: the anchor's shape.
        distance_function: a callable ``(x1, x2) -> (N,)`` distances, or None.
        margin: the margin, ``> 0``.
        swap: use the distance swap.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (shape ``(N,)``).
        sample_weight: optional weights broadcastable to ``(N,)``.

    Returns:
        A scalar, or ``(N,)`` with ``reduction="none"``.

    Example:
        >>> a, p, n = torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, 1.0]]), torch.tensor([[2.0, 0.0]])
        >>> triplet_margin_with_distance_loss(a, p, n, distance_function=lambda x, y: (x - y).abs().sum(-1))
        tensor(0.)

    Reference:
        ``torch.nn.functional.triplet_margin_with_distance_loss``.
    """
    fn = "triplet_margin_with_distance_loss"
    anchor, positive, negative = _prepare(fn, anchor, positive, negative, names=("anchor", "positive", "negative"))
    _check_triplet(fn, anchor, positive, negative)

    def fast() -> torch.Tensor:
        return _torch_loss(
            F.triplet_margin_with_distance_loss,
            (anchor, positive, negative),
            reduction,
            sample_weight,
            fn,
            distance_function=distance_function,
            margin=float(margin),
            swap=swap,
        )

    if distance_function is not None or anchor.numel() == 0:  # a caller's distance: its own gradients at ±inf
        return fast()
    # pairwise_distance's defaults: p = 2, eps = 1e-6
    return _triplet_with_limits(
        anchor, positive, negative, float(margin), 2.0, 1e-6, swap, reduction, sample_weight, fn
    )


# ---------------------------------------------------------------------------------------------
# batch losses: (embeddings (N, D), labels (N,))
# ---------------------------------------------------------------------------------------------

_EMBEDDING_ROLES = (
    Role("embeddings", "(N, D)"),
    Role("labels", "integer class ids (N,)", differentiable=False),
)


def _sorted_negatives(d: torch.Tensor, neg: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Each anchor's negative distances sorted ascending (padded with +inf; differentiable), and how many there are."""
    inf = torch.full((), math.inf, dtype=d.dtype, device=d.device)
    ordered, _ = torch.where(neg, d, inf).sort(dim=1)
    return ordered, neg.sum(1)


def _batch_all(
    d: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, margin: float
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Σ over each anchor's triplets of [d(a,p) − d(a,n) + m]₊, and the number of triplets with a positive loss.

    For a positive pair the negatives with a positive loss are those with d(a,n) < d(a,p) + m: with the
    anchor's negative distances sorted (s₁ ≤ s₂ ≤ …) and prefix sums P, that is the first c of them, found
    by binary search, and their summed loss is c·(d(a,p) + m) − P_c. Exact in value and gradient (the
    counts are piecewise constant), O(N² log N) instead of the O(N³) triplet tensor.
    """
    ordered, count = _sorted_negatives(d, neg)
    m = d.shape[1]
    in_range = torch.arange(m, device=d.device)[None, :] < count[:, None]
    zero = torch.zeros((), dtype=d.dtype, device=d.device)
    prefix = torch.cat([torch.zeros_like(d[:, :1]), torch.where(in_range, ordered, zero).cumsum(1)], 1)
    threshold = d + margin
    active = torch.searchsorted(ordered.detach().contiguous(), threshold.detach().contiguous(), side="left")
    active = torch.where(pos, active, torch.zeros_like(active))
    per_pair = active.to(d.dtype) * threshold - prefix.gather(1, active)
    per_pair = torch.where(pos, per_pair, zero)
    return per_pair.sum(1), active.sum()


def _batch_hard(
    batch: _Batch,
    d: torch.Tensor,
    pos: torch.Tensor,
    neg: torch.Tensor,
    margin: float,
    soft: bool,
    distance: str,
    pair_distances: Callable[[torch.Tensor, torch.Tensor, str], torch.Tensor] = _pair_distances,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per anchor [max_p d(a,p) − min_n d(a,n) + m]₊ (softplus without the margin when soft), and the valid anchors.

    The hardest positive and negative are found on the detached distance matrix; their distances are then
    computed again from the embeddings' differences, so the backward pass costs O(N·D), not O(N²)
    (the gradient is the same: a max passes its gradient to the entry it picks).
    """
    inf = torch.full((), math.inf, dtype=d.dtype, device=d.device)
    zero = torch.zeros((), dtype=d.dtype, device=d.device)
    valid = pos.any(1) & neg.any(1)
    hardest_pos = torch.where(pos, d, -inf).argmax(1)
    hardest_neg = torch.where(neg, d, inf).argmin(1)
    d_ap = pair_distances(batch.anchors, batch.refs[hardest_pos], distance)
    d_an = pair_distances(batch.anchors, batch.refs[hardest_neg], distance)
    gap = torch.where(valid, d_ap - d_an, zero)
    per = F.softplus(gap) if soft else torch.relu(gap + margin)
    return torch.where(valid, per, zero), valid.sum()


def _semi_hard(
    d: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, margin: float, soft: bool
) -> Tuple[torch.Tensor, torch.Tensor]:
    """TF-Addons' semi-hard mining: per positive pair the closest negative farther than d(a,p), else the farthest."""
    with torch.no_grad():  # the mining: which negative each positive pair uses
        inf = torch.full((), math.inf, dtype=d.dtype, device=d.device)
        ordered, order = torch.where(neg, d, inf).sort(dim=1)
        count = neg.sum(1)
        first_farther = torch.searchsorted(ordered, d.contiguous(), side="right")
        farthest = (count - 1).clamp_min(0)[:, None].expand_as(first_farther)
        chosen = torch.where(first_farther < count[:, None], first_farther, farthest)
        column = order.gather(1, chosen.clamp_max(max(d.shape[1] - 1, 0)))
    zero = torch.zeros((), dtype=d.dtype, device=d.device)
    negative = d.gather(1, column)
    valid = pos & (count > 0)[:, None]
    negative = torch.where(valid, negative, zero)
    gap = torch.where(valid, d, zero) - negative
    per_pair = F.softplus(gap) if soft else torch.relu(gap + margin)
    return torch.where(valid, per_pair, zero).sum(1), valid.sum()


@loss(
    "batch_triplet",
    family=FAMILY,
    module="BatchTripletLoss",
    aliases=("triplet_mining",),
    roles=_EMBEDDING_ROLES,
    hparams={
        "margin": checks.non_negative,
        "mining": checks.one_of(*MINING),
        "distance": checks.one_of(*DISTANCES),
        "soft": checks.boolean,
        "gather": checks.boolean,
    },
    call_kwargs=(),
    capabilities=_BATCH_CAPABILITIES,
    references=("NumPy loop reference (Hermans et al. 2017; Schroff et al. 2015)", "TF-Addons triplet_semihard_loss"),
    curve=Curve("angle", "margin", (0.1, 0.2, 0.5)),
)
def batch_triplet_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    *,
    margin: float = 0.2,
    mining: str = "batch_all",
    distance: str = "euclidean",
    soft: bool = False,
    gather: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Triplet loss over every triplet a batch holds, with online mining.

    .. math::
        \ell(a, p, n) = [\,d(a, p) - d(a, n) + m\,]_+

    over anchors ``a``, positives ``p ≠ a`` with ``a``'s label and negatives
    ``n`` with another label.

    * ``mining="batch_all"``: every triplet; ``"mean"`` averages over the
      triplets whose loss is > 0 (0 if none), ``"sum"`` sums over all.
    * ``"batch_hard"`` (Hermans et al. 2017): per anchor the hardest positive and
      negative, ``[max_p d(a,p) − min_n d(a,n) + m]₊``, averaged over the anchors
      that have a positive and a negative; ``soft=True`` uses
      ``softplus(max_p d − min_n d)`` instead (no margin).
    * ``"semi_hard"`` (TF-Addons ``triplet_semihard_loss``): per positive pair the
      closest negative farther than ``d(a, p)``, else the farthest negative;
      averaged over all positive pairs, zero-loss ones included. One
      difference: a positive pair whose anchor has no negative at all counts for
      nothing (TF-Addons uses a distance of 0 there). ``soft=True`` uses
      ``softplus(d(a,p) − d(a,n))``.

    ``soft=True`` with ``batch_all`` raises: its mean runs over the triplets
    with a positive loss, which a softplus (always > 0) does not single out.
    Distances: ``"euclidean"`` (gradient 0, not inf, at zero distance),
    ``"squared_euclidean"``, ``"cosine"`` (``1 − cos``).

    ``reduction="none"`` gives ``(N,)``: each anchor's summed triplet losses
    (batch_all, semi_hard) or its one loss (batch_hard).

    Args:
        embeddings: ``(N, D)``.
        labels: integer class ids ``(N,)``.
        margin: ``m >= 0``.
        mining: ``"batch_all"`` | ``"batch_hard"`` | ``"semi_hard"``.
        distance: ``"euclidean"`` | ``"squared_euclidean"`` | ``"cosine"``.
        soft: softplus instead of the hinge (batch_hard, semi_hard).
        gather: compute over the global batch across ``torch.distributed`` ranks
            (a no-op without a process group).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (shape ``(N,)``).

    Returns:
        A scalar, or ``(N,)`` with ``reduction="none"``.

    Example:
        >>> x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
        >>> batch_triplet_loss(x, torch.tensor([0, 0, 1]), margin=0.5, mining="batch_hard")
        tensor(0.2929)

    Reference:
        Schroff et al. 2015, "FaceNet"; Hermans et al. 2017, "In Defense of the Triplet Loss".
    """
    fn = "batch_triplet_loss"
    if soft and mining == "batch_all":
        raise ValueError(f"{fn}: soft=True applies to mining='batch_hard' or 'semi_hard'; got mining='batch_all'")
    embeddings, labels = _batch_inputs(fn, embeddings, labels)
    if distance == "cosine":  # unit rows first: their ±inf limits (see circle_loss), before any gather
        embeddings = _normalize_with_limits(_normalize, embeddings)
    batch = _Batch(embeddings, labels, gather)
    pos, neg = batch.masks()

    def per_anchor(at_limits: bool) -> Tuple[torch.Tensor, torch.Tensor]:
        if at_limits:
            return _batch_triplet_limits(batch, pos, neg, margin, mining, soft, distance)
        if mining == "batch_hard":
            with torch.no_grad():  # squared distances rank pairs as the distances do
                d = _distances(batch.anchors, batch.refs, "squared_euclidean" if distance == "euclidean" else distance)
            return _batch_hard(batch, d, pos, neg, margin, soft, distance)
        d = _distances(batch.anchors, batch.refs, distance)
        return _batch_all(d, pos, neg, margin) if mining == "batch_all" else _semi_hard(d, pos, neg, margin, soft)

    if distance == "cosine":  # unit rows: nothing infinite reaches the distances
        per, count = per_anchor(False)
    else:
        # ±inf in the Gram form (∞ − ∞) gives NaN values or only NaN gradients: the inputs decide (one host read
        # where data checks run); the limits are taken locally, so every rank still makes the same collectives
        per, count = computed_with_limits(per_anchor, lambda _: batch.refs, batch.refs)
    return _finish(per, count, reduction, batch.gathered)


def _difference_distances(v: torch.Tensor, distance: str) -> torch.Tensor:
    """Euclidean or squared norms of differences ``v`` (..., D): +inf where ``v`` holds ±inf, with a finite gradient.

    There the gradient is the direction of ``v`` (see :func:`_pairwise_distance_with_limits`; for the
    squared distance a finite stand-in for the unbounded ``2v``): a triplet whose negative is infinitely
    far costs 0 and passes 0 through it. Elsewhere the plain norms (gradient 0 at zero distance).
    """
    far = (torch.isinf(v).any(-1) & ~torch.isnan(v).any(-1))[..., None]
    zero = torch.zeros((), dtype=v.dtype, device=v.device)
    far_norm = torch.linalg.vector_norm(_DirectionWithGradient.apply(torch.where(far, v, zero)), dim=-1)
    sq = torch.where(far, zero, v).square().sum(-1)
    near = safe_sqrt(sq) if distance == "euclidean" else sq
    return near + far_norm + torch.where(far[..., 0], math.inf, 0.0).to(v.dtype)


def _batch_triplet_limits(
    batch: _Batch, pos: torch.Tensor, neg: torch.Tensor, margin: float, mining: str, soft: bool, distance: str
) -> Tuple[torch.Tensor, torch.Tensor]:
    """batch_triplet_loss's per-anchor terms from the pairs' differences ((n, M, D): only where the Gram form gave NaN).

    Infinitely far pairs are at +inf (:func:`_difference_distances`); a triplet with a far negative
    costs 0 with gradient 0. A far positive makes some triplet ∞ − ∞ (the far sample as anchor): NaN.
    """
    zero = torch.zeros((), dtype=batch.anchors.dtype, device=batch.anchors.device)
    v = torch.where(batch.self_mask[..., None], zero, batch.anchors[:, None, :] - batch.refs[None, :, :])
    if mining == "batch_hard":
        valid = (pos.any(1) & neg.any(1))[:, None]

        def pair_distances(a: torch.Tensor, b: torch.Tensor, kind: str) -> torch.Tensor:
            # an anchor without a triplet is paired with itself (∞ − ∞ for a far one) and masked: 0 stands in
            return _difference_distances(torch.where(valid, a - b, zero), kind)

        with torch.no_grad():
            d = _difference_distances(v, distance)
        return _batch_hard(batch, d, pos, neg, margin, soft, distance, pair_distances)
    d = _difference_distances(v, distance)
    return _batch_all(d, pos, neg, margin) if mining == "batch_all" else _semi_hard(d, pos, neg, margin, soft)


# ---------------------------------------------------------------------------------------------
# fused contrastive and InfoNCE: one autograd node each, analytic backward
# ---------------------------------------------------------------------------------------------
# Through autograd these losses keep several (n, M) intermediates for the backward and run one
# kernel per elementwise step. Written out, the forward keeps one (n, M) matrix (the pair weights
# ∂ per / ∂ sq, or softmax − onehot) and the backward is two matrix products — one for contrastive over
# a batch's own pairs with a scalar gradient, whose weight matrix is symmetric. Under create_graph
# the backward recomputes that matrix from the inputs with differentiable, out-of-place ops, so
# second derivatives are taken through the inputs.

#: the norm floor of _normalize, and its square
_NORM_EPS, _NORM_EPS2 = 1e-12, 1e-24


def _unit_rows(x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``_normalize(x)``, the row scales ``1 / max(‖x‖, eps)`` (n, 1), and where the floor is not reached (n, 1)."""
    sumsq = x.square().sum(1, keepdim=True)
    scale = torch.rsqrt(sumsq.clamp_min(_NORM_EPS2))
    return x * scale, scale, sumsq >= _NORM_EPS2


def _unit_rows_backward(
    grad_unit: torch.Tensor, unit: torch.Tensor, scale: torch.Tensor, live: torch.Tensor
) -> torch.Tensor:
    """The gradient through ``x ↦ x · rsqrt(max(‖x‖², eps²))``: ``scale · (g − u (u·g))``, no radial part where floored."""
    radial = torch.where(live, (unit * grad_unit).sum(1, keepdim=True), torch.zeros_like(scale))
    return scale * (grad_unit - unit * radial)


def _grad_column(grad: torch.Tensor, n: int) -> torch.Tensor:
    """The gradient of n per-anchor losses as an (n, 1) column (a scalar one, of their sum, broadcast)."""
    return grad.reshape(1, 1).expand(n, 1) if grad.dim() == 0 else grad.reshape(n, 1)


def _exp_is_safe(temperature: float, columns: int, dtype: torch.dtype) -> bool:
    """Whether ``exp(cos / τ)`` can be summed over ``columns`` unshifted: no overflow and no total underflow.

    ``cos / τ`` lies in ``[−1/τ, 1/τ]``; while ``1/τ + log(columns)`` stays well inside the dtype's exponent
    range the row maxima (a pass over (n, M)) and the shift (another) are not needed.
    """
    info = torch.finfo(dtype)
    return 1.0 / temperature + math.log(max(columns, 1)) <= 0.9 * min(math.log(info.max), -math.log(info.tiny))


class _InfoNCE(torch.autograd.Function):
    """Per query ``lse_j(cos(q_i, k_j) / τ) − cos(q_i, k_{offset+i}) / τ`` from raw rows, or their sum times ``factor``.

    Keeps the unit rows (n + M, D) and one (n, M) matrix, ``softmax − onehot``: the logits' gradient
    of each query's loss. The backward multiplies it into the unit rows (1/τ as the products'
    alpha) and takes the incoming gradient with the normalisation's row scales at the end, where
    both are per-row factors. Few, large kernels: at N = 256 a step is mostly the three products
    and the per-call cost of each kernel.
    """

    @staticmethod
    def forward(
        ctx: Any, query: torch.Tensor, keys: torch.Tensor, offset: int, temperature: float, factor: Optional[float]
    ) -> torch.Tensor:
        n = query.shape[0]
        # queries and keys normalised as one (n + M, D) block, in place in the copy that joins them
        unit = torch.cat((query, keys))
        norms = torch.linalg.vector_norm(unit, dim=1, keepdim=True)
        floored = norms < _NORM_EPS
        scale = norms.clamp_min_(_NORM_EPS).reciprocal_()
        unit.mul_(scale)
        u, v = unit[:n], unit[n:]
        # the logits u vᵀ / τ, the 1/τ taken inside the matrix product (addmm's alpha: no (n, D) pass)
        shifted = torch.addmm(u.new_zeros(()), u, v.T, beta=0.0, alpha=1.0 / temperature)
        if not _exp_is_safe(temperature, v.shape[0], query.dtype):  # shift each row by its maximum
            shifted.sub_(shifted.amax(1, keepdim=True))
        positive = shifted.diagonal(offset).clone()  # logit_i,offset+i − shift_i
        probs = shifted.exp_()
        total = probs.sum(1, keepdim=True)
        probs.mul_(total.reciprocal()).diagonal(offset).sub_(1.0)  # softmax − onehot: ∂ per_i / ∂ logit_ij
        ctx.offset, ctx.temperature, ctx.factor = offset, temperature, factor
        ctx.save_for_backward(query, keys, unit, scale, floored, probs)
        per = total.log_().view(n).sub_(positive)
        return per if factor is None else per.sum().mul_(factor)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:
        query, keys, unit, scale, floored, probs = ctx.saved_tensors
        n, nones = query.shape[0], (None, None, None)
        if torch.is_grad_enabled():  # create_graph: a differentiable formula of the inputs
            return _info_nce_grads_differentiable(ctx, query, keys, grad) + nones
        # logits = u vᵀ / τ: ∂/∂u = probs v / τ, ∂/∂v = probsᵀ u / τ, for the loss times factor
        alpha = (1.0 if ctx.factor is None else ctx.factor) / ctx.temperature
        per_query = grad.dim() != 0  # reduction "none": query i's loss weighted by grad_i
        need_q, need_k = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        out = torch.empty_like(unit)
        grad_u = grad_v = None  # views of out: the row operations below run once over both
        if need_q:
            grad_u = out[:n]
            torch.addmm(grad_u, probs, unit[n:], beta=0.0, alpha=alpha, out=grad_u)
        if need_k:
            grad_v, u = out[n:], unit[:n]
            torch.addmm(grad_v, probs.T, u * grad.unsqueeze(1) if per_query else u, beta=0.0, alpha=alpha, out=grad_v)
        if not (need_q and need_k):  # the rows whose gradient is wanted (MoCo: the queries only)
            rows = slice(0, n) if need_q else slice(n, None)
            out, unit, scale, floored = out[rows], unit[rows], scale[rows], floored[rows]
        # the incoming gradient: a factor of every row, or of each query's row (the keys' took it above)
        if not per_query:
            row_factor = scale * grad
        else:
            row_factor = scale.clone()
            if need_q:
                row_factor[:n].mul_(grad.unsqueeze(1))
        # through x ↦ x · rsqrt(max(‖x‖², eps²)): scale · (g − u (u·g)), no radial part where the floor holds
        radial = (unit * out).sum(1, keepdim=True).masked_fill_(floored, 0.0)
        out.addcmul_(unit, radial, value=-1.0).mul_(row_factor)
        return grad_u, grad_v, *nones


def _info_nce_grads_differentiable(
    ctx: Any, query: torch.Tensor, keys: torch.Tensor, grad: torch.Tensor
) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
    """The query and key gradients of _InfoNCE as differentiable ops of the inputs (for second derivatives)."""
    offset, temperature = ctx.offset, ctx.temperature
    n = query.shape[0]
    u, q_scale, q_live = _unit_rows(query)
    v, k_scale, k_live = _unit_rows(keys)
    probs = torch.softmax((u / temperature) @ v.T, 1)
    coef = _grad_column(grad if ctx.factor is None else grad * ctx.factor, n) / temperature
    grad_query = grad_keys = None
    if ctx.needs_input_grad[0]:
        grad_u = (probs @ v - v[offset : offset + n]) * coef
        grad_query = _unit_rows_backward(grad_u, u, q_scale, q_live)
    if ctx.needs_input_grad[1]:
        scaled = u * coef
        grad_v = probs.T @ scaled - F.pad(scaled, (0, 0, offset, keys.shape[0] - offset - n))
        grad_keys = _unit_rows_backward(grad_v, v, k_scale, k_live)
    return grad_query, grad_keys


def _info_nce_direction(
    anchors: torch.Tensor, refs: torch.Tensor, offset: int, temperature: float, factor: Optional[float]
) -> torch.Tensor:
    """-log softmax of anchor i's positive ``refs[offset + i]`` among the rows of ``refs`` (raw rows; cosine / τ).

    Per anchor (n,) with ``factor=None``, else their sum times ``factor``.
    """
    # the plain graph (cross-entropy of the cosine logits, differentiated by autograd) for an empty batch (no row
    # to take a maximum over: the empty result, sum 0) and inside torch.func transforms, which refuse _InfoNCE
    # (no setup_context; its forward keeps the gradient matrix); the same values and gradients to rounding
    if anchors.shape[0] == 0 or functorch_transforms_active():
        n = anchors.shape[0]
        logits = (_normalize(anchors) / temperature) @ _normalize(refs).T
        positives = torch.arange(offset, offset + n, device=anchors.device)
        per = F.cross_entropy(logits, positives, reduction="none")
        return per if factor is None else per.sum() * factor
    return _InfoNCE.apply(anchors, refs, offset, temperature, factor)


def _contrastive_terms(
    sq: torch.Tensor, same: torch.Tensor, offset: int, pos_margin: float, neg_margin: float, distance: str
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-anchor contrastive losses (n,) and the pair weights ``∂ per_i / ∂ sq_ij`` (n, M) from squared distances.

    The anchor's own column (i, offset + i) counts for nothing. Outside grad mode the work happens in
    ``sq``'s buffer and one more (n, M) matrix, which is returned as the weights; in grad mode (the
    double backward) every step is out of place.
    """
    inplace = not torch.is_grad_enabled()
    floor = _TINY if distance == "euclidean" else 0.0
    flat = sq < floor  # clamp_min passes no gradient below its floor
    d = sq.clamp_min_(floor) if inplace else sq.clamp_min(floor)
    if distance == "euclidean":
        d = d.sqrt_() if inplace else d.sqrt()
    if inplace:
        hinge = torch.sub(d, pos_margin)
        torch.where(same, hinge, neg_margin - d, out=hinge)
        hinge.relu_().diagonal(offset).zero_()
    else:
        own = torch.arange(sq.shape[0], device=sq.device)[:, None] + offset == torch.arange(
            sq.shape[1], device=sq.device
        )
        hinge = torch.relu(torch.where(same, d - pos_margin, neg_margin - d)).masked_fill(own, 0.0)
    per = 0.5 * hinge.square().sum(1)
    # ∂ per_i / ∂ d_ij = +hinge_ij for a positive pair, −hinge_ij for a negative; ∂d/∂sq = 1 / (2d) or 1
    if not inplace:
        weights = torch.where(same, hinge, -hinge)
        if distance == "euclidean":
            weights = weights / d * 0.5
        return per, weights.masked_fill(flat, 0.0)
    if distance == "euclidean":
        hinge.div_(d).mul_(0.5)
    torch.where(same, hinge, torch.neg(hinge, out=d), out=hinge)  # d's buffer is free now
    return per, hinge.masked_fill_(flat, 0.0)


def _contrastive_limits(
    anchors: torch.Tensor,
    refs: torch.Tensor,
    same: torch.Tensor,
    offset: int,
    pos_margin: float,
    neg_margin: float,
    distance: str,
) -> torch.Tensor:
    """Per-anchor contrastive losses (n,) from the pairs' differences, with the limits of pairs at infinite distance.

    The slow path (an (n, M, D) tensor), taken only where the Gram form gave NaN. A pair whose
    difference holds ±inf (and no NaN) is infinitely far: a negative pair costs 0 with gradient 0; a
    positive pair costs +inf, with the limit of its gradient — ``2 (v − m₊ u)`` for the Euclidean
    distance (±inf at the infinite entries, ``2 v_j`` at the finite ones; ``u`` the direction of ``v``);
    for the squared distance ±inf at the non-zero entries (given as ± the largest finite value / 16)
    and 0 at the zero ones. NaN stays NaN; an anchor with two far partners whose infinite entries
    cancel has gradient ∞ − ∞ = NaN (no limit).
    """
    v = anchors[:, None, :] - refs[None, :, :]
    own = torch.arange(anchors.shape[0], device=v.device)[:, None] + offset == torch.arange(
        refs.shape[0], device=v.device
    )
    far = torch.isinf(v).any(-1) & ~torch.isnan(v).any(-1) & ~own
    far_positive = (far & same)[..., None]
    zero = torch.zeros((), dtype=v.dtype, device=v.device)
    # every branch sees finite stand-ins where it is not chosen: a zero gradient times inf would be NaN
    near_v = torch.where((far | own)[..., None], zero, v)
    sq = near_v.square().sum(-1)
    d = sq.clamp_min(_TINY).sqrt() if distance == "euclidean" else sq
    terms = torch.relu(torch.where(same, d - pos_margin, neg_margin - d)).square()
    far_v = torch.where(far_positive, v, zero)
    if distance == "euclidean":  # (‖v‖ − m)² = ‖v‖² − 2m‖v‖ + m², its ‖v‖ taken at the direction (gradient u)
        direction = _DirectionWithGradient.apply(far_v)
        far_terms = far_v.square().sum(-1) - 2.0 * pos_margin * torch.linalg.vector_norm(direction, dim=-1)
    else:  # (‖v‖² − m)²: the gradient 4 (‖v‖² − m) v, ±inf where v_j ≠ 0 (the largest finite here), 0 where v_j = 0
        huge = torch.finfo(v.dtype).max / 16
        far_terms = (far_v.abs() * huge).sum(-1) + torch.where(far_positive[..., 0], math.inf, 0.0).to(v.dtype)
    terms = torch.where(far, torch.where(same, far_terms, zero), terms)
    return 0.5 * terms.masked_fill(own, 0.0).sum(1)


class _Contrastive(torch.autograd.Function):
    """Contrastive loss of anchors against references (``refs=None``: the anchors themselves) from raw rows.

    Returns the per-anchor losses, or their sum with ``total=True``. Keeps the (n, M) pair weights.
    """

    @staticmethod
    def forward(
        ctx: Any,
        anchors: torch.Tensor,
        refs: Optional[torch.Tensor],
        same: torch.Tensor,
        offset: int,
        pos_margin: float,
        neg_margin: float,
        distance: str,
        total: bool,
    ) -> torch.Tensor:
        sq = _squared_distances(anchors, anchors if refs is None else refs)
        per, weights = _contrastive_terms(sq, same, offset, pos_margin, neg_margin, distance)
        ctx.config = (offset, pos_margin, neg_margin, distance)
        ctx.save_for_backward(anchors, refs, same, weights)
        return per.sum() if total else per

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:
        anchors, refs, same, weights = ctx.saved_tensors
        offset, pos_margin, neg_margin, distance = ctx.config
        self_pairs = refs is None
        others = anchors if self_pairs else refs
        differentiable = torch.is_grad_enabled()
        if differentiable:  # create_graph: recompute from the inputs so second derivatives reach them
            sq = _squared_distances(anchors, others)
            weights = _contrastive_terms(sq, same, offset, pos_margin, neg_margin, distance)[1]
        nones = (None,) * 6
        # sq_ij = ‖a_i‖² + ‖r_j‖² − 2 a_i·r_j, so ∂/∂a_i = 2 Σ_j w_ij (a_i − r_j) and ∂/∂r_j = 2 Σ_i w_ij (r_j − a_i)
        if self_pairs and grad.dim() == 0 and not differentiable:
            # a batch's own pairs, one gradient for all: w is symmetric and both halves are the same product
            grad_x = torch.mul(weights.sum(1, keepdim=True), anchors).sub_(weights @ anchors).mul_(4.0 * grad)
            return (grad_x, None) + nones
        g = _grad_column(grad, anchors.shape[0])
        grad_anchors = grad_refs = None
        if ctx.needs_input_grad[0]:
            grad_anchors = 2.0 * g * (weights.sum(1, keepdim=True) * anchors - weights @ others)
        if self_pairs or ctx.needs_input_grad[1]:
            grad_refs = 2.0 * ((weights.T @ g) * others - weights.T @ (g * anchors))
        if self_pairs:
            return (grad_refs if grad_anchors is None else grad_anchors + grad_refs, None) + nones
        return (grad_anchors, grad_refs) + nones


@loss(
    "contrastive",
    family=FAMILY,
    module="ContrastiveLoss",
    roles=_EMBEDDING_ROLES,
    hparams={
        "pos_margin": checks.non_negative,
        "neg_margin": checks.non_negative,
        "distance": checks.one_of(*DISTANCES),
        "gather": checks.boolean,
    },
    call_kwargs=(),
    capabilities=_BATCH_CAPABILITIES,
    references=("NumPy loop reference (Hadsell et al. 2006)",),
    curve=Curve("angle", "neg_margin", (0.5, 1.0, 1.5)),
)
def contrastive_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    *,
    pos_margin: float = 0.0,
    neg_margin: float = 1.0,
    distance: str = "euclidean",
    gather: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Contrastive loss over every pair of a batch (Hadsell et al. 2006).

    .. math::
        \ell_{ij} = \begin{cases} [\,d_{ij} - m_+\,]_+^2 & y_i = y_j \\ [\,m_- - d_{ij}\,]_+^2 & y_i \ne y_j \end{cases}

    ``"mean"`` averages over all N(N−1)/2 pairs i < j (0 for N < 2), ``"sum"``
    sums them; ``"none"`` gives ``(N,)``, each sample's half of its pairs'
    losses (so its sum is ``"sum"``). The Euclidean and squared distances run
    as one autograd node with a written-out backward (one (N, M) matrix kept
    for it); second derivatives recompute it differentiably.

    Args:
        embeddings: ``(N, D)``.
        labels: integer class ids ``(N,)``.
        pos_margin: ``m₊ >= 0``, the distance below which positive pairs cost nothing.
        neg_margin: ``m₋ >= 0``, the distance beyond which negative pairs cost nothing.
        distance: ``"euclidean"`` | ``"squared_euclidean"`` | ``"cosine"``.
        gather: compute over the global batch across ``torch.distributed`` ranks.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (shape ``(N,)``).

    Returns:
        A scalar, or ``(N,)`` with ``reduction="none"``.

    Example:
        >>> contrastive_loss(torch.tensor([[0.0, 0.0], [0.0, 0.5], [3.0, 0.0]]), torch.tensor([0, 0, 1]))
        tensor(0.0833)

    Reference:
        Hadsell, Chopra & LeCun 2006, "Dimensionality Reduction by Learning an Invariant Mapping".
    """
    fn = "contrastive_loss"
    embeddings, labels = _batch_inputs(fn, embeddings, labels)
    if distance == "cosine":  # unit rows first: their ±inf limits (see circle_loss), before any gather
        embeddings = _normalize_with_limits(_normalize, embeddings)
    batch = _Batch(embeddings, labels, gather)
    n = embeddings.shape[0]
    # torch.full, not torch.tensor: a fill on the device, no blocking copy from the host
    pairs = torch.full((), 0.5 * n * max(batch.refs.shape[0] - 1, 0), dtype=embeddings.dtype, device=embeddings.device)
    if distance == "cosine":
        d = _distances(batch.anchors, batch.refs, distance)
        squared = torch.relu(torch.where(batch.same(), d - pos_margin, neg_margin - d)).square()
        # the anchor's own column: subtracted (n values) rather than masked (an (n, M) pass forward and backward)
        own = torch.arange(n, device=d.device)
        per = 0.5 * (squared.sum(1) - squared[own, own + batch.offset])
        return _finish(per, pairs, reduction, batch.gathered)
    refs = None if batch.refs is batch.anchors else batch.refs

    def total(at_limits: bool) -> torch.Tensor:
        if not at_limits:
            return _Contrastive.apply(
                batch.anchors, refs, batch.same(), batch.offset, pos_margin, neg_margin, distance, reduction != "none"
            )
        per = _contrastive_limits(
            batch.anchors, batch.refs, batch.same(), batch.offset, pos_margin, neg_margin, distance
        )
        return per if reduction == "none" else per.sum()

    # ±inf: the Gram form's ∞ − ∞ (see batch_triplet_loss); the inputs decide, the limits are taken locally
    out = computed_with_limits(total, lambda _: batch.refs, batch.refs)
    if reduction == "none":
        return out
    return _dist.global_reduce(out, None if reduction == "sum" else pairs, batch.gathered)


@loss(
    "circle",
    family=FAMILY,
    module="CircleLoss",
    roles=_EMBEDDING_ROLES,
    hparams={"gamma": checks.positive, "margin": checks.non_negative, "gather": checks.boolean},
    call_kwargs=(),
    capabilities=_BATCH_CAPABILITIES,
    references=("Keras circle / Circle", "NumPy loop reference (Sun et al. 2020)"),
    curve=Curve("angle", "margin", (0.25, 0.4)),
)
def circle_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    *,
    gamma: float = 80.0,
    margin: float = 0.4,
    gather: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Circle loss (Sun et al. 2020), Keras 3's ``circle``.

    With unit embeddings and distances :math:`d_{ij} = \max(1 - x_i \cdot x_j, 0)`:

    .. math::
        \ell_i = \operatorname{softplus}\Big(
            \log\sum_{p} e^{-\gamma [m + d_{ip}]_+ (m - d_{ip})}
          + \log\sum_{n} e^{\gamma [1 + m - d_{in}]_+ (1 - m - d_{in})}\Big)

    over positives ``p ≠ i`` (same label) and negatives ``n`` (another label).
    The embeddings are L2-normalised here (Keras expects them normalised; on
    unit-norm inputs the numbers are Keras's). The weights ``[m + d]₊`` and
    ``[1 + m − d]₊`` are differentiated through, as Keras does (not detached).
    An anchor without a positive or a negative has loss 0. ``"mean"``
    averages over the anchors with a positive loss, as Keras's ``Circle`` does
    (0 if none); ``"none"`` gives ``(N,)``.

    Args:
        embeddings: ``(N, D)``.
        labels: integer class ids ``(N,)``.
        gamma: the scale ``γ > 0``.
        margin: the relaxation ``m >= 0``.
        gather: compute over the global batch across ``torch.distributed`` ranks.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (shape ``(N,)``).

    Returns:
        A scalar, or ``(N,)`` with ``reduction="none"``.

    Example:
        >>> x = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
        >>> circle_loss(x, torch.tensor([0, 0, 1]), gamma=1.0)
        tensor(0.6484)

    Reference:
        Sun et al. 2020, "Circle Loss: A Unified Perspective of Pair Similarity Optimization"; Keras ``circle``.
    """
    fn = "circle_loss"
    embeddings, labels = _batch_inputs(fn, embeddings, labels)
    # unit rows before any gather: every rank takes the same collective path whatever its values
    batch = _Batch(_normalize_with_limits(_normalize, embeddings), labels, gather)
    pos, neg = batch.masks()
    d = (1.0 - batch.anchors @ batch.refs.T).clamp_min(0.0)
    pos_logit = -gamma * torch.relu(margin + d) * (margin - d)
    neg_logit = gamma * torch.relu(1.0 + margin - d) * (1.0 - margin - d)
    valid = pos.any(1) & neg.any(1)
    total = _masked_logsumexp(pos_logit, pos) + _masked_logsumexp(neg_logit, neg)
    zero = torch.zeros((), dtype=d.dtype, device=d.device)
    per = torch.where(valid, F.softplus(torch.where(valid, total, zero)), zero)
    return _finish(per, (per > 0).sum(), reduction, batch.gathered)


@loss(
    "supervised_contrastive",
    family=FAMILY,
    module="SupConLoss",
    aliases=("supcon",),
    roles=(
        Role("features", "(N, D) or (N, V, D)"),
        Role("labels", "integer class ids (N,), or None", differentiable=False, also="optional"),
    ),
    hparams={"temperature": checks.positive, "base_temperature": checks.positive, "gather": checks.boolean},
    call_kwargs=(),
    capabilities=_BATCH_CAPABILITIES,
    references=("NumPy loop reference (Khosla et al. 2020, SupContrast's L_out)",),
    curve=Curve("angle", "temperature", (0.07, 0.2, 0.5)),
)
def supervised_contrastive_loss(
    features: torch.Tensor,
    labels: Optional[torch.Tensor] = None,
    *,
    temperature: float = 0.07,
    base_temperature: float = 0.07,
    gather: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Supervised contrastive loss, "L_out" of Khosla et al. 2020, as in the authors' SupContrast code.

    Every view of every sample is an anchor (contrast_mode "all"); with unit
    features :math:`z` and :math:`A(i)` all other views in the batch,

    .. math::
        \ell_i = -\frac{\tau}{\tau_b} \frac{1}{|P(i)|} \sum_{p \in P(i)}
            \log \frac{e^{z_i \cdot z_p / \tau}}{\sum_{a \in A(i)} e^{z_i \cdot z_a / \tau}}

    where :math:`P(i)` are the other views with ``i``'s label. ``labels=None``
    is SimCLR's NT-Xent: the positives of a view are the other views of its
    own sample. The features are L2-normalised here (SupContrast expects them
    normalised; on unit-norm inputs the numbers are its code's). An anchor
    without positives has loss 0 and still counts in the mean, as in
    SupContrast. ``"mean"`` averages over the N·V anchors; ``"none"`` gives
    ``(N,)`` for ``(N, D)`` input and ``(N, V)`` for ``(N, V, D)``.

    Args:
        features: ``(N, D)`` (one view) or ``(N, V, D)`` (V views per sample).
        labels: integer class ids ``(N,)``, or None (each sample its own class).
        temperature: ``τ > 0``.
        base_temperature: ``τ_b > 0``, the loss is scaled by ``τ / τ_b``.
        gather: compute over the global batch across ``torch.distributed`` ranks.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.

    Returns:
        A scalar, or ``(N,)`` / ``(N, V)`` with ``reduction="none"``.

    Example:
        >>> z = torch.tensor([[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]])
        >>> supervised_contrastive_loss(z, temperature=1.0, base_temperature=1.0)
        tensor(0.5514)

    Reference:
        Khosla et al. 2020, "Supervised Contrastive Learning"; Chen et al. 2020, "SimCLR".
    """
    fn = "supervised_contrastive_loss"
    (features,) = _prepare(fn, features, names=("features",))
    if features.dim() not in (2, 3):
        raise ValueError(f"{fn}: features must be (N, D) or (N, V, D); got shape {fmt_shape(features.shape)}")
    one_view = features.dim() == 2
    views = features.unsqueeze(1) if one_view else features
    n, v = views.shape[0], views.shape[1]
    if labels is not None:
        labels = _labels(fn, labels, n, rows="features")
    views = _normalize_with_limits(_normalize, views)  # before the gather (see circle_loss)
    gathered = bool(gather) and _dist.is_distributed()
    if gathered:
        all_views, offset, sizes = _dist.all_gather_with_grad(views)
        ids = labels if labels is not None else torch.arange(n, device=views.device) + offset
        all_ids = _dist.all_gather_no_grad(ids, sizes)
    else:
        all_views, offset = views, 0
        ids = labels if labels is not None else torch.arange(n, device=views.device)
        all_ids = ids
    total = all_views.shape[0]
    # view-major rows, as SupContrast's torch.cat(torch.unbind(features, dim=1)): row v·N + i
    dim = views.shape[2]
    anchors = views.transpose(0, 1).reshape(v * n, dim)
    contrast = all_views.transpose(0, 1).reshape(v * total, dim)
    anchor_ids = ids.repeat(v)
    contrast_ids = all_ids.repeat(v)
    rows = (
        torch.arange(v, device=views.device)[:, None] * total + offset + torch.arange(n, device=views.device)
    ).reshape(-1)
    self_mask = rows[:, None] == torch.arange(v * total, device=views.device)[None, :]
    pos = (anchor_ids[:, None] == contrast_ids[None, :]) & ~self_mask
    logits = (anchors @ contrast.T) / temperature
    log_prob = logits - _masked_logsumexp(logits, ~self_mask)[:, None]
    zero = torch.zeros((), dtype=logits.dtype, device=logits.device)
    n_pos = pos.sum(1)
    mean_log_prob_pos = torch.where(pos, log_prob, zero).sum(1) / n_pos.clamp_min(1).to(logits.dtype)
    per = (-(temperature / base_temperature) * mean_log_prob_pos).reshape(v, n).T
    if one_view:
        per = per.reshape(n)
    count = torch.full((), float(n * v), dtype=per.dtype, device=per.device)
    return _finish(per, count, reduction, gathered)


@loss(
    "info_nce",
    family=FAMILY,
    module="InfoNCELoss",
    aliases=("infonce",),
    roles=(Role("query", "(N, D)"), Role("key", "(N, D), key i matches query i")),
    hparams={"temperature": checks.positive, "symmetric": checks.boolean, "gather": checks.boolean},
    call_kwargs=("negatives",),
    capabilities=_BATCH_CAPABILITIES,
    references=("NumPy loop reference (van den Oord et al. 2018; CLIP)",),
    curve=Curve("angle", "temperature", (0.07, 0.2, 0.5)),
)
def info_nce_loss(
    query: torch.Tensor,
    key: torch.Tensor,
    *,
    temperature: float = 0.07,
    symmetric: bool = False,
    gather: bool = False,
    reduction: str = "mean",
    negatives: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""InfoNCE with in-batch negatives (or explicit ones), cosine similarity over a temperature.

    .. math::
        \ell_i = -\log \frac{e^{\cos(q_i, k_i)/\tau}}{\sum_j e^{\cos(q_i, k_j)/\tau}}

    Query i's logits run over the N keys only (other queries are never
    negatives); the target is key i. With ``negatives`` ``(M, D)`` the logits
    are ``[cos(q_i, k_i), cos(q_i, n_1..M)] / τ`` with target 0 (the other keys
    are not negatives). ``symmetric=True`` adds the key→query direction (key
    i's logits over the queries, or over ``[q_i, negatives]``) and averages the
    two per index — CLIP's loss. SimCLR's 2N−1-way NT-Xent is
    ``supervised_contrastive_loss(features (N, 2, D), labels=None)``. With
    ``gather=True`` the keys (queries, negatives) of every rank take part.
    With in-batch negatives the loss is one autograd node with a written-out
    backward (one (N, M) matrix kept for it); second derivatives recompute it
    differentiably.

    Args:
        query: ``(N, D)``.
        key: ``(N, D)``, key i is query i's positive.
        temperature: ``τ > 0``.
        symmetric: average with the key→query direction.
        gather: compute over the global batch across ``torch.distributed`` ranks.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (shape ``(N,)``).
        negatives: optional explicit negatives ``(M, D)`` (per call).

    Returns:
        A scalar, or ``(N,)`` with ``reduction="none"``.

    Example:
        >>> q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> info_nce_loss(q, q, temperature=1.0)
        tensor(0.3133)

    Reference:
        van den Oord et al. 2018, "Representation Learning with Contrastive Predictive Coding"; Radford et al. 2021 (CLIP).
    """
    fn = "info_nce_loss"
    check_floating(fn, "query", query)
    check_floating(fn, "key", key)
    if negatives is not None:
        check_floating(fn, "negatives", negatives)
    dtype = compute_dtype(query, key)
    query, key = to_compute(dtype, query, key)
    _check_2d(fn, "query", query)
    check_same_shape(fn, query, key, input_name="query", target_name="key")
    if negatives is not None:
        negatives = to_compute(dtype, negatives)
        _check_2d(fn, "negatives", negatives)
        if negatives.shape[1] != query.shape[1]:
            raise ValueError(
                f"{fn}: negatives must have the query's feature size {query.shape[1]}; "
                f"got shape {fmt_shape(negatives.shape)}"
            )
    gathered = bool(gather) and _dist.is_distributed()

    def compute(query: torch.Tensor, key: torch.Tensor, negatives: Optional[torch.Tensor]) -> torch.Tensor:
        return _info_nce(query, key, negatives, temperature, symmetric, gathered, reduction)

    if gathered:  # the limits taken on every rank up front: a recompute on one rank only would break the collectives
        limit_negatives = None if negatives is None else _direction_limits(negatives)
        return compute(_direction_limits(query), _direction_limits(key), limit_negatives)
    return _normalize_with_limits(compute, query, key, negatives)


def _info_nce(
    query: torch.Tensor,
    key: torch.Tensor,
    negatives: Optional[torch.Tensor],
    temperature: float,
    symmetric: bool,
    gathered: bool,
    reduction: str,
) -> torch.Tensor:
    """info_nce_loss on checked inputs: the fused in-batch Function, or one cross-entropy with explicit negatives."""
    n = query.shape[0]
    if negatives is None:  # in-batch negatives: fused, normalising inside, reduced inside where that is exact
        # the direction's summed losses times factor; a gathered mean is divided by the global count below
        per_mean = 1 if reduction == "sum" or gathered else max(n, 1)
        factor = None if reduction == "none" else (0.5 if symmetric else 1.0) / per_mean

        def fused(a: torch.Tensor, b_local: torch.Tensor) -> torch.Tensor:
            b_all, offset, _ = _dist.all_gather_with_grad(b_local) if gathered else (b_local, 0, None)
            return _info_nce_direction(a, b_all, offset, temperature, factor)

        out = fused(query, key)
        if symmetric:
            out = out + fused(key, query) if factor is not None else 0.5 * (out + fused(key, query))
        if factor is None or not gathered:
            return out
        count = None if reduction == "sum" else torch.full((), float(n), dtype=query.dtype, device=query.device)
        return _dist.global_reduce(out, count, gathered)
    count = torch.full((), float(n), dtype=query.dtype, device=query.device)
    q, k, nb = _normalize(query), _normalize(key), _normalize(negatives)
    if gathered:
        nb, _, _ = _dist.all_gather_with_grad(nb)

    def direction(a: torch.Tensor, b_local: torch.Tensor) -> torch.Tensor:
        """-log softmax of a_i's positive (b_i) among [b_i, negatives]: one fused cross-entropy."""
        a = a / temperature
        positive = (a * b_local).sum(1, keepdim=True)
        logits = torch.cat([positive, a @ nb.T], 1)
        return F.cross_entropy(logits, torch.zeros(n, dtype=torch.long, device=a.device), reduction="none")

    per = direction(q, k)
    if symmetric:
        per = 0.5 * (per + direction(k, q))
    return _finish(per, count, reduction, gathered)


# ---------------------------------------------------------------------------------------------
# losses whose modules own parameters
# ---------------------------------------------------------------------------------------------


def _param_inputs(
    fn: str, x: torch.Tensor, labels: torch.Tensor, param: torch.Tensor, names: Tuple[str, str]
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x, param = _prepare(fn, x, param, names=names)
    _check_2d(fn, names[0], x)
    if param.dim() != 2 or param.shape[1] != x.shape[1]:
        raise ValueError(
            f"{fn}: {names[1]} must be (C, {x.shape[1]}), one row per class of the {names[0]}' size; "
            f"got shape {fmt_shape(param.shape)}"
        )
    labels = _labels(fn, labels, x.shape[0], rows=names[0])
    _check_class_range(fn, labels, param.shape[0])
    return x, labels, param


@loss(
    "center",
    family=FAMILY,
    module=None,
    roles=(
        Role("features", "(N, D)"),
        Role("labels", "integer class ids (N,)", differentiable=False),
        Role("centers", "(C, D)"),
    ),
    hparams={},
    call_kwargs=(),
    capabilities=_PARAM_CAPABILITIES,
    references=("NumPy reference (Wen et al. 2016)",),
    curve=Curve("angle"),
)
def center_loss(
    features: torch.Tensor, labels: torch.Tensor, centers: torch.Tensor, *, reduction: str = "mean"
) -> torch.Tensor:
    r"""Center loss (Wen et al. 2016): half the squared distance of each feature to its class centre.

    .. math::
        \ell_i = \tfrac12 \lVert x_i - c_{y_i} \rVert^2

    ``"mean"`` is ½·mean‖x − c_y‖² over the batch. The module :class:`CenterLoss`
    owns the centres.

    Args:
        features: ``(N, D)``.
        labels: integer class ids ``(N,)`` in [0, C).
        centers: the class centres ``(C, D)``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (shape ``(N,)``).

    Returns:
        A scalar, or ``(N,)`` with ``reduction="none"``.

    Example:
        >>> center_loss(torch.tensor([[1.0, 1.0]]), torch.tensor([0]), torch.zeros(2, 2))
        tensor(1.)

    Reference:
        Wen et al. 2016, "A Discriminative Feature Learning Approach for Deep Face Recognition".
    """
    fn = "center_loss"
    features, labels, centers = _param_inputs(fn, features, labels, centers, ("features", "centers"))
    per = 0.5 * (features - centers[labels]).square().sum(1)
    return reduce_loss(per, reduction, fn=fn)


def _margin_logits(
    fn: str,
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    weight: torch.Tensor,
    target_logit: Callable[[torch.Tensor], torch.Tensor],
    scale: float,
    reduction: str,
) -> torch.Tensor:
    embeddings, labels, weight = _param_inputs(fn, embeddings, labels, weight, ("embeddings", "weight"))
    index = labels[:, None]

    def compute(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        cos = _normalize(x) @ _normalize(w).T
        target = target_logit(cos.gather(1, index))
        logits = scale * cos.scatter(1, index, target)
        per = -log_softmax_at(logits, labels, None, 1)  # the target's slot holds scale * target
        return reduce_loss(per, reduction, fn=fn)

    return _normalize_with_limits(compute, embeddings, weight)


def _margin_softmax(
    name: str, *, alias: str, margin: Check, reference: str, curve_margins: Tuple[float, ...]
) -> Callable[[Callable[..., torch.Tensor]], Callable[..., torch.Tensor]]:
    """The declaration ArcFace and CosFace share: roles (embeddings, labels, class weights), ``scale``, capabilities."""
    return loss(
        name,
        family=FAMILY,
        module=None,
        aliases=(alias,),
        roles=(
            Role("embeddings", "(N, D)"),
            Role("labels", "integer class ids (N,)", differentiable=False),
            Role("weight", "class weights (C, D)"),
        ),
        hparams={"scale": checks.positive, "margin": margin},
        call_kwargs=(),
        capabilities=_PARAM_CAPABILITIES,
        references=(f"NumPy reference ({reference})",),
        curve=Curve("angle", "margin", curve_margins),
    )


@_margin_softmax(
    "arcface",
    alias="additive_angular_margin",
    margin=checks.number(0.0, math.pi, high_open=True),
    reference="Deng et al. 2019",
    curve_margins=(0.2, 0.5),
)
def arcface_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    weight: torch.Tensor,
    *,
    scale: float = 64.0,
    margin: float = 0.5,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""ArcFace, additive angular margin softmax (Deng et al. 2019).

    With :math:`\cos\theta_{ij}` the cosine between embedding i and class weight j,

    .. math::
        \ell_i = -\log \frac{e^{s \cos(\theta_{i y_i} + m)}}{e^{s \cos(\theta_{i y_i} + m)} + \sum_{j \ne y_i} e^{s \cos\theta_{ij}}}

    :math:`\cos(\theta + m)` is computed as :math:`\cos\theta\cos m - \sin\theta\sin m`
    with :math:`\sin\theta = \sqrt{1 - \cos^2\theta}` whose gradient is taken as 0
    at :math:`\cos\theta = \pm 1`, so loss and gradients are finite there. No
    "easy margin" or fallback for :math:`\theta + m > \pi`. The module
    :class:`ArcFaceLoss` owns ``weight``.

    Args:
        embeddings: ``(N, D)``.
        labels: integer class ids ``(N,)`` in [0, C).
        weight: the class-weight matrix ``(C, D)``.
        scale: ``s > 0``.
        margin: ``m`` in [0, π).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (shape ``(N,)``).

    Returns:
        A scalar, or ``(N,)`` with ``reduction="none"``.

    Example:
        >>> arcface_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([0]), torch.eye(2), scale=1.0, margin=0.0)
        tensor(0.3133)

    Reference:
        Deng et al. 2019, "ArcFace: Additive Angular Margin Loss for Deep Face Recognition".
    """
    cos_m, sin_m = math.cos(margin), math.sin(margin)

    def shifted(cos: torch.Tensor) -> torch.Tensor:
        return cos * cos_m - safe_sqrt(1.0 - cos.square()) * sin_m

    return _margin_logits("arcface_loss", embeddings, labels, weight, shifted, scale, reduction)


@_margin_softmax(
    "cosface",
    alias="large_margin_cosine",
    margin=checks.non_negative,
    reference="Wang et al. 2018",
    curve_margins=(0.2, 0.35),
)
def cosface_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    weight: torch.Tensor,
    *,
    scale: float = 64.0,
    margin: float = 0.35,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""CosFace, large margin cosine softmax (Wang et al. 2018).

    .. math::
        \ell_i = -\log \frac{e^{s (\cos\theta_{i y_i} - m)}}{e^{s (\cos\theta_{i y_i} - m)} + \sum_{j \ne y_i} e^{s \cos\theta_{ij}}}

    The module :class:`CosFaceLoss` owns ``weight``.

    Args:
        embeddings: ``(N, D)``.
        labels: integer class ids ``(N,)`` in [0, C).
        weight: the class-weight matrix ``(C, D)``.
        scale: ``s > 0``.
        margin: ``m >= 0``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (shape ``(N,)``).

    Returns:
        A scalar, or ``(N,)`` with ``reduction="none"``.

    Example:
        >>> cosface_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([0]), torch.eye(2), scale=1.0, margin=0.0)
        tensor(0.3133)

    Reference:
        Wang et al. 2018, "CosFace: Large Margin Cosine Loss for Deep Face Recognition".
    """
    return _margin_logits("cosface_loss", embeddings, labels, weight, lambda cos: cos - margin, scale, reduction)


# ---------------------------------------------------------------------------------------------
# modules that own parameters
# ---------------------------------------------------------------------------------------------


def _check_size(owner: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{owner}: {name} must be a positive integer; got {value!r}")
    if value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer; got {value!r}")


@module_for(center_loss)
class CenterLoss(Loss):
    """Center loss (Wen et al. 2016): half the squared distance of each feature to its class centre.

    ``forward(features, labels)``. Owns ``centers`` ``(num_classes, feature_dim)``, initialised from a standard
    normal. With ``alpha=None`` the centres are an ``nn.Parameter`` learned by
    gradient (give them to the optimiser). With ``alpha`` in (0, 1] they are a
    buffer updated in ``forward`` (training mode only) as Wen et al. 2016:
    ``c_j ← c_j − α·Σ_{i: y_i = j}(c_j − x_i)/(1 + n_j)``; the returned loss and
    its gradient use the centres from before this step's update, which runs
    after the loss under ``no_grad``. Either way the centres are in
    ``state_dict`` and follow ``.to()``.

    Args:
        num_classes: C.
        feature_dim: D.
        alpha: the centre learning rate of the update rule, or None (learned by gradient).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
    """

    config_args = ("num_classes", "feature_dim", "alpha")

    def __init__(
        self, num_classes: int, feature_dim: int, alpha: Optional[float] = None, *, reduction: str = "mean"
    ) -> None:
        owner = type(self).__name__
        _check_size(owner, "num_classes", num_classes)
        _check_size(owner, "feature_dim", feature_dim)
        check_number(owner, "alpha", alpha, low=0.0, high=1.0, low_open=True, allow_none=True)
        super().__init__(reduction=reduction)
        self.num_classes, self.feature_dim, self.alpha = num_classes, feature_dim, alpha
        centers = torch.randn(num_classes, feature_dim)
        if alpha is None:
            self.centers = nn.Parameter(centers)
        else:
            self.register_buffer("centers", centers)

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        value = type(self).functional(features, labels, self.centers, **self.hparams())
        if self.alpha is not None and self.training:
            self._update(features.detach(), labels)
        return value

    @torch.no_grad()
    def _update(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        centers = self.centers
        labels = labels.long()
        diff = centers[labels] - features.to(centers.dtype)  # (N, D): c_{y_i} − x_i
        summed = torch.zeros_like(centers).index_add_(0, labels, diff)
        counts = torch.zeros(centers.shape[0], dtype=centers.dtype, device=centers.device)
        counts.index_add_(0, labels, torch.ones_like(labels, dtype=centers.dtype))
        centers.sub_(float(self.alpha) * summed / (1.0 + counts)[:, None])  # type: ignore[arg-type]


class _MarginSoftmax(Loss):
    """A margin-softmax head: owns the class-weight matrix ``weight`` (num_classes, embedding_dim)."""

    config_args = ("num_classes", "embedding_dim")

    def __init__(self, num_classes: int, embedding_dim: int, **hparams: Any) -> None:
        owner = type(self).__name__
        _check_size(owner, "num_classes", num_classes)
        _check_size(owner, "embedding_dim", embedding_dim)
        super().__init__(**hparams)
        self.num_classes, self.embedding_dim = num_classes, embedding_dim
        self.weight = nn.Parameter(torch.empty(num_classes, embedding_dim))
        nn.init.xavier_uniform_(self.weight)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return type(self).functional(embeddings, labels, self.weight, **self.hparams())


@module_for(arcface_loss)
class ArcFaceLoss(_MarginSoftmax):
    """ArcFace, additive angular margin softmax (Deng et al. 2019).

    ``forward(embeddings, labels)``. Owns ``weight`` ``(num_classes, embedding_dim)`` (an ``nn.Parameter``, Xavier
    uniform initialisation); see :func:`losskit.functional.arcface_loss`.

    Args:
        num_classes: C.
        embedding_dim: D.
        scale: ``s > 0`` (default 64).
        margin: the angular margin in [0, π) (default 0.5).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
    """

    def __init__(
        self, num_classes: int, embedding_dim: int, *, scale: float = 64.0, margin: float = 0.5, reduction: str = "mean"
    ) -> None:
        super().__init__(num_classes, embedding_dim, scale=scale, margin=margin, reduction=reduction)


@module_for(cosface_loss)
class CosFaceLoss(_MarginSoftmax):
    """CosFace, large margin cosine softmax (Wang et al. 2018).

    ``forward(embeddings, labels)``. Owns ``weight`` ``(num_classes, embedding_dim)`` (an ``nn.Parameter``, Xavier
    uniform initialisation); see :func:`losskit.functional.cosface_loss`.

    Args:
        num_classes: C.
        embedding_dim: D.
        scale: ``s > 0`` (default 64).
        margin: the cosine margin ``>= 0`` (default 0.35).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
    """

    def __init__(
        self,
        num_classes: int,
        embedding_dim: int,
        *,
        scale: float = 64.0,
        margin: float = 0.35,
        reduction: str = "mean",
    ) -> None:
        super().__init__(num_classes, embedding_dim, scale=scale, margin=margin, reduction=reduction)
