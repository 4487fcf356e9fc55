"""Run one shard of a planned run: ``python -m femo.shard RUN_DIR INDEX``.

For hand-written array scripts (see ``slurm/``); ``femo run launcher=...`` does the
same through submitit.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or not args[1].isdigit():
        print("usage: python -m femo.shard RUN_DIR SHARD_INDEX", file=sys.stderr)
        return 2
    from .cli import run_config_from_saved
    from .launchers.local import run_shard_logged
    from .pipeline import shard_tasks
    from .rundir import read_manifest, read_plan

    run_dir = Path(args[0]).resolve()
    index = int(args[1])
    config = run_config_from_saved(read_manifest(run_dir)["config"])
    plan = read_plan(run_dir)
    if not 0 <= index < plan.n_shards:
        print(f"femo: shard {index} is outside 0-{plan.n_shards - 1}", file=sys.stderr)
        return 2
    from .config import to_dict

    (task,) = shard_tasks(run_dir, plan, config, to_dict(config), only=[index])
    result = run_shard_logged(task)
    print(
        f"femo: shard {index}: {result.clips} clips, {result.clips_failed} failed -> {result.path}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
