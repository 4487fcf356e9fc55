"""``femo run``: Hydra composes the config, :mod:`femo.pipeline` runs it; and
``femo run resume=RUN_DIR``, which continues a run in its own folder without Hydra."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from ..config import ConfigError, absolute_path, conf_dir, from_dict
from ..launchers.base import SubmissionError
from ..launchers.settings import register_defaults
from ..overrides import check_run_overrides, expand_home, parse_overrides, run_hydra
from ..rundir import RunDir, RunDirError, claim_folder, run_name
from .common import fail, print_summary, say, writing

# Keys of Hydra's composed config that belong to the command line, not to the run.
ENTRY_KEYS = ("output_root", "resume", "hydra")


def _interrupted(exc: Any) -> None:
    print(
        f"femo: interrupted: {exc.done} of {exc.total} shards done; "
        f"continue with femo run resume={exc.run_dir}",
        file=sys.stderr,
    )
    raise SystemExit(130)


def _run_task(cfg: Any) -> None:
    """Hydra's task function for ``femo run``: one run (one point of a sweep)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    from ..pipeline import start_run

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir).resolve()
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN

    def start() -> Any:
        container = OmegaConf.to_container(cfg, resolve=True)
        for key in ENTRY_KEYS:
            container.pop(key, None)
        config = from_dict(container, base_dir=os.getcwd())
        return start_run(config, run_dir, run_dir.parent if in_sweep else None, say)

    _print_outcome(_run_orfail(start, lambda: _remove_if_empty_run(run_dir), run_dir))


def _run_orfail(action: Any, cleanup: Any = lambda: None, run_dir: Path | None = None) -> Any:
    """``action()``'s outcome; every expected failure becomes one line and an exit.

    A submission the scheduler refuses leaves a planned run folder (``run_dir``) behind:
    the line then says how to continue it.
    """
    from ..pipeline import IncompleteRun, RunInterrupted

    try:
        return action()
    except (ConfigError, RunDirError) as exc:
        cleanup()
        fail(str(exc))
    except SubmissionError as exc:
        cleanup()
        message = f"the scheduler refused the submission: {exc}"
        if run_dir is not None and RunDir(run_dir).manifest_file.is_file():
            message += (
                f"; the run folder is kept: fix the setting, then "
                f"femo run resume={run_dir} launcher.KEY=VALUE"
            )
        fail(message)
    except IncompleteRun as exc:
        fail(str(exc), code=1)
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
        print_summary(outcome.report)
    elif outcome.busy:
        say(f"run folder: {run.path}")
        say(f"check on it:   femo status {run.path}")
        say(f"report, later: femo reduce {run.path} ({outcome.busy} shard(s) queued or running)")


def _resume(target: str, overrides: list[str]) -> int:
    """``femo run resume=RUN_DIR [overrides]``: no Hydra app, so no new folder anywhere."""
    from ..pipeline import resume_run

    if any(a in ("-m", "--multirun") or a.startswith("hydra.") for a in overrides):
        fail("resume= takes plain overrides (no -m, no hydra.*)")
    overrides = [o for o in overrides if not o.startswith("output_root=")]
    run_dir = Path(absolute_path(target) or target)
    hint = "femo run resume= continues a run in its own folder: make it writable, or resume a copy"
    with writing(hint):
        _print_outcome(_run_orfail(lambda: resume_run(run_dir, overrides, say), run_dir=run_dir))
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
    parsed = get_args_parser().parse_args(argv)
    overrides = parsed.overrides
    try:
        check_run_overrides(overrides, parsed.multirun)
        new_folders = _missing_folders(_output_root(overrides))
    except ConfigError as exc:
        fail(str(exc))
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
        fail(str(exc))
    finally:  # a run refused after Hydra made its output root leaves no empty folder
        for folder in new_folders:
            with contextlib.suppress(OSError):
                folder.rmdir()
    return 0


def _output_root(overrides: list[str]) -> Path:
    """The folder run folders go into: the last ``output_root=``, else conf/config.yaml's."""
    import yaml

    roots = [o.value() for o in parse_overrides(overrides) if o.key_or_group == "output_root"]
    if not roots:
        roots = [yaml.safe_load((conf_dir() / "config.yaml").read_text())["output_root"]]
    return Path(absolute_path(str(roots[-1])) or ".")


def _missing_folders(path: Path) -> list[Path]:
    """``path`` and each of its parents that do not exist yet, deepest first."""
    return [p for p in (path, *path.parents) if not p.exists()]
