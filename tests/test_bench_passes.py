"""How ``femo bench`` repeats short passes (pure logic, no media)."""

from __future__ import annotations

import pytest

import femo.bench.cases  # noqa: F401 - patched below
from femo import bench


def passes_of(seconds: list[float]):
    remaining = iter(seconds)
    return lambda: (10, next(remaining))


def test_a_long_pass_runs_once():
    assert bench.timed_passes(passes_of([4.0, 1.0])) == (10, 4.0, [4.0])


def test_short_passes_repeat_until_min_seconds_and_report_the_median():
    frames, median, passes = bench.timed_passes(passes_of([1.5, 1.0, 1.2, 9.0]))
    assert passes == [1.5, 1.0, 1.2]  # 3.7 s >= MIN_SECONDS after the third
    assert (frames, median) == (10, 1.2)


def test_passes_stop_at_max_passes(monkeypatch):
    monkeypatch.setattr(bench.cases, "MAX_PASSES", 4)
    _, median, passes = bench.timed_passes(passes_of([0.1, 0.4, 0.2, 0.3, 0.5]))
    assert passes == [0.1, 0.4, 0.2, 0.3]
    assert median == pytest.approx(0.25)


def test_no_repeat_when_one_pass_is_wanted():
    assert bench.timed_passes(passes_of([0.1, 0.2]), repeat=False) == (10, 0.1, [0.1])
