"""Ranking and metric-learning references (NumPy, float64), written as plain loops from the formulas and papers.

Nothing here imports losskit or torch. The batch losses loop over anchors, positives and
negatives one by one (the library forms distance matrices, masks and sorted prefix sums),
so the two share no code path. ``tfa_triplet_semihard`` is a line-by-line NumPy port of
TF-Addons' ``triplet_semihard_loss`` (its masked minimum/maximum tricks included), the
algorithm semi-hard mining must reproduce.

Sources: torch.nn.functional's documented formulas (margin_ranking, hinge_embedding,
cosine_embedding with torch's 1e-12 in the squared norms, triplet_margin with
pairwise_distance's eps); Keras 3's ``cosine_similarity`` and ``circle``; Hermans et al.
2017 (batch hard); Schroff et al. 2015 and TF-Addons (semi-hard); Hadsell et al. 2006
(contrastive); Khosla et al. 2020 and the SupContrast code (L_out); van den Oord et al.
2018 and CLIP (InfoNCE); Wen et al. 2016 (center); Deng et al. 2019 (ArcFace); Wang et al.
2018 (CosFace).
"""

import math

import numpy as np

from . import reduce


def _relu(x):
    return max(x, 0.0)


def _softplus(x):
    return np.logaddexp(0.0, x)


def _logsumexp(values):
    values = list(values)
    if not values:
        return -math.inf
    m = max(values)
    if math.isnan(m):
        return math.nan
    return m + math.log(sum(math.exp(v - m) for v in values))


# ---------------------------------------------------------------------------------------------
# torch's pair and triplet losses
# ---------------------------------------------------------------------------------------------


def margin_ranking(x1, x2, y, margin=0.0, reduction="mean", sample_weight=None):
    return reduce(np.maximum(0.0, -y * (x1 - x2) + margin), reduction, sample_weight)


def hinge_embedding(x, y, margin=1.0, reduction="mean", sample_weight=None):
    loss = np.where(y != 1, np.maximum(0.0, margin - x), 0.0) + np.where(y != -1, x, 0.0)
    return reduce(loss, reduction, sample_weight)


def _directions(v, axis=-1):
    """``v`` with each vector along ``axis`` that holds ±inf (and no NaN) replaced by the unit vector it tends to.

    ``v / ‖v‖`` tends to ±e_k as entry k grows to ±inf; with several infinite entries each gets an
    equal share, its sign kept, and the finite entries none. Returns the vectors and the mask (keepdims)
    of those replaced.
    """
    v = np.asarray(v, dtype=np.float64)
    infinite = np.isinf(v)
    replaced = infinite.any(axis, keepdims=True) & ~np.isnan(v).any(axis, keepdims=True)
    limit = np.where(infinite, np.sign(v), 0.0)
    limit = limit / np.sqrt(np.maximum((limit * limit).sum(axis, keepdims=True), 1.0))
    return np.where(replaced, limit, v), replaced


def _torch_cos(a, b):
    """torch's cosine: 1e-12 added to each squared norm; an infinite vector's eps vanishes in the limit."""
    a, a_inf = _directions(a)
    b, b_inf = _directions(b)
    mag_a = np.where(a_inf[..., 0], 1.0, (a * a).sum(-1) + 1e-12)
    mag_b = np.where(b_inf[..., 0], 1.0, (b * b).sum(-1) + 1e-12)
    return (a * b).sum(-1) / np.sqrt(mag_a * mag_b)


def cosine_embedding(x1, x2, y, margin=0.0, reduction="mean", sample_weight=None):
    cos = _torch_cos(x1, x2)
    loss = np.where(y == 1, 1.0 - cos, 0.0) + np.where(y == -1, np.maximum(0.0, cos - margin), 0.0)
    return reduce(loss, reduction, sample_weight)


def cosine_similarity_loss(x, y, dim=-1, eps=1e-7, reduction="mean", sample_weight=None):
    def unit(v):
        v, replaced = _directions(v, dim)  # an infinite vector's norm is above any eps: its limit direction
        return np.where(replaced, v, v / np.maximum(np.sqrt((v * v).sum(dim, keepdims=True)), eps))

    return reduce(-(unit(x) * unit(y)).sum(dim), reduction, sample_weight)


def _pdist(a, b, p, eps):
    return (np.abs(a - b + eps) ** p).sum(-1) ** (1.0 / p)


