"""Reference photos (``dataset.references=DIR``, ``DIR/<person>/*.jpg|png``) to embeddings.

Computed once, when a run is planned, into ``RUN_DIR/references.parquet`` (person, photo,
embedding), so that the reduce side matches faces to people without dlib. Every photo
must show exactly one face: a reference that might be someone else is refused.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa

from ..config import ConfigError
from ..shards import write_table
from .identity import Embedder

SCHEMA = pa.schema(
    [
        pa.field("person", pa.string(), nullable=False),
        pa.field("photo", pa.string(), nullable=False),
        pa.field("embedding", pa.list_(pa.float32()), nullable=False),
    ]
)


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


def embed_references(photos: dict[str, list[Path]], embedder: Embedder | None = None) -> pa.Table:
    """One row per photo: its person, path and the embedding of its one face."""
    embedder = embedder or Embedder()
    rows: dict[str, list] = {"person": [], "photo": [], "embedding": []}
    for person, files in photos.items():
        for path in files:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise ConfigError(f"dataset.references: {path} is not a readable image")
            rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
            boxes = embedder.find_faces(rgb)
            if len(boxes) != 1:
                found = "no face" if not boxes else f"{len(boxes)} faces"
                raise ConfigError(
                    f"dataset.references: {path} shows {found}; a reference photo shows "
                    "exactly one face, its person's"
                )
            rows["person"].append(person)
            rows["photo"].append(str(path))
            rows["embedding"].append(np.asarray(embedder.embed(rgb, boxes)[0], np.float32))
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
    """The reference embeddings of a run being planned (None without ``references``).

    Checked before any photo is embedded: every person of the labels' person column has
    a reference folder. Then every photo must show one face.
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
    return embed_references(photos)
