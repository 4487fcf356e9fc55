"""The shard file: its Parquet schema, its metadata, its atomic write, finished shards.

A shard file holds two kinds of rows:

* ``kind == "frame"``: one per (clip, sampled frame, face), and one with null face
  fields for a sampled frame without a face, so face coverage is measurable;
* ``kind == "rejected"``: a box the face check (``detector.verify``) rejected, with its
  check's score (``face_check``) and why (``message``); never classified, and numbered
  after the frame's kept faces. A frame whose every box was rejected also has its
  face-less ``frame`` row;
* ``kind == "clip"``: exactly one per clip, with its status (``ok``, ``partial`` or
  ``error``), a message, and what decoding learnt (fps, frames read, seconds spent).

Its ``femo.*`` metadata keys record who made it and how fast (see :func:`encode_metadata`).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .config import EMOTIONS

_SHARD_RE = re.compile(r"^shard-(\d{5,})\.parquet$")

# How many numbers a face's embedding holds (dlib's face recogniser).
EMBEDDING_WIDTH = 128

SCHEMA = pa.schema(
    [
        pa.field("video", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("frame", pa.int32()),
        pa.field("time_s", pa.float64()),
        pa.field("face", pa.int16()),
        pa.field("x", pa.int32()),
        pa.field("y", pa.int32()),
        pa.field("w", pa.int32()),
        pa.field("h", pa.int32()),
        *[pa.field(e, pa.float32()) for e in EMOTIONS],
        pa.field("detector_confidence", pa.float32()),
        # The face check's score (the face mesh's presence) where the face was checked;
        # null where it was not (detector.verify=none, or a face the detector was sure of).
        pa.field("face_check", pa.float32()),
        pa.field("status", pa.string()),
        pa.field("message", pa.string()),
        pa.field("fps", pa.float64()),
        pa.field("frames_read", pa.int32()),
        pa.field("frames_sampled", pa.int32()),
        pa.field("seconds", pa.float64()),
        # A face's dlib embedding (EMBEDDING_WIDTH numbers) where identity=dlib; null
        # otherwise (and always
        # null on clip rows). It identifies the person: see the README's Identities.
        pa.field("embedding", pa.list_(pa.float32())),
        # The face's 468-point mesh with landmarks=mesh, normalised (femo.node.landmarks:
        # centred, eye corners level, scaled by their distance; x, y, z per point); null
        # otherwise, and where the mesh model saw no face.
        pa.field("mesh", pa.list_(pa.float32())),
    ]
)


def numbered(index: int) -> str:
    """``00042``: a shard's (or a part file's) number as the run folder's names write it."""
    return f"{index:05d}"


def shard_stem(index: int) -> str:
    """``shard-00042``: the name the files of shard ``index`` start with (its shard file,
    log, markers and journal); :class:`femo.rundir.RunDir` builds their paths from it."""
    return f"shard-{numbered(index)}"


def shard_name(index: int) -> str:
    return f"{shard_stem(index)}.parquet"


def encode_metadata(values: dict[str, str]) -> dict[bytes, bytes]:
    """``femo.<key>`` Parquet metadata from plain strings."""
    return {f"femo.{k}".encode(): v.encode() for k, v in values.items()}


def decode_metadata(meta: dict[bytes, bytes] | None) -> dict[str, str]:
    """The ``femo.*`` key/values of a shard's Parquet metadata, without the prefix."""
    return {k.decode()[5:]: v.decode() for k, v in (meta or {}).items() if k.startswith(b"femo.")}


def read_shard_metadata(path: str | Path) -> dict[str, str]:
    """The ``femo.*`` key/values of a shard file (without the ``femo.`` prefix)."""
    return decode_metadata(pq.read_schema(path).metadata)


@dataclass(frozen=True)
class Footer:
    """What a finished shard file's Parquet footer says: why it cannot be read (e.g.
    truncated after it was written; None: it reads) and its ``femo.*`` metadata."""

    damage: str | None
    metadata: dict[str, str] | None


def read_footer(path: str | Path) -> Footer:
    """A shard file's footer, read once: whether it reads, and its metadata."""
    try:
        meta = pq.read_metadata(path).metadata
    except (OSError, pa.ArrowException) as exc:
        return Footer(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, None)
    return Footer(None, decode_metadata(meta))


def damage(path: str | Path) -> str | None:
    """Why a finished shard file cannot be read (e.g. truncated after it was written), or
    None when its Parquet footer reads."""
    return read_footer(path).damage


def load_arrow() -> None:
    """Make pyarrow's first-use imports now: the first array it builds imports pandas
    (0.2 s on a quiet machine, up to 0.7 s on a loaded one). A worker pays it once, with
    its models, rather than inside its first shard, whose clips' seconds would carry it."""
    pa.array([], pa.int8())


def write_table(path: str | Path, table: pa.Table) -> None:
    """Write a shard table atomically (see :func:`write_atomically`)."""
    write_atomically(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def clip_owners(videos_by_shard: Iterable[Iterable[str]]) -> dict[str, int]:
    """Which shard file wins each clip: the lowest-numbered one holding its clip row, so no
    clip is counted twice (a shard written twice under another plan, a resumed run).

    ``videos_by_shard`` gives each finished shard's clip-row videos, in shard order; the
    answer maps each video to its winner's position in that order.
    """
    owners: dict[str, int] = {}
    for order, videos in enumerate(videos_by_shard):
        for video in videos:
            owners.setdefault(video, order)
    return owners


def clip_videos(path: str | Path) -> list[str]:
    """The videos whose clip row a shard file holds: the clips it finished."""
    table = pq.read_table(path, columns=["video", "kind"], filters=[("kind", "=", "clip")])
    return table["video"].to_pylist()


def owning_shard(shard_files: dict[int, Path], video: str) -> int | None:
    """The shard whose file wins ``video`` (see :func:`clip_owners`); None: none holds it.
    A file that cannot be read is a ValueError naming it."""
    for index in sorted(shard_files):
        try:
            videos = clip_videos(shard_files[index])
        except (OSError, pa.ArrowException) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(f"shard file {shard_files[index]} is damaged ({reason})") from None
        if video in videos:
            return index
    return None


def finished_shards(folder: str | os.PathLike[str]) -> dict[int, Path]:
    """Shard index -> path for every finished shard file in ``folder`` (temps never match)."""
    folder = Path(folder)
    found = {}
    if folder.is_dir():
        for p in folder.iterdir():
            m = _SHARD_RE.match(p.name)
            if m:
                found[int(m.group(1))] = p
    return dict(sorted(found.items()))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomically(path: str | os.PathLike[str], write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` and rename the result to ``path`` only once it is complete.

    The temp file sits in the same folder (so the rename is atomic on POSIX) under a
    name that never matches a finished shard; a killed writer leaves only that temp.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are meant to be shared
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
