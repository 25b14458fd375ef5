"""What differs between the lab's kinds of task: targets, model, loss adapter, validation score and test metrics.

Five kinds, each a small model trained the same way by :mod:`losskit.lab.compare`:

* ``classification`` — an MLP, (N, C) logits against class indices;
* ``regression`` — an MLP, (N,) predictions against real targets standardised with robust statistics of the
  training targets (median, MAD); metrics in the original units;
* ``binary`` — an MLP, (N,) logits against 0/1 labels (rare events);
* ``segmentation`` — a small fully-convolutional net, (N, 2, H, W) logits against (N, H, W) masks; losses that
  take one binary logit per pixel get ``z1 − z0`` (the same model: a 2-way softmax is a sigmoid of the gap);
* ``embedding`` — an MLP to a unit-norm embedding, trained on some classes and scored by retrieval on others.

``Context`` carries what a run needs besides the tensors (the regression scaling, the class count).
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable, Dict, Tuple

import numpy as np
import torch
from torch import nn

from .._core.registry import describe, get, get_class
from .tasks import MARGIN_LOSSES, Split, Task, classification_metrics, regression_metrics

#: class-balanced weights (Cui et al. 2019) with this beta for ``weight=class_balanced``: with the digits' 3 to
#: 150 training examples per class, 0.999 gives nearly inverse frequency (``weight=balanced``), 0.99 a milder one
CLASS_BALANCED_BETA = 0.99


class LossArgumentError(ValueError):
    """A loss's arguments do not fit (shown as the lab's one-line error by the caller)."""


@dataclasses.dataclass
class Context:
    n_out: int
    center: float = 0.0
    scale: float = 1.0


def n_classes(split: Split) -> int:
    return int(max(split.y_train.max(), split.y_val.max(), split.y_test.max())) + 1


def _target_scaling(split: Split) -> Tuple[float, float]:
    """Center and scale for regression targets: robust statistics of the (noisy) training targets."""
    center = float(np.median(split.y_train))
    return center, float(1.4826 * np.median(np.abs(split.y_train - center))) or 1.0


def context(task: Task, split: Split) -> Context:
    if task.kind == "classification":
        return Context(n_classes(split))
    if task.kind == "embedding":
        return Context(task.embedding_dim)
    if task.kind == "segmentation":
        return Context(2)
    if task.kind == "regression":
        return Context(1, *_target_scaling(split))
    return Context(1)


def targets(task: Task, split: Split, ctx: Context) -> Tuple[torch.Tensor, torch.Tensor]:
    """Training and validation targets as the losses take them."""
    if task.kind in ("classification", "embedding", "segmentation"):
        return torch.from_numpy(split.y_train).long(), torch.from_numpy(split.y_val).long()
    if task.kind == "binary":
        return torch.from_numpy(split.y_train).float(), torch.from_numpy(split.y_val).float()
    return (
        (torch.from_numpy(split.y_train) - ctx.center) / ctx.scale,
        (torch.from_numpy(split.y_val) - ctx.center) / ctx.scale,
    )


def _mlp(n_in: int, n_out: int, hidden_layers: int, width: int) -> nn.Module:
    layers, size = [], n_in
    for _ in range(hidden_layers):
        layers += [nn.Linear(size, width), nn.ReLU()]
        size = width
    return nn.Sequential(*layers, nn.Linear(size, n_out))


def build_model(task: Task, split: Split, ctx: Context) -> nn.Module:
    if task.kind == "segmentation":
        # two 3x3 convolutions, the second dilated: a 7x7 view, enough to tell a disk from a bar
        w = task.width
        return nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(w, w, 3, padding=2, dilation=2),
            nn.ReLU(),
            nn.Conv2d(w, 2, 1),
        )
    return _mlp(int(np.prod(split.x_train.shape[1:])), ctx.n_out, task.hidden_layers, task.width)


def predict(task: Task, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = model(x)
    if task.kind in ("regression", "binary"):
        return out.squeeze(-1)
    if task.kind == "embedding":
        return nn.functional.normalize(out, dim=1)
    return out


class _SoftmaxHead(nn.Module):
    """Cross-entropy on a linear classifier over the embedding: the usual baseline of metric learning."""

    def __init__(self, dim: int, classes: int, loss: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.head = nn.Linear(dim, classes)
        self.loss = loss

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.loss(self.head(embeddings), labels)


def _takes(name: str, parameter: str) -> bool:
    try:
        return parameter in inspect.signature(get_class(name)).parameters
    except (TypeError, ValueError):
        return False


def _class_counts(split: Split) -> np.ndarray:
    return np.bincount(split.y_train.reshape(-1), minlength=n_classes(split)).astype(np.float64)


def build_loss(spec_name: str, kwargs: Dict[str, Any], task: Task, split: Split, ctx: Context) -> Callable[..., Any]:
    """The loss module for one run, with the lab's shorthands filled in from the training part of the split.

    ``weight=balanced`` (inverse class frequency, mean 1), ``weight=class_balanced`` (Cui et al.'s effective
    number, beta :data:`CLASS_BALANCED_BETA`), ``pos_weight=balanced`` (negatives / positives); ``class_counts``,
    ``num_classes`` and ``embedding_dim`` are filled in when the loss takes them and they are not given.

    Raises:
        LossArgumentError: the loss rejects its arguments.
    """
    kwargs = dict(kwargs)
    if kwargs.get("weight") == "balanced":
        counts = _class_counts(split)
        kwargs["weight"] = torch.tensor(counts.sum() / (len(counts) * np.maximum(counts, 1)), dtype=torch.float32)
    elif kwargs.get("weight") == "class_balanced":
        from .. import class_balanced_weights

        kwargs["weight"] = class_balanced_weights(
            torch.tensor(np.maximum(_class_counts(split), 1)), CLASS_BALANCED_BETA
        ).float()
    if kwargs.get("pos_weight") == "balanced":
        positives = float(split.y_train.sum())
        kwargs["pos_weight"] = torch.tensor((split.y_train.size - positives) / max(positives, 1.0))
    if _takes(spec_name, "class_counts") and "class_counts" not in kwargs and "class_prior" not in kwargs:
        kwargs["class_counts"] = torch.tensor(np.maximum(_class_counts(split), 1), dtype=torch.float32)
    if _takes(spec_name, "num_classes") and "num_classes" not in kwargs:
        kwargs["num_classes"] = n_classes(split)
    if _takes(spec_name, "embedding_dim") and "embedding_dim" not in kwargs:
        kwargs["embedding_dim"] = ctx.n_out
    if task.kind == "embedding" and describe(spec_name).family == "classification":
        try:
            inner = get(spec_name, **kwargs)
        except (TypeError, ValueError) as exc:
            raise LossArgumentError(str(exc)) from None
        return _SoftmaxHead(ctx.n_out, n_classes(split), inner)
    try:
        module = get(spec_name, **kwargs)
    except (TypeError, ValueError) as exc:
        raise LossArgumentError(str(exc)) from None
    if spec_name == "nll":
        return lambda out, y: module(torch.log_softmax(out, 1), y)
    if task.kind == "segmentation" and not describe(spec_name).roles[0].shape.startswith("logits (N, C"):
        # one binary logit per pixel: the gap of the two channels, against the 0/1 mask
        return lambda out, y: module(out[:, 1] - out[:, 0], y.to(out.dtype))
    return module


def validate(
    task: Task, out: torch.Tensor, y_val: torch.Tensor, split: Split, ctx: Context
) -> Tuple[float, float, Tuple[float, ...]]:
    """(validation score, the curve value shown in the report, the selection key: larger is better)."""
    if task.kind == "classification":
        val_loss = float(torch.nn.functional.cross_entropy(out, y_val))
        pred = out.argmax(1).numpy()
        score = float(np.mean([(pred[split.y_val == c] == c).mean() for c in np.unique(split.y_val)]))
        # a small validation set ties often on accuracy-like metrics; the lower cross-entropy breaks the tie
        return score, val_loss, (score, -val_loss)
    if task.kind == "regression":
        mae = float((out - y_val).abs().mean()) * ctx.scale  # in target units
        return mae, mae, (-mae,)
    if task.kind == "binary":
        score = average_precision(split.y_val, out.numpy())
        return score, score, (score,)
    if task.kind == "segmentation":
        score = dice_score(out.argmax(1).numpy(), split.y_val)
        return score, score, (score,)
    score = map_at_r(out.numpy(), split.y_val)
    return score, score, (score,)


def test_metrics(
    task: Task,
    spec_name: str,
    forward: Callable[[np.ndarray], torch.Tensor],
    split: Split,
    ctx: Context,
) -> Tuple[Dict[str, float], Dict[str, Any]]:
    """The test metrics of the selected weights (``forward`` runs the model in eval mode, without gradients)."""
    out_test, out_val = forward(split.x_test), forward(split.x_val)
    if task.kind == "classification":
        scores, extra = classification_metrics(
            out_test.numpy().astype(np.float64),
            split.y_test,
            out_val.numpy().astype(np.float64),
            split.y_val,
            np.bincount(np.concatenate([split.y_train, split.y_val]), minlength=n_classes(split)),
            probabilistic=spec_name not in MARGIN_LOSSES,
        )
        if "flipped" in split.info:  # noisy labels: how many flipped training labels the model reproduces
            flipped = np.asarray(split.info["flipped"], dtype=bool)
            if flipped.any():
                pred = forward(split.x_train).argmax(1).numpy()
                scores["memorised"] = float((pred[flipped] == split.y_train[flipped]).mean())
            else:
                scores["memorised"] = 0.0
        return scores, extra
    if task.kind == "regression":
        return regression_metrics(out_test.numpy() * ctx.scale + ctx.center, split.y_test), {}
    if task.kind == "binary":
        return binary_metrics(out_test.numpy(), split.y_test, out_val.numpy(), split.y_val, spec_name), {}
    if task.kind == "segmentation":
        pred = out_test.argmax(1).numpy()
        return {"dice": dice_score(pred, split.y_test), "object_recall": object_recall(pred, split.y_test)}, {}
    emb = out_test.numpy()
    return {"map_at_r": map_at_r(emb, split.y_test), "recall_at_1": recall_at_1(emb, split.y_test)}, {}


# --- metrics of the newer kinds ---


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the precision-recall curve (scikit-learn's average precision); 0 with no positive."""
    from sklearn.metrics import average_precision_score

    if not labels.any() or not np.isfinite(scores).all():
        return 0.0
    return float(average_precision_score(labels, scores))


