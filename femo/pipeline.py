"""The run's life, in one place: prepare -> launch -> wait -> reduce, and resume.

    config --prepare--> run folder (manifest, plan, labels snapshot)
           --launch---> shard tasks to a launcher (local workers, SLURM, SGE, none)
           --wait-----> status until every shard has ended (local: always; clusters: wait=true)
           --reduce---> report/ from the shard files, no video read (femo.results.commands)

Everything here takes typed configs (:mod:`femo.config`) and returns results; it
prints nothing. Progress lines go to the ``say`` callback the caller passes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import CLASSIFIERS, ConfigError, RunConfig, from_dict, from_saved, to_dict
from .dataset import Labels, clip_groups, discover_clips, read_labels, unmatched_pattern
from .launchers import launcher_config, make_launcher
from .launchers.base import Launch, LaunchInterrupted
from .launchers.local import gpu_visible
from .overrides import apply_overrides
from .results.throughput import (
    DEFAULT_SECONDS_PER_CLIP,
    DEFAULT_STARTUP_S,
    add_timing,
    clips_per_task,
    read_throughput,
    throughput_lines,
    time_left_line,
)
from .rundir import Plan, RunDir, RunDirError, make_plan, timestamp
from .segments import plan_segments
from .status import RunStatus, ShardState, read_status
from .task import make_tasks

if TYPE_CHECKING:
    from .results.model import ReduceResult

log = logging.getLogger(__name__)

Say = Callable[[str], None]

# How often `femo run` reads the shards' status while it waits for the jobs.
STATUS_POLL_S = 10.0
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
class RunOutcome:
    """What ``femo run`` (or a resume) did."""

    run_dir: Path
    launch: Launch
    report: ReduceResult | None = None
    reused_from: Path | None = None
    busy: int = 0  # shards still queued or running (report later)


# ------------------------------------------------------------------- prepare


def extraction_key(config: RunConfig, plan: Plan) -> str:
    """Signature of what determines a run's shards: clips, shard plan, detector, sampling,
    classifier, identities, landmarks.

    Runs with the same key produce identical shards, whatever their mapping or
    reduce settings, so a sweep extracts once per key.
    """
    payload = {
        "root": config.dataset.root,
        "clips": [c.video for c in plan.clips],
        "videos_per_shard": config.videos_per_shard,
        "detector": to_dict(config.detector),
        "sampling": to_dict(config.sampling),
        "classifier": to_dict(config.classifier),
        "identity": to_dict(config.identity),
    }
    spans = [[c.segment.start_frame, c.segment.end_frame] for c in plan.clips if c.segment]
    if spans:  # a segment's id names its start only; runs of other ends differ
        payload["spans"] = spans
    if config.landmarks.active:  # runs without landmarks keep their keys
        payload["landmarks"] = to_dict(config.landmarks)
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def with_demo_dataset(config: RunConfig, say: Say) -> RunConfig:
    """``config`` with femo's embedded demo dataset where no ``dataset.root`` is set."""
    if config.dataset.root is not None:
        return config
    from .demo import ensure_demo_dataset

    root, labels = ensure_demo_dataset()
    say(f"no dataset.root given: using the demo dataset in {root}")
    return replace(config, dataset=replace(config.dataset, root=str(root), labels=str(labels)))


