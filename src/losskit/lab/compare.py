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
import multiprocessing
import numbers
import os
import re
import signal
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from .._core.registry import get_class
from . import kinds, stats
from .tasks import TASKS, VAL_FRACTION, Split, Task, find_task, task_from_npz

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


def _build_loss(spec: LossSpec, split: Split, task: Task, ctx: Optional[kinds.Context] = None) -> Callable[..., Any]:
    try:
        return kinds.build_loss(spec.name, spec.kwargs, task, split, ctx or kinds.context(task, split))
    except kinds.LossArgumentError as exc:
        raise LabError(f"{spec.text}: {exc}") from None


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
        lr: the learning rate of the scored weights (chosen on validation with ``--tune lr``).
        extra: per-class test recall (classification), in class order.
        seconds: wall time of the run.
    """

    loss: str
    seed: int
    metrics: Dict[str, float]
    train_curve: List[float]
    val_curve: List[float]
    best_epoch: int
    val_metric: float
    val_metric_curve: List[float]
    lr: float = 0.0
    extra: Dict[str, Any] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    #: CPU time of the run's process: what the run costs on a free core, whatever the machine's load
    cpu_seconds: float = 0.0

    def to_json(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> RunResult:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})


@dataclasses.dataclass
class CompareResult:
    """Every finished run of a comparison and the settings; the statistics are derived on demand.

    ``interrupted`` is True when the comparison stopped early (Ctrl-C): the runs are the ones that finished.
    """

    task: str
    primary: str
    higher_is_better: bool
    metric_names: Sequence[str]
    runs: List[RunResult]
    settings: Dict[str, Any]
    interrupted: bool = False
    #: reference predictors without a network: ``{name: {seed: test metrics}}`` (regression: constant, HuberRegressor)
    baselines: Dict[str, Dict[int, Dict[str, float]]] = dataclasses.field(default_factory=dict)

    def task_kind(self) -> str:
        return str(self.settings.get("task_kind", "regression" if not self.higher_is_better else "classification"))

    def losses(self) -> List[str]:
        """The candidates with at least one finished run, in the order given."""
        given = list(self.settings.get("losses", []))
        seen = list(dict.fromkeys(r.loss for r in self.runs))
        return [loss for loss in given if loss in seen] + [loss for loss in seen if loss not in given]

    def per_seed(self, metric: Optional[str] = None) -> Dict[str, Dict[int, float]]:
        """``{loss: {seed: test metric}}`` for ``metric`` (default: the primary metric)."""
        metric = metric or self.primary
        return {loss: {r.seed: r.metrics[metric] for r in self.runs if r.loss == loss} for loss in self.losses()}

    def analysis(self) -> stats.Analysis:
        """Intervals, paired tests against the best, ranks with ties (:func:`losskit.lab.stats.analyse`)."""
        every_metric = {
            # repr: "n/a" metrics are NaN, and NaN != NaN would hide two identical candidates
            loss: {r.seed: tuple(repr(r.metrics[m]) for m in self.metric_names) for r in self.runs if r.loss == loss}
            for loss in self.losses()
        }
        return stats.analyse(self.per_seed(), self.higher_is_better, identical_runs=every_metric)

    def verdict(self, analysis: Optional[stats.Analysis] = None) -> Dict[str, Any]:
        """``{"best": [the tied-best set], "text": the answer in words}``."""
        analysis = analysis or self.analysis()
        caveats = list(self.settings.get("caveats", []))
        if self.interrupted:
            caveats.append(
                f"Interrupted: {len(self.runs)} of {self.settings.get('planned_runs', '?')} runs finished; "
                "resume with --resume to complete it."
            )
        grid = sorted(self.settings.get("lr_grid") or [])
        if self.settings.get("tune") == "lr" and len(grid) > 1:
            for loss in analysis.best:
                lrs = [r.lr for r in self.runs if r.loss == loss]
                for edge, word in ((grid[-1], "largest"), (grid[0], "smallest")):
                    hits = sum(lr == edge for lr in lrs)
                    if lrs and hits * 2 > len(lrs):
                        caveats.append(
                            f"With --tune lr, {loss} chose {edge:g}, the {word} rate of the grid, on {hits} of "
                            f"{len(lrs)} seeds: its best rate may lie beyond the grid."
                        )
        if analysis.rows:
            top = analysis.rows[0]
            sign = 1.0 if self.higher_is_better else -1.0
            for name, per_seed in self.baselines.items():
                value = float(np.mean([v[self.primary] for v in per_seed.values()]))
                if sign * value >= sign * top.mean:
                    caveats.append(
                        f"The baseline {name} scores {value:.4g} without a network, at least as well as {top.loss} "
                        f"({top.mean:.4g}): the network earns nothing here."
                    )
        text = stats.verdict(
            analysis,
            self.per_seed(),
            self.primary.replace("_", " "),
            self.higher_is_better,
            self.settings.get("reference"),
            caveats,
        )
        return {"best": list(analysis.best), "text": text}

    def summary(self, analysis: Optional[stats.Analysis] = None) -> List[Dict[str, Any]]:
        """One row per loss, best first: ``loss`` (as written), ``mean`` and ``ci95`` of the primary metric,
        ``rank`` (the tied-best set shares rank 1; identical candidates share a rank), ``rank_label`` ("1="),
        the paired comparison with the best (``diff_vs_best``, ``diff_ci95``, ``p_vs_best`` after Holm), and the
        mean, std and 95% interval of every test metric. ``best_epoch`` is the mean chosen epoch over seeds.
        """
        analysis = analysis or self.analysis()
        rows = []
        for st in analysis.rows:
            runs = [r for r in self.runs if r.loss == st.loss]
            row: Dict[str, Any] = {
                "loss": st.loss,
                "rank": st.rank,
                "rank_label": st.rank_label,
                "seeds": st.n,
                "mean": st.mean,
                "ci95": list(st.ci95) if st.ci95 is not None else None,
                "diff_vs_best": st.diff,
                "diff_ci95": list(st.diff_ci95) if st.diff_ci95 is not None else None,
                "p_vs_best": st.p_holm,
                "p_vs_best_uncorrected": st.p_raw,
            }
            for m in self.metric_names:
                values = np.array([r.metrics[m] for r in runs], dtype=np.float64)
                finite = values[np.isfinite(values)]  # "n/a" metrics (ECE of a margin loss) are NaN
                row[m] = float(finite.mean()) if finite.size else None
                row[m + "_std"] = float(finite.std(ddof=1)) if finite.size > 1 else None
                ci = stats.t_interval(finite) if finite.size == values.size else None
                row[m + "_ci95"] = list(ci) if ci is not None else None
            row["best_epoch"] = float(np.mean([r.best_epoch for r in runs]))
            rows.append(row)
        return rows


#: the learning rates ``--tune lr`` tries for every run, a factor ~3 apart around the default 3e-3
LR_GRID = (1e-3, 3e-3, 1e-2)


@dataclasses.dataclass
class _Fit:
    """One training at one learning rate: the best validation epoch's weights and the curves."""

    key: Tuple[float, ...]
    best_epoch: int
    model: nn.Module
    train_curve: List[float]
    val_curve: List[float]
    val_metric_curve: List[float]
    lr: float


