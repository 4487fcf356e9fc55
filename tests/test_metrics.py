"""metrics.json as one typed object (femo.results.metrics), and the one place accuracy,
macro F1 and per-class figures are computed (femo.results.stats.classification_scores)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from femo.results.metrics import METRICS_FILE, ClassFigures, Metrics, MetricsError, read_metrics
from femo.results.stats import classification_scores

from .builders import reduce, synthetic_run

OLD_REPORT = Path(__file__).parent / "data" / "run-0.3.0" / "report"
# The keys femo added to metrics.json after 0.3.0 (over_time: only a segmented run's;
# in_sample: only where a head was applied to clips it was fitted on).
SINCE_0_3_0 = {
    "n_person_absent", "n_missing_labelled", "predicted", "clip_profiles", "method",
    "labels_line", "identities", "over_time", "in_sample",
}  # fmt: skip
MINIMAL = {"accuracy": 0.5, "n_videos": 6, "n_labelled": 4, "macro_f1": 0.4}  # femo's order


@pytest.fixture(scope="module")
def small_report(tmp_path_factory) -> Path:
    """The report folder of a reduced run of 12 clips of 4 persons."""
    run_dir = synthetic_run(tmp_path_factory.mktemp("metrics"), n_clips=12, persons=4)
    reduce(run_dir, min_units=2)
    return run_dir / "report"


def test_a_runs_metrics_json_reads_typed_and_writes_back_byte_for_byte(small_report, tmp_path):
    path = small_report / METRICS_FILE
    raw = json.loads(path.read_text())
    metrics = read_metrics(small_report)
    assert metrics.accuracy == raw["accuracy"] and metrics.n_videos == 12
    assert metrics.macro_f1 == raw["macro_f1"] and metrics.ci == raw["ci"]
    assert isinstance(metrics.per_class["Negative"], ClassFigures)
    assert metrics.per_class["Negative"].recall == raw["per_class"]["Negative"]["recall"]
    assert metrics.per_class["Negative"].recall_ci == raw["per_class"]["Negative"]["recall_ci"]
    assert metrics.absent == {"over_time", "in_sample"}  # not segmented, no head
    assert metrics.to_json() == raw and list(metrics.to_json()) == list(raw)
    metrics.write(tmp_path / METRICS_FILE)
    assert (tmp_path / METRICS_FILE).read_bytes() == path.read_bytes()


def test_the_object_is_a_read_only_mapping_of_the_file(small_report):
    raw = json.loads((small_report / METRICS_FILE).read_text())
    metrics = read_metrics(small_report / METRICS_FILE)
    assert metrics == raw and len(metrics) == len(raw) and list(metrics) == list(raw)
    assert metrics["per_class"]["Positive"] == raw["per_class"]["Positive"]
    assert metrics.get("over_time") is None and "over_time" not in metrics
    with pytest.raises(AttributeError):
        metrics.accuracy = 1.0  # frozen


def test_an_old_report_reads_and_writes_back_without_the_keys_added_since(tmp_path):
    metrics = read_metrics(OLD_REPORT)
    assert metrics.absent == SINCE_0_3_0
    assert metrics.n_person_absent is None and metrics.accuracy == 0.5
    assert metrics.per_class["Negative"].support == 0
    metrics.write(tmp_path / METRICS_FILE)
    assert (tmp_path / METRICS_FILE).read_bytes() == (OLD_REPORT / METRICS_FILE).read_bytes()


def test_a_hand_written_minimal_dict_round_trips():
    metrics = Metrics.from_json(MINIMAL)
    assert (metrics.accuracy, metrics.macro_f1, metrics.n_labelled) == (0.5, 0.4, 4)
    assert metrics.per_class is None and metrics.config is None
    assert metrics.to_json() == MINIMAL and list(metrics.to_json()) == list(MINIMAL)


def test_a_hand_written_dict_with_classes_round_trips_in_order():
    per_class = {
        "Positive": {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2},
        "Negative": {"precision": None, "recall": None, "f1": None, "support": 0,
                     "recall_ci": None},
    }  # fmt: skip
    data = {"identities": None, **MINIMAL, "per_class": per_class, "partial": False}
    metrics = Metrics.from_json(data)
    assert metrics.per_class["Positive"] == ClassFigures(1.0, 0.5, 2 / 3, 2, absent={"recall_ci"})
    assert metrics.per_class["Negative"].recall_ci is None
    assert "recall_ci" not in metrics.to_json()["per_class"]["Positive"]
    assert metrics.to_json() == data
    # Written in femo's order, whatever the dict's: identities comes after partial.
    assert list(metrics.to_json())[-2:] == ["partial", "identities"]


@pytest.mark.parametrize("key", sorted(MINIMAL))
def test_a_missing_required_key_is_named(key):
    data = {k: v for k, v in MINIMAL.items() if k != key}
    with pytest.raises(MetricsError, match=f"required key\\(s\\) '{key}' missing"):
        Metrics.from_json(data)


def test_an_unknown_key_is_named():
    with pytest.raises(MetricsError, match="metrics.json: unknown key\\(s\\) 'acuracy'"):
        Metrics.from_json({**MINIMAL, "acuracy": 0.5})


def test_a_class_row_without_support_is_named():
    row = {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    with pytest.raises(
        MetricsError, match="per_class\\['Positive'\\]: required key\\(s\\) 'support'"
    ):
        Metrics.from_json({**MINIMAL, "per_class": {"Positive": row}})


def test_a_damaged_file_names_its_path(tmp_path):
    (tmp_path / METRICS_FILE).write_text('{"accuracy": 0.5,')
    with pytest.raises(MetricsError, match=f"{tmp_path / METRICS_FILE}: not JSON"):
        read_metrics(tmp_path)
    (tmp_path / METRICS_FILE).write_text(json.dumps({**MINIMAL, "extra": 1}))
    with pytest.raises(
        MetricsError, match=f"{tmp_path / METRICS_FILE}: unknown key\\(s\\) 'extra'"
    ):
        read_metrics(tmp_path / METRICS_FILE)


def test_the_sweep_and_api_readers_use_the_object(small_report, tmp_path):
    from femo.results.sweep import read_point

    run_dir = small_report.parent
    point = read_point(run_dir)
    assert isinstance(point.metrics, Metrics) and point.metrics == read_metrics(small_report)
    shutil.copy(small_report / METRICS_FILE, tmp_path / "copy.json")
    (small_report / METRICS_FILE).write_text(json.dumps({**MINIMAL, "bogus": 1}))
    try:
        with pytest.raises(MetricsError, match="unknown key\\(s\\) 'bogus'"):
            read_point(run_dir)
    finally:
        shutil.copy(tmp_path / "copy.json", small_report / METRICS_FILE)


# ------------------------------------------------------------ classification_scores

GOLDEN = ["P", "P", "N", "X"]
PREDICTED = ["P", "N", "N", None]


def test_scores_by_hand():
    s = classification_scores(GOLDEN, PREDICTED, ("P", "N", "X"))
    assert s.accuracy == 0.5  # P and N right; no prediction for X is wrong
    assert s.recall == (0.5, 1.0, 0.0) and s.precision == (1.0, 0.5, 0.0)
    assert s.f1 == pytest.approx((2 / 3, 2 / 3, 0.0)) and s.support == (2, 1, 1)
    assert s.macro_f1 == pytest.approx(4 / 9)
    assert s.confusion_table() == {
        "P": {"P": 1, "N": 1, "X": 0, "none": 0},
        "N": {"P": 0, "N": 1, "X": 0, "none": 0},
        "X": {"P": 0, "N": 0, "X": 0, "none": 1},
    }


def test_a_class_without_support_is_none_and_left_out_of_macro_f1():
    s = classification_scores(["P", "N", None], ["P", "P", "N"], ("P", "N", "X"))
    assert (s.precision[2], s.recall[2], s.f1[2], s.support[2]) == (None, None, None, 0)
    assert s.macro_f1 == pytest.approx((2 / 3 + 0.0) / 2)  # over P and N only
    assert classification_scores([], [], ("P",)).accuracy is None


def test_scores_agree_with_scikit_learn():
    golden = ["P", "N", "X", "P", "N", "X", "P", "P", "N"]
    predicted = ["P", "X", "X", "N", "N", "P", "P", "X", "N"]
    classes = ["P", "N", "X"]
    s = classification_scores(golden, predicted, classes)
    assert s.accuracy == pytest.approx(accuracy_score(golden, predicted))
    assert s.macro_f1 == pytest.approx(f1_score(golden, predicted, average="macro"))
    options = {"labels": classes, "average": None, "zero_division": 0}
    assert s.recall == pytest.approx(tuple(recall_score(golden, predicted, **options)))
    assert s.precision == pytest.approx(tuple(precision_score(golden, predicted, **options)))


def test_made_in_code_the_required_figures_must_be_given():
    with pytest.raises(TypeError, match="n_videos"):
        Metrics(accuracy=0.5, n_labelled=4, macro_f1=0.4)  # type: ignore[call-arg]
    made = Metrics(accuracy=0.5, n_videos=6, n_labelled=4, macro_f1=0.4)
    assert made.to_json()["n_videos"] == 6 and made.absent == frozenset()
