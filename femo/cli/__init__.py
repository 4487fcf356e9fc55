"""femo's command line: ``femo run``, ``reduce``, ``status``, ``fit``, ``bench``, ``show``
and ``export`` (:data:`COMMANDS`), one module per side: :mod:`.run` (the run),
:mod:`.results` (reduce, fit, export, show), :mod:`.status`; :mod:`.common` holds their
lines and messages.

It parses arguments, hands them to :mod:`femo.pipeline`, prints what comes back and
turns every expected failure into one ``femo: error:`` line. It is the only package
that sees Hydra's ``DictConfig``.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Any

from .. import __version__
from .common import LOG_FORMAT, fail
from .results import cmd_export, cmd_fit, cmd_reduce, cmd_show
from .run import ENTRY_KEYS, cmd_run
from .status import cmd_status

__all__ = ["COMMANDS", "ENTRY_KEYS", "main"]


def cmd_bench(argv: list[str]) -> int:
    """``femo bench``: its own parser (:mod:`femo.bench`)."""
    from ..bench import main as bench_main

    return bench_main(argv)


COMMANDS = {
    "run": cmd_run,
    "reduce": cmd_reduce,
    "status": cmd_status,
    "fit": cmd_fit,
    "bench": cmd_bench,
    "show": cmd_show,
    "export": cmd_export,
}


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM stops femo as Ctrl-C does


def main(argv: list[str] | None = None) -> int:
    """Run one femo command; a reader that stops reading early (``femo run --help |
    head``) ends it quietly."""
    try:
        return _main(argv)
    except BrokenPipeError:
        # Python's own recipe: stdout to /dev/null, so that flushing it at exit raises
        # no second BrokenPipeError.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not argv or argv[0] in ("-h", "--help"):
        print(
            "usage: femo {run,reduce,status,fit,bench,show,export} ...\n\n"
            "  femo run [hydra overrides]          extract every shard, then write the report\n"
            "  femo run resume=RUN_DIR [overrides] redo the shards not done (launcher, device, ...)\n"
            "  femo reduce RUN_DIR [overrides]     rebuild the report from existing shards (--out DIR)\n"
            "  femo status RUN_DIR                 shards and clips done, failed, not done\n"
            "  femo fit RUN_DIR... [overrides]     learn a head on labelled clips (head.json)\n"
            "  femo bench [--help]                 femo against fer and the detector's floor\n"
            "  femo show RUN_DIR CLIP [--out PNG]  the clip's frames, boxes and scored faces\n"
            "  femo export RUN_DIR --frames OUT    frames with labels, as .parquet or .csv\n\n"
            "  femo run --help                     config groups and values"
        )
        return 0
    if argv[0] == "--version":
        print(f"femo {__version__}")
        return 0
    command = COMMANDS.get(argv[0])
    if command is None:
        fail(f"unknown command {argv[0]!r} (known: {', '.join(COMMANDS)})")
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return command(argv[1:])
    except KeyboardInterrupt:
        print("femo: interrupted", file=sys.stderr)
        return 130
