"""femo's command line: ``femo run``, ``reduce``, ``status``, ``fit``, ``bench``, ``show``
and ``export`` (:data:`COMMANDS`).

It parses arguments, hands them to :mod:`femo.pipeline`, prints what comes back and
turns every expected failure into one ``femo: error:`` line. It is the only module
that sees Hydra's ``DictConfig``.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

from . import __version__
from .config import ConfigError, absolute_path, conf_dir, from_dict
from .launchers.base import SubmissionError
from .launchers.settings import register_defaults
from .overrides import check_run_overrides, expand_home, run_hydra
from .results.pages.formatting import partial_text, percent, summary_text
from .rundir import RunDir, RunDirError, claim_folder, run_name
from .status import ShardState

log = logging.getLogger("femo")
# Every femo command logs so, on stderr: Hydra's runs too (conf/config.yaml, hydra.*_logging).
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"

# Keys of Hydra's composed config that belong to the command line, not to the run.
ENTRY_KEYS = ("output_root", "resume", "hydra")


def say(message: str) -> None:
    print(f"femo: {message}", flush=True)


def _fail(message: str, code: int = 2) -> None:
    print(f"femo: error: {message}", file=sys.stderr)
    raise SystemExit(code)


# What a read-only or foreign place gives when femo writes into it.
_UNWRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


@contextlib.contextmanager
def _writing(hint: str) -> Any:
    """An unwritable place as one line naming the path and ``hint`` (what would help)."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in _UNWRITABLE:
            raise
        path = exc.filename
        if path and os.path.exists(path) and not os.access(path, os.R_OK):
            _fail(f"cannot read {path}: {exc.strerror}")  # not a place to write, then
        _fail(f"cannot write {path}: {exc.strerror}; {hint}")


def _check_writable(folder: Path) -> None:
    """Raise the OSError that writing into ``folder`` (or its nearest parent) would."""
    existing = next((p for p in (folder, *folder.parents) if p.exists()), folder)
    if not os.access(existing, os.W_OK):
        code = errno.EROFS if os.statvfs(existing).f_flag & os.ST_RDONLY else errno.EACCES
        raise OSError(code, os.strerror(code), str(existing))


def _interrupted(exc: Any) -> None:
    print(
        f"femo: interrupted: {exc.done} of {exc.total} shards done; "
        f"continue with femo run resume={exc.run_dir}",
        file=sys.stderr,
    )
    raise SystemExit(130)


# --------------------------------------------------------------------------- run


