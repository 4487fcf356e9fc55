"""The run's life, in one place: prepare -> launch -> wait -> reduce, and resume.

    config --prepare--> run folder (manifest, plan, labels snapshot)
           --launch---> shard tasks to a launcher (local workers, SLURM, SGE, none)
           --wait-----> status until every shard has ended (local: always; clusters: wait=true)
           --reduce---> report/ from the shard files, no video read

Everything here takes typed configs (:mod:`femo.config`) and returns results; it
prints nothing. Progress lines go to the ``say`` callback the caller passes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import __version__
from .analysis import add_intervals, group_profiles, pick_timelines, timelines
from .config import EMOTIONS, ConfigError, RunConfig, from_dict, to_dict
from .dataset import Labels, clip_groups, discover_clips, read_labels
from .launchers import make_launcher
from .launchers.base import Launch, LaunchInterrupted
from .overrides import apply_overrides
from .reduce import (
    ClipResult,
    DamagedShard,
    ShardData,
    compute_metrics,
    frame_emotions,
    load_shards,
    mean_vote,
    reduce_clips,
)
from .report import settings_yaml, write_report
from .rundir import Plan, RunDir, RunDirError, make_plan
from .shards import read_shard_metadata
from .status import RunStatus, ShardState, read_status
from .sweep import is_sweep_dir, reuse_sweep_shards, sweep_runs, write_sweep_table
from .task import make_tasks
from .throughput import read_throughput, throughput_lines, throughput_summary

log = logging.getLogger(__name__)

Say = Callable[[str], None]

POLL_S = 10.0
# How long `launcher.wait` keeps waiting while the scheduler does not answer at all.
UNKNOWN_PATIENCE_S = 600.0


def _quiet(message: str) -> None:
    log.info(message)


class RunInterrupted(Exception):
    """A local run stopped by Ctrl-C or SIGTERM; its workers are gone."""

    def __init__(self, run_dir: Path, done: int, total: int) -> None:
        super().__init__(f"interrupted: {done} of {total} shards done")
        self.run_dir, self.done, self.total = run_dir, done, total


class IncompleteRun(Exception):
    """Every shard has ended but some are not done: no report was written."""


@dataclass
class ReduceResult:
    report_dir: Path
    metrics: dict[str, Any]


@dataclass
class RunOutcome:
    """What ``femo run`` (or a resume) did."""

    run_dir: Path
    launch: Launch
    report: ReduceResult | None = None
    reused_from: Path | None = None
    busy: int = 0  # shards still queued or running (report later)


# ------------------------------------------------------------------- prepare


def extraction_key(config: RunConfig, plan: Plan) -> str:
    """Signature of what determines a run's shards: clips, shard plan, detector, sampling.

    Runs with the same key produce identical shards, whatever their mapping or
    reduce settings, so a sweep extracts once per key.
    """
    payload = {
        "root": config.dataset.root,
        "clips": [c.video for c in plan.clips],
        "videos_per_shard": config.videos_per_shard,
        "detector": to_dict(config.detector),
        "sampling": to_dict(config.sampling),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def with_demo_dataset(config: RunConfig, say: Say) -> RunConfig:
    """``config`` with femo's embedded demo dataset where no ``dataset.root`` is set."""
    if config.dataset.root is not None:
        return config
    from .demo import ensure_demo_dataset

    root, labels = ensure_demo_dataset()
    say(f"no dataset.root given: using the demo dataset in {root}")
    return replace(config, dataset=replace(config.dataset, root=str(root), labels=str(labels)))


