"""Train the same small model with each loss, several seeds, and rank the losses.

How a run is scored: each (loss, seed) trains for ``epochs`` epochs on the training part of the task's split;
after every epoch the model is scored on the validation part (carved from the training set, see
:mod:`losskit.lab.tasks`) with the task's primary metric. The run keeps the weights of its best validation epoch
and reports the *test* metrics of those weights, with the chosen epoch (``RunResult.best_epoch``). The test set
is never used to choose anything, and a loss that overfits late is not penalised for epochs nobody would keep.

Everything a user can get wrong (task, losses, epochs, seeds, learning rate) is checked by :func:`plan_compare`
before any training, and raises :class:`LabError`, which the command shows as one line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import math
import numbers
import os
import re
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from .._core.registry import get, get_class
from .tasks import TASKS, VAL_FRACTION, Split, Task, classification_metrics, regression_metrics

#: generous ceilings that still catch typos (``--epochs 1e23``): the default runs use 60-80 epochs and 3 seeds
MAX_EPOCHS = 10_000
MAX_SEEDS = 1_000
#: scikit-learn's ``random_state`` (the regression split) takes seeds below 2**32
MAX_SEED = 2**32 - 1


class LabError(ValueError):
    """A user mistake (unknown task or loss, a loss that does not fit the task): shown without a traceback."""


@dataclasses.dataclass(frozen=True)
class LossSpec:
    """A loss and its keyword arguments, written ``name`` or ``name(key=value, ...)``."""

    text: str
    name: str
    kwargs: Dict[str, Any]

    @property
    def label(self) -> str:
        return self.text


_SPEC = re.compile(r"^\s*([A-Za-z0-9_]+)\s*(?:\((.*)\))?\s*$")


def _value(text: str) -> Any:
    text = text.strip()
    lowered = text.lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _split_top_level(text: str) -> List[str]:
    """Split on commas outside parentheses: "a(x=1,y=2),b" -> ["a(x=1,y=2)", "b"]."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _identity(spec: LossSpec) -> Tuple[str, Tuple[Tuple[str, str], ...]]:
    """What makes two specs the same candidate: the canonical name and every argument, defaults filled in.

    So ``ce``, ``cross_entropy`` and ``cross_entropy(label_smoothing=0)`` are one loss, as are ``focal`` and
    ``focal(gamma=2.0)``. Numbers compare by value (2 == 2.0).
    """

    def norm(value: Any) -> str:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return repr(float(value))
        return repr(value)

    params: Dict[str, Any] = {}
    try:
        params = {
            p.name: p.default
            for p in inspect.signature(get_class(spec.name)).parameters.values()
            if p.default is not inspect.Parameter.empty
        }
    except (TypeError, ValueError):  # no introspectable signature: compare the written arguments only
        pass
    params.update(spec.kwargs)
    return spec.name, tuple(sorted((k, norm(v)) for k, v in params.items()))


def parse_loss_specs(text_or_list, task: Task) -> List[LossSpec]:
    """Read ``name`` / ``name(key=value, ...)`` items for ``task``.

    Args:
        text_or_list: a comma-separated string (commas inside parentheses belong to the arguments) or a list.
        task: the task the losses must fit.

    Returns:
        One :class:`LossSpec` per item, in order.

    Raises:
        LabError: an unreadable item, an unknown loss, a loss that does not fit the task, the same candidate
            listed twice (under any alias or spelling of its arguments), or no losses at all.
    """
    items = _split_top_level(text_or_list) if isinstance(text_or_list, str) else list(text_or_list)
    specs: List[LossSpec] = []
    seen: Dict[Tuple[str, Tuple[Tuple[str, str], ...]], str] = {}
    for item in items:
        match = _SPEC.match(item)
        if not match:
            raise LabError(f"cannot read the loss {item!r}; write name or name(key=value, ...)")
        name, args = match.group(1), match.group(2)
        try:
            canonical = get_class(name).name
        except ValueError as exc:
            raise LabError(str(exc).replace("losskit.get_class: ", "")) from None
        if canonical not in task.compatible:
            fits = ", ".join(task.compatible)
            raise LabError(
                f"the loss {canonical!r} does not fit the {task.kind} task {task.name!r}; losses that fit: {fits}"
            )
        kwargs = {}
        for pair in _split_top_level(args or ""):
            if "=" not in pair:
                raise LabError(f"cannot read {pair!r} in {item!r}; write key=value")
            key, value = pair.split("=", 1)
            kwargs[key.strip()] = _value(value)
        spec = LossSpec(item.strip(), canonical, kwargs)
        # a candidate listed twice would train twice and share one row label: the table could not tell them apart
        identity = _identity(spec)
        if identity in seen:
            first = seen[identity]
            also = f" (as {first!r} and {spec.text!r})" if first != spec.text else ""
            raise LabError(f"the loss {spec.text!r} is listed twice in --losses{also}; list each candidate once")
        seen[identity] = spec.text
        specs.append(spec)
    if not specs:
        raise LabError("no losses to compare")
    return specs


