"""Extraction (the map step): one shard of clips in, one Parquet file out.

A shard file holds two kinds of rows:

* ``kind == "frame"``: one per (clip, sampled frame, face), and one with null face
  fields for a sampled frame without a face, so face coverage is measurable;
* ``kind == "clip"``: exactly one per clip, with its status (``ok``, ``partial`` or
  ``error``), a message, and what decoding learnt (fps, frames read, seconds spent).
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import __version__
from .config import EMOTIONS, ExtractConfig, to_dict
from .dataset import Clip
from .models import (
    EmotionClassifier,
    Face,
    configure_runtime,
    emotion_model_path,
    face_crop,
    make_detector,
    pad_gray,
    sha256_file,
    tf_device_name,
)
from .shards import shard_path, write_atomically
from .video import ClipError, ClipInfo, sampled_frames

log = logging.getLogger(__name__)

SCHEMA = pa.schema(
    [
        pa.field("video", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("frame", pa.int32()),
        pa.field("time_s", pa.float64()),
        pa.field("face", pa.int16()),
        pa.field("x", pa.int32()),
        pa.field("y", pa.int32()),
        pa.field("w", pa.int32()),
        pa.field("h", pa.int32()),
        *[pa.field(e, pa.float32()) for e in EMOTIONS],
        pa.field("detector_confidence", pa.float32()),
        pa.field("status", pa.string()),
        pa.field("message", pa.string()),
        pa.field("fps", pa.float64()),
        pa.field("frames_read", pa.int32()),
        pa.field("frames_sampled", pa.int32()),
        pa.field("seconds", pa.float64()),
    ]
)


@dataclass(frozen=True)
class ShardTask:
    """Everything one array task needs; small and picklable."""

    run_dir: str
    index: int
    dataset_root: str
    clips: tuple[Clip, ...]
    extract: ExtractConfig
    config_json: str = "{}"


@dataclass
class ShardResult:
    index: int
    path: str
    clips: int
    clips_failed: int
    frames_sampled: int
    seconds: float
    timing: dict[str, float] = field(default_factory=dict)


class _Columns:
    """Column-wise row buffer; scores are filled in later, per classifier batch."""

    def __init__(self) -> None:
        self.data: dict[str, list] = {f.name: [] for f in SCHEMA}

    def add(self, **values) -> int:
        for name, column in self.data.items():
            column.append(values.get(name))
        return len(self.data["video"]) - 1

    def set_scores(self, row: int, scores: np.ndarray) -> None:
        for e, s in zip(EMOTIONS, scores, strict=True):
            self.data[e][row] = float(s)

    def table(self, metadata: dict[bytes, bytes]) -> pa.Table:
        return pa.table(self.data, schema=SCHEMA).replace_schema_metadata(metadata)


class Extractor:
    """Detector + classifier for one process; clips in, rows out."""

    def __init__(self, config: ExtractConfig):
        self.config = config
        self.device = configure_runtime(config.threads, config.device)
        log.info("TensorFlow device: %s", self.device)
        self.classifier = EmotionClassifier(batch_size=config.batch_size)
        self.detector = make_detector(config.detector, tf_device_name())
        self.timing = {"decode": 0.0, "detect": 0.0, "classify": 0.0}
        self._pending_rows: list[int] = []
        self._pending_crops: list[np.ndarray] = []

    def process_clip(self, root: str, clip: Clip, columns: _Columns) -> str:
        """Append a clip's rows to ``columns``; returns its status."""
        started = time.perf_counter()
        info = ClipInfo()
        status, message, sampled = "ok", None, 0
        frames = sampled_frames(
            os.path.join(root, clip.video), clip.kind, self.config.sampling, info
        )
        try:
            while True:
                t0 = time.perf_counter()
                frame = next(frames, None)
                self.timing["decode"] += time.perf_counter() - t0
                if frame is None:
                    break
                sampled += 1
                self._add_frame(clip.video, frame.index, frame.time_s, frame.image, columns)
        except ClipError as exc:
            status, message = "error", str(exc)
        except Exception as exc:  # a damaged clip must not stop the shard
            log.exception("clip %s failed", clip.video)
            status, message = "error", f"{type(exc).__name__}: {exc}"
        self.flush(columns)
        if status == "ok" and info.notes:
            status = "partial" if any("decoded" in n for n in info.notes) else "ok"
            message = "; ".join(info.notes)
        columns.add(
            video=clip.video,
            kind="clip",
            status=status,
            message=message,
            fps=info.fps,
            frames_read=info.frames_read,
            frames_sampled=sampled,
            seconds=time.perf_counter() - started,
        )
        return status

    def _add_frame(
        self, video: str, index: int, time_s, image: np.ndarray, columns: _Columns
    ) -> None:
        t0 = time.perf_counter()
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        faces: list[Face] = self.detector.detect(image, gray)
        self.timing["detect"] += time.perf_counter() - t0
        base = {"video": video, "kind": "frame", "frame": index, "time_s": time_s}
        if not faces:
            columns.add(**base)
            return
        padded = pad_gray(gray)
        for i, face in enumerate(faces):
            row = columns.add(
                **base,
                face=i,
                x=face.x,
                y=face.y,
                w=face.w,
                h=face.h,
                detector_confidence=face.confidence,
            )
            crop = face_crop(
                padded, face, self.config.detector.offsets, self.classifier.target_size
            )
            if crop is not None:  # an empty crop keeps its box, with null scores
                self._pending_rows.append(row)
                self._pending_crops.append(crop)
        if len(self._pending_crops) >= self.config.batch_size:
            self.flush(columns)

    def flush(self, columns: _Columns) -> None:
        """Classify the faces waiting for a batch and write their scores."""
        if not self._pending_crops:
            return
        t0 = time.perf_counter()
        scores = self.classifier.predict(np.stack(self._pending_crops))
        self.timing["classify"] += time.perf_counter() - t0
        for row, s in zip(self._pending_rows, scores, strict=True):
            columns.set_scores(row, s)
        self._pending_rows.clear()
        self._pending_crops.clear()


