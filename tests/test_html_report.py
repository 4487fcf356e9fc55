"""The self-contained HTML report: sections, embedded figures, escaping, ordering."""

from __future__ import annotations

import base64
import copy
import io
import math
import time
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from femo.results.metrics import GroupProfile, Metrics
from femo.results.pages import plots
from femo.results.pages.html_page import SECTIONS, answer_text, render_index_html
from femo.results.pages.html_sections import order_clips
from femo.results.time_records import Timeline

from .builders import (
    CLASSES,
    EVIL,
    EVIL_GROUP,
    as_report,
    build_report_input,
    report_clip,
    report_group,
    report_scores,
)

pytestmark = pytest.mark.usefixtures("no_tensorflow")

EMOTIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
SECTION_IDS = [key for key, _ in SECTIONS]


def build_large_input(
    n_groups: int = 60, n_timelines: int = 8, n_clips: int = 3000
) -> tuple[dict, list[dict]]:
    """A big run: many persons, clips and long timelines, for speed and caps."""
    metrics, _ = build_report_input()
    rng = np.random.default_rng(0)
    names = [f"person_{i:03d}" for i in range(n_groups)]
    metrics["groups"] = [
        report_group(name, int(rng.integers(5, 80)), float(rng.uniform(0.05, 0.6)), 0.5)
        for name in names
    ]
    clips = []
    for i in range(n_clips):
        golden = CLASSES[i % 3]
        predict = CLASSES[int(rng.integers(0, 3))]
        clips.append(
            report_clip(
                f"{names[i % n_groups]}/clip_{i:05d}.mp4", names[i % n_groups], golden, predict
            )
        )
    template = metrics["timelines"][0]
    metrics["timelines"] = []
    for t in range(n_timelines):
        frames = [
            {
                "frame": i,
                "time_s": i / 5,
                "scores": None if i % 17 == 0 else report_scores(EMOTIONS[i % 7]),
            }
            for i in range(300)
        ]
        metrics["timelines"].append({**template, "video": f"clip_{t}.mp4", "frames": frames})
    metrics["n_videos"] = n_clips
    return metrics, clips


