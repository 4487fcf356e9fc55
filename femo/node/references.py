"""Reference photos (``dataset.references=DIR``, ``DIR/<person>/*.jpg|png``) to embeddings.

Computed when a run is planned into ``RUN_DIR/references.parquet`` (person, photo, box,
a small crop of the face for the report, embedding), so that the reduce side matches
faces to people without dlib; ``femo reduce RUN dataset.references=DIR`` computes the
same table for a run that holds embeddings.

A photo's faces are found by BlazeFace (short-range, the back-camera model where it
finds none: the best detector femo has; dlib's HOG detector misses faces it finds) and
embedded from their boxes exactly as a run's faces are (dlib's 5-point landmarks
from the box, then its ResNet). A photo with no face is skipped with a warning; of a
photo with several, the face that matches the person's one-face photos is taken where
exactly one does, else it is skipped too. A person left with no usable photo is refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa

from ..config import BlazeFaceConfig, ConfigError
from ..shard_files import write_table
from .identity import SAME_PERSON, Embedder

log = logging.getLogger(__name__)

# The detector that finds reference faces: the detector=blazeface preset, without its face check.
DETECTOR = BlazeFaceConfig(model="short/back", min_face=None, verify="none")
# The side of the face crops kept for the report, in pixels.
CROP_SIZE = 64
# A black border around each photo, this share of its longer side: BlazeFace looks for
# faces with some frame around them, and on a tight portrait crop (LFW's) it can give
# two overlapping boxes on the one face that fills the photo.
BORDER = 0.25

SCHEMA = pa.schema(
    [
        pa.field("person", pa.string(), nullable=False),
        pa.field("photo", pa.string(), nullable=False),
        pa.field("x", pa.int32(), nullable=False),
        pa.field("y", pa.int32(), nullable=False),
        pa.field("w", pa.int32(), nullable=False),
        pa.field("h", pa.int32(), nullable=False),
        pa.field("crop", pa.binary(), nullable=False),  # PNG, CROP_SIZE a side
        pa.field("embedding", pa.list_(pa.float32()), nullable=False),
    ]
)

Box = tuple[int, int, int, int]


@dataclass
class Candidates:
    """The faces found in one reference photo and their embeddings."""

    person: str
    path: Path
    rgb: np.ndarray
    boxes: list[Box]
    embeddings: list[np.ndarray]


def reference_photos(folder: str, extensions: tuple[str, ...]) -> dict[str, list[Path]]:
    """Each person (a subfolder's name) and their photos, sorted; a person without photos
    or a folder without persons is refused."""
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"dataset.references {root} is not a folder")
    photos: dict[str, list[Path]] = {}
    for person in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(
            f for f in person.iterdir() if f.is_file() and f.suffix.lower() in extensions
        )
        if not files:
            raise ConfigError(f"dataset.references: {person} holds no photo")
        photos[person.name] = files
    if not photos:
        raise ConfigError(f"dataset.references {root} holds no person folder (DIR/<person>/*.jpg)")
    return photos


def choose_face(
    embeddings: list[np.ndarray], others: list[np.ndarray], distance: float = SAME_PERSON
) -> int | None:
    """Which of a photo's faces is its person's: the index of the only face whose median
    distance to ``others`` (the person's one-face photos) is under ``distance``; None
    where no face or more than one is, or there is nothing to compare with.

    A photo with one face is that face.
    """
    if len(embeddings) == 1:
        return 0
    if not embeddings or not others:
        return None
    d = np.linalg.norm(np.asarray(embeddings)[:, None, :] - np.asarray(others)[None], axis=2)
    close = np.flatnonzero(np.median(d, axis=1) < distance)
    return int(close[0]) if len(close) == 1 else None


def _skip_reason(photo: Candidates, others: list[np.ndarray]) -> str:
    if not photo.boxes:
        return "shows no face"
    if not others:
        return (
            f"shows {len(photo.boxes)} faces and no other photo of {photo.person} shows "
            "one face alone to tell which is theirs"
        )
    return (
        f"shows {len(photo.boxes)} faces and not exactly one matches {photo.person}'s other photos"
    )


def crop_png(rgb: np.ndarray, box: Box, size: int = CROP_SIZE) -> bytes:
    """The face's box as a ``size``-pixel square PNG (the box squared, kept in the photo)."""
    x, y, w, h = box
    side = max(w, h)
    cx, cy = x + w // 2, y + h // 2
    top, left = max(0, cy - side // 2), max(0, cx - side // 2)
    face = rgb[top : top + side, left : left + side]
    small = cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)
    ok, png = cv2.imencode(".png", cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
    return png.tobytes()


def photo_faces(image_bgr: np.ndarray, detector: object, border: float = BORDER) -> list[Box]:
    """The faces ``detector`` finds in a photo framed by a black border, as boxes of the
    photo itself (clipped to it)."""
    height, width = image_bgr.shape[:2]
    b = round(border * max(height, width))
    framed = cv2.copyMakeBorder(image_bgr, b, b, b, b, cv2.BORDER_CONSTANT, value=0)
    boxes = []
    for face in detector.detect([framed], [None])[0]:
        x1, y1 = max(0, face.x - b), max(0, face.y - b)
        x2, y2 = min(width, face.x + face.w - b), min(height, face.y + face.h - b)
        if x2 > x1 and y2 > y1:
            boxes.append((x1, y1, x2 - x1, y2 - y1))
    return boxes


def find_candidates(
    photos: dict[str, list[Path]], embedder: Embedder, detector: object
) -> list[Candidates]:
    """Every photo's faces (:func:`photo_faces`) and their embeddings; an unreadable file
    is refused."""
    found = []
    for person, files in photos.items():
        for path in files:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise ConfigError(f"dataset.references: {path} is not a readable image")
            rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
            boxes = photo_faces(image, detector)
            found.append(Candidates(person, path, rgb, boxes, embedder.embed(rgb, boxes)))
    return found


def select_faces(candidates: list[Candidates]) -> tuple[list[tuple[Candidates, int]], list[str]]:
    """The face kept of each usable photo, and one warning line per photo skipped."""
    alone: dict[str, list[np.ndarray]] = {}
    for photo in candidates:
        if len(photo.boxes) == 1:
            alone.setdefault(photo.person, []).append(photo.embeddings[0])
    kept, warnings = [], []
    for photo in candidates:
        others = alone.get(photo.person, [])
        face = choose_face(photo.embeddings, others)
        if face is None:
            warnings.append(
                f"dataset.references: {photo.path} {_skip_reason(photo, others)}; skipped"
            )
        else:
            kept.append((photo, face))
    return kept, warnings


def embed_references(
    photos: dict[str, list[Path]], embedder: Embedder | None = None, detector: object = None
) -> pa.Table:
    """One row per usable photo: its person, path, face box, crop and embedding.

    Each photo skipped is logged as one warning line naming it; a person left with no
    usable photo is refused (:class:`ConfigError`).
    """
    embedder = embedder or Embedder()
    if detector is None:
        from .detectors import BlazeFaceDetector

        detector = BlazeFaceDetector(DETECTOR, delegates=False)
    kept, warnings = select_faces(find_candidates(photos, embedder, detector))
    for line in warnings:
        log.warning(line)
    usable = {photo.person for photo, _ in kept}
    lost = [p for p in photos if p not in usable]
    if lost:
        raise ConfigError(
            f"dataset.references: no usable photo of {', '.join(lost)} (each photo shows no "
            "face, or several and none clearly theirs); add one photo with their face alone"
        )
    rows: dict[str, list] = {name: [] for name in SCHEMA.names}
    for photo, face in kept:
        box = photo.boxes[face]
        rows["person"].append(photo.person)
        rows["photo"].append(str(photo.path))
        for key, value in zip("xywh", box, strict=True):
            rows[key].append(int(value))
        rows["crop"].append(crop_png(photo.rgb, box))
        rows["embedding"].append(np.asarray(photo.embeddings[face], np.float32))
    return pa.table(rows, schema=SCHEMA)


def write_references(path: str | Path, table: pa.Table) -> None:
    """Write the reference embeddings atomically."""
    write_table(path, table)


def plan_references(
    references: str | None,
    extensions: tuple[str, ...],
    persons: dict[str, str],
    person_column: str | None,
) -> pa.Table | None:
    """The reference embeddings of a run (None without ``references``).

    Checked before any photo is embedded: every person of the labels' person column has
    a reference folder. Then every person must keep a usable photo.
    """
    if not references:
        return None
    photos = reference_photos(references, extensions)
    missing = sorted(set(persons.values()) - set(photos))
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise ConfigError(
            f"dataset.person_column {person_column!r} names {len(missing)} person(s) without "
            f"reference photos in {references}: {shown}"
        )
    # The folder they came from: a report given another folder embeds that one instead.
    return embed_references(photos).replace_schema_metadata({"references": str(references)})