def prepare(config: RunConfig, run: RunDir) -> Plan:
    """Check the dataset and labels, then write a new run folder's manifest and plan.

    Every config, dataset and labels problem is raised here, before any work starts.
    """
    clips = discover_clips(config.dataset)
    if config.dataset.labels:
        labels = read_labels(config.dataset.labels, config.dataset, config.mapping, clips)
        _log_label_issues(labels)
        if not labels.by_video and not labels.unknown and labels.missing_clips:
            raise ConfigError(
                f"no label of {config.dataset.labels} names a clip under {config.dataset.root} "
                f"(e.g. {labels.missing_clips[0]!r}); its {config.dataset.video_column!r} "
                "column holds paths relative to dataset.root"
            )
    plan = make_plan(clips, config.videos_per_shard)
    run.create(plan, to_dict(config), config.dataset.labels, extraction_key(config, plan))
    log.info("%d clips in %d shard(s) -> %s", len(clips), plan.n_shards, run.path)
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


# -------------------------------------------------------------------- launch


def start_run(
    config: RunConfig, run_dir: Path, sweep_dir: Path | None = None, say: Say = _quiet
) -> RunOutcome:
    """A new run: plan it, launch its shards (or reuse a sweep sibling's), report."""
    run = RunDir(run_dir)
    config = with_demo_dataset(config, say)
    plan = prepare(config, run)
    if sweep_dir is not None:
        source = reuse_sweep_shards(run, sweep_dir)
        if source is not None:
            say(f"{run.path.name} reuses the shards of {source.name} (same extraction)")
            return _after_launch(run, config, Launch(), reused_from=source)
    return launch(run, config, make_tasks(run.path, plan, config), say)


def launch(
    run: RunDir, config: RunConfig, tasks: list, say: Say = _quiet, reported: RunDir | None = None
) -> RunOutcome:
    """Hand ``tasks`` to the configured launcher; wait and report where it waits.

    ``run`` is the run whose shards the tasks make; ``reported`` the run to report
    (a sweep point that reuses ``run``'s shards), by default ``run`` itself.
    """
    reported = reported or run
    launcher = make_launcher(config.launcher)
    try:
        launched = launcher.launch(run, tasks, say)
    except LaunchInterrupted:
        status = read_status(run, query=False)
        raise RunInterrupted(run.path, len(status.done), len(status.statuses)) from None
    if launched.instructions:  # nothing was started: the user submits
        return RunOutcome(reported.path, launched)
    if tasks and not launcher.waits:
        return RunOutcome(reported.path, launched, busy=len(tasks))
    if launched.submissions and not launcher.blocking:
        wait_for_shards(run, say)
    return _after_launch(reported, config, launched)


def _after_launch(
    run: RunDir, config: RunConfig, launched: Launch, reused_from: Path | None = None
) -> RunOutcome:
    """Report a run whose shards are all done; otherwise say what is missing."""
    status = read_status(run)
    outcome = RunOutcome(run.path, launched, reused_from=reused_from)
    if status.not_done:
        waiting = status.busy + status.unknown
        if waiting:
            outcome.busy = len(waiting)
            return outcome
        raise IncompleteRun(
            f"{len(status.not_done)} shard(s) not done; no report written. "
            f"See `femo status {run.path}`; `femo run resume={run.path}` redoes them."
        )
    outcome.report = report(run, config)
    return outcome


def wait_for_shards(run: RunDir, say: Say = _quiet, poll_s: float = POLL_S) -> RunStatus:
    """Poll until no shard is queued or running (or the scheduler stays silent too long)."""
    silent_since: float | None = None
    while True:
        status = read_status(run)
        if not status.busy and not status.unknown:
            return status
        if status.unknown and not status.busy:
            silent_since = silent_since or time.time()
            if time.time() - silent_since > UNKNOWN_PATIENCE_S:
                say(
                    f"the scheduler has not answered for {UNKNOWN_PATIENCE_S:.0f} s; "
                    f"stopped waiting (femo status {run.path} later)"
                )
                return status
        else:
            silent_since = None
        time.sleep(poll_s)


# -------------------------------------------------------------------- resume


def resume_run(run_dir: Path, overrides: list[str], say: Say = _quiet) -> RunOutcome:
    """Run again only the shards of ``run_dir`` that failed, were interrupted or never ran.

    The run's own saved config is used (its launcher included); ``overrides`` may
    change how shards are made (launcher, device, batch size) and how they are read,
    never what they hold. Queued, running and unknown shards are left alone.
    """
    run = RunDir(run_dir)
    saved = run.config_dict()
    changed = apply_overrides(saved, overrides, "resume")
    with run.resume_lock():
        return _resume(run, saved, changed, overrides, say)


