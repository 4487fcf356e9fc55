"""From an opened run to its report model: one result per clip, then every figure, once.

:func:`reduce_shards` makes one :class:`~femo.results.reduce.ClipResult` per planned clip
(combined with other runs over the same clips, or predicted by a head, where asked);
:func:`build_report` makes the :class:`~femo.results.model.Report` every writer renders
from. No video is read here and nothing is written.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import EMOTIONS, ConfigError, RunConfig, from_saved, to_dict
from ..dataset import Clip, Labels, clip_groups, unmatched_pattern
from ..rundir import RunDir, timestamp
from .analysis import (
    clip_profiles,
    group_profiles,
    intervals,
    pick_timelines,
    predicted_summary,
    segment_timelines,
    timelines,
)
from .faces.choice import chosen_emotions
from .metrics import (
    ClassFigures,
    FitSummary,
    Identities,
    InSample,
    Metrics,
    Provenance,
    ShardCounts,
)
from .model import Report
from .pages.method import labels_text, method_text, settings_yaml
from .reduce import WITHOUT_FACE, ClipResult, compute_metrics, mean_vote, reduce_clips
from .run import OpenRun
from .shard_rows import ShardData
from .throughput import add_timing, speed_summary

log = logging.getLogger(__name__)

# Per-clip profiles of unlabelled clips on the page: those with the most faces.
CLIP_PROFILES = 60


@dataclass
class Member:
    """One run of an ensemble over the same clips: its shards read with the reported run's
    settings, the settings it was made with (detector, classifier, landmarks), and its
    chosen faces."""

    run: OpenRun
    made_with: RunConfig
    per_frame: Any

    @property
    def detector(self) -> str:
        return self.made_with.detector.name

    @property
    def shards(self) -> ShardData:
        return self.run.shards


@dataclass
class Reduced:
    """What the reduce stage makes of one run (and the runs it is combined with)."""

    run: OpenRun
    per_frame: Any
    results: list[ClipResult]
    members: list[Member]
    identities: Identities | None = None
    reference_crops: dict[str, list[bytes]] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    faces: Any = None  # every classified face and its person (reference photos given)
    # The clips the head (reduce.head) was fitted on, each with how it was known; and
    # those a tuned model (classifier=custom, made by femo fit --tune) learnt from.
    in_sample: dict[str, str] = field(default_factory=dict)
    tuned_on: dict[str, str] = field(default_factory=dict)

    @property
    def labels(self) -> Labels:
        return self.run.labels


def _member(path: Path, run: OpenRun) -> Member:
    """Another run over the same clips as ``run``, read as ``run`` is (its settings,
    labels and reference faces)."""
    other = run.over(RunDir(path))
    if other.videos != run.videos:
        raise ConfigError(
            f"--with {other.path}: it ran over other clips; an ensemble needs the same"
        )
    try:
        other.check_done()
    except ConfigError as exc:
        raise ConfigError(f"--with {other.path}: {exc}") from None
    per_frame = chosen_emotions(other).per_frame
    return Member(other, from_saved(other.manifest["config"]), per_frame)


def reduce_shards(run: OpenRun, with_runs: tuple[Path, ...] = ()) -> Reduced:
    """One :class:`ClipResult` per planned clip of ``run``.

    ``with_runs`` are runs over the same clips (another detector or sampling): their mean
    scores are averaged with this run's in the vote. A head (``reduce.head``) replaces
    the vote.
    """
    config = run.config
    config.check_identity()
    run.check_done()
    videos = run.videos
    chosen = chosen_emotions(run)
    per_frame = chosen.per_frame
    groups = clip_groups(videos, config.dataset, run.labels)
    if warning := unmatched_pattern(videos, config.dataset, groups):
        log.warning(warning)
    results = reduce_clips(
        videos,
        run.shards,
        run.labels.by_video,
        config.mapping,
        config.reduce,
        groups,
        per_frame,
        run.persons,
    )
    members = [Member(run, config, per_frame)]
    members += [_member(p, run) for p in with_runs]
    in_sample: dict[str, str] = {}
    if config.reduce.head:
        in_sample = _apply_head(run, members, results)
    elif len(members) > 1:
        _ensemble_vote(run, members, results)
    return Reduced(
        run,
        per_frame,
        results,
        members,
        chosen.identities,
        chosen.crops,
        groups,
        chosen.faces,
        in_sample,
        _tuned_on(run, results),
    )


def _ensemble_vote(run: OpenRun, members: list[Member], results: list[ClipResult]) -> None:
    """The top emotion of each clip's mean scores averaged over the runs that found a face."""
    import pandas as pd

    means = [m.per_frame.groupby("video")[list(EMOTIONS)].mean() for m in members]
    combined = pd.concat(means).groupby(level=0).mean()
    predicted = mean_vote(combined.reset_index(), run.config.mapping)
    for r in results:
        if r.status == "missing" or r.video not in predicted:
            continue
        r.predict = predicted[r.video]
        if r.status in WITHOUT_FACE:  # another detector found one
            r.status = "ok"


