"""The loss lab's internals: validation split, best-epoch selection, report files and figure, threads, defaults.

Tiny settings throughout (a few epochs, one or two seeds, the small regression task where possible).
"""

import itertools
import json
import os

import numpy as np
import pytest
import torch

from losskit.lab import compare as compare_mod
from losskit.lab import report
from losskit.lab.compare import CompareResult, LabError, RunResult, parse_loss_specs, plan_compare, run_compare
from losskit.lab.tasks import TASKS


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# --- validation split ---


def test_digits_validation_split_is_stratified_and_deterministic():
    task = TASKS["imbalanced-digits"]
    a, b, other = task.load(0, 0.2), task.load(0, 0.2), task.load(1, 0.2)
    for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.y_val, other.y_val) or not np.array_equal(a.x_val, other.x_val)
    counts = a.info["train_counts"]
    for c, n in counts.items():  # the long-tailed training set is split per class, every class on both sides
        n_train, n_val = int((a.y_train == c).sum()), int((a.y_val == c).sum())
        assert n_train + n_val == n and n_train >= 1
        assert n_val >= 1 if n >= 2 else n_val == 0
        assert abs(n_val - 0.2 * n) <= 1  # the fraction, to rounding (and the one-each-side rule)
    assert sorted(np.bincount(a.y_test).tolist()) == [30] * 10  # the test set is untouched


def test_regression_validation_split_comes_from_the_training_set():
    task = TASKS["noisy-regression"]
    s = task.load(0, 0.2)
    n = s.y_train.shape[0] + s.y_val.shape[0]
    assert n == 309 and s.y_val.shape[0] == round(0.2 * 309) and s.y_test.shape[0] == 133  # diabetes: 442 = 309 + 133

    # no example is in two parts: rows of the features are distinct in diabetes
    def rows(x):
        return {tuple(np.round(r, 5)) for r in x}

    assert not rows(s.x_val) & rows(s.x_train) and not rows(s.x_val) & rows(s.x_test)


# --- best validation epoch ---


def test_reports_test_metrics_of_the_best_validation_epoch():
    # a run scored at epoch b must equal a run that trained for exactly b epochs (same seed: same batches)
    long = run_compare("noisy-regression", "mse", epochs=8, seeds=1, lr=3e-2)
    (run,) = long.runs
    b = run.best_epoch
    assert 1 <= b <= 8 and len(run.val_curve) == 8 and len(run.train_curve) == 8
    assert run.val_metric == min(run.val_metric_curve) and run.val_metric_curve.index(run.val_metric) == b - 1
    short = run_compare("noisy-regression", "mse", epochs=b, seeds=1, lr=3e-2)
    assert short.runs[0].best_epoch == b
    assert short.runs[0].metrics == run.metrics


def test_classification_selects_on_validation_balanced_accuracy():
    result = run_compare("imbalanced-digits", "cross_entropy", epochs=3, seeds=1)
    (run,) = result.runs
    assert run.val_metric == max(run.val_metric_curve)
    assert run.best_epoch - 1 in [i for i, v in enumerate(run.val_metric_curve) if v == run.val_metric]
    assert "best validation epoch" in result.settings["selection"]


# --- report: files and figure ---


def _synthetic_result(task="noisy-regression"):
    t = TASKS[task]
    metric = {m: 1.0 + i for i, m in enumerate(t.metrics)}
    runs = [
        RunResult(
            loss,
            seed,
            {m: v * (2 + k) + seed for m, v in metric.items()},
            [1.0, 0.5, 0.4],
            [3.0 + k, 2.0 + k, 2.5 + k],
            2,
            2.0 + k,
            [3.0 + k, 2.0 + k, 2.5 + k],
        )
        for k, loss in enumerate(["mse", "l1"])
        for seed in (0, 1)
    ]
    settings = {"epochs": 3, "seeds": 2, "val_fraction": 0.2}
    return CompareResult(t.name, t.primary, t.higher_is_better, t.metrics, runs, settings)