def triplet_margin(a, pos, neg, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean", sample_weight=None):
    d_ap, d_an = _pdist(a, pos, p, eps), _pdist(a, neg, p, eps)
    if swap:
        d_an = np.minimum(d_an, _pdist(pos, neg, p, eps))
    return reduce(np.maximum(0.0, d_ap - d_an + margin), reduction, sample_weight)


def triplet_margin_with_distance(
    a, pos, neg, distance_function=None, margin=1.0, swap=False, reduction="mean", sample_weight=None
):
    if distance_function is not None:
        raise NotImplementedError("the NumPy reference covers the default distance (pairwise_distance)")
    return triplet_margin(
        a, pos, neg, margin=margin, p=2.0, eps=1e-6, swap=swap, reduction=reduction, sample_weight=sample_weight
    )


# ---------------------------------------------------------------------------------------------
# batch losses, as loops
# ---------------------------------------------------------------------------------------------


def _distance(x, i, j, kind):
    if i == j:
        return 0.0
    if kind == "cosine":  # unit vectors (the limit direction of an infinite one)
        return 1.0 - float(_unit(x[i]) @ _unit(x[j]))
    sq = float(((x[i] - x[j]) ** 2).sum())
    return sq if kind == "squared_euclidean" else math.sqrt(sq)


def _finish(per, count, reduction):
    per = np.asarray(per, dtype=np.float64)
    if reduction == "none":
        return per
    total = per.sum()
    if reduction == "sum":
        return total
    return total / count if count else np.float64(0.0)


def batch_triplet(
    x, labels, margin=0.2, mining="batch_all", distance="euclidean", soft=False, gather=False, reduction="mean"
):
    n = len(labels)
    d = [[_distance(x, i, j, distance) for j in range(n)] for i in range(n)]
    per, count = [0.0] * n, 0
    for a in range(n):
        positives = [p for p in range(n) if p != a and labels[p] == labels[a]]
        negatives = [k for k in range(n) if labels[k] != labels[a]]
        if mining == "batch_all":
            for p in positives:
                for k in negatives:
                    value = d[a][p] - d[a][k] + margin
                    if value > 0:
                        per[a] += value
                        count += 1
        elif mining == "batch_hard":
            if positives and negatives:
                gap = max(d[a][p] for p in positives) - min(d[a][k] for k in negatives)
                per[a] = _softplus(gap) if soft else _relu(gap + margin)
                count += 1
        else:  # semi_hard
            if not negatives:
                continue
            for p in positives:
                farther = [d[a][k] for k in negatives if d[a][k] > d[a][p]]
                chosen = min(farther) if farther else max(d[a][k] for k in negatives)
                gap = d[a][p] - chosen
                per[a] += _softplus(gap) if soft else _relu(gap + margin)
                count += 1
    return _finish(per, count, reduction)


def tfa_triplet_semihard(labels, embeddings, margin=1.0):
    """TF-Addons ``triplet_semihard_loss`` (distance_metric="L2"), ported line by line to NumPy."""
    x = np.asarray(embeddings, dtype=np.float64)
    sq = (x**2).sum(1)[:, None] + (x**2).sum(1)[None, :] - 2.0 * x @ x.T
    sq = np.maximum(sq, 0.0)
    error_mask = sq <= 0.0
    pdist = np.sqrt(sq + error_mask * 1e-16) * (1.0 - error_mask)
    pdist = pdist * (1.0 - np.eye(len(x)))
    lshape = labels.reshape(-1, 1)
    adjacency = lshape == lshape.T
    adjacency_not = ~adjacency
    b = len(x)
    pdist_tile = np.tile(pdist, (b, 1))
    mask = np.tile(adjacency_not, (b, 1)) & (pdist_tile > pdist.T.reshape(-1, 1))
    mask_final = (mask.sum(1, keepdims=True) > 0.0).reshape(b, b).T

    def masked_minimum(data, m):
        axis_maximums = data.max(1, keepdims=True)
        return ((data - axis_maximums) * m).min(1, keepdims=True) + axis_maximums

    def masked_maximum(data, m):
        axis_minimums = data.min(1, keepdims=True)
        return ((data - axis_minimums) * m).max(1, keepdims=True) + axis_minimums

    negatives_outside = masked_minimum(pdist_tile, mask).reshape(b, b).T
    negatives_inside = np.tile(masked_maximum(pdist, adjacency_not), (1, b))
    semi_hard = np.where(mask_final, negatives_outside, negatives_inside)
    loss_mat = margin + pdist - semi_hard
    mask_positives = adjacency.astype(np.float64) - np.eye(b)
    num_positives = mask_positives.sum()
    return np.maximum(loss_mat * mask_positives, 0.0).sum() / num_positives


def contrastive(x, labels, pos_margin=0.0, neg_margin=1.0, distance="euclidean", gather=False, reduction="mean"):
    n = len(labels)
    per = [0.0] * n
    pairs = 0
    for i in range(n):
        for j in range(i + 1, n):
            d = _distance(x, i, j, distance)
            value = _relu(d - pos_margin) ** 2 if labels[i] == labels[j] else _relu(neg_margin - d) ** 2
            per[i] += 0.5 * value
            per[j] += 0.5 * value
            pairs += 1
    return _finish(per, pairs, reduction)


def _unit(v):
    v, replaced = _directions(v)
    if replaced.all():
        return v
    norm = math.sqrt(float((v * v).sum()))
    return v / max(norm, 1e-12)


def circle(x, labels, gamma=80.0, margin=0.4, gather=False, reduction="mean", normalize=True):
    n = len(labels)
    z = [_unit(x[i]) for i in range(n)] if normalize else [x[i] for i in range(n)]
    per = [0.0] * n
    for i in range(n):
        pos_terms, neg_terms = [], []
        for j in range(n):
            d = max(1.0 - float(z[i] @ z[j]), 0.0)
            if labels[j] == labels[i] and j != i:
                pos_terms.append(-gamma * max(margin + d, 0.0) * (margin - d))
            elif labels[j] != labels[i]:
                neg_terms.append(gamma * max(1.0 + margin - d, 0.0) * (1.0 - margin - d))
        if pos_terms and neg_terms:
            per[i] = float(_softplus(_logsumexp(pos_terms) + _logsumexp(neg_terms)))
    return _finish(per, sum(1 for v in per if v > 0), reduction)


def supervised_contrastive(
    features, labels=None, temperature=0.07, base_temperature=0.07, gather=False, reduction="mean"
):
    one_view = features.ndim == 2
    f = features[:, None, :] if one_view else features
    n, v = f.shape[0], f.shape[1]
    ids = list(range(n)) if labels is None else list(labels)
    rows = [(view, i) for view in range(v) for i in range(n)]
    z = {r: _unit(f[r[1], r[0]]) for r in rows}
    per = np.zeros((n, v))
    for anchor in rows:
        others = [r for r in rows if r != anchor]
        log_den = _logsumexp(float(z[anchor] @ z[o]) / temperature for o in others)
        positives = [o for o in others if ids[o[1]] == ids[anchor[1]]]
        if not positives:
            continue
        mean_log_prob = sum(float(z[anchor] @ z[p]) / temperature - log_den for p in positives) / len(positives)
        per[anchor[1], anchor[0]] = -(temperature / base_temperature) * mean_log_prob
    if one_view:
        per = per[:, 0]
    return _finish(per, n * v, reduction)


def info_nce(query, key, temperature=0.07, symmetric=False, gather=False, negatives=None, reduction="mean"):
    n = query.shape[0]
    q = [_unit(query[i]) for i in range(n)]
    k = [_unit(key[i]) for i in range(n)]
    negs = None if negatives is None else [_unit(negatives[m]) for m in range(negatives.shape[0])]

    def one(a, b, i):
        positive = float(a[i] @ b[i]) / temperature
        if negs is None:
            others = [float(a[i] @ b[j]) / temperature for j in range(n)]
        else:
            others = [positive] + [float(a[i] @ m) / temperature for m in negs]
        return _logsumexp(others) - positive

    per = [one(q, k, i) for i in range(n)]
    if symmetric:
        per = [0.5 * (per[i] + one(k, q, i)) for i in range(n)]
    return _finish(per, n, reduction)


# ---------------------------------------------------------------------------------------------
# losses with parameters
# ---------------------------------------------------------------------------------------------


def center(features, labels, centers, reduction="mean"):
    per = [0.5 * float(((features[i] - centers[labels[i]]) ** 2).sum()) for i in range(len(labels))]
    return reduce(np.asarray(per, dtype=np.float64), reduction)


def _margin_softmax(embeddings, labels, weight, scale, target_fn, reduction):
    per = []
    w = [_unit(weight[c]) for c in range(weight.shape[0])]
    for i in range(len(labels)):
        e = _unit(embeddings[i])
        logits = []
        for c in range(len(w)):
            cos = float(e @ w[c])
            logits.append(scale * (target_fn(cos) if c == labels[i] else cos))
        per.append(_logsumexp(logits) - logits[labels[i]])
    return reduce(np.asarray(per, dtype=np.float64), reduction)


def arcface(embeddings, labels, weight, scale=64.0, margin=0.5, reduction="mean"):
    def shifted(cos):
        theta = math.acos(min(max(cos, -1.0), 1.0))
        return math.cos(theta + margin)

    return _margin_softmax(embeddings, labels, weight, scale, shifted, reduction)


def cosface(embeddings, labels, weight, scale=64.0, margin=0.35, reduction="mean"):
    return _margin_softmax(embeddings, labels, weight, scale, lambda cos: cos - margin, reduction)


def keras_circle(y_true, y_pred, gamma=80.0, margin=0.4, remove_diagonal=True):
    """Keras 3's ``circle`` per sample (no normalisation: Keras expects unit embeddings)."""
    n = len(y_true)
    out = np.zeros(n)
    for i in range(n):
        pos_terms, neg_terms = [], []
        for j in range(n):
            d = max(1.0 - float(y_pred[i] @ y_pred[j]), 0.0)
            if y_true[j] == y_true[i] and not (remove_diagonal and i == j):
                pos_terms.append(-gamma * max(margin + d, 0.0) * (margin - d))
            elif y_true[j] != y_true[i]:
                neg_terms.append(gamma * max(1.0 + margin - d, 0.0) * (1.0 - margin - d))
        out[i] = float(_softplus(_logsumexp(pos_terms) + _logsumexp(neg_terms)))
    return out