class _Page(HTMLParser):
    """What the tests look at: h2 ids, img srcs, and the clip table's rows as text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.h2_ids: list[str] = []
        self.h2_text: list[str] = []
        self.img_srcs: list[str] = []
        self.tags: list[str] = []
        self.clip_rows: list[tuple[bool, list[str]]] = []
        self._in_h2 = False
        self._in_clips = False
        self._in_tbody = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "h2":
            self.h2_ids.append(a.get("id"))
            self.h2_text.append("")
            self._in_h2 = True
        elif tag == "img":
            self.img_srcs.append(a.get("src"))
        elif tag == "table" and "clips" in (a.get("class") or "").split():
            self._in_clips = True
        elif tag == "tbody" and self._in_clips:
            self._in_tbody = True
        elif tag == "tr" and self._in_tbody:
            self.clip_rows.append((a.get("class") == "wrong", []))
        elif tag == "td" and self._in_tbody:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False
        elif tag == "table":
            self._in_clips = self._in_tbody = False
        elif tag == "td" and self._cell is not None:
            self.clip_rows[-1][1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._in_h2:
            self.h2_text[-1] += data
        if self._cell is not None:
            self._cell.append(data)


def parse(page: str) -> _Page:
    p = _Page()
    p.feed(page)
    p.close()
    return p


@pytest.fixture(scope="module")
def page() -> str:
    return render(*build_report_input())


def render(metrics: dict, clips: list[dict]) -> str:
    return render_index_html(as_report(metrics, clips))


def test_sections_in_order_with_ids(page):
    p = parse(page)
    assert p.h2_ids == SECTION_IDS
    assert SECTION_IDS == [
        "answer",
        "confusion",
        "profiles",
        "timelines",
        "clips",
        "faces",
        "provenance",
    ]
    assert all(text.strip() for text in p.h2_text)


def test_every_image_is_an_embedded_png(page):
    p = parse(page)
    # confusion, profiles, two timelines, face-rate histogram
    assert len(p.img_srcs) == 5
    for src in p.img_srcs:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        png = base64.b64decode(src[len(prefix) :], validate=True)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(io.BytesIO(png)) as im:
            im.verify()
        with Image.open(io.BytesIO(png)) as im:
            assert im.format == "PNG"
            assert im.size[0] > 200 and im.size[1] > 100


def test_nothing_refers_to_the_network_or_needs_javascript(page):
    low = page.lower()
    for needle in ("http://", "https://", 'src="//', 'href="//', "url(", "@import", "<link"):
        assert needle not in low, needle
    assert "<script" not in low
    assert "default-src 'none'" in page


@pytest.mark.parametrize("partial", [False, True])
def test_partial_banner_iff_partial(partial):
    metrics, clips = build_report_input(partial=partial)
    page = render(metrics, clips)
    assert ('id="partial"' in page) is partial
    assert ("PARTIAL" in page) is partial
    if partial:
        # Above everything else on the page.
        assert page.index('id="partial"') < page.index("<h1") < page.index('id="answer"')
        assert "3 of 4 shards are done; not done: 2." in page


def test_answer_shows_the_intervals(page):
    metrics, _ = build_report_input()
    acc, f1 = answer_text(Metrics.from_json(metrics))
    assert acc == "Accuracy 62.5 % (95 % CI 41.0–80.2 %, bootstrap over 3 persons)"
    assert f1 == "Macro-F1 0.583 (95 % CI 0.30–0.81)"
    answer = page[page.index('id="answer"') : page.index('id="confusion"')]
    assert "Accuracy 62.5 %" in answer
    assert "95 % CI 41.0–80.2 %, bootstrap over 3 persons" in answer
    assert "95 % CI 0.30–0.81" in answer


def test_answer_without_labels():
    metrics, clips = build_report_input()
    metrics.update(accuracy=None, accuracy_ci=None, macro_f1=None, macro_f1_ci=None)
    del metrics["ci"]
    acc, _ = answer_text(Metrics.from_json(metrics))
    assert acc == "Accuracy n/a (no labelled clips)"
    assert "n/a (no labelled clips)" in render(metrics, clips)


def test_wrong_clips_come_first_in_the_clip_table(page):
    rows = parse(page).clip_rows
    metrics, clips = build_report_input()
    wrong = [w for w, _ in rows]
    n_wrong = sum(wrong)
    # a_02 (Negative->Neutral), b_02 (no face), EVIL (Positive->Negative), e_02 (error)
    assert n_wrong == 4
    assert wrong == [True] * n_wrong + [False] * (len(clips) - n_wrong)
    videos = [cells[0] for _, cells in rows]
    assert videos[:4] == ["anna/a_02.mp4", "bert/b_02.mp4", f"eve/{EVIL}", "eve/e_02.mp4"]
    assert sorted(videos) == sorted(c["video"] for c in clips)
    # unlabelled clips are never wrong
    assert [c.video for c in order_clips(as_report(metrics, clips).clips)][4:] == [
        "anna/a_01.mp4",
        "anna/a_03.mp4",
        "bert/b_01.mp4",
        "bert/b_03.mp4",
        "eve/e_03.mp4",
    ]


def test_user_strings_are_escaped(page):
    assert "<script" not in page.lower()
    assert "<b onmouseover" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;.mp4" in page
    assert "&lt;b onmouseover=&quot;x&quot;&gt;eve&lt;/b&gt;" in page
    assert "cv2 could not open &lt;file&gt; &amp; gave up" in page
    assert "/data/study &lt;2024&gt;" in page
    # and they still read as the original text
    rows = parse(page).clip_rows
    assert [f"eve/{EVIL}", EVIL_GROUP] in [cells[:2] for _, cells in rows]


def test_no_groups_says_how_to_get_them(page):
    assert "dataset.group_column=" not in page
    metrics, clips = build_report_input(groups=False)
    bare = render(metrics, clips)
    profiles = bare[bare.index('id="profiles"') : bare.index('id="timelines"')]
    assert "dataset.group_column=" in profiles
    assert "dataset.group_pattern=" in profiles
    assert "<img" not in profiles
    assert len(parse(bare).img_srcs) == len(parse(page).img_srcs) - 1


def test_missing_optional_keys_still_render():
    metrics, clips = build_report_input()
    for key in ("ci", "groups", "timelines", "throughput", "provenance", "settings_yaml", "shards"):
        metrics.pop(key)
    page = render(metrics, clips)
    assert parse(page).h2_ids == SECTION_IDS
    assert "No timelines in this run" in page


def test_timeline_gaps_are_nan():
    metrics, _ = build_report_input()
    gappy = Timeline.from_json(metrics["timelines"][0])
    data = plots.timeline_arrays(gappy, EMOTIONS)
    assert data.x_label == "time (s)"
    assert data.scores.shape == (14, 7)
    np.testing.assert_allclose(data.x, [i * 0.2 for i in range(14)])
    assert list(np.flatnonzero(data.no_face)) == [3, 4, 9]
    assert np.isnan(data.scores[[3, 4, 9]]).all()
    assert not np.isnan(np.delete(data.scores, [3, 4, 9], axis=0)).any()
    assert data.scores[0, EMOTIONS.index("sad")] == pytest.approx(0.7)


def test_timeline_without_times_uses_frame_index_and_missing_emotion_is_nan():
    timeline = Timeline.from_json(
        {
            "video": "v.mp4",
            "frames": [
                {"frame": 10, "time_s": None, "scores": {"happy": 0.9}},
                {"frame": 0, "time_s": 0.0, "scores": None},
            ],
        }
    )
    data = plots.timeline_arrays(timeline, EMOTIONS)
    assert data.x_label == "frame"
    assert list(data.x) == [0.0, 10.0]
    assert list(data.no_face) == [True, False]
    assert data.scores[1, EMOTIONS.index("happy")] == 0.9
    assert math.isnan(data.scores[1, EMOTIONS.index("sad")])
    assert plots.timeline_png(timeline, EMOTIONS)[:4] == b"\x89PNG"


def test_timeline_title_says_right_or_wrong():
    metrics, _ = build_report_input()
    wrong, right = (Timeline.from_json(t) for t in metrics["timelines"])
    assert plots.timeline_title(wrong).endswith("golden Neutral, predicted Negative, wrong")
    assert plots.timeline_title(right).endswith("right")
    unlabelled = Timeline.of(video="x", golden=None, predict="Positive")
    assert plots.timeline_title(unlabelled).endswith("unlabelled")


def test_confusion_matrix_has_a_none_column():
    metrics, _ = build_report_input()
    counts, columns = plots.confusion_matrix(metrics["confusion"], CLASSES)
    assert columns == [*CLASSES, "none"]
    assert counts.tolist() == [[1, 0, 1, 1], [0, 1, 0, 1], [0, 1, 1, 0]]
    counts, _ = plots.confusion_matrix({}, CLASSES)
    assert counts.sum() == 0


def test_each_emotion_has_one_fixed_distinct_colour():
    colours = [plots.emotion_colour(e) for e in EMOTIONS]
    assert len(set(colours)) == 7
    assert plots.emotion_colour("HAPPY") == plots.emotion_colour("happy", 5)
    # the 7-class mapping colours its classes like the emotions
    assert plots.class_colour("angry") == plots.emotion_colour("angry")


# Machado, Oliveira & Fernandes (2009), severity 1.0, on linear RGB.
CVD = {
    "normal": np.eye(3),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}  # fmt: skip


def seen_lab(colour: str, vision: str) -> np.ndarray:
    """CIELAB (D65) of ``#RRGGBB`` as seen with ``vision``."""
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255
    rgb = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    rgb = np.clip(CVD[vision] @ rgb, 0, 1)
    to_xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                       [0.0193, 0.1192, 0.9505]])  # fmt: skip
    xyz = to_xyz @ rgb / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_class_and_emotion_colours_cannot_be_confused():
    """The per-person figure draws emotions (left) beside classes (right): no colour of
    one may pass for a colour of the other, also for colour-blind readers."""
    emotions = {e: plots.emotion_colour(e) for e in EMOTIONS}
    classes = {c: plots.class_colour(c) for c in CLASSES}
    assert classes == {"Positive": "#E69F00", "Neutral": "#999999", "Negative": "#000000"}
    assert (emotions["sad"], emotions["happy"]) == ("#332288", "#117733")
    assert not set(emotions.values()) & set(classes.values())
    for vision in CVD:
        closest = min(
            float(np.linalg.norm(seen_lab(c, vision) - seen_lab(e, vision)))
            for c in classes.values()
            for e in emotions.values()
        )
        assert closest > 24, vision  # CIELAB units; 2.3 is just noticeable
        among = min(
            float(np.linalg.norm(seen_lab(a, vision) - seen_lab(b, vision)))
            for a in emotions.values()
            for b in emotions.values()
            if a < b
        )
        assert among > 17, vision


