"""The benchmark harness runs and writes its table and JSON (a smoke test: no timing is asserted)."""

import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _importable(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))


def test_harness_smoke(tmp_path):
    from benchmarks.__main__ import main

    out = tmp_path / "bench"
    main(["--quick", "--cases", "huber,focal,linear_cross_entropy", "--classes", "10,1000", "--out", str(out)])
    data = json.loads(out.with_suffix(".json").read_text())
    assert {row["case"] for row in data["rows"]} == {"huber", "focal", "linear_cross_entropy"}
    assert data["meta"]["rounds"] == 2
    huber = next(r for r in data["rows"] if r["case"] == "huber")
    torch_nn = huber["others"]["torch.nn"]
    # the reported ratio is consistent with the recorded times and inside the per-round range
    assert torch_nn["ratio_min"] <= torch_nn["ratio_median"] <= torch_nn["ratio_max"]
    assert huber["losskit_ms"] > 0 and torch_nn["other_ms"] > 0
    # every timed pair was value-checked first, and the compared losses are the same loss
    for row in data["rows"]:
        for label, other in row["others"].items():
            check = other["value_check"]
            assert check["ok"] or check.get("differs"), (row["case"], row["variant"], label, check)
    # focal runs at each requested class count, with tiny (N = 8) inputs for the per-call overhead
    assert {(r["variant"]["classes"], r["elements"]) for r in data["rows"] if r["case"] == "focal"} >= {
        (10, 80),
        (1000, 8000),
    }
    # saved-for-backward bytes and, for linear_cross_entropy, peak memory from a fresh process
    lce = next(r for r in data["rows"] if r["case"] == "linear_cross_entropy")
    assert lce["losskit_peak_mib"] is not None and lce["others"]["torch.nn (naive)"]["peak_mib"] > 0
    assert huber["losskit_saved_bytes"] >= 0
    assert out.with_suffix(".md").read_text().startswith("# losskit benchmarks")


def test_pairs_alternate_their_order():
    import torch
    from benchmarks.measure import paired

    calls = []
    paired(lambda: calls.append("a"), lambda: calls.append("b"), torch.device("cpu"), 4, 0.0, ours_first=False)
    timed = calls[-8:]  # after the warm-up and the loop calibration: one call per sample
    assert timed == ["b", "a", "a", "b", "b", "a", "a", "b"]


def test_many_contenders_reverse_their_order_every_other_round():
    import torch
    from benchmarks.measure import paired_many

    calls = []
    steps = {name: (lambda name=name: calls.append(name)) for name in ("losskit", "x", "y")}
    out = paired_many(steps, "losskit", torch.device("cpu"), 2, 0.0)
    assert calls[-6:] == ["losskit", "x", "y", "y", "x", "losskit"]
    assert set(out["ratio_losskit_over"]) == {"x", "y"} and set(out["seconds_median"]) == {"losskit", "x", "y"}


def test_unknown_case_is_an_error():
    from benchmarks.suite import select

    with pytest.raises(SystemExit, match="unknown case"):
        select(["no_such_loss"])


def test_every_registered_loss_is_benchmarked_or_listed():
    from benchmarks.suite import all_cases

    import losskit as lk

    benched = {c.name.split("(")[0] for c in all_cases()}
    assert set(lk.available()) <= benched


def test_fused_gradient_rows_run_at_2_24_in_a_full_run_only():
    from benchmarks.__main__ import sizes_for
    from benchmarks.suite import FUSED_GRADIENT_SIZE, select

    for case in select(["mse", "l1", "huber", "smooth_l1"]):
        assert sizes_for(case, [8, 100000], with_extra_sizes=True) == [8, 100000, FUSED_GRADIENT_SIZE]
        assert sizes_for(case, [8, 100000], with_extra_sizes=False) == [8, 100000]
    assert sizes_for(select(["rmse"])[0], [8], with_extra_sizes=True) == [8]


def _run(meta_note, rows):
    meta = {"device": "cpu", "torch": "2.x", "threads": 1, "rounds": 15, "clock": "cpu", "note": meta_note}
    meta["peers"] = {"keras": True, "smp": False}
    return {"meta": meta, "rows": rows}


def _row(case, elements, ratio, variant=None):
    timing = {"ratio_median": ratio, "ratio_min": ratio * 0.9, "ratio_max": ratio * 1.1, "other_ms": 1.0}
    timing["value_check"] = {"ok": True, "max_rel_diff": 0.0}
    timing["saved_bytes"] = 0
    return {
        "case": case,
        "variant": variant or {},
        "size": elements,
        "elements": elements,
        "others": {"torch.nn": timing},
        "losskit_ms": ratio,
        "losskit_saved_bytes": 0,
    }


def test_summary_merges_runs_later_rows_win_and_the_readme_table_is_rewritten(tmp_path):
    from benchmarks.summary import END, START, main

    first = _run(
        "large",
        [_row("mse", 100_000, 1.0), _row("mse", 10_000_000, 0.9)]
        + [_row("focal", 8 * c, 2.0 + c / 1000, {"classes": c}) for c in (10, 100, 1000)],
    )
    second = _run("rerun", [_row("mse", 100_000, 0.5), _row("focal", 80, 1.25, {"classes": 10})])
    paths = []
    for i, run in enumerate((first, second)):
        paths.append(tmp_path / f"run{i}.json")
        paths[-1].write_text(json.dumps(run))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{START}\nold table\n{END}\noutro\n")
    main([str(p) for p in paths] + ["--out", str(tmp_path / "bench"), "--readme", str(readme)])

    merged = json.loads((tmp_path / "bench.json").read_text())
    by_key = {(r["case"], r["elements"]): r for r in merged["rows"]}
    assert by_key[("mse", 100_000)]["others"]["torch.nn"]["ratio_median"] == 0.5  # the later run replaced it
    assert by_key[("mse", 100_000)]["run"] == 1 and by_key[("mse", 10_000_000)]["run"] == 0
    assert [m["note"] for m in merged["runs"]] == ["large", "rerun"]

    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old table" not in text
    assert "| mse | torch.nn |  | 0.50 |  | 0.90 |" in text
    # the class-count variants of one size: the range of their medians (the rerun replaced C = 10)
    assert "| focal | torch.nn | 1.25–3.00 |" in text

    # a merged file can take a further run
    third = tmp_path / "run2.json"
    third.write_text(json.dumps(_run("late", [_row("mse", 10_000_000, 0.7)])))
    main([str(tmp_path / "bench.json"), str(third), "--out", str(tmp_path / "again")])
    again = json.loads((tmp_path / "again.json").read_text())
    assert len(again["runs"]) == 3
    assert {(r["case"], r["elements"]): r["run"] for r in again["rows"]}[("mse", 10_000_000)] == 2


def test_embedding_pairs_compute_the_same_loss():
    """Each peer of benchmarks.embedding computes losskit's loss (or is listed in DIFFERS, with the reason).

    Guards the setup itself: given the labels object as ``ref_labels``, pml's NTXentLoss drops the
    positive pairs and returns 0 without computing anything — a ratio against that is meaningless.
    """
    pytest.importorskip("pytorch_metric_learning")
    from benchmarks.embedding import CASES, steps_for, value_check

    for case in CASES:
        for name, check in value_check(case, steps_for(case, 16)).items():
            assert check["ok"] or check["differs"], (case, name, check)
            assert check["differs"] or check["other"] != 0.0, (case, name, check)