def test_figure_dot_plot_shades_the_tied_best_and_curves_are_validation_curves():
    import matplotlib.pyplot as plt

    result = _synthetic_result()
    fig = report.figure(result)
    try:
        ax_dot, ax_curve = fig.axes[:2]
        assert "95% CI" in ax_dot.get_xlabel()
        assert "validation" in ax_curve.get_title() and "validation" in ax_curve.get_ylabel()
        assert ax_curve.get_xlim() == (1.0, 3.0)  # the whole epoch range, not cut
        means = {
            row["loss"]: np.mean([r.val_metric_curve for r in result.runs if r.loss == row["loss"]], 0)
            for row in result.summary()
        }
        lines = {line.get_label(): line for line in ax_curve.get_lines()}
        assert set(lines) == set(means)
        for loss, line in lines.items():
            np.testing.assert_allclose(line.get_ydata(), means[loss])
            assert line.get_color() == report.loss_colour(loss)  # the loss's colour, not its rank's
    finally:
        plt.close(fig)


def test_loss_colour_depends_on_the_name_only():
    assert report.loss_colour("huber") == report.loss_colour("huber")
    assert report.loss_colour("huber") in report.PALETTE
    for task in TASKS.values():  # a task's defaults never share a colour
        colours = [report.loss_colour(name) for name in task.default_losses]
        assert len(set(colours)) == len(colours), task.name


def test_write_records_the_chosen_epoch_and_is_all_or_nothing(tmp_path, monkeypatch):
    result = _synthetic_result()
    files = report.write(result, tmp_path / "out")
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [r["best_epoch"] for r in data["runs"]] == [2, 2, 2, 2]
    assert data["interrupted"] is False and set(data["verdict"]) == {"best", "text"}
    assert data["selection"] == "test metrics at the best validation epoch"
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    assert sorted(before) == sorted(f.name for f in files)
    with pytest.raises(report.OutputError, match="already holds results"):
        report.write(result, tmp_path / "out")

    def fail(_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "_png_bytes", fail)  # the last file fails: none of the earlier may change
    result.runs[0].best_epoch = 3
    with pytest.raises(OSError, match="No space"):
        report.write(result, tmp_path / "out", overwrite=True)
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before  # and no temporary files


