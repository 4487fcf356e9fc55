"""Contact sheets drawn from synthetic frames and rows: box colours at hand-computed pixels,
labels, frames without a face, and the frame reader."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

from femo.config import EMOTIONS, ReduceConfig
from femo.results.reduce import frame_emotions
from femo.results.sheets.draw import (
    GAP,
    LINE_H,
    MISSING_TILE,
    NO_FACE_COLOUR,
    OTHER_COLOUR,
    REJECTED_COLOUR,
    SCORED_COLOUR,
    clip_tiles,
    draw_sheet,
    face_label,
    png_bytes,
    spread,
)
from femo.results.sheets.frames import FrameReadError, read_frames

pytestmark = pytest.mark.usefixtures("no_tensorflow")

GREY = (100, 100, 100)


def face_row(frame: int, face: int, box: tuple, top: str, person: str | None = None) -> dict:
    row = {"video": "v.mp4", "frame": frame, "time_s": frame / 25.0, "face": face}
    row.update(dict(zip("xywh", box, strict=True)))
    row.update({e: 0.6 if e == top else 0.4 / 6 for e in EMOTIONS})
    row.update(detector_confidence=None, person=person)
    return row


def no_face_row(frame: int) -> dict:
    return {"video": "v.mp4", "frame": frame, "time_s": frame / 25.0, "face": None}


def rows() -> pd.DataFrame:
    """Frame 0: a small happy face 0 and a large angry face 1; frame 5: no face;
    frame 10: one sad face (bob's)."""
    return pd.DataFrame(
        [
            face_row(0, 0, (40, 60, 80, 80), "happy"),
            face_row(0, 1, (200, 40, 160, 120), "angry"),
            no_face_row(5),
            face_row(10, 0, (100, 50, 100, 100), "sad", person="bob"),
        ],
        columns=["video", "frame", "time_s", "face", *"xywh", *EMOTIONS, "person"],
    )


def images(frames=(0, 5, 10)) -> dict[int, np.ndarray]:
    return {k: np.full((200, 400, 3), GREY, np.uint8) for k in frames}


def sheet(face: str = "first", frames=(0, 5, 10)):
    r = rows()
    tiles = clip_tiles(r, frame_emotions(r, ReduceConfig(face=face)), images(frames))
    return draw_sheet(tiles, ["v.mp4"], tile_width=200)


# One title line: tiles start at y = GAP + LINE_H + GAP = 24; x = 4, 208, 412. The frames
# are 400x200, the tiles 200x100: every coordinate halves.
TOP = GAP + LINE_H + GAP


def test_sheet_size_and_tiles():
    image, layout = sheet()
    assert (layout["width"], layout["height"]) == (3 * 200 + 4 * GAP, TOP + 100 + LINE_H + GAP)
    assert image.shape == (layout["height"], layout["width"], 3)
    assert [t["frame"] for t in layout["tiles"]] == [0, 5, 10]
    assert [t["origin"] for t in layout["tiles"]] == [[4, TOP], [208, TOP], [412, TOP]]
    assert [t["caption"] for t in layout["tiles"]] == ["#0 0.00s", "#5 0.20s", "#10 0.40s"]


def test_first_face_is_scored_in_green_the_other_in_amber():
    image, layout = sheet("first")
    small, large = layout["tiles"][0]["boxes"]
    keys = ("face", "rect", "scored", "label", "label_lines")
    # face 0 at (40, 60, 80, 80) -> (20, 30)-(59, 69) in the tile
    assert {k: small[k] for k in keys} == {"face": 0, "rect": [24, TOP + 30, 63, TOP + 69],
                     "scored": True, "label": "happy 0.60", "label_lines": ["happy 0.60"]}  # fmt: skip
    assert {k: large[k] for k in keys} == {"face": 1, "rect": [104, TOP + 20, 183, TOP + 79],
                     "scored": False, "label": None, "label_lines": []}  # fmt: skip
    assert tuple(image[TOP + 50, 24]) == SCORED_COLOUR  # left edge of face 0
    assert tuple(image[TOP + 69, 40]) == SCORED_COLOUR  # bottom edge
    assert tuple(image[TOP + 50, 104]) == OTHER_COLOUR  # left edge of face 1
    assert tuple(image[TOP + 79, 140]) == OTHER_COLOUR
    assert tuple(image[TOP + 50, 40]) == GREY  # inside the box: the frame itself
    assert "happy 0.60" in layout["texts"] and "angry 0.60" not in layout["texts"]


def test_largest_face_is_scored_under_reduce_face_largest():
    image, layout = sheet("largest")
    small, large = layout["tiles"][0]["boxes"]
    assert (small["scored"], large["scored"]) == (False, True)
    assert large["label"] == "angry 0.60"
    assert tuple(image[TOP + 50, 24]) == OTHER_COLOUR
    assert tuple(image[TOP + 50, 104]) == SCORED_COLOUR


def test_frame_without_a_face_is_marked():
    image, layout = sheet()
    tile = layout["tiles"][1]
    assert tile["marks"] == ["no face"] and tile["boxes"] == []
    assert "no face" in layout["texts"]
    assert tuple(image[TOP + 50, 208]) == NO_FACE_COLOUR  # the tile's red frame
    assert tuple(image[TOP + 50, 208 + 10]) == GREY


def test_person_is_in_the_label_when_known():
    _, layout = sheet()
    (box,) = layout["tiles"][2]["boxes"]
    assert box["label"] == "sad 0.60 bob" == face_label("sad", 0.6, "bob")
    assert box["rect"] == [412 + 50, TOP + 25, 412 + 99, TOP + 74]


def test_a_frame_not_read_again_is_a_grey_tile():
    image, layout = sheet(frames=(0, 5))
    tile = layout["tiles"][2]
    assert tile["marks"] == ["not read"] and tile["caption"] == "#10 0.40s (not read)"
    assert tile["boxes"] == []
    assert tuple(image[TOP + 90, 412 + 190]) == MISSING_TILE


def rejected_rows() -> pd.DataFrame:
    """What the face check rejected: beside face 1 in frame 0 (numbered after the two
    kept ones) and the only box of frame 5, whose frame row has no face."""
    return pd.DataFrame(
        [
            {"frame": 0, "face": 2, "x": 300, "y": 100, "w": 80, "h": 60, "face_check": 0.004,
             "message": "not a face to the face mesh (presence 0.004 < 0.05)"},
            {"frame": 5, "face": 0, "x": 40, "y": 60, "w": 80, "h": 80, "face_check": 0.01,
             "message": "not a face to the face mesh (presence 0.01 < 0.05)"},
        ]
    )  # fmt: skip


def test_rejected_boxes_are_dashed_with_their_presence():
    r = rows()
    tiles = clip_tiles(r, frame_emotions(r, ReduceConfig()), images(), rejected_rows())
    image, layout = draw_sheet(tiles, ["v.mp4"], tile_width=200)
    first, blank = layout["tiles"][0], layout["tiles"][1]
    # Frame 0 keeps its two faces, face 0 scored; the rejected box comes after them.
    assert [(b["face"], b["scored"], b.get("rejected")) for b in first["boxes"]] == [
        (0, True, None), (1, False, None),
        (2, False, "not a face to the face mesh (presence 0.004 < 0.05)")]  # fmt: skip
    # (300, 100, 80, 60) -> (150, 50)-(189, 79) in the tile, drawn in 5 px dashes.
    assert first["boxes"][2]["rect"] == [154, TOP + 50, 193, TOP + 79]
    assert first["boxes"][2]["label"] == "not a face 0.00"
    top_edge = [tuple(image[TOP + 50, x]) for x in range(154, 194)]
    assert top_edge[0:6] == [REJECTED_COLOUR] * 6 and top_edge[7:10] == [GREY] * 3
    assert top_edge[10:16] == [REJECTED_COLOUR] * 6
    assert tuple(image[TOP + 65, 193]) in (REJECTED_COLOUR, GREY)  # right edge, dashed
    # A frame whose only box was rejected has no face: its red frame, its dashed box.
    assert blank["marks"] == ["no face"] and blank["caption"] == "#5 0.20s"
    assert [b["label"] for b in blank["boxes"]] == ["not a face 0.01"]
    assert tuple(image[TOP + 50, 208]) == NO_FACE_COLOUR
    assert tuple(image[TOP + 30, 208 + 20]) == REJECTED_COLOUR  # its top-left corner


def test_faces_without_scores_are_drawn_but_none_is_scored():
    r = rows()
    r.loc[r["frame"] == 10, list(EMOTIONS)] = None  # an empty crop: not classified
    tiles = clip_tiles(r, frame_emotions(r, ReduceConfig()), images())
    _, layout = draw_sheet(tiles, ["v.mp4"], tile_width=200)
    tile = layout["tiles"][2]
    assert [b["scored"] for b in tile["boxes"]] == [False]
    assert tile["caption"] == "#10 0.40s (no face scored)"


def test_png_and_columns():
    r = rows()
    tiles = clip_tiles(r, frame_emotions(r, ReduceConfig()), images())
    image, layout = draw_sheet(tiles, ["a", "b"], tile_width=100, columns=2)
    assert (layout["width"], layout["height"]) == (
        2 * 100 + 3 * GAP,
        GAP + 2 * LINE_H + 2 * (50 + LINE_H + GAP) + GAP,
    )
    decoded = cv2.imdecode(np.frombuffer(png_bytes(image), np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(decoded, image)


@pytest.mark.parametrize(
    ("n", "limit", "expected"),
    [(10, 4, [0, 3, 6, 9]), (3, 5, [0, 1, 2]), (5, 1, [0]), (0, 4, [])],
)
def test_spread(n, limit, expected):
    assert spread(n, limit) == expected


# ----------------------------------------------------------------- reader


def write_clip(path, n: int = 12) -> None:
    """Frame k is a flat grey of value 20 k (MJPG keeps flat frames within a few levels)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    for k in range(n):
        writer.write(np.full((48, 64, 3), 20 * k, np.uint8))
    writer.release()


def test_read_frames_by_index(tmp_path):
    clip = tmp_path / "c.avi"
    write_clip(clip)
    frames = read_frames(clip, "video", [9, 0, 3, 50])
    assert sorted(frames) == [0, 3, 9]  # 50 is past the end
    assert [round(float(frames[k].mean()) / 20) for k in (0, 3, 9)] == [0, 3, 9]


def test_read_an_image(tmp_path):
    image = tmp_path / "i.png"
    cv2.imwrite(str(image), np.full((8, 8, 3), 7, np.uint8))
    assert read_frames(image, "image", [0])[0].shape == (8, 8, 3)


@pytest.mark.parametrize(
    ("content", "kind", "why"),
    [(None, "video", "file not found"), (b"not a video", "video", "cannot be opened as a video"),
     (b"not an image", "image", "cannot be read as an image")],
)  # fmt: skip
def test_read_frames_errors(tmp_path, content, kind, why):
    path = tmp_path / ("x.mp4" if kind == "video" else "x.jpg")
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(FrameReadError) as err:
        read_frames(path, kind, [0])
    assert str(err.value) == f"{path}: {why}"


def test_a_single_tile_sheet_is_as_wide_as_its_title():
    r = rows()
    r = r[r["frame"] == 5]
    title = ["a title much longer than one tile of a hundred pixels is wide"]
    tiles = clip_tiles(r, frame_emotions(r, ReduceConfig()), images())
    _, layout = draw_sheet(tiles, title, 100, columns=1)
    (tw, _), _ = cv2.getTextSize(title[0], cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
    assert tw > 100 + 2 * GAP
    assert layout["width"] == tw + 2 * GAP + 4


def test_a_single_still_is_a_full_row_wide_up_to_its_own_width():
    """A wide shot alone on its sheet: at a 240 px tile its 40-px faces were 5 px."""
    r = rows()
    r = r[r["frame"] == 5]
    tiles = clip_tiles(r, frame_emotions(r, ReduceConfig()), images())
    _, layout = draw_sheet(tiles, ["v.jpg"], 50)  # 6 columns of 50: 300 px of the 400
    assert layout["width"] == 300 + 2 * GAP
    _, layout = draw_sheet(tiles, ["v.jpg"], 100)  # 600 px: the frame's own 400
    assert layout["width"] == 400 + 2 * GAP


@pytest.mark.parametrize(
    ("person", "wrapped"),
    [("Rubens_Barrichello", False), ("Rubens_Barrichello_Filho_da_Silva_Junior", True)],
)
def test_a_long_name_at_the_tile_edge_shrinks_or_wraps_and_is_never_cut(person, wrapped):
    """lfw-expressions' "Rubens_Barrichello" showed as "Rubens_Ba" on a 160 px tile."""
    r = pd.DataFrame(
        [face_row(0, 0, (330, 80, 60, 60), "happy", person=person)],
        columns=["video", "frame", "time_s", "face", *"xywh", *EMOTIONS, "person"],
    )
    tiles = clip_tiles(r, frame_emotions(r, ReduceConfig()), images((0,)))
    image, layout = draw_sheet(tiles, ["v.mp4"], tile_width=160, columns=1)
    (tile,) = layout["tiles"]
    (box,) = tile["boxes"]
    assert box["label"] == f"happy 0.60 {person}"
    # Every character of the label is drawn, in order, on one line or several ...
    assert "".join(box["label_lines"]).replace(" ", "") == box["label"].replace(" ", "")
    # moved left and smaller on one line; or, too long for 160 px at any readable size, wrapped
    assert (len(box["label_lines"]) > 1) == wrapped
    # ... and every line lies inside its tile.
    (x0, y0), (w, h) = tile["origin"], tile["size"]
    for left, top, right, bottom in box["label_rects"]:
        assert x0 <= left and right < x0 + w and y0 <= top and bottom < y0 + h
        assert tuple(image[(top + bottom) // 2, left + 1]) == SCORED_COLOUR  # its green box
