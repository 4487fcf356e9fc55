"""femo's command line: ``femo run``, ``femo reduce``, ``femo status``.

This is the only module that sees Hydra's ``DictConfig``; it turns it into the typed
configs of :mod:`femo.config` and hands those to the pipeline.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import __version__
from .config import (
    ConfigError,
    DatasetConfig,
    MappingConfig,
    ReduceConfig,
    RunConfig,
    _build,
    absolute_path,
    run_config_from_dict,
    to_dict,
)
from .launchers.cluster import SubmissionError
from .rundir import RunDirError

log = logging.getLogger("femo")

# Keys `femo reduce` may change: everything else changes the shards.
REDUCE_GROUPS = ("mapping", "reduce")
REDUCE_DATASET_KEYS = ("labels", "label_column", "video_column", "unknown_labels")


def conf_dir() -> Path:
    return Path(__file__).resolve().parent / "conf"


def run_name(root: Any, detector: Any, mode: Any, every_n: Any, fps: Any) -> str:
    """Readable run-folder suffix, e.g. ``dev-clips-haar-n20``."""
    dataset = Path(str(root)).name if root not in (None, "None", "") else "demo"
    sampling = f"n{every_n}" if mode == "every_n" else f"fps{fps}"
    return f"{dataset}-{detector}-{sampling}"


def _fail(message: str, code: int = 2) -> None:
    print(f"femo: error: {message}", file=sys.stderr)
    raise SystemExit(code)


# --------------------------------------------------------------------------- run


def _run_task(cfg: Any) -> None:
    """Hydra's task function for ``femo run``: one run (one point of a sweep)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir).resolve()
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
    try:
        container = OmegaConf.to_container(cfg, resolve=True)
        launcher = dict(container.get("launcher") or {})
        if container.get("resume"):
            _remove_if_empty_run(run_dir)
            _resume(Path(absolute_path(container["resume"])), launcher)
            return
        config = run_config_from_dict(container, base_dir=os.getcwd())
        if config.dataset.root is None:
            from .demo import ensure_demo_dataset

            root, labels = ensure_demo_dataset()
            print(f"femo: no dataset.root given: using the demo dataset in {root}")
            config = replace(
                config, dataset=replace(config.dataset, root=str(root), labels=str(labels))
            )
        _run(config, run_dir, sweep_dir=run_dir.parent if in_sweep else None)
    except (ConfigError, RunDirError) as exc:
        _remove_if_empty_run(run_dir)
        _fail(str(exc))
    except SubmissionError as exc:
        _fail(f"the scheduler refused the submission: {exc}")


def _remove_if_empty_run(run_dir: Path) -> None:
    """A run that failed its config checks leaves no folder behind (only Hydra's files were there)."""
    if run_dir.is_dir() and not (run_dir / "femo.json").exists():
        leftovers = {p.name for p in run_dir.iterdir()} - {".hydra", "femo.log", "logs"}
        if not leftovers:
            shutil.rmtree(run_dir, ignore_errors=True)


def _run(config: RunConfig, run_dir: Path, sweep_dir: Path | None = None) -> None:
    from .pipeline import prepare_run, reuse_sweep_shards, shard_tasks

    config_dict = to_dict(config)
    plan = prepare_run(config, run_dir, config_dict)
    if sweep_dir is not None and reuse_sweep_shards(run_dir, sweep_dir):
        print(
            f"femo: {run_dir.name} reuses the shards of an earlier point of this sweep (same extraction)"
        )
        _finish(run_dir, config, config_dict, submitted=False)
        return
    _execute(run_dir, config, config_dict, shard_tasks(run_dir, plan, config, config_dict))


