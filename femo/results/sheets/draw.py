"""Contact sheets: a clip's sampled frames in a grid, every face box drawn, the scored one
marked. Pure: images and rows in, an image and a description of what was drawn out.

Which face was scored is not decided here: it comes from
:func:`femo.results.reduce.frame_emotions` (``reduce.face``), the code the vote uses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import pandas as pd

# BGR, as OpenCV draws.
SCORED_COLOUR = (0, 200, 0)  # green: the face the vote used
OTHER_COLOUR = (0, 200, 255)  # amber: any other face found
NO_FACE_COLOUR = (40, 40, 220)  # red: a sampled frame without a face
REJECTED_COLOUR = (200, 200, 200)  # light grey, dashed: a box the face check rejected
BACKGROUND = (38, 38, 38)
MISSING_TILE = (90, 90, 90)  # a frame that could not be read again
TEXT_COLOUR = (235, 235, 235)
FONT = cv2.FONT_HERSHEY_SIMPLEX
FONT_SCALE = 0.4
MIN_FONT_SCALE = 0.3  # a face's label shrinks to this, then wraps, to fit its tile
LINE_H = 16  # pixels per line of text (caption, title)
GAP = 4
SCORED_THICKNESS = 2
OTHER_THICKNESS = 1
DASH = 5  # pixels per dash (and per gap) of a rejected box


@dataclass(frozen=True)
class TileFace:
    """One face box of a frame, in the frame's pixels."""

    face: int
    x: int
    y: int
    w: int
    h: int
    scored: bool
    label: str | None = None
    # Why the face check (detector.verify) rejected the box; None for a kept face.
    rejected: str | None = None


@dataclass(frozen=True)
class Tile:
    """One sampled frame: its image (None: not read again) and its faces."""

    frame: int
    time_s: float | None
    image: np.ndarray | None
    faces: tuple[TileFace, ...]


def _ascii(text: str) -> str:
    """OpenCV's Hershey fonts draw ASCII only."""
    return text.encode("ascii", "replace").decode("ascii")


def face_label(emotion: str, score: float, person: str | None = None) -> str:
    """The scored face's label: top emotion, its score, and whose face when known."""
    label = f"{emotion} {score:.2f}"
    return f"{label} {person}" if person else label


def rejected_label(face_check: float | None) -> str:
    """A rejected box's label: the face check's presence score."""
    return (
        "not a face"
        if face_check is None or pd.isna(face_check)
        else f"not a face {face_check:.2f}"
    )


def _rejected_faces(rejected: pd.DataFrame | None) -> dict[int, list[TileFace]]:
    """The boxes the face check rejected, by frame."""
    out: dict[int, list[TileFace]] = {}
    if rejected is None:
        return out
    for _, r in rejected.sort_values(["frame", "face"]).iterrows():
        box = (int(r[c]) for c in ("x", "y", "w", "h"))
        reason = r["message"] if isinstance(r.get("message"), str) else "rejected"
        label = rejected_label(r.get("face_check"))
        face = TileFace(int(r["face"]), *box, scored=False, label=label, rejected=reason)
        out.setdefault(int(r["frame"]), []).append(face)
    return out