def test_check_out_dir(tmp_path):
    nested = tmp_path / "a" / "b"
    assert report.check_out_dir(nested) == nested and not (tmp_path / "a").exists()  # checks, creates nothing
    (tmp_path / "f").write_text("x")
    with pytest.raises(report.OutputError, match="is a file"):
        report.check_out_dir(tmp_path / "f")
    with pytest.raises(report.OutputError, match="is a file"):
        report.check_out_dir(tmp_path / "f" / "sub")
    (tmp_path / "results.csv").write_text("rank\n")
    with pytest.raises(report.OutputError, match=r"already holds results \(results.csv\)"):
        report.check_out_dir(tmp_path)
    report.check_out_dir(tmp_path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f", "results.csv"]  # the probe file is gone


# --- settings checked before training ---


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"lr": float("nan")}, "--lr must be a positive, finite number"),
        ({"lr": -1.0}, "--lr must be a positive, finite number"),
        ({"epochs": 0}, "--epochs must be at least 1"),
        ({"epochs": 10**23}, "at most"),
        ({"epochs": 2.5}, "--epochs takes a whole number"),
        ({"seeds": 0}, "--seeds must be at least 1"),
        ({"first_seed": -1}, "--first-seed must be at least 0"),
        ({"task_name": "mnist"}, "unknown task"),
        ({"losses": "cross_entropy,ce"}, "listed twice"),
        ({"losses": ["focal", "focal(gamma=2)"]}, "listed twice"),
        ({"losses": "focal(gamma=abc)"}, "gamma"),
        ({"val_fraction": 0.0}, "val_fraction"),
    ],
)
def test_plan_rejects_bad_settings(kwargs, message, monkeypatch):
    monkeypatch.setattr(compare_mod, "_train_one", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(LabError, match=message.replace("(", r"\(")):
        run_compare(**kwargs)


def test_distinct_specs_are_not_duplicates():
    task = TASKS["imbalanced-digits"]
    specs = parse_loss_specs("cross_entropy,cross_entropy(label_smoothing=0.1),focal(gamma=1),focal", task)
    assert [s.text for s in specs] == ["cross_entropy", "cross_entropy(label_smoothing=0.1)", "focal(gamma=1)", "focal"]


# --- the default candidates are different losses ---


@pytest.mark.parametrize("task_name", list(TASKS))
def test_default_candidates_are_distinct_losses(task_name):
    """No two defaults give the same values, nor values in a fixed ratio (Adam would train them identically).

    Each loss is evaluated on 16 batches of the task's own training data through 16 randomly initialised models.
    """
    from losskit.lab import kinds

    task = TASKS[task_name]
    split = task.load(0, 0.2)
    ctx = kinds.context(task, split)
    specs = parse_loss_specs(task.default_losses, task)
    y_all, _ = kinds.targets(task, split, ctx)
    gen = torch.Generator().manual_seed(0)
    batches = []
    size = 16 if task.kind == "segmentation" else 64  # 16 images are 9216 pixels
    for k in range(16):
        torch.manual_seed(k)
        idx = torch.randperm(y_all.shape[0], generator=gen)[:size]
        if task.kind == "binary":  # two positives in every batch: balanced BCE weighs nothing in a batch without one
            positives = torch.nonzero(y_all == 1).squeeze(1)
            idx[:2] = positives[torch.randperm(positives.numel(), generator=gen)[:2]]
        model = kinds.build_model(task, split, ctx)
        with torch.no_grad():
            out = 3 * kinds.predict(task, model, torch.from_numpy(split.x_train)[idx])
        batches.append((out, y_all[idx]))
    values = {}
    for spec in specs:
        torch.manual_seed(0)  # losses with parameters (ArcFace, the softmax head) start alike
        fn = compare_mod._build_loss(spec, split, task)
        with torch.no_grad():
            values[spec.text] = torch.stack([fn(x, y).double() for x, y in batches])
    for a, b in itertools.combinations(values, 2):
        va, vb = values[a], values[b]
        assert not torch.allclose(va, vb, rtol=1e-4, atol=1e-6), f"{a} and {b} are the same loss"
        ratio = va / vb
        assert ratio.std() / ratio.abs().mean() > 1e-3, f"{a} is a constant multiple of {b}"


# --- threads ---


def test_lab_trains_with_one_thread_and_restores_the_callers():
    previous = torch.get_num_threads()
    seen = []
    try:
        torch.set_num_threads(_cores() + 1)
        run_compare(
            "noisy-regression", "mse", epochs=1, seeds=1, progress=lambda _: seen.append(torch.get_num_threads())
        )
        assert seen == [1]
        assert torch.get_num_threads() == _cores() + 1
    finally:
        torch.set_num_threads(previous)


def test_conftest_shares_cores_among_xdist_workers():
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    assert torch.get_num_threads() == max(1, _cores() // workers)


def test_seed_blocks_match_the_seeds_they_name():
    both = run_compare("noisy-regression", "mse", epochs=2, seeds=2)
    second = run_compare("noisy-regression", "mse", epochs=2, seeds=1, first_seed=1)
    assert [r.seed for r in both.runs] == [0, 1] and [r.seed for r in second.runs] == [1]
    assert second.runs[0].metrics == both.runs[1].metrics
    assert second.settings["seed_list"] == [1]


def test_plan_checks_without_training(monkeypatch):
    monkeypatch.setattr(compare_mod, "_train_one", lambda *a, **k: pytest.fail("trained"))
    plan = plan_compare("noisy-regression", None, seeds=2, first_seed=5)
    assert plan.seeds == (5, 6) and plan.epochs == 80
    assert [s.text for s in plan.specs] == list(TASKS["noisy-regression"].default_losses)
