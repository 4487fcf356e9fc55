"""From shards to a report: the reduce stage's orchestration, for one run or a sweep.

:func:`reduce_shards` makes one result per clip from a run's shard files (combined with
other runs over the same clips, or predicted by a head, where asked); :func:`report`
writes the report files; :func:`reduce_run` re-reports a run with other settings.
No video is read here, but for the contact sheets of a few clips (``report.sheets``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import EMOTIONS, ConfigError, RunConfig, to_dict
from ..dataset import Labels, clip_groups, read_labels, unmatched_pattern
from ..rundir import Plan, RunDir, RunDirError, timestamp
from ..shards import read_shard_metadata
from .analysis import (
    add_intervals,
    clip_profiles,
    group_profiles,
    pick_timelines,
    predicted_summary,
    timelines,
)
from .faces.choice import Embed, chosen_emotions, load_references, read_persons
from .pages.method import labels_text, method_text
from .reduce import (
    WITHOUT_FACE,
    ClipResult,
    DamagedShard,
    ShardData,
    compute_metrics,
    load_shards,
    mean_vote,
    reduce_clips,
    segment_timelines,
)
from .report import settings_yaml, write_report
from .sheets.section import sheets_section
from .sweep import sweep_runs, write_sweep_table
from .throughput import throughput_summary

log = logging.getLogger(__name__)

# Per-clip profiles of unlabelled clips on the page: those with the most faces.
CLIP_PROFILES = 60


@dataclass
class ReduceResult:
    report_dir: Path
    metrics: dict[str, Any]


@dataclass
class Member:
    """One run of an ensemble over the same clips: its detector and its chosen faces."""

    run: RunDir
    detector: str
    frame_rows: Any
    per_frame: Any
    shards: ShardData | None = None


@dataclass
class Reduced:
    """What the reduce stage makes of one run (and the runs it is combined with)."""

    plan: Plan
    not_done: list[int]
    labels: Labels
    labels_file: str | None
    shards: ShardData
    per_frame: Any
    results: list[ClipResult]
    members: list[Member]
    identities: dict[str, Any] | None = None
    references: Any = None  # the reference faces read (a table), or None


def _not_done(run: RunDir, plan: Plan, allow_partial: bool) -> list[int]:
    finished = run.finished_shards()
    not_done = [k for k in range(plan.n_shards) if k not in finished]
    if not_done and not allow_partial:
        raise ConfigError(
            f"{len(not_done)} of {plan.n_shards} shard(s) are not done "
            f"({_ranges(not_done)}); wait for them, resume the run, or report what is there "
            "with --allow-partial (reduce.allow_partial=true)"
        )
    return not_done


def _member(run: RunDir, plan: Plan, config: RunConfig, references: Any = None) -> Member:
    """Another run over the same clips as ``plan``, read with ``config``'s face choice
    (and the reference faces of the run it is combined with)."""
    run.check(labels_given=True)
    other = run.read_plan()
    if [c.video for c in other.clips] != [c.video for c in plan.clips]:
        raise ConfigError(f"--with {run.path}: it ran over other clips; an ensemble needs the same")
    try:
        _not_done(run, other, config.reduce.allow_partial)
    except ConfigError as exc:
        raise ConfigError(f"--with {run.path}: {exc}") from None
    shards = load_shards(run.shards_dir)
    detector = run.config().detector.name
    persons = read_persons(run, config, other)
    per_frame, _ = chosen_emotions(run, shards, config, persons, references)
    return Member(run, detector, shards.frame_rows, per_frame, shards)


def reduce_shards(
    run: RunDir, config: RunConfig, with_runs: tuple[Path, ...] = (), embed: Embed | None = None
) -> Reduced:
    """One :class:`ClipResult` per planned clip of ``run`` under ``config``.

    ``with_runs`` are runs over the same clips (another detector or sampling): their mean
    scores are averaged with this run's in the vote. A head (``reduce.head``) replaces
    the vote. ``embed`` embeds reference photos that are not the run's own
    (:func:`~femo.results.faces.choice.load_references`).
    """
    config.check_identity()
    plan = run.read_plan()
    not_done = _not_done(run, plan, config.reduce.allow_partial)
    labels = Labels()
    labels_file = config.dataset.labels or (
        str(run.labels_file) if run.labels_file.is_file() else None
    )
    if labels_file:
        labels = read_labels(labels_file, config.dataset, config.mapping, plan.clips)
    videos = [c.video for c in plan.clips]
    try:
        shards = load_shards(run.shards_dir)
    except DamagedShard as exc:
        raise ConfigError(
            f"{exc}; femo run resume={run.path} redoes that shard, nothing else"
        ) from None
    references = load_references(run, config, labels.persons, embed)
    per_frame, identities = chosen_emotions(run, shards, config, labels.persons, references)
    groups = clip_groups(videos, config.dataset, labels)
    if warning := unmatched_pattern(videos, config.dataset, groups):
        log.warning(warning)
    results = reduce_clips(
        videos,
        shards,
        labels.by_video,
        config.mapping,
        config.reduce,
        groups,
        per_frame,
        labels.persons,
    )
    members = [Member(run, config.detector.name, shards.frame_rows, per_frame, shards)]
    members += [_member(RunDir(p), plan, config, references) for p in with_runs]
    if config.reduce.head:
        _apply_head(config, members, results)
    elif len(members) > 1:
        _ensemble_vote(config, members, results)
    return Reduced(
        plan, not_done, labels, labels_file, shards, per_frame, results, members, identities,
        references,
    )  # fmt: skip


def _ensemble_vote(config: RunConfig, members: list[Member], results: list[ClipResult]) -> None:
    """The top emotion of each clip's mean scores averaged over the runs that found a face."""
    import pandas as pd

    means = [m.per_frame.groupby("video")[list(EMOTIONS)].mean() for m in members]
    combined = pd.concat(means).groupby(level=0).mean()
    predicted = mean_vote(combined.reset_index(), config.mapping)
    for r in results:
        if r.status == "missing" or r.video not in predicted:
            continue
        r.predict = predicted[r.video]
        if r.status in WITHOUT_FACE:  # another detector found one
            r.status = "ok"


