"""The small files of a run folder: written atomically, stamped alike; and the error for
a folder that is not a run (or is damaged)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ..shard_files import write_atomically

# How a run's files write a moment (femo.json's created, jobs.json, report, head files).
TIMESTAMP = "%Y-%m-%dT%H:%M:%S%z"


class RunDirError(ValueError):
    """The folder is not a femo run (or is damaged); the message says why."""


def timestamp() -> str:
    """Now, local time with its UTC offset, as every file of a run writes it."""
    return time.strftime(TIMESTAMP)


def write_text(path: Path, text: str) -> None:
    """Write a small text file atomically."""
    write_atomically(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    """Write a small binary file (a figure) atomically."""
    write_atomically(path, lambda tmp: Path(tmp).write_bytes(data))


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