def clip_tiles(
    rows: pd.DataFrame,
    scored: pd.DataFrame,
    images: Mapping[int, np.ndarray],
    rejected: pd.DataFrame | None = None,
) -> list[Tile]:
    """The tiles of one clip, in frame order.

    ``rows`` are the clip's frame rows (``frame``, ``time_s``, ``face``, ``x``, ``y``,
    ``w``, ``h``; a row with a null ``face`` is a frame without one; an optional
    ``person`` column names whose face it is); ``scored`` is ``frame_emotions`` of those
    rows (``frame``, ``face``, ``emotion`` and the 7 scores); ``images`` the frames read
    again, by index; ``rejected`` the clip's ``kind == "rejected"`` rows (the same box
    columns, ``face_check`` and ``message``), drawn dashed.
    """
    dropped = _rejected_faces(rejected)
    chosen = {
        int(r.frame): (int(r.face), str(r.emotion), float(getattr(r, r.emotion)))
        for r in scored.itertuples(index=False)
    }
    has_person = "person" in rows.columns
    tiles = []
    for frame, group in rows.sort_values(["frame", "face"]).groupby("frame", sort=True):
        faces = []
        for _, r in group[group["face"].notna()].iterrows():
            face = int(r["face"])
            person = r["person"] if has_person and isinstance(r["person"], str) else None
            pick = chosen.get(int(frame))
            is_scored = pick is not None and pick[0] == face
            label = face_label(pick[1], pick[2], person) if is_scored else person
            box = (int(r[c]) for c in ("x", "y", "w", "h"))
            faces.append(TileFace(face, *box, scored=is_scored, label=label))
        faces += dropped.get(int(frame), [])
        time_s = group["time_s"].iloc[0]
        tiles.append(
            Tile(
                int(frame),
                None if pd.isna(time_s) else float(time_s),
                images.get(int(frame)),
                tuple(faces),
            )
        )
    return tiles


def _text(img: np.ndarray, text: str, x: int, y: int, colour=TEXT_COLOUR) -> None:
    cv2.putText(img, _ascii(text), (x, y), FONT, FONT_SCALE, colour, 1, cv2.LINE_AA)


def _width(text: str, scale: float) -> int:
    return cv2.getTextSize(_ascii(text), FONT, scale, 1)[0][0]


def _break(word: str, room: int, scale: float) -> list[str]:
    """``word`` in pieces that each fit ``room`` pixels (at least one character each)."""
    pieces, piece = [], ""
    for ch in word:
        if piece and _width(piece + ch, scale) > room:
            pieces.append(piece)
            piece = ""
        piece += ch
    return [*pieces, piece] if piece else pieces


def fit_label(text: str, room: int) -> tuple[list[str], float]:
    """The lines and font scale that show all of ``text`` within ``room`` pixels: the
    usual size if it fits, else smaller (down to MIN_FONT_SCALE), else wrapped at spaces,
    a word longer than the room broken where it must. Never cut."""
    scale = FONT_SCALE
    while _width(text, scale) > room and scale > MIN_FONT_SCALE + 1e-9:
        scale = round(scale - 0.05, 2)
    if _width(text, scale) <= room:
        return [text], scale
    lines: list[str] = []
    for word in text.split(" "):
        joined = f"{lines[-1]} {word}" if lines else word
        if lines and _width(joined, scale) <= room:
            lines[-1] = joined
        else:
            lines += _break(word, room, scale)
    return lines, scale


