"""The lab's tasks: every bundled task runs and is deterministic, the new kinds' metrics by hand, your own data.

Tiny settings (1-2 epochs, one seed): what is checked is the plumbing and determinism, not the rankings.
"""

import json

import numpy as np
import pytest
import torch

from losskit.lab import kinds, report
from losskit.lab.compare import LabError, parse_loss_specs, run_compare
from losskit.lab.tasks import (
    CONTAMINATION_SWEEP,
    TASKS,
    draw_small_objects,
    find_task,
    sweep_tasks,
    task_from_arrays,
    task_from_npz,
)


@pytest.mark.parametrize("name", list(TASKS))
def test_every_task_runs_its_defaults_deterministically(name):
    task = TASKS[name]
    a = run_compare(name, None, epochs=1, seeds=1)
    b = run_compare(name, None, epochs=1, seeds=1)
    assert [r.loss for r in a.runs] == [s.text for s in parse_loss_specs(task.default_losses, task)]
    # repr: NaN ("n/a") metrics compare equal to themselves this way
    assert repr([(r.metrics, r.val_curve) for r in a.runs]) == repr([(r.metrics, r.val_curve) for r in b.runs])
    for r in a.runs:
        assert set(task.metrics) <= set(r.metrics)
        assert all(np.isfinite(v) for k, v in r.metrics.items() if k not in ("ece", "brier"))
    assert len(a.verdict()["best"]) >= 1


def test_task_data_are_deterministic_and_differ_by_seed():
    for name, task in TASKS.items():
        s0, again, s1 = task.load(0, 0.2), task.load(0, 0.2), task.load(1, 0.2)
        for part in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
            np.testing.assert_array_equal(getattr(s0, part), getattr(again, part))
        assert not np.array_equal(s0.x_train, s1.x_train) or name == "open-set-retrieval", name
        assert not np.array_equal(s0.y_val, s1.y_val) or not np.array_equal(s0.x_val, s1.x_val), name


def test_noisy_labels_corrupt_training_only():
    s = TASKS["noisy-labels"].load(0, 0.2)
    flipped = np.asarray(s.info["flipped"])
    assert flipped.shape == s.y_train.shape and 0.3 < flipped.mean() < 0.5  # 20% symmetric + 20% pairwise
    assert 0.3 < s.info["noise"] < 0.5
    assert sorted(set(np.bincount(s.y_test).tolist())) <= [55, 54, 53, 52] or s.y_test.size == 540


def test_rare_event_has_about_two_percent_positives():
    s = TASKS["rare-event"].load(0, 0.2)
    for y in (s.y_train, s.y_val, s.y_test):
        assert 0.01 < y.mean() < 0.04 and set(np.unique(y)) == {0.0, 1.0}


def test_small_objects_images():
    rng = np.random.default_rng(0)
    x, m = draw_small_objects(rng, 50)
    assert x.shape == (50, 1, 24, 24) and m.shape == (50, 24, 24)
    assert 0.01 < m.mean() < 0.04  # about 2% foreground
    assert (x[:, 0][m == 1].mean() - x[:, 0][m == 0].mean()) > 0.8  # the disks are bright...
    bright = x[:, 0] > 0.8
    # ...but so are the bars: about as many bright pixels lie outside the objects as inside them
    assert (bright & (m == 0)).sum() > 0.5 * (bright & (m == 1)).sum()


def test_open_set_test_classes_are_unseen():
    s = TASKS["open-set-retrieval"].load(0, 0.2)
    assert set(np.unique(s.y_train)) == set(range(7)) == set(np.unique(s.y_val))
    assert set(np.unique(s.y_test)) == {7, 8, 9}


# --- metrics by hand ---


def test_dice_and_object_recall_by_hand():
    mask = np.zeros((1, 6, 6), dtype=np.int64)
    mask[0, 0:2, 0:2] = 1  # object A, 4 px
    mask[0, 4:6, 4:6] = 1  # object B, 4 px
    pred = np.zeros_like(mask)
    pred[0, 0:2, 0:1] = 1  # half of A
    pred[0, 3, 3] = 1  # a false positive
    assert kinds.dice_score(pred, mask) == pytest.approx(2 * 2 / (3 + 8))
    assert kinds.object_recall(pred, mask) == 0.5  # A has half its pixels found (cover 0.5), B none


def test_retrieval_metrics_by_hand():
    emb = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [0.7, 0.7]])
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    labels = np.array([0, 0, 1, 1, 1])
    assert kinds.recall_at_1(emb, labels) == pytest.approx(4 / 5)  # the last point's nearest is class 0
    # MAP@R: queries 0, 1 (R=1) right; 2, 3 (R=2): neighbours 3 then 4 / 2 then 4 -> 1; 4 (R=2): 1 (wrong), 3? ...
    value = kinds.map_at_r(emb, labels)
    sim = emb @ emb.T
    np.fill_diagonal(sim, -np.inf)
    expected = []
    for i in range(5):
        r = (labels == labels[i]).sum() - 1
        order = np.argsort(-sim[i], kind="stable")[:r]
        hits = labels[order] == labels[i]
        expected.append(sum(hits[: k + 1].mean() for k in range(r) if hits[k]) / r)
    assert value == pytest.approx(np.mean(expected))


def test_binary_metrics_threshold_chosen_on_validation():
    val_scores = np.array([-2.0, -1.0, 0.5, 2.0])
    val_labels = np.array([0, 0, 1, 1])
    scores = np.array([-3.0, 0.4, 0.6, 3.0])
    labels = np.array([0, 1, 1, 1])
    m = kinds.binary_metrics(scores, labels, val_scores, val_labels, "bce")
    # validation F1 is 1 at the threshold 0.5: test scores 0.6 and 3.0 are positive -> F1 = 2*2/(2+3)
    assert m["f1"] == pytest.approx(0.8)
    assert m["pr_auc"] == pytest.approx(1.0)
    assert np.isnan(kinds.binary_metrics(scores, labels, val_scores, val_labels, "squared_hinge")["brier"])


