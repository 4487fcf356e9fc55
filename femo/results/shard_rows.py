"""A run's shard files read once: every clip row, the frame rows the results side uses, and
each file's ``femo.*`` metadata (its speed, versions and model hash), one pass per file.

A clip found in several shard files is taken from the one that wins it
(:func:`femo.shard_files.clip_owners`), everywhere the results side reads rows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..config import EMOTIONS
from ..shard_files import SCHEMA, clip_owners, decode_metadata, finished_shards

log = logging.getLogger(__name__)

# The columns of a frame row that the report reads: the face chosen per frame and its
# scores, the sampled frames of a clip and their times, the detector's confidence (a
# head's feature). The box's corner, and what only a clip row holds, are not read.
FRAME_COLUMNS = ("video", "frame", "time_s", "face", "w", "h", *EMOTIONS, "detector_confidence")
# The columns of a clip row that the results side reads (never the large list columns:
# the embedding and the mesh are read where needed, by the rows that need them).
CLIP_COLUMNS = ("video", "kind", "status", "message", "fps", "frames_read", "frames_sampled")


class DamagedShard(Exception):
    """A finished shard file that cannot be read (truncated or overwritten after it was
    written)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"shard file {path} is damaged ({reason})")
        self.path = path


@dataclass
class ShardData:
    """The rows of every finished shard, one copy per clip.

    ``clip_rows`` (indexed by video) have :data:`CLIP_COLUMNS` (and ``_shard``, the order
    of the file each came from); ``frame_rows`` the frame columns
    asked for (:data:`FRAME_COLUMNS` by default). ``metadata`` is each file's ``femo.*``
    metadata, in ``shard_files`` order.
    """

    clip_rows: pd.DataFrame
    frame_rows: pd.DataFrame
    shard_files: list[Path] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    metadata: list[dict[str, str]] = field(default_factory=list)


def _read_shard(
    path: Path, order: int, columns: Sequence[str]
) -> tuple[pa.Table, pa.Table, dict[str, str]]:
    """A shard file's clip rows (:data:`CLIP_COLUMNS`, and ``_shard``), its frame rows (the
    ``columns`` it has) and its metadata, as Arrow tables."""
    wanted = list(dict.fromkeys([*CLIP_COLUMNS, *columns]))
    try:
        try:
            table = pq.read_table(path, columns=wanted)
        except (pa.ArrowInvalid, KeyError):  # a file older than one of the columns
            table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise DamagedShard(path, str(exc).splitlines()[0] if str(exc) else "") from None
    kind = table["kind"]
    clips = table.filter(pc.equal(kind, "clip"))
    clips = clips.select([c for c in CLIP_COLUMNS if c in clips.column_names])
    clips = clips.append_column("_shard", pa.array(np.full(clips.num_rows, order, np.int64)))
    frames = table.filter(pc.equal(kind, "frame"))
    frames = frames.select([c for c in columns if c in frames.column_names])
    return clips, frames, decode_metadata(table.schema.metadata)


def load_shards(
    shards: str | Path | Sequence[Path], columns: Sequence[str] = FRAME_COLUMNS
) -> ShardData:
    """Read every finished shard file (of a shards folder, or the files given, in order).

    A clip found in more than one shard file is taken from the one that wins it
    (:func:`femo.shard_files.clip_owners`); frame rows of a clip without any clip row are left out.

    The rows stay in Arrow (compact) until each of the two tables is made a frame once:
    the frame rows of 100,000 clips take a tenth of what a frame of every row did.
    """
    if isinstance(shards, (str, Path)):
        files = list(finished_shards(shards).values())
    else:
        files = list(shards)
    if not files:
        empty = SCHEMA.empty_table().to_pandas()
        return ShardData(empty.set_index("video"), empty[list(columns)], files)
    read = [_read_shard(path, order, columns) for order, path in enumerate(files)]
    clip_tables, frame_tables, metadata = (list(part) for part in zip(*read, strict=True))
    del read
    clips = pa.concat_tables(clip_tables, promote_options="default").to_pandas()
    owner = pd.Series(clip_owners(t["video"].to_pylist() for t in clip_tables), dtype=np.int64)
    dup = clips.groupby("video")["_shard"].nunique()
    duplicates = sorted(dup[dup > 1].index)
    if duplicates:
        log.warning("%d clip(s) found in several shard files; each counted once", len(duplicates))
    clips = clips[clips["_shard"] == clips["video"].map(owner)]
    # Each file keeps the frame rows of the clips it owns (all of them, but for a clip
    # found in several files, or frame rows without a clip row).
    videos_of = owner.index.groupby(owner.to_numpy())
    owned = [
        table.filter(pc.is_in(table["video"], pa.array(videos_of.get(order, []), pa.string())))
        for order, table in enumerate(frame_tables)
    ]
    del frame_tables
    frames = pa.concat_tables(owned, promote_options="default")
    del owned
    frame_rows = frames.to_pandas(self_destruct=True)
    del frames
    # Arrow's allocator keeps what reading every file took (more than the rows it made)
    # unless asked to give it back.
    pa.default_memory_pool().release_unused()
    return ShardData(
        clip_rows=clips.set_index("video"),
        frame_rows=frame_rows,
        shard_files=files,
        duplicates=duplicates,
        metadata=metadata,
    )
