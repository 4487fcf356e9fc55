"""Reduce stage: shard files in, one prediction per clip and accuracy metrics out.

Reading needs only the run folder: the shard plan (``clips.csv``), the shards and the
labels. No video is opened, so a report can be recomputed with another mapping or
face selection long after the extraction jobs finished.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..config import EMOTIONS, MappingConfig, ReduceConfig
from .model import ClipResult
from .shard_rows import ShardData
from .stats import classification_scores

log = logging.getLogger(__name__)


def _round_like_fer(scores: np.ndarray, decimals: int | None) -> np.ndarray:
    """Python's ``round(float(s), decimals)`` of every score, exactly as
    fer.FER.detect_emotions rounds them.

    NumPy's rounding agrees with Python's everywhere but next to a half (where Python
    rounds the exact binary value): those few values are rounded by Python itself.
    """
    if decimals is None:
        return scores
    values = np.asarray(scores, dtype=np.float64)
    rounded = np.round(values, decimals)
    scaled = values * 10**decimals
    near_half = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6
    if near_half.any():
        rounded[near_half] = [round(float(v), decimals) for v in values[near_half]]
    return rounded


def _top_emotions(scores: np.ndarray, decimals: int | None, chunk: int = 1 << 16) -> np.ndarray:
    """Each row's top emotion after fer's rounding, a slice of rows at a time (rounding
    makes float64 copies of the scores: a slice keeps them small)."""
    top = np.empty(len(scores), dtype=np.intp)
    for start in range(0, len(scores), chunk):
        block = _round_like_fer(scores[start : start + chunk], decimals)
        # argmax keeps the first of tied scores, like max() over fer's ordered dict.
        top[start : start + chunk] = np.argmax(block, axis=1)
    return np.asarray(EMOTIONS)[top]


def frame_emotions(
    frame_rows: pd.DataFrame, config: ReduceConfig, eligible: np.ndarray | None = None
) -> pd.DataFrame:
    """One row per (clip, frame) that has a classified face: the selected face's top
    emotion, its 7 (unrounded) scores and its ``face`` index, sorted by clip and frame.
    ``eligible`` (a mask of the rows, :func:`femo.results.faces.chosen_faces`) restricts
    the faces chosen from; a frame without an eligible face has no row, like a frame
    without a face."""
    has_face = (frame_rows["face"].notna() & frame_rows[EMOTIONS[0]].notna()).to_numpy()
    if eligible is not None:
        has_face = has_face & eligible
    if not has_face.any():
        return pd.DataFrame(columns=["video", "frame", "emotion", *EMOTIONS, "face"])
    rows = np.flatnonzero(has_face)
    # The faces are ordered on small keys (a clip's rank among the sorted names stands
    # for its name); the chosen rows' columns are taken once, at the end.
    rank, _ = pd.factorize(frame_rows["video"], sort=True)
    keys = pd.DataFrame(
        {
            "video": rank[rows],
            "frame": frame_rows["frame"].to_numpy()[rows],
            "face": frame_rows["face"].to_numpy()[rows],
        }
    )
    del rank
    if config.face == "largest":
        w, h = (frame_rows[c].iloc[rows].astype(np.int64).to_numpy() for c in ("w", "h"))
        keys["_area"] = w * h
        keys = keys.sort_values(
            ["video", "frame", "_area", "face"], ascending=[True, True, False, True]
        )
    else:
        keys = keys.sort_values(["video", "frame", "face"])
    chosen = rows[keys.drop_duplicates(["video", "frame"], keep="first").index.to_numpy()]
    del keys, rows
    scores = np.column_stack([frame_rows[e].to_numpy(dtype=np.float32)[chosen] for e in EMOTIONS])
    columns = {
        "video": frame_rows["video"].iloc[chosen].reset_index(drop=True),
        "frame": frame_rows["frame"].to_numpy()[chosen],
        "emotion": _top_emotions(scores, config.score_decimals),
    }
    columns.update({e: scores[:, k] for k, e in enumerate(EMOTIONS)})
    columns["face"] = frame_rows["face"].to_numpy()[chosen]  # which face was scored (sheets)
    return pd.DataFrame(columns)


def majority_votes(counts: np.ndarray, classes: Sequence[str]) -> list[str | None]:
    """Each row's majority vote (``counts``: clips x ``classes``); a tie goes to the class
    listed first in the mapping; a row without a vote has none."""
    if not len(counts):
        return []
    top = np.asarray(classes, dtype=object)[np.argmax(counts, axis=1)]
    top[counts.max(axis=1) == 0] = None
    return top.tolist()


def vote(counts: dict[str, int], classes: tuple[str, ...]) -> str | None:
    """Majority vote of one clip's counts per class (see :func:`majority_votes`)."""
    (winner,) = majority_votes(np.array([[counts.get(c, 0) for c in classes]]), classes)
    return winner


