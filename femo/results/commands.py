"""``femo reduce``: a run (or every run of a sweep) reported again from its shards, with
the settings it was made with or with reduce-side overrides, into a folder of its own.

The one order every report is made in: open the run (:func:`~femo.results.run.open_run`),
build the report model once (:func:`~femo.results.build.build_report`), draw the contact
sheets of a few clips (the only video read), write every file
(:func:`~femo.results.write.write_report`).
"""

from __future__ import annotations

import contextlib
import errno
import gc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError
from ..rundir import RunDir, RunDirError
from .build import build_report
from .model import ReduceResult
from .run import Embed, OpenRun, open_run
from .sheets.section import sheets_section
from .sweep import sweep_runs, write_sweep_table
from .write import write_report

# What a full disk (or a spent quota) answers a write.
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class NoSpaceForReport(RunDirError):
    """The report could not be written for want of space; the run's shards are intact."""


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector paused while a run is read and reported (and let run
    after): the labels, shard rows and report model are hundreds of thousands of small
    objects per 100,000 clips, none in a cycle, and the collector's passes over a heap
    growing by them cost a second at that scale."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def report_run(
    run: OpenRun, folder: Path | None = None, with_runs: tuple[Path, ...] = ()
) -> ReduceResult:
    """Build the report of an opened run and write it into ``folder`` (default
    ``RUN_DIR/report``). Refuses a run with shards not done unless
    ``reduce.allow_partial``; then their clips are reported ``missing`` under a PARTIAL
    banner."""
    with collector_paused():
        report = build_report(run, with_runs)
        sheets = sheets_section(report, run)
        folder = folder or run.folder.report_dir
        try:
            written = write_report(report, folder, sheets)
        except OSError as exc:
            if exc.errno not in _DISK_FULL:
                raise
            # The folder, not the file: a failed write names a temp file or nothing at all.
            raise NoSpaceForReport(
                f"cannot write the report into {folder}: {exc.strerror or exc}; the shards are "
                f"kept: once there is space, femo reduce {run.path} rebuilds the report"
            ) from None
        return ReduceResult(written, report)


def report_changes(overrides: list[str], with_runs: tuple[Path, ...] = ()) -> list[str]:
    """What sets a re-reduce apart from the run's own report: the overrides (but the one
    allowing a partial report) and the runs it is combined with."""
    named = overrides + [f"with={Path(p).name}" for p in with_runs]
    return [o for o in named if not o.split("=")[0].endswith("allow_partial")]


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
    with collector_paused():
        run = open_run(run_dir, overrides, "reduce", embed, read_ahead=True)
        folder = out or run.folder.report_dir_for(report_changes(overrides, with_runs))
        return report_run(run, folder, with_runs)


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
    report_name = RunDir(sweep_dir).report_dir_for(report_changes(overrides)).name
    return SweepReduce(write_sweep_table(sweep_dir, status_of, report_name), results)
