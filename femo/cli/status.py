"""``femo status``: shards and clips done, queued, running and failed."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..config import ConfigError
from ..rundir import RunDirError
from ..status import ShardState
from .common import fail, run_or_latest


def cmd_status(argv: list[str]) -> int:
    from ..pipeline import runs_of, status_report

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
        for run in runs_of(run_or_latest(args.run_dir, args.output_root)):
            _print_status(status_report(run))
    except (ConfigError, RunDirError) as exc:
        fail(str(exc))
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
