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
    main(
        [
            "--sizes",
            "200",
            "--rounds",
            "1",
            "--min-time",
            "0",
            "--cases",
            "huber,focal,linear_cross_entropy",
            "--out",
            str(out),
        ]
    )
    data = json.loads(out.with_suffix(".json").read_text())
    assert {row["case"] for row in data["rows"]} == {"huber", "focal", "linear_cross_entropy"}
    huber = next(r for r in data["rows"] if r["case"] == "huber")
    torch_nn = huber["others"]["torch.nn"]
    # the reported ratio is consistent with the recorded times and inside the per-round range
    assert torch_nn["ratio_min"] <= torch_nn["ratio_median"] <= torch_nn["ratio_max"]
    assert huber["losskit_ms"] > 0 and torch_nn["other_ms"] > 0
    assert out.with_suffix(".md").read_text().startswith("# losskit benchmarks")


def test_unknown_case_is_an_error():
    from benchmarks.suite import select

    with pytest.raises(SystemExit, match="unknown case"):
        select(["no_such_loss"])


def test_every_registered_loss_is_benchmarked_or_listed():
    from benchmarks.suite import all_cases

    import losskit as lk

    benched = {c.name.split("(")[0] for c in all_cases()}
    assert set(lk.available()) <= benched