def _execute(run_dir: Path, config: RunConfig, config_dict: dict[str, Any], tasks: list) -> None:
    """Run or submit the given shard tasks with the configured launcher, then report."""
    from .launchers.cluster import CLUSTER_LAUNCHERS, submit_shards
    from .launchers.local import run_local

    launcher = config.launcher.get("name", "local")
    if launcher == "local":
        _, failures = run_local(tasks, config.launcher.get("workers"), config.extract.threads)
        for k, err in sorted(failures.items()):
            print(
                f"femo: shard {k} failed: {err} (log: {run_dir / 'logs' / f'shard-{k:05d}.log'})",
                file=sys.stderr,
            )
        _finish(run_dir, config, config_dict, submitted=False)
    elif launcher == "none":
        n = len(tasks)
        print(f"femo: planned {n} shard(s) in {run_dir}; nothing submitted. Submit them yourself:")
        print(f"  sbatch --array=0-{n - 1} slurm/femo-array.sbatch {run_dir}")
        print(f"  qsub -t 1-{n} slurm/femo-array.qsub {run_dir}")
        print(f"then: femo status {run_dir}; femo reduce {run_dir}")
    elif launcher in CLUSTER_LAUNCHERS:
        submissions = submit_shards(run_dir, tasks, config.launcher)
        for s in submissions:
            print(f"femo: submitted {s.launcher} array {s.array_id} ({len(s.shards)} task(s))")
        print(f"femo: run folder: {run_dir}")
        print(f"femo: check on it:   femo status {run_dir}")
        print(f"femo: report, later: femo reduce {run_dir}")
        if config.launcher.get("wait"):
            _wait_for_shards(run_dir)
            _finish(run_dir, config, config_dict, submitted=False)
    else:
        raise ConfigError(
            f"unknown launcher {launcher!r} (known: local, none, {', '.join(CLUSTER_LAUNCHERS)})"
        )


def _wait_for_shards(run_dir: Path, poll_s: float = 10.0) -> None:
    import time

    from .pipeline import shard_states
    from .rundir import read_plan

    n = read_plan(run_dir).n_shards
    while True:
        states = shard_states(run_dir, n)
        if not any(s.state in ("pending", "running") for s in states.statuses):
            return
        time.sleep(poll_s)


def _finish(run_dir: Path, config: RunConfig, config_dict: dict[str, Any], submitted: bool) -> None:
    """Reduce a run whose shards are all there; otherwise say what is missing."""
    from .pipeline import reduce_run, shard_states
    from .rundir import read_plan

    states = shard_states(run_dir, read_plan(run_dir).n_shards)
    if states.failed or states.missing:
        pending = [s for s in states.statuses if s.state in ("pending", "running")]
        if pending:
            print(
                f"femo: {len(pending)} shard(s) still queued or running; `femo reduce {run_dir}` once they finish"
            )
            return
        _fail(
            f"{len(states.failed) + len(states.missing)} shard(s) not done; no report written. "
            f"See `femo status {run_dir}`; `femo run resume={run_dir}` redoes them.",
            code=1,
        )
    result = reduce_run(run_dir, config.dataset, config.mapping, config.reduce, config_dict)
    _print_summary(result.metrics, result.report_dir)


def _resume(run_dir: Path, launcher: dict[str, Any]) -> None:
    """Submit (or run) only the shards of ``run_dir`` that are not done and not queued."""
    from .pipeline import shard_states, shard_tasks
    from .rundir import read_manifest, read_plan

    saved = read_manifest(run_dir)["config"]
    config = run_config_from_saved(saved, launcher)
    plan = read_plan(run_dir)
    states = shard_states(run_dir, plan.n_shards)
    redo = [s.index for s in states.statuses if s.state in ("failed", "not_submitted")]
    busy = [s.index for s in states.statuses if s.state in ("pending", "running")]
    print(
        f"femo: resuming {run_dir}: {len(states.done)} done, {len(busy)} queued or running, "
        f"{len(redo)} to redo"
    )
    config_dict = to_dict(config)
    _execute(
        run_dir, config, config_dict, shard_tasks(run_dir, plan, config, config_dict, only=redo)
    )


def run_config_from_saved(
    saved: dict[str, Any], launcher: dict[str, Any] | None = None
) -> RunConfig:
    """A run's typed config from its manifest (``to_dict`` form), with another launcher."""
    extract = saved["extract"]
    launcher = launcher or saved.get("launcher") or {"name": "local"}
    flat = {
        "dataset": saved["dataset"],
        "detector": extract["detector"],
        "sampling": extract["sampling"],
        "mapping": saved["mapping"],
        "reduce": saved["reduce"],
        "shards": {"videos_per_shard": saved["videos_per_shard"]},
        "launcher": launcher,
        "batch_size": extract.get("batch_size"),
        "device": extract.get("device", "auto"),
    }
    return run_config_from_dict(flat)