def _build_model(task: Task, split: Split) -> nn.Module:
    return kinds.build_model(task, split, kinds.context(task, split))


def _fit(
    task: Task, split: Split, spec: LossSpec, seed: int, epochs: int, batch_size: int, lr: float
) -> Optional[_Fit]:
    """Train at one learning rate; None when no epoch had finite validation metrics (diverged)."""
    torch.manual_seed(seed)  # the same initialisation and batch order for every loss and learning rate
    ctx = kinds.context(task, split)
    x_train, x_val = torch.from_numpy(split.x_train), torch.from_numpy(split.x_val)
    y_train, y_val = kinds.targets(task, split, ctx)
    model = kinds.build_model(task, split, ctx)
    loss_fn = _build_loss(spec, split, task, ctx)
    # losses that own parameters (ArcFace's class centres, the softmax head of the embedding baseline) learn too
    params = list(model.parameters()) + (list(loss_fn.parameters()) if isinstance(loss_fn, nn.Module) else [])
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=task.weight_decay)
    gen = torch.Generator().manual_seed(seed)
    train_curve: List[float] = []
    val_curve: List[float] = []
    val_metric_curve: List[float] = []
    best_key: Optional[Tuple[float, ...]] = None
    best_epoch, best_state = 0, None
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(x_train.shape[0], generator=gen)
        total, count = 0.0, 0
        for start in range(0, x_train.shape[0], batch_size):
            idx = order[start : start + batch_size]
            loss = loss_fn(kinds.predict(task, model, x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * idx.numel()
            count += idx.numel()
        train_curve.append(total / count)
        model.eval()
        with torch.no_grad():
            out = kinds.predict(task, model, x_val)
        score, curve_value, key = kinds.validate(task, out, y_val, split, ctx)
        val_curve.append(curve_value)
        val_metric_curve.append(score)
        # strictly better only: among equal epochs the earliest is kept. A diverged epoch (NaN) is never kept.
        if all(math.isfinite(k) for k in key) and (best_key is None or key > best_key):
            best_key, best_epoch = key, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if best_state is None or best_key is None:
        return None
    model.load_state_dict(best_state)
    model.eval()
    return _Fit(best_key, best_epoch, model, train_curve, val_curve, val_metric_curve, lr)


def _train_one(
    task: Task, split: Split, spec: LossSpec, seed: int, epochs: int, batch_size: int, lrs: Sequence[float]
) -> RunResult:
    """Train at each learning rate of ``lrs``, keep the (learning rate, epoch) best on validation, score the test set once."""
    start, cpu_start = time.perf_counter(), time.process_time()
    best: Optional[_Fit] = None
    for lr in lrs:
        fit = _fit(task, split, spec, seed, epochs, batch_size, lr)
        if fit is not None and (best is None or fit.key > best.key):  # ties keep the earlier (smaller) rate
            best = fit
    if best is None:
        raise LabError(f"{spec.text}: training diverged (non-finite validation metrics); try a smaller --lr")
    model = best.model

    def forward(x: np.ndarray) -> torch.Tensor:
        with torch.no_grad():
            return kinds.predict(task, model, torch.from_numpy(x))

    scores, extra = kinds.test_metrics(task, spec.name, forward, split, kinds.context(task, split))
    # "n/a" metrics (calibration of a margin loss) are NaN on purpose; any other non-finite value is a divergence
    if not all(math.isfinite(v) for k, v in scores.items() if k not in ("ece", "brier")):
        raise LabError(f"{spec.text}: training diverged (non-finite metrics); try a smaller --lr")
    return RunResult(
        spec.text,
        seed,
        scores,
        best.train_curve,
        best.val_curve,
        best.best_epoch,
        best.val_metric_curve[best.best_epoch - 1],
        best.val_metric_curve,
        lr=best.lr,
        extra=extra,
        seconds=time.perf_counter() - start,
        cpu_seconds=time.process_time() - cpu_start,
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
    #: the learning rates each run tries (one unless ``--tune lr``)
    lrs: Tuple[float, ...] = ()
    jobs: int = 1

    def to_json(self) -> Dict[str, Any]:
        """The settings :func:`plan_from_json` rebuilds the plan from (``--resume``)."""
        return {
            "task": self.task.name,
            "losses": [s.text for s in self.specs],
            "epochs": self.epochs,
            "seeds": len(self.seeds),
            "first_seed": self.seeds[0],
            "batch_size": self.batch_size,
            "lr": self.lr,
            "tune": "lr" if len(self.lrs) > 1 else None,
            "val_fraction": self.val_fraction,
            "data": self.task.data_path,
        }


def _whole(value: Any, option: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise LabError(f"{option} takes a whole number; got {value!r}")
    return int(value)


def plan_compare(
    task_name: str | Task = "imbalanced-digits",
    losses: Optional[Sequence[str] | str] = None,
    epochs: Optional[int] = None,
    seeds: int = 3,
    batch_size: Optional[int] = None,
    lr: Optional[float] = None,
    first_seed: int = 0,
    val_fraction: float = VAL_FRACTION,
    tune: Optional[str] = None,
    jobs: int = 1,
) -> Plan:
    """Check every setting of a comparison without training anything.

    Each loss is also built and evaluated once on a few examples of the first seed's split, so that bad
    arguments (``huber(delta=-1)``, ``focal(gamma=abc)``) fail here and not in the middle of a run.

    Args:
        task_name: a key of :data:`losskit.lab.tasks.TASKS`, or a :class:`~losskit.lab.tasks.Task` of your own.
        losses: comma-separated or a list of ``name`` / ``name(key=value, ...)``; None: the task's defaults.
        epochs: epochs per run, 1 to ``MAX_EPOCHS``; None: the task's default (60 classification, 80 regression).
        seeds: runs per loss, 1 to ``MAX_SEEDS``.
        batch_size: minibatch size, at least 1; None: the task's (64 for most).
        lr: AdamW learning rate, positive and finite (ignored with ``tune="lr"``); None: the task's (3e-3 for most).
        first_seed: the seeds are ``first_seed, ..., first_seed + seeds - 1``, so blocks of runs can be disjoint.
        val_fraction: share of the training set held out to pick each run's epoch, in (0, 0.5].
        tune: None, or ``"lr"`` to choose each run's learning rate from :data:`LR_GRID` on validation.
        jobs: runs trained at once in worker processes (one torch thread each), 1 to the available cores.

    Returns:
        The checked :class:`Plan`.

    Raises:
        LabError: any setting out of range, with a one-line message naming the command-line option.
    """
    if isinstance(task_name, Task):
        task = task_name
    elif task_name not in TASKS:
        raise LabError(f"unknown task {task_name!r}; expected one of {', '.join(TASKS)}")
    else:
        task = TASKS[task_name]
    seeds = _whole(seeds, "--seeds")
    if not 1 <= seeds <= MAX_SEEDS:
        raise LabError(f"--seeds must be at least 1 and at most {MAX_SEEDS}; got {seeds}")
    first_seed = _whole(first_seed, "--first-seed")
    if not 0 <= first_seed <= MAX_SEED - seeds + 1:
        raise LabError(
            f"--first-seed must be at least 0 and at most {MAX_SEED - seeds + 1} (the last seed must stay below 2**32); got {first_seed}"
        )
    default_epochs = task.epochs or (80 if task.kind == "regression" else 60)
    epochs = default_epochs if epochs is None else _whole(epochs, "--epochs")
    if not 1 <= epochs <= MAX_EPOCHS:
        raise LabError(f"--epochs must be at least 1 and at most {MAX_EPOCHS}; got {epochs}")
    batch_size = task.batch_size if batch_size is None else _whole(batch_size, "batch_size")
    lr = task.lr if lr is None else lr
    if batch_size < 1:
        raise LabError(f"batch_size must be at least 1; got {batch_size}")
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr <= 0:
        raise LabError(f"--lr must be a positive, finite number; got {lr!r}")
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, numbers.Real) or not 0 < val_fraction <= 0.5:
        raise LabError(f"val_fraction must be in (0, 0.5]; got {val_fraction!r}")
    if tune not in (None, "lr"):
        raise LabError(f"--tune takes 'lr'; got {tune!r}")
    jobs = _whole(jobs, "--jobs")
    if not 1 <= jobs <= max(1, available_cores()):
        raise LabError(f"--jobs must be at least 1 and at most the {available_cores()} available cores; got {jobs}")
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
        LR_GRID if tune == "lr" else (float(lr),),
        jobs,
    )


def plan_from_json(data: Dict[str, Any], jobs: int = 1) -> Plan:
    """Rebuild (and check again) the plan :meth:`Plan.to_json` recorded."""
    try:
        task: Any = data["task"]
        if data.get("data"):
            try:
                task = task_from_npz(data["data"])
            except ValueError as exc:
                raise LabError(str(exc)) from None
        elif find_task(task) is not None:
            task = find_task(task)
        return plan_compare(
            task,
            data["losses"],
            epochs=data["epochs"],
            seeds=data["seeds"],
            batch_size=data["batch_size"],
            lr=data["lr"],
            first_seed=data["first_seed"],
            val_fraction=data["val_fraction"],
            tune=data.get("tune"),
            jobs=jobs,
        )
    except KeyError as exc:
        raise LabError(f"the recorded plan lacks {exc.args[0]!r}; it was not written by losskit compare") from None


def _try_losses(task: Task, split: Split, specs: Sequence[LossSpec]) -> None:
    """Build each loss and run it forward and backward through an untrained model on a few training examples."""
    torch.manual_seed(0)
    ctx = kinds.context(task, split)
    n = min(32, split.y_train.shape[0])
    y, _ = kinds.targets(task, split, ctx)
    x = torch.from_numpy(split.x_train[:n])
    model = kinds.build_model(task, split, ctx)
    for spec in specs:
        loss_fn = _build_loss(spec, split, task, ctx)
        try:
            loss_fn(kinds.predict(task, model, x), y[:n]).backward()
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
    """Train with one torch intra-op thread, then restore the caller's setting.

    The lab's models are small: a second intra-op thread buys little on an idle machine and costs several times
    the wall time on a loaded one (threads spinning in OpenMP barriers; 94 s instead of 9 s for one digits seed
    with 2 threads on a busy 2-core machine). One thread per run is also what makes ``--jobs N`` give results
    identical to ``--jobs 1``: the same kernels reduce in the same order.

    Yields:
        The number of threads the lab runs with (1).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield 1
    finally:
        torch.set_num_threads(previous)


#: splits loaded in this process, by (task object, seed, validation fraction): each seed's split is built once.
#: Keyed by the task object, not its name: two tasks of your own may share a name and hold different data.
#: The value keeps the task alive, so its id cannot be reused by another object while cached.
_SPLITS: Dict[Tuple[int, int, float], Tuple[Task, Split]] = {}


def _split_for(task: Task, seed: int, val_fraction: float) -> Split:
    key = (id(task), seed, val_fraction)
    if key not in _SPLITS:
        if len(_SPLITS) >= 4:  # runs come seed by seed: an old seed is not needed again
            _SPLITS.pop(next(iter(_SPLITS)))
        _SPLITS[key] = (task, task.load(seed, val_fraction))
    return _SPLITS[key][1]


def _worker_init() -> None:
    # Ctrl-C reaches the whole process group: the parent handles it (keeps the finished runs, stops the pool)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)


def _job(args: Tuple[Task, LossSpec, int, int, int, Tuple[float, ...], float]) -> Tuple[bool, Any]:
    task, spec, seed, epochs, batch_size, lrs, val_fraction = args
    try:
        return True, _train_one(task, _split_for(task, seed, val_fraction), spec, seed, epochs, batch_size, lrs)
    except LabError as exc:  # a user-facing error travels back as text (exceptions pickle poorly)
        return False, str(exc)


def _versions() -> Dict[str, str]:
    import platform
    from importlib import metadata

    found = {"python": platform.python_version()}
    for dist in ("losskit", "torch", "numpy", "scipy", "scikit-learn", "matplotlib"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = "not installed"
    return found


def _reference(plan: Plan) -> Optional[str]:
    """The candidate that is the task's usual default loss (written any way), or None when it is not compared."""
    target = _identity(LossSpec(plan.task.reference_loss, plan.task.reference_loss, {}))
    for spec in plan.specs:
        if _identity(spec) == target:
            return spec.text
    return None


def plan_settings(plan: Plan) -> Dict[str, Any]:
    """What a results file records about a plan, before any run: settings, versions, model and split sizes."""
    task = plan.task
    split = _split_for(task, plan.seeds[0], plan.val_fraction)
    model = _build_model(task, split)
    return {
        "epochs": plan.epochs,
        "seeds": len(plan.seeds),
        "first_seed": plan.seeds[0],
        "seed_list": list(plan.seeds),
        "batch_size": plan.batch_size,
        "lr": plan.lr if len(plan.lrs) == 1 else None,
        "lr_grid": list(plan.lrs),
        "tune": "lr" if len(plan.lrs) > 1 else None,
        "losses": [s.text for s in plan.specs],
        "reference": _reference(plan),
        "task_kind": task.kind,
        "task_description": task.description,
        "val_fraction": plan.val_fraction,
        "selection": f"test metrics at the best validation epoch (validation {task.primary}, "
        f"{plan.val_fraction:.0%} of the training set held out)",
        "torch_threads": 1,
        "jobs": plan.jobs,
        "planned_runs": len(plan.specs) * len(plan.seeds),
        "model": {
            "description": repr(model).replace("\n", " "),
            "parameters": sum(p.numel() for p in model.parameters()),
        },
        "split_sizes": {
            "train": int(split.y_train.shape[0]),
            "validation": int(split.y_val.shape[0]),
            "test": int(split.y_test.shape[0]),
        },
        "versions": _versions(),
    }


def run_plan(
    plan: Plan,
    progress: Optional[Callable[[str], None]] = None,
    on_run: Optional[Callable[[RunResult], None]] = None,
    done: Sequence[RunResult] = (),
) -> CompareResult:
    """Train one model per (loss, seed) of a checked plan; test metrics at the best validation epoch.

    Runs go seed by seed, losses in the given order (``plan.jobs`` at once in worker processes). Ctrl-C
    (KeyboardInterrupt) stops the comparison: the runs finished so far are returned with ``interrupted=True``.

    Args:
        plan: from :func:`plan_compare`.
        progress: called with the loss after each finished run.
        on_run: called with each finished run as it finishes (``runs.jsonl`` is appended this way).
        done: runs finished earlier (``--resume``); their (loss, seed) pairs are not trained again.

    Returns:
        The runs in plan order, the settings and the baselines of the seeds that ran.
    """
    task = plan.task
    order = {(s.text, seed): i for i, (seed, s) in enumerate((seed, s) for seed in plan.seeds for s in plan.specs)}
    runs = [r for r in done if (r.loss, r.seed) in order]
    finished = {(r.loss, r.seed) for r in runs}
    todo = [(spec, seed) for seed in plan.seeds for spec in plan.specs if (spec.text, seed) not in finished]
    settings = plan_settings(plan)
    start = time.perf_counter()
    interrupted = False

    def finish(run: RunResult) -> None:
        runs.append(run)
        if on_run:
            on_run(run)
        if progress:
            progress(run.loss)

    try:
        if plan.jobs == 1 or len(todo) <= 1:
            with _lab_threads():
                for spec, seed in todo:
                    split = _split_for(task, seed, plan.val_fraction)
                    finish(_train_one(task, split, spec, seed, plan.epochs, plan.batch_size, plan.lrs))
        else:
            # spawn, not fork: the parent has torch's thread pools running, which a forked child would inherit broken
            pool = multiprocessing.get_context("spawn").Pool(min(plan.jobs, len(todo)), initializer=_worker_init)
            try:
                args = [
                    (task, spec, seed, plan.epochs, plan.batch_size, plan.lrs, plan.val_fraction) for spec, seed in todo
                ]
                for ok, payload in pool.imap_unordered(_job, args):
                    if not ok:
                        raise LabError(payload)
                    finish(payload)
                pool.close()
            except BaseException:
                pool.terminate()
                raise
            finally:
                pool.join()
    except KeyboardInterrupt:
        interrupted = True
    runs.sort(key=lambda r: order[(r.loss, r.seed)])
    settings["wall_seconds"] = time.perf_counter() - start
    settings["run_seconds"] = sum(r.seconds for r in runs)
    settings["run_cpu_seconds"] = sum(r.cpu_seconds for r in runs)
    seeds_run = sorted({r.seed for r in runs})
    baselines = {
        name: {seed: values for seed, values in per_seed.items()}
        for name, per_seed in _baselines(task, seeds_run, plan.val_fraction).items()
    }
    return CompareResult(
        task.name, task.primary, task.higher_is_better, task.metrics, runs, settings, interrupted, baselines
    )


def _baselines(task: Task, seeds: Sequence[int], val_fraction: float) -> Dict[str, Dict[int, Dict[str, float]]]:
    """The task's reference predictors (no network) on each seed's split: ``{name: {seed: test metrics}}``."""
    if task.baselines is None:
        return {}
    out: Dict[str, Dict[int, Dict[str, float]]] = {}
    for seed in seeds:
        for name, metrics in task.baselines(_split_for(task, seed, val_fraction)).items():
            out.setdefault(name, {})[seed] = metrics
    return out


def run_compare(
    task_name: str | Task = "imbalanced-digits",
    losses: Optional[Sequence[str] | str] = None,
    epochs: Optional[int] = None,
    seeds: int = 3,
    batch_size: Optional[int] = None,
    lr: Optional[float] = None,
    progress: Optional[Callable[[str], None]] = None,
    first_seed: int = 0,
    val_fraction: float = VAL_FRACTION,
    tune: Optional[str] = None,
    jobs: int = 1,
) -> CompareResult:
    """Compare losses from Python: check the settings (:func:`plan_compare`), then train (:func:`run_plan`).

    ``task_name`` is a bundled task's name or a :class:`~losskit.lab.tasks.Task` of your own (see
    :func:`losskit.lab.tasks.task_from_arrays`).

    Returns:
        Test metrics at each run's best validation epoch, with the chosen epochs and the validation curves;
        ``.summary()``, ``.verdict()`` and ``.analysis()`` give the statistics.

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
        tune=tune,
        jobs=jobs,
    )
    return run_plan(plan, progress)
