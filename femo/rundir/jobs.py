"""A run's submissions: ``jobs.json`` (each launch of some shards) and the records of
tasks started by hand (``logs/shard-<k>.job.json``), which ``femo status`` follows."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .files import RunDirError, timestamp, write_json


@dataclass
class Submission:
    """One launch of some shards: an array job, or a local pool of workers."""

    launcher: str
    array_id: str
    shards: list[int]
    job_ids: list[str]
    submitted: str = field(default_factory=timestamp)
    submitted_at: float = field(default_factory=time.time)


def read_submissions(jobs_file: Path) -> list[Submission]:
    """The submissions ``jobs.json`` records, oldest first; a damaged file is one line."""
    if not jobs_file.is_file():
        return []
    try:
        records = json.loads(jobs_file.read_text(encoding="utf-8"))
        # Records written before femo 0.3 have no submitted_at: long ago.
        return [Submission(**{"submitted_at": 0.0, **r}) for r in records]
    except (ValueError, TypeError) as exc:
        raise RunDirError(
            f"{jobs_file} is damaged ({str(exc).splitlines()[0]}); it records the run's submissions"
        ) from None


def read_task_records(paths: Iterable[Path]) -> list[Submission]:
    """The tasks started by hand; a damaged record (a task killed as it wrote) counts
    as none."""
    found = []
    for path in paths:
        try:
            found.append(Submission(**json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, TypeError):
            continue
    return found


def add_submission(jobs_file: Path, submission: Submission) -> None:
    """Append ``submission`` to ``jobs.json`` (written atomically)."""
    records = [asdict(s) for s in read_submissions(jobs_file)] + [asdict(submission)]
    write_json(jobs_file, records)


def write_task_record(path: Path, submission: Submission) -> None:
    """A scheduler task started by hand (one shard), in a file of its own: the tasks of an
    array start together, and one shared file would lose some."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, asdict(submission))
