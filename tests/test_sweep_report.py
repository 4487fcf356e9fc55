"""sweep.html: accuracy plot, points table and paired comparisons of a sweep's points.

The sweep is written by hand with a known answer: over 200 clips in 20 groups, B is
right on 80 % and A on 50 % (B better beyond chance), C is A with two more clips right
(no difference beyond chance), D was reported with the 7-class mapping (not comparable)
and E has no report.
"""

from __future__ import annotations

import base64
import csv
import re
from html.parser import HTMLParser

import pytest

from femo.results.metrics import Metrics
from femo.results.pages.formatting import own_overrides, shared_overrides
from femo.results.pages.sweep_html import short_names, sweep_html
from femo.results.stats import Interval
from femo.results.sweep import point_summary, read_sweep, write_sweep_table
from femo.results.sweep_compare import (
    beyond_chance,
    compare_points,
    compare_sweep,
    not_comparable_reason,
    verdict,
)
from femo.results.sweep_data import SweepPoint
from femo.results.tables import ClipRow, read_videos_csv

from .hand_sweep import N_GROUPS, A, B, C, D, E, write_point

pytestmark = pytest.mark.usefixtures("no_tensorflow")

OLD_COLUMNS = [
    "point",
    "overrides",
    "status",
    "n_videos",
    "n_labelled",
    "accuracy",
    "macro_f1",
    "shards_from",
    "run_dir",
]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Tables(HTMLParser):
    """Every <table> of a page as rows of cell texts; <img> sources; all text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.images: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(dict(attrs)["src"])
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append("".join(self._cell or []).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(page: str) -> Tables:
    t = Tables()
    t.feed(page)
    return t


def pair_rows(page: str) -> dict[tuple[str, str], dict[str, str]]:
    """The paired-comparison table, keyed by (A point, B point)."""
    (table,) = [t for t in parse(page).tables if t and "verdict" in t[0]]
    (points,) = [t for t in parse(page).tables if t and t[0][0] == "name"]
    folder = {r[0]: r[1] for r in points[1:]}  # P1 -> its folder
    header = table[0]
    rows = [dict(zip(header, r, strict=True)) for r in table[1:]]
    return {(folder[r["A"]], folder[r["B"]]): r for r in rows}


def test_sweep_html_verdicts_and_skips(sweep):
    write_sweep_table(sweep)
    page = (sweep / "sweep.html").read_text(encoding="utf-8")
    pairs = pair_rows(page)
    assert set(pairs) == {(A, B), (A, C), (B, C)}
    assert pairs[A, B]["verdict"] == "B is better than A beyond chance"
    assert pairs[A, C]["verdict"] == "no difference beyond chance"
    assert pairs[B, C]["verdict"] == "A is better than B beyond chance"
    # B - A is +30 points; C - B is negative.
    assert pairs[A, B]["difference B−A [95 % interval]"].startswith("+30.0 points [+")
    assert pairs[B, C]["difference B−A [95 % interval]"].startswith("-")
    assert pairs[A, B]["n clips"] == "200"
    # A and B both have groups; C's older report has none, so its pairs resample clips.
    assert pairs[A, B]["resampled"] == "groups (20)"
    assert pairs[A, C]["resampled"] == "clips (200)"
    assert pairs[A, C]["A only right"] == "0" and pairs[A, C]["B only right"] == "2"
    # D (7 classes) is named as not comparable with each 3-class point.
    for other in (A, B, C):
        assert re.search(
            rf"{other} vs {D}: not comparable, different label sets: mapping three_class "
            r"\(3 classes.*\) vs mapping seven \(7 classes",
            page,
        )
    assert all(D not in key for key in pairs)


def test_sweep_html_is_self_contained(sweep):
    write_sweep_table(sweep)
    page = (sweep / "sweep.html").read_text(encoding="utf-8")
    images = parse(page).images
    assert len(images) == 1
    for src in images:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert png[:8] == PNG_MAGIC
        assert b"http" not in png.lower()
    # Data URIs are random-looking base64; everything else must name no address.
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)
    assert "http" not in text.lower()
    assert "<script" not in text.lower()
    assert "<link" not in text.lower()
    # Strings from the sweep are escaped.
    assert "<b>odd</b>" not in page
    assert "&lt;b&gt;odd&lt;/b&gt;" in page


def test_unreported_point_is_listed_and_not_compared(sweep):
    write_sweep_table(sweep)
    page = (sweep / "sweep.html").read_text(encoding="utf-8")
    (points,) = [t for t in parse(page).tables if t and t[0][0] == "name"]
    status = {r[1]: r[3] for r in points[1:]}
    assert status == {A: "done", B: "done", C: "done", D: "done", E: "not reported"}
    assert all(E not in key for key in pair_rows(page))
    assert re.search(rf"Not reported, so not compared[^<]*</p>\s*<ul>\s*<li>{E}</li>", page)
    comparison = compare_sweep(read_sweep(sweep), resamples=200)
    assert comparison.not_reported == [E]
    assert all(E not in (c.a, c.b) for c in comparison.not_comparable)


def test_points_table_shows_interval_and_speed(sweep):
    write_sweep_table(sweep)
    page = (sweep / "sweep.html").read_text(encoding="utf-8")
    (points,) = [t for t in parse(page).tables if t and t[0][0] == "name"]
    row = dict(zip(points[0], points[1], strict=True))
    assert row["overrides"] == "detector=haar sampling.every_n=20"
    assert row["accuracy [95 % interval]"] == "50.0 % [43.0, 57.0, by group]"
    assert row["speed"] == "12.5 frames/s, 900 clips/hour per task"
    old = dict(zip(points[0], points[3], strict=True))
    assert old["accuracy [95 % interval]"] == "51.0 %"
    assert old["speed"] == "-"


def test_sweep_csv_keeps_old_columns_first(sweep):
    path = write_sweep_table(sweep)
    rows = list(csv.reader(path.open(encoding="utf-8")))
    assert rows[0] == [*OLD_COLUMNS, "accuracy_ci_low", "accuracy_ci_high", "frames_per_s"]
    by_point = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert by_point[A]["accuracy"] == "0.5000"
    assert (by_point[A]["accuracy_ci_low"], by_point[A]["accuracy_ci_high"]) == ("0.4300", "0.5700")
    assert by_point[A]["frames_per_s"] == "12.50"
    assert by_point[C]["accuracy_ci_low"] == "" and by_point[C]["frames_per_s"] == ""
    assert by_point[E]["status"] == "not reported" and by_point[E]["accuracy"] == ""
    assert (sweep / "sweep.md").read_text().startswith("# femo sweep")


def test_compare_sweep_numbers(sweep):
    points = read_sweep(sweep)
    comparison = compare_sweep(points, resamples=500)
    pairs = {(c.a, c.b): c for c in comparison.pairs}
    ab = pairs[A, B]
    assert ab.accuracy_a == pytest.approx(0.5) and ab.accuracy_b == pytest.approx(0.8)
    assert ab.difference == pytest.approx(0.3)
    assert ab.difference_ci.low > 0 and ab.mcnemar_p < 1e-6
    assert ab.unit == "group" and ab.n_groups == N_GROUPS
    assert pairs[A, C].difference == pytest.approx(0.01)
    assert pairs[A, C].mcnemar_p == pytest.approx(0.5)
    assert {(c.a, c.b) for c in comparison.not_comparable} == {(A, D), (B, D), (C, D)}


def clip_point(
    name: str,
    golden: list[str | None],
    predict: list[str | None],
    groups: list[str | None] | None = None,
    **kw,
) -> SweepPoint:
    """A reported two-class point over clips v0, v1, ... (no groups unless given)."""
    groups = groups or [None] * len(golden)
    clips = tuple(
        ClipRow(f"v{i}", g, p, group)
        for i, (g, p, group) in enumerate(zip(golden, predict, groups, strict=True))
    )
    metrics = Metrics.from_json({"accuracy": 0.5, "macro_f1": None, "n_videos": 0, "n_labelled": 0})
    return SweepPoint(name, metrics=metrics, clips=clips, classes=("x", "y"), **kw)


def test_mcnemar_p_by_hand():
    # 10 clips: both right 1, only A right 1, only B right 7, both wrong 1.
    golden = ["x"] * 10
    a = ["x", "x"] + ["y"] * 8
    b = ["x", "y"] + ["x"] * 7 + ["y"]
    c = compare_points(clip_point("a", golden, a), clip_point("b", golden, b), resamples=500)
    assert (c.a_only_right, c.b_only_right) == (1, 7)
    # Exact two-sided binomial on 8 discordant clips: P(X <= 1) + P(X >= 7) = 18 / 256.
    assert c.mcnemar_p == pytest.approx(18 / 256)
    assert c.difference == pytest.approx(0.6)
    assert c.unit == "clip"
    # p > 0.05, so not beyond chance even if the interval happens to exclude 0.
    assert c.verdict == "no difference beyond chance"


def test_verdict_needs_both_interval_and_mcnemar():
    assert verdict(Interval(0.02, 0.2), 0.01) == "B is better than A beyond chance"
    assert verdict(Interval(0.02, 0.2), 0.06) == "no difference beyond chance"
    assert verdict(Interval(-0.01, 0.2), 0.01) == "no difference beyond chance"
    assert verdict(Interval(-0.2, -0.02), 0.01) == "A is better than B beyond chance"
    assert not beyond_chance(None, 0.01)


def test_only_shared_labelled_clips_are_compared():
    a = clip_point("a", ["x", "y", "x", None], ["x", "y", "y", "x"])
    b = clip_point("b", ["x", "y", None, None], ["y", "y", "x", "x"])
    assert not_comparable_reason(a, b) is None
    c = compare_points(a, b, resamples=100)
    # Clip v2 is labelled only in a, v3 in neither: 2 clips are compared.
    assert c.n == 2 and (c.a_only_right, c.b_only_right) == (1, 0)
    assert (c.n_labelled_a, c.n_labelled_b) == (3, 2)
    other_labels = clip_point("c", ["y", "y", "x", None], ["x", "y", "y", "x"])
    assert "golden labels differ on 1" in not_comparable_reason(a, other_labels)
    other_mapping = clip_point(
        "d", ["x", "y", "x", None], ["x", "y", "y", "x"], emotions=(("happy", "x"),)
    )
    same = clip_point("e", ["x", "y", "x", None], ["x", "y", "y", "x"], emotions=(("happy", "y"),))
    assert not_comparable_reason(other_mapping, same).startswith("different label sets")


def test_groups_resampled_only_when_every_clip_has_one():
    golden = ["x"] * 6
    groups = [f"g{i % 3}" for i in range(6)]
    c = compare_points(
        clip_point("a", golden, ["x"] * 6, groups),
        clip_point("b", golden, ["y"] * 6, groups),
        resamples=100,
    )
    assert c.unit == "group" and c.n_groups == 3
    one_missing = [*groups[:5], None]
    c = compare_points(
        clip_point("a", golden, ["x"] * 6, one_missing),
        clip_point("b", golden, ["y"] * 6, one_missing),
        resamples=100,
    )
    assert c.unit == "clip" and c.n_groups is None


def test_pairs_are_capped_at_ten_points():
    points = [
        SweepPoint(
            f"{k}-p",
            metrics=Metrics.from_json(
                {"accuracy": k / 20, "macro_f1": None, "n_videos": 20, "n_labelled": 20}
            ),
            clips=tuple(ClipRow(f"v{i}", "x", "x" if i < k else "y") for i in range(20)),
            classes=("x", "y"),
        )
        for k in range(12)
    ]
    comparison = compare_sweep(points, resamples=50)
    assert len(comparison.pairs) == 45
    # The two least accurate points are the ones left out.
    assert comparison.left_out == ["0-p", "1-p"]
    page = sweep_html("s", [], comparison, None)
    assert "only the 10 most accurate points are compared (at most 45 pairs)" in page
    assert "Not compared: 0-p, 1-p." in page


def test_videos_csv_old_and_new_read_by_column_name(tmp_path):
    new = "video,group,predict,golden,status,frames_sampled,frames_with_face,x,y,message\nv,g1,,x,no_face,3,0,0,0,\n"
    (tmp_path / "new.csv").write_text(new)
    clips, classes = read_videos_csv(tmp_path / "new.csv")
    assert classes == ("x", "y") and clips == (ClipRow("v", "x", None, "g1"),)
    old = "video,predict,golden,status,frames_sampled,frames_with_face,x,y,z,message\nv,y,,ok,3,3,0,3,0,\n"
    (tmp_path / "old.csv").write_text(old)
    clips, classes = read_videos_csv(tmp_path / "old.csv")
    assert classes == ("x", "y", "z") and clips == (ClipRow("v", None, "y", None),)
    # Columns in another order (a spreadsheet's save) read the same: by name, not place.
    moved = "message,golden,video,x,y,predict,status,group,frames_sampled,frames_with_face\n,x,v,0,0,,no_face,g1,3,0\n"
    (tmp_path / "moved.csv").write_text(moved)
    assert read_videos_csv(tmp_path / "moved.csv") == ((ClipRow("v", "x", None, "g1"),), ("x", "y"))


def test_sweep_html_names_points_short_with_a_legend(sweep):
    """The plot and the comparison table say P1..P5; the points table maps each name to its
    folder and overrides, so the verdict column fits a 1280 px page (test_browser.py)."""
    write_sweep_table(sweep)
    page = (sweep / "sweep.html").read_text(encoding="utf-8")
    (points,) = [t for t in parse(page).tables if t and t[0][0] == "name"]
    assert [r[:3] for r in points[1:]] == [
        ["P1", A, "detector=haar sampling.every_n=20"],
        ["P2", B, "detector=mtcnn sampling.every_n=20"],
        ["P3", C, "detector=haar sampling.every_n=10"],
        ["P4", D, "detector=haar mapping=seven"],
        ["P5", E, "detector=mtcnn dataset.labels=<b>odd</b>.csv"],
    ]
    (pairs,) = [t for t in parse(page).tables if t and "verdict" in t[0]]
    assert [r[:2] for r in pairs[1:]] == [["P1", "P2"], ["P1", "P3"], ["P2", "P3"]]
    assert not any("detector=" in cell for r in pairs for cell in r)
    summaries = [point_summary(SweepPoint(name)) for name in ("x", "y")]
    assert short_names(summaries) == {"x": "P1", "y": "P2"}


def test_sweep_html_states_the_level_of_its_intervals():
    """Points reported with report.level=0.9 and pairs compared at 0.9: 90 %, never 95 %."""
    metrics = {
        "accuracy": 0.5, "accuracy_ci": [0.4, 0.6], "n_videos": 2, "n_labelled": 2,
        "macro_f1": None, "ci": {"method": "percentile bootstrap", "level": 0.9, "unit": "clip"},
    }  # fmt: skip
    point = SweepPoint(name="0", status="done", metrics=Metrics.from_json(metrics))
    page = sweep_html("s", [point_summary(point)], compare_sweep([point], level=0.9), b"png")
    (points,) = [t for t in parse(page).tables if t and t[0][0] == "name"]
    assert dict(zip(points[0], points[1], strict=True))["accuracy [90 % interval]"] == (
        "50.0 % [40.0, 60.0, by clip]"
    )
    assert "Whiskers: its 90 % bootstrap interval" in page
    assert "when its 90 % paired bootstrap interval excludes 0" in page
    assert "95 %" not in page


# ------------------------------------------------------------------ shared overrides


def test_shared_overrides_are_those_every_point_has_in_the_first_points_order():
    items = [
        ["dataset.root=/d", "classifier=custom", "classifier.crop=fer", "classifier.size=64"],
        ["classifier.size=64", "dataset.root=/d", "classifier=custom", "classifier.crop=box"],
        ["dataset.root=/d", "classifier.crop=fer", "classifier=custom", "classifier.size=64"],
    ]
    shared = shared_overrides(items)
    assert shared == ("dataset.root=/d", "classifier=custom", "classifier.size=64")
    assert [own_overrides(i, shared) for i in items] == [
        "classifier.crop=fer", "classifier.crop=box", "classifier.crop=fer"]  # fmt: skip
    assert shared_overrides([items[0]]) == ()  # one point: nothing is "every point's"
    assert shared_overrides([]) == ()


def test_sweep_tables_state_the_shared_overrides_once(tmp_path):
    """A sweep over one key: sweep.md and sweep.html say once what every point was given,
    and each point's row shows only its own; sweep.csv keeps every override."""
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text("hydra:\n  mode: MULTIRUN\n")
    common = ["dataset.root=/data/clips", "classifier=custom", "classifier.model=/m/e.onnx"]
    for k, crop in enumerate(["fer", "box"]):
        write_point(sweep, f"{k}-clips-haar-n20", [*common, f"classifier.crop={crop}"])
    write_sweep_table(sweep)
    md = (sweep / "sweep.md").read_text(encoding="utf-8").splitlines()
    assert md[2] == (
        "Every point: `dataset.root=/data/clips classifier=custom classifier.model=/m/e.onnx`; "
        "each row gives its own overrides."
    )
    assert [line.split(" | ")[1] for line in md[6:8]] == [
        "`classifier.crop=fer`", "`classifier.crop=box`"]  # fmt: skip
    page = (sweep / "sweep.html").read_text(encoding="utf-8")
    assert re.search(
        r'<p id="shared">Every point: <code>dataset.root=/data/clips classifier=custom '
        r"classifier.model=/m/e.onnx</code>",
        page,
    )
    (points,) = [t for t in parse(page).tables if t and t[0][0] == "name"]
    assert [r[2] for r in points[1:]] == ["classifier.crop=fer", "classifier.crop=box"]
    rows = list(csv.DictReader((sweep / "sweep.csv").open(encoding="utf-8")))
    assert rows[1]["overrides"] == " ".join([*common, "classifier.crop=box"])
