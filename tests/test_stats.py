"""femo.results.stats: confusion metrics, bootstrap intervals and paired comparisons."""

from __future__ import annotations

import math

import numpy as np
import pytest

from femo.results.stats import (
    Interval,
    accuracy_from_confusion,
    bootstrap_metrics,
    confusion_counts,
    macro_f1_from_confusion,
    paired_comparison,
    recall_from_confusion,
)

CLASSES = ("a", "b", "c")

# 10 items, one unlabelled (index 8) and two without a prediction.
GOLDEN = ["a", "a", "a", "b", "b", "b", "c", "c", None, "a"]
PREDICTED = ["a", "a", "b", "b", "c", None, "c", "a", "b", None]
# Rows golden a, b, c; columns predicted a, b, c, none:
#   a: a->a twice, a->b once, a->None once   -> [2, 1, 0, 1]  support 4
#   b: b->b, b->c, b->None                    -> [0, 1, 1, 1]  support 3
#   c: c->c, c->a                             -> [1, 0, 1, 0]  support 2
CONFUSION = np.array([[2, 1, 0, 1], [0, 1, 1, 1], [1, 0, 1, 0]])


def realistic_sample(n: int, accuracy: float = 0.7, seed: int = 1, n_classes: int = 7):
    """n labelled clips; a prediction is right with probability `accuracy`, else a
    uniformly random class (possibly right by chance) or, one time in ten, missing."""
    rng = np.random.default_rng(seed)
    classes = [f"c{i}" for i in range(n_classes)]
    golden = rng.integers(0, n_classes, n)
    other = rng.integers(0, n_classes, n)
    predicted = np.where(rng.random(n) < accuracy, golden, other)
    missing = rng.random(n) < 0.1
    return (
        classes,
        [classes[i] for i in golden],
        [None if m else classes[i] for i, m in zip(predicted, missing, strict=True)],
    )


def width(interval: Interval) -> float:
    return interval.high - interval.low


# --- confusion and metrics ---------------------------------------------------------------


def test_confusion_counts_by_hand():
    c = confusion_counts(GOLDEN, PREDICTED, CLASSES)
    assert c.shape == (3, 4)
    np.testing.assert_array_equal(c, CONFUSION)


def test_metrics_by_hand():
    # accuracy: diagonal 2 + 1 + 1 = 4 of 9 labelled items.
    assert accuracy_from_confusion(CONFUSION) == pytest.approx(4 / 9)
    # recall: a 2/4, b 1/3, c 1/2.
    np.testing.assert_allclose(recall_from_confusion(CONFUSION), [1 / 2, 1 / 3, 1 / 2])
    # precision (column sums of the 3x3 part: a 2+0+1 = 3, b 1+1+0 = 2, c 0+1+1 = 2):
    #   a 2/3, b 1/2, c 1/2.
    # F1: a 2*(2/3)(1/2)/(2/3+1/2) = 4/7; b 2*(1/2)(1/3)/(1/2+1/3) = 2/5; c 1/2.
    # macro F1 = (4/7 + 2/5 + 1/2) / 3 = (40 + 28 + 35) / 70 / 3 = 103/210.
    assert macro_f1_from_confusion(CONFUSION, [0, 1, 2]) == pytest.approx(103 / 210)
    assert macro_f1_from_confusion(CONFUSION, [0, 2]) == pytest.approx((4 / 7 + 1 / 2) / 2)


def test_macro_f1_averages_over_the_given_classes():
    # A fourth class "d" absent from this confusion (no support, never predicted):
    # if it is among `present` (it had support in the original sample), its F1 is 0.
    c = np.zeros((4, 5), dtype=int)
    c[:3, :3] = CONFUSION[:, :3]
    c[:3, 4] = CONFUSION[:, 3]
    assert macro_f1_from_confusion(c, [0, 1, 2]) == pytest.approx(103 / 210)
    assert macro_f1_from_confusion(c, [0, 1, 2, 3]) == pytest.approx(103 / 280)
    # Class b never predicted right (p + r == 0): F1 0. Rows a: [2, 0, 0], b: [1, 0, 1].
    #   a: p = 2/3, r = 1 -> F1 = 2*(2/3)/(5/3) = 4/5; b: 0. macro = 2/5.
    c2 = np.array([[2, 0, 0], [1, 0, 1]])
    assert macro_f1_from_confusion(c2, [0, 1]) == pytest.approx(2 / 5)
    assert math.isnan(macro_f1_from_confusion(c2, []))


def test_empty_confusion_is_nan():
    c = np.zeros((3, 4))
    assert math.isnan(accuracy_from_confusion(c))
    assert np.isnan(recall_from_confusion(c)).all()
    # A class without support gets NaN recall, the others their value.
    np.testing.assert_allclose(
        recall_from_confusion([[1, 1, 0], [0, 0, 0]]), [0.5, np.nan], equal_nan=True
    )


