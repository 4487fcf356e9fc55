"""The face detectors femo knows, one :class:`DetectorEntry` each, with each detector's
own settings class; and the face check after detection (``detector.verify``).

The config builds a detector's settings from here (:func:`detector_config`), the node
builds the detector from here, the report names it from here and ``femo bench``
measures it from here. Adding a detector is its settings class and entry here, its node
module and its ``conf/detector/<name>.yaml`` (docs/extending.md).

Each detector's settings are its own frozen dataclass over :class:`DetectorConfig`
(name, offsets and the face check's keys): a key another detector reads is refused.
Runs saved before that hold every detector's keys in one flat section; reading a saved
config drops the keys its detector does not have (``saved=True``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError
from .registry import Entry, Registry, settings_fields

# The order femo has always saved a detector's keys in (one flat section of every
# detector's keys until each had its own class; a saved config from then holds them
# all). :func:`detector_keys` keeps it, so a report's Settings YAML reads as before.
SAVED_ORDER = ("name", "scale_factor", "min_neighbors", "min_size", "min_face_size",
               "offsets", "downscale", "frames_per_call", "model", "min_score", "nms_iou",
               "verify", "verify_below", "verify_min", "min_face")  # fmt: skip


# Under this, a pyramid level would enlarge the frame more than 3x (the model needs ~26
# input pixels a face): the cost grows with the square and nothing new is seen.
MIN_FACE_FLOOR = 8


def blazeface_models(model: str) -> tuple[str, list[str]]:
    """``detector.model`` as (how models combine: '+' merged or '/' cascade, the models)."""
    joiner = "/" if "/" in model else "+"
    return joiner, list(dict.fromkeys(model.split(joiner)))


@dataclass(frozen=True)
class DetectorConfig:
    """What every detector's settings hold; each detector's class adds its own keys.

    Build one with :func:`detector_config` (from a section's values) or its own class
    (``HaarConfig()``). This was the one class of every detector's keys in femo 0.3.0's
    pickled tasks: :meth:`femo.config.ExtractConfig.__setstate__` reads those.
    """

    # One of DETECTORS: haar | mtcnn | blazeface | none (no detection: each frame is one
    # face, for pre-cropped faces); each class's default is its own name.
    name: str
    offsets: tuple[int, int] = (10, 10)
    # The face check after detection, one of CHECKS: none | evidence (femo.node.evidence:
    # not flat like a drawing, found again on a close-up crop, and a profile by its eyes
    # or a face to MediaPipe's face mesh) | mesh (the face mesh's presence score alone).
    # The blazeface preset runs evidence on every face; Haar and MTCNN keep it off (the
    # study's method). A face the detector scores below verify_below (null: every face;
    # a detector without scores, Haar: every face) is checked; the mesh's presence must
    # reach verify_min.
    verify: str = "none"
    verify_below: float | None = 0.65
    verify_min: float = 0.05

    def __post_init__(self) -> None:
        entry = DETECTORS.require(self.name)
        if type(self) is not entry.settings:
            raise ConfigError(
                f"detector {self.name}'s settings are {entry.settings.__name__}, "
                f"not {type(self).__name__}"
            )
        self.check()
        CHECKS.require(self.verify)
        if self.verify_below is not None and not 0 < self.verify_below <= 1:
            raise ConfigError(
                f"detector.verify_below must be between 0 and 1 or null, not {self.verify_below!r}"
            )
        if not 0 <= self.verify_min < 1:
            raise ConfigError(f"detector.verify_min must be in [0, 1), not {self.verify_min!r}")
        if len(self.offsets) != 2:
            raise ConfigError(f"detector.offsets must be two integers [x, y], not {self.offsets!r}")

    def check(self) -> None:
        """This detector's own keys (its class adds them); ConfigError where one is wrong."""

    @classmethod
    def saved_before(cls) -> dict[str, Any]:
        """The value each key added since femo first saved this detector had before it
        was a key: a saved config without the key ran that way."""
        return {}

    @property
    def entry(self) -> DetectorEntry:
        return DETECTORS.require(self.name)

    @property
    def checks(self) -> bool:
        """Whether a face check runs after detection (``detector.verify`` builds one)."""
        return CHECKS.require(self.verify).builds

    @classmethod
    def saved_keys(cls) -> tuple[str, ...]:
        """Its keys in the order femo saves them (:data:`SAVED_ORDER`, then any other)."""
        own = settings_fields(cls)
        return tuple(k for k in SAVED_ORDER if k in own) + tuple(
            k for k in own if k not in SAVED_ORDER
        )


@dataclass(frozen=True)
class ShrinkingDetectorConfig(DetectorConfig):
    """A detector that can look at the frame shrunk (fast mode): every one but none."""

    # Fast mode: detect on the frame shrunk by this factor (boxes are mapped back and
    # faces are still cropped from the full-resolution frame). 1 is exact parity with fer.
    downscale: float = 1.0

    def check(self) -> None:
        if not isinstance(self.downscale, (int, float)) or self.downscale < 1:
            raise ConfigError(
                f"detector.downscale must be a number >= 1 (1 = exact parity with fer), "
                f"not {self.downscale!r}"
            )


def _pyramid(config: DetectorConfig) -> float:
    """``scale_factor``, its class's default where it is null (the detector's own)."""
    if config.scale_factor is None:  # type: ignore[attr-defined]
        default = {f.name: f.default for f in dataclasses.fields(config)}["scale_factor"]
        object.__setattr__(config, "scale_factor", default)
    return config.scale_factor  # type: ignore[attr-defined]


@dataclass(frozen=True)
class HaarConfig(ShrinkingDetectorConfig):
    """fer's OpenCV Haar cascade, with fer's parameters."""

    name: str = "haar"
    # The image pyramid's step, > 1 (null: 1.1, fer's).
    scale_factor: float | None = 1.1
    min_neighbors: int = 5
    min_size: int = 50

    def check(self) -> None:
        if not _pyramid(self) > 1:
            raise ConfigError(
                f"detector.scale_factor must be > 1 for Haar, not {self.scale_factor}"
            )
        super().check()


@dataclass(frozen=True)
class MtcnnConfig(ShrinkingDetectorConfig):
    """MTCNN (the mtcnn package's defaults, which fer uses)."""

    name: str = "mtcnn"
    # The image pyramid's step, between 0 and 1 (null: 0.709, MTCNN's).
    scale_factor: float | None = 0.709
    min_face_size: int = 20
    # Frames per MTCNN call (MTCNN runs batched across frames); None: 8 on CPU, 32 on GPU.
    frames_per_call: int | None = None

    def check(self) -> None:
        if not 0 < _pyramid(self) < 1:
            raise ConfigError(
                f"detector.scale_factor must be between 0 and 1 for MTCNN, not {self.scale_factor}"
            )
        super().check()
        calls = self.frames_per_call
        if calls is not None and (not isinstance(calls, int) or calls < 1):
            raise ConfigError(
                f"detector.frames_per_call must be an integer >= 1 or null, not {calls!r}"
            )


@dataclass(frozen=True)
class BlazeFaceConfig(ShrinkingDetectorConfig):
    """MediaPipe's BlazeFace, as the blazeface preset runs it: short-range at the scales
    that find faces from ``min_face`` pixels, back-camera where it is unsure, and every
    face checked on its evidence."""

    name: str = "blazeface"
    # short (close-ups) | full | back (small faces); several joined by '+' (each runs,
    # boxes merged) or by '/' (a cascade: the next runs only on frames where the ones
    # before found no face).
    model: str = "short/back"
    # null: each model's own threshold (MediaPipe's).
    min_score: float | None = None
    # Boxes overlapping by more than this IoU are merged (MediaPipe's weighted NMS).
    nms_iou: float = 0.3
    # The smallest face to find, in frame pixels: short range also looks at the frame
    # scaled so that such a face is the ~26 of its input pixels it needs (a pyramid,
    # each level a third of the last). null: only the frame letterboxed into each
    # model's input, as MediaPipe runs it (faces under ~5 % of the frame's width missed).
    min_face: int | None = 48
    verify: str = "evidence"
    verify_below: float | None = None

    @classmethod
    def saved_before(cls) -> dict[str, Any]:
        # verify came with the face check; a run saved before ran without one.
        return {"min_face": None, "verify": "none", "verify_below": 0.65}

    def check(self) -> None:
        joiner, models = blazeface_models(self.model or "")
        mixed = joiner == "/" and "+" in self.model
        if not self.model or mixed or any(m not in ("short", "full", "back") for m in models):
            raise ConfigError(
                f"detector.model must be short, full, back, models joined by '+' (merged, "
                f"e.g. short+back) or by '/' (a cascade, e.g. short/back), not {self.model!r}"
            )
        if self.min_score is not None and not 0 < self.min_score < 1:
            raise ConfigError(
                f"detector.min_score must be between 0 and 1 or null, not {self.min_score!r}"
            )
        if not 0 < self.nms_iou < 1:
            raise ConfigError(f"detector.nms_iou must be between 0 and 1, not {self.nms_iou!r}")
        if self.min_face is not None and (
            not isinstance(self.min_face, int) or self.min_face < MIN_FACE_FLOOR
        ):
            raise ConfigError(
                f"detector.min_face must be an integer >= {MIN_FACE_FLOOR} (pixels) or null, "
                f"not {self.min_face!r}"
            )
        super().check()


@dataclass(frozen=True)
class WholeFrameConfig(DetectorConfig):
    """``detector=none``: no detection, the whole frame is the face."""

    name: str = "none"

    @property
    def downscale(self) -> float:
        """1, not a key: nothing is detected, so there is no frame to shrink."""
        return 1.0


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

    @property
    def fer_mtcnn(self) -> bool:
        """Whether fer runs its MTCNN for the comparison (``FER(mtcnn=True)``)."""
        return self.fer_reference == "mtcnn"


@dataclass(frozen=True)
class DetectorEntry(Entry):
    """One face detector: its settings class, node class, Method line and bench facts.

    ``builder`` is ``"module:Class.build"`` of the node's Detector; ``preflight`` gets
    the detector's settings.
    """

    # The settings keys the Method line shows beside its display name.
    method_keys: tuple[str, ...] = ()
    bench: BenchFacts = field(default_factory=BenchFacts)


DETECTORS: Registry[DetectorEntry] = Registry("detector.name", (
    DetectorEntry(
        name="haar",
        display="fer's Haar cascade",
        settings=HaarConfig,
        builder="femo.node.detectors:HaarDetector.build",
        bench=BenchFacts(floor_threads=(1, 2), fast_preset="haar_fast", in_full=True),
    ),
    DetectorEntry(
        name="mtcnn",
        display="fer's MTCNN",
        settings=MtcnnConfig,
        builder="femo.node.detectors:MtcnnDetector.build",
        tensorflow=True,
        bench=BenchFacts(fer_reference="mtcnn", in_full=True),
    ),
    DetectorEntry(
        name="blazeface",
        display="MediaPipe's BlazeFace",
        settings=BlazeFaceConfig,
        builder="femo.node.detectors:BlazeFaceDetector.build",
        method_keys=("model", "min_face", "verify"),
        preflight="femo.node.blazeface:check_installed",
        bench=BenchFacts(floor_threads=(1,), check_apart=True, in_full=True),
    ),
    DetectorEntry(
        name="none",
        display="none: the whole frame is the face",
        settings=WholeFrameConfig,
        builder="femo.node.detectors:WholeFrameDetector.build",
    ),
), default="haar")  # fmt: skip

# The face check after detection (``detector.verify``): its builder gets the detector's
# settings (verify_below, verify_min), and makes a femo.node.verify.FaceCheck.
_A_DETECTOR_KEY = "chosen by detector.verify, a key of every detector's settings"
CHECKS: Registry[Entry] = Registry("detector.verify", (
    Entry(name="none", display="no face check", settings=None, no_preset=_A_DETECTOR_KEY),
    Entry(
        name="evidence",
        display="femo's evidence check (not flat, found again close up, eyes or face mesh)",
        settings=None,
        builder="femo.node.evidence:EvidenceCheck",
        preflight="femo.node.verify:check_installed",
        no_preset=_A_DETECTOR_KEY,
    ),
    Entry(
        name="mesh",
        display="MediaPipe's face mesh",
        settings=None,
        builder="femo.node.verify:FaceCheck",
        preflight="femo.node.verify:check_installed",
        no_preset=_A_DETECTOR_KEY,
    ),
), default="none")  # fmt: skip


def detector_names() -> tuple[str, ...]:
    """The detectors' names, in the registry's order."""
    return DETECTORS.names()


def detector_entry(name: Any) -> DetectorEntry | None:
    """The entry of detector ``name``; None where femo has no such detector."""
    return DETECTORS.entry(name)


def listed(last: str, quoted: bool = False) -> str:
    """The detectors' names as one phrase for messages: ``haar, mtcnn, blazeface and none``."""
    return DETECTORS.listed(last, quoted)


def detector_config(values: Mapping[str, Any] | None = None, saved: bool = False) -> DetectorConfig:
    """The settings of the detector ``values["name"]`` names (default haar), in its class.

    A key that detector does not have is one ConfigError line naming the key and the
    detector, unless ``saved``: a run folder's saved config from before each detector
    had its own class holds every detector's keys, and those of others are dropped.
    """
    values = dict(values or {})
    name = values.setdefault("name", DETECTORS.default)
    cls = DETECTORS.require(name).settings
    keys = cls.saved_keys()
    if saved:
        values = {k: v for k, v in values.items() if k in keys or k not in SAVED_ORDER}
        values = {**cls.saved_before(), **values}
    unknown = sorted(set(values) - set(keys))
    if unknown:
        which = ", ".join(repr(f"detector.{k}") for k in unknown)
        raise ConfigError(
            f"unknown key{'s' * (len(unknown) > 1)} {which} (detector {name} has: {', '.join(keys)})"
        )
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"bad detector config: {exc}") from None
