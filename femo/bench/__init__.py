"""``femo bench``: femo's extraction against fer and against the detector's floor, in one run.

For every (media set, detector, sampling step) it measures, each in a fresh process
so that thread settings and peak memory do not leak from one measurement into the
next:

* ``fer``: ``fer.Video.analyze`` (frames and video saving off) at frequency N;
* ``floor``: decoding the same sampled frames plus the detector alone (Haar with
  fer's parameters, best of 1 and 2 OpenCV threads; MTCNN batched across frames);
* ``femo``: :func:`femo.node.extract.run_shard`, the code path of every ``femo run`` task,
  in parity mode and, where asked, in fast mode (``detector.downscale``);

and, before them, the node table (:mod:`femo.bench.floor`): femo's watched workers
against the floor of decode -> detector -> classifier with nothing around it, in the
same process layout, at 1 process and at every process count asked for.

Model loading is left out of every figure (it is reported apart, as ``startup_s``).
Results are compared frame by frame with fer's, and accuracy against the labels is
computed where the media set has a ``labels.csv``. Everything goes to a JSON file.

The bench sits outside femo's core: nothing in femo imports it but the CLI.
"""

from __future__ import annotations

from .cases import MAX_PASSES, MIN_SECONDS, Case, Measurement, MediaSet, measure, timed_passes
from .memory import make_long_clip, memory_check
from .run import main, run_bench

__all__ = [
    "MAX_PASSES",
    "MIN_SECONDS",
    "Case",
    "MediaSet",
    "Measurement",
    "main",
    "make_long_clip",
    "measure",
    "memory_check",
    "run_bench",
    "timed_passes",
]