def class_scores(per_frame: pd.DataFrame, mapping: MappingConfig) -> pd.DataFrame:
    """Per clip (index) and class (columns): the class's share of the clip's mean scores."""
    mean = per_frame.groupby("video")[list(EMOTIONS)].mean()
    by_class = pd.DataFrame(
        {
            c: mean[[e for e in EMOTIONS if mapping.emotions[e] == c]].sum(axis=1)
            for c in mapping.classes
        }
    )
    return by_class.div(by_class.sum(axis=1).where(lambda t: t > 0, 1.0), axis=0)


def mean_vote(per_frame: pd.DataFrame, mapping: MappingConfig) -> dict[str, str]:
    """The top emotion of each clip's mean scores (over frames with a face), mapped."""
    mean = per_frame.groupby("video")[list(EMOTIONS)].mean()
    top = np.asarray(EMOTIONS)[np.argmax(mean.to_numpy(dtype=np.float64), axis=1)]
    return {video: mapping.emotions[e] for video, e in zip(mean.index, top, strict=True)}


def balanced_vote(
    scores: pd.DataFrame, shares: dict[str, float] | None, rounds: int = 200
) -> dict[str, str]:
    """Classes by rank: each clip's argmax of log class score plus a per-class offset,
    the offsets moved until the predicted shares match ``shares`` (uniform when None).

    It uses no golden label: only the share of each class the user expects.
    """
    classes = list(scores.columns)
    if scores.empty:
        return {}
    target = np.array([(shares or {}).get(c, 0.0) if shares else 1.0 for c in classes])
    target = target / target.sum()
    logs = np.log(scores.to_numpy(dtype=np.float64) + 1e-9)
    offsets = np.zeros(len(classes))
    step = 1.0
    for _ in range(rounds):
        predicted = np.argmax(logs + offsets, axis=1)
        share = np.bincount(predicted, minlength=len(classes)) / len(predicted)
        if np.all(np.abs(share - target) <= 1.0 / len(predicted)):
            break
        offsets += step * (target - share)
        step *= 0.97
    predicted = np.argmax(logs + offsets, axis=1)
    return {video: classes[k] for video, k in zip(scores.index, predicted, strict=True)}


def clip_predictions(
    per_frame: pd.DataFrame, mapping: MappingConfig, config: ReduceConfig
) -> dict[str, str] | None:
    """Each clip's class under ``reduce.vote`` (None: the majority vote, per clip)."""
    if config.vote == "mean":
        return mean_vote(per_frame, mapping)
    if config.vote == "balanced":
        return balanced_vote(class_scores(per_frame, mapping), config.class_shares)
    return None


def positions(values: pd.Series, ids: Sequence[str]) -> np.ndarray:
    """Each of the strings ``values``' place in ``ids`` (-1: not there, or missing).

    Arrow's hash lookup: a frame row per sampled frame is a million rows at 100,000
    clips, where pandas' ``get_indexer`` on them costs four times as much."""
    kind = pa.large_string()
    found = pc.index_in(pa.array(values, kind), value_set=pa.array(list(ids), kind))
    return pc.fill_null(found, -1).to_numpy().astype(np.int64)