def ensemble_features(members: list[Member], mapping: Any, videos: list[str]) -> tuple:
    """Per-clip features of every member side by side (names prefixed by run and
    detector when there are several); a clip has a face if any member found one."""
    import numpy as np

    from .fit.features import clip_features

    blocks, names, faces = [], [], []
    for k, m in enumerate(members):
        X, block_names, has_face = clip_features(m.frame_rows, m.per_frame, mapping, videos)
        prefix = f"{k}.{m.detector}:" if len(members) > 1 else ""
        blocks.append(X)
        names += [prefix + n for n in block_names]
        faces.append(has_face)
    return np.hstack(blocks), names, np.logical_or.reduce(faces)


def member_meshes(member: Member, videos: list[str]) -> Any:
    """The clips' mean meshes of the scored faces (clips, 1404; NaN rows: none), or None
    for a run made without ``landmarks=mesh``."""
    from .fit.mesh import clip_meshes

    if member.shards is None or not member.run.config().landmarks.active:
        return None
    shards = member.shards
    return clip_meshes(shards.shard_files, shards.clip_rows, member.per_frame, videos)


def _apply_head(config: RunConfig, members: list[Member], results: list[ClipResult]) -> None:
    """Predict every clip that has a face with the head file ``reduce.head``."""
    from .fit.headfile import check_head_fits, load_head
    from .fit.model import predict_head

    try:
        head = load_head(config.reduce.head)
        videos = [r.video for r in results]
        X, names, has_face = ensemble_features(members, config.mapping, videos)
        mesh = member_meshes(members[0], videos) if head.mesh is not None else None
        if head.mesh is not None:
            names += head.mesh.names
        classifiers = {m.run.config().classifier.identity for m in members}
        check_head_fits(head, names, {m.detector for m in members}, classifiers)
        if not set(head.classes) <= set(config.mapping.classes):
            raise ValueError(
                f"the head predicts {', '.join(head.classes)}; mapping "
                f"{config.mapping.name!r} has {', '.join(config.mapping.classes)}"
            )
    except (OSError, ValueError) as exc:
        raise ConfigError(f"reduce.head: {exc}") from None
    try:
        predictions = predict_head(head, X, has_face, mesh)
    except ValueError as exc:
        raise ConfigError(f"reduce.head: {exc}") from None
    for r, predicted in zip(results, predictions, strict=True):
        if r.status != "missing":
            r.predict = predicted