def _resume(
    run: RunDir, saved: dict[str, Any], changed: dict[str, Any], overrides: list[str], say: Say
) -> RunOutcome:
    config = from_dict(changed)
    if changed != saved:
        manifest = run.read_manifest()
        manifest["config"] = to_dict(config)
        manifest.setdefault("resumed", []).append(
            {"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "overrides": overrides}
        )
        run.write_manifest(manifest)
    source = run.shards_source()
    status = read_status(run)
    redo = status.redo
    summary = (
        f"resuming {run.path}: {len(status.done)} done, {len(status.busy)} queued or running, "
        f"{len(redo)} to redo"
    )
    if status.unknown:
        summary += f", {len(status.unknown)} unknown (the scheduler did not answer; left alone)"
    say(summary)
    tasks = make_tasks(source.path, source.read_plan(), config, only=redo)
    return launch(source, config, tasks, say, reported=run)


# -------------------------------------------------------------------- reduce


@dataclass
class Member:
    """One run of an ensemble over the same clips: its detector and its chosen faces."""

    run: RunDir
    detector: str
    frame_rows: Any
    per_frame: Any


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


def _member(run: RunDir, plan: Plan, config: RunConfig) -> Member:
    """Another run over the same clips as ``plan``, read with ``config``'s face choice."""
    other = run.read_plan()
    if [c.video for c in other.clips] != [c.video for c in plan.clips]:
        raise ConfigError(f"--with {run.path}: it ran over other clips; an ensemble needs the same")
    try:
        _not_done(run, other, config.reduce.allow_partial)
    except ConfigError as exc:
        raise ConfigError(f"--with {run.path}: {exc}") from None
    shards = load_shards(run.shards_dir)
    detector = run.config().detector.name
    return Member(
        run, detector, shards.frame_rows, frame_emotions(shards.frame_rows, config.reduce)
    )


def reduce_shards(run: RunDir, config: RunConfig, with_runs: tuple[Path, ...] = ()) -> Reduced:
    """One :class:`ClipResult` per planned clip of ``run`` under ``config``.

    ``with_runs`` are runs over the same clips (another detector or sampling): their mean
    scores are averaged with this run's in the vote. A head (``reduce.head``) replaces
    the vote.
    """
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
    per_frame = frame_emotions(shards.frame_rows, config.reduce)
    groups = clip_groups(videos, config.dataset, labels)
    results = reduce_clips(
        videos, shards, labels.by_video, config.mapping, config.reduce, groups, per_frame
    )
    members = [Member(run, config.detector.name, shards.frame_rows, per_frame)]
    members += [_member(RunDir(p), plan, config) for p in with_runs]
    if config.reduce.head:
        _apply_head(config, members, results)
    elif len(members) > 1:
        _ensemble_vote(config, members, results)
    return Reduced(plan, not_done, labels, labels_file, shards, per_frame, results, members)


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
        if r.status == "no_face":  # another detector found one
            r.status = "ok"


def ensemble_features(members: list[Member], mapping: Any, videos: list[str]) -> tuple:
    """Per-clip features of every member side by side (names prefixed by run and
    detector when there are several); a clip has a face if any member found one."""
    import numpy as np

    from .fit import clip_features

    blocks, names, faces = [], [], []
    for k, m in enumerate(members):
        X, block_names, has_face = clip_features(m.frame_rows, m.per_frame, mapping, videos)
        prefix = f"{k}.{m.detector}:" if len(members) > 1 else ""
        blocks.append(X)
        names += [prefix + n for n in block_names]
        faces.append(has_face)
    return np.hstack(blocks), names, np.logical_or.reduce(faces)


def _apply_head(config: RunConfig, members: list[Member], results: list[ClipResult]) -> None:
    """Predict every clip that has a face with the head file ``reduce.head``."""
    from .fit import check_head_fits, load_head, predict_head

    try:
        head = load_head(config.reduce.head)
        videos = [r.video for r in results]
        X, names, has_face = ensemble_features(members, config.mapping, videos)
        check_head_fits(head, names, {m.detector for m in members})
        if not set(head.classes) <= set(config.mapping.classes):
            raise ValueError(
                f"the head predicts {', '.join(head.classes)}; mapping "
                f"{config.mapping.name!r} has {', '.join(config.mapping.classes)}"
            )
    except (OSError, ValueError) as exc:
        raise ConfigError(f"reduce.head: {exc}") from None
    for r, predicted in zip(results, predict_head(head, X, has_face), strict=True):
        if r.status != "missing":
            r.predict = predicted


def report(
    run: RunDir,
    config: RunConfig,
    folder: Path | None = None,
    with_runs: tuple[Path, ...] = (),
) -> ReduceResult:
    """Build the report of a run from its shards (no video is read) into ``folder``
    (default ``RUN_DIR/report``).

    Refuses a run with shards not done unless ``reduce.allow_partial``; then the
    clips of those shards are reported with status ``missing`` under a PARTIAL banner.
    """
    reduced = reduce_shards(run, config, with_runs)
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
            "groups": group_profiles(results, per_frame, config.mapping, config.report),
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
    folder = write_report(folder or run.report_dir, results, metrics, classes)
    return ReduceResult(folder, metrics)


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
        "reported_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
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
    run_dir: Path, overrides: list[str], with_runs: tuple[Path, ...] = ()
) -> ReduceResult:
    """Re-report one run with reduce-side overrides applied to its saved config, into
    ``report/`` (no overrides) or a folder named after the overrides (and the runs it
    is combined with)."""
    run = RunDir(run_dir)
    saved = run.config_dict()
    # The run's own snapshot (RUN_DIR/labels.csv) is used unless dataset.labels is given.
    saved["dataset"]["labels"] = None
    config = from_dict(apply_overrides(saved, overrides, "reduce"))
    named = overrides + [f"with={Path(p).name}" for p in with_runs]
    return report(run, config, report_folder(run, named), with_runs)


