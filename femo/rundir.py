"""The run folder: everything needed to understand, check on and continue a run.

:class:`RunDir` owns every path in it; nothing else in femo builds one. Layout::

    RUN_DIR/
      femo.json        manifest: femo version, config (femo.config.to_dict shape), plan size
      clips.csv        the shard plan: video, kind, shard (and a segment's start_frame,
                       end_frame, start_s, end_s: femo.segments)
      labels.csv       snapshot of the labels file the run started with (if any)
      shards/          shard-<k>.parquet, one per finished shard
      logs/            shard-<k>.log; shard-<k>.failed when a shard raised;
                       shard-<k>.running while a process works on it;
                       shard-<k>.job.json: the scheduler task that ran it by hand
      jobs.json        every submission: launcher, array id, shards, job ids
      jobs/            submitit's job folder (cluster launchers)
      report/          videos.csv, metrics.json, report.md
      .hydra/          Hydra's record of the composed config and overrides
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from . import __version__
from .config import ConfigError, RunConfig, absolute_path, from_dict, from_saved, to_dict
from .dataset import SEGMENT_COLUMNS, Clip, Segment, segment_id
from .overrides import Command, apply_overrides, names_key
from .shards import (
    Footer,
    finished_shards,
    numbered,
    read_footer,
    shard_name,
    shard_stem,
    write_atomically,
)

T = TypeVar("T")

MANIFEST = "femo.json"
PLAN = "clips.csv"
LABELS = "labels.csv"
SHARDS = "shards"
LOGS = "logs"
REPORT = "report"
FIT = "fit"
HEAD_FILE = "head.json"
JOBS_FILE = "jobs.json"
JOBS_DIR = "jobs"
# How a run's files write a moment (femo.json's created, jobs.json, report, head files).
TIMESTAMP = "%Y-%m-%dT%H:%M:%S%z"


def timestamp() -> str:
    """Now, local time with its UTC offset, as every file of a run writes it."""
    return time.strftime(TIMESTAMP)


class RunDirError(ValueError):
    """The folder is not a femo run (or is damaged); the message says why."""


def assign_shards(items: Sequence[T], per_shard: int) -> list[list[T]]:
    """Cut ``items`` (already in their canonical sorted order) into consecutive shards.

    Shard k holds items ``[k * per_shard, (k + 1) * per_shard)``, so the assignment
    depends only on the sorted list and ``per_shard``: any shell, any day, recomputes
    the same shards.
    """
    if per_shard < 1:
        raise ValueError(f"per_shard must be >= 1, not {per_shard}")
    return [list(items[i : i + per_shard]) for i in range(0, len(items), per_shard)]


@dataclass(frozen=True)
class Plan:
    clips: list[Clip]
    shard_of: dict[str, int]
    n_shards: int

    def shard_clips(self, index: int) -> list[Clip]:
        return self._by_shard.get(index, [])

    @functools.cached_property
    def _by_shard(self) -> dict[int, list[Clip]]:
        # One pass for all shards: a pass per shard grows as clips x shards.
        by_shard: dict[int, list[Clip]] = {}
        for c in self.clips:
            by_shard.setdefault(self.shard_of[c.video], []).append(c)
        return by_shard


def make_plan(clips: list[Clip], videos_per_shard: int) -> Plan:
    shards = assign_shards(clips, videos_per_shard)
    shard_of = {c.video: k for k, shard in enumerate(shards) for c in shard}
    return Plan(clips, shard_of, len(shards))


def _span_cells(clip: Clip) -> dict[str, Any]:
    """A segment's span as clips.csv writes it (repr floats, which read back exactly)."""
    seg = clip.segment
    if seg is None:
        return {}
    values = (seg.start_frame, seg.end_frame, seg.start_s, seg.end_s)
    return {k: "" if v is None else repr(v) for k, v in zip(SEGMENT_COLUMNS, values, strict=True)}


def _planned_clip(row: dict[str, str]) -> Clip:
    """A clips.csv row as a clip; a row with a span is a segment."""
    if not any(row.get(c) for c in SEGMENT_COLUMNS):
        return Clip(row["video"], row["kind"])

    def value(column: str, kind: type) -> Any:
        return kind(row[column]) if row.get(column) else None

    segment = Segment(
        row["video"],
        value("start_frame", int),
        value("end_frame", int),
        value("start_s", float),
        value("end_s", float),
    )
    return Clip(
        segment_id(segment.file, segment.start_frame, segment.start_s), row["kind"], segment
    )


@dataclass
class Submission:
    """One launch of some shards: an array job, or a local pool of workers."""

    launcher: str
    array_id: str
    shards: list[int]
    job_ids: list[str]
    submitted: str = field(default_factory=timestamp)
    submitted_at: float = field(default_factory=time.time)