def report(
    run: RunDir,
    config: RunConfig,
    folder: Path | None = None,
    with_runs: tuple[Path, ...] = (),
    embed: Embed | None = None,
) -> ReduceResult:
    """Build the report of a run from its shards into ``folder`` (default
    ``RUN_DIR/report``); video is read only for the contact sheets (``report.sheets``).

    Refuses a run with shards not done unless ``reduce.allow_partial``; then the
    clips of those shards are reported with status ``missing`` under a PARTIAL banner.
    """
    reduced = reduce_shards(run, config, with_runs, embed)
    plan, not_done, labels, labels_file = (
        reduced.plan, reduced.not_done, reduced.labels, reduced.labels_file
    )  # fmt: skip
    shards, per_frame, results = reduced.shards, reduced.per_frame, reduced.results
    classes = config.mapping.classes
    metrics = compute_metrics(results, classes, config.reduce.no_face)
    add_intervals(metrics, results, classes, config.report, config.reduce.no_face)
    config_dict = to_dict(config)
    metrics.update(
        {
            "partial": bool(not_done),
            "classes": list(classes),
            "emotions": list(EMOTIONS),
            "unlabelled": [r.video for r in results if r.golden is None],
            "missing_clips": labels.missing_clips,
            "unknown_labels": labels.unknown,
            "shards": {
                "planned": plan.n_shards,
                "done": plan.n_shards - len(not_done),
                "not_done": not_done,
            },
            "clips_in_several_shards": shards.duplicates,
            "labels_file": labels_file,
            "predicted": predicted_summary(results, per_frame, config.mapping),
            "clip_profiles": clip_profiles(results, per_frame, config.mapping, CLIP_PROFILES),
            **described(run, config_dict, reduced, labels_file),
            "groups": group_profiles(results, per_frame, config.mapping, config.report),
            "identities": reduced.identities,
            "timelines": timelines(
                shards.frame_rows, per_frame, pick_timelines(results, config.report.timelines)
            ),
            "provenance": provenance(run, shards.shard_files, config, labels_file),
            "fit": _fit_summary(run),
            "settings_yaml": settings_yaml(config_dict),
            "config": config_dict,
            "throughput": throughput_summary(shards.shard_files, len(plan.clips), plan.n_shards),
        }
    )
    spans = {c.video: c.segment for c in plan.clips if c.segment is not None}
    if spans:  # a segmented run: its videos over time
        metrics["over_time"] = segment_timelines(results, spans)
    sheets = sheets_section(run, config, plan, results, reduced.references)
    folder = write_report(folder or run.report_dir, results, metrics, classes, sheets, spans)
    return ReduceResult(folder, metrics)


def _head_provenance(path: str | None) -> dict[str, Any] | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))["provenance"] if path else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def described(
    run: RunDir, config: dict[str, Any], reduced: Reduced, labels_file: str | None
) -> dict[str, str]:
    """The report's ``method`` line and ``labels`` line (the file given, and the snapshot)."""
    members = [(m.run.path.name, m.detector) for m in reduced.members[1:]]
    head = _head_provenance(config["reduce"].get("head"))
    given = run.read_manifest().get("labels_source")
    snapshot = str(run.labels_file) if run.labels_file.is_file() else None
    return {
        "method": method_text(config, head, members),
        "labels_line": labels_text(given, labels_file, snapshot),
    }


