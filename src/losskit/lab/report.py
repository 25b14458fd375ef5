"""The lab's outputs: a rich table for the terminal, results.json, results.csv and a PNG."""
from __future__ import annotations

import csv
import json
import pathlib
from typing import List

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from rich.table import Table  # noqa: E402

from .compare import CompareResult  # noqa: E402


def table(result: CompareResult) -> Table:
    arrow = "↑" if result.higher_is_better else "↓"
    t = Table(title=f"losskit compare — {result.task} (ranked by {result.primary} {arrow}, {result.settings['seeds']} seeds)")
    t.add_column("#", justify="right")
    t.add_column("loss", no_wrap=True)
    for m in result.metric_names:
        t.add_column(m.replace("balanced_accuracy", "bal. acc") + (f" {arrow}" if m == result.primary else ""), justify="right", no_wrap=True)
    for row in result.summary():
        digits = 3 if abs(row[result.primary]) < 10 else 1
        cells = [f"{row[m]:.{digits}f}±{row[m + '_std']:.{digits}f}" for m in result.metric_names]
        t.add_row(str(row["rank"]), row["loss"], *cells)
    return t


def write(result: CompareResult, out_dir: pathlib.Path) -> List[pathlib.Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = result.summary()
    json_path = out_dir / "results.json"
    json_path.write_text(json.dumps({
        "task": result.task, "primary_metric": result.primary, "higher_is_better": result.higher_is_better,
        "settings": result.settings, "summary": summary,
        "runs": [{"loss": r.loss, "seed": r.seed, "metrics": r.metrics, "train_loss": r.train_curve, "test_curve": r.test_curve}
                 for r in result.runs],
    }, indent=2))
    csv_path = out_dir / "results.csv"
    with csv_path.open("w", newline="") as f:
        fields = ["rank", "loss", "seeds"] + [c for m in result.metric_names for c in (m, m + "_std")]
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for row in summary:
            writer.writerow({k: row[k] for k in fields})
    png_path = out_dir / "results.png"
    plot(result, png_path)
    return [json_path, csv_path, png_path]


def plot(result: CompareResult, path: pathlib.Path) -> None:
    summary = result.summary()
    fig, (ax_bar, ax_curve) = plt.subplots(1, 2, figsize=(13, 4.8))
    labels = [r["loss"] for r in summary][::-1]
    means = [r[result.primary] for r in summary][::-1]
    stds = [r[result.primary + "_std"] for r in summary][::-1]
    ax_bar.barh(labels, means, xerr=stds, color="#4C72B0", capsize=3)
    ax_bar.set_xlabel(f"{result.primary} ({'higher' if result.higher_is_better else 'lower'} is better), mean ± std")
    ax_bar.set_title(f"{result.task}: held-out {result.primary}")
    lo = min(m - s for m, s in zip(means, stds))
    hi = max(m + s for m, s in zip(means, stds))
    pad = 0.1 * (hi - lo or 1.0)
    ax_bar.set_xlim(max(0.0, lo - pad) if lo >= 0 else lo - pad, hi + pad)
    curve_label = "held-out cross-entropy" if result.primary != "mae" else "held-out MAE"
    for row in summary:
        curves = np.array([r.test_curve for r in result.runs if r.loss == row["loss"]])
        ax_curve.plot(np.arange(1, curves.shape[1] + 1), curves.mean(0), label=row["loss"])
    ax_curve.set_xlabel("epoch")
    ax_curve.set_ylabel(curve_label)
    ax_curve.set_title("training curves (mean over seeds)")
    if result.primary != "mae":
        ax_curve.set_yscale("log")
    ax_curve.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