def _mlp(n_in: int, n_out: int, hidden_layers: int, width: int) -> nn.Module:
    layers, size = [], n_in
    for _ in range(hidden_layers):
        layers += [nn.Linear(size, width), nn.ReLU()]
        size = width
    return nn.Sequential(*layers, nn.Linear(size, n_out))


def _n_classes(split: Split) -> int:
    return int(max(split.y_train.max(), split.y_val.max(), split.y_test.max())) + 1


def _target_scaling(split: Split) -> Tuple[float, float]:
    """Center and scale for regression targets: robust statistics of the (noisy) training targets."""
    center = float(np.median(split.y_train))
    return center, float(1.4826 * np.median(np.abs(split.y_train - center))) or 1.0


def _build_loss(spec: LossSpec, split: Split, task: Task) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    kwargs = dict(spec.kwargs)
    if kwargs.get("weight") == "balanced":  # inverse class frequency of the training part, normalised to mean 1
        counts = np.bincount(split.y_train, minlength=_n_classes(split)).astype(np.float64)
        w = counts.sum() / (len(counts) * np.maximum(counts, 1))
        kwargs["weight"] = torch.tensor(w, dtype=torch.float32)
    try:
        module = get(spec.name, **kwargs)
    except (TypeError, ValueError) as exc:
        raise LabError(f"{spec.text}: {exc}") from None
    if spec.name == "nll":
        return lambda out, y: module(torch.log_softmax(out, 1), y)
    return module


@dataclasses.dataclass
class RunResult:
    """One (loss, seed) run.

    Attributes:
        loss: the loss as written (the row label).
        seed: the seed of the split, the initialisation and the batch order.
        metrics: test metrics of the weights from ``best_epoch``.
        train_curve: mean training loss per epoch.
        val_curve: validation cross-entropy (classification) or MAE in target units (regression) per epoch.
        best_epoch: the 1-based epoch with the best validation primary metric, whose weights are scored.
        val_metric: the validation primary metric at ``best_epoch``.
        val_metric_curve: the validation primary metric per epoch.
    """

    loss: str
    seed: int
    metrics: Dict[str, float]
    train_curve: List[float]
    val_curve: List[float]
    best_epoch: int
    val_metric: float
    val_metric_curve: List[float]


