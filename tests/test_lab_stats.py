"""The lab's statistics and verdict, the comparison's files, Ctrl-C and --resume, --jobs and --tune.

The slow test here is the regression task over 10 seeds (about 40 runs of 40 epochs, ~30 s on one free core):
it checks the lab's answer on the task it was built for.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from losskit.lab import report, stats
from losskit.lab.compare import LR_GRID, RunResult, run_compare
from losskit.lab.tasks import classification_metrics, fit_temperature

# --- statistics ---


def test_t_interval_textbook_values_and_one_value():
    low, high = stats.t_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    # mean 3, s = sqrt(2.5), t(0.975, 4) = 2.7764451
    half = 2.7764451 * np.sqrt(2.5) / np.sqrt(5)
    assert low == pytest.approx(3 - half, rel=1e-6) and high == pytest.approx(3 + half, rel=1e-6)
    assert stats.t_interval([4.2]) is None
    assert stats.t_interval([2.0, 2.0, 2.0]) == (2.0, 2.0)


def test_holm_hand_computed():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> running max 0.06
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.6, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1; the running max keeps the order
    assert stats.holm([0.02, 0.9]) == pytest.approx([0.04, 0.9])
    assert stats.holm([]) == []


def test_paired_test_edge_cases_and_scipy():
    from scipy.stats import ttest_rel

    assert stats.paired_test([1.0], [2.0]) is None
    assert stats.paired_test([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 1.0
    assert stats.paired_test([2.0, 3.0, 4.0], [1.0, 2.0, 3.0]) == 0.0  # the same shift on every seed
    a, b = [0.8, 0.82, 0.79, 0.85], [0.78, 0.8, 0.8, 0.81]
    assert stats.paired_test(a, b) == pytest.approx(ttest_rel(a, b).pvalue)


def _per_seed(**means_and_noise):
    rng = np.random.default_rng(0)
    shared = rng.normal(0, 1.0, 10)  # the split-to-split variation every loss shares on a seed
    return {
        name: {s: mean + shared[s] + noise * rng.normal() for s in range(10)}
        for name, (mean, noise) in means_and_noise.items()
    }


def test_paired_analysis_separates_what_unpaired_spreads_cannot():
    per_seed = _per_seed(a=(10.0, 0.05), b=(10.3, 0.05), c=(10.01, 0.05))
    analysis = stats.analyse(per_seed, higher_is_better=True)
    # b beats a by 0.3 with a spread of 1 per loss, but by 0.3 +- 0.07 on every seed: paired, it is clear
    assert analysis.best == ["b"]
    assert [r.rank_label for r in analysis.rows] == ["1", "2", "3"]
    assert all(r.p_holm < 0.05 for r in analysis.rows[1:])


def test_ties_share_rank_one_and_identical_candidates_are_flagged():
    per_seed = _per_seed(a=(10.0, 0.3), b=(10.05, 0.3), c=(8.0, 0.05))
    per_seed["a copy"] = dict(per_seed["a"])
    analysis = stats.analyse(per_seed, higher_is_better=True)
    assert set(analysis.best) == {"a", "b", "a copy"}
    assert {r.loss: r.rank_label for r in analysis.rows} == {"a": "1=", "b": "1=", "a copy": "1=", "c": "4"}
    assert analysis.identical == [("a", "a copy")]
    text = stats.verdict(analysis, per_seed, "score", True, reference="c")
    assert "tied" in text and "identical results on every seed" in text and "Against c" in text


def test_identical_losses_behind_the_best_share_a_rank():
    per_seed = _per_seed(a=(12.0, 0.05), b=(10.0, 0.05))
    per_seed["b copy"] = dict(per_seed["b"])
    analysis = stats.analyse(per_seed, higher_is_better=True)
    assert {r.loss: r.rank_label for r in analysis.rows} == {"a": "1", "b": "2=", "b copy": "2="}


def test_one_seed_gives_no_interval_and_says_so():
    analysis = stats.analyse({"a": {0: 1.0}, "b": {0: 2.0}}, higher_is_better=False)
    assert all(r.ci95 is None and r.p_holm is None for r in analysis.rows)
    assert [r.loss for r in analysis.rows] == ["a", "b"] and analysis.best == ["a"]
    text = stats.verdict(analysis, {"a": {0: 1.0}, "b": {0: 2.0}}, "mae", False, reference="b")
    assert "one seed" in text


# --- end to end: identical candidates, one seed, the regression answer ---


def test_two_identical_candidates_are_reported_tied():
    # smooth_l1 at its default beta=1 is huber at delta=1, value for value: the lab must not rank one above the other
    result = run_compare("noisy-regression", "mse,huber,smooth_l1", epochs=3, seeds=2, lr=1e-2)
    rows = {row["loss"]: row for row in result.summary()}
    assert rows["huber"]["rank"] == rows["smooth_l1"]["rank"] and rows["huber"]["rank_label"].endswith("=")
    assert ("huber", "smooth_l1") in result.analysis().identical
    assert "huber and smooth_l1 gave identical results" in result.verdict()["text"]


def test_one_seed_table_shows_a_dash_not_plus_minus_zero():
    from rich.console import Console

    result = run_compare("noisy-regression", "mse,l1", epochs=2, seeds=1)
    assert all(row["ci95"] is None for row in result.summary())
    console = Console(width=250, record=True)
    console.print(report.table(result))
    text = console.export_text()
    assert "±0.0" not in text and " —" in text


def test_regression_answer_over_ten_seeds():
    """The lab's answer on noisy-regression, validation-selected, 10 seeds: l1, huber and log_cosh tied, mse behind.

    40 epochs instead of the default 80 change nothing that matters: every loss's best validation epoch is on
    average well below 40 (8-26 over 21 seeds), and a run is scored at its best validation epoch.
    """
    result = run_compare("noisy-regression", "mse,l1,huber,log_cosh", epochs=40, seeds=10)
    rows = {row["loss"]: row for row in result.summary()}
    analysis = result.analysis()
    assert rows["mse"]["rank"] == 4 and rows["mse"]["p_vs_best"] < 1e-3
    for robust in ("l1", "huber", "log_cosh"):
        # each robust loss beats mse on the same seeds, by more than the spread of the paired differences
        diff, ci, n = stats.paired_difference(result.per_seed()["mse"], result.per_seed()[robust])
        assert n == 10 and ci[0] > 5.0, (robust, diff, ci)
        assert rows[robust]["mean"] < rows["mse"]["ci95"][0]
    # the validation-selected answer: the three robust losses are tied (none worse than the best by more
    # than the equivalence margin), mse is behind them
    assert sorted(analysis.best) == ["huber", "l1", "log_cosh"], analysis.best
    assert [rows[name]["rank"] for name in ("l1", "huber", "log_cosh")] == [1, 1, 1]
    # the three robust losses are within 2.5 MAE of each other (about 5%): close, whatever the test says
    robust_means = [rows[name]["mean"] for name in ("l1", "huber", "log_cosh")]
    assert max(robust_means) - min(robust_means) < 2.5
    verdict = result.verdict()
    assert verdict["best"] == analysis.best and "Against mse" in verdict["text"]
    # the baselines: the constant is far behind, the robust linear model is in the robust losses' range
    constant = np.mean([v["mae"] for v in result.baselines["constant (median)"].values()])
    assert constant > rows["mse"]["mean"] > max(robust_means)


# --- metrics ---


def test_classification_metrics_by_hand():
    labels = np.array([0, 0, 1, 1, 2, 2])
    logits = np.eye(3)[[0, 1, 1, 1, 0, 2]] * 3.0  # class 0: 1/2 right, class 1: 2/2, class 2: 1/2
    counts = np.array([50, 20, 5])  # class 2 is the rarest, then 1
    scores, extra = classification_metrics(logits, labels, logits, labels, counts)
    assert extra["per_class_recall"] == [0.5, 1.0, 0.5]
    assert scores["balanced_accuracy"] == pytest.approx(2 / 3)
    assert scores["worst_recall"] == 0.5
    assert scores["rare_recall"] == pytest.approx((0.5 + 1.0 + 0.5) / 3)  # the three rarest of three classes
    margin, _ = classification_metrics(logits, labels, logits, labels, counts, probabilistic=False)
    assert np.isnan(margin["ece"])


def test_temperature_scaling_undoes_a_scaled_logit():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 2000)
    logits = rng.normal(size=(2000, 4)) + 2.0 * np.eye(4)[labels]
    # sample labels from softmax(logits): then T = 1 is right, and logits * 3 need T = 3
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    sampled = np.array([rng.choice(4, p=row) for row in p])
    assert fit_temperature(logits, sampled) == pytest.approx(1.0, abs=0.1)
    assert fit_temperature(3 * logits, sampled) == pytest.approx(3.0, rel=0.1)


def test_margin_loss_has_no_ece_and_json_writes_null(tmp_path):
    result = run_compare("imbalanced-digits", "cross_entropy,multi_margin", epochs=2, seeds=1)
    by_loss = {r.loss: r for r in result.runs}
    assert np.isnan(by_loss["multi_margin"].metrics["ece"]) and 0 <= by_loss["cross_entropy"].metrics["ece"] <= 1
    report.write(result, tmp_path)
    data = json.loads((tmp_path / "results.json").read_text())
    rows = {row["loss"]: row for row in data["summary"]}
    assert rows["multi_margin"]["ece"] is None and rows["cross_entropy"]["ece"] is not None
    assert "accuracy" not in rows["cross_entropy"]  # equal to balanced accuracy on the balanced test set
    settings = data["settings"]
    assert settings["split_sizes"]["test"] == 300 and settings["model"]["parameters"] > 0
    assert "torch" in settings["versions"] and settings["wall_seconds"] > 0


# --- protocol: --jobs, --tune lr ---


def test_jobs_give_the_same_results_as_one_job():
    one = run_compare("noisy-regression", "mse,l1", epochs=3, seeds=2, jobs=1)
    two = run_compare("noisy-regression", "mse,l1", epochs=3, seeds=2, jobs=2)
    assert [(r.loss, r.seed, r.metrics, r.val_curve) for r in one.runs] == [
        (r.loss, r.seed, r.metrics, r.val_curve) for r in two.runs
    ]


def test_tune_lr_picks_from_the_grid_on_validation():
    result = run_compare("noisy-regression", "mse", epochs=3, seeds=1, tune="lr")
    (run,) = result.runs
    assert run.lr in LR_GRID and result.settings["lr_grid"] == list(LR_GRID)
    # the chosen rate is the one whose best validation MAE is lowest: each rate alone gives its own run
    alone = {lr: run_compare("noisy-regression", "mse", epochs=3, seeds=1, lr=lr).runs[0] for lr in LR_GRID}
    assert run.val_metric == min(r.val_metric for r in alone.values())
    assert run.metrics == alone[run.lr].metrics


# --- files, Ctrl-C and --resume ---


def test_default_out_dir_is_new_each_time(tmp_path):
    import datetime

    now = datetime.datetime(2026, 1, 2, 3, 4, 5)
    first = report.default_out_dir("noisy-regression", tmp_path, now)
    assert first == tmp_path / "noisy-regression-20260102-030405"
    first.mkdir()
    assert report.default_out_dir("noisy-regression", tmp_path, now).name == "noisy-regression-20260102-030405-2"


def test_read_log_skips_a_line_cut_short(tmp_path):
    log = report.start_log(tmp_path, {"task": "noisy-regression"})
    run = RunResult("mse", 0, {"mae": 1.0, "rmse": 2.0}, [1.0], [1.0], 1, 1.0, [1.0])
    report.append_run(log, run)
    with open(log, "a") as f:
        f.write('{"loss": "l1", "se')  # a crash in the middle of a write
    plan, runs = report.read_log(tmp_path)
    assert plan == {"task": "noisy-regression"} and runs == [run]


def _wait_for_lines(path, n, proc, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= n:
            return
        if proc.poll() is not None:
            pytest.fail(f"the comparison ended early: {proc.communicate()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("no runs were logged in time")


def test_sigint_keeps_the_finished_runs_and_resume_completes_them(tmp_path):
    out = tmp_path / "cmp"
    args = ["compare", "-t", "noisy-regression", "-l", "mse,l1", "-e", "8", "-s", "3"]
    env = dict(os.environ, COLUMNS="200")
    proc = subprocess.Popen(
        [sys.executable, "-m", "losskit", *args, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    _wait_for_lines(out / "runs.jsonl", 2, proc)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, (stdout, stderr)
    assert "Traceback" not in stdout + stderr and "--resume" in stdout
    logged = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    data = json.loads((out / "results.json").read_text())
    assert data["interrupted"] is True and 2 <= len(data["runs"]) < 6
    assert [(r["loss"], r["seed"]) for r in data["runs"]] == [(r["loss"], r["seed"]) for r in logged]
    assert "Interrupted" in data["verdict"]["text"]

    result = subprocess.run(
        [sys.executable, "-m", "losskit", "compare", "--resume", str(out)], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    done = json.loads((out / "results.json").read_text())
    assert done["interrupted"] is False and len(done["runs"]) == 6
    # the runs kept across the interruption are the runs an uninterrupted comparison makes
    fresh = run_compare("noisy-regression", "mse,l1", epochs=8, seeds=3)
    assert [(r["loss"], r["seed"], r["metrics"]) for r in done["runs"]] == [
        (r.loss, r.seed, r.metrics) for r in fresh.runs
    ]


def test_verdict_warns_about_a_learning_rate_at_the_edge_of_the_grid():
    from losskit.lab.compare import CompareResult

    runs = [
        RunResult(loss, seed, {"mae": 1.0 + seed + k, "rmse": 2.0}, [1.0], [1.0], 1, 1.0, [1.0], lr=lr)
        for k, (loss, lr) in enumerate([("l1", 1e-2), ("mse", 3e-3)])
        for seed in range(3)
    ]
    settings = {"tune": "lr", "lr_grid": list(LR_GRID), "losses": ["l1", "mse"]}
    result = CompareResult("noisy-regression", "mae", False, ("mae", "rmse"), runs, settings)
    text = result.verdict()["text"]
    assert "l1 chose 0.01, the largest rate of the grid, on 3 of 3 seeds" in text
    assert "mse chose" not in text  # behind the best (a constant +1 on every seed), and mid-grid anyway


def test_a_consistent_but_negligible_gap_is_a_tie_within_the_equivalence_margin():
    """Many seeds make a 1-in-45 gap significant; the margin (2% of the best mean) keeps it a tie, not 'behind'."""
    rng = np.random.default_rng(0)
    base = 45.0 + rng.normal(0.0, 2.0, size=21)  # lower is better (MAE); the split dominates the spread
    per_seed = {
        "l1": dict(enumerate(base)),
        "huber": dict(enumerate(base + 0.8 + rng.normal(0.0, 0.3, size=21))),
        "mse": dict(enumerate(base + 12.0 + rng.normal(0.0, 2.0, size=21))),
    }
    strict = stats.analyse(per_seed, higher_is_better=False, rope=0.0)
    assert strict.best == ["l1"] and strict.row("huber").p_holm < 1e-6  # any difference: huber is behind
    relaxed = stats.analyse(per_seed, higher_is_better=False)
    assert relaxed.best == ["l1", "huber"] and relaxed.row("huber").rank_label == "1="
    assert relaxed.row("mse").rank == 3 and relaxed.row("mse").p_holm < 1e-6
    assert relaxed.margin == pytest.approx(0.02 * relaxed.row("l1").mean)
    text = stats.verdict(relaxed, per_seed, "mae", False, "mse")
    assert "equivalence margin" in text and "l1, huber" in text
    with pytest.raises(ValueError, match="analyse: rope must be a finite number >= 0"):
        stats.analyse(per_seed, higher_is_better=False, rope=-0.1)