def test_segmentation_binary_losses_see_the_channel_gap():
    task = TASKS["small-objects"]
    split = task.load(0, 0.2)
    ctx = kinds.context(task, split)
    out = torch.randn(2, 2, 24, 24)
    y = torch.from_numpy(split.y_train[:2])
    fn = kinds.build_loss("bce", {}, task, split, ctx)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(out[:, 1] - out[:, 0], y.float())
    torch.testing.assert_close(fn(out, y), expected)


# --- --sweep, your own data ---


def test_sweep_variants_change_the_contamination_only():
    variants = sweep_tasks(TASKS["noisy-regression"])
    assert [v.name for v in variants] == [f"noisy-regression-{round(f * 100)}pct" for f in CONTAMINATION_SWEEP]
    clean = variants[0].load(0, 0.2)
    assert clean.info["outliers"] == 0
    assert variants[3].load(0, 0.2).info["outliers"] > variants[2].load(0, 0.2).info["outliers"]
    np.testing.assert_array_equal(clean.y_test, TASKS["noisy-regression"].load(0, 0.2).y_test)
    assert find_task("noisy-regression-40pct").name == "noisy-regression-40pct" and find_task("nope") is None
    with pytest.raises(ValueError, match="noisy-regression only"):
        sweep_tasks(TASKS["rare-event"])


def test_task_from_arrays_and_npz(tmp_path):
    from sklearn.datasets import load_wine

    x, y = load_wine(return_X_y=True)
    task = task_from_arrays(x, y, "classification", name="wine")
    result = run_compare(task, "cross_entropy,focal", epochs=2, seeds=2, jobs=1)
    assert result.task == "wine" and len(result.runs) == 4
    np.savez(tmp_path / "wine.npz", X=x, y=y)  # no kind: 3 whole-number labels -> classification
    from_file = task_from_npz(tmp_path / "wine.npz")
    assert from_file.kind == "classification" and from_file.data_path.endswith("wine.npz")
    again = run_compare(from_file, "cross_entropy,focal", epochs=2, seeds=2)
    assert [r.metrics for r in again.runs] == [r.metrics for r in result.runs]
    report.write(again, tmp_path / "out")
    assert json.loads((tmp_path / "out" / "results.json").read_text())["task"] == "wine"


@pytest.mark.parametrize(
    "args,message",
    [
        ((np.zeros((50, 3)), np.zeros(40), "regression"), "expected x of shape"),
        ((np.zeros((50, 3)), np.arange(50) % 2, "ranking"), "kind must be one of"),
        ((np.zeros((50, 3)), np.arange(50) % 3, "binary"), "binary labels must be 0 or 1"),
        ((np.zeros((50, 3)), np.r_[np.zeros(48), 1, 1], "binary"), "at least 5 examples"),
        ((np.full((50, 3), np.nan), np.arange(50) % 2, "binary"), "finite"),
        ((np.zeros((10, 3)), np.arange(10) % 2, "regression"), "at least 40 examples"),
    ],
)
def test_task_from_arrays_rejects_bad_data(args, message):
    with pytest.raises(ValueError, match=message):
        task_from_arrays(*args)


def test_npz_errors_are_lab_errors(tmp_path):
    (tmp_path / "bad.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="cannot read it"):
        task_from_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "noy.npz", X=np.zeros((50, 2)))
    with pytest.raises(ValueError, match="needs arrays X and y"):
        task_from_npz(tmp_path / "noy.npz")
    with pytest.raises(LabError, match="does not fit"):
        run_compare("rare-event", "cross_entropy", epochs=1, seeds=1)


def test_cli_sweep_and_data(tmp_path):
    from sklearn.datasets import load_wine
    from typer.testing import CliRunner

    from losskit.cli import app

    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "compare",
            "-t",
            "noisy-regression",
            "--sweep",
            "-l",
            "l1",
            "-e",
            "1",
            "-s",
            "1",
            "--out",
            str(tmp_path / "s"),
        ],
    )
    assert result.exit_code == 0, result.output
    sweep = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert [v["task"] for v in sweep["variants"]] == [f"noisy-regression-{p}pct" for p in (0, 10, 20, 40)]
    assert (tmp_path / "s" / "noisy-regression-40pct" / "results.json").exists()
    assert "40% outliers" in result.output

    x, y = load_wine(return_X_y=True)
    np.savez(tmp_path / "wine.npz", X=x, y=y, kind="classification")
    args = ["compare", "--data", str(tmp_path / "wine.npz"), "-l", "cross_entropy", "-e", "1", "-s", "1"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "w")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "w" / "plan.json").read_text())["data"].endswith("wine.npz")
    result = runner.invoke(app, ["compare", "--data", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2 and "cannot read it" in result.output and not (tmp_path / "m").exists()
    result = runner.invoke(app, ["compare", "--resume", str(tmp_path)])
    assert result.exit_code == 2 and "no plan.json" in result.output


def test_two_tasks_with_one_name_keep_their_own_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 3))
    first = task_from_arrays(x, x[:, 0], "regression", name="same")
    second = task_from_arrays(x, -10 * x[:, 1], "regression", name="same")
    a = run_compare(first, "mse", epochs=1, seeds=1)
    b = run_compare(second, "mse", epochs=1, seeds=1)
    assert a.runs[0].metrics != b.runs[0].metrics
    assert b.baselines["constant (median)"][0]["mae"] > 3 * a.baselines["constant (median)"][0]["mae"]