def _fit_summary(run: RunDir) -> dict[str, Any] | None:
    """The cross-validated figures of the head ``femo fit`` left in this run, if any."""
    head_file = run.path / "fit" / "head.json"
    try:
        data = json.loads(head_file.read_text(encoding="utf-8"))
        figures = data["provenance"]["cross_validation"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {"head_file": str(head_file), **figures}


def provenance(
    run: RunDir, shard_files: list[Path], config: RunConfig, labels_file: str | None
) -> dict[str, Any]:
    """Who made the shards and from what: versions, model hash, data, dates."""
    meta = read_shard_metadata(shard_files[0]) if shard_files else {}
    manifest = run.read_manifest()
    return {
        "femo_version": meta.get("femo_version", manifest.get("femo_version")),
        "fer_version": meta.get("fer_version"),
        "emotion_model_sha256": meta.get("emotion_model_sha256"),
        "dataset_root": config.dataset.root,
        "labels_file": labels_file,
        "label_column": config.dataset.label_column,
        "run_created": manifest.get("created"),
        "reported_at": timestamp(),
        "report_by": __version__,
    }


def report_folder(run: RunDir, overrides: list[str]) -> Path:
    """``report/`` for the run's own settings; ``report-<overrides>/`` for any other, so
    that a re-reduce never overwrites the run's default report."""
    changes = [o for o in overrides if not o.split("=")[0].endswith("allow_partial")]
    if not changes:
        return run.report_dir
    slug = re.sub(r"[^A-Za-z0-9._,+-]+", "-", "_".join(changes)).strip("-")
    if len(slug) > 80:
        slug = slug[:60] + "-" + hashlib.sha256(slug.encode()).hexdigest()[:8]
    return run.path / f"report-{slug}"


def reduce_run(
    run_dir: Path,
    overrides: list[str],
    with_runs: tuple[Path, ...] = (),
    out: Path | None = None,
    embed: Embed | None = None,
) -> ReduceResult:
    """Re-report one run with reduce-side overrides applied to its saved config, into
    ``out`` if given (nothing is written into the run folder), else ``report/`` (no
    overrides) or a folder named after the overrides (and the runs it is combined with)."""
    run = RunDir(run_dir)
    config = run.report_config(overrides)
    named = overrides + [f"with={Path(p).name}" for p in with_runs]
    return report(run, config, out or report_folder(run, named), with_runs, embed)


@dataclass
class SweepReduce:
    table: Path
    results: dict[Path, ReduceResult | str]  # a report, or why there is none


def reduce_sweep(sweep_dir: Path, overrides: list[str], embed: Embed | None = None) -> SweepReduce:
    """Re-report every run of a sweep and rewrite its sweep table."""
    results: dict[Path, ReduceResult | str] = {}
    for run in sweep_runs(sweep_dir):
        try:
            results[run] = reduce_run(run, overrides, embed=embed)
        except (ConfigError, RunDirError) as exc:  # one damaged point must not stop the rest
            results[run] = str(exc)
    status_of = {
        r: "done" if isinstance(v, ReduceResult) else "incomplete" for r, v in results.items()
    }
    report_name = report_folder(RunDir(sweep_dir), overrides).name
    return SweepReduce(write_sweep_table(sweep_dir, status_of, report_name), results)


def _ranges(indices: list[int]) -> str:
    """[0, 1, 2, 5] -> '0-2, 5'."""
    parts: list[str] = []
    for k in indices:
        if parts and k == int(parts[-1].split("-")[-1]) + 1:
            parts[-1] = f"{parts[-1].split('-')[0]}-{k}"
        else:
            parts.append(str(k))
    return ", ".join(parts)
