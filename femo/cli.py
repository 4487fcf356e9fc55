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
    from omegaconf import OmegaConf

    run_dir = Path(HydraConfig.get().runtime.output_dir).resolve()
    try:
        container = OmegaConf.to_container(cfg, resolve=True)
        config = run_config_from_dict(container, base_dir=os.getcwd())
        if config.dataset.root is None:
            from .demo import ensure_demo_dataset

            root, labels = ensure_demo_dataset()
            print(f"femo: no dataset.root given: using the demo dataset in {root}")
            config = replace(config, dataset=replace(config.dataset, root=str(root), labels=str(labels)))
        _run(config, run_dir)
    except (ConfigError, RunDirError) as exc:
        _remove_if_empty_run(run_dir)
        _fail(str(exc))


def _remove_if_empty_run(run_dir: Path) -> None:
    """A run that failed its config checks leaves no folder behind (only Hydra's files were there)."""
    if run_dir.is_dir() and not (run_dir / "femo.json").exists():
        leftovers = {p.name for p in run_dir.iterdir()} - {".hydra", "femo.log", "logs"}
        if not leftovers:
            shutil.rmtree(run_dir, ignore_errors=True)


def _run(config: RunConfig, run_dir: Path) -> None:
    from .launchers.local import run_local
    from .pipeline import prepare_run, reduce_run, shard_tasks, shard_states

    config_dict = to_dict(config)
    launcher = config.launcher.get("name", "local")
    if launcher != "local":
        raise ConfigError(f"launcher {launcher!r} is not available (known: local)")
    plan = prepare_run(config, run_dir, config_dict)
    tasks = shard_tasks(run_dir, plan, config, config_dict)
    _, failures = run_local(tasks, config.launcher.get("workers"), config.extract.threads)
    states = shard_states(run_dir, plan.n_shards)
    if failures or states.missing:
        for k, err in sorted(failures.items()):
            print(f"femo: shard {k} failed: {err} (log: {run_dir / 'logs' / f'shard-{k:05d}.log'})", file=sys.stderr)
        _fail(f"{len(failures)} shard(s) failed; no report written. See `femo status {run_dir}`.", code=1)
    result = reduce_run(run_dir, config.dataset, config.mapping, config.reduce, config_dict)
    _print_summary(result.metrics, result.report_dir)


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
    main = hydra.main(config_path=str(conf_dir()), config_name="config", version_base="1.3")(_run_task)
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
        raise ConfigError(f"cannot parse overrides {overrides}: {str(exc).splitlines()[0]}") from None
    cfg = OmegaConf.create(config)
    for o in parsed:
        key = o.key_or_group
        value = o.value()
        head, _, rest = key.partition(".")
        if key in REDUCE_GROUPS and isinstance(value, str):
            path = conf_dir() / key / f"{value}.yaml"
            if not path.is_file():
                options = sorted(p.stem for p in (conf_dir() / key).glob("*.yaml"))
                raise ConfigError(f"no {key} config named {value!r} (options: {', '.join(options)})")
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
    parser = argparse.ArgumentParser(prog="femo reduce", description="Rebuild a run's report from its shards.")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("overrides", nargs="*", help="mapping=seven, reduce.face=largest, dataset.label_column=...")
    parser.add_argument("--allow-partial", action="store_true", help="report even if some shards are not done")
    args = parser.parse_args(argv)
    from .pipeline import manifest_config, reduce_run

    try:
        run_dir = args.run_dir.resolve()
        saved = manifest_config(run_dir)
        # The run's own snapshot (RUN_DIR/labels.csv) is used unless dataset.labels is given.
        saved["dataset"]["labels"] = None
        overrides = list(args.overrides) + (["reduce.allow_partial=true"] if args.allow_partial else [])
        cfg = apply_reduce_overrides(saved, overrides)
        mapping_dict = dict(cfg["mapping"])
        dataset = _build(DatasetConfig, {k: tuple(v) if isinstance(v, list) else v for k, v in cfg["dataset"].items()}, "dataset")
        mapping = _build(MappingConfig, mapping_dict, "mapping")
        reduce = _build(ReduceConfig, cfg["reduce"], "reduce")
        result = reduce_run(run_dir, dataset, mapping, reduce, cfg)
    except (ConfigError, RunDirError) as exc:
        _fail(str(exc))
    _print_summary(result.metrics, result.report_dir)
    return 0


# ------------------------------------------------------------------------ status


def cmd_status(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="femo status", description="Shards done, failed and missing.")
    parser.add_argument("run_dir", type=Path)
    args = parser.parse_args(argv)
    from .pipeline import shard_states
    from .rundir import log_path, read_manifest, read_plan

    try:
        run_dir = args.run_dir.resolve()
        read_manifest(run_dir)
        plan = read_plan(run_dir)
    except RunDirError as exc:
        _fail(str(exc))
    states = shard_states(run_dir, plan.n_shards)
    clips_in = {k: len(plan.shard_clips(k)) for k in range(plan.n_shards)}
    print(f"run: {run_dir}")
    print(f"shards: {plan.n_shards} planned, {len(states.done)} done, {len(states.failed)} failed, {len(states.missing)} not done")
    print(
        f"clips:  {len(plan.clips)} planned, {sum(clips_in[k] for k in states.done)} done, "
        f"{sum(clips_in[k] for k in states.failed)} failed, {sum(clips_in[k] for k in states.missing)} not done"
    )
    for k, err in states.failed.items():
        print(f"  shard {k:5d} failed: {err}  (log: {log_path(run_dir, k)})")
    report = run_dir / "report" / "report.md"
    print(f"report: {report if report.exists() else 'not written yet'}")
    return 0


# -------------------------------------------------------------------------- main

COMMANDS = {"run": cmd_run, "reduce": cmd_reduce, "status": cmd_status}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not argv or argv[0] in ("-h", "--help"):
        print(
            "usage: femo {run,reduce,status} ...\n\n"
            "  femo run [hydra overrides]          extract every shard, then write the report\n"
            "  femo reduce RUN_DIR [overrides]     rebuild the report from existing shards\n"
            "  femo status RUN_DIR                 shards and clips done, failed, not done\n\n"
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
