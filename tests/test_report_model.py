"""One report model, rendered everywhere: the answer's counts come from one table, the
pages read typed figures (no bare string keys), and every run-folder path comes from
femo.rundir (docs/extending.md: a figure, a path)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from femo.results import metrics as metrics_module
from femo.results.metrics import ANSWER_COUNTS, Count, Metrics
from femo.results.pages.html_page import render_index_html
from femo.results.pages.markdown import report_markdown
from femo.rundir import ReportFolder, RunDir, SweepFolder

from .builders import EVIL, EVIL_GROUP, as_report, build_report_input

pytestmark = pytest.mark.usefixtures("no_tensorflow")

PACKAGE = Path(__file__).resolve().parents[1] / "femo"


@pytest.mark.parametrize("count", ANSWER_COUNTS, ids=lambda c: c.key)
def test_every_count_of_the_answer_is_on_both_pages(count):
    metrics, clips = build_report_input()
    metrics["n_person_absent"] = 4
    report = as_report(metrics, clips)
    if count.person:  # shown only where the labelled person's faces are scored
        from dataclasses import replace

        from femo.config import ReduceConfig, RunConfig

        config = RunConfig(reduce=ReduceConfig(face="person"))
        report = replace(report, config=config)
    value = getattr(report.metrics, count.key)
    page, markdown = render_index_html(report), report_markdown(report)
    box = f"<b>{value}</b><span>{count.card}</span>"
    assert box in page
    assert f"{count.line}: {value}" in markdown


def test_a_count_added_to_the_table_shows_on_both_pages(monkeypatch):
    """Adding a count is its field, its line in ANSWER_COUNTS and its computation."""
    right = Count("n_correct", "right", "labelled clips right")
    monkeypatch.setattr(metrics_module, "ANSWER_COUNTS", (*ANSWER_COUNTS, right))
    report = as_report(*build_report_input())
    assert report.metrics.n_correct == 3
    assert "<b>3</b><span>right</span>" in render_index_html(report)
    assert "labelled clips right: 3" in report_markdown(report)


def test_a_bad_count_marks_its_box_only_when_not_zero():
    metrics, clips = build_report_input()
    page = render_index_html(as_report(metrics, clips))
    assert '<div class="card bad"><b>2</b><span>no face</span>' in page
    assert '<div class="card"><b>0</b><span>missing</span>' in page


def test_old_metrics_without_the_newer_counts_still_render():
    old = {"accuracy": 0.5, "macro_f1": 0.4, "n_videos": 6, "n_labelled": 4}
    report = as_report(old, [])
    assert report.metrics.n_scored is None and Metrics.from_json(old).to_json() == old
    assert "<b>–</b><span>labelled with a prediction</span>" in render_index_html(report)


# The modules that render or read a report: they read typed figures, never by bare key.
READERS = [
    *sorted((PACKAGE / "results" / "pages").glob("*.py")),
    PACKAGE / "results" / "sweep.py",
    PACKAGE / "results" / "sweep_compare.py",
    PACKAGE / "results" / "write.py",
    PACKAGE / "results" / "tables.py",
]
METRICS_KEYS = [k for k in Metrics.keys_written() if len(k) > 2]


@pytest.mark.parametrize("path", READERS, ids=lambda p: p.name)
def test_report_and_sweep_modules_read_no_figure_by_bare_key(path):
    text = path.read_text()
    found = [key for key in METRICS_KEYS if re.search(rf"""(\[|\.get\()\s*["']{key}["']""", text)]
    assert found == [], f"{path.name} reads {found} by key; use the typed figures"


# A run folder's file and folder names: only femo/rundir spells them (labels.csv is
# also a dataset's file, femo's demo one).
RUN_FOLDER_NAMES = (
    "femo.json", "clips.csv", "jobs.json", "head.json", "index.html",
    "report.md", "videos.csv", "metrics.json", "groups.csv", "identities.csv",
    "references.parquet", "femo-array.sbatch", "femo-array.qsub", "overrides.yaml",
    "multirun.yaml", "model.tflite", "model.keras", "outcome.json", "tune.log", "job.json",
)  # fmt: skip


def test_no_module_but_rundir_spells_a_run_folder_path():
    spelled = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "rundir" in path.parts:
            continue
        text = path.read_text()
        spelled += [
            f"{path.relative_to(PACKAGE)}: {n}" for n in RUN_FOLDER_NAMES if f'"{n}"' in text
        ]
    assert spelled == []


def test_a_reduce_override_folder_names_a_path_by_its_last_component(tmp_path):
    """Issue 37: it embedded the path (report-dataset.references-..-shared-data-fr-samples-
    refs); now the last component and 6 hex of the path's SHA-256, since heads from
    different runs are all head.json."""
    import hashlib

    run = RunDir(tmp_path / "run")
    given = "../shared/data/fr-samples/refs"
    digest = hashlib.sha256(given.encode()).hexdigest()[:6]
    folder = run.report_dir_for([f"dataset.references={given}", "reduce.face=person"])
    assert folder.name == f"report-dataset.references-refs-{digest}_reduce.face-person"
    heads = [run.report_dir_for([f"reduce.head={r}/fit/head.json"]) for r in ("/a/r1", "/a/r2")]
    assert heads[0].name.startswith("report-reduce.head-head.json-")
    assert heads[0] != heads[1]


def test_the_folders_build_their_paths(tmp_path):
    run = RunDir(tmp_path / "run")
    assert run.report.metrics_json == tmp_path / "run" / "report" / "metrics.json"
    assert run.sheet_file("a/b.mp4") == tmp_path / "run" / "report" / "sheets" / "a__b.mp4.png"
    assert run.head_file == tmp_path / "run" / "fit" / "head.json"
    assert run.fit.tune.model_file == tmp_path / "run" / "fit" / "tune" / "model.tflite"
    assert run.report_dir_for([]) == run.report_dir
    assert run.report_dir_for(["mapping=seven"]).name == "report-mapping-seven"
    assert ReportFolder(tmp_path).page.name == "index.html"
    sweep = SweepFolder(tmp_path)
    assert sweep.table_file("report", "csv").name == "sweep.csv"
    assert sweep.table_file("report-mapping-seven", "html").name == "sweep-mapping-seven.html"


# ------------------------------------------------ report.md holds what index.html holds


def test_report_md_starts_with_its_title():
    """Issue 37: the title came after the headline; now it is the first line, once."""
    metrics, clips = build_report_input()
    for report in (as_report(metrics, clips), _unlabelled(metrics, clips)):
        lines = report_markdown(report).splitlines()
        assert lines[:2] == ["# femo report", ""]
        assert lines.count("# femo report") == 1
    page = render_index_html(as_report(metrics, clips))
    assert "<h1>femo report</h1>" in page


def _unlabelled(metrics: dict, clips: list[dict]):
    metrics = {**metrics, "n_labelled": 0, "predicted": {"clips": 9, "classes": {"Positive": 3}}}
    return as_report(metrics, [{**c, "golden": None} for c in clips])


def test_report_md_lists_the_wrong_clips_as_the_page_does():
    metrics, clips = build_report_input()
    report = as_report(metrics, clips)
    lines = report_markdown(report).splitlines()
    start = lines.index("## Wrong clips (4)")
    rows = lines[start + 4 : start + 10]
    assert (
        rows[0] == "| clip | group | golden | predicted | Positive | Neutral | Negative | status |"
    )
    assert rows[2:] == [
        "| anna/a_02.mp4 | anna | Negative | Neutral | 0 | 15 | 13 | ok |",
        "| bert/b_02.mp4 | bert | Positive | – | 0 | 0 | 0 | no_face |",
        f"| eve/{EVIL} | {EVIL_GROUP} | Positive | Negative | 13 | 0 | 15 | ok |",
        f"| eve/e_02.mp4 | {EVIL_GROUP} | Neutral | – | 0 | 0 | 0 | error |",
    ]
    # The same clips the page marks wrong.
    assert render_index_html(report).count('<tr class="wrong">') == 4
    right = [{**c, "predict": c["golden"]} for c in clips]
    assert "## Wrong clips" not in report_markdown(as_report(metrics, right))


def test_report_md_shows_each_groups_class_shares_as_the_page_does():
    metrics, clips = build_report_input()
    lines = report_markdown(as_report(metrics, clips)).splitlines()
    head = next(line for line in lines if line.startswith("| group |"))
    assert "| classes (of those frames) | clips predicted as |" in head
    (anna,) = [line for line in lines if line.startswith("| anna |")]
    assert (
        "| Positive 50%, Neutral 8%, Negative 42% | Positive 50%, Neutral 25%, Negative 25% |"
        in anna
    )


def test_no_interval_note_stays_out_of_the_headline():
    """Issue 37: "(no interval: ...)" sat inside the headline line; it is said on the
    intervals line only."""
    metrics, clips = build_report_input()
    metrics["accuracy_ci"] = None
    metrics["ci"] = {"level": 0.95, "unit": "clip", "n_units": 7, "min_units": 10,
                     "withheld": "no interval: 7 clips, fewer than report.min_units=10"}  # fmt: skip
    lines = report_markdown(as_report(metrics, clips)).splitlines()
    headline = next(line for line in lines if line.startswith("**Accuracy"))
    assert headline == "**Accuracy: 62.5%** (3 of 7 labelled clips)"
    assert "- intervals: none (no interval: 7 clips, fewer than report.min_units=10)" in lines
