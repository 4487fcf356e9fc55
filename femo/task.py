"""The task contract: what one shard's worker is handed, and what it hands back.

A :class:`ShardTask` is all an array task or a local worker needs (small, picklable);
it is built from the run folder alone, so any shell can rebuild it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .config import ExtractConfig, RunConfig, ShardsConfig, to_dict
from .dataset import Clip
from .rundir import Plan


@dataclass(frozen=True)
class ShardTask:
    """Everything one array task needs; small and picklable."""

    run_dir: str
    index: int
    dataset_root: str
    clips: tuple[Clip, ...]
    extract: ExtractConfig
    config_json: str = "{}"
    # Clips per part file: what a rerun of a shard that died does not redo.
    part_clips: int = ShardsConfig.part_clips
    # Seconds a clip may take before its worker is stopped and the clip reported.
    clip_timeout_s: float | None = None


@dataclass
class ShardResult:
    index: int
    path: str
    clips: int
    clips_failed: int
    frames_sampled: int
    seconds: float
    startup_seconds: float = 0.0
    timing: dict[str, float] = field(default_factory=dict)


def make_tasks(
    run_dir: Path, plan: Plan, config: RunConfig, only: Iterable[int] | None = None
) -> list[ShardTask]:
    """One :class:`ShardTask` per shard of ``plan`` (or per shard in ``only``)."""
    indices = range(plan.n_shards) if only is None else only
    config_json = json.dumps(to_dict(config), sort_keys=True, default=str)
    return [
        ShardTask(
            run_dir=str(run_dir),
            index=k,
            dataset_root=str(config.dataset.root),
            clips=tuple(plan.shard_clips(k)),
            extract=config.extract,
            config_json=config_json,
            part_clips=config.shards.part_clips,
            clip_timeout_s=config.shards.clip_timeout_s,
        )
        for k in indices
    ]