def reduce_clips(
    videos: list[str],
    shards: ShardData,
    labels: dict[str, str],
    mapping: MappingConfig,
    config: ReduceConfig,
    groups: dict[str, str] | None = None,
    per_frame: pd.DataFrame | None = None,
    persons: dict[str, str] | None = None,
) -> list[ClipResult]:
    """One :class:`ClipResult` per planned clip, in plan order.

    A clip where no face was chosen in any sampled frame is ``no_face``; under
    ``reduce.face=person`` one whose frames had faces, none of them its person's
    (``persons``: each clip's labelled person), is ``person_absent``.
    """
    groups = groups or {}
    if per_frame is None:
        per_frame = frame_emotions(shards.frame_rows, config)
    classes = list(mapping.classes)
    # Each row's clip as its place in the plan (-1: not planned), found once per table.
    chosen_at = positions(per_frame["video"], videos)
    frames = shards.frame_rows
    frame_at = positions(frames["video"], videos)
    # Each emotion's class (-1: none of the mapping's), with -1 last: what -1 (an emotion
    # the mapping does not name) takes.
    emotions = list(mapping.emotions)
    class_of = [classes.index(c) if c in classes else -1 for c in mapping.emotions.values()]
    class_at = np.array([*class_of, -1])[positions(per_frame["emotion"], emotions)]
    counts = _class_counts(chosen_at, class_at, len(videos), len(classes))
    with_face = _frames_per_clip(chosen_at, per_frame["frame"], len(videos))
    sampled = _frames_per_clip(frame_at, frames["frame"], len(videos))
    found = frames["face"].notna().to_numpy()
    with_any = _frames_per_clip(frame_at[found], frames["frame"][found], len(videos))
    clips = shards.clip_rows[["status", "message"]].reindex(videos)
    predicted = clip_predictions(per_frame, mapping, config)
    if predicted is None:
        votes = majority_votes(counts, classes)
    else:
        votes = [predicted.get(v) for v in videos]
    scores = _class_score_rows(per_frame, chosen_at, mapping, len(videos))
    status = np.array(clips["status"].tolist(), dtype=object)
    message = np.array(clips["message"].tolist(), dtype=object)
    missing = np.array([not isinstance(s, str) for s in status], dtype=bool)
    no_face = ~missing & (status != "error") & (with_face == 0)
    status[no_face] = "no_face"
    if config.face == "person":
        for k in np.flatnonzero(no_face & (with_any > 0)):
            status[k] = "person_absent"
            who = (persons or {}).get(videos[k])
            message[k] = person_absent_message(int(with_any[k]), int(sampled[k]), who)
    message = [m if isinstance(m, str) else None for m in message]
    empty = dict.fromkeys(classes, 0)
    rows = zip(
        videos,
        votes,
        status.tolist(),
        sampled.tolist(),
        with_face.tolist(),
        counts.tolist(),
        message,
        scores,
        missing.tolist(),
        strict=True,
    )
    return [
        ClipResult(video, None, labels.get(video), "missing", 0, 0, dict(empty),
                   group=groups.get(video))
        if absent
        else ClipResult(video, vote, labels.get(video), state, n_sampled, n_face,
                        dict(zip(classes, clip_counts, strict=True)), said,
                        groups.get(video), score)
        for video, vote, state, n_sampled, n_face, clip_counts, said, score, absent in rows
    ]  # fmt: skip


def _class_counts(clip_at: np.ndarray, class_at: np.ndarray, n_clips: int, n_classes: int):
    """Frames per clip (rows) and class (columns) of the chosen faces' top emotions;
    rows of an unplanned clip or of an emotion mapped to no class are not counted."""
    kept = (clip_at >= 0) & (class_at >= 0)
    flat = clip_at[kept].astype(np.int64) * n_classes + class_at[kept]
    counts = np.bincount(flat, minlength=n_clips * n_classes)
    return counts.reshape(n_clips, n_classes)


def _frames_per_clip(clip_at: np.ndarray, frame: pd.Series, n_clips: int) -> np.ndarray:
    """The distinct frames of each clip (a frame of several faces counts once; a row of
    an unplanned clip, or without a frame, none)."""
    frame_number = pd.to_numeric(frame).to_numpy(dtype=np.float64, na_value=np.nan)
    kept = (clip_at >= 0) & ~np.isnan(frame_number)
    pairs = pd.DataFrame({"clip": clip_at[kept], "frame": frame_number[kept]})
    distinct = pairs.drop_duplicates()["clip"].to_numpy()
    return np.bincount(distinct, minlength=n_clips)


