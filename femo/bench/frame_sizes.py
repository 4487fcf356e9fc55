"""The preset detector at each frame size: the dev clips' 256 px, 720p and 1080p.

The 720p and 1080p clips are made once (kept in the bench's media cache) from the
``face-sizes`` wide shots of that size, each still held for ``HOLD`` frames, so every
frame's faces have their annotated boxes: a row gives the preset's frames/s at every
frame, the annotated faces it finds (IoU >= 0.3, as ``scripts/face_sizes_recall.py``
counts them) and the smallest face it finds, in pixels and as a share of the width.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .cases import Case, MediaSet, measure

HOLD = 5
IOU_FOUND = 0.3
PRESET = "blazeface"


@dataclass(frozen=True)
class SizedClip:
    """One frame size's clip and, where made from annotated stills, each frame's faces."""

    name: str
    media: MediaSet
    width: int
    truth: tuple[np.ndarray, ...] | None = None  # per frame: (n, 4) x, y, w, h


def made_clip(stills: list[Path], boxes: dict[str, np.ndarray], out: Path) -> SizedClip:
    """The stills, each held ``HOLD`` frames, as an MPEG-4 clip at 25 fps (made once)."""
    import cv2

    first = cv2.imread(str(stills[0]))
    height, width = first.shape[:2]
    if not out.is_file():
        tmp = out.with_suffix(".partial.mp4")
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (width, height))
        for still in stills:
            image = cv2.imread(str(still))
            for _ in range(HOLD):
                writer.write(image)
        writer.release()
        tmp.rename(out)
    truth = tuple(boxes[s.name] for s in stills for _ in range(HOLD))
    media = MediaSet(f"{height}p", str(out.parent), (out.name,))
    return SizedClip(f"{height}p", media, width, truth)


def sized_clips(data_dir: Path, media_dir: Path) -> list[SizedClip]:
    """A dev clip (256 px) and clips made from face-sizes' 1280- and 1920-px wide shots."""
    import cv2
    import pandas as pd

    clips = []
    dev = sorted((data_dir / "dev-clips").glob("*.mp4"))
    if dev:
        media = MediaSet("256px", str(dev[0].parent), (dev[0].name,))
        width = int(cv2.VideoCapture(str(dev[0])).get(cv2.CAP_PROP_FRAME_WIDTH))
        clips.append(SizedClip(media.name, media, width))
    root = data_dir / "face-sizes"
    if not (root / "boxes.csv").is_file():
        return clips
    table = pd.read_csv(root / "boxes.csv")
    boxes = {
        image: rows[["x", "y", "w", "h"]].to_numpy(float) for image, rows in table.groupby("image")
    }
    by_width: dict[int, list[Path]] = {}
    for still in sorted((root / "images").glob("wide-*.jpg")):
        by_width.setdefault(cv2.imread(str(still)).shape[1], []).append(still)
    for width in sorted(by_width):
        stills = by_width[width]
        clips.append(made_clip(stills, boxes, media_dir / f"face-sizes-{width}.mp4"))
    return clips


def found_faces(truth: np.ndarray, boxes: np.ndarray) -> int:
    """How many truth boxes (n, 4: x, y, w, h) a found box overlaps with IoU >= 0.3."""
    if not len(truth) or not len(boxes):
        return 0
    t0, t1 = truth[:, None, :2], truth[:, None, :2] + truth[:, None, 2:]
    b0, b1 = boxes[None, :, :2], boxes[None, :, :2] + boxes[None, :, 2:]
    inter = np.clip(np.minimum(t1, b1) - np.maximum(t0, b0), 0, None).prod(axis=2)
    union = truth[:, None, 2:].prod(axis=2) + boxes[None, :, 2:].prod(axis=2) - inter
    return int(((inter / union) >= IOU_FOUND).any(axis=1).sum())


def size_row(clip: SizedClip, shard: str) -> dict[str, Any]:
    """Faces found in a shard of ``clip`` and the smallest, against its annotations."""
    import pyarrow.parquet as pq

    rows = pq.read_table(shard, columns=["kind", "frame", "face", "x", "y", "w", "h"]).to_pandas()
    rows = rows[rows.kind == "frame"]
    faces = rows[rows.face.notna()]
    row: dict[str, Any] = {"faces": len(faces)}
    if len(faces):
        smallest = int(faces.w.min())
        row["smallest_face_px"] = smallest
        row["smallest_face_share"] = round(smallest / clip.width, 4)
    if clip.truth is not None:
        frames = sorted({int(f) for f in rows.frame})
        by_frame = {
            int(f): g[["x", "y", "w", "h"]].to_numpy(float) for f, g in faces.groupby("frame")
        }
        row["annotated"] = int(sum(len(clip.truth[f]) for f in frames))
        row["annotated_found"] = sum(
            found_faces(clip.truth[f], by_frame.get(f, np.zeros((0, 4)))) for f in frames
        )
    return row


def frame_size_bench(
    data_dir: Path, media_dir: Path, work_dir: Path, max_frames: int | None = None
) -> list[dict[str, Any]]:
    """The preset at every frame of each frame size's clip (the first ``max_frames``):
    frames/s and faces found."""
    from ..config import ClassifierConfig

    rows = []
    for clip in sized_clips(data_dir, media_dir):
        case = Case("femo", clip.media, PRESET, 1, max_frames, backend=ClassifierConfig().backend)
        measured = measure(case, work_dir)
        row = {
            "size": clip.name,
            "width": clip.width,
            "frames": measured.frames,
            "frames_per_s": round(measured.frames_per_s, 1),
            **size_row(clip, measured.extra["shard"]),
        }
        rows.append(row)
    return rows


def format_size_row(row: dict[str, Any]) -> str:
    """One line of the frame-size table: frames/s, faces found, the smallest."""
    found = f"{row['faces']} faces"
    if "annotated" in row:
        found += f", {row['annotated_found']} of {row['annotated']} annotated found"
    smallest = ""
    if "smallest_face_px" in row:
        share = 100 * row["smallest_face_share"]
        smallest = f"; smallest {row['smallest_face_px']} px ({share:.1f} % of the width)"
    return (
        f"{PRESET} preset at {row['size']} ({row['width']} px wide), every frame: "
        f"{row['frames_per_s']:.1f} frames/s, {found}{smallest}"
    )