@dataclasses.dataclass
class CompareResult:
    task: str
    primary: str
    higher_is_better: bool
    metric_names: Sequence[str]
    runs: List[RunResult]
    settings: Dict[str, Any]

    def summary(self) -> List[Dict[str, Any]]:
        """One row per loss: mean and std of every test metric over seeds, best first by the primary metric.

        ``best_epoch`` is the mean over seeds of the epoch each run was scored at.
        """
        rows = []
        for loss in dict.fromkeys(r.loss for r in self.runs):
            runs = [r for r in self.runs if r.loss == loss]
            row: Dict[str, Any] = {"loss": loss, "seeds": len(runs)}
            for m in self.metric_names:
                values = np.array([r.metrics[m] for r in runs], dtype=np.float64)
                row[m] = float(values.mean())
                row[m + "_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
            row["best_epoch"] = float(np.mean([r.best_epoch for r in runs]))
            rows.append(row)
        rows.sort(key=lambda r: r[self.primary], reverse=self.higher_is_better)
        for rank, row in enumerate(rows, 1):
            row["rank"] = rank
        return rows


def _balanced_accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    """Mean per-class recall over the classes present in ``labels`` (what scikit-learn computes), without its overhead.

    It runs after every epoch of every run, where scikit-learn's input checks cost more than the forward pass.
    """
    return float(np.mean([(pred[labels == c] == c).mean() for c in np.unique(labels)]))


def _train_one(
    task: Task, split: Split, spec: LossSpec, seed: int, epochs: int, batch_size: int, lr: float
) -> RunResult:
    torch.manual_seed(seed)
    x_train, x_val, x_test = (torch.from_numpy(a) for a in (split.x_train, split.x_val, split.x_test))
    if task.kind == "classification":
        n_out = _n_classes(split)
        y_train, y_val = torch.from_numpy(split.y_train), torch.from_numpy(split.y_val)
        center, target_scale = 0.0, 1.0
    else:
        n_out = 1
        # targets standardised with robust statistics of the (noisy) training targets; metrics in original units
        center, target_scale = _target_scaling(split)
        y_train = (torch.from_numpy(split.y_train) - center) / target_scale
        y_val = (torch.from_numpy(split.y_val) - center) / target_scale
    loss_fn = _build_loss(spec, split, task)
    model = _mlp(x_train.shape[1], n_out, task.hidden_layers, task.width)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=task.weight_decay)
    gen = torch.Generator().manual_seed(seed)
    train_curve: List[float] = []
    val_curve: List[float] = []
    val_metric_curve: List[float] = []
    best_key: Optional[Tuple[float, ...]] = None
    best_epoch, best_state = 0, None

    def predict(x):
        out = model(x)
        return out if task.kind == "classification" else out.squeeze(-1)

    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(x_train.shape[0], generator=gen)
        total, count = 0.0, 0
        for start in range(0, x_train.shape[0], batch_size):
            idx = order[start : start + batch_size]
            loss = loss_fn(predict(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * idx.numel()
            count += idx.numel()
        train_curve.append(total / count)
        model.eval()
        with torch.no_grad():
            out = predict(x_val)
        if task.kind == "classification":
            val_loss = float(torch.nn.functional.cross_entropy(out, y_val))
            score = _balanced_accuracy(out.argmax(1).numpy(), split.y_val)
            # a small validation set ties often on accuracy-like metrics; the lower cross-entropy breaks the tie
            key: Tuple[float, ...] = (score, -val_loss)
        else:
            val_loss = score = float((out - y_val).abs().mean()) * target_scale  # MAE in target units
            key = (-score,)
        val_curve.append(val_loss)
        val_metric_curve.append(score)
        # strictly better only: among equal epochs the earliest is kept. A diverged epoch (NaN) is never kept.
        if all(math.isfinite(k) for k in key) and (best_key is None or key > best_key):
            best_key, best_epoch = key, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if best_state is None:
        raise LabError(f"{spec.text}: training diverged (non-finite validation metrics); try a smaller --lr")
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        out = predict(x_test)
    if task.kind == "classification":
        scores = classification_metrics(torch.softmax(out, 1).numpy(), split.y_test)
    else:
        pred = out.numpy() * target_scale + center
        scores = regression_metrics(pred, split.y_test)
    if not all(math.isfinite(v) for v in scores.values()):
        raise LabError(f"{spec.text}: training diverged (non-finite metrics); try a smaller --lr")
    return RunResult(
        spec.text, seed, scores, train_curve, val_curve, best_epoch, val_metric_curve[best_epoch - 1], val_metric_curve
    )


@dataclasses.dataclass(frozen=True)
class Plan:
    """A checked comparison, ready to run: everything :func:`plan_compare` accepted."""

    task: Task
    specs: Tuple[LossSpec, ...]
    epochs: int
    seeds: Tuple[int, ...]
    batch_size: int
    lr: float
    val_fraction: float


def _whole(value: Any, option: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise LabError(f"{option} takes a whole number; got {value!r}")
    return int(value)


def plan_compare(
    task_name: str = "imbalanced-digits",
    losses: Optional[Sequence[str] | str] = None,
    epochs: Optional[int] = None,
    seeds: int = 3,
    batch_size: int = 64,
    lr: float = 3e-3,
    first_seed: int = 0,
    val_fraction: float = VAL_FRACTION,
) -> Plan:
    """Check every setting of a comparison without training anything.

    Each loss is also built and evaluated once on a few examples of the first seed's split, so that bad
    arguments (``huber(delta=-1)``, ``focal(gamma=abc)``) fail here and not in the middle of a run.

    Args:
        task_name: a key of :data:`losskit.lab.tasks.TASKS`.
        losses: comma-separated or a list of ``name`` / ``name(key=value, ...)``; None: the task's defaults.
        epochs: epochs per run, 1 to ``MAX_EPOCHS``; None: 60 for classification, 80 for regression.
        seeds: runs per loss, 1 to ``MAX_SEEDS``.
        batch_size: minibatch size, at least 1.
        lr: AdamW learning rate, positive and finite.
        first_seed: the seeds are ``first_seed, ..., first_seed + seeds - 1``, so blocks of runs can be disjoint.
        val_fraction: share of the training set held out to pick each run's epoch, in (0, 0.5].

    Returns:
        The checked :class:`Plan`.

    Raises:
        LabError: any setting out of range, with a one-line message naming the command-line option.
    """
    if task_name not in TASKS:
        raise LabError(f"unknown task {task_name!r}; expected one of {', '.join(TASKS)}")
    task = TASKS[task_name]
    seeds = _whole(seeds, "--seeds")
    if not 1 <= seeds <= MAX_SEEDS:
        raise LabError(f"--seeds must be at least 1 and at most {MAX_SEEDS}; got {seeds}")
    first_seed = _whole(first_seed, "--first-seed")
    if not 0 <= first_seed <= MAX_SEED - seeds + 1:
        raise LabError(
            f"--first-seed must be at least 0 and at most {MAX_SEED - seeds + 1} (the last seed must stay below 2**32); got {first_seed}"
        )
    epochs = (60 if task.kind == "classification" else 80) if epochs is None else _whole(epochs, "--epochs")
    if not 1 <= epochs <= MAX_EPOCHS:
        raise LabError(f"--epochs must be at least 1 and at most {MAX_EPOCHS}; got {epochs}")
    batch_size = _whole(batch_size, "batch_size")
    if batch_size < 1:
        raise LabError(f"batch_size must be at least 1; got {batch_size}")
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr <= 0:
        raise LabError(f"--lr must be a positive, finite number; got {lr!r}")
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, numbers.Real) or not 0 < val_fraction <= 0.5:
        raise LabError(f"val_fraction must be in (0, 0.5]; got {val_fraction!r}")
    specs = parse_loss_specs(losses if losses else task.default_losses, task)
    split = task.load(first_seed, float(val_fraction))
    _try_losses(task, split, specs)
    return Plan(
        task,
        tuple(specs),
        epochs,
        tuple(range(first_seed, first_seed + seeds)),
        batch_size,
        float(lr),
        float(val_fraction),
    )


def _try_losses(task: Task, split: Split, specs: Sequence[LossSpec]) -> None:
    """Build each loss and run it forward and backward on a few training examples with random outputs."""
    gen = torch.Generator().manual_seed(0)
    n = min(8, split.y_train.shape[0])
    if task.kind == "classification":
        y = torch.from_numpy(split.y_train[:n])
        out_shape: Tuple[int, ...] = (n, _n_classes(split))
    else:
        center, scale = _target_scaling(split)  # the targets the run will train on
        y = (torch.from_numpy(split.y_train[:n]) - center) / scale
        out_shape = (n,)
    for spec in specs:
        out = torch.randn(out_shape, generator=gen).requires_grad_(True)
        loss_fn = _build_loss(spec, split, task)
        try:
            loss_fn(out, y).backward()
        except (TypeError, ValueError, RuntimeError) as exc:
            raise LabError(f"{spec.text}: {exc}") from None


def available_cores() -> int:
    """CPUs this process may run on: its affinity mask where the OS has one (containers, taskset), else the count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS and Windows have no sched_getaffinity
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def _lab_threads() -> Iterator[int]:
    """Run with torch's intra-op threads capped at the available cores, then restore the caller's setting.

    torch's default can exceed what the process may use (it counts the machine's cores, not the affinity mask
    of a container or of a pytest-xdist worker); more threads than cores makes every small matmul wait on the
    scheduler. A caller that asked for fewer threads keeps them: that is how parallel callers share cores.

    Yields:
        The number of threads the lab runs with.
    """
    previous = torch.get_num_threads()
    threads = max(1, min(available_cores(), previous))
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(previous)


def run_plan(plan: Plan, progress: Optional[Callable[[str], None]] = None) -> CompareResult:
    """Train one small MLP per (loss, seed) of a checked plan and collect the test metrics at the best validation epoch."""
    task = plan.task
    runs = []
    with _lab_threads() as threads:
        for seed in plan.seeds:
            split = task.load(seed, plan.val_fraction)
            for spec in plan.specs:
                runs.append(_train_one(task, split, spec, seed, plan.epochs, plan.batch_size, plan.lr))
                if progress:
                    progress(spec.text)
    settings = {
        "epochs": plan.epochs,
        "seeds": len(plan.seeds),
        "first_seed": plan.seeds[0],
        "seed_list": list(plan.seeds),
        "batch_size": plan.batch_size,
        "lr": plan.lr,
        "losses": [s.text for s in plan.specs],
        "task_description": task.description,
        "val_fraction": plan.val_fraction,
        "selection": f"test metrics at the best validation epoch (validation {task.primary}, "
        f"{plan.val_fraction:.0%} of the training set held out)",
        "torch_threads": threads,
    }
    return CompareResult(task.name, task.primary, task.higher_is_better, task.metrics, runs, settings)


def run_compare(
    task_name: str = "imbalanced-digits",
    losses: Optional[Sequence[str] | str] = None,
    epochs: Optional[int] = None,
    seeds: int = 3,
    batch_size: int = 64,
    lr: float = 3e-3,
    progress: Optional[Callable[[str], None]] = None,
    first_seed: int = 0,
    val_fraction: float = VAL_FRACTION,
) -> CompareResult:
    """Check the settings (:func:`plan_compare`), then train one small MLP per (loss, seed) (:func:`run_plan`).

    Returns:
        Test metrics at each run's best validation epoch, with the chosen epochs and the validation curves.

    Raises:
        LabError: a bad setting (before any training) or a run that diverged.
    """
    plan = plan_compare(
        task_name,
        losses,
        epochs=epochs,
        seeds=seeds,
        batch_size=batch_size,
        lr=lr,
        first_seed=first_seed,
        val_fraction=val_fraction,
    )
    return run_plan(plan, progress)
