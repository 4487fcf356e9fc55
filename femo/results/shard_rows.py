"""A run's shard files read once: every clip row, the frame rows the results side uses, and
each file's ``femo.*`` metadata (its speed, versions and model hash), one pass per file.

A clip found in several shard files is taken from the one that wins it
(:func:`femo.shard_files.clip_owners`), everywhere the results side reads rows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..config import EMOTIONS
from ..shard_files import SCHEMA, decode_metadata, finished_shards

log = logging.getLogger(__name__)

# The columns of a frame row that the report reads: the face chosen per frame and its
# scores, the sampled frames of a clip and their times, the detector's confidence (a
# head's feature). The box's corner, and what only a clip row holds, are not read.
FRAME_COLUMNS = ("video", "frame", "time_s", "face", "w", "h", *EMOTIONS, "detector_confidence")
# The columns of a clip row that the results side reads (never the large list columns:
# the embedding and the mesh are read where needed, by the rows that need them).
CLIP_COLUMNS = ("video", "kind", "status", "message", "fps", "frames_read", "frames_sampled")
# Files read at once: more threads than this only wait on the one disk.
_READERS = 8


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


def _read_shard(path: Path, order: int, columns: Sequence[str]) -> tuple[pa.Table, dict[str, str]]:
    """A shard file's rows (:data:`CLIP_COLUMNS` and the ``columns`` it has, with
    ``_shard``: ``order``) and its metadata."""
    wanted = list(dict.fromkeys([*CLIP_COLUMNS, *columns]))
    try:
        try:
            table = pq.read_table(path, columns=wanted)
        except (pa.ArrowInvalid, KeyError):  # a file older than one of the columns
            table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise DamagedShard(path, str(exc).splitlines()[0] if str(exc) else "") from None
    table = table.select([c for c in wanted if c in table.column_names])
    shard = pa.array(np.full(table.num_rows, order, np.int64))
    return table.append_column("_shard", shard), decode_metadata(table.schema.metadata)


def _read_file(path: Path, order: int, wanted: Sequence[str]) -> tuple[pa.Table, dict]:
    """A shard file's ``wanted`` columns as :data:`SCHEMA` types (one it is older than:
    nulls), with ``_shard``: ``order``, and its metadata; one footer read, one thread (the
    per-file cost is what counts over 700 small files). A file that does not read is
    named as :func:`_read_shard` names it."""
    try:
        file = pq.ParquetFile(path, pre_buffer=False)
        names = file.schema_arrow.names
        table = file.read(columns=[c for c in wanted if c in names], use_threads=False)
        metadata = decode_metadata(file.schema_arrow.metadata)
    except (OSError, pa.ArrowException):
        return _read_shard(path, order, wanted)  # raises DamagedShard, naming the file
    shard = pa.array(np.full(table.num_rows, order, np.int64))
    if table.column_names == list(wanted) and all(
        table.schema.field(name).type == SCHEMA.field(name).type
        for name in wanted
        if name in SCHEMA.names
    ):
        return table.append_column("_shard", shard), metadata  # as femo writes them now
    columns: dict[str, Any] = {}
    for name in wanted:
        kind = SCHEMA.field(name).type if name in SCHEMA.names else None
        if name in table.column_names:
            column = table[name]
            columns[name] = column if kind is None or column.type == kind else column.cast(kind)
        elif kind is not None:
            columns[name] = pa.nulls(table.num_rows, kind)
    columns["_shard"] = shard
    return pa.table(columns), metadata


def _read_all(files: Sequence[Path], columns: Sequence[str]) -> tuple[pa.Table, list]:
    """Every file's rows (with ``_shard``, the file's place in ``files``) and metadata, file
    by file (a dataset scan costs more per file than the rows of a small one), so a
    damaged file is named."""
    wanted = list(dict.fromkeys([*CLIP_COLUMNS, *columns]))
    # Threads: a Parquet read lets go of the GIL, so files decode on every core while
    # Python handles the next; map keeps the files' order.
    with ThreadPoolExecutor(max_workers=min(len(files), pa.cpu_count(), _READERS)) as pool:
        read = list(pool.map(_read_file, files, range(len(files)), [wanted] * len(files)))
    tables, metadata = (list(part) for part in zip(*read, strict=True))
    return pa.concat_tables(tables, promote_options="default"), metadata


def _owners(clip_rows: pa.Table) -> pa.Table:
    """Each clip's winning file (``video``, ``owner``: its place in the files read; the rule
    of :func:`femo.shard_files.clip_owners`, the first file holding its clip row) and how
    many files hold its clip row (``files``)."""
    grouped = clip_rows.group_by("video", use_threads=False)
    owners = grouped.aggregate([("_shard", "min"), ("_shard", "count_distinct")])
    names = {"video": "video", "_shard_min": "owner", "_shard_count_distinct": "files"}
    return owners.rename_columns([names[c] for c in owners.column_names])


def _owned(rows: pa.Table, owners: pa.Table) -> pa.Array:
    """Which rows come from the file that wins their clip (rows of a clip without a clip
    row in any file: none)."""
    at = pc.index_in(rows["video"], value_set=owners["video"])
    owner = pc.take(owners["owner"], at)
    return pc.fill_null(pc.equal(owner, rows["_shard"]), False)


def load_shards(
    shards: str | Path | Sequence[Path], columns: Sequence[str] = FRAME_COLUMNS
) -> ShardData:
    """Read every finished shard file (of a shards folder, or the files given, in order).

    A clip found in more than one shard file is taken from the one that wins it
    (:func:`femo.shard_files.clip_owners`: the first file, in shard order, holding its
    clip row); frame rows of a clip without any clip row are left out.

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
    table, metadata = _read_all(files, columns)
    # One chunk per column, not one per file: each filter below then costs a pass over
    # the rows, not a pass over 700 chunks of a few hundred rows.
    table = table.combine_chunks()
    kind = table["kind"]
    clip_table = table.filter(pc.equal(kind, "clip"))
    owners = _owners(clip_table)
    clips = clip_table.select([c for c in (*CLIP_COLUMNS, "_shard") if c in table.column_names])
    several = owners.filter(pc.greater(owners["files"], 1))["video"].to_pylist()
    duplicates = sorted(several)
    if duplicates:
        log.warning("%d clip(s) found in several shard files; each counted once", len(duplicates))
    clips = clips.filter(_owned(clips, owners)).to_pandas()
    frames = table.filter(pc.equal(kind, "frame"))
    del table
    frames = frames.filter(_owned(frames, owners))
    frames = frames.select([c for c in columns if c in frames.column_names])
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