def test_metrics_are_vectorised_over_a_batch():
    other = np.array([[0, 0, 3, 0], [1, 1, 0, 0], [0, 0, 0, 0]])
    batch = np.stack([[CONFUSION, other], [other, CONFUSION]])  # shape (2, 2, 3, 4)
    acc = accuracy_from_confusion(batch)
    rec = recall_from_confusion(batch)
    f1 = macro_f1_from_confusion(batch, [0, 1, 2])
    assert acc.shape == (2, 2) and rec.shape == (2, 2, 3) and f1.shape == (2, 2)
    for i, j in np.ndindex(2, 2):
        c = batch[i, j]
        assert acc[i, j] == pytest.approx(accuracy_from_confusion(c))
        np.testing.assert_allclose(rec[i, j], recall_from_confusion(c), equal_nan=True)
        assert f1[i, j] == pytest.approx(macro_f1_from_confusion(c, [0, 1, 2]))


def naive_metrics(golden, predicted, classes):
    """The textbook definitions, item by item."""
    pairs = [(g, p) for g, p in zip(golden, predicted, strict=True) if g is not None]
    accuracy = sum(g == p for g, p in pairs) / len(pairs)
    recall, f1 = {}, {}
    for c in classes:
        tp = sum(g == c and p == c for g, p in pairs)
        support = sum(g == c for g, _ in pairs)
        predicted_c = sum(p == c for _, p in pairs)
        r = tp / support if support else 0.0
        pr = tp / predicted_c if predicted_c else 0.0
        recall[c] = tp / support if support else float("nan")
        f1[c] = 2 * pr * r / (pr + r) if pr + r else 0.0
    present = [c for c in classes if any(g == c for g, _ in pairs)]
    return accuracy, recall, sum(f1[c] for c in present) / len(present), present


@pytest.mark.parametrize("seed", range(5))
def test_metrics_agree_with_the_textbook_definitions(seed):
    rng = np.random.default_rng(seed)
    classes = ["x", "y", "z", "w"]
    # For even seeds "w" is never golden (no support) but still predicted.
    golden_labels = ["x", "y", "z", None] + (["w"] if seed % 2 else [])
    golden = [golden_labels[i] for i in rng.integers(0, len(golden_labels), 40)]
    predicted = [[*classes, None][i] for i in rng.integers(0, 5, 40)]
    c = confusion_counts(golden, predicted, classes)
    accuracy, recall, macro_f1, present = naive_metrics(golden, predicted, classes)
    assert accuracy_from_confusion(c) == pytest.approx(accuracy)
    np.testing.assert_allclose(
        recall_from_confusion(c), [recall[k] for k in classes], equal_nan=True
    )
    present_idx = [classes.index(k) for k in present]
    assert macro_f1_from_confusion(c, present_idx) == pytest.approx(macro_f1)


