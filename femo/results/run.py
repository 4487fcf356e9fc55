"""A run folder opened once for the results side: the settings it is reported with, its
plan, its labels (read by one rule), its reference faces and its shard rows.

Every reader of a run (``femo reduce``, ``femo show``, ``femo export``, ``femo fit``, the
report's contact sheets) starts from :func:`open_run`, so each file is read once and each
rule lives here:

- the labels: ``dataset.labels`` where an override names a file, else the run's own
  snapshot (``RUN_DIR/labels.csv``), else none;
- the reference faces: none without ``dataset.references``; the run's own
  ``references.parquet`` where it was made from that folder; else the photos embedded
  now by the entry point's ``embed`` (references given after extraction);
- the shard rows: every finished file read once, each clip from the file that wins it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import ConfigError, RunConfig
from ..dataset import Labels, Segment, read_labels
from ..overrides import Command, names_key
from ..rundir import Plan, RunDir
from ..shard_files import owning_shard

if TYPE_CHECKING:
    from .shard_rows import ShardData

# Embeds the reference photos of ``config.dataset.references`` for the labelled persons
# (the node's work, handed in by the entry point: femo.pipeline.embed_references).
Embed = Callable[[RunConfig, dict[str, str]], Any]


@dataclass
class OpenRun:
    """One run folder, read: settings, plan, labels; shard rows and references on first use."""

    folder: RunDir
    manifest: dict[str, Any]
    config: RunConfig
    plan: Plan
    labels: Labels = field(default_factory=Labels)
    embed: Embed | None = None
    # The frame columns the shard rows keep (None: the report's, shard_rows.FRAME_COLUMNS).
    frame_columns: Sequence[str] | None = None

    @property
    def path(self) -> Path:
        return self.folder.path

    @property
    def labels_file(self) -> str | None:
        """The labels file this run is read with (None: no labels)."""
        return self.config.dataset.labels

    @property
    def videos(self) -> list[str]:
        """Every planned clip's id, in plan order."""
        return self.plan.videos

    @functools.cached_property
    def spans(self) -> dict[str, Segment]:
        """A segmented run's segments by clip id (empty for whole files)."""
        if not self.plan.segmented:
            return {}
        return {c.video: c.segment for c in self.plan.clips if c.segment is not None}

    @property
    def persons(self) -> dict[str, str]:
        """Each clip's labelled person (``dataset.person_column``)."""
        return self.labels.persons

    @functools.cached_property
    def finished(self) -> dict[int, Path]:
        """Shard index -> file of every finished shard."""
        return self.folder.finished_shards()

    @property
    def not_done(self) -> list[int]:
        """The planned shards without a finished file."""
        return [k for k in range(self.plan.n_shards) if k not in self.finished]

    @functools.cached_property
    def shards(self) -> ShardData:
        """Every finished shard's rows, read once; a damaged file is one ConfigError line."""
        from .shard_rows import DamagedShard

        pending: Future[ShardData] | None = self.__dict__.pop("_reading", None)
        try:
            return pending.result() if pending is not None else self._read_shards()
        except DamagedShard as exc:
            raise ConfigError(
                f"{exc}; femo run resume={self.path} redoes that shard, nothing else"
            ) from None

    def read_shards_ahead(self) -> None:
        """Start reading the shard rows on a thread of their own, so that they are read
        while the caller reads the rest (the Parquet decoding lets go of the GIL);
        :attr:`shards` waits for them."""
        if "shards" in self.__dict__ or "_reading" in self.__dict__:
            return
        reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="femo-shards")
        self.__dict__["_reading"] = reader.submit(self._read_shards)
        reader.shutdown(wait=False)

    def _read_shards(self) -> ShardData:
        from .shard_rows import FRAME_COLUMNS, load_shards

        return load_shards(list(self.finished.values()), self.frame_columns or FRAME_COLUMNS)

    def over(self, folder: RunDir) -> OpenRun:
        """Another run's folder read as this one is: its plan and shards, with this run's
        settings, labels and reference faces (a run of an ensemble over the same clips)."""
        manifest, plan = folder.check(labels_given=True)
        other = OpenRun(folder, manifest, self.config, plan, self.labels, self.embed)
        other.frame_columns = self.frame_columns
        other.__dict__["references"] = self.references  # read once, shared
        return other

    @functools.cached_property
    def references(self) -> Any:
        """The reference faces this run is read with (a table), or None."""
        folder = self.config.dataset.references
        if not folder:
            return None
        own = self.folder.references_file
        if own.is_file():
            import pyarrow.parquet as pq

            table = pq.read_table(own)
            made_from = (table.schema.metadata or {}).get(b"references")
            # A references.parquet older than that record came from the run's saved folder.
            saved = (self.manifest["config"].get("dataset") or {}).get("references")
            if (made_from.decode() if made_from else saved) == folder:
                return table
        if self.embed is None:
            raise ConfigError(
                f"dataset.references {folder} are not the run's own reference photos; "
                "femo reduce and femo show embed others"
            )
        return self.embed(self.config, self.persons)

    def owner_file(self, video: str) -> Path | None:
        """The finished shard file that wins ``video`` (None: no finished file holds it):
        from the rows where they were read, else by reading clip rows file by file. A
        file that cannot be read is a ValueError naming it."""
        if "shards" in self.__dict__:
            rows = self.shards.clip_rows
            if video not in rows.index:
                return None
            return self.shards.shard_files[int(rows.at[video, "_shard"])]
        owner = owning_shard(self.finished, video)
        return None if owner is None else self.finished[owner]

    def check_done(self) -> None:
        """Refuse a run with shards not done, unless ``reduce.allow_partial``."""
        not_done = self.not_done
        if not_done and not self.config.reduce.allow_partial:
            raise ConfigError(
                f"{len(not_done)} of {self.plan.n_shards} shard(s) are not done "
                f"({ranges(not_done)}); wait for them, resume the run, or report what is "
                "there with --allow-partial (reduce.allow_partial=true)"
            )


