"""What the report tells beyond the study's table: intervals, per-person profiles, timelines,
and what was predicted where there are no labels (classes with counts, top emotions,
per-clip profiles: the study's per-candidate profile, for one clip).

Pure functions over the reduce stage's outputs (:class:`~femo.results.reduce.ClipResult` per
clip, the chosen face per frame) that return the report's typed records
(:mod:`femo.results.metrics`); no file is read or written here.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ..config import EMOTIONS, MappingConfig, ReportConfig
from ..dataset import Segment
from .metrics import CiBasis, ClipProfile, GroupProfile, Interval, Predicted
from .reduce import ClipResult, positions, scored_clips
from .stats import accuracy_intervals, bootstrap_metrics
from .time_records import PersonInSegment, SegmentResult, Timeline, VideoOverTime


def _interval(value: Any) -> list[float] | None:
    return None if value is None else [round(value.low, 6), round(value.high, 6)]


def bootstrap_groups(results: list[ClipResult]) -> list[str] | None:
    """The resampling unit of each clip: its group where some clip has one (a clip
    without a group is a group of its own), else None (resample clips)."""
    if not any(r.group for r in results):
        return None
    return [r.group if r.group else f"\0clip:{r.video}" for r in results]


def withheld(n_units: int, unit: str, min_units: int) -> str:
    """Why an interval is not shown: ``no interval: 3 clips, fewer than report.min_units=10``."""
    noun = {"clip": "clip", "group": "person"}[unit] + ("" if n_units == 1 else "s")
    return f"no interval: {n_units} {noun}, fewer than report.min_units={min_units}"


@dataclass(frozen=True)
class Intervals:
    """The answer's intervals and how they were made (``basis`` None: nothing labelled)."""

    accuracy: Interval | None = None
    macro_f1: Interval | None = None
    recall: dict[str, Interval | None] = field(default_factory=dict)
    basis: CiBasis | None = None


def intervals(
    results: list[ClipResult],
    classes: tuple[str, ...],
    cfg: ReportConfig,
    no_face: str = "wrong",
) -> Intervals:
    """The accuracy's, macro-F1's and each class's recall's intervals, over the same clips
    as the figures (``reduce.no_face``). Below ``cfg.min_units`` resampled units there are
    none, and the basis says why (``withheld``)."""
    labelled = scored_clips(results, no_face)
    none = dict.fromkeys(classes)
    if not labelled:
        return Intervals(recall=none)
    groups = bootstrap_groups(labelled)
    n_units = len(labelled) if groups is None else len(set(groups))
    if n_units < cfg.min_units:
        unit = "clip" if groups is None else "group"
        basis = CiBasis.of(
            method=None,
            level=cfg.level,
            unit=unit,
            n_units=n_units,
            min_units=cfg.min_units,
            withheld=withheld(n_units, unit, cfg.min_units),
        )
        return Intervals(recall=none, basis=basis)
    boot = bootstrap_metrics(
        [r.golden for r in labelled],
        [r.predict for r in labelled],
        classes,
        groups=groups,
        **asdict(cfg.bootstrap),
    )
    return Intervals(
        accuracy=_interval(boot["accuracy"]),
        macro_f1=_interval(boot["macro_f1"]),
        recall={c: _interval(boot["recall"][c]) for c in classes},
        basis=CiBasis.of(**boot["ci"], seed=cfg.seed, min_units=cfg.min_units),
    )


def group_profiles(
    results: list[ClipResult], per_frame: pd.DataFrame, mapping: MappingConfig, cfg: ReportConfig
) -> list[GroupProfile]:
    """Per group: clips, frames with a face, the 7 emotions' shares (top emotion of the
    chosen face) and mean scores, the classes' shares, predicted shares and accuracy."""
    group_of = {r.video: r.group for r in results if r.group}
    if not group_of:
        return []
    # A frame of a clip without a group has no key: groupby leaves it out.
    grouped = list(group_of)
    at = positions(per_frame["video"], grouped)
    names_of = np.array([*group_of.values(), None], dtype=object)  # -1: the None at the end
    group = pd.Series(names_of[at], index=per_frame.index, name="group")
    emotion_counts = (
        per_frame.groupby([group, per_frame["emotion"]])
        .size()
        .unstack(fill_value=0)
        .reindex(columns=EMOTIONS)
    ).fillna(0)
    mean_scores = per_frame.groupby(group)[list(EMOTIONS)].mean()
    names = sorted({g for g in group_of.values()})
    correct, labelled, clips, predicted = _group_tallies(results, names, mapping.classes)
    intervals = accuracy_intervals(
        [correct[g] for g in names],
        [labelled[g] for g in names],
        **asdict(cfg.bootstrap),
    )
    # Plain rows per group, looked up once: a .loc per group and emotion costs a second
    # over thousands of persons.
    count_rows = emotion_counts.reindex(index=names, fill_value=0).to_numpy(float).tolist()
    mean_rows = mean_scores.reindex(index=names).to_numpy(float).tolist()
    with_scores = set(mean_scores.index)
    profiles = []
    for g, interval, counts, means in zip(names, intervals, count_rows, mean_rows, strict=True):
        n_frames = int(sum(counts))
        shares = {
            e: c / n_frames if n_frames else 0.0 for e, c in zip(EMOTIONS, counts, strict=True)
        }
        class_share = dict.fromkeys(mapping.classes, 0.0)
        for e, share in shares.items():
            class_share[mapping.emotions[e]] += share
        n_predicted = sum(predicted[g].values())
        profile = GroupProfile(
            group=g,
            clips=clips[g],
            labelled=labelled[g],
            frames_with_face=n_frames,
            emotion_share={e: round(v, 6) for e, v in shares.items()},
            emotion_mean_score={
                e: (round(m, 6) if g in with_scores else None)
                for e, m in zip(EMOTIONS, means, strict=True)
            },
            class_share={c: round(v, 6) for c, v in class_share.items()},
            predicted_share={
                c: round(n / n_predicted, 6) if n_predicted else 0.0
                for c, n in predicted[g].items()
            },
            accuracy=correct[g] / labelled[g] if labelled[g] else None,
            accuracy_ci=_interval(interval) if labelled[g] >= cfg.min_units else None,
            ci_withheld=(
                withheld(labelled[g], "clip", cfg.min_units)
                if 0 < labelled[g] < cfg.min_units
                else None
            ),
        )
        profiles.append(profile if n_frames else _nobody(profile))
    return profiles