def _class_score_rows(
    per_frame: pd.DataFrame, clip_at: np.ndarray, mapping: MappingConfig, n_clips: int
) -> list[dict[str, float]]:
    """Per planned clip (in plan order) and class: the mean over its frames with a face of
    the summed scores of the class's emotions (unnormalised, so a class fer scores 0.35
    stays 0.35), rounded to 6 places; empty without a face."""
    kept = clip_at >= 0
    by_class = _class_means(per_frame[kept].groupby(clip_at[kept]), mapping)
    rows: list[dict[str, float]] = [{} for _ in range(n_clips)]
    names = list(by_class.columns)
    values = by_class.astype(float).round(6).to_numpy().tolist()
    for at, row in zip(by_class.index.tolist(), values, strict=True):
        rows[at] = dict(zip(names, row, strict=True))
    return rows


def _class_means(grouped: Any, mapping: MappingConfig) -> pd.DataFrame:
    """Per group and class: the mean of the summed scores of the class's emotions."""
    mean = grouped[list(EMOTIONS)].mean()
    return pd.DataFrame(
        {
            c: mean[[e for e in EMOTIONS if mapping.emotions[e] == c]].sum(axis=1)
            for c in mapping.classes
        },
        index=mean.index,
    )


def person_absent_message(with_faces: int, sampled: int, person: str | None) -> str:
    """What a ``person_absent`` clip says: its frames had faces, none of its person."""
    who = f"none matched to {person}" if person else "no labelled person to match"
    return f"faces in {with_faces} of {sampled} frames; {who}"


# The statuses of a clip without a scored face: reduce.no_face says if they count wrong.
WITHOUT_FACE = ("no_face", "person_absent")


def scored_clips(results: list[ClipResult], no_face: str = "wrong") -> list[ClipResult]:
    """The labelled clips accuracy is computed over: all of them, or (``abstain``) all
    but those where no face was scored (``no_face``, ``person_absent``). Clips of shards not done (a partial reduce) are
    never among them: nothing is known of them yet, so the accuracy is over the clips
    present."""
    labelled = [r for r in results if r.golden is not None and r.status != "missing"]
    if no_face == "abstain":
        labelled = [r for r in labelled if r.status not in WITHOUT_FACE]
    return labelled


def compute_metrics(
    results: list[ClipResult], classes: tuple[str, ...], no_face: str = "wrong"
) -> dict:
    """Accuracy, per-class precision/recall/F1 and the confusion matrix.

    A labelled clip without a prediction (no face in any sampled frame, or a clip
    that failed) counts as wrong in ``accuracy``; ``accuracy_scored`` leaves it out.
    With ``no_face="abstain"`` clips without a face (or, under ``reduce.face=person``,
    without their person) are left out of every figure, and
    ``coverage`` says which share of the labelled clips remain. A class without
    support has precision, recall and F1 None (n/a), not 0.
    """
    all_labelled = [r for r in results if r.golden is not None]
    labelled = scored_clips(results, no_face)
    scored = [r for r in labelled if r.predict is not None]
    correct = sum(r.predict == r.golden for r in labelled)
    figures = classification_scores(
        [r.golden for r in labelled], [r.predict for r in labelled], classes
    )
    per_class = {
        c: {"precision": p, "recall": r, "f1": f, "support": n}
        for c, p, r, f, n in zip(
            classes, figures.precision, figures.recall, figures.f1, figures.support, strict=True
        )
    }
    return {
        "accuracy": figures.accuracy,
        "accuracy_scored": correct / len(scored) if scored else None,
        "n_videos": len(results),
        "n_labelled": len(all_labelled),
        "n_compared": len(labelled),
        "no_face": no_face,
        "coverage": len(labelled) / len(all_labelled) if all_labelled else None,
        "n_scored": len(scored),
        "n_correct": correct,
        "n_no_face": sum(r.status == "no_face" for r in results),
        "n_person_absent": sum(r.status == "person_absent" for r in results),
        "n_failed": sum(r.status == "error" for r in results),
        "n_missing": sum(r.status == "missing" for r in results),
        "n_missing_labelled": sum(r.status == "missing" for r in all_labelled),
        "per_class": per_class,
        "macro_f1": figures.macro_f1,
        "confusion": figures.confusion_table(),
    }
