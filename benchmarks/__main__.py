"""Speed benchmarks: ``python -m benchmarks [--sizes 1e3,1e5,1e7] [--rounds 7] [--cases a,b] [--device cpu]``.

For every case and size, losskit and each other implementation run forward +
backward as paired measurements in one process — A B A B ..., after a warm-up
— and the report gives the median ratio losskit / other with its min–max over
the rounds (below 1 means losskit is faster). One measurement repeats the step
until it lasts at least ``--min-time`` seconds. Output: a markdown table and
JSON under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import statistics
import time

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .suite import peer_modules, select

RESULTS = pathlib.Path(__file__).parent / "results"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time(step, device, loops: int) -> float:
    _sync(device)
    start = time.perf_counter()
    for _ in range(loops):
        step()
    _sync(device)
    return (time.perf_counter() - start) / loops


def _loops_for(step, device, min_time: float) -> int:
    step()
    once = max(_time(step, device, 1), 1e-7)
    return max(1, int(min_time / once))


def _peak_cuda_mib(step, device) -> float | None:
    if device.type != "cuda":
        return None
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    step()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1e3,1e5,1e7", help="element counts (comma-separated)")
    ap.add_argument("--rounds", type=int, default=7, help="paired rounds per (case, size, other)")
    ap.add_argument("--min-time", type=float, default=0.02, help="seconds per measurement")
    ap.add_argument("--cases", default="", help="only these cases (comma-separated)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", default=str(RESULTS / "bench"), help="output path without extension")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    cases = select([c for c in args.cases.split(",") if c])
    peers = peer_modules()
    console = Console()
    rows = []
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        bar = progress.add_task("benchmarks", total=len(cases) * len(sizes))
        for case in cases:
            for size in sizes:
                progress.update(bar, description=f"{case.name} @ {size:.0e}")
                built = case.build(size, device, peers)
                ours_loops = _loops_for(built.ours, device, args.min_time)
                ours_times = []
                row = {"case": case.name, "size": size, "elements": built.elements, "others": {}}
                for label, other in built.others.items():
                    other_loops = _loops_for(other, device, args.min_time)
                    a, b = [], []
                    for _ in range(args.rounds):
                        a.append(_time(built.ours, device, ours_loops))
                        b.append(_time(other, device, other_loops))
                    ratios = [x / y for x, y in zip(a, b)]
                    ours_times += a
                    row["others"][label] = {
                        "ratio_median": statistics.median(ratios),
                        "ratio_min": min(ratios),
                        "ratio_max": max(ratios),
                        "other_ms": statistics.median(b) * 1e3,
                        "peak_mib": _peak_cuda_mib(other, device),
                    }
                if not ours_times:
                    ours_times = [_time(built.ours, device, ours_loops) for _ in range(args.rounds)]
                row["losskit_ms"] = statistics.median(ours_times) * 1e3
                row["losskit_peak_mib"] = _peak_cuda_mib(built.ours, device)
                rows.append(row)
                progress.advance(bar)
    meta = {
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "peers": {k: v is not None for k, v in peers.items()},
        "rounds": args.rounds,
    }
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    out.with_suffix(".md").write_text(markdown(meta, rows))
    console.print(markdown(meta, rows))


def markdown(meta, rows) -> str:
    lines = [
        f"# losskit benchmarks ({meta['device']}, torch {meta['torch']}, {meta['threads']} threads)",
        "",
        "Forward + backward, paired A B A B runs in one process; ratio = losskit time / other time, "
        "median [min–max] over rounds (< 1: losskit is faster).",
        "",
        "Peers importable here: "
        + ", ".join(k for k, v in meta["peers"].items() if v)
        + "; not importable: "
        + (", ".join(k for k, v in meta["peers"].items() if not v) or "none")
        + ".",
        "",
        "| loss | elements | losskit ms | vs | ratio median [min–max] | other ms |",
        "|---|---:|---:|---|---|---:|",
    ]
    for r in rows:
        if not r["others"]:
            lines.append(f"| {r['case']} | {r['elements']:.0e} | {r['losskit_ms']:.3f} | (no peer) | | |")
        for label, o in r["others"].items():
            lines.append(
                f"| {r['case']} | {r['elements']:.0e} | {r['losskit_ms']:.3f} | {label} | "
                f"{o['ratio_median']:.2f} [{o['ratio_min']:.2f}–{o['ratio_max']:.2f}] | {o['other_ms']:.3f} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