def ensemble_features(members: list[Member], mapping: Any, videos: list[str]) -> tuple:
    """Per-clip features of every member side by side (names prefixed by run and
    detector when there are several); a clip has a face if any member found one."""
    import numpy as np

    from .fit.features import clip_features

    blocks, names, faces = [], [], []
    for k, m in enumerate(members):
        X, block_names, has_face = clip_features(m.shards.frame_rows, m.per_frame, mapping, videos)
        prefix = f"{k}.{m.detector}:" if len(members) > 1 else ""
        blocks.append(X)
        names += [prefix + n for n in block_names]
        faces.append(has_face)
    return np.hstack(blocks), names, np.logical_or.reduce(faces)


def member_meshes(member: Member, videos: list[str]) -> Any:
    """The clips' mean meshes of the scored faces (clips, 1404; NaN rows: none), or None
    for a run made without the face's mesh."""
    from .fit.mesh_features import clip_meshes

    if not member.made_with.landmarks.active:
        return None
    shards = member.shards
    return clip_meshes(shards.shard_files, shards.clip_rows, member.per_frame, videos)


def _apply_head(run: OpenRun, members: list[Member], results: list[ClipResult]) -> dict[str, str]:
    """Predict every clip that has a face with the head file ``reduce.head``; returns
    the clips it was fitted on (:func:`~femo.results.fit.fitted_clips.scored_in_sample`)."""
    from .fit.fitted_clips import scored_in_sample
    from .fit.headfile import check_head_fits, load_head
    from .fit.model import predict_head

    config = run.config
    try:
        head = load_head(config.reduce.head)
        videos = [r.video for r in results]
        X, names, has_face = ensemble_features(members, config.mapping, videos)
        mesh = member_meshes(members[0], videos) if head.mesh is not None else None
        if head.mesh is not None:
            names += head.mesh.names
        classifiers = {m.made_with.classifier.identity for m in members}
        check_head_fits(head, names, {m.detector for m in members}, classifiers)
        if not set(head.classes) <= set(config.mapping.classes):
            raise ValueError(
                f"the head predicts {', '.join(head.classes)}; mapping "
                f"{config.mapping.name!r} has {', '.join(config.mapping.classes)}"
            )
    except (OSError, ValueError) as exc:
        raise ConfigError(f"reduce.head: {exc}") from None
    try:
        predictions = predict_head(head, X, has_face, mesh)
    except ValueError as exc:
        raise ConfigError(f"reduce.head: {exc}") from None
    for r, predicted in zip(results, predictions, strict=True):
        if r.status != "missing":
            r.predict = predicted
    return scored_in_sample(
        head.provenance, run.path, config.dataset.root, _scored_clips(run, results)
    )


def _scored_clips(run: OpenRun, results: list[ClipResult]) -> list[Clip]:
    """The planned clips the report scores (every one but the missing)."""
    videos = [r.video for r in results if r.status != "missing"]
    clip_of = run.plan.clips_of(videos)
    return [clip_of[v] for v in videos]


def _tuned_on(run: OpenRun, results: list[ClipResult]) -> dict[str, str]:
    """The scored clips the run's classifier learnt from, where it is a model femo tuned
    (its card records them, :mod:`femo.model_card`); none for any other classifier."""
    from ..model_card import read_card
    from .fit.fitted_clips import scored_in_sample

    model = getattr(run.config.classifier, "model", None)
    fitted = (read_card(model) or {}).get("fitted_on") if model else None
    if not isinstance(fitted, dict):
        return {}
    try:
        return scored_in_sample(
            fitted, run.path, run.config.dataset.root, _scored_clips(run, results)
        )
    except ValueError as exc:  # a card whose clips do not read: said, not guessed at
        log.warning("classifier.model %s: its record of clips does not read (%s)", model, exc)
        return {}


