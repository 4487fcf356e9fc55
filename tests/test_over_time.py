"""A long video's timeline (issue 37): each segment's emotion and class shares against
time, its boundaries, the predicted class, the golden one where the run has labels and
each person's, in index.html and as a PNG that report.md links."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pandas as pd
import pytest

from femo.config import EMOTIONS, MappingConfig
from femo.dataset import Segment
from femo.results.analysis import segment_timelines
from femo.results.model import ClipResult
from femo.results.pages import over_time_plot
from femo.results.pages.html_page import render_index_html
from femo.results.pages.markdown import report_markdown
from femo.results.pages.plots import CLASS_COLOURS
from femo.results.time_records import SegmentResult, VideoOverTime
from femo.results.write import write_report
from femo.rundir import ReportFolder

from .builders import as_report, build_report_input

pytestmark = pytest.mark.usefixtures("no_tensorflow")

CLASSES = ["Positive", "Neutral", "Negative"]
THREE = MappingConfig()


def _segment(start_s, end_s, predict, golden=None, status="ok", **more) -> dict:
    fps = 25
    return {
        "start_frame": int(start_s * fps),
        "end_frame": int(end_s * fps),
        "start_s": start_s,
        "end_s": end_s,
        "predict": predict,
        "golden": golden,
        "status": status,
        **more,
    }


HAPPY = {"emotion_share": {**dict.fromkeys(EMOTIONS, 0.0), "happy": 0.75, "neutral": 0.25},
         "class_share": {"Positive": 0.75, "Neutral": 0.25, "Negative": 0.0},
         "frames_with_face": 4}  # fmt: skip
ANGRY = {"emotion_share": {**dict.fromkeys(EMOTIONS, 0.0), "angry": 1.0},
         "class_share": {"Positive": 0.0, "Neutral": 0.0, "Negative": 1.0},
         "frames_with_face": 2}  # fmt: skip


def labelled_video() -> dict:
    """Three segments of 2 s: right, wrong (no face: no prediction), unlabelled."""
    return {
        "video": "debate.mp4",
        "segments": [
            _segment(0.0, 2.0, "Positive", "Positive", group="ann", **HAPPY),
            _segment(2.0, 4.0, None, "Negative", "no_face", group="ann", frames_with_face=0),
            _segment(4.0, 6.0, "Negative", None, group="bob", **ANGRY),
        ],
    }


def unlabelled_video() -> dict:
    return {
        "video": "debate.mp4",
        "segments": [_segment(0.0, 2.0, "Positive", **HAPPY), _segment(2.0, 4.0, "Positive", **HAPPY),
                     _segment(4.0, 5.32, "Negative", **ANGRY)],
    }  # fmt: skip


def report_with(video: dict, labelled: bool):
    metrics, clips = build_report_input()
    metrics["over_time"] = [video]
    if not labelled:
        metrics["n_labelled"] = 0
        metrics["predicted"] = {"clips": 9, "with_prediction": 6, "classes": {"Positive": 3}}
        for c in clips:
            c["golden"] = None
    return as_report(metrics, clips)


def over_time_part(page: str) -> str:
    return page.split('id="over-time"')[1].split("<h2")[0]


# --------------------------------------------------------------------- the figures


def test_segment_timelines_hold_each_segments_shares_group_and_persons():
    spans = {"v.mp4@0": Segment("v.mp4", 0, 50, 0.0, 2.0),
             "v.mp4@50": Segment("v.mp4", 50, 100, 2.0, 4.0)}  # fmt: skip
    results = [
        ClipResult("v.mp4@50", None, "Positive", "no_face", 2, 0, {}, group="ann"),
        ClipResult("v.mp4@0", "Positive", None, "ok", 2, 2, {}, group="ann"),
    ]
    per_frame = pd.DataFrame(
        {
            "video": ["v.mp4@0"] * 4,
            "frame": [0, 10, 20, 30],
            "emotion": ["happy", "happy", "surprise", "angry"],
        }  # fmt: skip
    )
    faces = pd.DataFrame(
        {
            "video": ["v.mp4@0"] * 5,
            "person": ["ann", "ann", "bob", None, "bob"],
            "emotion": ["happy", "sad", "angry", "happy", "disgust"],
        }  # fmt: skip
    )
    (video,) = segment_timelines(results, spans, per_frame, THREE, faces)
    first, second = video.segments
    assert (first.start_s, first.group, first.frames_with_face) == (0.0, "ann", 4)
    assert first.emotion_share == {**dict.fromkeys(EMOTIONS, 0.0), "happy": 0.5,
                                   "surprise": 0.25, "angry": 0.25}  # fmt: skip
    assert first.class_share == {"Positive": 0.75, "Neutral": 0.0, "Negative": 0.25}
    assert {p: (s.faces, s.class_share) for p, s in first.persons.items()} == {
        "ann": (2, {"Positive": 0.5, "Neutral": 0.5, "Negative": 0.0}),
        "bob": (2, {"Positive": 0.0, "Neutral": 0.0, "Negative": 1.0}),
    }  # the face matched to nobody is left out
    assert (second.frames_with_face, second.emotion_share, second.persons) == (0, None, {})
    # Without reference photos: no persons at all (not "nobody seen").
    (plain,) = segment_timelines(results, spans, per_frame, THREE)
    assert plain.segments[0].persons is None


def test_layout_of_a_labelled_video_has_a_time_axis_boundaries_and_a_lane_each():
    video = VideoOverTime.from_json(labelled_video())
    layout = over_time_plot.over_time_layout(video, EMOTIONS, CLASSES, labelled=True)
    assert layout.x_label == "time (s)"
    assert layout.spans == ((0.0, 2.0), (2.0, 4.0), (4.0, 6.0))
    assert layout.boundaries == [2.0, 4.0]
    assert [(lane.title, lane.names) for lane in layout.lanes] == [
        ("predicted", ("Positive", None, "Negative")),
        ("golden", ("Positive", "Negative", None)),
        ("ann", ("Positive", None, None)),
        ("bob", (None, None, "Negative")),
    ]
    assert layout.wrong == (False, True, False)  # no prediction for a labelled segment
    assert layout.title == "debate.mp4 — 3 segments, 1 of 2 labelled segments right"
    assert layout.emotion_shares[0, EMOTIONS.index("happy")] == 0.75
    assert np.isnan(layout.emotion_shares[1]).all()  # no face
    assert layout.class_shares[2].tolist() == [0.0, 0.0, 1.0]


def test_an_unlabelled_run_draws_no_golden_lane():
    video = VideoOverTime.from_json(unlabelled_video())
    layout = over_time_plot.over_time_layout(video, EMOTIONS, CLASSES, labelled=False)
    assert [lane.title for lane in layout.lanes] == ["predicted"]
    assert layout.title == "debate.mp4 — 3 segments, no labels"
    assert not any(layout.wrong)
    page = over_time_part(render_index_html(report_with(unlabelled_video(), labelled=False)))
    assert "no golden lane: this run has no labels" in page
    assert "golden" not in page.replace("no golden lane", "")


def test_persons_lanes_follow_reference_persons_in_order_of_appearance():
    segments = [
        SegmentResult.of(start_s=0.0, end_s=1.0, predict="Positive",
                         persons={"bob": {"faces": 1, "class_share": {"Negative": 1.0}}}),
        SegmentResult.of(start_s=1.0, end_s=2.0, predict="Neutral",
                         persons={"ann": {"faces": 5, "class_share": {"Positive": 0.4,
                                                                      "Neutral": 0.6}}}),
    ]  # fmt: skip
    layout = over_time_plot.over_time_layout(
        VideoOverTime(video="v", segments=segments), EMOTIONS, CLASSES, labelled=False
    )
    assert [(lane.title, lane.names) for lane in layout.lanes[1:]] == [
        ("bob", ("Negative", None)),
        ("ann", (None, "Neutral")),
    ]


def test_segments_without_a_class_are_hatched_never_a_grey_block():
    """A segment with no prediction, no label or no face is a hatched white block; the
    only grey is Neutral's, and every neighbouring pair is parted by a white line."""
    video = VideoOverTime.from_json(labelled_video())
    layout = over_time_plot.over_time_layout(video, EMOTIONS, CLASSES, labelled=True)
    fig = over_time_plot.over_time_figure(layout, EMOTIONS, CLASSES)
    top, middle, lanes = fig.axes[:3]
    hatched = [c for c in lanes.collections if c.get_hatch()]
    assert sum(len(c.get_paths()) for c in hatched) == 2  # one predicted, one golden
    assert {tuple(c.get_facecolor()[0]) for c in hatched} == {(1.0, 1.0, 1.0, 1.0)}
    for ax in (top, middle):  # the segment without a face
        (no_face,) = [c for c in ax.collections if c.get_hatch()]
        assert len(no_face.get_paths()) == 1
    grey = {CLASS_COLOURS["neutral"].lower()}
    filled = {
        "#{:02x}{:02x}{:02x}".format(*(round(255 * v) for v in c.get_facecolor()[0][:3]))
        for c in lanes.collections
        if not c.get_hatch()
    }
    assert filled == {"#e69f00", "#000000"}  # Positive, Negative: no grey without Neutral
    assert not filled & grey
    for ax in (top, middle, lanes):
        parted = sorted(line.get_xdata()[0] for line in ax.lines if line.get_color() == "white")
        assert parted == [2.0, 4.0]
    assert lanes.get_xlabel() == "time (s)"
    assert [t.get_text() for t in lanes.get_yticklabels()] == ["predicted", "golden", "ann", "bob"]


