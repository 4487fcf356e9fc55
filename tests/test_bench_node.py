"""`femo bench`'s quick defaults, its progress lines, and the floor against femo.

Speeds are never asserted here; what is checked is that both sides measure the same
frames in the same layout, and that the bench says what it does.
"""

from __future__ import annotations

import argparse
import time

import cv2
import pytest

from femo.bench.cases import detector_preset
from femo.bench.floor import (
    NODE_LEGEND,
    FloorSpec,
    compare_layouts,
    floor_pass,
    node_summary,
    node_table,
    process_counts,
)
from femo.bench.progress import Heartbeat
from femo.bench.run import FULL, QUICK, resolve_options
from femo.node.detectors import make_detector

from .conftest import SHARED, need, write_video


def options(**given) -> dict:
    fields = dict.fromkeys(("media", "detectors", "every", "backends", "processes"))
    fields.update(full=False, no_fast=False, no_demo=False, long_clip_minutes=None)
    return resolve_options(argparse.Namespace(**{**fields, **given}))


def test_no_arguments_is_the_quick_bench(monkeypatch):
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "16")
    quick = options()
    assert {k: quick[k] for k in QUICK} == QUICK
    assert quick["processes"] == [1, 16]


def test_full_keeps_the_whole_comparison_and_options_override_it(monkeypatch):
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "16")
    full = options(full=True)
    assert {k: full[k] for k in FULL} == FULL
    assert full["processes"] == [1, 2, 4, 8, 16]
    given = options(full=True, detectors="haar", no_fast=True, processes="0")
    assert given["detectors"] == "haar" and not given["fast"] and given["processes"] == []


@pytest.mark.parametrize(
    ("cpus", "full", "counts"),
    [(1, False, [1]), (2, True, [1, 2]), (6, True, [1, 2, 4, 6]), (16, False, [1, 16])],
)
def test_process_counts(cpus, full, counts):
    assert process_counts(cpus, full) == counts


def test_a_quiet_step_still_gets_a_line_every_period():
    lines: list[str] = []
    with Heartbeat(lines.append, every_s=0.2) as beat:
        beat.begin("measuring something slow")
        time.sleep(0.9)
    assert lines[0].endswith("measuring something slow ...")
    still = [line for line in lines if "still measuring something slow" in line]
    assert 2 <= len(still) <= 5


def test_floor_and_femo_measure_the_same_frames_in_the_same_layout(tmp_path, face_image):
    small = cv2.resize(face_image, (160, 200))
    for k in range(2):
        write_video(tmp_path / f"c{k}.mp4", [small] * 10)
    spec = FloorSpec(str(tmp_path), ("c0.mp4", "c1.mp4"), "blazeface", every_n=2)
    lines: list[str] = []
    (point,) = compare_layouts(spec, [2], rounds=1, echo=lines.append)
    floor, femo = point.floor[0], point.femo[0]
    assert (floor.kind, femo.kind) == ("floor", "femo")
    assert floor.processes == femo.processes == 2
    assert floor.frames == femo.frames == 2 * 2 * 5  # 2 processes x 2 clips x frames 0,2,..8
    assert len(floor.per_process_fps) == len(femo.per_process_fps) == 2
    assert floor.peak_rss_mb > 50 and femo.peak_rss_mb > 50
    assert point.ratio == femo.frames_per_s / floor.frames_per_s
    table = node_table([point])
    assert table.splitlines()[1].split()[0] == "2"
    assert "femo/floor" in table and "femo/floor" in NODE_LEGEND
    summary = node_summary(spec, [point])["points"][0]
    assert summary["processes"] == 2 and summary["threaded_frames_per_s"] is None


def test_the_floor_runs_the_presets_face_check_as_femo_does(tmp_path):
    """The floor is the preset's whole detector: a coffee cup BlazeFace's models score as a
    face is dropped by the preset's check in the floor, as in femo's rows."""
    image = cv2.imread(str(need(SHARED / "face-sizes" / "images" / "noface-coffee.jpg")))
    assert make_detector(detector_preset("blazeface")).detect([image], [None])[0]
    write_video(tmp_path / "cup.mp4", [image] * 2)
    measured = floor_pass(FloorSpec(str(tmp_path), ("cup.mp4",), "blazeface", every_n=1))
    assert (measured["frames"], measured["faces"]) == (2, 0)
