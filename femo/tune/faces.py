"""The labelled faces a tuning learns from: the face each frame's vote scored, cropped
exactly as the run's classifier cropped it, at the run's own box, re-read from the clip.

The crops are fer's (the grey frame padded as fer pads it, the box squared and grown by
``detector.offsets``, resized to the network's 64x64), kept as 0..255 bytes;
:func:`network_input` scales them as fer does. :func:`check_crops` runs fer's model on
them and compares with the scores in the shards: the same crops give the same scores.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ..config import EMOTIONS, ConfigError
from ..node.crops import fer_crop_pixels, pad_gray
from ..node.detectors import Face
from ..node.video import ClipError, ClipInfo, sampled_frames
from ..results.fit.clips import LabelledClips, RunPart

log = logging.getLogger(__name__)

# fer's network takes 64x64 grey faces.
SIDE = 64
# The frame columns a tuning reads from the shards: the report's, and the box's corner.
BOX_COLUMNS = ("x", "y", "w", "h")
# A re-read crop whose fer scores differ from the shard's by more than this was not made
# as the run made it (the clip changed since, say).
SCORE_TOLERANCE = 1e-4

Say = Callable[[str], None]


@dataclass
class Faces:
    """One row per labelled frame's scored face, in clip order.

    ``crops`` (faces, 64, 64) uint8; ``clip`` each face's row in the pooled clips
    (:class:`~femo.results.fit.clips.LabelledClips`); ``part`` its run; ``keys`` its
    ``video``, ``frame`` and ``face`` in that run's shards; ``scores`` the 7 scores the
    run's classifier gave it.
    """

    crops: np.ndarray
    clip: np.ndarray
    part: np.ndarray
    keys: pd.DataFrame
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.crops)

    def take(self, rows: np.ndarray) -> Faces:
        return Faces(
            self.crops[rows],
            self.clip[rows],
            self.part[rows],
            self.keys.iloc[rows].reset_index(drop=True),
            self.scores[rows],
        )


def network_input(crops: np.ndarray) -> np.ndarray:
    """0..255 crops (n, 64, 64) as fer feeds its network: (n, 64, 64, 1) in [-1, 1]."""
    return ((crops.astype(np.float32) / 255.0 - 0.5) * 2.0)[..., None]


def read_faces(clips: LabelledClips, say: Say = log.info) -> Faces:
    """The scored faces of every labelled clip of ``clips``, re-read from the clips."""
    parts = [_part_faces(k, part, clips) for k, part in enumerate(clips.parts)]
    faces = Faces(
        crops=np.concatenate([p.crops for p in parts]),
        clip=np.concatenate([p.clip for p in parts]),
        part=np.concatenate([p.part for p in parts]),
        keys=pd.concat([p.keys for p in parts], ignore_index=True),
        scores=np.concatenate([p.scores for p in parts]),
    )
    say(f"re-read {len(faces)} labelled faces from {len(np.unique(faces.clip))} clips")
    return faces


def _part_faces(order: int, part: RunPart, clips: LabelledClips) -> Faces:
    run = part.reduced.run
    config = run.config
    rows = run.shards.frame_rows
    chosen = part.reduced.per_frame[["video", "frame", "face"]]
    labelled = [v for k, v in enumerate(part.videos) if clips.golden[part.start + k] is not None]
    chosen = chosen[chosen["video"].isin(set(labelled))]
    boxes = rows[["video", "frame", "face", *BOX_COLUMNS, *EMOTIONS]].dropna(subset=["face"])
    boxes = boxes.astype({"face": np.int64})
    table = chosen.astype({"face": np.int64}).merge(boxes, on=["video", "frame", "face"])
    position = {v: part.start + k for k, v in enumerate(part.videos)}
    table["_clip"] = table["video"].map(position)
    table = table.sort_values(["_clip", "frame"], kind="stable").reset_index(drop=True)
    crops = np.zeros((len(table), SIDE, SIDE), np.uint8)
    root = Path(str(config.dataset.root))
    clip_of = run.plan.clips_of(set(table["video"]))
    for video, where in table.groupby("video", sort=False).groups.items():
        clip = clip_of[video]
        wanted = table.loc[where]
        crops[where] = _clip_crops(root / clip.file, clip, wanted, config)
    return Faces(
        crops=crops,
        clip=table["_clip"].to_numpy(np.intp),
        part=np.full(len(table), order, np.intp),
        keys=table[["video", "frame", "face"]],
        scores=table[list(EMOTIONS)].to_numpy(np.float32),
    )


def _clip_crops(path: Path, clip, wanted: pd.DataFrame, config) -> np.ndarray:
    """fer's crop of each wanted (frame, box) of one clip, read as the run read it."""
    by_frame = {int(r.frame): r for r in wanted.itertuples()}
    out = {}
    try:
        for frame in sampled_frames(
            str(path), clip.kind, config.sampling, ClipInfo(), clip.segment
        ):
            row = by_frame.get(frame.index)
            if row is None:
                continue
            padded = pad_gray(cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY))
            box = Face(int(row.x), int(row.y), int(row.w), int(row.h))
            crop = fer_crop_pixels(padded, box, tuple(config.detector.offsets), (SIDE, SIDE))
            if crop is not None:
                out[frame.index] = crop
            if len(out) == len(by_frame):
                break
    except ClipError as exc:
        raise ConfigError(f"femo fit --tune re-reads the clips: {path}: {exc}") from None
    missing = sorted(set(by_frame) - set(out))
    if missing:
        raise ConfigError(
            f"femo fit --tune re-reads the clips: {path} has no frame {missing[0]} with its "
            "face any more (the clip changed since the run?)"
        )
    return np.stack([out[int(f)] for f in wanted["frame"]])


def check_crops(faces: Faces) -> float:
    """The largest difference between fer's scores of the re-read crops (femo's ONNX
    copy of fer's model) and the scores in the shards; above :data:`SCORE_TOLERANCE`
    the crops are not the run's, and that is one line."""
    from ..node.classifier import OnnxClassifier

    model = OnnxClassifier(batch_size=256)
    scores = model.predict(network_input(faces.crops)[..., 0])
    worst = float(np.abs(scores - faces.scores).max()) if len(faces) else 0.0
    if worst > SCORE_TOLERANCE:
        bad = int((np.abs(scores - faces.scores).max(axis=1) > SCORE_TOLERANCE).sum())
        raise ConfigError(
            f"femo fit --tune: {bad} of {len(faces)} re-read faces do not give the run's "
            f"scores (up to {worst:.2g} apart): the clips or the run's classifier changed"
        )
    return worst
