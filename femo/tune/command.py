"""``femo fit --tune``'s command line: its flags, the request they make, and the lines
printed after a tuning (the CLI itself only hands them over)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import ConfigError
from .nested import Grid
from .request import OUTER_FOLDS, TuneRequest, split_overrides

FLAGS = {"folds": "--folds", "inner_folds": "--inner-folds", "rates": "--rates",
         "epochs": "--epochs"}  # fmt: skip


def _numbers(kind: type) -> Any:
    def parse(text: str) -> tuple:
        try:
            return tuple(kind(v) for v in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None

    return parse


def add_tune_arguments(parser: argparse.ArgumentParser) -> None:
    """``--tune`` and the settings only it takes."""
    group = parser.add_argument_group(
        "--tune", "adapt fer's network to the labelled faces (TensorFlow), beside four other "
        "candidates on the same folds; launcher=slurm ... runs it as one cluster job",
    )  # fmt: skip
    group.add_argument("--tune", action="store_true", help="tune fer's network (fit/tune/)")
    grid = Grid()
    group.add_argument("--folds", type=int, default=None, help=f"outer folds ({OUTER_FOLDS})")
    group.add_argument(
        "--inner-folds", type=int, default=None, help=f"inner folds ({grid.inner_folds})"
    )
    group.add_argument(
        "--rates", type=_numbers(float), default=None,
        help=f"learning rates to choose from ({','.join(f'{r:g}' for r in grid.rates)})",
    )  # fmt: skip
    group.add_argument(
        "--epochs", type=_numbers(int), default=None,
        help=f"epochs to choose from ({','.join(map(str, grid.epochs))})",
    )  # fmt: skip


def tune_only(args: argparse.Namespace) -> str | None:
    """The first flag given that only ``--tune`` takes (None: none)."""
    return next((flag for key, flag in FLAGS.items() if getattr(args, key) is not None), None)


def request_of(args: argparse.Namespace, runs: list[Path], overrides: list[str]) -> TuneRequest:
    """The tuning ``femo fit --tune`` asks for; ``--with`` is refused in one line."""
    if args.with_runs:
        raise ConfigError("--tune learns from one set of faces; leave --with out")
    reduce_side, launcher = split_overrides(overrides)
    given = {"rates": args.rates, "epochs": args.epochs, "inner_folds": args.inner_folds}
    return TuneRequest(
        run_dirs=tuple(runs),
        overrides=tuple(reduce_side),
        out=args.out.resolve() if args.out else None,
        use_mesh=args.mesh,
        folds=OUTER_FOLDS if args.folds is None else args.folds,
        grid=Grid(**{k: v for k, v in given.items() if v is not None}),
        launcher=tuple(launcher),
    )


def tune_lines(
    args: argparse.Namespace,
    runs: list[Path],
    overrides: list[str],
    say: Callable[[str], None],
    check_writable: Callable[[Path], None],
) -> list[str]:
    """``femo fit --tune``: check the request (one line, nothing written), tune here or
    submit it as one job, and return what to print after."""
    from .job import tune

    request = request_of(args, runs, overrides)
    if runs:  # before anything is read, trained or submitted
        check_writable(request.folder.path.resolve())
    done = tune(request, say)
    if done.outcome is None:
        return [f"progress: {done.log_file}; the model, head and report land beside it"]
    return outcome_lines(done.outcome)


def outcome_lines(outcome: dict[str, Any] | None) -> list[str]:
    """What ``femo fit --tune`` prints after a tuning: the candidates, the files, and how
    to use them (nothing for a tuning submitted and not waited for)."""
    from ..results.fit.tune_report import candidate_lines

    if outcome is None:
        return []
    return [
        *candidate_lines(outcome["comparison"]),
        f"tuned model: {outcome['model_file']} (Keras: {outcome['keras_file']})",
        f"head on its scores: {outcome['head_file']}",
        f"report: {outcome['report_file']}",
        f"use it: femo run dataset.root=CLIPS {outcome['run_with']} (the run's detector)",
        f"then: femo reduce THAT_RUN reduce.head={outcome['head_file']}",
    ]