def _label(
    canvas: np.ndarray, text: str, x0: int, y0: int, colour: tuple
) -> list[tuple[str, list[int]]]:
    """``text`` on a box of ``colour`` just above (x0, y0), or just inside when there is
    no room above; moved left, smaller or wrapped to stay whole inside the tile. Returns
    each line drawn and its box ``[x0, y0, x1, y1]`` (inclusive) in the tile's pixels."""
    width = canvas.shape[1]
    lines, scale = fit_label(text, width - 6)
    sizes = [cv2.getTextSize(_ascii(line), FONT, scale, 1) for line in lines]
    line_h = max(th + base for (_, th), base in sizes) + 2
    top = y0 - line_h * len(lines) - 1
    if top < 0:
        top = y0 + SCORED_THICKNESS + 1
        x0 += SCORED_THICKNESS + 1
    rects = []
    for k, (line, ((tw, _), base)) in enumerate(zip(lines, sizes, strict=True)):
        left = max(0, min(x0, width - tw - 4))
        upper = top + k * line_h
        cv2.rectangle(canvas, (left, upper), (left + tw + 3, upper + line_h), colour, cv2.FILLED)
        cv2.putText(canvas, _ascii(line), (left + 2, upper + line_h - base - 1), FONT, scale,
                    (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip
        rects.append((line, [left, upper, left + tw + 3, upper + line_h]))
    return rects


def _caption(tile: Tile) -> str:
    when = "" if tile.time_s is None else f" {tile.time_s:.2f}s"
    caption = f"#{tile.frame}{when}"
    if tile.image is None:
        return caption + " (not read)"
    kept = [f for f in tile.faces if f.rejected is None]
    if kept and not any(f.scored for f in kept):
        return caption + " (no face scored)"
    return caption


def _dashed_rectangle(canvas: np.ndarray, x0: int, y0: int, x1: int, y1: int, colour) -> None:
    """A one-pixel rectangle drawn in dashes (OpenCV draws only solid ones)."""
    for a, b in (((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)),
                 ((x0, y1), (x0, y0))):  # fmt: skip
        length = max(abs(b[0] - a[0]), abs(b[1] - a[1]))
        for start in range(0, length + 1, 2 * DASH):
            end = min(start + DASH, length)
            p = (a[0] + (b[0] - a[0]) * start // max(length, 1),
                 a[1] + (b[1] - a[1]) * start // max(length, 1))  # fmt: skip
            q = (a[0] + (b[0] - a[0]) * end // max(length, 1),
                 a[1] + (b[1] - a[1]) * end // max(length, 1))  # fmt: skip
            cv2.line(canvas, p, q, colour, 1)


def _draw_tile(tile: Tile, width: int, height: int) -> tuple[np.ndarray, list[dict], list[str]]:
    """One tile (image over a caption line) and the boxes drawn on it, in its pixels."""
    canvas = np.full((height + LINE_H, width, 3), BACKGROUND, np.uint8)
    marks: list[str] = []
    boxes: list[dict] = []
    if tile.image is None:
        canvas[:height] = MISSING_TILE
        marks.append("not read")
        _text(canvas, "frame not read", 6, height // 2)
    else:
        src_h, src_w = tile.image.shape[:2]
        image = tile.image if tile.image.ndim == 3 else cv2.cvtColor(tile.image, cv2.COLOR_GRAY2BGR)
        canvas[:height] = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        sx, sy = width / src_w, height / src_h
        # Rejected boxes first, the scored face last, so that its box is on top.
        for f in sorted(tile.faces, key=lambda f: (f.rejected is None, f.scored, f.face)):
            x0, y0 = round(f.x * sx), round(f.y * sy)
            x1, y1 = round((f.x + f.w) * sx) - 1, round((f.y + f.h) * sy) - 1
            if f.rejected is not None:
                colour = REJECTED_COLOUR
                _dashed_rectangle(canvas, x0, y0, x1, y1, colour)
            else:
                colour = SCORED_COLOUR if f.scored else OTHER_COLOUR
                thickness = SCORED_THICKNESS if f.scored else OTHER_THICKNESS
                cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, thickness)
            drawn = _label(canvas, f.label, x0, y0, colour) if f.label else []
            box = {
                "face": f.face,
                "rect": [x0, y0, x1, y1],
                "scored": f.scored,
                "label": f.label,
                "label_lines": [line for line, _ in drawn],
                "label_rects": [rect for _, rect in drawn],
            }
            if f.rejected is not None:
                box["rejected"] = f.rejected
            boxes.append(box)
        if not any(f.rejected is None for f in tile.faces):
            marks.append("no face")
            cv2.rectangle(canvas, (0, 0), (width - 1, height - 1), NO_FACE_COLOUR, 3)
            (tw, th), _ = cv2.getTextSize("no face", FONT, FONT_SCALE, 1)
            x, y = (width - tw) // 2, (height + th) // 2
            cv2.rectangle(canvas, (x - 4, y - th - 4), (x + tw + 4, y + 5), NO_FACE_COLOUR, -1)
            _text(canvas, "no face", x, y)
    caption = _caption(tile)
    _text(canvas, caption, 4, height + LINE_H - 4)
    return (
        canvas,
        sorted(boxes, key=lambda b: (b.get("rejected") is not None, b["face"])),
        [
            caption,
            *marks,
        ],
    )


def tile_size(tiles: Sequence[Tile], tile_width: int, columns: int = 6) -> tuple[int, int]:
    """Width and image height of every tile: the first readable frame's aspect ratio
    (16:9 when none was read). One tile alone (a still) is a full row wide, up to the
    frame's own width: a wide shot's small faces stay visible."""
    first = next((t.image for t in tiles if t.image is not None), None)
    ratio = 9 / 16 if first is None else first.shape[0] / first.shape[1]
    if first is not None and len(tiles) == 1:
        tile_width = max(tile_width, min(first.shape[1], columns * tile_width))
    return tile_width, max(1, round(tile_width * ratio))


def draw_sheet(
    tiles: Sequence[Tile], title: Sequence[str], tile_width: int = 240, columns: int = 6
) -> tuple[np.ndarray, dict[str, Any]]:
    """The contact sheet (BGR) and its layout: the sheet's size, the title lines, and per
    tile its frame, origin, caption, marks (``no face``, ``not read``) and boxes, each box
    as ``[x0, y0, x1, y1]`` in the sheet's pixels (inclusive), whether it was scored,
    its label and the boxes of the label's lines; ``texts`` lists every string drawn."""
    width, height = tile_size(tiles, tile_width, columns)
    cols = max(1, min(columns, len(tiles)))
    rows = math.ceil(len(tiles) / cols) if tiles else 0
    head = GAP + LINE_H * len(title)
    texts = [_ascii(t) for t in title]
    widest = max((cv2.getTextSize(t, FONT, FONT_SCALE, 1)[0][0] for t in texts), default=0)
    # As wide as the grid, or the title (one image alone is narrower than its title).
    sheet_w = max(cols * width + (cols + 1) * GAP, widest + 2 * GAP + 4)
    sheet_h = head + rows * (height + LINE_H + GAP) + GAP
    sheet = np.full((sheet_h, sheet_w, 3), BACKGROUND, np.uint8)
    for k, line in enumerate(texts):
        _text(sheet, line, GAP + 2, GAP + LINE_H * (k + 1) - 4)
    layout_tiles = []
    for k, tile in enumerate(tiles):
        ox = GAP + (k % cols) * (width + GAP)
        oy = head + GAP + (k // cols) * (height + LINE_H + GAP)
        canvas, boxes, drawn = _draw_tile(tile, width, height)
        sheet[oy : oy + canvas.shape[0], ox : ox + width] = canvas
        for b in boxes:
            b["rect"] = [b["rect"][0] + ox, b["rect"][1] + oy, b["rect"][2] + ox, b["rect"][3] + oy]
            b["label_rects"] = [
                [r[0] + ox, r[1] + oy, r[2] + ox, r[3] + oy] for r in b["label_rects"]
            ]
            if b["label"]:
                texts.append(_ascii(b["label"]))
        texts += drawn
        layout_tiles.append(
            {
                "frame": tile.frame,
                "time_s": tile.time_s,
                "origin": [ox, oy],
                "size": [width, height],
                "caption": drawn[0],
                "marks": drawn[1:],
                "boxes": boxes,
            }
        )
    layout = {"width": sheet_w, "height": sheet_h, "title": texts[: len(title)]}
    layout.update({"tiles": layout_tiles, "texts": texts})
    return sheet, layout


def png_bytes(image: np.ndarray) -> bytes:
    """``image`` (BGR) as PNG."""
    # The strongest zlib level: under half OpenCV's default size, for photos, in the page.
    ok, buffer = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:  # pragma: no cover - only for an empty image
        raise ValueError("the sheet could not be encoded as PNG")
    return buffer.tobytes()


def spread(n: int, limit: int) -> list[int]:
    """Up to ``limit`` positions of ``n``, evenly spread, first and last included."""
    if n <= limit:
        return list(range(n))
    if limit == 1:
        return [0]
    return sorted({round(k * (n - 1) / (limit - 1)) for k in range(limit)})
