"""The lab's tasks: data that ships inside scikit-learn (no downloads), a split, metrics and default losses.

Every task splits its data three ways: a training set, a *validation* set carved out of the training set
(``VAL_FRACTION`` of it, stratified by class for classification, the same for a given seed), and a test set.
The lab picks each run's epoch on the validation set and reports the test metrics at that epoch, so the test
set is never used to choose anything.
"""

from __future__ import annotations

import dataclasses
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
    name: str
    kind: str  # "classification" | "regression"
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
        "constant (training median)": regression_metrics(constant, split.y_test),
        "HuberRegressor (scikit-learn, linear)": regression_metrics(huber.predict(split.x_test), split.y_test),
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


# derived from the declarations: a new loss that fits a task's shapes is a candidate without editing this file
CLASSIFICATION_LOSSES = tuple(s.name for s in all_specs() if _fits_classification(s))
REGRESSION_LOSSES = tuple(s.name for s in all_specs() if _fits_regression(s))

TASKS: Dict[str, Task] = {
    "imbalanced-digits": Task(
        name="imbalanced-digits",
        kind="classification",
        description="scikit-learn digits, long-tailed training set (50x), balanced test set; MLP",
        load=_imbalanced_digits,
        default_losses=(
            "cross_entropy",
            "cross_entropy(weight=balanced)",
            "cross_entropy(label_smoothing=0.1)",
            "focal(gamma=2)",
            "poly1(epsilon=1)",
            "multi_margin",
            "generalized_cross_entropy(q=0.7)",
        ),
        # the test set is balanced: accuracy equals balanced accuracy there, so it is not shown
        metrics=("balanced_accuracy", "macro_f1", "rare_recall", "worst_recall", "ece"),
        primary="balanced_accuracy",
        higher_is_better=True,
        compatible=CLASSIFICATION_LOSSES,
    ),
    "noisy-regression": Task(
        name="noisy-regression",
        kind="regression",
        description="scikit-learn diabetes, 20% of training targets replaced by outliers, clean test targets; MLP",
        load=_noisy_regression,
        # every default is a different loss even up to a constant factor (Adam ignores the scale of a loss):
        # smooth_l1(beta=1) *is* huber(delta=1), and quantile(quantile=0.5) is l1 / 2, so neither is a default.
        # smooth_l1(beta=b) is huber(delta=b) / b: beta=0.5 puts the quadratic zone at half the width of huber's.
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
}


def task_names() -> List[str]:
    return list(TASKS)
