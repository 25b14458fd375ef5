"""Box-regression losses: forward + backward time and peak memory against torchvision and plain torch.

    python -m benchmarks.detection [--sizes 1e4,1e6] [--rounds 15] [--threads 1] [--dtype float32]

torchvision from PyPI does not import beside torch 2.13, so "torchvision" here
is the operation-for-operation port in ``tests/torchvision_boxes.py`` (the
same code the parity tests compare against; when a real torchvision imports,
it is timed as well). IoU and EIoU have no torchvision loss: they are compared
with plain-torch autograd formulations as detector code bases write them.

Time: paired runs in one process, the order alternated every round (A B, B A,
...), each measurement repeating the step for at least ``--min-time`` seconds;
the report gives the median ratio losskit / other over the rounds with its
min–max (below 1 losskit is faster). Predictions require gradients, targets
do not (the training case).

Memory: each step runs in a fresh subprocess (Linux): after two warm-up steps,
freed heap pages go back to the system (``malloc_trim``), the peak resident
size is reset (``/proc/self/clear_refs``) and one step runs; its peak resident
size minus the resident size before it is the step's peak extra memory on CPU
(the gradient of the predictions included), median over ``--mem-repeats``
runs. torch does not track CPU allocations itself.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import statistics
import subprocess
import sys
from typing import Callable, Dict, List, Tuple

import torch

import losskit.functional as LF

from .measure import paired

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
if str(ROOT) not in sys.path:  # the torchvision port lives with the tests
    sys.path.insert(0, str(ROOT))

from tests import torchvision_boxes as tv  # noqa: E402


def plain_iou_loss(p: torch.Tensor, g: torch.Tensor, reduction: str = "mean", eps: float = 1e-7) -> torch.Tensor:
    """Plain-torch IoU loss as detector code writes it: slices, clamp, autograd."""
    lt = torch.max(p[..., :2], g[..., :2])
    rb = torch.min(p[..., 2:], g[..., 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    area_p = (p[..., 2] - p[..., 0]) * (p[..., 3] - p[..., 1])
    area_g = (g[..., 2] - g[..., 0]) * (g[..., 3] - g[..., 1])
    loss = 1 - inter / (area_p + area_g - inter + eps)
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def plain_eiou_loss(p: torch.Tensor, g: torch.Tensor, reduction: str = "mean", eps: float = 1e-7) -> torch.Tensor:
    """Plain-torch EIoU in torchvision's style (unbind views, autograd)."""
    x1, y1, x2, y2 = p.unbind(-1)
    u1, v1, u2, v2 = g.unbind(-1)
    w, h, wg, hg = x2 - x1, y2 - y1, u2 - u1, v2 - v1
    inter = (torch.min(x2, u2) - torch.max(x1, u1)).clamp(min=0) * (torch.min(y2, v2) - torch.max(y1, v1)).clamp(min=0)
    iou = inter / (w * h + wg * hg - inter + eps)
    cw = torch.max(x2, u2) - torch.min(x1, u1)
    ch = torch.max(y2, v2) - torch.min(y1, v1)
    rho2 = ((x1 + x2 - u1 - u2) ** 2 + (y1 + y2 - v1 - v2) ** 2) / 4
    loss = 1 - iou + rho2 / (cw**2 + ch**2 + eps) + (w - wg) ** 2 / (cw**2 + eps) + (h - hg) ** 2 / (ch**2 + eps)
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def _real_torchvision():
    try:
        import torchvision.ops as ops

        return ops
    except Exception:
        return None


#: (case, losskit functional, {label: other implementation})
def pairs() -> List[Tuple[str, Callable, Dict[str, Callable]]]:
    real = _real_torchvision()
    out = [
        ("iou", LF.iou_loss, {"plain torch": plain_iou_loss}),
        ("giou", LF.giou_loss, {"torchvision (port)": tv.generalized_box_iou_loss}),
        ("diou", LF.diou_loss, {"torchvision (port)": tv.distance_box_iou_loss}),
        ("ciou", LF.ciou_loss, {"torchvision (port)": tv.complete_box_iou_loss}),
        ("eiou", LF.eiou_loss, {"plain torch": plain_eiou_loss}),
    ]
    if real is not None:
        for name, attr in (
            ("giou", "generalized_box_iou_loss"),
            ("diou", "distance_box_iou_loss"),
            ("ciou", "complete_box_iou_loss"),
        ):
            next(p for p in out if p[0] == name)[2]["torchvision"] = getattr(real, attr)
    return out


def make_boxes(n: int, dtype: torch.dtype = torch.float32, device="cpu", seed: int = 0):
    """``n`` predicted boxes (requiring grad) and ``n`` targets, xyxy, about half of the pairs overlapping."""
    g = torch.Generator().manual_seed(seed)
    corner = torch.rand(n, 2, generator=g) * 100
    size = torch.rand(n, 2, generator=g) * 20 + 1
    target = torch.cat([corner, corner + size], 1)
    pred = target + torch.randn(n, 4, generator=g) * 3
    pred[:, 2:] = torch.maximum(pred[:, 2:], pred[:, :2] + 0.1)
    return pred.to(device, dtype).requires_grad_(), target.to(device, dtype)


