"""How a report's figures were made: the ``Method: ...`` line, the ``Labels: ...`` line and
the settings as YAML.

Pure: the run's config (the :func:`femo.config.to_dict` shape) in, text out. Each part
names its setting as ``key=value`` too, so a re-reduce's folder (``report-reduce.face-main``)
and its Method line say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any

from ...config import DETECTOR_SETTINGS_UNUSED, classifier_config
from ...config.detectors import detector_entry

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
_CLASSIFIER = {"onnx": "ONNX Runtime", "keras": "TensorFlow, as fer runs it"}


def _detector(detector: Mapping[str, Any]) -> str:
    name = detector.get("name")
    entry = detector_entry(name)
    if entry is None:  # a config from a femo that had a detector this one lacks
        return f"detector {name} ({name}; detector={name})"
    keys = "".join(f", {key} {detector.get(key)}" for key in entry.method_keys)
    return f"detector {name} ({entry.display}{keys}; detector={name})"


def _ordinal(n: Any) -> str:
    """``20th `` for 20, ``2nd `` for 2, nothing for 1 (every frame)."""
    if n == 1:
        return ""
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10 if n % 100 not in (11, 12, 13) else 0, "th")
    return f"{n}{suffix} "


def _sampling(sampling: Mapping[str, Any]) -> str:
    if sampling.get("mode") == "fps":
        fps = sampling.get("fps")
        text = f"sampling about {fps} frames a second (sampling.fps={fps})"
    else:
        n = sampling.get("every_n")
        text = f"sampling every {_ordinal(n)}frame (sampling.every_n={n})"
    limit = sampling.get("max_frames")
    return text + (f", at most {limit} per clip" if limit else "")


def _classifier(section: Mapping[str, Any], card: Mapping[str, Any] | None = None) -> str:
    if section.get("name", "fer") == "fer":
        backend = section.get("backend", "onnx")
        return (
            f"classifier fer's 7-emotion model on {backend} ({_CLASSIFIER.get(backend, backend)})"
        )
    text = f"classifier {classifier_config(dict(section)).identity} (classifier=custom"
    return text + (f"; {tuned_text(card)})" if card else ")")


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


def _head(path: str, head: Mapping[str, Any] | None) -> str:
    text = f"head: a learnt head replaces the vote (reduce.head={path}"
    if head:
        detectors = ", ".join(head.get("detectors") or []) or "unknown"
        text += f"; fit on {head.get('labelled_clips')} labelled clips of {detectors} runs"
    return text + ")"


def method_text(
    config: Mapping[str, Any],
    head: Mapping[str, Any] | None = None,
    members: Sequence[tuple[str, str]] = (),
    model_card: Mapping[str, Any] | None = None,
) -> str:
    """``Method: ...``: detector, classifier, sampling, face rule, vote, no-face rule,
    the head (its file and what it was fitted on: ``head``, its provenance) and the
    ensemble's other runs (``members``: name and detector of each). ``model_card``: a
    custom model's provenance, where femo tuned it (``femo fit --tune``)."""
    reduce = config.get("reduce") or {}
    face, vote, no_face = reduce.get("face"), reduce.get("vote"), reduce.get("no_face")
    mapping = (config.get("mapping") or {}).get("name")
    parts = [
        _detector(config.get("detector") or {}),
        _classifier(config.get("classifier") or {}, model_card),
        _sampling(config.get("sampling") or {}),
        f"face rule: {_FACE.get(face, face)} (reduce.face={face})",
        f"vote: {_VOTE.get(vote, vote)} (reduce.vote={vote})",
        f"no face: {_NO_FACE.get(no_face, no_face)} (reduce.no_face={no_face})",
        f"classes: {mapping} (mapping={mapping})",
    ]
    if reduce.get("head"):
        parts.append(_head(str(reduce["head"]), head))
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


def settings_yaml(config: Mapping[str, Any]) -> str:
    """The run's settings as YAML, with only the keys of the detector it used."""
    import yaml

    settings = dict(config)
    detector = dict(settings.get("detector") or {})
    unused = DETECTOR_SETTINGS_UNUSED.get(detector.get("name"), ())
    settings["detector"] = {k: v for k, v in detector.items() if k not in unused}
    return yaml.safe_dump(settings, sort_keys=False, default_flow_style=None, width=100)