def test_long_videos_count_time_in_minutes():
    segments = [_segment(60.0 * k, 60.0 * (k + 1), "Positive", **HAPPY) for k in range(4)]
    video = VideoOverTime.from_json({"video": "v", "segments": segments})
    layout = over_time_plot.over_time_layout(video, EMOTIONS, CLASSES, labelled=False)
    fig = over_time_plot.over_time_figure(layout, EMOTIONS, CLASSES)
    lanes = fig.axes[2]
    assert lanes.get_xlabel() == "time (m:ss)"
    assert lanes.xaxis.get_major_formatter()(150.0, 0) == "2:30"


# ---------------------------------------------------------------- pages and files


def test_the_page_shows_each_video_as_its_timeline_figure():
    report = report_with(labelled_video(), labelled=True)
    section = over_time_part(render_index_html(report))
    (src,) = re.findall(
        r'<img src="data:image/png;base64,([^"]+)" alt="debate.mp4 over time"', section
    )
    png = base64.b64decode(src)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    from matplotlib.image import imread

    height, width = imread(io.BytesIO(png)).shape[:2]
    assert width == 1100 and height > 300
    assert "width:" not in section  # no strips of blocks as wide as their share
    assert "golden class (hatched: unlabelled; a red cross marks a wrong prediction)" in section
    assert "a lane per group: the predicted class of its segments" in section