def _group_tallies(
    results: list[ClipResult], names: list[str], classes: Sequence[str]
) -> tuple[dict[str, int], dict[str, int], dict[str, int], dict[str, dict[str, int]]]:
    """Per group (``names``): its right clips, labelled clips, clips and predictions per
    class (clips without a group are in none)."""
    grouped = [r for r in results if r.group]
    clips = pd.DataFrame(
        {
            "group": [r.group for r in grouped],
            "predict": [r.predict or None for r in grouped],
            "labelled": [r.golden is not None for r in grouped],
            "right": [r.golden is not None and r.predict == r.golden for r in grouped],
        }
    )
    by_group = clips.groupby("group")
    sums = by_group[["labelled", "right"]].sum().reindex(names, fill_value=0)
    sizes = by_group.size().reindex(names, fill_value=0)
    votes = (
        clips.groupby(["group", "predict"]).size().unstack(fill_value=0)
        .reindex(index=names, columns=list(classes), fill_value=0)
    )  # fmt: skip
    predicted = {
        g: dict(zip(classes, row, strict=True))
        for g, row in zip(names, votes.to_numpy().tolist(), strict=True)
    }
    right, labelled = sums["right"].tolist(), sums["labelled"].tolist()
    return (
        dict(zip(names, right, strict=True)),
        dict(zip(names, labelled, strict=True)),
        dict(zip(names, sizes.tolist(), strict=True)),
        predicted,
    )


def _nobody(profile: GroupProfile) -> GroupProfile:
    """A group without a frame with a face: nothing to show but its counts (an argmax
    of zeros would show "angry", its shares 0 %, its accuracy the no-face rule's 0 %)."""
    return replace(
        profile,
        emotion_share=None,
        class_share=None,
        predicted_share=None,
        accuracy=None,
        accuracy_ci=None,
        ci_withheld=None,
    )


