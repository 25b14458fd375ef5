"""Merge harness runs into one result file and write the README's speed table from it.

``python -m benchmarks.summary RUN.json [RUN.json ...] [--out benchmarks/results/bench] [--readme README.md]``

A full run of ``python -m benchmarks`` takes more than an hour on a 2-core
machine, so the published table is assembled from several runs of the same
harness (for example the large sizes of every case, then the per-call sizes,
then the cases a change touched). Rows are keyed by (case, variant, elements);
a later file replaces an earlier file's row with the same key. Every row keeps
the index of the run it came from, and the merged JSON keeps every run's
settings (device, torch, threads, clock, rounds), so each figure can be traced
to the run that measured it.

The README table is the compact view: one line per loss and contender, the
median ratio losskit / other at each size; the class-count variants (C = 10,
100, 1000) are shown as the range of their medians. The full table, with
min–max over rounds, times, value checks and saved bytes, is the merged
``bench.md``.
"""

from __future__ import annotations

import argparse
import json
import pathlib
from typing import Any, Dict, List, Sequence, Tuple

from .__main__ import RESULTS, markdown

START = "<!-- bench-table:start (written by python -m benchmarks.summary) -->"
END = "<!-- bench-table:end -->"

#: the README's size columns: the per-call size, then powers of ten (2^24 rows go with 1e7)
COLUMNS: Tuple[Tuple[str, int, int], ...] = (
    ("tiny", 0, 10_000),
    ("1e5", 10_000, 300_000),
    ("1e6", 300_000, 3_000_000),
    ("1e7", 3_000_000, 10**12),
)


def _key(row: Dict[str, Any]) -> Tuple[str, str, int]:
    return row["case"], json.dumps(row.get("variant", {}), sort_keys=True), int(row["elements"])


def runs_in(data: Dict[str, Any], path: str = "") -> List[Dict[str, Any]]:
    """The runs a file holds: one harness run, or an earlier merge (so a new run can be added to it)."""
    if "meta" in data:
        return [data]
    if "runs" in data:
        return [
            {"meta": meta, "rows": [row for row in data["rows"] if row["run"] == index]}
            for index, meta in enumerate(data["runs"])
        ]
    raise SystemExit(f"benchmarks.summary: {path} is not a result of python -m benchmarks (no 'meta' or 'runs')")


def merge(runs: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """One result from several: the later run's row wins for a shared key; the case order of first appearance."""
    merged: Dict[Tuple[str, str, int], Dict[str, Any]] = {}
    for index, run in enumerate(runs):
        for row in run["rows"]:
            merged[_key(row)] = {**row, "run": index}
    case_order: Dict[str, int] = {}
    for run in runs:
        for row in run["rows"]:
            case_order.setdefault(row["case"], len(case_order))
    rows = sorted(merged.values(), key=lambda r: (case_order[r["case"]], _key(r)[1], r["elements"]))
    return {"runs": [run["meta"] for run in runs], "rows": rows}


def _column(elements: int) -> str:
    for name, low, high in COLUMNS:
        if low <= elements < high:
            return name
    raise ValueError(f"benchmarks.summary: no column for {elements} elements")


def compact_rows(result: Dict[str, Any]) -> List[List[str]]:
    """[loss, vs, tiny, 1e5, 1e6, 1e7] per (case, contender): a median, or the range of medians over variants."""
    cells: Dict[Tuple[str, str], Dict[str, List[float]]] = {}
    for row in result["rows"]:
        for label, other in row["others"].items():
            by_size = cells.setdefault((row["case"], label), {})
            by_size.setdefault(_column(int(row["elements"])), []).append(float(other["ratio_median"]))
    lines = []
    for (case, label), by_size in cells.items():
        line = [case, label]
        for name, _, _ in COLUMNS:
            values = by_size.get(name)
            if not values:
                line.append("")
            elif len(values) == 1 or min(values) == max(values):
                line.append(f"{values[0]:.2f}")
            else:
                line.append(f"{min(values):.2f}–{max(values):.2f}")
        lines.append(line)
    return lines


def describe_runs(result: Dict[str, Any]) -> str:
    parts = []
    for index, meta in enumerate(result["runs"]):
        parts.append(
            f"run {index}: {meta['device']}, torch {meta['torch']}, {meta['threads']} thread(s), "
            f"{meta['rounds']} rounds, {meta.get('clock', 'wall')} clock"
            + (f", {meta['note']}" if meta.get("note") else "")
        )
    return "; ".join(parts)


def readme_table(result: Dict[str, Any]) -> str:
    header = "| loss | vs | tiny (8 el. or 8×C) | 1e5 | 1e6 | 1e7 |\n|---|---|---:|---:|---:|---:|\n"
    body = "".join("| " + " | ".join(line) + " |\n" for line in compact_rows(result))
    return (
        header
        + body
        + "\nMedian ratio losskit / other over the rounds; the class-count variants as the range of their medians; "
        + f"the 1e7 column includes the 2^24 rows. Runs: {describe_runs(result)}.\n"
    )


def merged_markdown(result: Dict[str, Any]) -> str:
    """The harness's full table for each run's rows, under one heading per run."""
    out = []
    for index, meta in enumerate(result["runs"]):
        rows = [row for row in result["rows"] if row["run"] == index]
        if rows:
            text = markdown(meta, rows)
            out.append(text.replace("# losskit benchmarks", f"# losskit benchmarks, run {index}", 1))
    return "\n".join(out)


def replace_between_markers(text: str, table: str) -> str:
    if START not in text or END not in text:
        raise SystemExit(f"benchmarks.summary: the README needs the markers {START!r} and {END!r}")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}{END}{tail}"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="result JSON files of python -m benchmarks, oldest first")
    ap.add_argument("--out", default=str(RESULTS / "bench"), help="merged output path without extension")
    ap.add_argument("--readme", default="", help="README whose marked table is rewritten")
    args = ap.parse_args(argv)
    runs = []
    for path in args.runs:
        runs += runs_in(json.loads(pathlib.Path(path).read_text()), path)
    result = merge(runs)
    out = pathlib.Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    out.with_suffix(".md").write_text(merged_markdown(result))
    if args.readme:
        readme = pathlib.Path(args.readme)
        readme.write_text(replace_between_markers(readme.read_text(), readme_table(result)))


if __name__ == "__main__":
    main()
