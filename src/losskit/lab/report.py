"""The lab's outputs: a rich table and the verdict for the terminal, and the files of a comparison's directory.

The numbers everywhere are *test metrics at each run's best validation epoch* (see :mod:`losskit.lab.compare`),
with 95% t-intervals over seeds and ranks from paired tests against the best loss (:mod:`losskit.lab.stats`).

A comparison's directory holds:

* ``plan.json`` — the settings, written before the first run (``--resume`` rebuilds the plan from it);
* ``runs.jsonl`` — one line per finished run, appended (and flushed to disk) as each run finishes, so an
  interrupted or crashed comparison keeps every run it finished;
* ``results.json`` — settings, versions, model and split sizes, wall time, the verdict, the summary rows, the
  baselines and every run (``"interrupted": true`` when Ctrl-C stopped it);
* ``results.csv`` (one row per loss) and ``runs.csv`` (one row per run);
* ``results.png`` — the dot plot with intervals, validation curves and, for classification, per-class recall.

Output directory rules: :func:`check_out_dir` runs before any training, so a bad ``--out`` costs nothing. A
directory that already holds results is never overwritten silently: it is refused unless ``overwrite=True``
(``--overwrite``). Without ``--out`` each comparison gets a new directory, ``losskit-results/<task>-<time>/``
(:func:`default_out_dir`). :func:`write` writes every results file to a temporary file in the same directory
first and moves them into place with ``os.replace`` only once all of them are written, so a crash or a full disk
never leaves a half-written file.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import math
import os
import pathlib
import tempfile
import zlib
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union

import numpy as np
from rich.table import Table

from .compare import CompareResult, LabError, RunResult
from .stats import t_interval

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn, not when the command checks its options
    from matplotlib.figure import Figure

#: the files :func:`write` replaces atomically
RESULT_FILES = ("results.json", "results.csv", "runs.csv", "results.png")
#: every file that marks a directory as holding a comparison
ALL_FILES = ("plan.json", "runs.jsonl") + RESULT_FILES

SELECTION = "test metrics at the best validation epoch"

#: column titles of the terminal table
SHORT_NAMES = {
    "balanced_accuracy": "bal. acc",
    "macro_f1": "macro F1",
    "rare_recall": "rare recall",
    "worst_recall": "worst recall",
    "ece": "ECE (T-scaled)",
    "mae": "MAE",
    "rmse": "RMSE",
    "pr_auc": "PR-AUC",
    "f1": "F1",
    "brier": "Brier",
    "dice": "Dice",
    "object_recall": "object recall",
    "map_at_r": "MAP@R",
    "recall_at_1": "R@1",
    "memorised": "memorised",
    "accuracy": "accuracy",
}


class OutputError(LabError):
    """The output directory cannot take the results: a file is in the way, it is not writable, or it holds results."""


def _nearest_existing(path: pathlib.Path) -> pathlib.Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def default_out_dir(
    task: str, root: Union[str, os.PathLike] = "losskit-results", now: Optional[datetime.datetime] = None
) -> pathlib.Path:
    """``root/<task>-<YYYYmmdd-HHMMSS>``, with ``-2``, ``-3``... when that exists already: never an old directory."""
    stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = pathlib.Path(root) / f"{task}-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def check_out_dir(out_dir: Union[str, os.PathLike], overwrite: bool = False) -> pathlib.Path:
    """Check that the results can be written to ``out_dir``, without creating anything.

    Args:
        out_dir: the directory for the comparison's files; it need not exist yet.
        overwrite: allow replacing results already in ``out_dir``.

    Returns:
        ``out_dir`` as a Path.

    Raises:
        OutputError: ``out_dir`` or one of its parents is a file; the directory that would hold it cannot be
            written; or it already holds results and ``overwrite`` is False.
    """
    out_dir = pathlib.Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir} is a file, not a directory")
    base = _nearest_existing(out_dir)
    if base.exists() and not base.is_dir():
        raise OutputError(f"--out {out_dir} cannot be created: {base} is a file, not a directory")
    if out_dir.is_dir() and not overwrite:
        existing = [name for name in ALL_FILES if (out_dir / name).exists()]
        if existing:
            raise OutputError(
                f"--out {out_dir} already holds results ({', '.join(existing)}); "
                "pass --overwrite to replace them, --resume to complete them, or choose another --out"
            )
    # a real write, not os.access: root passes every permission check, and read-only mounts and ACLs fool it
    try:
        fd, probe = tempfile.mkstemp(dir=base, prefix=".losskit-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"--out {out_dir} is not writable: {exc.strerror or exc} ({base})") from None
    return out_dir


# --- the run log: plan.json and runs.jsonl ---


def start_log(out_dir: Union[str, os.PathLike], plan_json: Dict[str, Any], overwrite: bool = False) -> pathlib.Path:
    """Create ``out_dir`` with ``plan.json`` and an empty ``runs.jsonl`` (earlier files removed with ``overwrite``)."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if overwrite:
        for name in ALL_FILES:
            (out_dir / name).unlink(missing_ok=True)
    (out_dir / "plan.json").write_text(json.dumps(plan_json, indent=2))
    (out_dir / "runs.jsonl").touch()
    return out_dir / "runs.jsonl"


