"""Progress kept inside a shard: finished clips in part files, and a journal of clips.

A shard's clips are extracted a few at a time; each batch is written as a part file
(atomically) under ``shards/.parts-<k>/``, so a task killed near its end keeps what it
finished and its rerun (requeue or resume) does only the rest. The journal
(``logs/shard-<k>.journal``) records each clip as it starts and ends: a clip that
started and never ended when the worker died is a suspect. A rerun extracts each
suspect alone first (``isolate``); a suspect that the worker dies on again while it is
alone is skipped and reported, so one poison clip cannot fail its shard forever, and a
clip that was merely in flight when a task ran out of time is not mistaken for one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .rundir import RunDir
from .shards import write_table

POISON_MESSAGE = "the worker died on this clip twice ({}); it was skipped"


class ShardProgress:
    """The part files and the journal of one shard."""

    def __init__(self, run: RunDir, index: int) -> None:
        self.parts_dir = run.shards_dir / f".parts-{index:05d}"
        self.journal = run.logs_dir / f"shard-{index:05d}.journal"

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

    def journal_lines(self) -> list[tuple[str, str]]:
        if not self.journal.is_file():
            return []
        lines = []
        for line in self.journal.read_text(encoding="utf-8").splitlines():
            event, _, clip = line.partition(" ")
            if clip:
                lines.append((event, clip))
        return lines

    def suspects(self) -> list[str]:
        """Clips that started but never ended in an earlier attempt, in start order."""
        started: dict[str, None] = {}
        ended: set[str] = set()
        for event, clip in self.journal_lines():
            if event == "start":
                started[clip] = None
            elif event == "end":
                ended.add(clip)
        done = self.done_clips()
        return [c for c in started if c not in ended and c not in done]

    def isolated(self) -> set[str]:
        """Clips an earlier attempt already ran alone because a worker died near them."""
        return {clip for event, clip in self.journal_lines() if event == "isolate"}

    def record(self, event: str, clip: str) -> None:
        """Append ``start``/``end``/``isolate`` of a clip to the journal, on disk first."""
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        with open(self.journal, "a", encoding="utf-8") as fh:
            fh.write(f"{event} {clip}\n")
            fh.flush()
            os.fsync(fh.fileno())

    def write_part(self, table: pa.Table) -> None:
        """Keep the rows of finished clips (atomically: a part is whole or absent)."""
        n = len(self.part_files())
        write_table(self.parts_dir / f"part-{n:05d}.parquet", table)

    def tables(self) -> list[pa.Table]:
        return [pq.read_table(p) for p in self.part_files()]

    def clear(self) -> None:
        """Once the shard file is written, its parts and journal are not needed."""
        shutil.rmtree(self.parts_dir, ignore_errors=True)
        self.journal.unlink(missing_ok=True)