@lru_cache(maxsize=2)
def get_extractor(config: ExtractConfig) -> Extractor:
    """One extractor (one model load) per process and config."""
    return Extractor(config)


def shard_metadata(
    task: ShardTask, extractor: Extractor, result: ShardResult
) -> dict[bytes, bytes]:
    model = str(emotion_model_path())
    meta = {
        "femo_version": __version__,
        "fer_version": importlib.metadata.version("fer"),
        "emotion_model_sha256": sha256_file(model),
        "shard_index": str(task.index),
        "n_clips": str(len(task.clips)),
        "extract_config": json.dumps(to_dict(task.extract), sort_keys=True),
        "config": task.config_json,
        "device": extractor.device,
        "host": os.uname().nodename,
        "timing": json.dumps(
            {
                "seconds": round(result.seconds, 3),
                "frames_sampled": result.frames_sampled,
                "frames_per_s": round(result.frames_sampled / result.seconds, 3)
                if result.seconds
                else None,
                "clips_per_hour": round(3600 * len(task.clips) / result.seconds, 1)
                if result.seconds
                else None,
                "stage_seconds": {k: round(v, 3) for k, v in result.timing.items()},
            }
        ),
    }
    return {f"femo.{k}".encode(): v.encode() for k, v in meta.items()}


def run_shard(task: ShardTask) -> ShardResult:
    """Extract one shard and write ``shards/shard-<k>.parquet`` atomically.

    This is the function submitit pickles for every array task, and the one local
    workers call: local and cluster runs share it, so their shards are identical.
    """
    started = time.perf_counter()
    extractor = get_extractor(task.extract)
    before = dict(extractor.timing)
    columns = _Columns()
    failed = 0
    for n, clip in enumerate(task.clips, start=1):
        status = extractor.process_clip(task.dataset_root, clip, columns)
        failed += status == "error"
        log.info("shard %d: clip %d/%d %s: %s", task.index, n, len(task.clips), clip.video, status)
    kinds = columns.data["kind"]
    sampled = sum(
        c for c, k in zip(columns.data["frames_sampled"], kinds, strict=True) if k == "clip"
    )
    path = shard_path(task.run_dir, task.index)
    result = ShardResult(
        index=task.index,
        path=str(path),
        clips=len(task.clips),
        clips_failed=failed,
        frames_sampled=sampled,
        seconds=time.perf_counter() - started,
        timing={k: extractor.timing[k] - before.get(k, 0.0) for k in extractor.timing},
    )
    table = columns.table(shard_metadata(task, extractor, result))
    write_atomically(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
    log.info(
        "shard %d written: %d clips (%d failed), %d frames in %.1f s",
        task.index,
        result.clips,
        failed,
        sampled,
        result.seconds,
    )
    return result


def read_shard_metadata(path: str | Path) -> dict[str, str]:
    """The ``femo.*`` key/values of a shard file (without the ``femo.`` prefix)."""
    meta = pq.read_schema(path).metadata or {}
    return {k.decode()[5:]: v.decode() for k, v in meta.items() if k.startswith(b"femo.")}