@dataclass
class SweepReduce:
    table: Path
    results: dict[Path, ReduceResult | str]  # a report, or why there is none


def reduce_sweep(sweep_dir: Path, overrides: list[str]) -> SweepReduce:
    """Re-report every run of a sweep and rewrite its sweep table."""
    results: dict[Path, ReduceResult | str] = {}
    for run in sweep_runs(sweep_dir):
        try:
            results[run] = reduce_run(run, overrides)
        except ConfigError as exc:
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


# -------------------------------------------------------------------- status


@dataclass
class StatusReport:
    run_dir: Path
    plan: Plan
    status: RunStatus
    shards_from: Path | None
    speed: list[str]
    report_file: Path | None

    def clips_in(self, state: ShardState) -> int:
        shards = set(self.status.indices(state))
        return sum(1 for k in self.plan.shard_of.values() if k in shards)


def status_report(run_dir: Path) -> StatusReport:
    """Everything ``femo status`` shows about one run."""
    run = RunDir(run_dir)
    run.read_manifest()
    plan = run.read_plan()
    status = read_status(run, plan.n_shards)
    source = run.shards_source()
    speed = throughput_lines(
        read_throughput(list(run.finished_shards().values())), len(plan.clips), plan.n_shards
    )
    report_file = run.report_dir / "report.md"
    return StatusReport(
        run.path,
        plan,
        status,
        source.path if source != run else None,
        speed,
        report_file if report_file.exists() else None,
    )


def latest_run(output_root: Path) -> Path:
    """The run under ``output_root`` (sweep points included) planned last."""
    plans = [*output_root.glob("*/*/clips.csv"), *output_root.glob("sweeps/*/*/*/clips.csv")]
    if not plans:
        raise RunDirError(f"no femo run under {output_root}; name a run folder")
    return max(plans, key=lambda p: (p.stat().st_mtime, str(p))).parent