def with_shard_size(config: RunConfig, say: Say) -> RunConfig:
    """``config`` with ``shards.videos_per_shard`` chosen for ``shards.target_minutes``
    per array task (the seconds per clip of ``shards.timed_by``'s finished shards, else
    femo's default), said in one line; unchanged without a target."""
    shards = config.shards
    if shards.target_minutes is None:
        return config
    per_clip, startup = DEFAULT_SECONDS_PER_CLIP, DEFAULT_STARTUP_S
    source = "femo's default, from the dev clips; shards.timed_by=RUN_DIR measures yours"
    if shards.timed_by is not None:
        timed = RunDir(Path(shards.timed_by))
        if not timed.manifest_file.is_file():
            raise ConfigError(f"shards.timed_by={timed.path} is not a femo run folder")
        measured = read_throughput(list(timed.finished_shards().values()))
        if measured.seconds_per_clip is None:
            raise ConfigError(f"shards.timed_by={timed.path} has no finished shard to time")
        per_clip, startup = measured.seconds_per_clip, measured.startup_per_task
        source = f"measured over {measured.clips} clips of {timed.path.name}"
    chosen = clips_per_task(60 * shards.target_minutes, per_clip, startup)
    say(
        f"shards.videos_per_shard={chosen}: about {shards.target_minutes:g} min per task "
        f"(shards.target_minutes) at {per_clip:.2f} s per clip and {startup:.2f} s of "
        f"model loading ({source})"
    )
    return replace(config, shards=replace(shards, videos_per_shard=chosen))


def with_model_hash(config: RunConfig) -> RunConfig:
    """``config`` with the classifier's settings as a run records them (its entry's
    ``plan``: a custom classifier's file checked against its spec and its SHA-256
    recorded, a one-line ConfigError before any clip is read where they do not fit)."""
    entry = CLASSIFIERS.require(config.classifier.name)
    return replace(config, classifier=entry.planned(config.classifier))


def check_device(config: RunConfig) -> None:
    """``device=gpu`` for shards run on this machine, which shows no GPU: refused."""
    if config.device == "gpu" and config.launcher.name == "local" and not gpu_visible():
        raise ConfigError(
            "device=gpu but this machine shows no GPU (no /dev/nvidia*); use device=auto "
            "(a GPU where there is one) or device=cpu, or a launcher whose nodes have GPUs"
        )


def prepare(config: RunConfig, run: RunDir) -> Plan:
    """Check the dataset and labels, then write a new run folder's manifest and plan.

    Every config, dataset and labels problem is raised here, before any work starts.
    """
    # Each plug-in's runtime and model files are installed (its entry's preflight); the
    # identity's last, after the settings that need it are checked.
    *plugins, (identity, settings) = config.extract.plugins
    for entry, section in plugins:
        entry.check_installed(section)
    config.check_identity()
    identity.check_installed(settings)
    clips = discover_clips(config.dataset)
    if config.dataset.labels or config.dataset.segment_s or config.dataset.segment_frames:
        from .node.video import probe

        clips = plan_segments(clips, config.dataset, probe)
    labels = Labels()
    if config.dataset.labels:
        labels = read_labels(config.dataset.labels, config.dataset, config.mapping, clips)
        if not labels.by_video and not labels.unknown and labels.missing_clips:
            raise ConfigError(
                f"no label of {config.dataset.labels} names a clip under {config.dataset.root} "
                f"(e.g. {labels.missing_clips[0]!r}); its {config.dataset.video_column!r} "
                "column holds paths relative to dataset.root"
            )
        _log_label_issues(labels)  # after the error: a refused run says one line
    references = None
    if config.dataset.references:
        from .node.references import plan_references

        dataset = config.dataset
        references = plan_references(
            dataset.references, dataset.image_extensions, labels.persons, dataset.person_column
        )
    plan = make_plan(clips, config.videos_per_shard)
    run.create(plan, to_dict(config), config.dataset.labels, extraction_key(config, plan))
    if references is not None:
        from .node.references import write_references

        write_references(run.references_file, references)
    log.info("%d clips in %d shard(s) -> %s", len(clips), plan.n_shards, run.path)
    return plan


