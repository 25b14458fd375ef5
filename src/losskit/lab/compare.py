"""Train the same small model with each loss, several seeds, and rank the losses."""
from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
from torch import nn

from .._core.registry import get, get_class
from .tasks import TASKS, Split, Task, classification_metrics, regression_metrics


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


def parse_loss_specs(text_or_list, task: Task) -> List[LossSpec]:
    items = _split_top_level(text_or_list) if isinstance(text_or_list, str) else list(text_or_list)
    specs = []
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
            raise LabError(f"the loss {canonical!r} does not fit the {task.kind} task {task.name!r}; losses that fit: {fits}")
        kwargs = {}
        for pair in _split_top_level(args or ""):
            if "=" not in pair:
                raise LabError(f"cannot read {pair!r} in {item!r}; write key=value")
            key, value = pair.split("=", 1)
            kwargs[key.strip()] = _value(value)
        specs.append(LossSpec(item.strip(), canonical, kwargs))
    if not specs:
        raise LabError("no losses to compare")
    return specs


def _mlp(n_in: int, n_out: int, hidden_layers: int, width: int) -> nn.Module:
    layers, size = [], n_in
    for _ in range(hidden_layers):
        layers += [nn.Linear(size, width), nn.ReLU()]
        size = width
    return nn.Sequential(*layers, nn.Linear(size, n_out))


def _build_loss(spec: LossSpec, split: Split, task: Task) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    kwargs = dict(spec.kwargs)
    if kwargs.get("weight") == "balanced":  # inverse class frequency, normalised to mean 1
        counts = np.bincount(split.y_train, minlength=int(split.y_test.max()) + 1).astype(np.float64)
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
    loss: str
    seed: int
    metrics: Dict[str, float]
    train_curve: List[float]
    test_curve: List[float]


@dataclasses.dataclass
class CompareResult:
    task: str
    primary: str
    higher_is_better: bool
    metric_names: Sequence[str]
    runs: List[RunResult]
    settings: Dict[str, Any]

    def summary(self) -> List[Dict[str, Any]]:
        """One row per loss: mean and std of every metric over seeds, best first by the primary metric."""
        rows = []
        for loss in dict.fromkeys(r.loss for r in self.runs):
            runs = [r for r in self.runs if r.loss == loss]
            row: Dict[str, Any] = {"loss": loss, "seeds": len(runs)}
            for m in self.metric_names:
                values = np.array([r.metrics[m] for r in runs], dtype=np.float64)
                row[m] = float(values.mean())
                row[m + "_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
            rows.append(row)
        rows.sort(key=lambda r: r[self.primary], reverse=self.higher_is_better)
        for rank, row in enumerate(rows, 1):
            row["rank"] = rank
        return rows


def _train_one(task: Task, split: Split, spec: LossSpec, seed: int, epochs: int, batch_size: int, lr: float) -> RunResult:
    torch.manual_seed(seed)
    x_train, x_test = torch.from_numpy(split.x_train), torch.from_numpy(split.x_test)
    if task.kind == "classification":
        n_out = int(max(split.y_train.max(), split.y_test.max())) + 1
        y_train, y_test = torch.from_numpy(split.y_train), torch.from_numpy(split.y_test)
        target_scale = 1.0
    else:
        n_out = 1
        # targets standardised with robust statistics of the (noisy) training targets; metrics in original units
        center = float(np.median(split.y_train))
        target_scale = float(1.4826 * np.median(np.abs(split.y_train - center))) or 1.0
        y_train = (torch.from_numpy(split.y_train) - center) / target_scale
        y_test = (torch.from_numpy(split.y_test) - center) / target_scale
    loss_fn = _build_loss(spec, split, task)
    model = _mlp(x_train.shape[1], n_out, task.hidden_layers, task.width)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=task.weight_decay)
    gen = torch.Generator().manual_seed(seed)
    train_curve, test_curve = [], []

    def predict(x):
        out = model(x)
        return out if task.kind == "classification" else out.squeeze(-1)

    for _ in range(epochs):
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
            out = predict(x_test)
            if task.kind == "classification":
                test_curve.append(float(torch.nn.functional.cross_entropy(out, y_test)))
            else:
                test_curve.append(float((out - y_test).abs().mean()) * target_scale)
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
    return RunResult(spec.text, seed, scores, train_curve, test_curve)


def run_compare(
    task_name: str = "imbalanced-digits",
    losses: Optional[Sequence[str] | str] = None,
    epochs: Optional[int] = None,
    seeds: int = 3,
    batch_size: int = 64,
    lr: float = 3e-3,
    progress: Optional[Callable[[str], None]] = None,
) -> CompareResult:
    """Train one small MLP per (loss, seed) and collect held-out metrics."""
    if task_name not in TASKS:
        raise LabError(f"unknown task {task_name!r}; expected one of {', '.join(TASKS)}")
    if seeds < 1:
        raise LabError(f"--seeds must be at least 1; got {seeds}")
    task = TASKS[task_name]
    epochs = epochs if epochs is not None else (60 if task.kind == "classification" else 80)
    if epochs < 1:
        raise LabError(f"--epochs must be at least 1; got {epochs}")
    specs = parse_loss_specs(losses if losses else task.default_losses, task)
    runs = []
    for seed in range(seeds):
        split = task.load(seed)
        for spec in specs:
            runs.append(_train_one(task, split, spec, seed, epochs, batch_size, lr))
            if progress:
                progress(spec.text)
    settings = {"epochs": epochs, "seeds": seeds, "batch_size": batch_size, "lr": lr, "losses": [s.text for s in specs],
                "task_description": task.description}
    return CompareResult(task.name, task.primary, task.higher_is_better, task.metrics, runs, settings)