def build_report(run: OpenRun, with_runs: tuple[Path, ...] = ()) -> Report:
    """The report of an opened run, from its shards (and the runs it is combined with)."""
    reduced = reduce_shards(run, with_runs)
    config, results, per_frame = run.config, reduced.results, reduced.per_frame
    classes = config.mapping.classes
    in_sample = in_sample_figures(reduced.in_sample, reduced.tuned_on, results, config)
    figures = compute_metrics(results, classes, config.reduce.no_face)
    ci = intervals(results, classes, config.report, config.reduce.no_face)
    per_class = {
        c: ClassFigures(**figures["per_class"][c], recall_ci=ci.recall.get(c)) for c in classes
    }
    shards, plan, not_done = run.shards, run.plan, run.not_done
    config_dict = to_dict(config)
    metrics = Metrics(
        **{**figures, "per_class": per_class},
        accuracy_ci=ci.accuracy,
        macro_f1_ci=ci.macro_f1,
        ci=ci.basis,
        partial=bool(not_done),
        classes=list(classes),
        emotions=list(EMOTIONS),
        unlabelled=[r.video for r in results if r.golden is None],
        missing_clips=run.labels.missing_clips,
        unknown_labels=run.labels.unknown,
        shards=ShardCounts(plan.n_shards, plan.n_shards - len(not_done), not_done),
        clips_in_several_shards=shards.duplicates,
        labels_file=run.labels_file,
        predicted=predicted_summary(results, per_frame, config.mapping),
        clip_profiles=clip_profiles(results, per_frame, config.mapping, CLIP_PROFILES),
        method=_method(run, reduced.members, in_sample),
        labels_line=_labels_line(run),
        groups=group_profiles(results, per_frame, config.mapping, config.report),
        identities=reduced.identities,
        timelines=timelines(
            shards.frame_rows, per_frame, pick_timelines(results, config.report.timelines)
        ),
        provenance=provenance(run),
        fit=fit_summary(run),
        in_sample=in_sample,
        settings_yaml=settings_yaml(config),
        config=config_dict,
        throughput=speed_summary(add_timing(shards.metadata), plan.n_clips, plan.n_shards),
        over_time=(
            segment_timelines(results, run.spans, per_frame, config.mapping, reduced.faces)
            if run.spans
            else None
        ),
        absent=frozenset(
            k for k, v in (("over_time", run.spans), ("in_sample", in_sample)) if not v
        ),
    )
    return Report(metrics, tuple(results), config, run.spans, reduced.reference_crops)


def _method(run: OpenRun, members: list[Member], in_sample: InSample | None = None) -> str:
    """The report's ``Method`` line: the settings, the head and the ensemble's other runs."""
    others = [(m.run.path.name, m.detector) for m in members[1:]]
    model = getattr(run.config.classifier, "model", None)  # a custom model's file
    card = None
    if model:  # a model femo tuned says what it was fitted on
        from ..model_card import read_card

        card = read_card(model)
    head = head_provenance(run.config.reduce.head)
    return method_text(run.config, head, others, card, in_sample)


def in_sample_figures(
    head_on: dict[str, str],
    tuned_on: dict[str, str],
    results: list[ClipResult],
    config: RunConfig,
) -> InSample | None:
    """What the report says of the clips the head was fitted on (``head_on``) or the
    tuned model learnt from (``tuned_on``): how many it scored, and the accuracy over the
    labelled clips neither saw, if any."""
    found = {**tuned_on, **head_on}
    if not found:
        return None
    scored = [r for r in results if r.video in found]
    others = [r for r in results if r.video not in found and r.golden is not None]
    classes, no_face = config.mapping.classes, config.reduce.no_face
    accuracy = compute_metrics(others, classes, no_face)["accuracy"] if others else None
    ci = intervals(others, classes, config.report, no_face).accuracy if others else None
    return InSample.of(
        head_file=config.reduce.head if head_on else None,
        model_file=getattr(config.classifier, "model", None) if tuned_on else None,
        clips=len(scored),
        labelled=sum(r.golden is not None for r in scored),
        known_by=sorted(set(found.values())),
        out_of_sample_labelled=len(others),
        out_of_sample_accuracy=accuracy,
        out_of_sample_accuracy_ci=ci,
    )


def _labels_line(run: OpenRun) -> str:
    """The report's ``Labels`` line: the file the run was given, and the file read."""
    snapshot = run.folder.labels_file
    return labels_text(
        run.manifest.get("labels_source"),
        run.labels_file,
        str(snapshot) if snapshot.is_file() else None,
    )


def head_provenance(path: str | None) -> dict[str, Any] | None:
    """What a head file says it was fitted on (None: no head, or an unreadable file)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))["provenance"] if path else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def fit_summary(run: OpenRun) -> FitSummary | None:
    """The cross-validated figures of the head ``femo fit`` left in this run, if any."""
    head_file = run.folder.head_file
    try:
        data = json.loads(head_file.read_text(encoding="utf-8"))
        figures = data["provenance"]["cross_validation"]
        return FitSummary.from_json({"head_file": str(head_file), **figures})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def provenance(run: OpenRun) -> Provenance:
    """Who made the shards and from what: versions, model hash, data, dates."""
    meta = run.shards.metadata[0] if run.shards.metadata else {}
    config = run.config
    return Provenance(
        femo_version=meta.get("femo_version", run.manifest.get("femo_version")),
        fer_version=meta.get("fer_version"),
        emotion_model_sha256=meta.get("emotion_model_sha256"),
        dataset_root=config.dataset.root,
        labels_file=run.labels_file,
        label_column=config.dataset.label_column,
        run_created=run.manifest.get("created"),
        reported_at=timestamp(),
        report_by=__version__,
    )
