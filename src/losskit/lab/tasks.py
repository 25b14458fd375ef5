"""The lab's tasks: data that ships inside scikit-learn (no downloads), a split, metrics and default losses.

Every task splits its data three ways: a training set, a *validation* set carved out of the training set
(``VAL_FRACTION`` of it, stratified by class for classification, the same for a given seed), and a test set.
The lab picks each run's epoch on the validation set and reports the test metrics at that epoch, so the test
set is never used to choose anything.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
from sklearn import datasets, metrics
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from .. import _families  # noqa: F401  (the declarations must be loaded to derive the compatible losses)
from .._core.registry import all_specs
from .._core.spec import LossSpec

#: share of the training set held out for validation (epoch selection). A fifth keeps at least one example of the
#: rarest digit (3 training examples at 50x imbalance) in both parts, and ~60 noisy-regression targets to select on.
VAL_FRACTION = 0.2


@dataclasses.dataclass
class Split:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    info: Dict[str, object]


@dataclasses.dataclass
class Task:
    """A comparison's problem: data, split, metrics, model size and the losses that fit.

    Build one for your own data with :func:`task_from_arrays` and pass it to
    :func:`losskit.lab.compare.run_compare` instead of a bundled task's name. ``load`` must be a module-level
    function (or a ``functools.partial`` of one) for ``jobs > 1``: worker processes receive the task pickled.
    """

    name: str
    kind: str  # "classification" | "regression" | "binary" | "segmentation" | "embedding"
    description: str
    #: ``load(seed, val_fraction)``: the split for one seed
    load: Callable[[int, float], Split]
    default_losses: Tuple[str, ...]
    metrics: Tuple[str, ...]
    #: metric used to rank losses, and whether higher is better
    primary: str
    higher_is_better: bool
    compatible: Tuple[str, ...]
    #: the MLP: hidden layers and width; AdamW weight decay
    hidden_layers: int = 2
    width: int = 64
    weight_decay: float = 0.0
    #: the loss a practitioner would use without the lab; the verdict states the effect against it
    reference_loss: str = "cross_entropy"
    #: default epochs; 0: 60 for classification, 80 for regression
    epochs: int = 0
    #: ``baselines(split) -> {name: test metrics}``: predictors without a network, shown beside the losses
    baselines: Optional[Callable[[Split], Dict[str, Dict[str, float]]]] = None
    #: the embedding task's output dimension
    embedding_dim: int = 16
    #: default AdamW learning rate and minibatch size
    lr: float = 3e-3
    batch_size: int = 64
    #: where the data came from, for ``--data`` tasks (``--resume`` reloads it)
    data_path: Optional[str] = None


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE with equal-width confidence bins (Guo et al. 2017). Written here: scikit-learn has no ECE."""
    confidence = probs.max(1)
    correct = probs.argmax(1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > lo) & (confidence <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


#: losses on class scores that are not log-probabilities: a softmax of their scores is no probability, so
#: calibration (ECE) is "n/a" for them
MARGIN_LOSSES = frozenset({"multi_margin", "categorical_hinge", "hinge", "squared_hinge", "soft_margin"})

#: how many of the rarest training classes ``rare_recall`` averages over
RARE_CLASSES = 3


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T > 0 minimising the NLL of softmax(logits / T) (Guo et al. 2017), by bounded search on log T."""
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    def nll(log_t: float) -> float:
        return float(-log_softmax(logits / np.exp(log_t), axis=1)[np.arange(labels.size), labels].mean())

    return float(np.exp(minimize_scalar(nll, bounds=(-4.0, 4.0), method="bounded").x))


def classification_metrics(
    logits: np.ndarray,
    labels: np.ndarray,
    val_logits: np.ndarray,
    val_labels: np.ndarray,
    train_counts: np.ndarray,
    probabilistic: bool = True,
) -> Tuple[Dict[str, float], Dict[str, object]]:
    """Test metrics of class scores, and the per-class recall for the report's panel.

    Args:
        logits: (N, C) test scores.
        labels: (N,) test classes.
        val_logits: (M, C) validation scores, to fit the temperature of the calibrated ECE.
        val_labels: (M,) validation classes.
        train_counts: (C,) training examples per class; ``rare_recall`` averages the rarest ``RARE_CLASSES``.
        probabilistic: whether softmax(scores) is meant as a probability; False gives ``ece`` = NaN ("n/a").

    Returns:
        ``({accuracy, balanced_accuracy, macro_f1, rare_recall, worst_recall, ece}, {"per_class_recall": [...]})``.
    """
    pred = logits.argmax(1)
    n_classes = logits.shape[1]
    recall = metrics.recall_score(labels, pred, labels=np.arange(n_classes), average=None, zero_division=0)
    present = np.isin(np.arange(n_classes), labels)
    rarest = [c for c in np.argsort(train_counts, kind="stable") if present[c]][:RARE_CLASSES]
    if probabilistic:
        t = fit_temperature(val_logits, val_labels)
        z = logits / t
        probs = np.exp(z - z.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        ece = expected_calibration_error(probs, labels)
    else:
        ece = float("nan")
    scores = {
        "accuracy": float(metrics.accuracy_score(labels, pred)),
        "balanced_accuracy": float(recall[present].mean()),
        "macro_f1": float(metrics.f1_score(labels, pred, labels=np.arange(n_classes)[present], average="macro")),
        "rare_recall": float(recall[rarest].mean()),
        "worst_recall": float(recall[present].min()),
        "ece": ece,
    }
    return scores, {"per_class_recall": [float(r) for r in recall], "train_counts": [int(c) for c in train_counts]}


def regression_metrics(pred: np.ndarray, target: np.ndarray) -> Dict[str, float]:
    return {
        "mae": float(metrics.mean_absolute_error(target, pred)),
        "rmse": float(np.sqrt(metrics.mean_squared_error(target, pred))),
    }


def regression_baselines(split: Split) -> Dict[str, Dict[str, float]]:
    """A constant (the training median, the best constant for MAE) and scikit-learn's ``HuberRegressor``.

    Both fit on the training part only, like the networks. A loss that does not beat the constant has learned
    nothing useful; one that does not beat the robust linear model does not justify a network.
    """
    from sklearn.linear_model import HuberRegressor

    constant = np.full(split.y_test.shape, np.median(split.y_train))
    huber = HuberRegressor(max_iter=1000).fit(split.x_train, split.y_train)
    return {
        "constant (median)": regression_metrics(constant, split.y_test),
        "HuberRegressor (linear)": regression_metrics(huber.predict(split.x_test), split.y_test),
    }


def validation_indices(
    n: int, seed: int, fraction: float, labels: Optional[np.ndarray] = None
) -> Tuple[np.ndarray, np.ndarray]:
    """Split ``range(n)`` into (train, validation) positions, deterministically for ``seed``.

    Args:
        n: number of training examples to split.
        seed: the run's seed; the same seed always gives the same split.
        fraction: share of the examples that go to validation, in (0, 1).
        labels: class labels for a stratified split, or None for a plain random one.

    Returns:
        Two sorted integer arrays of positions, disjoint, together ``range(n)``.
    """
    # a stream of its own, so that carving the validation set does not shift the task's other random draws
    rng = np.random.default_rng([seed, 0x5EED])
    if labels is None:
        order = rng.permutation(n)
        n_val = min(n - 1, max(1, int(round(fraction * n))))
        return np.sort(order[n_val:]), np.sort(order[:n_val])
    train, val = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        # every class with two or more examples keeps at least one on each side: balanced accuracy on the
        # validation set needs the rare classes, and training needs them more
        n_val = 0 if idx.size < 2 else min(idx.size - 1, max(1, int(round(fraction * idx.size))))
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def _imbalanced_digits(
    seed: int, val_fraction: float = VAL_FRACTION, imbalance: float = 50.0, test_per_class: int = 30
) -> Split:
    """Digits made long-tailed for training (class counts fall geometrically, max/min = ``imbalance``); a balanced test set.

    The validation set is a stratified ``val_fraction`` of the long-tailed training set, so it is long-tailed too.
    """
    x, y = datasets.load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    order = rng.permutation(classes)  # which digit is frequent changes with the seed
    train_list: List[int] = []
    test_idx: List[int] = []
    per_class_train = min(int((y == c).sum()) for c in classes) - test_per_class
    counts = {}
    for rank, c in enumerate(order):
        idx = rng.permutation(np.flatnonzero(y == c))
        test_idx.extend(idx[:test_per_class])
        n = max(1, int(round(per_class_train * imbalance ** (-rank / (len(classes) - 1)))))
        counts[int(c)] = n
        train_list.extend(idx[test_per_class : test_per_class + n])
    train_idx = np.asarray(train_list)
    fit_pos, val_pos = validation_indices(train_idx.size, seed, val_fraction, labels=y[train_idx])
    fit_idx, val_idx = train_idx[fit_pos], train_idx[val_pos]
    scaler = StandardScaler().fit(x[fit_idx])  # fitted on what the model trains on; validation is held out
    return Split(
        scaler.transform(x[fit_idx]).astype(np.float32),
        y[fit_idx].astype(np.int64),
        scaler.transform(x[val_idx]).astype(np.float32),
        y[val_idx].astype(np.int64),
        scaler.transform(x[test_idx]).astype(np.float32),
        y[test_idx].astype(np.int64),
        {
            "train_counts": counts,
            "imbalance": max(counts.values()) / min(counts.values()),
            "val_size": int(val_idx.size),
        },
    )


def _noisy_regression(
    seed: int, val_fraction: float = VAL_FRACTION, outlier_fraction: float = 0.2, outlier_scale: float = 8.0
) -> Split:
    """Diabetes with a fraction of *training* targets replaced by large outliers; clean test targets.

    The validation set is carved out of the corrupted training set after the corruption, so its targets are
    as noisy as the training targets: in practice nobody has clean labels to select an epoch with.
    """
    x, y = datasets.load_diabetes(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=seed)
    rng = np.random.default_rng(seed)
    y_train = y_train.copy()
    corrupt = rng.random(y_train.shape[0]) < outlier_fraction
    y_train[corrupt] = y_train.mean() + outlier_scale * y_train.std() * rng.choice(
        [-1.0, 1.0], corrupt.sum()
    ) * rng.uniform(0.5, 1.5, corrupt.sum())
    fit, val = validation_indices(y_train.shape[0], seed, val_fraction)
    xs = StandardScaler().fit(x_train[fit])
    return Split(
        xs.transform(x_train[fit]).astype(np.float32),
        y_train[fit].astype(np.float32),
        xs.transform(x_train[val]).astype(np.float32),
        y_train[val].astype(np.float32),
        xs.transform(x_test).astype(np.float32),
        y_test.astype(np.float32),
        {"outliers": int(corrupt.sum()), "outlier_fraction": outlier_fraction, "val_size": int(val.size)},
    )


def _noisy_labels(
    seed: int, val_fraction: float = VAL_FRACTION, symmetric: float = 0.2, pairwise: float = 0.2
) -> Split:
    """Digits with noisy *training and validation* labels and a clean test set.

    A share ``symmetric`` of the training labels is replaced by a uniformly drawn other class, and a further
    ``pairwise`` share by the next class (c -> c + 1 mod 10, the structured confusion of annotators). The
    validation set is carved out after the corruption: nobody has clean labels to select with.
    ``info["flipped"]`` marks the corrupted training labels, for the memorisation metric.
    """
    x, y = datasets.load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=seed, stratify=y)
    rng = np.random.default_rng([seed, 0xB0B])
    u = rng.random(y_train.size)
    noisy = y_train.copy()
    sym = u < symmetric
    pair = (u >= symmetric) & (u < symmetric + pairwise)
    noisy[sym] = (y_train[sym] + rng.integers(1, 10, sym.sum())) % 10  # any other class, uniformly
    noisy[pair] = (y_train[pair] + 1) % 10
    fit, val = validation_indices(noisy.size, seed, val_fraction, labels=noisy)
    scaler = StandardScaler().fit(x_train[fit])
    return Split(
        scaler.transform(x_train[fit]).astype(np.float32),
        noisy[fit].astype(np.int64),
        scaler.transform(x_train[val]).astype(np.float32),
        noisy[val].astype(np.int64),
        scaler.transform(x_test).astype(np.float32),
        y_test.astype(np.int64),
        {
            "flipped": (noisy[fit] != y_train[fit]).tolist(),
            "noise": float((noisy != y_train).mean()),
            "val_size": int(val.size),
        },
    )


def _rare_event(seed: int, val_fraction: float = VAL_FRACTION, positives: float = 0.02) -> Split:
    """``make_classification`` with about 2% positives, 20 features (6 informative), 10% of labels flipped.

    Split 60/40 into training and test, stratified; the validation set is a stratified fifth of the training set.
    """
    x, y = datasets.make_classification(
        n_samples=5000,
        n_features=20,
        n_informative=6,
        n_redundant=4,
        weights=[1 - positives],
        flip_y=0.0,  # scikit-learn's flips land on both classes: 1% would make a third of the positives random
        class_sep=1.0,
        random_state=seed,
    )
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.4, random_state=seed, stratify=y)
    fit, val = validation_indices(y_train.size, seed, val_fraction, labels=y_train)
    scaler = StandardScaler().fit(x_train[fit])
    return Split(
        scaler.transform(x_train[fit]).astype(np.float32),
        y_train[fit].astype(np.float32),
        scaler.transform(x_train[val]).astype(np.float32),
        y_train[val].astype(np.float32),
        scaler.transform(x_test).astype(np.float32),
        y_test.astype(np.float32),
        {"positive_rate": float(y.mean()), "val_size": int(val.size)},
    )


def draw_small_objects(rng: np.random.Generator, n: int, size: int = 24) -> Tuple[np.ndarray, np.ndarray]:
    """``n`` noisy images (n, 1, size, size) with 1-3 small bright disks (the objects, radius 1-1.8 px, about 2%
    of the pixels) and 1-2 bright bars (distractors: as bright, a different shape), and their disk masks."""
    yy, xx = np.mgrid[0:size, 0:size]
    images = rng.normal(0.0, 0.35, (n, size, size))
    masks = np.zeros((n, size, size), dtype=np.int64)
    for i in range(n):
        for _ in range(int(rng.integers(1, 4))):
            cy, cx = rng.uniform(2, size - 2, 2)
            r = rng.uniform(1.0, 1.8)
            disk = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            masks[i][disk] = 1
            images[i][disk] += 1.0
        for _ in range(int(rng.integers(1, 3))):
            y0, x0 = (int(v) for v in rng.integers(0, size - 6, 2))
            if rng.random() < 0.5:
                images[i, y0, x0 : x0 + 6] += 1.0
            else:
                images[i, y0 : y0 + 6, x0] += 1.0
    return images[:, None].astype(np.float32), masks


def _small_objects(seed: int, val_fraction: float = VAL_FRACTION, n_train: int = 300, n_test: int = 200) -> Split:
    """Procedural images: small disks to segment among bars and noise (:func:`draw_small_objects`)."""
    rng = np.random.default_rng([seed, 0xD15C])
    x, m = draw_small_objects(rng, n_train + n_test)
    fit, val = validation_indices(n_train, seed, val_fraction)
    return Split(
        x[fit],
        m[fit],
        x[val],
        m[val],
        x[n_train:],
        m[n_train:],
        {"foreground": float(m.mean()), "val_size": int(val.size)},
    )


def _open_set_digits(seed: int, val_fraction: float = VAL_FRACTION, train_classes: int = 7) -> Split:
    """Digits 0-6 to learn an embedding (a fifth held out per class for validation); digits 7-9 to retrieve.

    The test classes are never seen in training: the metric asks whether the embedding generalises.
    """
    x, y = datasets.load_digits(return_X_y=True)
    seen = y < train_classes
    x_seen, y_seen = x[seen], y[seen]
    fit, val = validation_indices(y_seen.size, seed, val_fraction, labels=y_seen)
    scaler = StandardScaler().fit(x_seen[fit])
    return Split(
        scaler.transform(x_seen[fit]).astype(np.float32),
        y_seen[fit].astype(np.int64),
        scaler.transform(x_seen[val]).astype(np.float32),
        y_seen[val].astype(np.int64),
        scaler.transform(x[~seen]).astype(np.float32),
        y[~seen].astype(np.int64),
        {"train_classes": list(range(train_classes)), "val_size": int(val.size)},
    )


def _fits_classification(spec: LossSpec) -> bool:
    """(N, C) scores and (N,) class-index targets: what the digits MLP produces and its labels are."""
    roles = [r.name for r in spec.roles]
    return (
        spec.family == "classification"
        and "index_targets" in spec.capabilities
        and roles == ["input", "target"]
        and "class indices" in spec.roles[1].shape
    )


def _fits_regression(spec: LossSpec) -> bool:
    """(N,) predictions against (N,) real targets."""
    return spec.family == "regression" and [r.name for r in spec.roles] == ["input", "target"]


def _fits_binary(spec: LossSpec) -> bool:
    """Elementwise (*) logits or scores against 0/1 labels of the same shape."""
    roles = spec.roles
    return (
        spec.family == "classification"
        and [r.name for r in roles] == ["input", "target"]
        and roles[0].shape.endswith("(*)")
        and ("[0, 1]" in roles[1].shape or "labels of the input's shape" in roles[1].shape)
    )


def _fits_segmentation(spec: LossSpec) -> bool:
    """Per-pixel losses on (N, C, H, W) logits and (N, H, W) masks, or per-pixel binary logits."""
    return (spec.family == "segmentation" and [r.name for r in spec.roles] == ["input", "target"]) or (
        _fits_binary(spec) and "probabilit" not in spec.roles[0].shape
    )


def _fits_embedding(spec: LossSpec) -> bool:
    """Losses of an (N, D) embedding batch with class ids, and class-index classifiers (a softmax head)."""
    roles = [r.name for r in spec.roles]
    return (spec.family == "embedding" and len(roles) >= 2 and roles[1] == "labels") or _fits_classification(spec)


# derived from the declarations: a new loss that fits a task's shapes is a candidate without editing this file
CLASSIFICATION_LOSSES = tuple(s.name for s in all_specs() if _fits_classification(s))
REGRESSION_LOSSES = tuple(s.name for s in all_specs() if _fits_regression(s))
BINARY_LOSSES = tuple(s.name for s in all_specs() if _fits_binary(s) and "probabilit" not in s.roles[0].shape)
SEGMENTATION_LOSSES = tuple(s.name for s in all_specs() if _fits_segmentation(s))
EMBEDDING_LOSSES = tuple(s.name for s in all_specs() if _fits_embedding(s))

CLASSIFICATION_METRICS = ("balanced_accuracy", "macro_f1", "rare_recall", "worst_recall", "ece")

TASKS: Dict[str, Task] = {
    "imbalanced-digits": Task(
        name="imbalanced-digits",
        kind="classification",
        description="scikit-learn digits, long-tailed training set (50x), balanced test set; MLP",
        load=_imbalanced_digits,
        # the standard answers to a long tail: re-weighting (inverse frequency, class-balanced), logit adjustment
        # (balanced softmax), LDAM margins, focal with class-balanced weights; and two non-long-tail references
        default_losses=(
            "cross_entropy",
            "cross_entropy(weight=balanced)",
            "cross_entropy(weight=class_balanced)",
            "logit_adjusted",
            # LDAM's scale assumes cosine logits in [-1, 1]; the lab's MLP has plain logits, hence scale=1
            "ldam(scale=1)",
            "focal(gamma=2,weight=class_balanced)",
            "cross_entropy(label_smoothing=0.1)",
            "multi_margin",
        ),
        # the test set is balanced: accuracy equals balanced accuracy there, so it is not shown
        metrics=CLASSIFICATION_METRICS,
        primary="balanced_accuracy",
        higher_is_better=True,
        compatible=CLASSIFICATION_LOSSES,
        epochs=40,
    ),
    "noisy-regression": Task(
        name="noisy-regression",
        kind="regression",
        description="scikit-learn diabetes, 20% of training targets replaced by outliers, clean test targets; MLP",
        load=_noisy_regression,
        # every default is a different loss even up to a constant factor (Adam ignores the scale of a loss):
        # smooth_l1(beta=1) *is* huber(delta=1), and quantile(quantile=0.5) is l1 / 2, so neither is a default.
        default_losses=("mse", "l1", "huber", "log_cosh"),
        metrics=("mae", "rmse"),
        primary="mae",
        higher_is_better=False,
        compatible=REGRESSION_LOSSES,
        # one small hidden layer: a deeper net memorises the outliers whatever the loss, which hides the comparison
        hidden_layers=1,
        width=32,
        weight_decay=1e-3,
        reference_loss="mse",
        baselines=regression_baselines,
    ),
    "noisy-labels": Task(
        name="noisy-labels",
        kind="classification",
        description="scikit-learn digits, 20% symmetric + 20% pairwise label noise in training, clean test; MLP",
        load=_noisy_labels,
        default_losses=(
            "cross_entropy",
            "cross_entropy(label_smoothing=0.1)",
            "generalized_cross_entropy(q=0.7)",
            "symmetric_cross_entropy",
            "focal(gamma=2)",
            "poly1(epsilon=1)",
        ),
        metrics=("accuracy", "macro_f1", "memorised", "ece"),
        primary="accuracy",
        higher_is_better=True,
        compatible=CLASSIFICATION_LOSSES,
        epochs=20,
    ),
    "rare-event": Task(
        name="rare-event",
        kind="binary",
        description="make_classification, 5000 examples, ~2% positives, 20 features; MLP",
        load=_rare_event,
        default_losses=(
            "bce",
            "bce(pos_weight=balanced)",
            "balanced_bce",
            "sigmoid_focal",
            "squared_hinge",
        ),
        metrics=("pr_auc", "f1", "brier"),
        primary="pr_auc",
        higher_is_better=True,
        compatible=BINARY_LOSSES,
        reference_loss="bce",
        hidden_layers=2,
        width=32,
        epochs=40,
        batch_size=256,
    ),
    "small-objects": Task(
        name="small-objects",
        kind="segmentation",
        description="procedural 24x24 images, 1-3 small disks (~2% foreground) among bars and noise; 3-layer FCN",
        load=_small_objects,
        default_losses=(
            "bce",
            "bce(pos_weight=balanced)",
            # the overlap losses on the foreground channel only: with 2% foreground the background's Dice is ~1
            # whatever the model does, and dice_ce with the background included learns to predict no object
            "dice(include_background=False)",
            "tversky(alpha=0.3,beta=0.7,include_background=False)",
            "dice_ce(include_background=False)",
            "lovasz_hinge",
        ),
        metrics=("dice", "object_recall"),
        primary="dice",
        higher_is_better=True,
        compatible=SEGMENTATION_LOSSES,
        reference_loss="bce",
        width=8,
        epochs=15,
        lr=1e-2,
        batch_size=32,
    ),
    "open-set-retrieval": Task(
        name="open-set-retrieval",
        kind="embedding",
        description="scikit-learn digits: embeddings learnt on 0-6, retrieval among the unseen 7-9; MLP to 16-d",
        load=_open_set_digits,
        default_losses=(
            "contrastive",
            "batch_triplet(mining=batch_hard)",
            "supervised_contrastive(temperature=0.1)",
            "circle",
            "arcface(scale=16)",
            "cross_entropy",
        ),
        metrics=("map_at_r", "recall_at_1"),
        primary="map_at_r",
        higher_is_better=True,
        compatible=EMBEDDING_LOSSES,
        reference_loss="cross_entropy",
        embedding_dim=16,
        epochs=20,
        lr=1e-2,
        batch_size=128,
    ),
}


#: ``--sweep`` on noisy-regression: the share of training targets replaced by outliers
CONTAMINATION_SWEEP = (0.0, 0.1, 0.2, 0.4)


def sweep_tasks(task: Task) -> List[Task]:
    """The variants ``--sweep`` runs: noisy-regression at each contamination of :data:`CONTAMINATION_SWEEP`.

    Raises:
        ValueError: the task has no sweep.
    """
    if task.name != "noisy-regression":
        raise ValueError(f"--sweep is defined for noisy-regression only (outlier share 0/10/20/40%); got {task.name!r}")
    return [
        dataclasses.replace(
            task,
            name=f"noisy-regression-{round(f * 100)}pct",
            description=task.description.replace("20%", f"{f:.0%}"),
            load=functools.partial(_noisy_regression, outlier_fraction=f),
        )
        for f in CONTAMINATION_SWEEP
    ]


def find_task(name: str) -> Optional[Task]:
    """A bundled task or one of its sweep variants by name (what ``plan.json`` records), or None."""
    if name in TASKS:
        return TASKS[name]
    for variant in sweep_tasks(TASKS["noisy-regression"]):
        if variant.name == name:
            return variant
    return None


# --- your own data ---

#: default candidates and metrics for :func:`task_from_arrays`, by kind
_OWN_DATA = {
    "classification": (
        (
            "cross_entropy",
            "cross_entropy(weight=balanced)",
            "cross_entropy(label_smoothing=0.1)",
            "focal(gamma=2)",
            "logit_adjusted",
        ),
        ("balanced_accuracy", "accuracy", "macro_f1", "worst_recall", "ece"),
        "balanced_accuracy",
        True,
    ),
    "regression": (("mse", "l1", "huber", "log_cosh"), ("mae", "rmse"), "mae", False),
    "binary": (
        ("bce", "bce(pos_weight=balanced)", "balanced_bce", "sigmoid_focal"),
        ("pr_auc", "f1", "brier"),
        "pr_auc",
        True,
    ),
}


def _array_split(
    x: np.ndarray, y: np.ndarray, kind: str, test_fraction: float, seed: int, val_fraction: float = VAL_FRACTION
) -> Split:
    """Seeded train/test split of the arrays (stratified for classes), a validation fifth, features standardised."""
    stratify = y if kind != "regression" else None
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=stratify
    )
    fit, val = validation_indices(y_train.size, seed, val_fraction, labels=y_train if stratify is not None else None)
    scaler = StandardScaler().fit(x_train[fit])
    dtype = {"classification": np.int64, "regression": np.float32, "binary": np.float32}[kind]
    return Split(
        scaler.transform(x_train[fit]).astype(np.float32),
        y_train[fit].astype(dtype),
        scaler.transform(x_train[val]).astype(np.float32),
        y_train[val].astype(dtype),
        scaler.transform(x_test).astype(np.float32),
        y_test.astype(dtype),
        {"val_size": int(val.size)},
    )


def task_from_arrays(
    x: np.ndarray,
    y: np.ndarray,
    kind: str,
    name: str = "data",
    test_fraction: float = 0.25,
    losses: Optional[Tuple[str, ...]] = None,
    data_path: Optional[str] = None,
) -> Task:
    """A lab task for your own tabular data: an MLP on ``x`` (N, D) to predict ``y`` (N,).

    Every seed splits the data afresh (``test_fraction`` for the test set, stratified by class for
    classification and binary; a validation fifth of the rest), so the seeds give independent test sets.

    Args:
        x: features, (N, D), real.
        y: class indices 0..C-1 (``"classification"``), 0/1 labels (``"binary"``) or real targets (``"regression"``).
        kind: ``"classification"``, ``"binary"`` or ``"regression"``.
        name: the task's name in the report.
        test_fraction: share of the examples held out for the test set, in (0, 0.9].
        losses: the default candidates; None: a few standard ones for the kind.
        data_path: recorded so that ``--resume`` can reload the file.

    Returns:
        A :class:`Task` to pass to :func:`losskit.lab.compare.run_compare`.

    Raises:
        ValueError: arrays of the wrong shape or type, labels that do not fit ``kind``, too few examples.

    Example:
        >>> from sklearn.datasets import load_wine
        >>> x, y = load_wine(return_X_y=True)
        >>> task = task_from_arrays(x, y, "classification", name="wine")
        >>> task.kind, task.primary
        ('classification', 'balanced_accuracy')
    """
    if kind not in _OWN_DATA:
        raise ValueError(f"task_from_arrays: kind must be one of {', '.join(_OWN_DATA)}; got {kind!r}")
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"task_from_arrays: expected x of shape (N, D) and y of shape (N,); got {x.shape} and {y.shape}"
        )
    if not np.issubdtype(x.dtype, np.number) or not np.isfinite(x).all():
        raise ValueError("task_from_arrays: x must be finite numbers")
    if not 0 < test_fraction <= 0.9:
        raise ValueError(f"task_from_arrays: test_fraction must be in (0, 0.9]; got {test_fraction}")
    if kind != "regression":
        if not np.all(np.mod(y, 1) == 0) or y.min() < 0:
            raise ValueError("task_from_arrays: class labels must be whole numbers from 0")
        y = y.astype(np.int64)
        counts = np.bincount(y)
        if kind == "binary" and y.max() > 1:
            raise ValueError("task_from_arrays: binary labels must be 0 or 1")
        if (counts[counts > 0] < 5).any() or (counts == 0).any():
            raise ValueError(
                "task_from_arrays: every class 0..C-1 needs at least 5 examples (train, validation and test each need some)"
            )
    elif not np.isfinite(y).all():
        raise ValueError("task_from_arrays: regression targets must be finite")
    if x.shape[0] < 40:
        raise ValueError(f"task_from_arrays: at least 40 examples are needed; got {x.shape[0]}")
    defaults, metrics_, primary, higher = _OWN_DATA[kind]
    compatible = {"classification": CLASSIFICATION_LOSSES, "regression": REGRESSION_LOSSES, "binary": BINARY_LOSSES}[
        kind
    ]
    return Task(
        name=name,
        kind=kind,
        description=f"{name}: {x.shape[0]} examples, {x.shape[1]} features ({kind}); MLP",
        load=functools.partial(_array_split, x.astype(np.float64), y, kind, float(test_fraction)),
        default_losses=tuple(losses) if losses else defaults,
        metrics=metrics_,
        primary=primary,
        higher_is_better=higher,
        compatible=compatible,
        reference_loss={"classification": "cross_entropy", "regression": "mse", "binary": "bce"}[kind],
        baselines=regression_baselines if kind == "regression" else None,
        data_path=data_path,
    )


def task_from_npz(path: str | os.PathLike[str]) -> Task:
    """``--data file.npz``: arrays ``X`` (N, D) and ``y`` (N,), and ``kind`` ("classification", "binary" or
    "regression"; when missing, whole-number labels with at most 20 values are classes, two of them binary).

    Raises:
        ValueError: the file cannot be read, or its arrays do not fit (see :func:`task_from_arrays`).
    """
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, EOFError, ValueError) as exc:  # missing file; not a zip (numpy then guesses a pickle)
        raise ValueError(f"--data {path}: cannot read it as .npz ({exc})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"--data {path}: cannot read it as .npz (it holds one array, not X and y)")
    with data:
        if "X" not in data or "y" not in data:
            raise ValueError(f"--data {path}: the file needs arrays X and y; it has {', '.join(data.files)}")
        x, y = data["X"], data["y"]
        kind = str(data["kind"]) if "kind" in data else None
    if kind is None:
        values = np.unique(y)
        whole = np.issubdtype(y.dtype, np.integer) or bool(np.all(np.mod(y, 1) == 0))
        kind = "regression" if not whole or values.size > 20 else "binary" if values.size == 2 else "classification"
    name = os.path.splitext(os.path.basename(os.fspath(path)))[0]
    try:
        return task_from_arrays(x, y, kind, name=name, data_path=os.path.abspath(os.fspath(path)))
    except ValueError as exc:
        raise ValueError(f"--data {path}: {str(exc).replace('task_from_arrays: ', '')}") from None


def task_names() -> List[str]:
    return list(TASKS)