def append_run(log: Union[str, os.PathLike], run: RunResult) -> None:
    """Append one finished run to ``runs.jsonl`` and push it to disk: a later crash or Ctrl-C keeps it."""
    with open(log, "a", encoding="utf-8") as f:
        f.write(json.dumps(run.to_json()) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_log(out_dir: Union[str, os.PathLike]) -> Tuple[Dict[str, Any], List[RunResult]]:
    """The plan and the finished runs of a comparison directory (``--resume``).

    A last line cut short by a crash mid-write is ignored (that run is trained again).

    Raises:
        OutputError: the directory has no ``plan.json`` (it is not a comparison's directory).
    """
    out_dir = pathlib.Path(out_dir)
    try:
        plan = json.loads((out_dir / "plan.json").read_text())
    except FileNotFoundError:
        raise OutputError(f"--resume {out_dir}: no plan.json there; it is not a losskit compare directory") from None
    except json.JSONDecodeError as exc:
        raise OutputError(f"--resume {out_dir}: plan.json is not valid JSON ({exc})") from None
    runs = []
    log = out_dir / "runs.jsonl"
    if log.exists():
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                runs.append(RunResult.from_json(json.loads(line)))
            except (json.JSONDecodeError, TypeError):
                continue
    return plan, runs


# --- the terminal ---


def _fmt(value: Optional[float], digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _cell(row: Dict[str, Any], metric: str) -> str:
    mean, ci = row.get(metric), row.get(metric + "_ci95")
    if mean is None:
        return "n/a"
    digits = 3 if abs(mean) < 10 else 1
    if ci is None:  # one seed: no interval to show (never ±0)
        return f"{mean:.{digits}f} —"
    return f"{mean:.{digits}f} ±{(ci[1] - ci[0]) / 2:.{digits}f}"


def _digits(result: CompareResult) -> int:
    values = [abs(r.metrics[result.primary]) for r in result.runs]
    return 3 if not values or max(values) < 10 else 1


def table(result: CompareResult, summary: Optional[List[Dict[str, Any]]] = None) -> Table:
    """Ranked losses (the tied-best set "1="), each metric as mean ±95% CI half-width, then the baselines."""
    summary = summary if summary is not None else result.summary()
    arrow = "↑" if result.higher_is_better else "↓"
    seeds = max((row["seeds"] for row in summary), default=0)
    t = Table(
        title=f"losskit compare — {result.task}: {SELECTION}" + (" (interrupted)" if result.interrupted else ""),
        caption=f"ranked by test {result.primary} {arrow}: mean ±95% CI half-width over {seeds} seed(s) (— with one "
        f"seed); 1= marks the losses the paired tests do not show worse than the best by more than the equivalence margin (2% of its mean); vs best = paired mean difference, "
        f"Holm-corrected p; each run keeps the epoch with the best validation {result.primary}",
    )
    t.add_column("#", justify="right", no_wrap=True, min_width=2)
    t.add_column("loss", no_wrap=True)
    for m in result.metric_names:
        t.add_column(
            SHORT_NAMES.get(m, m) + (f" {arrow}" if m == result.primary else ""), justify="right", no_wrap=True
        )
    t.add_column("vs best", justify="right", no_wrap=True)
    t.add_column("best ep.", justify="right", no_wrap=True)
    tuned = result.settings.get("tune") == "lr"
    if tuned:
        t.add_column("lr (most seeds)", justify="right", no_wrap=True)
    digits = _digits(result)
    for row in summary:
        cells = [_cell(row, m) for m in result.metric_names]
        if row["diff_vs_best"] is None:
            versus = "—"
        else:
            p = row["p_vs_best"]
            versus = f"{row['diff_vs_best']:+.{digits}f}" + (f" p={p:.2g}" if p is not None else "")
        epoch = row["best_epoch"]
        extra = []
        if tuned:
            lrs = [r.lr for r in result.runs if r.loss == row["loss"]]
            extra.append(f"{max(set(lrs), key=lrs.count):g}")
        t.add_row(
            row["rank_label"],
            row["loss"],
            *cells,
            versus,
            f"{epoch:.0f}" if float(epoch).is_integer() else f"{epoch:.1f}",
            *extra,
            style="bold" if row["rank"] == 1 else None,
        )
    for name, per_seed in result.baselines.items():
        cells = []
        for m in result.metric_names:
            values = [v[m] for v in per_seed.values()]
            ci = t_interval(values)
            cells.append(_cell({m: float(np.mean(values)), m + "_ci95": ci}, m))
        t.add_row("", f"[dim]baseline: {name}[/]", *cells, "", "", *([""] if tuned else []))
    return t


# --- results files ---


def results_json(result: CompareResult) -> Dict[str, Any]:
    """What ``results.json`` holds (see the module docstring)."""
    analysis = result.analysis()
    summary = result.summary(analysis)
    return {
        "task": result.task,
        "primary_metric": result.primary,
        "higher_is_better": result.higher_is_better,
        "selection": SELECTION,
        "interrupted": result.interrupted,
        "verdict": result.verdict(analysis),
        "settings": result.settings,
        "summary": summary,
        "identical": [list(pair) for pair in analysis.identical],
        "baselines": {
            name: {
                "metrics": {m: float(np.mean([v[m] for v in per_seed.values()])) for m in result.metric_names},
                "per_seed": {str(seed): v for seed, v in per_seed.items()},
            }
            for name, per_seed in result.baselines.items()
        },
        "runs": [
            {
                "loss": r.loss,
                "seed": r.seed,
                "best_epoch": r.best_epoch,
                "lr": r.lr,
                "seconds": r.seconds,
                "metrics": r.metrics,
                "val_" + result.primary: r.val_metric,
                "train_loss": r.train_curve,
                "val_curve": r.val_curve,
                "val_" + result.primary + "_curve": r.val_metric_curve,
                **r.extra,
            }
            for r in result.runs
        ],
    }


def _nan_to_none(value: Any) -> Any:
    """JSON has no NaN: "n/a" metrics (ECE of a margin loss) are written as null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    return value


def _json_bytes(result: CompareResult) -> bytes:
    return json.dumps(_nan_to_none(results_json(result)), indent=2, allow_nan=False).encode()


def _csv_bytes(result: CompareResult) -> bytes:
    buf = io.StringIO(newline="")
    fields = (
        ["rank", "rank_label", "loss", "seeds", "mean", "ci95_low", "ci95_high", "diff_vs_best", "p_vs_best"]
        + [c for m in result.metric_names for c in (m, m + "_std")]
        + ["best_epoch"]
    )
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    for row in result.summary():
        out = {k: row.get(k) for k in fields}
        out["ci95_low"], out["ci95_high"] = row["ci95"] if row["ci95"] is not None else (None, None)
        writer.writerow(out)
    return buf.getvalue().encode()


def _runs_csv_bytes(result: CompareResult) -> bytes:
    buf = io.StringIO(newline="")
    # every metric a run computed (accuracy too, where the table leaves it out), the table's first
    names = list(dict.fromkeys([*result.metric_names, *(k for r in result.runs for k in r.metrics)]))
    fields = ["loss", "seed", "best_epoch", "lr", "seconds", "val_" + result.primary, *names]
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    for r in result.runs:
        writer.writerow(
            {
                "loss": r.loss,
                "seed": r.seed,
                "best_epoch": r.best_epoch,
                "lr": r.lr,
                "seconds": round(r.seconds, 3),
                "val_" + result.primary: r.val_metric,
                **r.metrics,
            }
        )
    return buf.getvalue().encode()


def _png_bytes(result: CompareResult) -> bytes:
    import matplotlib.pyplot as plt

    fig = figure(result)
    try:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
    finally:
        plt.close(fig)
    return buf.getvalue()


def _file_mode() -> int:
    # mkstemp creates 0600 files; results are for sharing, so give them what open() would: 0666 less the umask
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write(result: CompareResult, out_dir: Union[str, os.PathLike], overwrite: bool = False) -> List[pathlib.Path]:
    """Write results.json, results.csv, runs.csv and results.png into ``out_dir`` (created if missing), atomically.

    An interrupted comparison with no finished run gets results.json only (there is nothing to plot).

    Args:
        result: what :func:`losskit.lab.compare.run_compare` returned.
        out_dir: the output directory.
        overwrite: replace results already there; without it, existing results raise :class:`OutputError`.
            (``plan.json`` and ``runs.jsonl`` of the same comparison are not results: they are written first.)

    Returns:
        The paths written.

    Raises:
        OutputError: existing results and ``overwrite`` is False, or ``out_dir`` is a file.
        OSError: the files could not be written; the directory then holds no new or partial file.
    """
    out_dir = pathlib.Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir} is a file, not a directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    if not overwrite:  # checked again: another run may have written here while this one trained
        existing = [name for name in RESULT_FILES if (out_dir / name).exists()]
        if existing:
            raise OutputError(
                f"--out {out_dir} already holds results ({', '.join(existing)}); pass --overwrite to replace them"
            )
    contents: Dict[str, bytes] = {"results.json": _json_bytes(result)}
    if result.runs:
        contents["results.csv"] = _csv_bytes(result)
        contents["runs.csv"] = _runs_csv_bytes(result)
        contents["results.png"] = _png_bytes(result)
    mode = _file_mode()
    temps: Dict[str, str] = {}
    try:
        for name, data in contents.items():
            fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{name}.", suffix=".tmp")
            temps[name] = tmp
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, mode)
        # every file is complete on disk before the first one replaces an earlier result
        for name, tmp in list(temps.items()):
            os.replace(tmp, out_dir / name)
            del temps[name]
    finally:
        for tmp in temps.values():  # a failure part-way: leave no temporary files behind
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return [out_dir / name for name in contents]


# --- the figure ---

#: colours a loss can get; the loss's name picks one (:func:`loss_colour`), so it keeps its colour across runs
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
    "#3182bd",
    "#e6550d",
    "#31a354",
    "#756bb1",
    "#636363",
)


def _default_colours() -> Dict[str, str]:
    """A colour for every bundled task's default candidate, distinct within each task, fixed by the code.

    Tasks are visited in their fixed order; a candidate keeps the colour it got first, and a new one takes the
    first palette colour no other default of the same task has.
    """
    from .tasks import TASKS

    colours: Dict[str, str] = {}
    for task in TASKS.values():
        used = {colours[t] for t in task.default_losses if t in colours}
        for text in task.default_losses:
            if text not in colours:
                colours[text] = next((c for c in PALETTE if c not in used), PALETTE[0])
                used.add(colours[text])
    return colours


_COLOURS: Dict[str, str] = {}


def loss_colour(loss: str) -> str:
    """The colour of a loss in every figure, whatever its rank or the other candidates.

    A bundled task's default candidate has a fixed colour, distinct from its task's other defaults; any other
    loss gets a palette entry from a CRC32 of its text (stable across runs and processes, unlike ``hash``).
    """
    if not _COLOURS:
        _COLOURS.update(_default_colours())
    return _COLOURS.get(loss) or PALETTE[zlib.crc32(loss.encode()) % len(PALETTE)]


def figure(result: CompareResult) -> Figure:
    """The report figure: the test primary metric per loss, validation curves, and per-class recall.

    * a dot plot: each seed's test metric (small dots), the mean with its 95% interval, the tied-best group
      shaded, the baselines as dashed lines; the axis spans the data and the intervals, so a gap is read
      against the spread of the seeds;
    * the validation metric per epoch (mean over seeds), the full epoch range;
    * classification: recall per class (classes ordered from the most to the least frequent in training).

    Returns:
        A matplotlib Figure (2 or 3 axes). Close it when done.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    analysis = result.analysis()
    summary = result.summary(analysis)
    per_class = bool(result.runs) and "per_class_recall" in result.runs[0].extra
    ncols = 3 if per_class else 2
    fig, axes = plt.subplots(1, ncols, figsize=(6.2 * ncols, 0.38 * len(summary) + 3.6))
    ax_dot, ax_curve = axes[0], axes[1]
    labels = [r["loss"] for r in summary]
    ys = np.arange(len(labels))[::-1]  # best at the top
    tied = [y for y, row in zip(ys, summary) if row["rank"] == 1]
    if tied:
        ax_dot.axhspan(min(tied) - 0.45, max(tied) + 0.45, color="#2ca02c", alpha=0.12, lw=0, label="tied best")
    for y, row in zip(ys, summary):
        colour = loss_colour(row["loss"])
        values = [r.metrics[result.primary] for r in result.runs if r.loss == row["loss"]]
        ax_dot.plot(values, [y] * len(values), "o", ms=3, color=colour, alpha=0.45)
        if row["ci95"] is not None:
            ax_dot.plot(row["ci95"], [y, y], "-", lw=2.2, color=colour)
        ax_dot.plot([row["mean"]], [y], "D", ms=7, color=colour)
    for i, (name, per_seed) in enumerate(result.baselines.items()):
        value = float(np.mean([v[result.primary] for v in per_seed.values()]))
        ax_dot.axvline(value, ls=("--", ":")[i % 2], color="#555555", lw=1, label=f"{name}: {value:.3g}")
    ax_dot.set_yticks(ys)
    ax_dot.set_yticklabels([f"{row['rank_label']}  {row['loss']}" for row in summary], fontsize=8)
    ax_dot.set_ylim(-0.6, len(labels) - 0.4)
    ax_dot.set_xlabel(
        f"test {result.primary} ({'higher' if result.higher_is_better else 'lower'} is better): "
        "seeds, mean ◆ and 95% CI"
    )
    ax_dot.set_title(f"{result.task}: {SELECTION}", fontsize=10)
    ax_dot.grid(axis="x", alpha=0.3)
    if tied or result.baselines:
        ax_dot.legend(fontsize=7, loc="best")
    # regression validation targets are noisy like the training targets, hence far above the clean test MAE
    metric_label = result.primary.replace("_", " ")
    for row in summary:
        curves = np.array([r.val_metric_curve for r in result.runs if r.loss == row["loss"]])
        epochs = np.arange(1, curves.shape[1] + 1)
        ax_curve.plot(epochs, curves.mean(0), label=row["loss"], color=loss_colour(row["loss"]), lw=1.4)
    ax_curve.set_xlim(1, max(2, int(result.settings.get("epochs", 2))))
    ax_curve.set_xlabel("epoch")
    ax_curve.set_ylabel(
        f"validation {metric_label}" + (" (noisy targets)" if result.task_kind() == "regression" else "")
    )
    ax_curve.set_title("validation curves (mean over seeds; each run keeps its best epoch)", fontsize=10)
    ax_curve.grid(alpha=0.3)
    ax_curve.legend(fontsize=7)
    if per_class:
        ax_cls = axes[2]
        counts = np.asarray(result.runs[0].extra["train_counts"])
        for row in summary:
            runs = [r for r in result.runs if r.loss == row["loss"]]
            # classes ordered by each seed's training frequency: position 0 is that seed's most frequent class
            recalls = np.array(
                [
                    np.asarray(r.extra["per_class_recall"])[
                        np.argsort(-np.asarray(r.extra["train_counts"]), kind="stable")
                    ]
                    for r in runs
                ]
            )
            ax_cls.plot(
                np.arange(1, counts.size + 1),
                recalls.mean(0),
                "o-",
                ms=3,
                lw=1.2,
                color=loss_colour(row["loss"]),
                label=row["loss"],
            )
        ax_cls.set_xticks(np.arange(1, counts.size + 1))
        ax_cls.set_ylim(0.0, 1.02)
        ax_cls.set_xlabel("class, from most to least frequent in training")
        ax_cls.set_ylabel("test recall (mean over seeds)")
        ax_cls.set_title("per-class recall", fontsize=10)
        ax_cls.grid(alpha=0.3)
        ax_cls.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot(result: CompareResult, path: Union[str, os.PathLike]) -> None:
    """Save :func:`figure` as a PNG at ``path`` (a plain write; :func:`write` is the atomic one)."""
    pathlib.Path(path).write_bytes(_png_bytes(result))


# --- --sweep: one comparison per variant of a task ---


def sweep_table(results: List[CompareResult]) -> Table:
    """One row per loss, one column per variant (outlier share): mean ±95% CI half-width and rank ("1=")."""
    arrow = "↑" if results[0].higher_is_better else "↓"
    t = Table(
        title=f"losskit compare --sweep: test {results[0].primary} {arrow} by variant",
        caption="mean ±95% CI half-width over seeds, rank in brackets (1= : tied with the best of that column)",
    )
    t.add_column("loss", no_wrap=True)
    summaries = [{row["loss"]: row for row in r.summary()} for r in results]
    prefix = os.path.commonprefix([r.task for r in results])
    for r in results:  # noisy-regression-10pct -> "10% outliers"
        t.add_column(r.task[len(prefix) :].replace("pct", "% outliers") or r.task, justify="right", no_wrap=True)
    for loss in results[0].losses():
        cells = []
        for rows in summaries:
            row = rows.get(loss)
            cells.append("—" if row is None else f"{_cell(row, results[0].primary)} ({row['rank_label']})")
        t.add_row(loss, *cells)
    for name in results[0].baselines:
        cells = []
        for r in results:
            values = [v[r.primary] for v in r.baselines.get(name, {}).values()]
            cells.append(
                _cell({r.primary: float(np.mean(values)), r.primary + "_ci95": t_interval(values)}, r.primary)
                if values
                else "—"
            )
        t.add_row(f"[dim]baseline: {name}[/]", *cells)
    return t


def write_sweep(results: List[CompareResult], out_dir: Union[str, os.PathLike]) -> List[pathlib.Path]:
    """``sweep.json`` in the sweep's directory: each variant's verdict and summary rows (its own directory has
    the full results)."""
    out_dir = pathlib.Path(out_dir)
    data = {
        "variants": [
            {
                "task": r.task,
                "description": r.settings.get("task_description"),
                "verdict": r.verdict(),
                "summary": [
                    {k: row[k] for k in ("loss", "rank", "rank_label", "mean", "ci95", "p_vs_best")}
                    for row in r.summary()
                ],
                "baselines": {
                    name: float(np.mean([v[r.primary] for v in per_seed.values()]))
                    for name, per_seed in r.baselines.items()
                },
            }
            for r in results
        ]
    }
    path = out_dir / "sweep.json"
    path.write_text(json.dumps(_nan_to_none(data), indent=2))
    return [path]
