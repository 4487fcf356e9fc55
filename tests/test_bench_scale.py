"""``python -m femo.bench.scale``: the femo it times is the one it names."""

from __future__ import annotations

import json
from pathlib import Path

from femo.bench import scale

REPO = Path(__file__).resolve().parents[1]


def test_the_baseline_is_timed_even_from_inside_a_checkout(tmp_path, monkeypatch):
    # A "femo" that only leaves a mark: what --baseline must run, though the folder the
    # bench starts in (a checkout) holds another femo that `python -m` would put first.
    marks = tmp_path / "marks"
    marks.mkdir()
    fake = tmp_path / "baseline" / "femo"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text(
        "import sys, pathlib\n"
        f"pathlib.Path({str(marks)!r}, sys.argv[1]).write_text(' '.join(sys.argv[1:]))\n"
    )
    monkeypatch.chdir(REPO)
    argv = ["--clips", "20", "--per-shard", "10", "--frames", "2", "--persons", "2"]
    work = tmp_path / "work"
    code = scale.main([*argv, "--work-dir", str(work), "--baseline", str(fake.parent)])
    assert code == 0
    assert sorted(p.name for p in marks.iterdir()) == ["reduce", "status"]
    results = json.loads((work / "scale.json").read_text())
    assert set(results) >= {"this", "baseline"}
    # this femo made the report; the baseline (the fake) wrote none
    assert "index.html" in results["report_files"]