def suite_cases() -> list:
    """The five losses as cases of ``python -m benchmarks`` (``size`` counts coordinates: size // 4 boxes)."""
    from .suite import Built, Case  # suite imports this module lazily

    def case(name, ours, others):
        def build(size, device, peers):
            pred, target = make_boxes(max(1, size // 4), device=device)
            return Built(
                _step(ours, pred, target), {k: _step(f, pred, target) for k, f in others.items()}, pred.numel()
            )

        return Case(name, build)

    return [case(name, ours, others) for name, ours, others in pairs()]


def _step(fn: Callable, pred: torch.Tensor, target: torch.Tensor) -> Callable[[], torch.Tensor]:
    """Forward + backward once, returning the loss (the harness checks the values before it times them)."""

    def run():
        pred.grad = None
        loss = fn(pred, target, reduction="mean")
        loss.backward()
        return loss.detach()

    return run


def time_pair(ours: Callable, other: Callable, n: int, rounds: int, min_time: float, dtype=torch.float32):
    """:func:`benchmarks.measure.paired` of the two losses' forward + backward steps on the same boxes."""
    pred, target = make_boxes(n, dtype)
    return paired(_step(ours, pred, target), _step(other, pred, target), torch.device("cpu"), rounds, min_time)


def _status_mib(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def _peak_child(case: str, label: str, n: int, threads: int) -> None:
    """Runs in a subprocess: print the peak extra resident memory (MiB) of one forward + backward.

    Two warm-up steps, then ``malloc_trim`` hands freed heap pages back to the system, the peak
    resident size is reset (``/proc/self/clear_refs``, Linux) and one more step runs: the new peak
    minus the resident size before it is what the step needed beyond its inputs.
    """
    import ctypes
    import gc

    torch.set_num_threads(threads)
    ours, others = next((f, o) for c, f, o in pairs() if c == case)
    fn = ours if label == "losskit" else others[label]
    pred, target = make_boxes(n)
    step = _step(fn, pred, target)
    step()
    step()
    pred.grad = None
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    before = _status_mib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    step()
    print(_status_mib("VmHWM") - before)


def peak_mib(case: str, label: str, n: int, threads: int, repeats: int) -> float:
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); from benchmarks.detection import _peak_child; "
        f"_peak_child({case!r}, {label!r}, {n:d}, {threads:d})"
    )
    values = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        values.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(values)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1e4,1e6", help="numbers of boxes (comma-separated)")
    ap.add_argument("--rounds", type=int, default=15, help="paired rounds per comparison (>= 15 for the README)")
    ap.add_argument("--min-time", type=float, default=0.05, help="seconds per measurement")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1: stable on a shared machine)")
    ap.add_argument("--mem-repeats", type=int, default=3, help="subprocess runs per memory figure (0: skip memory)")
    ap.add_argument("--cases", default="", help="only these losses (comma-separated)")
    ap.add_argument("--out", default=str(RESULTS / "detection"), help="output path without extension")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    wanted = {c for c in args.cases.split(",") if c}
    rows = []
    for size in sizes:
        for case, ours, others in pairs():
            if wanted and case not in wanted:
                continue
            for label, other in others.items():
                row = {"case": case, "boxes": size, "vs": label}
                row.update(time_pair(ours, other, size, args.rounds, args.min_time))
                if args.mem_repeats > 0:
                    row["losskit_peak_mib"] = peak_mib(case, "losskit", size, args.threads, args.mem_repeats)
                    row["other_peak_mib"] = peak_mib(case, label, size, args.threads, args.mem_repeats)
                rows.append(row)
                print(_row_md(row), flush=True)
    meta = {
        "device": "cpu",
        "torch": torch.__version__,
        "threads": args.threads,
        "python": platform.python_version(),
        "rounds": args.rounds,
        "dtype": "float32",
        "torchvision": "real" if _real_torchvision() is not None else "inline port (tests/torchvision_boxes.py)",
    }
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {"meta": meta, "rows": rows}
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    out.with_suffix(".md").write_text(markdown(meta, rows))
    return result


def _row_md(r: dict) -> str:
    mem = ""
    if "losskit_peak_mib" in r:
        mem = f" {r['losskit_peak_mib']:.1f} | {r['other_peak_mib']:.1f} |"
    return (
        f"| {r['case']} | {r['boxes']:.0e} | {r['vs']} | {r['ratio_median']:.2f} [{r['ratio_min']:.2f}–{r['ratio_max']:.2f}] "
        f"| {r['losskit_ms']:.3f} | {r['other_ms']:.3f} |{mem}"
    )


def markdown(meta: dict, rows: List[dict]) -> str:
    lines = [
        f"# Box-regression losses ({meta['device']}, torch {meta['torch']}, {meta['threads']} thread(s), {meta['dtype']})",
        "",
        f"Forward + backward of the mean loss, predictions requiring grad; torchvision: {meta['torchvision']}. "
        f"Ratio = losskit time / other time, median [min–max] over {meta['rounds']} paired rounds, order alternated. "
        "Peak MiB: extra resident memory of one step, median over fresh subprocesses.",
        "",
        "| loss | boxes | vs | time ratio | losskit ms | other ms | losskit peak MiB | other peak MiB |",
        "|---|---:|---|---|---:|---:|---:|---:|",
    ]
    lines += [_row_md(r) for r in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