def pick_timelines(results: list[ClipResult], n: int) -> list[ClipResult]:
    """The clips to draw: the most confident wrong ones (two thirds), then the most
    confident right ones; without labels, the most confident ones."""
    if n <= 0:
        return []
    scored = [r for r in results if r.predict is not None]

    def most_confident(rs: list[ClipResult], k: int) -> list[ClipResult]:
        return heapq.nsmallest(k, rs, key=lambda r: (-(r.confidence or 0.0), r.video))

    wrong = [r for r in scored if r.golden is not None and r.predict != r.golden]
    right = [r for r in scored if r.golden is not None and r.predict == r.golden]
    if not wrong and not right:
        return most_confident(scored, n)
    n_wrong = min(len(wrong), max(n - min(len(right), n // 3), 0))
    chosen = most_confident(wrong, n_wrong) + most_confident(right, n - n_wrong)
    return chosen


def timelines(
    frame_rows: pd.DataFrame, per_frame: pd.DataFrame, chosen: list[ClipResult]
) -> list[Timeline]:
    """The 7 scores of the chosen face along each chosen clip; ``scores`` is None for a
    sampled frame without a face (drawn as a gap)."""
    out = []
    videos = {r.video for r in chosen}
    sampled = frame_rows[frame_rows["video"].isin(videos)].drop_duplicates(["video", "frame"])
    faces = per_frame[per_frame["video"].isin(videos)].set_index(["video", "frame"])
    for r in chosen:
        rows = sampled[sampled["video"] == r.video].sort_values("frame")
        frames = []
        for frame, time_s in zip(rows["frame"], rows["time_s"], strict=True):
            key = (r.video, frame)
            scores = None
            if key in faces.index:
                scores = {e: round(float(faces.at[key, e]), 5) for e in EMOTIONS}
            frames.append(
                {
                    "frame": int(frame),
                    "time_s": None if pd.isna(time_s) else float(time_s),
                    "scores": scores,
                }
            )
        out.append(
            Timeline.from_json(
                {
                    "video": r.video,
                    "group": r.group,
                    "golden": r.golden,
                    "predict": r.predict,
                    "correct": None if r.golden is None else r.predict == r.golden,
                    "confidence": r.confidence,
                    "frames": frames,
                }
            )
        )
    return out


# ----------------------------------------------- what was predicted, without labels


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
) -> Predicted | None:
    """The unlabelled clips' predicted classes (clip counts) and top emotions (shares of
    their frames with a face); None when every clip has a label."""
    clips = unlabelled_clips(results)
    if not clips:
        return None
    predicted = pd.Series([r.predict for r in clips if r.predict], dtype=object).value_counts()
    frames = per_frame[per_frame["video"].isin({r.video for r in clips})]
    emotions = frames["emotion"].value_counts()
    return Predicted(
        clips=len(clips),
        with_prediction=int(predicted.sum()),
        no_face=sum(r.status == "no_face" for r in clips),
        failed=sum(r.status == "error" for r in clips),
        classes={c: int(predicted.get(c, 0)) for c in mapping.classes},
        frames_with_face=int(emotions.sum()),
        emotion_share=_shares(emotions, EMOTIONS),
        class_share=_shares(
            frames["emotion"].map(mapping.emotions).value_counts(), mapping.classes
        ),
    )


def clip_profiles(
    results: list[ClipResult], per_frame: pd.DataFrame, mapping: MappingConfig, limit: int
) -> list[ClipProfile]:
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
            ClipProfile(
                group=r.video,
                clips=1,
                frames_with_face=int(row.sum()),
                emotion_share=_shares(row, EMOTIONS),
                class_share=_shares(by_class, mapping.classes),
                predict=r.predict,
            )
        )
    return profiles


# ----------------------------------------------- a segmented run's videos over time


def segment_timelines(
    results: Sequence[ClipResult],
    spans: Mapping[str, Segment],
    per_frame: pd.DataFrame,
    mapping: MappingConfig,
    faces: pd.DataFrame | None = None,
) -> list[VideoOverTime]:
    """The report over time (``metrics.json``'s ``over_time``): per video, in plan order,
    its segments in time order with span, predicted and golden class, status and group,
    the shares of the top emotions and classes of its frames with a face (``per_frame``:
    the scored face per frame), and each reference person's class shares (``faces``: one
    row per classified face with ``video``, ``person`` and ``emotion``; None without
    reference photos)."""
    emotion_counts = _counts_by_clip(per_frame)
    persons = _person_counts(faces, mapping)
    by_file: dict[str, list[SegmentResult]] = {}
    for r in results:
        seg = spans.get(r.video)
        if seg is None:
            continue
        counts = emotion_counts.get(r.video, pd.Series(dtype=int))
        by_class = counts.groupby(lambda e: mapping.emotions[e]).sum() if len(counts) else counts
        by_file.setdefault(seg.file, []).append(
            SegmentResult(
                start_frame=seg.start_frame,
                end_frame=seg.end_frame,
                start_s=seg.start_s,
                end_s=seg.end_s,
                predict=r.predict,
                golden=r.golden,
                status=r.status,
                group=r.group,
                frames_with_face=int(counts.sum()),
                emotion_share=_shares(counts, EMOTIONS),
                class_share=_shares(by_class, mapping.classes),
                persons=persons.get(r.video, {}) if faces is not None else None,
            )
        )
    return [
        VideoOverTime(video=video, segments=sorted(rows, key=_start))
        for video, rows in by_file.items()
    ]


def _counts_by_clip(per_frame: pd.DataFrame) -> dict[str, pd.Series]:
    """Each clip's frames with a face per top emotion."""
    if per_frame.empty:
        return {}
    table = per_frame.groupby(["video", "emotion"]).size().unstack(fill_value=0)
    return {str(video): row[row > 0] for video, row in table.iterrows()}


def _person_counts(
    faces: pd.DataFrame | None, mapping: MappingConfig
) -> dict[str, dict[str, PersonInSegment]]:
    """Per clip, each reference person seen in it: faces and class shares (the faces
    matched to nobody are left out)."""
    if faces is None or faces.empty:
        return {}
    known = faces[faces["person"].notna()]
    classes = known["emotion"].map(mapping.emotions)
    table = known.groupby([known["video"], known["person"], classes]).size()
    out: dict[str, dict[str, PersonInSegment]] = {}
    for (video, person), counts in table.groupby(level=[0, 1]):
        counts = counts.droplevel([0, 1])
        out.setdefault(str(video), {})[str(person)] = PersonInSegment(
            faces=int(counts.sum()), class_share=_shares(counts, mapping.classes)
        )
    return out


def _start(row: SegmentResult) -> float:
    start = row.start_frame if row.start_frame is not None else row.start_s
    return float(start) if start is not None else 0.0
