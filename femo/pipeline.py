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
from .rundir import (
    LABELS,
    Plan,
    failed_marker,
    init_run_dir,
    log_path,
    make_plan,
    read_manifest,
    read_plan,
)
from .shards import finished_shards
from .throughput import read_throughput, throughput_lines, wall_time_estimate

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
    init_run_dir(run_dir, plan, config_dict, config.dataset.labels, extraction_key(config, plan))
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
        log.warning(
            "%d label(s) outside the mapping are treated as unlabelled", len(labels.unknown)
        )


def shard_tasks(
    run_dir: Path,
    plan: Plan,
    config: RunConfig,
    config_dict: dict[str, Any],
    only: list[int] | None = None,
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
class ShardStatus:
    index: int
    state: str  # done | pending | running | failed | not_submitted
    job_id: str | None = None
    error: str | None = None
    log: str | None = None


@dataclass
class ShardStates:
    done: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    missing: list[int] = field(default_factory=list)
    statuses: list[ShardStatus] = field(default_factory=list)


def shards_source(run_dir: Path) -> Path:
    """The run whose jobs make this run's shards (itself, or a sweep sibling it reuses)."""
    try:
        source = read_manifest(run_dir).get("shards_from")
    except Exception:  # noqa: BLE001 - a bare folder in tests: itself
        source = None
    return Path(source) if source else run_dir


def shard_states(run_dir: Path, n_shards: int, query_scheduler: bool = True) -> ShardStates:
    """Each shard's state: done (its file exists), pending/running (the scheduler says
    so), failed (with the error line and log), or not submitted.

    A cluster task that has left the queue without writing its shard failed: the shard
    file is renamed into place before the task exits, so nothing is waited on forever.
    """
    from .launchers.cluster import (
        LIVE_STATES,
        last_error_line,
        latest_job_of_shard,
        load_submissions,
        scheduler_states,
        task_log_paths,
    )

    source = shards_source(run_dir)
    finished = finished_shards(run_dir)
    submissions = load_submissions(source)
    jobs = latest_job_of_shard(submissions)
    live = scheduler_states(submissions) if (query_scheduler and submissions) else {}
    states = ShardStates()
    for k in range(n_shards):
        job_id = jobs[k][1] if k in jobs else None
        marker = failed_marker(source, k)
        if k in finished:
            status = ShardStatus(k, "done", job_id)
        elif job_id and live.get(job_id, "").upper() in LIVE_STATES:
            state = "running" if live[job_id].upper() == "RUNNING" else "pending"
            status = ShardStatus(k, state, job_id)
        elif marker.exists():
            lines = marker.read_text(encoding="utf-8").strip().splitlines()
            status = ShardStatus(
                k, "failed", job_id, lines[-1] if lines else "failed", str(log_path(source, k))
            )
        elif job_id:
            out, err = task_log_paths(source, job_id)
            scheduler = live.get(job_id)
            reason = last_error_line(err) or last_error_line(out)
            error = (
                reason
                or "the task ended without writing its shard (killed, or out of time or memory?)"
            )
            if scheduler:
                error = f"{scheduler}: {error}"
            status = ShardStatus(k, "failed", job_id, error, str(err))
        else:
            status = ShardStatus(k, "not_submitted")
        states.statuses.append(status)
        if status.state == "done":
            states.done.append(k)
        elif status.state == "failed":
            states.failed[k] = status.error or "failed"
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
    labels_file = dataset.labels or (
        str(run_dir / LABELS) if (run_dir / LABELS).is_file() else None
    )
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
            "throughput": throughput_summary(shards.shard_files, len(plan.clips), plan.n_shards),
        }
    )
    folder = write_report(run_dir, results, metrics, mapping.classes)
    return ReduceResult(folder, metrics)


def throughput_summary(shard_files: list[Path], clips: int, tasks: int) -> dict[str, Any]:
    """Measured speed of a run's finished shards, and the wall time it predicts."""
    total = read_throughput(shard_files)
    summary: dict[str, Any] = total.as_dict()
    summary["lines"] = throughput_lines(total, clips, tasks)
    if total.seconds_per_clip is not None:
        summary["estimate"] = wall_time_estimate(
            total.seconds_per_clip, total.startup_s / total.shards, clips, tasks
        )
    return summary


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


def extraction_key(config: RunConfig, plan: Plan) -> str:
    """Signature of what determines a run's shards: clips, shard plan, detector, sampling.

    Runs with the same key produce identical shards, whatever their mapping or
    reduce settings, so a sweep extracts once per key.
    """
    import hashlib

    payload = {
        "root": config.dataset.root,
        "clips": [c.video for c in plan.clips],
        "videos_per_shard": config.videos_per_shard,
        "detector": to_dict(config.extract.detector),
        "sampling": to_dict(config.extract.sampling),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def reuse_sweep_shards(run_dir: Path, sweep_dir: Path) -> bool:
    """Point this run's shards at an earlier sweep point with the same extraction key.

    Returns True when a source was found: ``RUN_DIR/shards`` becomes a symlink to the
    source's shards and the manifest records ``shards_from``; nothing is queued.
    """
    from .rundir import MANIFEST, write_json

    manifest = read_manifest(run_dir)
    key = manifest.get("extraction_key")
    for other in sorted(p.parent for p in sweep_dir.glob(f"*/{MANIFEST}")):
        if other == run_dir:
            continue
        theirs = read_manifest(other)
        if theirs.get("extraction_key") == key and not theirs.get("shards_from"):
            (run_dir / "shards").symlink_to(
                Path("..") / other.name / "shards", target_is_directory=True
            )
            (other / "shards").mkdir(exist_ok=True)
            manifest["shards_from"] = str(other)
            write_json(run_dir / MANIFEST, manifest)
            return True
    return False
