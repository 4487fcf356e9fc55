"""Which clips a head was fitted on, known by content.

``head.json`` records each clip the head was trained on: its id, a fingerprint of its
file (:func:`file_fingerprint`) and, for a segment of a long video, its frames. A report
that applies the head can then tell which of the clips it scores the head has already
seen (:func:`fitted_on`), under another run, detector, sampling or segmentation of the
same files alike: their figure is in-sample, not an estimate for new clips.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...dataset import Clip
from ..records import Record, RecordError

# The bytes read from each end of a file: the container's header and index, and the
# first and last frames' data, which differ from one video to the next. Reading only
# these keeps a study's thousands of clips cheap to fingerprint.
FINGERPRINT_BYTES = 64 * 1024

# How a scored clip was found among the fitted ones.
BY_CONTENT = "content"  # the same file (size and bytes), frames that overlap
BY_NAME = "name"  # the same clip id, where a file could not be read on one side
BY_RUN = "run"  # a head from before clips were recorded, fitted on this very run


@dataclass(frozen=True, eq=False)
class FittedClip(Record):
    """One clip a head was trained on (``provenance["clips"]`` of ``head.json``)."""

    REQUIRED = frozenset({"clip"})

    clip: str = ""
    file: str | None = None  # file_fingerprint; None: not readable where it was fitted
    frames: list[int] | None = None  # [start, end) of a segment; None: the whole file
    absent: frozenset[str] = frozenset()

    @property
    def span(self) -> tuple[float, float]:
        """The frames it covers, ``[start, end)``; a whole file covers every frame."""
        if self.frames is None:
            return (0, float("inf"))
        return (self.frames[0], self.frames[1])


def file_fingerprint(path: str | os.PathLike[str]) -> str | None:
    """``SIZE:HASH``: the file's size and a SHA-256 (16 hex digits) of its first and last
    :data:`FINGERPRINT_BYTES`; None where the file cannot be read. The same file under
    another name or folder gives the same fingerprint."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            digest = hashlib.sha256(f.read(FINGERPRINT_BYTES))
            if size > FINGERPRINT_BYTES:
                f.seek(max(FINGERPRINT_BYTES, size - FINGERPRINT_BYTES))
                digest.update(f.read())
    except OSError:
        return None
    return f"{size}:{digest.hexdigest()[:16]}"


def clip_identities(root: str | None, clips: Iterable[Clip]) -> list[FittedClip]:
    """Each clip's id, its file's fingerprint (each file read once; none without
    ``root``) and a segment's frames."""
    fingerprints: dict[str, str | None] = {}
    out = []
    for clip in clips:
        segment = clip.segment
        file = clip.video if segment is None else segment.file
        if file not in fingerprints:
            fingerprints[file] = None if root is None else file_fingerprint(Path(root, file))
        frames = None
        if segment is not None and segment.start_frame is not None:
            frames = [segment.start_frame, segment.end_frame]
        out.append(FittedClip.of(clip=clip.video, file=fingerprints[file], frames=frames))
    return out


def read_fitted_clips(provenance: Mapping[str, Any]) -> tuple[FittedClip, ...]:
    """The fitted clips a head file records (none for a head from before they were, or
    whose ``clips`` is not a list: a count, say, in a provenance written by hand);
    ``ValueError`` with one line where a listed clip is not what femo writes."""
    value = provenance.get("clips")
    if not isinstance(value, list):
        return ()
    try:
        clips = tuple(
            FittedClip.from_json(v, f"provenance.clips[{i}]") for i, v in enumerate(value)
        )
    except RecordError as exc:
        raise ValueError(f"head file: {exc}") from None
    for c in clips:
        if not isinstance(c.clip, str) or not isinstance(c.file, (str, type(None))):
            raise ValueError(f"head file: provenance.clips: {c.clip!r} is not a clip id and file")
        frames = c.frames
        if frames is not None and (
            not isinstance(frames, list)
            or len(frames) != 2
            or not all(isinstance(k, int) and not isinstance(k, bool) for k in frames)
        ):
            raise ValueError(f"head file: provenance.clips: {c.clip!r} frames must be [start, end]")
    return clips


def fitted_on(fitted: Sequence[FittedClip], scored: Sequence[FittedClip]) -> dict[str, str]:
    """The scored clips the head was fitted on, each with how it was known (``BY_CONTENT``:
    the same file and frames that overlap; ``BY_NAME``: the same clip id, where its file
    could not be read on one side)."""
    spans: dict[str, list[tuple[float, float]]] = {}
    for f in fitted:
        if f.file is not None:
            spans.setdefault(f.file, []).append(f.span)
    unread = {f.clip for f in fitted if f.file is None}
    every_name = {f.clip for f in fitted}
    found: dict[str, str] = {}
    for c in scored:
        start, end = c.span
        if c.file is not None and any(a < end and start < b for a, b in spans.get(c.file, ())):
            found[c.clip] = BY_CONTENT
        elif c.clip in (every_name if c.file is None else unread):
            found[c.clip] = BY_NAME
    return found


def scored_in_sample(
    provenance: Mapping[str, Any], run_path: Path, root: str | None, clips: Sequence[Clip]
) -> dict[str, str]:
    """The clips of a run (``clips``, under ``root``) that a head with ``provenance`` was
    fitted on, as :func:`fitted_on` gives them. A head from before fitted clips were
    recorded knows only its runs: every clip of a run it was fitted on is in-sample."""
    fitted = read_fitted_clips(provenance)
    if fitted:
        return fitted_on(fitted, clip_identities(root, clips))
    runs = provenance.get("runs")
    fitted_runs = {
        Path(r["run"]).resolve()
        for r in (runs if isinstance(runs, list) else [])
        if isinstance(r, Mapping) and isinstance(r.get("run"), str)
    }
    if Path(run_path).resolve() in fitted_runs:
        return dict.fromkeys((c.video for c in clips), BY_RUN)
    return {}
