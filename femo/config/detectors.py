"""The face detectors femo knows, one :class:`DetectorEntry` each: the one list of them.

The config checks a detector's name and settings here, the node builds it from here,
the report names it from here and ``femo bench`` measures it from here. Adding a
detector is a module under ``femo/node``, an entry in :data:`DETECTORS` and its
``conf/detector/<name>.yaml``.

Code is named by dotted paths (``"femo.node.models:HaarDetector"``) and loaded only
when called (:func:`load`): this module sits below the node, which it must not import.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# DetectorConfig keys only BlazeFace reads.
_BLAZEFACE_KEYS = ("model", "min_score", "nms_iou")


@dataclass(frozen=True)
class BenchFacts:
    """How ``femo bench`` measures a detector."""

    # fer's detector whose boxes this one's are compared with (fer has no BlazeFace).
    fer_reference: str = "haar"
    # OpenCV thread counts the detector-only floor is timed with, the best kept; None:
    # OpenCV's own. They matter to Haar; BlazeFace's interpreters use one thread each.
    floor_threads: tuple[int | None, ...] = (None,)
    # The opt-in fast preset (conf/detector) timed next to parity mode, if any.
    fast_preset: str | None = None
    # Whether its preset's face check is also timed apart: the preset without it, and
    # the check alone per face.
    check_apart: bool = False
    # Whether ``femo bench --full`` measures it.
    in_full: bool = False


@dataclass(frozen=True)
class DetectorEntry:
    """One face detector: its name, what a report calls it, how it is built and benched."""

    name: str
    # What the report's Method line calls it.
    display: str
    # "module:Class" of the node's Detector; its ``build`` classmethod makes one.
    builder: str
    # Whether building it loads TensorFlow.
    tensorflow: bool = False
    # detector.scale_factor where the config leaves it null; None: it has no pyramid.
    scale_factor: float | None = None
    # The DetectorConfig keys it does not read (reports show only the others).
    unused: tuple[str, ...] = ()
    # The DetectorConfig keys the Method line shows beside its display name.
    method_keys: tuple[str, ...] = ()
    # "module:function" checking a DetectorConfig of this detector (ConfigError), if any.
    check: str | None = None
    # "module:function" run before a run starts: its runtime and files are installed.
    preflight: str | None = None
    # Why there is no conf/detector/<name>.yaml; None: there is one.
    no_preset: str | None = None
    bench: BenchFacts = field(default_factory=BenchFacts)


DETECTORS: tuple[DetectorEntry, ...] = (
    DetectorEntry(
        name="haar",
        display="fer's Haar cascade",
        builder="femo.node.models:HaarDetector",
        scale_factor=1.1,
        unused=("min_face_size", "frames_per_call", *_BLAZEFACE_KEYS),
        check="femo.config.detector_checks:check_haar",
        bench=BenchFacts(floor_threads=(1, 2), fast_preset="haar_fast", in_full=True),
    ),
    DetectorEntry(
        name="mtcnn",
        display="fer's MTCNN",
        builder="femo.node.models:MtcnnDetector",
        tensorflow=True,
        scale_factor=0.709,
        unused=("min_neighbors", "min_size", *_BLAZEFACE_KEYS),
        check="femo.config.detector_checks:check_mtcnn",
        bench=BenchFacts(fer_reference="mtcnn", in_full=True),
    ),
    DetectorEntry(
        name="blazeface",
        display="MediaPipe's BlazeFace",
        builder="femo.node.models:BlazeFaceDetector",
        unused=("scale_factor", "min_neighbors", "min_size", "min_face_size", "frames_per_call"),
        method_keys=("model",),
        check="femo.config.detector_checks:check_blazeface",
        preflight="femo.node.blazeface:check_installed",
        bench=BenchFacts(floor_threads=(1,), check_apart=True, in_full=True),
    ),
    DetectorEntry(
        name="none",
        display="none: the whole frame is the face",
        builder="femo.node.models:WholeFrameDetector",
        unused=("scale_factor", "min_neighbors", "min_size", "min_face_size", "downscale",
                "frames_per_call", *_BLAZEFACE_KEYS),
    ),
)  # fmt: skip

_BY_NAME: dict[str, DetectorEntry] = {entry.name: entry for entry in DETECTORS}


def detector_names() -> tuple[str, ...]:
    """The detectors' names, in the registry's order."""
    return tuple(_BY_NAME)


def detector_entry(name: Any) -> DetectorEntry | None:
    """The entry of detector ``name``; None where femo has no such detector."""
    return _BY_NAME.get(name) if isinstance(name, str) else None


def listed(last: str, quoted: bool = False) -> str:
    """The names as one phrase for messages: ``haar, mtcnn, blazeface and none``."""
    names = [repr(n) if quoted else n for n in detector_names()]
    return f"{', '.join(names[:-1])} {last} {names[-1]}"


@functools.cache
def load(path: str) -> Callable[..., Any]:
    """The object a ``"package.module:name"`` path names, imported on first use."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)
