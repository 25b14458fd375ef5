"""Speed benchmarks: ``python -m benchmarks [--sizes 8,1e5,1e6,1e7] [--rounds 15] [--cases a,b] [--memory] [--quick]``.

For every case, variant (the class cases run at C = 10, 100 and 1000) and
size, losskit and each other implementation of the same loss are first
checked to give the same value on the exact inputs to be timed; then their
forward + backward steps run as paired measurements in one process: after a
warm-up, each round takes one sample of each, the order alternating every
round (A B, B A, ...) and the first round starting with the other library in
every other comparison. A sample repeats the step until it lasts at least
``--min-time`` seconds (20 ms). The report gives the median ratio losskit /
other with its min–max over the rounds (below 1 means losskit is faster), the
value check, the bytes autograd saves for backward per element beyond the
inputs, and — for cases that ask for it, or all with ``--memory`` — the peak
extra memory of one step, each contender in a fresh subprocess (CPU:
``/proc/self/clear_refs`` and ``VmHWM``). Size 8 is the per-call overhead: 8
elements, or 8 rows of C classes. Output: a markdown table and JSON under
benchmarks/results/. ``--quick`` is a smoke run (two small sizes, 2 rounds).
``--clock cpu`` times CPU runs in this process's CPU time instead of wall
time: with ``--threads 1`` on a machine other jobs load, it leaves out the
time spent waiting for a core.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
from typing import Any, Dict, List

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .measure import CLOCKS, paired, peak_extra_mib, saved_bytes, settle_allocator, value_check
from .suite import peer_modules, select

RESULTS = pathlib.Path(__file__).parent / "results"


def _inputs(step) -> List[torch.Tensor]:
    return list(getattr(step, "inputs", ()))


def _variant_text(variant: Dict[str, Any]) -> str:
    return ", ".join(f"{'C' if k == 'classes' else k}={v}" for k, v in variant.items())


def sizes_for(case, sizes: List[int], with_extra_sizes: bool) -> List[int]:
    """The sizes a case runs at: the requested ones, plus its own extra sizes in a default full run."""
    return [*sizes, *(s for s in case.extra_sizes if with_extra_sizes and s not in sizes)]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--sizes",
        default=None,
        help="element counts (comma-separated; default 8,1e5,1e6,1e7 and each case's extra sizes, such as 2^24 "
        "for the fused-gradient regression losses); 8 = per-call overhead",
    )
    ap.add_argument("--rounds", type=int, default=15, help="paired rounds per (case, variant, size, other)")
    ap.add_argument("--min-time", type=float, default=0.02, help="seconds per sample")
    ap.add_argument("--cases", default="", help="only these cases (comma-separated)")
    ap.add_argument("--classes", default="", help="only these class counts for the class cases (comma-separated)")
    ap.add_argument("--memory", action="store_true", help="peak memory of every row (a subprocess per contender)")
    ap.add_argument("--quick", action="store_true", help="smoke run: sizes 8 and 1000, 2 rounds, no minimum time")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default); 1 on a shared machine")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="CPU runs: 'wall' (perf_counter) or 'cpu' (this process's CPU time, for a machine other jobs load; "
        "use it with --threads 1)",
    )
    ap.add_argument("--out", default=str(RESULTS / "bench"), help="output path without extension")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with_extra_sizes = args.sizes is None and not args.quick
    if args.quick:
        args.sizes, args.rounds, args.min_time = "8,1000", 2, 0.0
    settle_allocator()
    device = torch.device(args.device)
    clock_name = args.clock if device.type == "cpu" else "wall"
    sizes = [int(float(s)) for s in (args.sizes or "8,1e5,1e6,1e7").split(",")]
    classes = {int(c) for c in args.classes.split(",") if c}
    cases = select([c for c in args.cases.split(",") if c])
    peers = peer_modules()
    console = Console()
    rows: List[Dict[str, Any]] = []
    jobs = [
        (case, variant, size)
        for case in cases
        for variant in case.variants
        if not (classes and "classes" in variant and variant["classes"] not in classes)
        for size in sizes_for(case, sizes, with_extra_sizes)
    ]
    seen = set()
    comparison = 0
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        bar = progress.add_task("benchmarks", total=len(jobs))
        for case, variant, size in jobs:
            progress.update(bar, description=f"{case.name} {_variant_text(variant)} @ {size:.0e}")
            built = case.build(size, device, peers, **variant)
            key = (case.name, json.dumps(variant, sort_keys=True), built.elements)
            if key in seen:  # a size that rounds to a shape measured already (the 8-row floor)
                progress.advance(bar)
                continue
            seen.add(key)
            row: Dict[str, Any] = {
                "case": case.name,
                "variant": variant,
                "size": size,
                "elements": built.elements,
                "others": {},
            }
            row["losskit_saved_bytes"] = saved_bytes(built.ours, _inputs(built.ours))
            memory = (args.memory or case.memory) and device.type == "cpu"
            if memory:
                row["losskit_peak_mib"] = peak_extra_mib(case.name, size, variant, "losskit")
            ours_ms = []
            for label, other in built.others.items():
                check = value_check(built.ours, other, built.rtol, built.atol)
                if label in built.differs:
                    check["differs"] = built.differs[label]
                timing = paired(
                    built.ours,
                    other,
                    device,
                    args.rounds,
                    args.min_time,
                    ours_first=comparison % 2 == 0,
                    clock=CLOCKS[clock_name],
                )
                comparison += 1
                ours_ms.append(timing.pop("losskit_ms"))
                timing["value_check"] = check
                timing["saved_bytes"] = saved_bytes(other, _inputs(other))
                if memory:
                    timing["peak_mib"] = peak_extra_mib(case.name, size, variant, label)
                row["others"][label] = timing
            if not ours_ms:
                ours_ms.append(
                    paired(built.ours, built.ours, device, 1, args.min_time, clock=CLOCKS[clock_name])["losskit_ms"]
                )
            row["losskit_ms"] = sorted(ours_ms)[len(ours_ms) // 2]
            rows.append(row)
            progress.advance(bar)
    meta = {
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "peers": {k: v is not None for k, v in peers.items()},
        "rounds": args.rounds,
        "min_time_s": args.min_time,
        "clock": clock_name,
    }
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    out.with_suffix(".md").write_text(markdown(meta, rows))
    console.print(markdown(meta, rows))


_CLOCK_TEXT = {"wall": "wall clock", "cpu": "process CPU clock (time waiting for a core left out)"}


def _check_text(check: Dict[str, Any]) -> str:
    if check.get("ok") is None:
        return "unchecked"
    if check.get("differs"):
        return "≠ (by design)"
    return f"ok ({check['max_rel_diff']:.0e})" if check["ok"] else f"**MISMATCH** ({check['max_rel_diff']:.1e})"


def _mib(value) -> str:
    return "" if value is None else f"{value:.0f}"


def markdown(meta, rows) -> str:
    lines = [
        f"# losskit benchmarks ({meta['device']}, torch {meta['torch']}, {meta['threads']} threads)",
        "",
        f"Forward + backward, paired in one process, order alternating every round; {meta['rounds']} rounds of "
        f"samples ≥ {meta.get('min_time_s', 0.02) * 1e3:.0f} ms on the {_CLOCK_TEXT[meta.get('clock', 'wall')]}. Ratio = losskit time / other time, "
        "median [min–max] over rounds (< 1: losskit is faster). Value check: losskit's loss against the other's on "
        "the inputs timed (max relative difference). Saved B/el: bytes autograd keeps for backward per element "
        "beyond the inputs, losskit / other. Peak MiB: peak extra memory of one step in a fresh process, "
        "losskit / other.",
        "",
        "Peers importable here: "
        + ", ".join(k for k, v in meta["peers"].items() if v)
        + "; not importable: "
        + (", ".join(k for k, v in meta["peers"].items() if not v) or "none")
        + ".",
        "",
        "| loss | variant | elements | losskit ms | vs | ratio median [min–max] | other ms | value | saved B/el | peak MiB |",
        "|---|---|---:|---:|---|---|---:|---|---|---|",
    ]
    for r in rows:
        el = max(r["elements"], 1)
        variant = _variant_text(r.get("variant", {}))
        ours_saved = r.get("losskit_saved_bytes", 0) / el
        if not r["others"]:
            lines.append(
                f"| {r['case']} | {variant} | {r['elements']:.0e} | {r['losskit_ms']:.3f} | (no peer) | | | | "
                f"{ours_saved:.1f} | {_mib(r.get('losskit_peak_mib'))} |"
            )
        for label, o in r["others"].items():
            peak = ""
            if "peak_mib" in o:
                peak = f"{_mib(r.get('losskit_peak_mib'))} / {_mib(o['peak_mib'])}"
            lines.append(
                f"| {r['case']} | {variant} | {r['elements']:.0e} | {r['losskit_ms']:.3f} | {label} | "
                f"{o['ratio_median']:.2f} [{o['ratio_min']:.2f}–{o['ratio_max']:.2f}] | {o['other_ms']:.3f} | "
                f"{_check_text(o['value_check'])} | {ours_saved:.1f} / {o['saved_bytes'] / el:.1f} | {peak} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
