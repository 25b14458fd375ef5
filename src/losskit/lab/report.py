"""The lab's outputs: a rich table for the terminal, results.json, results.csv and a PNG.

The numbers everywhere are *test metrics at each run's best validation epoch* (see :mod:`losskit.lab.compare`).

Output directory rules: :func:`check_out_dir` runs before any training, so a bad ``--out`` (a file, a path under
a file, a directory that cannot be written) costs nothing. A directory that already holds results is never
overwritten silently: it is refused unless ``overwrite=True`` (``--overwrite``); a fixed layout (``DIR/results.*``)
keeps scripts that read the results simple, where a new timestamped run folder each time would not.
:func:`write` writes every file to a temporary file in the same directory first and moves them into place with
``os.replace`` only once all of them are written, so a crash or a full disk never leaves a half-written file,
and readers see either the earlier results or the new ones.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pathlib
import tempfile
from typing import TYPE_CHECKING, Dict, List, Union

import numpy as np
from rich.table import Table

from .compare import CompareResult, LabError

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn, not when the command checks its options
    from matplotlib.figure import Figure

#: the files a run writes into its output directory
RESULT_FILES = ("results.json", "results.csv", "results.png")

SELECTION = "test metrics at the best validation epoch"


class OutputError(LabError):
    """The output directory cannot take the results: a file is in the way, it is not writable, or it holds results."""


def _nearest_existing(path: pathlib.Path) -> pathlib.Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def check_out_dir(out_dir: Union[str, os.PathLike], overwrite: bool = False) -> pathlib.Path:
    """Check that the results can be written to ``out_dir``, without creating anything.

    Args:
        out_dir: the directory for results.json/.csv/.png; it need not exist yet.
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
        existing = [name for name in RESULT_FILES if (out_dir / name).exists()]
        if existing:
            raise OutputError(
                f"--out {out_dir} already holds results ({', '.join(existing)}); "
                "pass --overwrite to replace them, or choose another --out"
            )
    # a real write, not os.access: root passes every permission check, and read-only mounts and ACLs fool it
    try:
        fd, probe = tempfile.mkstemp(dir=base, prefix=".losskit-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"--out {out_dir} is not writable: {exc.strerror or exc} ({base})") from None
    return out_dir


def table(result: CompareResult) -> Table:
    arrow = "↑" if result.higher_is_better else "↓"
    t = Table(
        title=f"losskit compare — {result.task}: {SELECTION}",
        caption=f"ranked by test {result.primary} {arrow}, mean ± std over {result.settings['seeds']} seeds; each run keeps "
        f"the epoch with the best validation {result.primary} ({result.settings.get('val_fraction', 0.2):.0%} "
        "of the training set held out); best ep. = mean chosen epoch",
    )
    t.add_column("#", justify="right")
    t.add_column("loss", no_wrap=True)
    for m in result.metric_names:
        t.add_column(
            m.replace("balanced_accuracy", "bal. acc") + (f" {arrow}" if m == result.primary else ""),
            justify="right",
            no_wrap=True,
        )
    t.add_column("best ep.", justify="right", no_wrap=True)
    for row in result.summary():
        digits = 3 if abs(row[result.primary]) < 10 else 1
        cells = [f"{row[m]:.{digits}f}±{row[m + '_std']:.{digits}f}" for m in result.metric_names]
        epoch = row["best_epoch"]
        t.add_row(
            str(row["rank"]), row["loss"], *cells, f"{epoch:.0f}" if float(epoch).is_integer() else f"{epoch:.1f}"
        )
    return t


def _json_bytes(result: CompareResult) -> bytes:
    return json.dumps(
        {
            "task": result.task,
            "primary_metric": result.primary,
            "higher_is_better": result.higher_is_better,
            "selection": SELECTION,
            "settings": result.settings,
            "summary": result.summary(),
            "runs": [
                {
                    "loss": r.loss,
                    "seed": r.seed,
                    "best_epoch": r.best_epoch,
                    "metrics": r.metrics,
                    "val_" + result.primary: r.val_metric,
                    "train_loss": r.train_curve,
                    "val_curve": r.val_curve,
                    "val_" + result.primary + "_curve": r.val_metric_curve,
                }
                for r in result.runs
            ],
        },
        indent=2,
    ).encode()


def _csv_bytes(result: CompareResult) -> bytes:
    buf = io.StringIO(newline="")
    fields = ["rank", "loss", "seeds"] + [c for m in result.metric_names for c in (m, m + "_std")] + ["best_epoch"]
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    for row in result.summary():
        writer.writerow({k: row[k] for k in fields})
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
    """Write results.json, results.csv and results.png into ``out_dir`` (created if missing), atomically.

    Args:
        result: what :func:`losskit.lab.compare.run_compare` returned.
        out_dir: the output directory.
        overwrite: replace results already there; without it, existing results raise :class:`OutputError`.

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
    contents: Dict[str, bytes] = {
        "results.json": _json_bytes(result),
        "results.csv": _csv_bytes(result),
        "results.png": _png_bytes(result),
    }
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
    return [out_dir / name for name in RESULT_FILES]


def figure(result: CompareResult) -> Figure:
    """The report figure: test primary metric per loss (bars from 0) and mean validation curves over seeds.

    Returns:
        A matplotlib Figure with two axes: the bar chart, then the validation curves. Close it when done.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = result.summary()
    fig, (ax_bar, ax_curve) = plt.subplots(1, 2, figsize=(13, 4.8))
    labels = [r["loss"] for r in summary]
    means = [r[result.primary] for r in summary]
    stds = [r[result.primary + "_std"] for r in summary]
    ax_bar.bar(np.arange(len(labels)), means, yerr=stds, color="#4C72B0", capsize=3)
    ax_bar.set_xticks(np.arange(len(labels)))
    ax_bar.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax_bar.set_ylabel(
        f"test {result.primary} ({'higher' if result.higher_is_better else 'lower'} is better), mean ± std"
    )
    ax_bar.set_title(f"{result.task}: {SELECTION}", fontsize=10)
    # bars start at 0: a bar's length is its value, so a cut axis would exaggerate small differences
    top = max(m + s for m, s in zip(means, stds))
    ax_bar.set_ylim(0.0, top * 1.08 if top > 0 else 1.0)
    # regression validation targets are noisy like the training targets, hence far above the clean test MAE
    curve_label = "validation MAE (noisy targets)" if result.primary == "mae" else "validation cross-entropy"
    for row in summary:
        curves = np.array([r.val_curve for r in result.runs if r.loss == row["loss"]])
        ax_curve.plot(np.arange(1, curves.shape[1] + 1), curves.mean(0), label=row["loss"])
    ax_curve.set_xlabel("epoch")
    ax_curve.set_ylabel(curve_label)
    ax_curve.set_title("validation curves (mean over seeds)")
    if result.primary != "mae":
        ax_curve.set_yscale("log")
    ax_curve.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot(result: CompareResult, path: Union[str, os.PathLike]) -> None:
    """Save :func:`figure` as a PNG at ``path`` (a plain write; :func:`write` is the atomic one)."""
    pathlib.Path(path).write_bytes(_png_bytes(result))
