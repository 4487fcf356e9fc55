"""The console's accuracy line carries the report's interval (issue 37), in the
brackets ``femo fit`` prints (``57.8% [45.4, 69.8]``), and none where it has none."""

from __future__ import annotations

from femo.results.metrics import Metrics
from femo.results.pages.formatting import summary_text

LFW = {
    "accuracy": 0.407,
    "macro_f1": 0.3,
    "n_videos": 21,
    "n_labelled": 21,
    "n_no_face": 0,
    "n_failed": 0,
}


def test_the_accuracy_line_shows_the_interval_the_report_has():
    metrics = Metrics.from_json({**LFW, "accuracy_ci": [0.291, 0.543]})
    assert summary_text(metrics) == (
        "accuracy 40.7% [29.1, 54.3] over 21 labelled of 21 clips (0 without a face, 0 failed)"
    )


def test_without_an_interval_the_line_is_as_before():
    assert summary_text(Metrics.from_json(LFW)) == (
        "accuracy 40.7% over 21 labelled of 21 clips (0 without a face, 0 failed)"
    )
