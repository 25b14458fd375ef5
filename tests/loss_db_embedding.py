"""loss_db entries of the ranking and metric-learning family, kept in their own file; tests/loss_db.py imports ENTRIES.

References: tests/reference/embedding.py (float64 NumPy loops, independent of torch and
losskit). test_embedding.py adds torch parity (the five torch.nn losses), Keras parity
(circle), the TF-Addons semi-hard port, edge cases and the module behaviours the battery
does not see (CenterLoss's alpha update, parameters trained by an optimiser).

Batch losses: ``reduction="none"`` gives one value per anchor — the terms "sum" adds — and
"mean" divides by the number of what counts (triplets with a positive loss, valid anchors,
positive pairs, pairs i < j, anchors with a positive loss), so ``none.mean()`` differs
from "mean": ``reduction_consistent=False`` with that reason.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import torch

from .loss_db import ErrorCase, LossInfo, Sample, _long, _t, hp_error
from .reference import embedding as ref

_PER_ANCHOR = (
    "'none' gives each anchor's summed terms and 'mean' divides the total by the number of what counts "
    "(triplets with a positive loss, valid anchors, pairs i < j, ...), not by N"
)


def _pm1(rng, shape):
    return rng.choice([-1.0, 1.0], size=shape)


# ---------------------------------------------------------------------------------------------
# torch's pair and triplet losses
# ---------------------------------------------------------------------------------------------


def _ranking_samples(rng) -> List[Sample]:
    out = []
    for shape in [(), (5,), (4, 3), (2, 3, 4)]:
        out.append(
            Sample(
                (_t(rng.normal(size=shape)), _t(rng.normal(size=shape)), _t(_pm1(rng, shape))),
                {"margin": float(rng.choice([0.0, 0.3, 1.0]))},
                desc=f"shape={shape}",
            )
        )
    out.append(
        Sample(
            (_t(rng.normal(size=(4, 3))), _t(rng.normal(size=(4, 3))), _t(_pm1(rng, (4, 3)))),
            {"margin": 0.2, "sample_weight": _t(rng.uniform(0.1, 2.0, size=(4, 1)))},
            desc="sample_weight (4, 1)",
        )
    )
    return out


def _hinge_embedding_samples(rng) -> List[Sample]:
    out = []
    for shape in [(), (5,), (4, 3), (2, 3, 4, 5)]:
        out.append(
            Sample(
                (_t(rng.uniform(0.0, 2.0, size=shape)), _t(_pm1(rng, shape))),
                {"margin": float(rng.choice([0.5, 1.0, 2.0]))},
                desc=f"shape={shape}",
            )
        )
    out.append(
        Sample(
            (_t(rng.uniform(0.0, 2.0, size=(4, 3))), _t(_pm1(rng, (4, 3)))),
            {"sample_weight": _t(rng.uniform(0.1, 2.0, size=(4, 1)))},
            desc="sample_weight (4, 1)",
        )
    )
    return out


def _vector_pair_samples(rng) -> List[Sample]:
    out = []
    for shape in [(5, 4), (3,), (6, 2)]:
        out.append(
            Sample(
                (_t(rng.normal(size=shape)), _t(rng.normal(size=shape)), _t(_pm1(rng, shape[:-1]))),
                {"margin": float(rng.choice([-0.3, 0.0, 0.5]))},
                desc=f"shape={shape}",
            )
        )
    out.append(
        Sample(
            (_t(rng.normal(size=(4, 3))), _t(rng.normal(size=(4, 3))), _t(_pm1(rng, (4,)))),
            {"sample_weight": _t(rng.uniform(0.1, 2.0, size=(4,)))},
            desc="sample_weight (4,)",
        )
    )
    return out


def _cosine_similarity_samples(rng) -> List[Sample]:
    out = []
    for shape, dim in [((5, 4), -1), ((3,), 0), ((2, 3, 4), 1), ((4, 3), 0)]:
        out.append(
            Sample((_t(rng.normal(size=shape)), _t(rng.normal(size=shape))), {"dim": dim}, desc=f"{shape} dim={dim}")
        )
    out.append(
        Sample(
            (_t(rng.normal(size=(4, 3))), _t(rng.normal(size=(4, 3)))),
            {"sample_weight": _t(rng.uniform(0.1, 2.0, size=(4,)))},
            desc="sample_weight (4,)",
        )
    )
    return out


def _triplet_samples(with_p: bool):
    def build(rng) -> List[Sample]:
        out = []
        for shape in [(5, 4), (3,), (6, 2), (4, 3)]:
            hp: Dict[str, Any] = {
                "margin": float(rng.choice([0.5, 1.0, 2.0])),
                "swap": bool(rng.choice([False, True])),
            }
            if with_p:
                hp.update(p=float(rng.choice([1.0, 2.0, 3.0])), eps=float(rng.choice([0.0, 1e-6])))
            out.append(Sample(tuple(_t(rng.normal(size=shape)) for _ in range(3)), hp, desc=f"shape={shape} {hp}"))
        out.append(
            Sample(
                tuple(_t(rng.normal(size=(4, 3))) for _ in range(3)),
                {"sample_weight": _t(rng.uniform(0.1, 2.0, size=(4,)))},
                desc="sample_weight (4,)",
            )
        )
        return out

    return build


def _triplet_extremes():
    x = torch.tensor([[1e4, -1e4], [0.0, 0.0], [1.0, 2.0]], dtype=torch.float64)
    return [Sample((x, x.clone(), x.flip(0)), {}, desc="identical anchor and positive, huge values")]


def _empty_vectors(n_roles: int, target: bool, shape=(0, 3)):
    def build():
        tensors = [torch.zeros(shape, dtype=torch.float64) for _ in range(n_roles)]
        if target:
            tensors.append(torch.zeros(0, dtype=torch.float64))
        return Sample(tuple(tensors))

    return build


def _shape_error(args, match):
    return ErrorCase(args, {}, ValueError, match)


# ---------------------------------------------------------------------------------------------
# batch losses
# ---------------------------------------------------------------------------------------------

_LABEL_SETS = [
    [0, 1, 0, 2, 1, 2],  # every class twice
    [3, 3, 0, 1, 1, 2, 3, 0],  # a class with one member: an anchor without positives
    [1, 0, 1, 1, 2],  # row 0 has positives (the NaN-passthrough sample)
    [0, 0, 0, 0],  # no negatives at all: nothing counts for triplets
    [2, 0, 1],  # no positives at all
]


def _embedding_samples(hparams, views: Optional[int] = None, unsupervised: bool = False):
    """One sample per label set; ``hparams(rng, i)`` gives each its hyperparameters."""

    def build(rng) -> List[Sample]:
        out = []
        for i, labels in enumerate(_LABEL_SETS):
            n, d = len(labels), 3 + i % 2
            shape = (n, d) if views is None or i == 0 else (n, views, d)
            lab: Any = _long(labels)
            if unsupervised and i in (2, 4):
                lab = None
            out.append(Sample((_t(rng.normal(size=shape)), lab), hparams(rng, i), desc=f"labels={labels} {shape}"))
        return out

    return build


def _empty_embeddings(views: bool = False):
    shape = (0, 2, 3) if views else (0, 3)
    return lambda: Sample((torch.zeros(*shape, dtype=torch.float64), torch.zeros(0, dtype=torch.long)))


def _embedding_errors(extra=()):
    def build() -> List[ErrorCase]:
        x = torch.randn(4, 3)
        return [
            ErrorCase((x, torch.tensor([0.0, 1.0, 0.0, 1.0])), {}, TypeError, r"labels must be an integer tensor"),
            ErrorCase((x, torch.tensor([0, 1, 0])), {}, ValueError, r"labels must have shape \(4,\).*got \(3,\)"),
            ErrorCase((x, torch.tensor([[0, 1, 0, 1]])), {}, ValueError, r"labels must have shape \(4,\)"),
            ErrorCase((torch.randn(4), torch.tensor([0, 1, 0, 1])), {}, ValueError, r"must be 2-D \(N, D\)"),
            ErrorCase((torch.tensor([[1, 2], [3, 4]]), torch.tensor([0, 1])), {}, TypeError, r"floating"),
            *extra,
        ]

    return build


def _duplicate_extremes(scale: float = 1.0):
    """The same embedding twice (zero distance), and large values."""

    def build():
        x = torch.tensor([[1.0, 2.0], [1.0, 2.0], [-1.0, 0.5], [3.0, -2.0], [3.0, -2.0]], dtype=torch.float64) * scale
        labels = torch.tensor([0, 0, 1, 1, 0])
        return [Sample((x, labels), {}, desc=f"duplicated embeddings x{scale}")]

    return build


def _triplet_hparams(rng, i):
    mining = ["batch_all", "batch_hard", "semi_hard"][i % 3] if i < 3 else str(rng.choice(["batch_all", "semi_hard"]))
    soft = mining != "batch_all" and bool(rng.choice([False, True]))
    return {
        "mining": mining,
        "distance": str(rng.choice(["euclidean", "squared_euclidean", "cosine"])),
        "margin": float(rng.choice([0.0, 0.2, 1.0])),
        "soft": soft,
    }


def _triplet_extremes_all():
    out = []
    for mining in ("batch_all", "batch_hard", "semi_hard"):
        for distance in ("euclidean", "squared_euclidean", "cosine"):
            for s in _duplicate_extremes()():
                out.append(s.with_kwargs(mining=mining, distance=distance))
    return out


def _contrastive_hparams(rng, i):
    return {
        "pos_margin": float(rng.choice([0.0, 0.3])),
        "neg_margin": float(rng.choice([0.5, 1.0, 2.5])),
        "distance": ["euclidean", "squared_euclidean", "cosine"][i % 3],
    }


def _circle_hparams(rng, i):
    return {"gamma": float(rng.choice([1.0, 16.0, 80.0])), "margin": float(rng.choice([0.0, 0.25, 0.4]))}


def _supcon_hparams(rng, i):
    return {"temperature": float(rng.choice([0.1, 0.5, 1.0])), "base_temperature": float(rng.choice([0.07, 0.5]))}


def _info_nce_samples(rng) -> List[Sample]:
    out = []
    for n, d, hp in [
        (5, 3, {}),
        (6, 4, {"symmetric": True}),
        (4, 3, {"negatives": _t(rng.normal(size=(7, 3)))}),
        (5, 2, {"symmetric": True, "negatives": _t(rng.normal(size=(3, 2)))}),
        (1, 3, {}),
    ]:
        hp = {**hp, "temperature": float(rng.choice([0.1, 0.5, 1.0]))}
        out.append(
            Sample(
                (_t(rng.normal(size=(n, d))), _t(rng.normal(size=(n, d)))),
                hp,
                desc=f"N={n} D={d} {sorted(hp)}",
            )
        )
    return out


def _info_nce_errors() -> List[ErrorCase]:
    q = torch.randn(4, 3)
    return [
        ErrorCase((q, torch.randn(5, 3)), {}, ValueError, r"key must have the query's shape"),
        ErrorCase((torch.randn(4), torch.randn(4)), {}, ValueError, r"query must be 2-D"),
        ErrorCase(
            (q, q), {"negatives": torch.randn(2, 4)}, ValueError, r"negatives must have the query's feature size 3"
        ),
        hp_error({"temperature": 0.0}, r"temperature must be in \(0, inf\)"),
        hp_error({"temperature": -1.0}, r"temperature"),
    ]


# ---------------------------------------------------------------------------------------------
# losses with parameters
# ---------------------------------------------------------------------------------------------


def _param_samples(hparams):
    def build(rng) -> List[Sample]:
        out = []
        for n, d, c in [(5, 3, 4), (6, 2, 3), (4, 4, 2), (3, 3, 5)]:
            out.append(
                Sample(
                    (_t(rng.normal(size=(n, d))), _long(rng.integers(0, c, size=n)), _t(rng.normal(size=(c, d)))),
                    hparams(rng),
                    desc=f"N={n} D={d} C={c}",
                )
            )
        return out

    return build


def _param_module_args(dim_name):
    def args_for(args: Optional[Sequence[Any]]) -> Dict[str, Any]:
        if args is None:
            return {"num_classes": 3, dim_name: 4}
        return {"num_classes": int(args[2].shape[0]), dim_name: int(args[2].shape[1])}

    return args_for


def _param_empty():
    return Sample(
        (
            torch.zeros(0, 3, dtype=torch.float64),
            torch.zeros(0, dtype=torch.long),
            torch.randn(4, 3, dtype=torch.float64),
        )
    )


def _param_errors(extra=()):
    def build() -> List[ErrorCase]:
        x, w = torch.randn(4, 3), torch.randn(5, 3)
        return [
            ErrorCase((x, torch.tensor([0, 1, 2]), w), {}, ValueError, r"labels must have shape \(4,\)"),
            ErrorCase((x, torch.tensor([0.0, 1, 2, 3]), w), {}, TypeError, r"labels must be an integer tensor"),
            ErrorCase((x, torch.tensor([0, 1, 2, 5]), w), {}, ValueError, r"class 5, outside the valid range \[0, 4\]"),
            ErrorCase((x, torch.tensor([0, 1, 2, 3]), torch.randn(5, 4)), {}, ValueError, r"must be \(C, 3\)"),
            ErrorCase((torch.randn(4), torch.tensor([0, 1, 2, 3]), w), {}, ValueError, r"must be 2-D"),
            *extra,
        ]

    return build


def _angle_extremes():
    """Embeddings equal to (and opposite) their class weight: cos θ = ±1 exactly."""
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
    x = torch.tensor([[2.0, 0.0], [0.0, 3.0], [-1.0, 0.0], [5.0, 0.0]], dtype=torch.float64)
    return [Sample((x, torch.tensor([0, 1, 0, 2]), w), {}, desc="cos θ = ±1")]


# ---------------------------------------------------------------------------------------------
# ±inf inputs: a normalised vector tends to ±e_k (several infinite entries share equally, signs kept)
# ---------------------------------------------------------------------------------------------

_INF = float("inf")


def _inf_vectors():
    """Rows with one +inf, one -inf, two infinities of opposite sign, and finite rows (one of them zero)."""
    return torch.tensor(
        [[_INF, 1.0, 0.0], [1.0, 2.0, 3.0], [-_INF, _INF, 0.0], [0.0, 0.0, -_INF], [1.0, -1.0, 0.5], [0.0, 0.0, 0.0]],
        dtype=torch.float64,
    )


def _inf_partners():
    """Partners of _inf_vectors: finite, infinite (a row where both sides are), and a zero vector."""
    return torch.tensor(
        [[1.0, 0.0, 0.0], [0.0, _INF, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [2.0, 1.0, 0.0], [0.0, -_INF, 1.0]],
        dtype=torch.float64,
    )


def _inf_cosine_embedding():
    target = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, -1.0], dtype=torch.float64)
    return [
        Sample((_inf_vectors(), _inf_partners(), target), {"margin": m}, desc=f"±inf entries, margin={m}")
        for m in (0.0, -0.5)
    ]


def _inf_cosine_similarity():
    return [
        Sample((_inf_vectors(), _inf_partners()), {}, desc="±inf entries, dim=-1"),
        Sample((_inf_vectors().T.contiguous(), _inf_partners().T.contiguous()), {"dim": 0}, desc="±inf entries, dim=0"),
    ]


def _inf_triplets(*kwargs_list):
    """Positives at ±inf (loss +inf, finite gradients) and negatives at ±inf (loss 0, zero gradients)."""

    def build():
        a = torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [0.5, -1.0, 2.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
        p = torch.tensor([[_INF, 0.0, 0.0], [1.0, 1.0, 1.0], [0.0, -_INF, _INF], [2.0, 0.0, 1.0]], dtype=torch.float64)
        n = torch.tensor([[1.0, 1.0, 0.0], [-_INF, 0.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0, _INF]], dtype=torch.float64)
        return [
            Sample((a.clone(), p.clone(), n.clone()), dict(kw), desc=f"±inf positives and negatives {kw}")
            for kw in kwargs_list
        ]

    return build


_INF_LABELS = [0, 0, 1, 1, 0, 1]


def _inf_batch(views: bool = False):
    def build():
        x = _inf_vectors()[:5]
        if views:  # (N, V, D): the second view of each sample is its partner
            x = torch.stack([x, _inf_partners()[:5]], 1)
        return [Sample((x, _long(_INF_LABELS[:5])), {}, desc="±inf entries")]

    return build


def _inf_cosine_batch(*kwargs_list):
    """±inf entries under the cosine distance: the limit directions."""

    def build():
        x, labels = _inf_vectors()[:5], _long(_INF_LABELS[:5])
        return [
            Sample((x.clone(), labels), {"distance": "cosine", **kw}, desc=f"±inf entries, cosine {kw}")
            for kw in kwargs_list
        ]

    return build


def _inf_contrastive():
    """Cosine as in _inf_cosine_batch; Euclidean and squared: far positive pairs (+inf), far negatives (0), near pairs."""
    x = torch.tensor(
        [[_INF, 1.0, 0.0], [1.0, 2.0, 3.0], [0.5, 0.0, 1.0], [0.0, 0.0, -_INF], [1.0, -1.0, 0.5], [2.0, 1.0, 0.0]],
        dtype=torch.float64,
    )
    labels = _long([0, 1, 1, 2, 0, 1])
    return _inf_cosine_batch({}, {"pos_margin": 0.3, "neg_margin": 1.5})() + [
        Sample((x.clone(), labels), {"distance": distance, **kw}, desc=f"±inf entries, {distance} {kw}")
        for distance in ("euclidean", "squared_euclidean")
        for kw in ({}, {"pos_margin": 0.3, "neg_margin": 2.5})
    ]


def _inf_batch_triplet():
    """Cosine as in _inf_cosine_batch; Euclidean and squared: samples at ±inf with a label of their own.

    Such a sample is only ever a negative, infinitely far: its triplets cost 0 with gradient 0. (A far
    sample with a positive would be an anchor of ∞ − ∞ triplets: NaN, no limit.)
    """
    x = torch.tensor(
        [[_INF, 1.0, 0.0], [1.0, 2.0, 3.0], [0.5, 0.0, 1.0], [0.0, 0.0, -_INF], [1.0, -1.0, 0.5], [2.0, 1.0, 0.0]],
        dtype=torch.float64,
    )
    labels = _long([3, 0, 0, 4, 1, 1])
    cosine = _inf_cosine_batch({"mining": "batch_all"}, {"mining": "batch_hard"}, {"mining": "semi_hard", "soft": True})
    return cosine() + [
        Sample((x.clone(), labels), {"distance": distance, **kw}, desc=f"±inf entries, {distance} {kw}")
        for distance in ("euclidean", "squared_euclidean")
        for kw in (
            {"mining": "batch_all", "margin": 5.0},
            {"mining": "batch_hard"},
            {"mining": "batch_hard", "soft": True},
            {"mining": "semi_hard", "margin": 1.0},
            {"mining": "semi_hard", "soft": True},
        )
    ]


def _inf_info_nce():
    q, k = _inf_vectors()[:5], _inf_partners()[:5]
    negatives = torch.tensor([[0.0, _INF, 0.0], [1.0, 0.0, -1.0]], dtype=torch.float64)
    return [
        Sample((q, k), {"temperature": 0.5}, desc="±inf entries, in-batch"),
        Sample((q.clone(), k.clone()), {"temperature": 0.5, "symmetric": True}, desc="±inf entries, symmetric"),
        Sample((q.clone(), k.clone()), {"negatives": negatives}, desc="±inf entries, explicit negatives"),
    ]


def _inf_margin_softmax():
    weight = torch.tensor([[1.0, 0.0, 0.0], [0.0, -_INF, 0.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    return [Sample((_inf_vectors()[:5], _long([0, 1, 2, 0, 1]), weight), {"scale": 4.0}, desc="±inf entries")]


ENTRIES: List[LossInfo] = [
    LossInfo(
        name="margin_ranking",
        reference=ref.margin_ranking,
        samples=_ranking_samples,
        empty=_empty_vectors(2, True, shape=(0,)),
        errors=lambda: [
            _shape_error((torch.randn(4), torch.randn(3), torch.ones(4)), r"input2 must have the input1's shape"),
            _shape_error((torch.randn(4), torch.randn(4), torch.ones(4, 1)), r"target must have the input1's shape"),
            hp_error({"margin": -0.5}, r"margin must be in \[0, inf\)"),
        ],
    ),
    LossInfo(
        name="hinge_embedding",
        reference=ref.hinge_embedding,
        samples=_hinge_embedding_samples,
        empty=_empty_vectors(1, True, shape=(0,)),
        errors=lambda: [
            _shape_error((torch.rand(4, 1), torch.ones(4)), r"target must have the input's shape"),
            hp_error({"margin": -1.0}, r"margin must be in \[0, inf\)"),
        ],
    ),
    LossInfo(
        name="cosine_embedding",
        inf_extremes=_inf_cosine_embedding,
        reference=ref.cosine_embedding,
        samples=_vector_pair_samples,
        empty=_empty_vectors(2, True),
        errors=lambda: [
            _shape_error((torch.randn(4, 3), torch.randn(4, 2), torch.ones(4)), r"input2 must have the input1's shape"),
            _shape_error((torch.randn(4, 3), torch.randn(4, 3), torch.ones(3)), r"target must have shape \(4,\)"),
            _shape_error((torch.randn(2, 4, 3), torch.randn(2, 4, 3), torch.ones(2, 4)), r"\(N, D\) or \(D,\)"),
            hp_error({"margin": 1.5}, r"margin must be in \[-1, 1\]"),
        ],
        extremes=lambda: [
            Sample(
                (
                    torch.tensor([[0.0, 0.0], [1e4, 0.0], [1.0, 1.0]], dtype=torch.float64),
                    torch.tensor([[1.0, 2.0], [0.0, 0.0], [1e-30, 0.0]], dtype=torch.float64),
                    torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64),
                ),
                {},
                desc="zero and tiny vectors",
            )
        ],
    ),
    LossInfo(
        name="cosine_similarity_loss",
        inf_extremes=_inf_cosine_similarity,
        reference=ref.cosine_similarity_loss,
        samples=_cosine_similarity_samples,
        empty=lambda: Sample((torch.zeros(0, 3, dtype=torch.float64), torch.zeros(0, 3, dtype=torch.float64))),
        errors=lambda: [
            _shape_error((torch.randn(4, 3), torch.randn(4, 2)), r"target must have the input's shape"),
            ErrorCase((torch.randn(4, 3), torch.randn(4, 3)), {"dim": 2}, ValueError, r"dim must be in \[-2, 1\]"),
            hp_error({"eps": 0.0}, r"eps must be in \(0, inf\)"),
        ],
        extremes=lambda: [
            Sample(
                (
                    torch.tensor([[0.0, 0.0], [1e4, -1e4], [1e-30, 0.0]], dtype=torch.float64),
                    torch.tensor([[1.0, 2.0], [0.0, 0.0], [1.0, 0.0]], dtype=torch.float64),
                ),
                {},
                desc="zero, huge and tiny vectors",
            )
        ],
    ),
    LossInfo(
        name="triplet_margin",
        inf_extremes=_inf_triplets({}, {"swap": True, "p": 1.0}, {"p": 3.0, "eps": 0.0, "margin": 0.5}),
        reference=ref.triplet_margin,
        samples=_triplet_samples(with_p=True),
        empty=_empty_vectors(3, False),
        errors=lambda: [
            _shape_error(
                (torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 2)), r"negative must have the anchor's shape"
            ),
            _shape_error(
                (torch.randn(4, 3), torch.randn(3, 3), torch.randn(4, 3)), r"positive must have the anchor's shape"
            ),
            hp_error({"margin": -1.0}, r"margin must be in \[0, inf\)"),
            hp_error({"p": 0.0}, r"p must be in \(0, inf\)"),
            hp_error({"eps": -1e-3}, r"eps must be in \[0, inf\)"),
        ],
        extremes=_triplet_extremes,
    ),
    LossInfo(
        name="triplet_margin_with_distance",
        inf_extremes=_inf_triplets({}, {"swap": True, "margin": 2.0}),
        reference=ref.triplet_margin_with_distance,
        samples=_triplet_samples(with_p=False),
        empty=_empty_vectors(3, False),
        errors=lambda: [
            _shape_error(
                (torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 2)), r"negative must have the anchor's shape"
            ),
            hp_error({"margin": 0.0}, r"margin must be in \(0, inf\)"),
            hp_error({"distance_function": "l2"}, r"distance_function must be a callable", exc=TypeError),
        ],
        extremes=_triplet_extremes,
    ),
    LossInfo(
        name="batch_triplet",
        inf_extremes=_inf_batch_triplet,
        reference=ref.batch_triplet,
        samples=_embedding_samples(_triplet_hparams),
        empty=_empty_embeddings(),
        errors=_embedding_errors(
            [
                hp_error({"mining": "hardest"}, r"mining must be 'batch_all' or 'batch_hard' or 'semi_hard'"),
                hp_error({"distance": "manhattan"}, r"distance must be 'euclidean' or"),
                hp_error({"margin": -0.1}, r"margin must be in \[0, inf\)"),
                ErrorCase(
                    (torch.randn(4, 3), torch.tensor([0, 1, 0, 1])),
                    {"soft": True},
                    ValueError,
                    r"soft=True applies to mining='batch_hard' or 'semi_hard'",
                ),
            ]
        ),
        extremes=_triplet_extremes_all,
        reduction_consistent=False,
        reasons={"reduction_consistent": _PER_ANCHOR},
    ),
    LossInfo(
        name="contrastive",
        inf_extremes=_inf_contrastive,
        reference=ref.contrastive,
        samples=_embedding_samples(_contrastive_hparams),
        empty=_empty_embeddings(),
        errors=_embedding_errors(
            [
                hp_error({"neg_margin": -1.0}, r"neg_margin must be in \[0, inf\)"),
                hp_error({"pos_margin": -1.0}, r"pos_margin must be in \[0, inf\)"),
                hp_error({"distance": "l1"}, r"distance must be"),
            ]
        ),
        extremes=_duplicate_extremes(),
        reduction_consistent=False,
        reasons={"reduction_consistent": _PER_ANCHOR},
    ),
    LossInfo(
        name="circle",
        inf_extremes=_inf_batch(),
        reference=ref.circle,
        samples=_embedding_samples(_circle_hparams),
        empty=_empty_embeddings(),
        errors=_embedding_errors(
            [hp_error({"gamma": 0.0}, r"gamma must be in \(0, inf\)"), hp_error({"margin": -0.4}, r"margin")]
        ),
        extremes=lambda: [s.with_kwargs(gamma=256.0) for s in _duplicate_extremes(1e3)()],
        reduction_consistent=False,
        reasons={"reduction_consistent": _PER_ANCHOR},
    ),
    LossInfo(
        name="supervised_contrastive",
        inf_extremes=_inf_batch(views=True),
        reference=ref.supervised_contrastive,
        samples=_embedding_samples(_supcon_hparams, views=2, unsupervised=True),
        empty=_empty_embeddings(views=True),
        errors=lambda: (
            _embedding_errors()()[:2]
            + [
                hp_error({"temperature": 0.0}, r"temperature must be in \(0, inf\)"),
                hp_error({"base_temperature": -1.0}, r"base_temperature"),
                ErrorCase((torch.randn(2, 3, 4, 5), None), {}, ValueError, r"features must be \(N, D\) or \(N, V, D\)"),
                ErrorCase(
                    (torch.randn(4, 2, 3), torch.tensor([0, 1])), {}, ValueError, r"labels must have shape \(4,\)"
                ),
            ]
        ),
        extremes=lambda: [s.with_kwargs(temperature=0.01) for s in _duplicate_extremes(1e3)()],
    ),
    LossInfo(
        name="info_nce",
        inf_extremes=_inf_info_nce,
        reference=ref.info_nce,
        samples=_info_nce_samples,
        empty=lambda: Sample((torch.zeros(0, 3, dtype=torch.float64), torch.zeros(0, 3, dtype=torch.float64))),
        errors=_info_nce_errors,
        extremes=lambda: [
            Sample(
                (
                    torch.tensor([[0.0, 0.0], [1e4, 0.0], [1.0, 1.0]], dtype=torch.float64),
                    torch.tensor([[1.0, 0.0], [1e4, 0.0], [1.0, 1.0]], dtype=torch.float64),
                ),
                {"temperature": 0.01, "symmetric": True},
                desc="zero vector, duplicates, tiny temperature",
            )
        ],
    ),
    LossInfo(
        name="center",
        reference=ref.center,
        samples=_param_samples(lambda rng: {}),
        empty=_param_empty,
        errors=_param_errors(),
        owned_roles={2: "centers"},
        module_args=_param_module_args("feature_dim"),
    ),
    LossInfo(
        name="arcface",
        inf_extremes=_inf_margin_softmax,
        reference=ref.arcface,
        samples=_param_samples(
            lambda rng: {"scale": float(rng.choice([1.0, 16.0, 64.0])), "margin": float(rng.choice([0.0, 0.3, 0.5]))}
        ),
        empty=_param_empty,
        errors=_param_errors(
            [
                hp_error({"scale": 0.0}, r"scale must be in \(0, inf\)"),
                hp_error({"margin": 4.0}, r"margin must be in \[0, 3.14"),
            ]
        ),
        extremes=_angle_extremes,
        owned_roles={2: "weight"},
        module_args=_param_module_args("embedding_dim"),
    ),
    LossInfo(
        name="cosface",
        inf_extremes=_inf_margin_softmax,
        reference=ref.cosface,
        samples=_param_samples(
            lambda rng: {"scale": float(rng.choice([1.0, 16.0, 64.0])), "margin": float(rng.choice([0.0, 0.2, 0.35]))}
        ),
        empty=_param_empty,
        errors=_param_errors(
            [hp_error({"scale": -1.0}, r"scale must be in \(0, inf\)"), hp_error({"margin": -0.1}, r"margin")]
        ),
        extremes=_angle_extremes,
        owned_roles={2: "weight"},
        module_args=_param_module_args("embedding_dim"),
    ),
]