def test_write_report_saves_each_timeline_and_report_md_links_it(tmp_path):
    report = report_with(labelled_video(), labelled=True)
    write_report(report, tmp_path)
    png = ReportFolder(tmp_path).over_time_png("debate.mp4")
    assert png == tmp_path / "over-time" / "debate.mp4.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (tmp_path / "index.html").read_text()
    assert base64.b64encode(png.read_bytes()).decode() in page  # drawn once, used twice
    markdown = (tmp_path / "report.md").read_text().splitlines()
    assert "![debate.mp4 over time](over-time/debate.mp4.png)" in markdown
    assert ReportFolder(tmp_path).over_time_png("a/b c.mp4").name == "a__b c.mp4.png"
    from femo.results.pages.over_time import figure_link

    assert figure_link("a/b c.mp4") == "over-time/a__b%20c.mp4.png"


def test_an_unlabelled_report_md_lists_segments_without_a_golden_column(tmp_path):
    markdown = report_markdown(report_with(unlabelled_video(), labelled=False)).splitlines()
    start = markdown.index("### debate.mp4 (3 segments)")
    assert markdown[start + 2] == "![debate.mp4 over time](over-time/debate.mp4.png)"
    assert markdown[start + 4 : start + 7] == [
        "| time | frames | predicted | status |",
        "|---|---|---|---|",
        "| 0:00.00–0:02.00 | 0–50 | Positive | ok |",
    ]