def embed_references(config: RunConfig, persons: dict[str, str]) -> Any:
    """The reference photos of ``config.dataset.references`` embedded, for a report whose
    references were not embedded when its run was planned (``femo reduce RUN
    dataset.references=DIR``): the table a run planned with them holds."""
    from .node.identity import check_installed
    from .node.references import plan_references

    check_installed()
    dataset = config.dataset
    return plan_references(
        dataset.references, dataset.image_extensions, persons, dataset.person_column
    )


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
    launcher_config(config.launcher)  # bad launcher settings fail before any work starts
    check_device(config)
    config = with_shard_size(with_demo_dataset(with_model_hash(config), say), say)
    plan = prepare(config, run)
    videos = [c.video for c in plan.clips]
    if warning := unmatched_pattern(
        videos, config.dataset, clip_groups(videos, config.dataset, Labels())
    ):
        say(f"warning: {warning}")
    if sweep_dir is not None:
        source = run.reuse_shards(sweep_dir)
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
        failed = [s for s in status.statuses if s.state == ShardState.FAILED]
        first = f" Shard {failed[0].index} failed: {failed[0].error}." if failed else ""
        raise IncompleteRun(
            f"{len(status.not_done)} shard(s) not done; no report written.{first} "
            f"See `femo status {run.path}`; `femo run resume={run.path}` redoes them."
        )
    # The results side (pandas, the pages) only where a report is written: status stays light.
    from .results.commands import report_run
    from .results.run import open_run

    outcome.report = report_run(open_run(run, embed=embed_references, config=config))
    return outcome


def wait_for_shards(run: RunDir, say: Say = _quiet, poll_s: float = STATUS_POLL_S) -> RunStatus:
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
    # The report reads the run's own labels snapshot, as femo reduce does, not a labels
    # file that may have changed since the run was planned.
    for_report = run.report_config(overrides, "resume")
    saved = run.config_dict()
    changed = apply_overrides(saved, overrides, "resume")
    check_device(from_dict(changed))
    with run.resume_lock():
        return _resume(run, saved, changed, for_report, overrides, say)


def _resume(
    run: RunDir,
    saved: dict[str, Any],
    changed: dict[str, Any],
    for_report: RunConfig,
    overrides: list[str],
    say: Say,
) -> RunOutcome:
    config = from_dict(changed)
    launcher_config(config.launcher)  # checked before the manifest changes
    if changed != saved:
        manifest = run.read_manifest()
        manifest["config"] = to_dict(config)
        manifest.setdefault("resumed", []).append({"at": timestamp(), "overrides": overrides})
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
    return launch(source, for_report, tasks, say, reported=run)


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
        return sum(self.plan.shard_sizes[k] for k in shards)


def status_report(run_dir: Path) -> StatusReport:
    """Everything ``femo status`` shows about one run."""
    run = RunDir(run_dir)
    manifest, plan = run.check()
    footers = run.shard_footers()
    status = read_status(run, plan.n_shards, footers=footers)
    source = run.shards_source()
    measured = add_timing(f.metadata for f in footers.values())
    left = len(status.not_done)
    at_once = _shards_at_once(from_saved(manifest["config"]), left)
    # The speed lines, without their what-if estimate for an array of every shard at once.
    speed = [*throughput_lines(measured, plan.n_clips, plan.n_shards)[:2]]
    speed.append(time_left_line(measured, left, at_once))
    report_file = run.report.markdown
    return StatusReport(
        run.path,
        plan,
        status,
        source.path if source != run else None,
        speed,
        report_file if report_file.exists() else None,
    )


def _shards_at_once(config: RunConfig, left: int) -> int:
    """How many of ``left`` shards run side by side: local workers, or the array's cap."""
    return make_launcher(config.launcher).shards_at_once(left)


def latest_run(output_root: Path) -> Path:
    """The run under ``output_root`` (sweep points included) planned last."""
    plans = [*output_root.glob("*/*/clips.csv"), *output_root.glob("sweeps/*/*/*/clips.csv")]
    if not plans:
        raise RunDirError(f"no femo run under {output_root}; name a run folder")
    return max(plans, key=lambda p: (p.stat().st_mtime, str(p))).parent


def runs_of(target: Path) -> list[Path]:
    """The runs of a sweep folder, or the run itself."""
    from .results.sweep import is_sweep_dir, sweep_runs

    if is_sweep_dir(target):
        return sweep_runs(target)
    if not target.is_dir():
        raise RunDirError(f"{target} is not a folder")
    return [target]