def _print_summary(metrics: dict[str, Any], report_dir: Path) -> None:
    acc = metrics["accuracy"]
    acc_text = "n/a (no labelled clips)" if acc is None else f"{100 * acc:.1f}%"
    print(
        f"femo: accuracy {acc_text} over {metrics['n_labelled']} labelled of {metrics['n_videos']} clips "
        f"({metrics['n_no_face']} without a face, {metrics['n_failed']} failed)"
    )
    print(f"femo: report: {report_dir / 'report.md'}")


def cmd_run(argv: list[str]) -> int:
    import hydra
    from omegaconf import OmegaConf

    OmegaConf.register_new_resolver("femo_run_name", run_name, replace=True)
    # Hydra reads its overrides from sys.argv; hand it only what follows `run`.
    sys.argv = ["femo", *argv]
    main = hydra.main(config_path=str(conf_dir()), config_name="config", version_base="1.3")(
        _run_task
    )
    main()
    return 0


# ------------------------------------------------------------------------ reduce


def apply_reduce_overrides(config: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply reduce-side Hydra overrides (``mapping=seven``, ``reduce.face=largest``,
    ``dataset.label_column=emotion``, ...) to a run's saved config."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as exc:  # hydra's parser errors are long; keep the first line
        raise ConfigError(
            f"cannot parse overrides {overrides}: {str(exc).splitlines()[0]}"
        ) from None
    cfg = OmegaConf.create(config)
    for o in parsed:
        key = o.key_or_group
        value = o.value()
        head, _, rest = key.partition(".")
        if key in REDUCE_GROUPS and isinstance(value, str):
            path = conf_dir() / key / f"{value}.yaml"
            if not path.is_file():
                options = sorted(p.stem for p in (conf_dir() / key).glob("*.yaml"))
                raise ConfigError(
                    f"no {key} config named {value!r} (options: {', '.join(options)})"
                )
            cfg[key] = OmegaConf.load(path)
        elif head in REDUCE_GROUPS and rest:
            OmegaConf.update(cfg, key, value, merge=True)
        elif head == "dataset" and rest in REDUCE_DATASET_KEYS:
            if rest == "labels":
                value = absolute_path(value)
            OmegaConf.update(cfg, key, value, merge=True)
        else:
            raise ConfigError(
                f"femo reduce cannot change {key!r}: it changes the shards, so start a new run "
                f"(reduce accepts mapping, reduce.*, dataset.{{{','.join(REDUCE_DATASET_KEYS)}}})"
            )
    return OmegaConf.to_container(cfg)  # type: ignore[return-value]


def cmd_reduce(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="femo reduce",
        description="Rebuild the report of a run (or of every run of a sweep) from its shards.",
    )
    parser.add_argument("run_dir", type=Path, help="a run folder, or a sweep folder")
    parser.add_argument(
        "overrides", nargs="*", help="mapping=seven, reduce.face=largest, dataset.label_column=..."
    )
    parser.add_argument(
        "--allow-partial", action="store_true", help="report even if some shards are not done"
    )
    # Hydra-style overrides may come before or after the option.
    flags = [a for a in argv if a.startswith("-")]
    args = parser.parse_args(flags + [a for a in argv if not a.startswith("-")])
    from .sweep import is_sweep_dir

    overrides = list(args.overrides) + (["reduce.allow_partial=true"] if args.allow_partial else [])
    target = args.run_dir.resolve()
    try:
        if is_sweep_dir(target):
            return _reduce_sweep(target, overrides)
        result = reduce_one(target, overrides)
    except (ConfigError, RunDirError) as exc:
        _fail(str(exc))
    _print_summary(result.metrics, result.report_dir)
    return 0


def reduce_one(run_dir: Path, overrides: list[str]):
    """Reduce one run with reduce-side overrides applied to its saved config."""
    from .pipeline import manifest_config, reduce_run

    saved = manifest_config(run_dir)
    # The run's own snapshot (RUN_DIR/labels.csv) is used unless dataset.labels is given.
    saved["dataset"]["labels"] = None
    cfg = apply_reduce_overrides(saved, overrides)
    dataset_dict = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg["dataset"].items()}
    dataset = _build(DatasetConfig, dataset_dict, "dataset")
    mapping = _build(MappingConfig, dict(cfg["mapping"]), "mapping")
    reduce = _build(ReduceConfig, cfg["reduce"], "reduce")
    return reduce_run(run_dir, dataset, mapping, reduce, cfg)


