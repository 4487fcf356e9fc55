"""Comparing femo's shard with fer's results, and accuracy against the labels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .cases import MediaSet


def _iou(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0


def _faces_agree(mine: list[tuple[int, ...]], theirs: list[tuple[int, ...]]) -> bool:
    """Same number of faces, each of fer's overlapping one of femo's by IoU >= 0.5."""
    return len(mine) == len(theirs) and all(
        any(_iou(box, other) >= 0.5 for other in mine) for box in theirs
    )


def compare_with_fer(fer_results: str, femo_shard: str) -> dict[str, Any]:
    """Frame-by-frame comparison of femo's boxes and rounded scores with fer's.

    ``equal`` is exact parity: the same boxes and the same rounded scores in every
    frame. For fast mode, which is not meant to be exact, ``frames_faces_agree``
    (boxes overlapping by IoU >= 0.5) and ``top_emotion_agree`` (first face's top
    emotion, frames where both found a face) say how close it stays.
    """
    import numpy as np
    import pyarrow.parquet as pq

    from ..config import EMOTIONS

    fer = json.loads(Path(fer_results).read_text())
    rows = pq.read_table(femo_shard).to_pandas()
    frames = rows[rows.kind == "frame"]
    compared = boxes_equal = scores_equal = faces_agree = both_found = top_agree = 0
    max_diff = 0.0
    for video, fer_frames in fer.items():
        mine = frames[frames.video == video]
        indices = sorted(mine.frame.unique())
        for index, fer_faces in zip(indices, fer_frames, strict=False):
            compared += 1
            faces = mine[(mine.frame == index) & mine.face.notna()].sort_values("face")
            femo_faces = {
                (int(r.x), int(r.y), int(r.w), int(r.h)): [
                    round(float(np.float32(getattr(r, e))), 2) for e in EMOTIONS
                ]
                for r in faces.itertuples()
            }
            fer_faces_by_box = {
                tuple(f["box"]): [f["emotions"][e] for e in EMOTIONS] for f in fer_faces
            }
            faces_agree += _faces_agree(list(femo_faces), list(fer_faces_by_box))
            if femo_faces and fer_faces_by_box:
                both_found += 1
                first_mine = next(iter(femo_faces.values()))
                first_fer = next(iter(fer_faces_by_box.values()))
                top_agree += int(np.argmax(first_mine) == np.argmax(first_fer))
            if set(femo_faces) != set(fer_faces_by_box):
                continue
            boxes_equal += 1
            diffs = [
                abs(a - b)
                for box, scores in fer_faces_by_box.items()
                for a, b in zip(scores, femo_faces[box], strict=True)
            ]
            frame_diff = max(diffs, default=0.0)
            max_diff = max(max_diff, frame_diff)
            scores_equal += frame_diff == 0.0
        compared += max(0, len(fer_frames) - len(indices))  # frames femo never sampled
    return {
        "frames_compared": compared,
        "frames_boxes_equal": boxes_equal,
        "frames_scores_equal": scores_equal,
        "max_rounded_score_diff": round(max_diff, 6),
        "equal": compared > 0 and boxes_equal == compared and scores_equal == compared,
        "frames_faces_agree": faces_agree,
        "top_emotion_agree": round(top_agree / both_found, 4) if both_found else None,
    }


def accuracy(media: MediaSet, femo_shard: str) -> dict[str, Any] | None:
    """Three-class accuracy of one femo shard against the media set's labels."""
    if media.labels is None:
        return None
    from ..config import DatasetConfig, MappingConfig, ReduceConfig
    from ..dataset import Clip, read_labels
    from ..results.reduce import compute_metrics, reduce_clips
    from ..results.shard_rows import load_shards

    mapping = MappingConfig()
    clips = [Clip(v, "video") for v in media.videos]
    labels = read_labels(media.labels, DatasetConfig(root=media.root), mapping, clips)
    shards = load_shards(Path(femo_shard).parent)
    results = reduce_clips(list(media.videos), shards, labels.by_video, mapping, ReduceConfig())
    metrics = compute_metrics(results, mapping.classes)
    return {k: metrics[k] for k in ("accuracy", "n_labelled", "n_correct", "n_no_face")}
