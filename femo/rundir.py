"""The run folder: everything needed to understand, check on and continue a run.

Layout::

    RUN_DIR/
      femo.json        manifest: femo version, resolved config, dataset root, shard plan size
      clips.csv        the shard plan: video, kind, shard
      labels.csv       snapshot of the labels file the run started with (if any)
      shards/          shard-<k>.parquet, one per finished shard
      logs/            shard-<k>.log, and shard-<k>.failed when a shard raised
      report/          videos.csv, metrics.json, report.md
      .hydra/          Hydra's record of the composed config and overrides
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .dataset import Clip
from .shards import assign_shards, write_atomically

MANIFEST = "femo.json"
PLAN = "clips.csv"
LABELS = "labels.csv"
LOGS = "logs"
REPORT = "report"


class RunDirError(ValueError):
    """The folder is not a femo run (or is damaged); the message says why."""


@dataclass(frozen=True)
class Plan:
    clips: list[Clip]
    shard_of: dict[str, int]
    n_shards: int

    def shard_clips(self, index: int) -> list[Clip]:
        return [c for c in self.clips if self.shard_of[c.video] == index]


def make_plan(clips: list[Clip], videos_per_shard: int) -> Plan:
    shards = assign_shards(clips, videos_per_shard)
    shard_of = {c.video: k for k, shard in enumerate(shards) for c in shard}
    return Plan(clips, shard_of, len(shards))


def _write_text(path: Path, text: str) -> None:
    def write(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")

    write_atomically(path, write)


def write_json(path: Path, data: Any) -> None:
    _write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def init_run_dir(
    run_dir: Path,
    plan: Plan,
    config: dict[str, Any],
    labels_file: str | None,
    extraction_key: str | None = None,
) -> None:
    """Write the manifest, the shard plan and the labels snapshot of a new run."""
    if (run_dir / MANIFEST).exists():
        raise RunDirError(
            f"{run_dir} already holds a femo run; use resume={run_dir} to continue it"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / LOGS).mkdir(exist_ok=True)
    rows = [{"video": c.video, "kind": c.kind, "shard": plan.shard_of[c.video]} for c in plan.clips]

    def write_plan(tmp: str) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, ["video", "kind", "shard"])
            writer.writeheader()
            writer.writerows(rows)

    write_atomically(run_dir / PLAN, write_plan)
    if labels_file:
        shutil.copyfile(labels_file, run_dir / LABELS)
    write_json(
        run_dir / MANIFEST,
        {
            "femo_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "n_clips": len(plan.clips),
            "n_shards": plan.n_shards,
            "labels_source": labels_file,
            "extraction_key": extraction_key,
            "config": config,
        },
    )


def read_manifest(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(run_dir) / MANIFEST
    if not Path(run_dir).is_dir():
        raise RunDirError(f"{run_dir} is not a folder")
    if not path.is_file():
        raise RunDirError(f"{run_dir} is not a femo run folder (no {MANIFEST})")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path} is damaged: {exc}") from None


def read_plan(run_dir: str | os.PathLike[str]) -> Plan:
    path = Path(run_dir) / PLAN
    if not path.is_file():
        raise RunDirError(f"{run_dir} has no shard plan ({PLAN})")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    clips = [Clip(r["video"], r["kind"]) for r in rows]
    shard_of = {r["video"]: int(r["shard"]) for r in rows}
    return Plan(clips, shard_of, max(shard_of.values(), default=-1) + 1)


def failed_marker(run_dir: str | os.PathLike[str], index: int) -> Path:
    return Path(run_dir) / LOGS / f"shard-{index:05d}.failed"


def log_path(run_dir: str | os.PathLike[str], index: int) -> Path:
    return Path(run_dir) / LOGS / f"shard-{index:05d}.log"
