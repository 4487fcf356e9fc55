"""The labelled clips of one or more runs as ``femo fit`` reads them: per clip its
features, golden label, person, the study's vote, whether it has a face, and its mean
mesh; per run what was reduced (its chosen faces, read once)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...config import ConfigError, RunConfig
from ..build import Reduced, ensemble_features, member_meshes, reduce_shards
from ..run import open_run


@dataclass
class RunPart:
    """One run's share of the pooled clips: rows ``start`` to ``start + len(videos)``."""

    reduced: Reduced
    videos: list[str]
    start: int

    @property
    def config(self) -> RunConfig:
        return self.reduced.run.config


@dataclass
class LabelledClips:
    """Every planned clip of the runs, pooled in run order, and what ``femo fit`` needs
    of each; ``mesh`` is None unless every run has the face's mesh (and it is asked)."""

    X: np.ndarray
    names: list[str]
    golden: list[str | None]
    groups: list[str]
    votes: list[str | None]
    has_face: np.ndarray
    mesh: np.ndarray | None
    classes: tuple[str, ...]
    config: RunConfig  # the last run's, as femo fit has always read its report settings
    detectors: set[str] = field(default_factory=set)
    classifiers: set[str] = field(default_factory=set)
    runs: list[dict[str, Any]] = field(default_factory=list)
    parts: list[RunPart] = field(default_factory=list)
    unlabelled: list[Path] = field(default_factory=list)  # runs without a labelled clip

    @property
    def labelled(self) -> int:
        return sum(g is not None for g in self.golden)

    def fitted_clips(self) -> list[dict[str, Any]]:
        """The clips a model fitted on these learns from (labelled, with a face), each
        known by content (:mod:`.fitted_clips`): what ``head.json`` and a tuned model's
        card record, so that a report scoring one of them says it is in-sample."""
        from .fitted_clips import clip_identities

        identities = []
        for part in self.parts:
            run = part.reduced.run
            clip_of = run.plan.clips_of(part.videos)
            root = run.config.dataset.root
            identities += clip_identities(root, [clip_of[v] for v in part.videos])
        return [
            c.to_json()
            for c, golden, face in zip(identities, self.golden, self.has_face, strict=True)
            if golden and face
        ]


def gather_clips(
    run_dirs: Sequence[Path],
    overrides: list[str],
    with_runs: tuple[Path, ...] = (),
    *,
    use_mesh: bool = True,
    frame_columns: Sequence[str] | None = None,
) -> LabelledClips:
    """Open and reduce each run (reduce-side ``overrides``), and pool its clips.

    Raises a one-line :class:`ConfigError` for a run given a head, runs of other classes,
    or ``with_runs`` beside several runs. ``frame_columns``: the frame columns the shard
    rows keep, where more than the report's are needed (the boxes, say).
    """
    features, golden, groups, votes, faces, meshes = [], [], [], [], [], []
    names: list[str] = []
    classes: tuple[str, ...] | None = None
    detectors: set[str] = set()
    classifiers: set[str] = set()
    runs: list[dict[str, Any]] = []
    parts: list[RunPart] = []
    unlabelled: list[Path] = []
    start = 0
    for run_dir in run_dirs:
        run = open_run(run_dir, overrides, frame_columns=frame_columns)
        config = run.config
        if config.reduce.head:
            raise ConfigError("femo fit learns a head; leave reduce.head out")
        if classes is not None and config.mapping.classes != classes:
            raise ConfigError(f"{run.path} has other classes than {run_dirs[0]}: fit them apart")
        classes = config.mapping.classes
        if with_runs and len(run_dirs) > 1:
            raise ConfigError("--with combines one run with others over the same clips")
        reduced = reduce_shards(run, with_runs)
        videos = [r.video for r in reduced.results]
        X, names, has_face = ensemble_features(reduced.members, config.mapping, videos)
        features.append(X)
        faces.append(has_face)
        meshes.append(member_meshes(reduced.members[0], videos) if use_mesh else None)
        if all(r.golden is None for r in reduced.results):
            unlabelled.append(run_dir)
        for r in reduced.results:
            golden.append(r.golden)
            votes.append(r.predict)
            groups.append(r.group or f"{run.path}\0{r.video}")  # no person: its own group
        detectors.update(m.detector for m in reduced.members)
        classifiers.update(m.made_with.classifier.identity for m in reduced.members)
        runs += [
            {"run": str(m.run.path), "clips": len(videos), "detector": m.detector}
            for m in reduced.members
        ]
        parts.append(RunPart(reduced, videos, start))
        start += len(videos)
    assert classes is not None
    return LabelledClips(
        X=np.vstack(features),
        names=names,
        golden=golden,
        groups=groups,
        votes=votes,
        has_face=np.concatenate(faces),
        mesh=None if any(m is None for m in meshes) else np.vstack(meshes),
        classes=classes,
        config=config,
        detectors=detectors,
        classifiers=classifiers,
        runs=runs,
        parts=parts,
        unlabelled=unlabelled,
    )