#: scores that are not probabilities after a sigmoid: their Brier score is "n/a"
_NOT_PROBABILISTIC = frozenset({"squared_hinge", "hinge", "soft_margin"})


def binary_metrics(
    scores: np.ndarray, labels: np.ndarray, val_scores: np.ndarray, val_labels: np.ndarray, spec_name: str
) -> Dict[str, float]:
    """PR-AUC, F1 at the threshold that maximises F1 on validation, and the Brier score of sigmoid(score)."""
    from sklearn.metrics import f1_score, precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(val_labels, val_scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    threshold = float(thresholds[int(np.argmax(f1[:-1]))]) if thresholds.size else 0.0
    probs = 1.0 / (1.0 + np.exp(-np.clip(scores, -50, 50)))
    return {
        "pr_auc": average_precision(labels, scores),
        "f1": float(f1_score(labels, scores >= threshold, zero_division=0)),
        "brier": float("nan") if spec_name in _NOT_PROBABILISTIC else float(np.mean((probs - labels) ** 2)),
    }


def dice_score(pred: np.ndarray, mask: np.ndarray) -> float:
    """Foreground Dice over the whole set (pixels pooled): 2|P∩T| / (|P| + |T|)."""
    p, t = pred.astype(bool), mask.astype(bool)
    total = p.sum() + t.sum()
    return float(2 * (p & t).sum() / total) if total else 1.0


def object_recall(pred: np.ndarray, mask: np.ndarray, cover: float = 0.5) -> float:
    """Share of the true objects (connected components of the masks) with at least ``cover`` of their pixels found."""
    from scipy import ndimage

    found = total = 0
    for p, t in zip(pred.astype(bool), mask.astype(bool)):
        components, n = ndimage.label(t)
        for k in range(1, n + 1):
            obj = components == k
            total += 1
            found += (p & obj).sum() >= cover * obj.sum()
    return float(found / total) if total else 1.0


def _similarities(emb: np.ndarray) -> np.ndarray:
    sim = emb @ emb.T
    np.fill_diagonal(sim, -np.inf)  # a query never retrieves itself
    return sim


def recall_at_1(emb: np.ndarray, labels: np.ndarray) -> float:
    """Share of queries whose nearest other example (cosine) has the same class."""
    nearest = _similarities(emb).argmax(1)
    return float((labels[nearest] == labels).mean())


def map_at_r(emb: np.ndarray, labels: np.ndarray) -> float:
    """MAP@R (Musgrave et al. 2020): for a query with R other examples of its class, the mean over its top R
    neighbours of precision@i at each correct neighbour, divided by R."""
    sim = _similarities(emb)
    order = np.argsort(-sim, axis=1, kind="stable")
    scores = []
    for i in range(emb.shape[0]):
        r = int((labels == labels[i]).sum()) - 1
        if r <= 0:
            continue
        hits = labels[order[i, :r]] == labels[i]
        precision = np.cumsum(hits) / np.arange(1, r + 1)
        scores.append(float((precision * hits).sum() / r))
    return float(np.mean(scores)) if scores else 0.0
