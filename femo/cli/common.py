"""What every femo command shares: its lines (``femo: ...`` on stdout, one
``femo: error:`` line on stderr and an exit), unwritable places as one line, the
newest run, and the console's lines about a report."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
from pathlib import Path
from typing import Any

from ..results.pages.formatting import in_sample_text, partial_text, summary_text

# Every femo command logs so, on stderr: Hydra's runs too (conf/config.yaml, hydra.*_logging).
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


def say(message: str) -> None:
    """One ``femo: message`` line on stdout."""
    print(f"femo: {message}", flush=True)


def fail(message: str, code: int = 2) -> None:
    """One ``femo: error: message`` line on stderr, then exit ``code``."""
    print(f"femo: error: {message}", file=sys.stderr)
    raise SystemExit(code)


# What a read-only or foreign place gives when femo writes into it.
_UNWRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


@contextlib.contextmanager
def writing(hint: str) -> Any:
    """An unwritable place as one line naming the path and ``hint`` (what would help)."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in _UNWRITABLE:
            raise
        path = exc.filename
        if path and os.path.exists(path) and not os.access(path, os.R_OK):
            fail(f"cannot read {path}: {exc.strerror}")  # not a place to write, then
        fail(f"cannot write {path}: {exc.strerror}; {hint}")


def check_writable(folder: Path) -> None:
    """Raise the OSError that writing into ``folder`` (or its nearest parent) would."""
    existing = next((p for p in (folder, *folder.parents) if p.exists()), folder)
    if not os.access(existing, os.W_OK):
        code = errno.EROFS if os.statvfs(existing).f_flag & os.ST_RDONLY else errno.EACCES
        raise OSError(code, os.strerror(code), str(existing))


def add_with(parser: argparse.ArgumentParser, help_text: str) -> None:
    """The ``--with OTHER_RUN`` option (repeatable)."""
    parser.add_argument(
        "--with",
        dest="with_runs",
        action="append",
        type=Path,
        default=[],
        metavar="OTHER_RUN",
        help=help_text,
    )


def run_or_latest(run_dir: str | None, output_root: Path) -> Path:
    """The named run folder, or the newest run under ``output_root`` (and say which)."""
    if run_dir is not None:
        return Path(run_dir).resolve()
    from ..pipeline import latest_run  # the run side's imports, only where it is asked

    latest = latest_run(output_root.resolve())
    say(f"the newest run under {output_root}: {latest}")
    return latest


def print_summary(result: Any) -> None:
    """The console's lines about a report (a ``ReduceResult``): its answer and its files."""
    metrics, report_dir = result.metrics, result.report_dir
    say(summary_text(metrics, result.report.scores_the_person))
    if in_sample := in_sample_text(metrics):
        say(f"warning: {in_sample}")
    if metrics.partial:
        say(partial_text(metrics))
    partial = " (PARTIAL: some shards are not done)" if metrics.partial else ""
    say(f"report: {report_dir / 'index.html'}{partial}")
    say(f"        {report_dir / 'report.md'} (for a terminal)")
