"""``python -m femo.bench.submit_scale``: plan and submit N clips through real SLURM.

Makes N empty files named ``person_<k>_<i>.mp4`` (100 clips a person) in a temporary
folder, then times, each in a fresh process:

* ``femo run launcher=slurm`` from its start until it returns (it does not wait for
  the arrays: ``launcher.wait=false``), with the moment each array was submitted;
* ``femo status`` on that run, with every task still in the queue.

The arrays are submitted held (``sbatch --hold``), so that no task ever runs, and
are cancelled (``scancel``) as soon as the figures are taken. Nothing is decoded:
this measures planning, pickling the tasks and ``sbatch``, not extraction.

Run it on an empty queue: once the cluster's ``MaxJobCount`` is reached (cancelled
tasks still count for ``MinJobAge`` seconds), ``sbatch`` itself waits, and that wait
is not femo's (``job_records_before`` in the output).

    python -m femo.bench.submit_scale --clips 100000            # 16 clips a shard
    python -m femo.bench.submit_scale --clips 100000 --profile  # + cProfile of femo run
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_files(root: Path, n: int, per_person: int = 100) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (root / f"person_{i // per_person}_{i % per_person}.mp4").touch()


def timed_run(command: list[str], cwd: Path) -> tuple[float, list[tuple[float, str]], str]:
    """Wall time of ``command``, and each stdout line with the second it appeared."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines = [(time.perf_counter() - started, line.rstrip()) for line in proc.stdout or []]
    err = proc.stderr.read() if proc.stderr else ""
    proc.wait()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{err[-3000:]}")
    return wall, lines, err


def cancel(out: Path) -> list[str]:
    """Cancel every array the run(s) under ``out`` recorded (even if femo run failed)."""
    ids = [
        j["array_id"]
        for jobs in out.glob("*/*/jobs.json")
        for j in json.loads(jobs.read_text() or "[]")
    ]
    if ids:
        subprocess.run(["scancel", *ids], check=False)
    return ids


def queued_tasks() -> int:
    """Job records slurmctld holds now, in any state: sbatch blocks once the cluster's
    MaxJobCount is reached (ended and cancelled tasks count for MinJobAge seconds)."""
    out = subprocess.run(
        ["squeue", "-h", "-r", "-t", "all", "-o", "%i"], capture_output=True, text=True
    )
    return len(out.stdout.split())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m femo.bench.submit_scale", description=__doc__)
    parser.add_argument("--clips", type=int, default=100_000)
    parser.add_argument("--per-shard", type=int, default=16, help="shards.videos_per_shard")
    parser.add_argument("--workdir", type=Path, help="default: a new folder under /tmp")
    parser.add_argument("--profile", action="store_true", help="cProfile femo run too")
    parser.add_argument("--keep", action="store_true", help="keep the files and run folder")
    args = parser.parse_args(argv)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="femo-submit-scale-", dir="/tmp"))
    clips, out = work / "clips", work / "out"
    make_files(clips, args.clips)
    femo = [sys.executable]
    if args.profile:
        femo += ["-m", "cProfile", "-o", str(work / "run.prof")]
    femo += ["-m", "femo", "run", "launcher=slurm", f"dataset.root={clips}",
             f"shards.videos_per_shard={args.per_shard}", f"output_root={out}",
             "+launcher.extra_flags.hold=true"]  # fmt: skip
    before = queued_tasks()
    try:
        wall, lines, _ = timed_run(femo, work)
        (run,) = [p.parent for p in out.glob("*/*/femo.json")]
        submitted = [(t, ln) for t, ln in lines if "submitted slurm array" in ln]
        status_wall, status_lines, _ = timed_run(
            [sys.executable, "-m", "femo", "status", str(run)], work
        )
        ids = cancel(out)
        shards = next(ln for _, ln in status_lines if ln.startswith("shards:"))
        result = {
            "clips": args.clips,
            "per_shard": args.per_shard,
            "job_records_before": before,
            "arrays": len(ids),
            "run_s": round(wall, 2),
            "first_array_submitted_s": round(submitted[0][0], 2) if submitted else None,
            "last_array_submitted_s": round(submitted[-1][0], 2) if submitted else None,
            "status_s": round(status_wall, 2),
            "status": shards,
        }
        print(json.dumps(result, indent=1))
        if args.profile:
            print(f"profile: python -m pstats {work / 'run.prof'}")
    finally:
        cancel(out)
        if not args.keep and not args.profile:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