def _run_task(cfg: Any) -> None:
    """Hydra's task function for ``femo run``: one run (one point of a sweep)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    from .pipeline import start_run

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir).resolve()
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN

    def start() -> Any:
        container = OmegaConf.to_container(cfg, resolve=True)
        for key in ENTRY_KEYS:
            container.pop(key, None)
        config = from_dict(container, base_dir=os.getcwd())
        return start_run(config, run_dir, run_dir.parent if in_sweep else None, say)

    _print_outcome(_run_or_fail(start, lambda: _remove_if_empty_run(run_dir), run_dir))


def _run_or_fail(action: Any, cleanup: Any = lambda: None, run_dir: Path | None = None) -> Any:
    """``action()``'s outcome; every expected failure becomes one line and an exit.

    A submission the scheduler refuses leaves a planned run folder (``run_dir``) behind:
    the line then says how to continue it.
    """
    from .pipeline import IncompleteRun, RunInterrupted

    try:
        return action()
    except (ConfigError, RunDirError) as exc:
        cleanup()
        _fail(str(exc))
    except SubmissionError as exc:
        cleanup()
        message = f"the scheduler refused the submission: {exc}"
        if run_dir is not None and RunDir(run_dir).manifest_file.is_file():
            message += (
                f"; the run folder is kept: fix the setting, then "
                f"femo run resume={run_dir} launcher.KEY=VALUE"
            )
        _fail(message)
    except IncompleteRun as exc:
        _fail(str(exc), code=1)
    except RunInterrupted as exc:
        _interrupted(exc)


def _remove_if_empty_run(run_dir: Path) -> None:
    """A run that failed its checks leaves no folder behind (only Hydra's files were there)."""
    if run_dir.is_dir() and RunDir(run_dir).holds_only_hydra_files():
        shutil.rmtree(run_dir, ignore_errors=True)
        with contextlib.suppress(OSError):  # the date folder, when this was its only run
            run_dir.parent.rmdir()


def _print_outcome(outcome: Any) -> None:
    run = RunDir(outcome.run_dir)
    for k, error in sorted(outcome.launch.failures.items()):
        print(f"femo: shard {k} failed: {error} (log: {run.log_file(k)})", file=sys.stderr)
    for line in outcome.launch.instructions:
        say(line)
    if outcome.report is not None:
        _print_summary(outcome.report)
    elif outcome.busy:
        say(f"run folder: {run.path}")
        say(f"check on it:   femo status {run.path}")
        say(f"report, later: femo reduce {run.path} ({outcome.busy} shard(s) queued or running)")


def _print_summary(result: Any) -> None:
    """The console's lines about a report (a ``ReduceResult``): its answer and its files."""
    metrics, report_dir = result.metrics, result.report_dir
    say(summary_text(metrics, result.report.scores_the_person))
    if metrics.partial:
        say(partial_text(metrics))
    partial = " (PARTIAL: some shards are not done)" if metrics.partial else ""
    say(f"report: {report_dir / 'index.html'}{partial}")
    say(f"        {report_dir / 'report.md'} (for a terminal)")


def _resume(target: str, overrides: list[str]) -> int:
    """``femo run resume=RUN_DIR [overrides]``: no Hydra app, so no new folder anywhere."""
    from .pipeline import resume_run

    if any(a in ("-m", "--multirun") or a.startswith("hydra.") for a in overrides):
        _fail("resume= takes plain overrides (no -m, no hydra.*)")
    overrides = [o for o in overrides if not o.startswith("output_root=")]
    run_dir = Path(absolute_path(target) or target)
    hint = "femo run resume= continues a run in its own folder: make it writable, or resume a copy"
    with _writing(hint):
        _print_outcome(_run_or_fail(lambda: resume_run(run_dir, overrides, say), run_dir=run_dir))
    return 0


def cmd_run(argv: list[str]) -> int:
    import hydra
    from hydra._internal.utils import get_args_parser
    from omegaconf import OmegaConf

    argv = expand_home(argv)
    resume = [a for a in argv if a.split("=", 1)[0].lstrip("+") == "resume"]
    if resume and resume[-1].split("=", 1)[1] not in ("", "null", "''"):
        rest = [a for a in argv if a not in resume]
        return _resume(resume[-1].split("=", 1)[1].strip("'"), rest)
    try:
        check_run_overrides(get_args_parser().parse_args(argv).overrides)
    except ConfigError as exc:
        _fail(str(exc))
    OmegaConf.register_new_resolver("femo_run_name", run_name, replace=True)
    OmegaConf.register_new_resolver("femo_claim", claim_folder, replace=True, use_cache=True)
    register_defaults()
    # Hydra reads its overrides from sys.argv; hand it only what follows `run`.
    sys.argv = ["femo", *argv]
    main = hydra.main(config_path=str(conf_dir()), config_name="config", version_base="1.3")(
        _run_task
    )
    try:
        run_hydra(main)
    except ConfigError as exc:
        _fail(str(exc))
    return 0


# ------------------------------------------------------------------------ reduce


def _add_with(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument(
        "--with",
        dest="with_runs",
        action="append",
        type=Path,
        default=[],
        metavar="OTHER_RUN",
        help=help_text,
    )


def cmd_reduce(argv: list[str]) -> int:
    from .pipeline import embed_references
    from .results.commands import reduce_run, reduce_sweep
    from .results.sweep import is_sweep_dir

    parser = argparse.ArgumentParser(
        prog="femo reduce",
        description="Rebuild the report of a run (or of every run of a sweep) from its shards.",
    )
    parser.add_argument(
        "run_dir", nargs="?", help="a run folder, or a sweep folder (default: the newest run)"
    )
    parser.add_argument(
        "overrides", nargs="*", help="mapping=seven, reduce.face=largest, dataset.label_column=..."
    )
    parser.add_argument(
        "--allow-partial", action="store_true", help="report even if some shards are not done"
    )
    parser.add_argument(
        "--output-root", type=Path, default=Path("outputs"), help="where to look for the newest run"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for the report (default: in the run folder)"
    )
    _add_with(parser, "combine with a run over the same clips (another detector or sampling)")
    # Hydra-style overrides may come before or after the options.
    args = parser.parse_intermixed_args(argv)
    overrides = list(args.overrides) + (["reduce.allow_partial=true"] if args.allow_partial else [])
    hint = "write the report elsewhere with --out DIR"
    try:
        if args.run_dir is not None and "=" in args.run_dir and not Path(args.run_dir).is_dir():
            overrides.insert(0, args.run_dir)  # `femo reduce mapping=seven`: the newest run
            args.run_dir = None
        target = _run_or_latest(args.run_dir, args.output_root)
        with_runs = tuple(p.resolve() for p in args.with_runs)
        if target in with_runs:
            raise ConfigError(f"--with {target}: that is the run being reported; name another run")
        if is_sweep_dir(target):
            if args.out is not None:
                raise ConfigError("--out takes a run folder, not a sweep folder")
            with _writing("reduce its runs one by one with --out DIR"):
                swept = reduce_sweep(target, overrides, embed_references)
            for run, result in swept.results.items():
                if isinstance(result, str):
                    say(f"{run.name}: not reported: {result}")
                else:
                    say(f"{run.name}: accuracy {percent(result.metrics.accuracy)}")
            say(f"sweep table: {swept.table}")
            return 0
        with _writing(hint):
            result = reduce_run(target, overrides, with_runs, args.out, embed_references)
    except (ConfigError, RunDirError) as exc:
        _fail(str(exc))
    _print_summary(result)
    return 0


def _run_or_latest(run_dir: str | None, output_root: Path) -> Path:
    """The named run folder, or the newest run under ``output_root`` (and say which)."""
    from .pipeline import latest_run

    if run_dir is not None:
        return Path(run_dir).resolve()
    latest = latest_run(output_root.resolve())
    say(f"the newest run under {output_root}: {latest}")
    return latest


# ---------------------------------------------------------------------------- fit


def cmd_fit(argv: list[str]) -> int:
    from .results.fit.command import fit_runs
    from .results.fit.report import fit_lines
    from .tune.command import add_tune_arguments, tune_lines, tune_only

    parser = argparse.ArgumentParser(
        prog="femo fit",
        description="Learn a head on the labelled clips of one or more runs, scored by "
        "cross-validation grouped by person against the study's vote.",
    )
    parser.add_argument("run_dirs", nargs="+", help="run folders, then overrides")
    parser.add_argument("--out", type=Path, default=None, help="folder for head.json")
    _add_with(parser, "features of a run over the same clips, side by side (an ensemble)")
    parser.add_argument(
        "--no-mesh",
        dest="mesh",
        action="store_false",
        help="fit on the scores alone, even on runs made with landmarks=mesh",
    )
    add_tune_arguments(parser)
    args = parser.parse_intermixed_args(argv)
    runs = [Path(a).resolve() for a in args.run_dirs if "=" not in a or Path(a).is_dir()]
    overrides = [a for a in args.run_dirs if "=" in a and not Path(a).is_dir()]
    if (flag := tune_only(args)) and not args.tune:
        _fail(f"{flag} goes with --tune")
    try:
        with _writing("write the head elsewhere with --out DIR"):
            if args.tune:  # fer's network tuned, here or as one cluster job
                lines = tune_lines(args, runs, overrides, say, _check_writable)
            else:
                if runs:  # before the cross-validation, which may take a while
                    _check_writable((args.out or RunDir(runs[0]).fit.path).resolve())
                with_runs = tuple(p.resolve() for p in args.with_runs)
                lines = fit_lines(
                    fit_runs(runs, overrides, args.out, with_runs, use_mesh=args.mesh)
                )
    except (ConfigError, RunDirError, SubmissionError) as exc:
        _fail(str(exc))
    for line in lines:
        say(line)
    return 0


def cmd_export(argv: list[str]) -> int:
    from .results.api import export_frames

    parser = argparse.ArgumentParser(
        prog="femo export", description="A run's results as a table for other tools."
    )
    parser.add_argument("run_dir", help="a run folder")
    parser.add_argument(
        "--frames", type=Path, required=True, metavar="OUT", help="out.parquet or out.csv: "
        "one row per sampled frame and face, with the clip's label and group",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        with _writing("choose a writable place for --frames"):
            rows = export_frames(Path(args.run_dir), args.frames)
    except (ConfigError, RunDirError) as exc:
        _fail(str(exc))
    say(f"{rows} frame rows: {args.frames}")
    return 0


# ------------------------------------------------------------------------ status


def cmd_status(argv: list[str]) -> int:
    from .pipeline import runs_of, status_report

    parser = argparse.ArgumentParser(
        prog="femo status", description="Shards done, queued, running and failed."
    )
    parser.add_argument(
        "run_dir", nargs="?", help="a run folder, or a sweep folder (default: the newest run)"
    )
    parser.add_argument(
        "--output-root", type=Path, default=Path("outputs"), help="where to look for the newest run"
    )
    args = parser.parse_args(argv)
    try:
        for run in runs_of(_run_or_latest(args.run_dir, args.output_root)):
            _print_status(status_report(run))
    except (ConfigError, RunDirError) as exc:
        _fail(str(exc))
    return 0


def _print_status(report: Any) -> None:
    statuses = report.status.statuses
    print(f"run: {report.run_dir}")
    if report.shards_from:
        print(f"shards from: {report.shards_from}")
    print(
        f"shards: {report.plan.n_shards} planned, "
        + ", ".join(f"{report.status.count(s)} {s.label}" for s in ShardState)
    )
    print(
        f"clips:  {report.plan.n_clips} planned, "
        + ", ".join(f"{report.clips_in(s)} {s.label}" for s in ShardState)
    )
    for line in report.speed:
        print(line)
    for s in statuses:
        if s.state != ShardState.DONE:
            detail = f"  shard {s.index:5d} {s.state.value:13s} job {s.job_id or '-'}"
            if s.error:
                detail += f"  {s.error}"
            if s.state == ShardState.FAILED:
                detail += f"  (log: {s.log})"
            print(detail)
    print(f"report: {report.report_file or 'not written yet'}")


# -------------------------------------------------------------------------- show


def cmd_show(argv: list[str]) -> int:
    from .pipeline import embed_references
    from .results.sheets.show import show_clip

    parser = argparse.ArgumentParser(
        prog="femo show",
        description="A contact sheet of one clip's sampled frames: every face box, the "
        "scored face marked with its top emotion and score, frames without a face.",
    )
    parser.add_argument("run_dir", type=Path, help="a run folder")
    parser.add_argument("clip", help="the clip, as its path under dataset.root (or file name)")
    parser.add_argument(
        "overrides", nargs="*", help="reduce-side settings, e.g. reduce.face=largest"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="PNG to write (default RUN_DIR/report/sheets/)"
    )
    args = parser.parse_intermixed_args(argv)
    try:
        path = show_clip(
            args.run_dir.resolve(), args.clip, args.out, args.overrides, embed_references
        )
    except (ConfigError, RunDirError) as exc:
        _fail(str(exc))
    print(path)
    return 0


# -------------------------------------------------------------------------- main


def cmd_bench(argv: list[str]) -> int:
    from .bench import main as bench_main

    return bench_main(argv)


COMMANDS = {
    "run": cmd_run,
    "reduce": cmd_reduce,
    "status": cmd_status,
    "fit": cmd_fit,
    "bench": cmd_bench,
    "show": cmd_show,
    "export": cmd_export,
}


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM stops femo as Ctrl-C does


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not argv or argv[0] in ("-h", "--help"):
        print(
            "usage: femo {run,reduce,status,fit,bench,show,export} ...\n\n"
            "  femo run [hydra overrides]          extract every shard, then write the report\n"
            "  femo run resume=RUN_DIR [overrides] redo the shards not done (launcher, device, ...)\n"
            "  femo reduce RUN_DIR [overrides]     rebuild the report from existing shards (--out DIR)\n"
            "  femo status RUN_DIR                 shards and clips done, failed, not done\n"
            "  femo fit RUN_DIR... [overrides]     learn a head on labelled clips (head.json)\n"
            "  femo bench [--help]                 femo against fer and the detector's floor\n"
            "  femo show RUN_DIR CLIP [--out PNG]  the clip's frames, boxes and scored faces\n"
            "  femo export RUN_DIR --frames OUT    frames with labels, as .parquet or .csv\n\n"
            "  femo run --help                     config groups and values"
        )
        return 0
    if argv[0] == "--version":
        print(f"femo {__version__}")
        return 0
    command = COMMANDS.get(argv[0])
    if command is None:
        _fail(f"unknown command {argv[0]!r} (known: {', '.join(COMMANDS)})")
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return command(argv[1:])
    except KeyboardInterrupt:
        print("femo: interrupted", file=sys.stderr)
        return 130
