"""The pipeline's orchestration: plan a run, hand its shards to a launcher, reduce it.

Stages take typed configs (:mod:`femo.config`), never Hydra objects.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import ConfigError, DatasetConfig, MappingConfig, ReduceConfig, RunConfig, to_dict
from .dataset import Labels, discover_clips, read_labels
from .extract import ShardTask
from .reduce import compute_metrics, load_shards, reduce_clips
from .report import write_report
from .rundir import LABELS, Plan, failed_marker, init_run_dir, make_plan, read_manifest, read_plan
from .shards import finished_shards

log = logging.getLogger(__name__)


def prepare_run(config: RunConfig, run_dir: Path, config_dict: dict[str, Any]) -> Plan:
    """Check the dataset and labels, then write a new run folder's manifest and plan.

    Every config, dataset and labels problem is raised here, before any work starts.
    """
    clips = discover_clips(config.dataset)
    if config.dataset.labels:
        labels = read_labels(config.dataset.labels, config.dataset, config.mapping, clips)
        _log_label_issues(labels)
    plan = make_plan(clips, config.videos_per_shard)
    init_run_dir(run_dir, plan, config_dict, config.dataset.labels)
    log.info("%d clips in %d shard(s) -> %s", len(clips), plan.n_shards, run_dir)
    return plan


def _log_label_issues(labels: Labels) -> None:
    if labels.missing_clips:
        log.warning(
            "%d labelled clip(s) are not in the dataset: %s",
            len(labels.missing_clips),
            ", ".join(labels.missing_clips[:5]) + (" ..." if len(labels.missing_clips) > 5 else ""),
        )
    if labels.unknown:
        log.warning("%d label(s) outside the mapping are treated as unlabelled", len(labels.unknown))


def shard_tasks(
    run_dir: Path, plan: Plan, config: RunConfig, config_dict: dict[str, Any], only: list[int] | None = None
) -> list[ShardTask]:
    """One :class:`ShardTask` per shard (or per shard in ``only``)."""
    indices = range(plan.n_shards) if only is None else only
    config_json = json.dumps(config_dict, sort_keys=True, default=str)
    return [
        ShardTask(
            run_dir=str(run_dir),
            index=k,
            dataset_root=str(config.dataset.root),
            clips=tuple(plan.shard_clips(k)),
            extract=config.extract,
            config_json=config_json,
        )
        for k in indices
    ]


@dataclass
class ShardStates:
    done: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    missing: list[int] = field(default_factory=list)


def shard_states(run_dir: Path, n_shards: int) -> ShardStates:
    """Which shards of a run are done, failed (with their error line) or not there yet."""
    finished = finished_shards(run_dir)
    states = ShardStates()
    for k in range(n_shards):
        if k in finished:
            states.done.append(k)
        elif failed_marker(run_dir, k).exists():
            lines = failed_marker(run_dir, k).read_text(encoding="utf-8").strip().splitlines()
            states.failed[k] = lines[-1] if lines else "failed"
        else:
            states.missing.append(k)
    return states


@dataclass
class ReduceResult:
    report_dir: Path
    metrics: dict[str, Any]


def reduce_run(
    run_dir: Path,
    dataset: DatasetConfig,
    mapping: MappingConfig,
    reduce: ReduceConfig,
    config_dict: dict[str, Any],
) -> ReduceResult:
    """Build the report of a run from its shards (no video is read).

    Refuses a run with shards not done unless ``reduce.allow_partial``; then the
    clips of those shards are reported with status ``missing``.
    """
    plan = read_plan(run_dir)
    states = shard_states(run_dir, plan.n_shards)
    not_done = sorted([*states.missing, *states.failed])
    if not_done and not reduce.allow_partial:
        raise ConfigError(
            f"{len(not_done)} of {plan.n_shards} shard(s) are not done ({_ranges(not_done)}); "
            "wait for them, resume the run, or pass reduce.allow_partial=true"
        )
    labels = Labels()
    labels_file = dataset.labels or (str(run_dir / LABELS) if (run_dir / LABELS).is_file() else None)
    if labels_file:
        labels = read_labels(labels_file, dataset, mapping, plan.clips)
    shards = load_shards(run_dir)
    results = reduce_clips([c.video for c in plan.clips], shards, labels.by_video, mapping, reduce)
    metrics = compute_metrics(results, mapping.classes)
    metrics.update(
        {
            "unlabelled": [r.video for r in results if r.golden is None],
            "missing_clips": labels.missing_clips,
            "unknown_labels": labels.unknown,
            "shards": {"planned": plan.n_shards, "done": len(states.done), "not_done": not_done},
            "clips_in_several_shards": shards.duplicates,
            "labels_file": labels_file,
            "config": config_dict,
        }
    )
    folder = write_report(run_dir, results, metrics, mapping.classes)
    return ReduceResult(folder, metrics)


def _ranges(indices: list[int]) -> str:
    """[0, 1, 2, 5] -> '0-2, 5'."""
    parts: list[str] = []
    for k in indices:
        if parts and k == int(parts[-1].split("-")[-1]) + 1:
            parts[-1] = f"{parts[-1].split('-')[0]}-{k}"
        else:
            parts.append(str(k))
    return ", ".join(parts)


def run_config_dict(config: RunConfig) -> dict[str, Any]:
    return to_dict(config)


def manifest_config(run_dir: Path) -> dict[str, Any]:
    return read_manifest(run_dir)["config"]
