"""What was predicted where there are no labels: the classes with their counts, the top
emotions, and per-clip profiles (the study's per-candidate profile, for one clip).

Pure: clip results and the chosen face per frame in, plain dicts out. A run without
labels leads its report with these; a run with labels shows them for its unlabelled
clips.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..config import EMOTIONS, MappingConfig
from .reduce import ClipResult


def _shares(counts: pd.Series, names: tuple[str, ...] | list[str]) -> dict[str, float] | None:
    """Each name's share of ``counts``; None when there is nothing to share out."""
    total = int(counts.sum())
    if not total:
        return None
    return {n: round(float(counts.get(n, 0)) / total, 6) for n in names}


def unlabelled_clips(results: list[ClipResult]) -> list[ClipResult]:
    """The clips without a label whose shard is done."""
    return [r for r in results if r.golden is None and r.status != "missing"]


def predicted_summary(
    results: list[ClipResult], per_frame: pd.DataFrame, mapping: MappingConfig
) -> dict[str, Any] | None:
    """The unlabelled clips' predicted classes (clip counts) and top emotions (shares of
    their frames with a face); None when every clip has a label."""
    clips = unlabelled_clips(results)
    if not clips:
        return None
    predicted = pd.Series([r.predict for r in clips if r.predict], dtype=object).value_counts()
    frames = per_frame[per_frame["video"].isin({r.video for r in clips})]
    emotions = frames["emotion"].value_counts()
    return {
        "clips": len(clips),
        "with_prediction": int(predicted.sum()),
        "no_face": sum(r.status == "no_face" for r in clips),
        "failed": sum(r.status == "error" for r in clips),
        "classes": {c: int(predicted.get(c, 0)) for c in mapping.classes},
        "frames_with_face": int(emotions.sum()),
        "emotion_share": _shares(emotions, EMOTIONS),
        "class_share": _shares(
            frames["emotion"].map(mapping.emotions).value_counts(), mapping.classes
        ),
    }


def clip_profiles(
    results: list[ClipResult], per_frame: pd.DataFrame, mapping: MappingConfig, limit: int
) -> list[dict[str, Any]]:
    """Per unlabelled clip (the ``limit`` with the most frames with a face, in clip
    order): its frames with a face, the shares of the 7 top emotions and of the classes,
    and its prediction. A clip without a face has shares None."""
    clips = unlabelled_clips(results)
    chosen = sorted(clips, key=lambda r: -r.frames_with_face)[: max(limit, 0)]
    keep = {r.video for r in chosen}
    frames = per_frame[per_frame["video"].isin(keep)]
    counts = pd.crosstab(frames["video"], frames["emotion"])
    profiles = []
    for r in (r for r in clips if r.video in keep):
        row = counts.loc[r.video] if r.video in counts.index else pd.Series(dtype=int)
        by_class = row.groupby(lambda e: mapping.emotions[e]).sum() if len(row) else row
        profiles.append(
            {
                "group": r.video,
                "clips": 1,
                "frames_with_face": int(row.sum()),
                "emotion_share": _shares(row, EMOTIONS),
                "class_share": _shares(by_class, mapping.classes),
                "predict": r.predict,
            }
        )
    return profiles
