"""Progress kept inside a shard: finished clips in part files, and a journal of clips.

A shard's clips are extracted a few at a time; each batch is written as a part file
(atomically) under ``shards/.parts-<k>/``, so a task killed near its end keeps what it
finished and its rerun (requeue or resume) does only the rest. The journal
(``logs/shard-<k>.journal``) records each clip as it starts and ends: a clip that
started and never ended when the worker died is a suspect. A rerun extracts each
suspect alone first (``isolate``). The process that watches the worker
(:mod:`femo.node.supervise`) records how it died (``died``) and which clip it cut off for
taking too long (``timeout``): a clip the worker dies on while it is alone is skipped
and reported with the signal, so one poison clip cannot fail its shard forever, and a
clip that was merely in flight when a task ran out of time (nobody saw the worker die)
is not mistaken for one.
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from ..rundir import RunDir
from ..shard_files import write_table

POISON_MESSAGE = "the worker died on this clip ({}), also when it ran alone; it was skipped"
TIMEOUT_MESSAGE = (
    "cut off after {:g} s (shards.clip_timeout_s): the clip took too long, "
    "e.g. a decoder that hangs; it was skipped"
)
# Journal events with a detail between the event and the clip: `died 6 clip.mp4`.
_DETAILED = ("died", "timeout")


def signal_text(signum: int) -> str:
    """``signal 6, SIGABRT`` (or just ``signal N`` for a number Python has no name for)."""
    try:
        return f"signal {signum}, {signal.Signals(signum).name}"
    except ValueError:
        return f"signal {signum}"


class JournalEvent(NamedTuple):
    event: str
    clip: str
    detail: str = ""


class ShardProgress:
    """The part files and the journal of one shard."""

    def __init__(self, run: RunDir, index: int) -> None:
        self.run, self.index = run, index
        self.parts_dir = run.parts_dir(index)
        self.journal = run.journal_file(index)

    def part_files(self) -> list[Path]:
        if not self.parts_dir.is_dir():
            return []
        return sorted(p for p in self.parts_dir.glob("part-*.parquet"))

    def done_clips(self) -> set[str]:
        """Clips whose rows are in a part file already."""
        done: set[str] = set()
        for path in self.part_files():
            table = pq.read_table(path, columns=["video", "kind"])
            kinds = table.column("kind").to_pylist()
            done.update(v for v, k in zip(table.column("video").to_pylist(), kinds, strict=True)
                        if k == "clip")  # fmt: skip
        return done

    def journal_lines(self) -> list[JournalEvent]:
        if not self.journal.is_file():
            return []
        text = self.journal.read_text(encoding="utf-8", errors="replace")
        return [e for e in map(parse_journal_line, text.splitlines()) if e is not None]

    def suspects(self) -> list[str]:
        """Clips that started but never ended in an earlier attempt, in start order."""
        started: dict[str, None] = {}
        ended: set[str] = set()
        for e in self.journal_lines():
            if e.event == "start":
                started[e.clip] = None
            elif e.event == "end":
                ended.add(e.clip)
        done = self.done_clips()
        return [c for c in started if c not in ended and c not in done]

    def poisoned(self) -> dict[str, str]:
        """Clips a watched worker died on while it ran them alone: clip -> how it died."""
        alone: set[str] = set()
        poison: dict[str, str] = {}
        for e in self.journal_lines():
            if e.event == "isolate":
                alone.add(e.clip)
            elif e.event == "died" and e.clip in alone:
                poison[e.clip] = signal_text(int(e.detail)) if e.detail.isdigit() else e.detail
        return poison

    def timed_out(self) -> dict[str, float]:
        """Clips the watcher cut off for taking too long: clip -> the limit in seconds."""
        return {e.clip: float(e.detail) for e in self.journal_lines() if e.event == "timeout"}

    def record(self, event: str, clip: str, detail: str = "") -> None:
        """Append an event of a clip to the journal, written through before it returns."""
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        line = f"{event} {detail} {clip}" if event in _DETAILED else f"{event} {clip}"
        # Written and closed, the line survives the worker's death and the supervisor
        # reads it; no fsync (7 ms a line, two a clip): only a crash of the whole node
        # could lose it, and then the task reruns, a clip without its line unblamed
        # (finished clips are known from the part files, which are fsynced).
        with open(self.journal, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def record_death(self, signum: int, clips: list[str]) -> None:
        """The worker died by ``signum`` with ``clips`` in flight: blame each of them."""
        for clip in clips:
            self.record("died", clip, str(signum))

    def write_part(self, table: pa.Table) -> None:
        """Keep the rows of finished clips (atomically: a part is whole or absent)."""
        n = len(self.part_files())
        write_table(self.run.part_file(self.index, n), table)

    def tables(self) -> list[pa.Table]:
        return [pq.read_table(p) for p in self.part_files()]

    def clear(self) -> None:
        """Once the shard file is written, its parts and journal are not needed."""
        shutil.rmtree(self.parts_dir, ignore_errors=True)
        self.journal.unlink(missing_ok=True)


def parse_journal_line(line: str) -> JournalEvent | None:
    """One journal line, or None for a line cut short (a worker killed mid-write)."""
    event, _, rest = line.partition(" ")
    if event in _DETAILED:
        detail, _, clip = rest.partition(" ")
        return JournalEvent(event, clip, detail) if clip else None
    return JournalEvent(event, rest) if rest else None
