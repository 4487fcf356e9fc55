"""The report side's commands: ``femo reduce``, ``fit``, ``export`` and ``show``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..config import ConfigError
from ..launchers.base import SubmissionError
from ..results.pages.formatting import percent
from ..rundir import RunDir, RunDirError
from .common import add_with, check_writable, fail, print_summary, run_or_latest, say, writing


def embed_references(config: Any, persons: dict[str, str]) -> Any:
    """femo.pipeline.embed_references, imported only where a report embeds reference
    photos (the run side's imports, OpenCV among them, cost a report nothing else)."""
    from ..pipeline import embed_references as embed

    return embed(config, persons)


def cmd_reduce(argv: list[str]) -> int:
    from ..results.commands import reduce_run, reduce_sweep
    from ..results.sweep import is_sweep_dir

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
    add_with(parser, "combine with a run over the same clips (another detector or sampling)")
    # Hydra-style overrides may come before or after the options.
    args = parser.parse_intermixed_args(argv)
    overrides = list(args.overrides) + (["reduce.allow_partial=true"] if args.allow_partial else [])
    hint = "write the report elsewhere with --out DIR"
    try:
        if args.run_dir is not None and "=" in args.run_dir and not Path(args.run_dir).is_dir():
            overrides.insert(0, args.run_dir)  # `femo reduce mapping=seven`: the newest run
            args.run_dir = None
        target = run_or_latest(args.run_dir, args.output_root)
        with_runs = tuple(p.resolve() for p in args.with_runs)
        if target in with_runs:
            raise ConfigError(f"--with {target}: that is the run being reported; name another run")
        if is_sweep_dir(target):
            if args.out is not None:
                raise ConfigError("--out takes a run folder, not a sweep folder")
            with writing("reduce its runs one by one with --out DIR"):
                swept = reduce_sweep(target, overrides, embed_references)
            for run, result in swept.results.items():
                if isinstance(result, str):
                    say(f"{run.name}: not reported: {result}")
                else:
                    say(f"{run.name}: accuracy {percent(result.metrics.accuracy)}")
            say(f"sweep table: {swept.table}")
            return 0
        with writing(hint):
            result = reduce_run(target, overrides, with_runs, args.out, embed_references)
    except (ConfigError, RunDirError) as exc:
        fail(str(exc))
    print_summary(result)
    return 0


def cmd_fit(argv: list[str]) -> int:
    from ..results.fit.command import fit_runs
    from ..results.fit.report import fit_lines
    from ..tune.command import add_tune_arguments, tune_lines, tune_only

    parser = argparse.ArgumentParser(
        prog="femo fit",
        description="Learn a head on the labelled clips of one or more runs, scored by "
        "cross-validation grouped by person against the study's vote.",
    )
    parser.add_argument("run_dirs", nargs="+", help="run folders, then overrides")
    parser.add_argument("--out", type=Path, default=None, help="folder for head.json")
    add_with(parser, "features of a run over the same clips, side by side (an ensemble)")
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
        fail(f"{flag} goes with --tune")
    try:
        with writing("write the head elsewhere with --out DIR"):
            if args.tune:  # fer's network tuned, here or as one cluster job
                lines = tune_lines(args, runs, overrides, say, check_writable)
            else:
                if runs:  # before the cross-validation, which may take a while
                    check_writable((args.out or RunDir(runs[0]).fit.path).resolve())
                with_runs = tuple(p.resolve() for p in args.with_runs)
                lines = fit_lines(
                    fit_runs(runs, overrides, args.out, with_runs, use_mesh=args.mesh)
                )
    except (ConfigError, RunDirError, SubmissionError) as exc:
        fail(str(exc))
    for line in lines:
        say(line)
    return 0


def cmd_export(argv: list[str]) -> int:
    from ..results.api import export_frames

    parser = argparse.ArgumentParser(
        prog="femo export", description="A run's results as a table for other tools."
    )
    parser.add_argument("run_dir", help="a run folder")
    parser.add_argument(
        "--frames", type=Path, required=True, metavar="OUT", help="out.parquet or out.csv: "
        "one row per sampled frame and face, with the clip's label and group and the "
        "face's predicted class (predicted_class)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        with writing("choose a writable place for --frames"):
            rows = export_frames(Path(args.run_dir), args.frames)
    except (ConfigError, RunDirError) as exc:
        fail(str(exc))
    say(f"{rows} frame rows: {args.frames}")
    return 0


def cmd_show(argv: list[str]) -> int:
    from ..results.sheets.show import show_clip

    parser = argparse.ArgumentParser(
        prog="femo show",
        description="A contact sheet of one clip's sampled frames: every face box, the "
        "scored face marked with its top emotion and score, frames without a face.",
    )
    # Optional to argparse, so that a missing one is named here: with 'overrides' (nargs *)
    # argparse listed it among the required arguments.
    parser.add_argument("run_dir", type=Path, nargs="?", help="a run folder")
    parser.add_argument(
        "clip", nargs="?", help="the clip, as its path under dataset.root (or file name)"
    )
    parser.add_argument(
        "overrides", nargs="*", help="reduce-side settings, e.g. reduce.face=largest"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="PNG to write (default RUN_DIR/report/sheets/)"
    )
    args = parser.parse_intermixed_args(argv)
    if args.clip is None:
        missing = "a clip after the run folder" if args.run_dir else "a run folder and a clip"
        fail(f"femo show needs {missing}: femo show RUN_DIR CLIP [overrides]")
    try:
        path = show_clip(
            args.run_dir.resolve(), args.clip, args.out, args.overrides, embed_references
        )
    except (ConfigError, RunDirError) as exc:
        fail(str(exc))
    print(path)
    return 0