def write_text(path: Path, text: str) -> None:
    """Write a small text file atomically."""
    write_atomically(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


@dataclass(frozen=True)
class FitFolder:
    """Where ``femo fit`` writes: a run's ``fit/`` or the folder given with ``--out``."""

    path: Path

    @property
    def head_file(self) -> Path:
        """The learnt head, plain JSON (never a pickle)."""
        return self.path / HEAD_FILE

    @property
    def report_file(self) -> Path:
        return self.path / "report.md"


class RunDir:
    """One run folder: its paths, its manifest, its plan and its job records."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunDir) and self.path == other.path

    def __hash__(self) -> int:
        return hash(self.path)

    # ---------------------------------------------------------------- paths
    @property
    def manifest_file(self) -> Path:
        return self.path / MANIFEST

    @property
    def plan_file(self) -> Path:
        return self.path / PLAN

    @property
    def labels_file(self) -> Path:
        return self.path / LABELS

    @property
    def references_file(self) -> Path:
        """The reference photos' embeddings (``dataset.references``; identity=dlib runs)."""
        return self.path / "references.parquet"

    @property
    def shards_dir(self) -> Path:
        return self.path / SHARDS

    @property
    def logs_dir(self) -> Path:
        return self.path / LOGS

    @property
    def report_dir(self) -> Path:
        return self.path / REPORT

    def sheet_file(self, video: str) -> Path:
        """``report/sheets/<clip>.png``: ``femo show``'s contact sheet of a clip (a clip in
        a subfolder: ``/`` becomes ``__``)."""
        return self.report_dir / "sheets" / (video.replace("/", "__") + ".png")

    def report_dir_for(self, changes: Sequence[str]) -> Path:
        """``report/`` for the run's own settings; ``report-<changes>/`` for any other (the
        overrides and ``with=RUN`` of a re-reduce), so that a re-reduce never overwrites the
        run's default report. A long name keeps its start and a hash of the whole."""
        if not changes:
            return self.report_dir
        slug = re.sub(r"[^A-Za-z0-9._,+-]+", "-", "_".join(changes)).strip("-")
        if len(slug) > 80:
            slug = slug[:60] + "-" + hashlib.sha256(slug.encode()).hexdigest()[:8]
        return self.path / f"{REPORT}-{slug}"

    @property
    def fit(self) -> FitFolder:
        """``femo fit``'s folder in the run: the learnt head and its report."""
        return FitFolder(self.path / FIT)

    @property
    def head_file(self) -> Path:
        return self.fit.head_file

    @property
    def jobs_file(self) -> Path:
        return self.path / JOBS_FILE

    @property
    def jobs_dir(self) -> Path:
        return self.path / JOBS_DIR

    def shard_file(self, index: int) -> Path:
        return self.shards_dir / shard_name(index)

    def log_file(self, index: int) -> Path:
        return self.logs_dir / f"{shard_stem(index)}.log"

    def failed_marker(self, index: int) -> Path:
        return self.logs_dir / f"{shard_stem(index)}.failed"

    def running_marker(self, index: int) -> Path:
        return self.logs_dir / f"{shard_stem(index)}.running"

    def task_record(self, index: int) -> Path:
        return self.logs_dir / f"{shard_stem(index)}.job.json"

    def journal_file(self, index: int) -> Path:
        """What the worker of shard ``index`` started, finished or lost, clip by clip."""
        return self.logs_dir / f"{shard_stem(index)}.journal"

    def parts_dir(self, index: int) -> Path:
        """Where shard ``index`` keeps its finished clips until the shard file is written."""
        return self.shards_dir / f".parts-{numbered(index)}"

    def part_file(self, index: int, n: int) -> Path:
        return self.parts_dir(index) / f"part-{numbered(n)}.parquet"

    # ------------------------------------------------------------- contents
    def create(
        self,
        plan: Plan,
        config: dict[str, Any],
        labels_file: str | None,
        extraction_key: str | None = None,
    ) -> None:
        """Write the manifest, the shard plan and the labels snapshot of a new run."""
        if self.manifest_file.exists():
            raise RunDirError(
                f"{self.path} already holds a femo run; use resume={self.path} to continue it"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(exist_ok=True)
        rows = [
            {"video": c.file, "kind": c.kind, "shard": plan.shard_of[c.video], **_span_cells(c)}
            for c in plan.clips
        ]
        # A segmented run's plan names each segment by its video and its span.
        spans = list(SEGMENT_COLUMNS) if any(c.segment for c in plan.clips) else []

        def write_plan(tmp: str) -> None:
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, ["video", *spans, "kind", "shard"])
                writer.writeheader()
                writer.writerows(rows)

        write_atomically(self.plan_file, write_plan)
        if labels_file:
            shutil.copyfile(labels_file, self.labels_file)
        self.write_manifest(
            {
                "femo_version": __version__,
                "created": timestamp(),
                "n_clips": len(plan.clips),
                "n_shards": plan.n_shards,
                "labels_source": labels_file,
                "extraction_key": extraction_key,
                "config": config,
            }
        )

    def read_manifest(self) -> dict[str, Any]:
        if not self.path.is_dir():
            raise RunDirError(f"{self.path} is not a folder")
        if not self.manifest_file.is_file():
            raise RunDirError(f"{self.path} is not a femo run folder (no {MANIFEST})")
        text = self.manifest_file.read_text(encoding="utf-8", errors="replace")
        if not text.strip():
            raise RunDirError(f"{self.manifest_file} is damaged: it is empty")
        try:
            manifest = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RunDirError(f"{self.manifest_file} is damaged: {exc}") from None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
            raise RunDirError(f"{self.manifest_file} is damaged: it holds no run config")
        return manifest

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        write_json(self.manifest_file, manifest)

    def config_dict(self) -> dict[str, Any]:
        """The run's saved config, in today's :func:`femo.config.to_dict` shape."""
        return to_dict(from_saved(self.read_manifest()["config"]))

    def config(self) -> RunConfig:
        return from_dict(self.config_dict())

    def report_config(
        self,
        overrides: Sequence[str] = (),
        command: Command = "reduce",
        manifest: dict[str, Any] | None = None,
    ) -> RunConfig:
        """The config this run is reported with: its saved config, ``overrides`` applied
        (those ``command``, ``reduce`` or ``resume``, may change) and its labels snapshot
        (``labels.csv``) unless the overrides name ``dataset.labels``.

        Refuses a damaged run first (:meth:`check`), so that every command names a
        missing labels copy with the same line; ``manifest``: the one :meth:`check` read.
        """
        overrides = list(overrides)
        if manifest is None:
            manifest, _ = self.check(labels_given=names_key(overrides, "dataset.labels"))
        saved = to_dict(from_saved(manifest["config"]))
        snapshot = self.labels_file.is_file()
        saved["dataset"]["labels"] = str(self.labels_file) if snapshot else None
        return from_dict(apply_overrides(saved, overrides, command))

    def read_plan(self) -> Plan:
        if not self.plan_file.is_file():
            raise RunDirError(f"{self.path} has no shard plan ({PLAN})")
        try:
            with open(self.plan_file, newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
            clips = [_planned_clip(r) for r in rows]
            shard_of = {c.video: int(r["shard"]) for c, r in zip(clips, rows, strict=True)}
        except (KeyError, TypeError, ValueError, csv.Error) as exc:
            why = f"no {exc} column" if isinstance(exc, KeyError) else str(exc).splitlines()[0]
            raise RunDirError(
                f"{self.plan_file} is damaged ({why}); it is the run's shard plan "
                "(columns video, kind, shard)"
            ) from None
        return Plan(clips, shard_of, max(shard_of.values(), default=-1) + 1)

    def check(self, labels_given: bool = False) -> tuple[dict[str, Any], Plan]:
        """Refuse a damaged run folder with one line, before anything reads or writes it.

        The manifest and the plan must read; ``shards/`` and ``logs/``, where they
        exist, must be folders; the labels snapshot of a run planned with labels must be
        there (unless ``labels_given``: the command names a labels file itself). Returns
        the manifest and the plan it read.
        """
        manifest = self.read_manifest()
        plan = self.read_plan()
        for folder in (self.shards_dir, self.logs_dir, self.report_dir):
            if folder.exists() and not folder.is_dir():
                raise RunDirError(
                    f"{folder} is not a folder (the run keeps its {folder.name} there); "
                    "move it away"
                )
        source = manifest.get("labels_source")
        if source and not labels_given and not self.labels_file.is_file():
            raise RunDirError(
                f"{self.labels_file} is missing: the run was planned with the labels of "
                f"{source} and reads them from this copy; put it back "
                f"(cp {source} {self.labels_file}) or name the labels with dataset.labels=FILE"
            )
        self.submissions()
        return manifest, plan

    def shards_source(self) -> RunDir:
        """The run whose jobs make this run's shards (itself, or a sweep sibling it reuses)."""
        try:
            source = self.read_manifest().get("shards_from")
        except RunDirError:
            source = None
        return RunDir(source) if source else self

    def reuse_shards(self, sweep_dir: Path) -> Path | None:
        """Point this run's shards at an earlier sweep point with the same extraction key.

        Returns the source run when one was found: ``RUN_DIR/shards`` becomes a symlink
        to the source's shards and the manifest records ``shards_from``; nothing is queued.
        """
        manifest = self.read_manifest()
        key = manifest.get("extraction_key")
        for other in sorted(p.parent for p in sweep_dir.glob(f"*/{MANIFEST}")):
            if other == self.path:
                continue
            theirs = RunDir(other).read_manifest()
            if theirs.get("extraction_key") == key and not theirs.get("shards_from"):
                self.shards_dir.symlink_to(
                    Path("..") / other.name / SHARDS, target_is_directory=True
                )
                RunDir(other).shards_dir.mkdir(exist_ok=True)
                manifest["shards_from"] = str(other)
                self.write_manifest(manifest)
                return other
        return None

    def finished_shards(self) -> dict[int, Path]:
        return finished_shards(self.shards_dir)

    def shard_footers(self) -> dict[int, Footer]:
        """Every finished shard file's footer, each read once: whether it reads (a file
        whose footer does not read is damaged) and its metadata (speed, versions)."""
        return {k: read_footer(p) for k, p in self.finished_shards().items()}

    def damaged_shards(self) -> dict[int, str]:
        """Finished shard files whose Parquet footer does not read, and why."""
        found = self.shard_footers()
        return {k: f.damage for k, f in found.items() if f.damage is not None}

    @contextlib.contextmanager
    def resume_lock(self) -> Iterator[None]:
        """Held while one femo resumes this run; a second one is refused, not queued."""
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        path = self.path / ".resume.lock"
        with open(path, "a+", encoding="utf-8") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.seek(0)
                holder = fh.read().strip() or "another femo"
                raise RunDirError(
                    f"{self.path} is being resumed by {holder}; wait for it "
                    f"(femo status {self.path})"
                ) from None
            fh.seek(0)
            fh.truncate()
            fh.write(f"femo (pid {os.getpid()} on {socket.gethostname()})\n")
            fh.flush()
            try:
                yield
            finally:
                fh.seek(0)
                fh.truncate()
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    # ----------------------------------------------------------------- jobs
    def submissions(self) -> list[Submission]:
        """Every submission, oldest first: ``jobs.json`` and the tasks started by hand."""
        recorded = self._recorded()
        by_hand = [
            s
            for path in sorted(self.logs_dir.glob("shard-*.job.json"))
            if (s := _read_task_record(path)) is not None
        ]
        if not by_hand:
            return recorded
        return sorted(recorded + by_hand, key=lambda s: s.submitted_at)

    def _recorded(self) -> list[Submission]:
        if not self.jobs_file.is_file():
            return []
        try:
            records = json.loads(self.jobs_file.read_text(encoding="utf-8"))
            # Records written before femo 0.3 have no submitted_at: long ago.
            return [Submission(**{"submitted_at": 0.0, **r}) for r in records]
        except (ValueError, TypeError) as exc:
            raise RunDirError(
                f"{self.jobs_file} is damaged ({str(exc).splitlines()[0]}); it records the "
                "run's submissions"
            ) from None

    def record_submission(self, submission: Submission) -> None:
        records = [asdict(s) for s in self._recorded()] + [asdict(submission)]
        write_json(self.jobs_file, records)

    def record_task(self, submission: Submission) -> None:
        """Record a scheduler task started by hand (one shard), in a file of its own:
        the tasks of an array start together, and one shared file would lose some."""
        (index,) = submission.shards
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        write_json(self.task_record(index), asdict(submission))


def _read_task_record(path: Path) -> Submission | None:
    """A by-hand task record; a damaged one (a task killed as it wrote) counts as none."""
    try:
        return Submission(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def run_name(root: Any, detector: Any, mode: Any, every_n: Any, fps: Any) -> str:
    """Readable run-folder suffix, e.g. ``dev-clips-haar-n20``."""
    dataset = Path(str(root)).name if root not in (None, "None", "") else "demo"
    sampling = f"n{every_n}" if mode == "every_n" else f"fps{fps}"
    return f"{dataset}-{detector}-{sampling}"


def claim_folder(path: str) -> str:
    """Create ``path`` (or ``path-2``, ``path-3``, ...) atomically; returns the one made.

    Two runs started in the same second in the same folder get two folders, before
    Hydra writes anything into either.
    """
    base = Path(absolute_path(path) or path)
    try:
        base.parent.mkdir(parents=True, exist_ok=True)
        for n in range(1, 10_000):
            candidate = base if n == 1 else base.with_name(f"{base.name}-{n}")
            try:
                candidate.mkdir()
                return str(candidate)
            except FileExistsError:
                continue
    except OSError as exc:
        existing = next((p for p in base.parents if p.exists()), base.parent)
        raise ConfigError(
            f"cannot write {existing}: {exc.strerror or exc}; "
            "choose a writable place for the run folders with output_root=DIR"
        ) from None
    raise ConfigError(f"cannot make a new run folder next to {base}")
