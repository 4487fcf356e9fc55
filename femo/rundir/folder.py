"""A run folder: :class:`RunDir` builds every path in it, and reads and writes what the run
keeps there (its manifest; its plan through :mod:`.plan`, its job records through
:mod:`.jobs`). Layout::

    RUN_DIR/
      femo.json        manifest: femo version, config (femo.config.to_dict shape), plan size
      clips.csv        the shard plan: video, kind, shard (and a segment's start_frame,
                       end_frame, start_s, end_s: femo.segments)
      labels.csv       snapshot of the labels file the run started with (if any)
      references.parquet  the reference photos' embeddings (dataset.references)
      shards/          shard-<k>.parquet, one per finished shard
      logs/            shard-<k>.log; shard-<k>.failed when a shard raised;
                       shard-<k>.running while a process works on it;
                       shard-<k>.job.json: the scheduler task that ran it by hand
      jobs.json        every submission: launcher, array id, shards, job ids
      jobs/            submitit's job folder (cluster launchers)
      report/          the report (ReportFolder); report-<overrides>/ for a re-reduce;
                       a segmented run's over-time/<video>.png timelines
      fit/             femo fit's head and report (FitFolder); fit/tune/: femo fit --tune's
      .hydra/          Hydra's record of the composed config and overrides
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import RunConfig, from_dict, from_saved, to_dict
from ..overrides import Command, apply_overrides, names_key
from ..shard_files import Footer, finished_shards, numbered, read_footer, shard_name, shard_stem
from .files import RunDirError, timestamp, write_json
from .jobs import (
    Submission,
    add_submission,
    read_submissions,
    read_task_records,
    write_task_record,
)
from .outputs import MANIFEST, REPORT, FitFolder, ReportFolder, SweepFolder
from .plan import Plan, read_plan, write_plan

PLAN = "clips.csv"
LABELS = "labels.csv"
SHARDS = "shards"
LOGS = "logs"
FIT = "fit"
JOBS_FILE = "jobs.json"
JOBS_DIR = "jobs"
HYDRA_DIR = ".hydra"
# What Hydra writes into a run folder before femo plans it (a run refused by its checks
# leaves only these, and is removed).
HYDRA_FILES = frozenset({HYDRA_DIR, "femo.log", LOGS})


@contextlib.contextmanager
def held_lock(path: Path, run_path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` for as long as the block runs; held by another femo,
    it is refused with one line naming the holder."""
    with open(path, "a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "another femo"
            raise RunDirError(
                f"{run_path} is being resumed by {holder}; wait for it (femo status {run_path})"
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

    @property
    def report(self) -> ReportFolder:
        """The run's own report (its saved settings)."""
        return ReportFolder(self.report_dir)

    def sheet_file(self, video: str) -> Path:
        """``report/sheets/<clip>.png``: ``femo show``'s contact sheet of a clip."""
        return self.report.sheet_file(video)

    @property
    def hydra_overrides_file(self) -> Path:
        """The overrides Hydra composed the run from (a sweep point's own)."""
        return self.path / HYDRA_DIR / "overrides.yaml"

    @property
    def array_scripts(self) -> tuple[Path, Path]:
        """``launcher=none``'s plain sbatch and qsub array scripts."""
        return self.path / "femo-array.sbatch", self.path / "femo-array.qsub"

    def holds_only_hydra_files(self) -> bool:
        """Whether nothing but what Hydra writes before femo plans a run is here (a run
        refused by its checks; removed so it leaves no folder behind)."""
        if self.manifest_file.exists():
            return False
        return not ({p.name for p in self.path.iterdir()} - HYDRA_FILES)

    def report_dir_for(self, changes: Sequence[str]) -> Path:
        """``report/`` for the run's own settings; ``report-<changes>/`` for any other (the
        overrides and ``with=RUN`` of a re-reduce), so that a re-reduce never overwrites the
        run's default report. A path is named by its last component and a hash of the
        path as given (``dataset.references=../refs``: ``refs-<6 hex>``): heads are all
        ``head.json``. A long name keeps its start and a hash of the whole."""
        if not changes:
            return self.report_dir
        named = "_".join(_path_by_name(change) for change in changes)
        slug = re.sub(r"[^A-Za-z0-9._,+-]+", "-", named).strip("-")
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
        write_plan(self.plan_file, plan)
        if labels_file:
            shutil.copyfile(labels_file, self.labels_file)
        self.write_manifest(
            {
                "femo_version": __version__,
                "created": timestamp(),
                "n_clips": plan.n_clips,
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
        return read_plan(self.plan_file, self.path)

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
        for other in SweepFolder(sweep_dir).point_folders():
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

    def resume_lock(self) -> contextlib.AbstractContextManager[None]:
        """Held while one femo resumes this run; a second one is refused, not queued."""
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        return held_lock(self.path / ".resume.lock", self.path)

    # ----------------------------------------------------------------- jobs
    def submissions(self) -> list[Submission]:
        """Every submission, oldest first: ``jobs.json`` and the tasks started by hand."""
        recorded = read_submissions(self.jobs_file)
        by_hand = read_task_records(sorted(self.logs_dir.glob("shard-*.job.json")))
        if not by_hand:
            return recorded
        return sorted(recorded + by_hand, key=lambda s: s.submitted_at)

    def record_submission(self, submission: Submission) -> None:
        add_submission(self.jobs_file, submission)

    def record_task(self, submission: Submission) -> None:
        """Record a scheduler task started by hand (one shard), in a file of its own."""
        (index,) = submission.shards
        write_task_record(self.task_record(index), submission)


def _path_by_name(change: str) -> str:
    """``key=some/dir/name`` as ``key=name-<6 hex of the path>``; any other change as it is."""
    key, sep, value = change.partition("=")
    if "/" not in value and os.sep not in value:
        return change
    name = Path(value.rstrip("/" + os.sep)).name or "root"
    return f"{key}{sep}{name}-{hashlib.sha256(value.encode()).hexdigest()[:6]}"