def open_run(
    path: str | Path | RunDir,
    overrides: Sequence[str] = (),
    command: Command = "reduce",
    embed: Embed | None = None,
    frame_columns: Sequence[str] | None = None,
    config: RunConfig | None = None,
    read_ahead: bool = False,
) -> OpenRun:
    """Open a run folder for reading; a damaged folder or a bad override is one line.

    Reads the manifest, the plan and the labels once (``overrides`` are those ``command``
    may change); shard rows and reference faces are read on first use. ``config``: the
    settings to read it with as they are (those ``femo run`` just ran it with), instead
    of its saved ones with ``overrides``. ``read_ahead``: start reading the shard rows
    at once, beside the labels (for a caller that reads them all anyway), unless shards
    are not done and the report will refuse them.
    """
    folder = path if isinstance(path, RunDir) else RunDir(path)
    given = config is not None or names_key(list(overrides), "dataset.labels")
    manifest, plan = folder.check(labels_given=given)
    if config is None:
        config = folder.report_config(overrides, command, manifest)
    run = OpenRun(folder, manifest, config, plan, Labels(), embed, frame_columns)
    if read_ahead and (config.reduce.allow_partial or not run.not_done):
        run.read_shards_ahead()
    if config.dataset.labels:
        segments = plan.clips if plan.segmented else []
        run.labels = read_labels(
            config.dataset.labels, config.dataset, config.mapping, segments, plan.videos
        )
    return run


def ranges(indices: list[int]) -> str:
    """[0, 1, 2, 5] -> '0-2, 5'."""
    parts: list[str] = []
    for k in indices:
        if parts and k == int(parts[-1].split("-")[-1]) + 1:
            parts[-1] = f"{parts[-1].split('-')[0]}-{k}"
        else:
            parts.append(str(k))
    return ", ".join(parts)