def test_every_emotion_colour_stands_out_from_the_white_page():
    """Issue 37: neutral's line was a pale grey (#DDDDDD, 12 CIELAB units from white),
    all but invisible in the timelines; every emotion now stands >= 20 units from white,
    for colour-blind readers too, and neutral is no grey that could pass for Neutral's."""
    assert plots.emotion_colour("neutral") == "#7799DD"
    for vision in CVD:
        for emotion in EMOTIONS:
            colour = plots.emotion_colour(emotion)
            distance = float(np.linalg.norm(seen_lab(colour, vision) - seen_lab("#FFFFFF", vision)))
            assert distance > 20, (emotion, vision)
        neutral = seen_lab(plots.emotion_colour("neutral"), "normal")
        assert abs(neutral[1]) + abs(neutral[2]) > 20  # chroma: a colour, not a grey


def test_select_groups_keeps_those_with_most_clips_in_order():
    groups = [GroupProfile(group=f"g{i}", clips=i % 7) for i in range(70)]
    kept, capped = plots.select_groups(groups, 60)
    assert capped and len(kept) == 60
    dropped = [g for g in groups if g not in kept]
    assert max(g.clips for g in dropped) <= min(g.clips for g in kept)
    assert [g.group for g in kept] == [g.group for g in groups if g in kept]
    assert plots.select_groups(groups[:5], 60) == (groups[:5], False)


def test_capped_profiles_say_so():
    metrics, clips = build_report_input()
    metrics["groups"] = [
        copy.deepcopy(metrics["groups"][0]) | {"group": f"p{i}", "clips": i} for i in range(65)
    ]
    page = render(metrics, clips)
    assert "The figure shows the 60 groups with the most clips, of 65" in page


def test_large_report_is_fast_and_the_clip_table_capped():
    metrics, clips = build_large_input(60, 8, 3000)
    start = time.perf_counter()
    page = render(metrics, clips)
    elapsed = time.perf_counter() - start
    p = parse(page)
    assert len(p.clip_rows) == 2000
    assert (
        "Showing the first 2000 of 3000 clips; the full list is in <code>videos.csv</code>" in page
    )
    assert len(p.img_srcs) == 1 + 1 + 8 + 1
    assert 'id="profiles-capped"' not in page
    assert elapsed < 10, f"rendering took {elapsed:.1f} s"
