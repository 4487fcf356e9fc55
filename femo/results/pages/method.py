"""How a report's figures were made: the ``Method: ...`` line, the ``Labels: ...`` line and
the settings as YAML.

Pure: the run's typed config in, text out. Each part names its setting as ``key=value``
too, so a re-reduce's folder (``report-reduce.face-main``) and its Method line say the
same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any

from ...config import AnyClassifier, DetectorConfig, RunConfig, SamplingConfig, to_dict
from ..metrics import InSample

_FACE = {
    "first": "the first face of each frame",
    "largest": "the largest face of each frame",
    "main": "the face of the person seen most in the clip",
    "person": "the face of the labelled person",
}
_VOTE = {
    "majority": "the class most of a clip's frames map to",
    "mean": "the top emotion of a clip's mean scores, mapped",
    "balanced": "classes by rank, to the expected shares",
}
_NO_FACE = {
    "wrong": "no prediction, counted wrong",
    "abstain": "no prediction, left out of every figure",
}


def detector_text(detector: DetectorConfig) -> str:
    """The detector and the settings its entry names, as the Method line says them."""
    name, entry = detector.name, detector.entry
    keys = "".join(f", {key} {getattr(detector, key)}" for key in entry.method_keys)
    return f"detector {name} ({entry.display}{keys}; detector={name})"


def _ordinal(n: Any) -> str:
    """``20th `` for 20, ``2nd `` for 2, nothing for 1 (every frame)."""
    if n == 1:
        return ""
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10 if n % 100 not in (11, 12, 13) else 0, "th")
    return f"{n}{suffix} "


def _sampling(sampling: SamplingConfig) -> str:
    if sampling.mode == "fps":
        fps = sampling.fps
        text = f"sampling about {fps} frames a second (sampling.fps={fps})"
    else:
        n = sampling.every_n
        text = f"sampling every {_ordinal(n)}frame (sampling.every_n={n})"
    limit = sampling.max_frames
    return text + (f", at most {limit} per clip" if limit else "")


def _classifier(
    classifier: AnyClassifier, card: Mapping[str, Any] | None, in_sample: InSample | None
) -> str:
    if card is None:
        return f"classifier {classifier.method}"
    seen = ""
    if in_sample and in_sample.model_file:
        seen = f"; IN-SAMPLE: it learnt from {in_sample_count(in_sample)} scored here"
    return f"classifier {classifier.identity} (classifier=custom; {tuned_text(card)}{seen})"


def tuned_text(card: Mapping[str, Any]) -> str:
    """What a model tuned by ``femo fit --tune`` says it was fitted on, and how (its
    provenance, :func:`femo.model_card.read_card`)."""
    fitted = card.get("fitted_on") or {}
    settings = card.get("settings") or {}
    runs = ", ".join(PurePath(str(r.get("run"))).name for r in fitted.get("runs") or [])
    detectors = ", ".join(fitted.get("detectors") or []) or "unknown"
    rate = settings.get("rate")
    return (
        f"tuned from fer's model by femo fit --tune on {fitted.get('faces')} faces of "
        f"{fitted.get('labelled_clips')} labelled clips, {fitted.get('persons')} persons "
        f"(runs {runs or 'unknown'}; {detectors}), rate {rate if rate is None else f'{rate:g}'}, "
        f"{settings.get('epochs')} epochs"
    )


def _head(path: str, head: Mapping[str, Any] | None, in_sample: InSample | None) -> str:
    text = f"head: a learnt head replaces the vote (reduce.head={path}"
    if head:
        detectors = ", ".join(head.get("detectors") or []) or "unknown"
        text += f"; fit on {head.get('labelled_clips')} labelled clips of {detectors} runs"
    if in_sample and in_sample.head_file:
        text += f"; IN-SAMPLE: it was fit on {in_sample_count(in_sample)} scored here"
    return text + ")"


def in_sample_count(in_sample: InSample) -> str:
    """``21 of the labelled clips`` (or ``18 of the clips``, none of them labelled now)."""
    if in_sample.labelled:
        return f"{in_sample.labelled} of the labelled clips"
    return f"{in_sample.clips} of the clips"


def method_text(
    config: RunConfig,
    head: Mapping[str, Any] | None = None,
    members: Sequence[tuple[str, str]] = (),
    model_card: Mapping[str, Any] | None = None,
    in_sample: InSample | None = None,
) -> str:
    """``Method: ...``: detector, classifier, sampling, face rule, vote, no-face rule,
    the head (its file and what it was fitted on: ``head``, its provenance; the clips
    scored that it was fitted on: ``in_sample``) and the ensemble's other runs
    (``members``: name and detector of each). ``model_card``: a custom model's
    provenance, where femo tuned it (``femo fit --tune``)."""
    reduce = config.reduce
    face, vote, no_face = reduce.face, reduce.vote, reduce.no_face
    mapping = config.mapping.name
    parts = [
        detector_text(config.detector),
        _classifier(config.classifier, model_card, in_sample),
        _sampling(config.sampling),
        f"face rule: {_FACE.get(face, face)} (reduce.face={face})",
        f"vote: {_VOTE.get(vote, vote)} (reduce.vote={vote})",
        f"no face: {_NO_FACE.get(no_face, no_face)} (reduce.no_face={no_face})",
        f"classes: {mapping} (mapping={mapping})",
    ]
    if reduce.head:
        parts.append(_head(str(reduce.head), head, in_sample))
    if members:
        others = ", ".join(f"{name} ({detector})" for name, detector in members)
        parts.append(f"ensemble: mean scores averaged with {others}")
    return "Method: " + "; ".join(parts) + "."


def labels_text(given: str | None, used: str | None, snapshot: str | None) -> str:
    """``Labels: /data/labels.csv (snapshot: RUN/labels.csv)``: the file the user gave and
    the run's copy the report read; or the file a re-reduce named; or none."""
    if not used:
        return "Labels: none given"
    if snapshot and used == snapshot:
        return f"Labels: {given or 'unknown'} (snapshot: {snapshot})"
    return f"Labels: {used} (dataset.labels={used})"


def settings_yaml(config: RunConfig) -> str:
    """The run's settings as YAML (the detector's own keys only: its settings class's)."""
    import yaml

    return yaml.safe_dump(to_dict(config), sort_keys=False, default_flow_style=None, width=100)