def _reduce_sweep(sweep_dir: Path, overrides: list[str]) -> int:
    from .sweep import sweep_runs, write_sweep_table

    status_of = {}
    for run in sweep_runs(sweep_dir):
        try:
            result = reduce_one(run, overrides)
            acc = result.metrics["accuracy"]
            status_of[run] = "done"
            print(f"femo: {run.name}: accuracy {'n/a' if acc is None else f'{100 * acc:.1f}%'}")
        except ConfigError as exc:
            status_of[run] = "incomplete"
            print(f"femo: {run.name}: not reported: {exc}")
    path = write_sweep_table(sweep_dir, status_of)
    print(f"femo: sweep table: {path}")
    return 0


# ------------------------------------------------------------------------ status


def cmd_status(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="femo status", description="Shards done, queued, running and failed."
    )
    parser.add_argument("run_dir", type=Path, help="a run folder, or a sweep folder")
    args = parser.parse_args(argv)
    from .sweep import is_sweep_dir, sweep_runs

    target = args.run_dir.resolve()
    runs = sweep_runs(target) if is_sweep_dir(target) else [target]
    for run in runs:
        _status_one(run)
    return 0


def _status_one(run_dir: Path) -> None:
    from collections import Counter

    from .pipeline import shard_states, shards_source
    from .rundir import read_manifest, read_plan
    from .shards import finished_shards
    from .throughput import read_throughput, throughput_lines

    try:
        read_manifest(run_dir)
        plan = read_plan(run_dir)
    except RunDirError as exc:
        _fail(str(exc))
    states = shard_states(run_dir, plan.n_shards)
    clips_in = Counter(plan.shard_of.values())
    by_state: dict[str, list] = {}
    for s in states.statuses:
        by_state.setdefault(s.state, []).append(s)
    order = ("done", "running", "pending", "failed", "not_submitted")
    print(f"run: {run_dir}")
    source = shards_source(run_dir)
    if source != run_dir:
        print(f"shards from: {source}")
    print(
        f"shards: {plan.n_shards} planned, "
        + ", ".join(f"{len(by_state.get(k, []))} {k.replace('_', ' ')}" for k in order)
    )
    print(
        f"clips:  {len(plan.clips)} planned, "
        + ", ".join(
            f"{sum(clips_in[s.index] for s in by_state.get(k, []))} {k.replace('_', ' ')}"
            for k in order
        )
    )
    for line in throughput_lines(
        read_throughput(list(finished_shards(shards_source(run_dir)).values())),
        len(plan.clips),
        plan.n_shards,
    ):
        print(line)
    for s in states.statuses:
        if s.state != "done" or s.job_id:
            detail = f"  shard {s.index:5d} {s.state:13s} job {s.job_id or '-'}"
            if s.state == "failed":
                detail += f"  {s.error}  (log: {s.log})"
            if s.state != "done":
                print(detail)
    report = run_dir / "report" / "report.md"
    print(f"report: {report if report.exists() else 'not written yet'}")


# -------------------------------------------------------------------------- main


def cmd_bench(argv: list[str]) -> int:
    from . import bench

    return bench.main(argv)


COMMANDS = {"run": cmd_run, "reduce": cmd_reduce, "status": cmd_status, "bench": cmd_bench}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not argv or argv[0] in ("-h", "--help"):
        print(
            "usage: femo {run,reduce,status,bench} ...\n\n"
            "  femo run [hydra overrides]          extract every shard, then write the report\n"
            "  femo reduce RUN_DIR [overrides]     rebuild the report from existing shards\n"
            "  femo status RUN_DIR                 shards and clips done, failed, not done\n"
            "  femo bench [--help]                 femo against fer and the detector's floor\n\n"
            "  femo run --help                     config groups and values"
        )
        return 0
    if argv[0] == "--version":
        print(f"femo {__version__}")
        return 0
    command = COMMANDS.get(argv[0])
    if command is None:
        _fail(f"unknown command {argv[0]!r} (known: {', '.join(COMMANDS)})")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return command(argv[1:])
