"""Shard assignment (a pure function) and the shard files' names and atomic writes."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

SHARD_DIR = "shards"
_SHARD_RE = re.compile(r"^shard-(\d{5,})\.parquet$")


def assign_shards(items: Sequence[T], per_shard: int) -> list[list[T]]:
    """Cut ``items`` (already in their canonical sorted order) into consecutive shards.

    Shard k holds items ``[k * per_shard, (k + 1) * per_shard)``, so the assignment
    depends only on the sorted list and ``per_shard``: any shell, any day, recomputes
    the same shards.
    """
    if per_shard < 1:
        raise ValueError(f"per_shard must be >= 1, not {per_shard}")
    return [list(items[i : i + per_shard]) for i in range(0, len(items), per_shard)]


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.parquet"


def shard_path(run_dir: str | os.PathLike[str], index: int) -> Path:
    return Path(run_dir) / SHARD_DIR / shard_name(index)


def finished_shards(run_dir: str | os.PathLike[str]) -> dict[int, Path]:
    """Shard index -> path for every finished shard file (temp files are never matched)."""
    folder = Path(run_dir) / SHARD_DIR
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