def runs_of(target: Path) -> list[Path]:
    """The runs of a sweep folder, or the run itself."""
    if is_sweep_dir(target):
        return sweep_runs(target)
    if not target.is_dir():
        raise RunDirError(f"{target} is not a folder")
    return [target]


# ----------------------------------------------------------------------- fit


@dataclass
class FitOutcome:
    head_file: Path
    report_file: Path
    cv: dict[str, Any]
    clips: int


def fit_runs(
    run_dirs: list[Path],
    overrides: list[str],
    out: Path | None = None,
    with_runs: tuple[Path, ...] = (),
) -> FitOutcome:
    """Fit a head on the labelled clips of ``run_dirs`` (reduce-side ``overrides``, e.g.
    ``dataset.group_column=person``), estimate it by cross-validation grouped by person
    beside the study's vote on the same held-out clips, and write ``fit/head.json``
    (plain JSON) and ``fit/report.md`` into the first run (or ``out``).

    Several runs pool their clips; ``with_runs`` (one run only) put the features of runs
    over the same clips side by side (an ensemble of detectors or samplings).
    """
    import numpy as np

    from .fit import (
        cross_validate_head,
        cv_figures,
        fit_head,
        fit_report_markdown,
        save_head,
    )

    features, golden, groups, votes, faces = [], [], [], [], []
    names: list[str] = []
    classes: tuple[str, ...] | None = None
    detectors: set[str] = set()
    runs = []
    for run_dir in run_dirs:
        run = RunDir(run_dir)
        saved = run.config_dict()
        saved["dataset"]["labels"] = None
        config = from_dict(apply_overrides(saved, overrides, "reduce"))
        if config.reduce.head:
            raise ConfigError("femo fit learns a head; leave reduce.head out")
        if classes is not None and config.mapping.classes != classes:
            raise ConfigError(f"{run.path} has other classes than {run_dirs[0]}: fit them apart")
        classes = config.mapping.classes
        if with_runs and len(run_dirs) > 1:
            raise ConfigError("--with combines one run with others over the same clips")
        reduced = reduce_shards(run, config, with_runs)
        videos = [r.video for r in reduced.results]
        X, names, has_face = ensemble_features(reduced.members, config.mapping, videos)
        features.append(X)
        faces.append(has_face)
        for r in reduced.results:
            golden.append(r.golden)
            votes.append(r.predict)
            groups.append(r.group or f"{run.path}\0{r.video}")  # no person: its own group
        detectors.update(m.detector for m in reduced.members)
        runs += [
            {"run": str(m.run.path), "clips": len(videos), "detector": m.detector}
            for m in reduced.members
        ]
    assert classes is not None
    if sum(g is not None for g in golden) < 10:
        raise ConfigError("femo fit needs at least 10 labelled clips")
    X, has_face = np.vstack(features), np.concatenate(faces)
    try:
        cv = cross_validate_head(X, golden, groups, votes, classes, has_face=has_face)
        head = fit_head(X, golden, groups, classes, has_face=has_face, feature_names=names)
    except ValueError as exc:
        raise ConfigError(f"femo fit: {exc}") from None
    folder = out or (Path(run_dirs[0]) / "fit")
    provenance = {
        "runs": runs,
        "detectors": sorted(detectors),
        "labelled_clips": sum(g is not None for g in golden),
        "femo_version": __version__,
        "fer_version": _fer_version(),
        "fitted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "overrides": overrides,
        "cross_validation": cv_figures(cv),
    }
    save_head(folder / "head.json", head, provenance)
    from .rundir import write_text

    write_text(folder / "report.md", fit_report_markdown(cv))
    return FitOutcome(folder / "head.json", folder / "report.md", cv, len(golden))


def _fer_version() -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version("fer")
    except importlib.metadata.PackageNotFoundError:
        return None