def test_unlabelled_items_are_skipped():
    c = confusion_counts([None, "a", None], ["a", "b", None], CLASSES)
    assert c.sum() == 1 and c[0, 1] == 1
    # The bootstrap is the same as without the unlabelled items, for both units.
    classes, golden, predicted = realistic_sample(300)
    groups = [i // 10 for i in range(300)]
    with_none_g = [None, *golden[:100], None, *golden[100:]]
    with_none_p = ["c0", *predicted[:100], None, *predicted[100:]]
    # The unlabelled items' groups hold nothing labelled, so they are not units.
    with_none_groups = [-1, *groups[:100], -2, *groups[100:]]
    for kwargs_a, kwargs_b in [
        ({}, {}),
        ({"groups": groups}, {"groups": with_none_groups}),
    ]:
        plain = bootstrap_metrics(golden, predicted, classes, resamples=300, **kwargs_a)
        padded = bootstrap_metrics(with_none_g, with_none_p, classes, resamples=300, **kwargs_b)
        assert plain == padded
    assert padded["ci"]["n_units"] == 30


def test_labels_outside_the_classes_raise():
    with pytest.raises(ValueError, match="golden label 'q'"):
        confusion_counts(["a", "q"], ["a", "a"], CLASSES)
    with pytest.raises(ValueError, match="golden label 'q'"):
        bootstrap_metrics(["a", "q"], ["a", "a"], CLASSES)
    with pytest.raises(ValueError, match="predicted label 'q'"):
        confusion_counts(["a", "b"], ["a", "q"], CLASSES)
    with pytest.raises(ValueError, match="different|items"):
        confusion_counts(["a", "b"], ["a"], CLASSES)


# --- bootstrap intervals -----------------------------------------------------------------


def test_interval_contains_the_point_estimate():
    classes, golden, predicted = realistic_sample(1000)
    result = bootstrap_metrics(golden, predicted, classes)
    c = confusion_counts(golden, predicted, classes)
    acc = accuracy_from_confusion(c)
    f1 = macro_f1_from_confusion(c, np.flatnonzero(c.sum(axis=1)))
    assert result["accuracy"].low < acc < result["accuracy"].high
    assert result["macro_f1"].low < f1 < result["macro_f1"].high
    for cls, r in zip(classes, recall_from_confusion(c), strict=True):
        assert result["recall"][cls].low < r < result["recall"][cls].high
    assert result["ci"] == {
        "method": "percentile bootstrap",
        "level": 0.95,
        "resamples": 2000,
        "unit": "clip",
        "n_units": 1000,
    }
    assert result["accuracy"].as_list() == [result["accuracy"].low, result["accuracy"].high]


def test_interval_matches_resampling_clips_and_groups_directly():
    """The multinomial shortcut gives the interval of literally resampling the units."""
    classes, golden, predicted = realistic_sample(600)
    right = np.array([g == p for g, p in zip(golden, predicted, strict=True)], dtype=float)
    rng = np.random.default_rng(123)
    idx = rng.integers(0, 600, size=(4000, 600))
    direct = np.quantile(right[idx].mean(axis=1), [0.025, 0.975])
    ours = bootstrap_metrics(golden, predicted, classes, resamples=4000)["accuracy"]
    np.testing.assert_allclose(ours.as_list(), direct, atol=0.006)

    groups = np.arange(600) // 12  # 50 groups of 12
    per_group = right.reshape(50, 12).sum(axis=1)
    gidx = rng.integers(0, 50, size=(4000, 50))
    direct = np.quantile(per_group[gidx].sum(axis=1) / 600, [0.025, 0.975])
    ours = bootstrap_metrics(golden, predicted, classes, groups=list(groups), resamples=4000)
    np.testing.assert_allclose(ours["accuracy"].as_list(), direct, atol=0.006)


def test_interval_is_reproducible_with_a_seed():
    classes, golden, predicted = realistic_sample(500)
    for groups in (None, [i % 37 for i in range(500)]):
        first = bootstrap_metrics(golden, predicted, classes, groups=groups, seed=7)
        again = bootstrap_metrics(golden, predicted, classes, groups=groups, seed=7)
        other = bootstrap_metrics(golden, predicted, classes, groups=groups, seed=8)
        assert first == again
        assert first["accuracy"] != other["accuracy"]


def test_interval_width_shrinks_like_one_over_sqrt_n():
    classes, golden, predicted = realistic_sample(400, seed=3)
    small = bootstrap_metrics(golden, predicted, classes)
    classes, golden, predicted = realistic_sample(1600, seed=3)
    large = bootstrap_metrics(golden, predicted, classes)
    ratio = width(small["accuracy"]) / width(large["accuracy"])
    assert 1.6 < ratio < 2.4


def correlated_groups():
    """40 groups of 25 clips; each group all right (28 groups) or all wrong (12)."""
    golden, predicted, groups = [], [], []
    for g in range(40):
        for i in range(25):
            label = CLASSES[i % 3]
            golden.append(label)
            predicted.append(label if g % 10 < 7 else CLASSES[(i + 1) % 3])
            groups.append(f"person{g}")
    return golden, predicted, groups


def test_group_resampling_is_wider_when_clips_in_a_group_are_correlated():
    golden, predicted, groups = correlated_groups()
    by_clip = bootstrap_metrics(golden, predicted, CLASSES)
    by_group = bootstrap_metrics(golden, predicted, CLASSES, groups=groups)
    assert by_clip["ci"]["unit"] == "clip" and by_clip["ci"]["n_units"] == 1000
    assert by_group["ci"]["unit"] == "group" and by_group["ci"]["n_units"] == 40
    # Clips: about 2 * 1.96 * sqrt(0.21 / 1000) = 0.057; groups: sqrt(25) times that.
    assert width(by_group["accuracy"]) > 3 * width(by_clip["accuracy"])
    for interval in (by_clip["accuracy"], by_group["accuracy"]):
        assert interval.low < 0.7 < interval.high


def test_none_intervals_when_nothing_is_labelled_or_no_support():
    empty = bootstrap_metrics([None, None], ["a", None], CLASSES)
    assert empty["accuracy"] is None and empty["macro_f1"] is None
    assert empty["recall"] == {"a": None, "b": None, "c": None}
    assert empty["ci"]["n_units"] == 0
    grouped = bootstrap_metrics([None], ["a"], CLASSES, groups=["p"])
    assert grouped["accuracy"] is None and grouped["ci"]["n_units"] == 0
    # No golden "c": its recall has no interval, the others do.
    result = bootstrap_metrics(["a", "b", "a", "b"], ["a", "b", "b", "c"], CLASSES)
    assert result["recall"]["c"] is None
    assert result["recall"]["a"] is not None and result["accuracy"] is not None


def test_bootstrap_runs_on_100000_clips_with_groups():
    classes, golden, predicted = realistic_sample(100_000)
    groups = list(np.random.default_rng(0).integers(0, 3000, 100_000))
    result = bootstrap_metrics(golden, predicted, classes, groups=groups)
    assert result["ci"]["n_units"] == 3000
    assert width(result["accuracy"]) < 0.02


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="level"):
        bootstrap_metrics(["a"], ["a"], CLASSES, level=95)
    with pytest.raises(ValueError, match="resamples"):
        bootstrap_metrics(["a"], ["a"], CLASSES, resamples=0)
    with pytest.raises(ValueError, match="groups"):
        bootstrap_metrics(["a", "b"], ["a", "b"], CLASSES, groups=["p"])
    with pytest.raises(ValueError, match="None"):
        bootstrap_metrics(["a", "b"], ["a", "b"], CLASSES, groups=["p", None])


