"""The bench states what its timings stand on (issue 37): the machine's load at its
start and end, and the study's size behind its estimate, in femo's default shards."""

from __future__ import annotations

import json

from femo.bench import run as bench_run
from femo.bench.cases import STUDY_CLIPS, STUDY_TASKS
from femo.bench.machine import load_text
from femo.bench.table import format_estimate
from femo.results.throughput import wall_time_estimate


def test_the_bench_states_the_machine_load_at_its_start_and_end(monkeypatch, tmp_path, capsys):
    loads = iter([(2.38, 1.38, 1.72), (0.51, 1.2, 1.6)])
    monkeypatch.setattr(bench_run.os, "getloadavg", lambda: next(loads))
    monkeypatch.setattr(bench_run.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(bench_run, "_bench", lambda *a: {"estimates": []})
    (tmp_path / "fer-samples").mkdir()
    (tmp_path / "fer-samples" / "woman2.mp4").write_bytes(b"")
    out = tmp_path / "out"
    assert bench_run.main(["--data", str(tmp_path), "--out-dir", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "machine load at the start: 2.38, 1.38, 1.72 (1, 5, 15 min) on 2 CPUs; busier than "
        "its CPUs: timings are slower than on a quiet machine"
    )
    assert lines[1] == "machine load at the end: 0.51, 1.20, 1.60 (1, 5, 15 min) on 2 CPUs"
    assert json.loads((out / "bench.json").read_text())["load"] == {
        "start": {"cpus": 2, "load_average": [2.38, 1.38, 1.72]},
        "end": {"cpus": 2, "load_average": [0.51, 1.2, 1.6]},
    }


def test_a_single_cpu_reads_as_one():
    load = {"cpus": 1, "load_average": [0.2, 0.3, 0.4]}
    assert load_text(load, "now") == "machine load now: 0.20, 0.30, 0.40 (1, 5, 15 min) on 1 CPU"


def test_the_estimate_says_it_is_the_study_size_in_default_shards():
    estimate = {
        **wall_time_estimate(0.5, 1.25, STUDY_CLIPS, STUDY_TASKS),
        "fer": wall_time_estimate(4.0, 3.0, STUDY_CLIPS, STUDY_TASKS),
        "basis": "dev clips on this machine",
    }
    assert format_estimate(estimate) == (
        "estimate at the study's size (2,826 clips, 16 processes at a time: 16 array tasks "
        "running at once or launcher.workers=16) on machines like this one: 90 s (about "
        "177 clips per process: 177 shards of the default 16 clips (shards.videos_per_shard), "
        "11-12 per process, at 0.50 s a clip, plus 1.2 s model loading; queueing not "
        "counted); fer.Video.analyze: 11.8 min. Basis: dev clips on this machine; longer "
        "clips and larger frames cost proportionally more"
    )