# --- paired comparison -------------------------------------------------------------------


def test_mcnemar_by_hand():
    # 5 both right, 1 only A right, 9 only B right, 3 both wrong, and one unlabelled.
    golden = ["a"] * 18 + [None]
    a = ["a"] * 5 + ["a"] * 1 + ["b"] * 9 + ["b"] * 3 + ["a"]
    b = ["a"] * 5 + [None] * 1 + ["a"] * 9 + ["c"] * 3 + ["b"]
    result = paired_comparison(golden, a, b)
    assert result["n"] == 18
    assert result["a_only_right"] == 1 and result["b_only_right"] == 9
    assert result["accuracy_a"] == pytest.approx(6 / 18)
    assert result["accuracy_b"] == pytest.approx(14 / 18)
    assert result["difference"] == pytest.approx(8 / 18)
    # Exact two-sided binomial test on 10 discordant pairs split 9/1:
    # p = 2 * (C(10,0) + C(10,1)) / 2^10 = 2 * 11 / 1024 = 22/1024.
    assert result["mcnemar_p"] == pytest.approx(22 / 1024)
    ci = result["difference_ci"]
    assert ci.low <= 8 / 18 <= ci.high
    assert result["significant"] == (ci.low > 0)
    assert result["unit"] == "clip"
    # Swapping the methods flips the sign and keeps the p-value.
    swapped = paired_comparison(golden, b, a)
    assert swapped["difference"] == pytest.approx(-8 / 18)
    assert swapped["mcnemar_p"] == pytest.approx(22 / 1024)


def test_identical_predictions():
    classes, golden, predicted = realistic_sample(500)
    groups = [i % 20 for i in range(500)]
    for g in (None, groups):
        result = paired_comparison(golden, predicted, list(predicted), groups=g)
        assert result["difference"] == 0
        assert result["difference_ci"] == Interval(0.0, 0.0)
        assert result["mcnemar_p"] == 1.0
        assert result["a_only_right"] == result["b_only_right"] == 0
        assert not result["significant"]


def test_paired_comparison_detects_a_clear_improvement_and_resamples_groups():
    classes, golden, weak = realistic_sample(1000, accuracy=0.5, seed=4)
    # A stronger method on the same clips: right 80% of the time, else A's prediction.
    rng = np.random.default_rng(6)
    strong = [g if rng.random() < 0.8 else w for g, w in zip(golden, weak, strict=True)]
    by_clip = paired_comparison(golden, weak, strong)
    assert by_clip["significant"] and by_clip["difference"] > 0.2
    assert by_clip["difference_ci"].low > 0 and by_clip["mcnemar_p"] < 1e-6
    groups = [i // 25 for i in range(1000)]
    by_group = paired_comparison(golden, weak, strong, groups=groups)
    assert by_group["unit"] == "group"
    assert by_group["difference"] == by_clip["difference"]
    assert by_group["mcnemar_p"] == by_clip["mcnemar_p"]


def test_paired_group_interval_is_wider_when_groups_are_correlated():
    golden, predicted, groups = correlated_groups()
    always_right = list(golden)
    by_clip = paired_comparison(golden, predicted, always_right)
    by_group = paired_comparison(golden, predicted, always_right, groups=groups)
    assert by_clip["difference"] == pytest.approx(0.3)
    assert width(by_group["difference_ci"]) > 3 * width(by_clip["difference_ci"])


def test_paired_comparison_with_nothing_labelled():
    result = paired_comparison([None], ["a"], ["b"])
    assert result["n"] == 0 and result["difference_ci"] is None
    assert result["accuracy_a"] is None and result["mcnemar_p"] == 1.0
    assert not result["significant"]
