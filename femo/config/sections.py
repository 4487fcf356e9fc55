"""The sections of femo's configuration, one frozen dataclass each, with their checks.

The plug-ins' settings live beside their registries (:mod:`.detectors`,
:mod:`.classifier`, :mod:`.extras`) and are imported here for :class:`ExtractConfig`.
:mod:`femo.config` assembles them into a :class:`~femo.config.RunConfig`; import them
from there (``from femo.config import DetectorConfig``), which is also the name tasks
pickled by femo 0.3.0 use.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from .classifier import CLASSIFIERS, EMOTIONS, ClassifierConfig
from .detectors import CHECKS, DETECTORS, DetectorConfig, HaarConfig, detector_config
from .errors import ConfigError
from .extras import IDENTITIES, LANDMARKS, IdentityConfig, LandmarksConfig
from .registry import Entry


def conf_dir() -> Path:
    """The folder of femo's Hydra config tree (``conf/``), shipped with the package."""
    return Path(__file__).resolve().parent.parent / "conf"


@dataclass(frozen=True)
class DatasetConfig:
    root: str | None = None
    labels: str | None = None
    video_column: str = "video"
    label_column: str = "label"
    unknown_labels: str = "error"
    # The unit clips are grouped by (a person, a speaker, a debate): a column of the
    # labels CSV, or the first capture group of a regex on the clip id.
    group_column: str | None = None
    group_pattern: str | None = None
    # Reference photos DIR/<person>/*.jpg|png (identity=dlib), and the labels column
    # naming whose expression each label describes (reduce.face=person).
    references: str | None = None
    person_column: str | None = None
    video_extensions: tuple[str, ...] = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
    image_extensions: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
    # Cut every video into consecutive segments of this many seconds (or frames), the
    # last one shorter; each segment is then a clip (femo.segments).
    segment_s: float | None = None
    segment_frames: int | None = None

    def __post_init__(self) -> None:
        if self.segment_s is not None and self.segment_frames is not None:
            raise ConfigError(
                "dataset.segment_s and dataset.segment_frames are both set; set one "
                "(seconds or frames per segment) and the other to null"
            )
        if self.segment_s is not None and not self.segment_s > 0:
            raise ConfigError(f"dataset.segment_s must be > 0 seconds, not {self.segment_s}")
        if self.segment_frames is not None and self.segment_frames < 1:
            raise ConfigError(f"dataset.segment_frames must be >= 1, not {self.segment_frames}")
        if self.unknown_labels not in ("error", "unlabelled"):
            raise ConfigError(
                f"dataset.unknown_labels must be 'error' or 'unlabelled', not {self.unknown_labels!r}"
            )
        if self.group_pattern is not None and self.group_column is not None:
            raise ConfigError(
                "dataset.group_column and dataset.group_pattern are both set; set one "
                "(a column of the labels file, or a regex on the clip id) and the other to null"
            )
        if self.group_pattern is not None:
            try:
                groups = re.compile(self.group_pattern).groups
            except re.error as exc:
                raise ConfigError(
                    f"dataset.group_pattern {self.group_pattern!r} is not a regex: {exc}"
                ) from None
            if groups < 1:
                raise ConfigError(
                    f"dataset.group_pattern {self.group_pattern!r} needs a capture group, "
                    "e.g. '^([a-z]+)_'"
                )


@dataclass(frozen=True)
class SamplingConfig:
    mode: str = "every_n"
    every_n: int | None = 20
    fps: float | None = None
    max_frames: int | None = None

    # The keys each mode reads; the other mode's key is never used.
    KEYS_READ: ClassVar[dict[str, tuple[str, ...]]] = {
        "every_n": ("every_n", "max_frames"),
        "fps": ("fps", "max_frames"),
    }

    def __post_init__(self) -> None:
        if self.mode == "every_n":
            if not isinstance(self.every_n, int) or self.every_n < 1:
                raise ConfigError(f"sampling.every_n must be an integer >= 1, not {self.every_n!r}")
        elif self.mode == "fps":
            if self.fps is None or self.fps <= 0:
                raise ConfigError(f"sampling.fps must be a number > 0, not {self.fps!r}")
        else:
            raise ConfigError(f"sampling.mode must be 'every_n' or 'fps', not {self.mode!r}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ConfigError(f"sampling.max_frames must be >= 1 or null, not {self.max_frames!r}")

    def step_for(self, video_fps: float) -> int:
        """Frame step for a clip: every_n, or ``video_fps // fps`` as fer's ``save_fps`` does."""
        if self.mode == "every_n":
            return int(self.every_n)  # type: ignore[arg-type]
        return max(1, int(video_fps // self.fps)) if video_fps > 0 else 1  # type: ignore[operator]


@dataclass(frozen=True)
class MappingConfig:
    name: str = "three_class"
    classes: tuple[str, ...] = ("Positive", "Neutral", "Negative")
    emotions: dict[str, str] = field(
        default_factory=lambda: {
            "happy": "Positive",
            "surprise": "Positive",
            "neutral": "Neutral",
            "fear": "Neutral",
            "sad": "Neutral",
            "angry": "Negative",
            "disgust": "Negative",
        }
    )

    def __post_init__(self) -> None:
        missing = [e for e in EMOTIONS if e not in self.emotions]
        if missing:
            raise ConfigError(f"mapping {self.name!r} does not map emotion(s) {', '.join(missing)}")
        unknown = sorted({c for c in self.emotions.values() if c not in self.classes})
        if unknown:
            raise ConfigError(
                f"mapping {self.name!r} maps to {', '.join(unknown)}, which are not in its classes"
            )

    def class_named(self, name: str) -> str | None:
        """The class matching ``name`` case-insensitively, or None."""
        return self._by_folded.get(name.strip().casefold())

    @functools.cached_property
    def _by_folded(self) -> dict[str, str]:
        # The first class of a case-folded name wins, as a scan in order would find it.
        return {c.casefold(): c for c in reversed(self.classes)}


@dataclass(frozen=True)
class ReduceConfig:
    # first (the study) | largest | main (the person seen most in the clip) | person (the
    # labelled person's faces); main and person need identity=dlib. Distances in dlib's
    # embedding space: faces grouped in a clip; a face to a reference photo (0.6, dlib's
    # own); a clip's face group to the labelled person's photos (median): every group
    # within person_distance (dlib's 0.6) is theirs; where none is, the nearest group
    # within person_bound (the labels say they are in the clip).
    face: str = "first"
    group_distance: float = 0.5
    match_distance: float = 0.6
    person_distance: float = 0.6
    person_bound: float = 0.65
    # majority: the study's vote of the frames' top emotions; mean: the top emotion of
    # the clip's mean scores; balanced: classes by rank of the clips' class scores, so
    # that predicted shares match class_shares (uniform when null), labels unseen.
    vote: str = "majority"
    class_shares: dict[str, float] | None = None
    # A clip where no face was found, and (reduce.face=person) a clip with faces but none
    # of its person (person_absent): wrong (the study), or abstain (left out of the
    # accuracy; the coverage is reported beside it).
    no_face: str = "wrong"
    # A head file from `femo fit` (plain JSON): it predicts every clip with a face.
    head: str | None = None
    score_decimals: int | None = 2
    allow_partial: bool = False

    def __post_init__(self) -> None:
        if self.face not in ("first", "largest", "main", "person"):
            raise ConfigError(
                f"reduce.face must be 'first', 'largest', 'main' or 'person', not {self.face!r}"
            )
        for key in ("group_distance", "match_distance", "person_distance", "person_bound"):
            if not isinstance(getattr(self, key), (int, float)) or getattr(self, key) <= 0:
                raise ConfigError(f"reduce.{key} must be a number > 0, not {getattr(self, key)!r}")
        if self.person_bound < self.person_distance:
            raise ConfigError(
                f"reduce.person_bound ({self.person_bound}) must be at least "
                f"reduce.person_distance ({self.person_distance})"
            )
        if self.vote not in ("majority", "mean", "balanced"):
            raise ConfigError(
                f"reduce.vote must be 'majority', 'mean' or 'balanced', not {self.vote!r}"
            )
        if self.no_face not in ("wrong", "abstain"):
            raise ConfigError(f"reduce.no_face must be 'wrong' or 'abstain', not {self.no_face!r}")
        if self.class_shares is not None:
            shares = dict(self.class_shares)
            if any(not isinstance(v, (int, float)) or v < 0 for v in shares.values()) or not sum(
                shares.values()
            ):
                raise ConfigError(
                    f"reduce.class_shares must be non-negative numbers, not {shares!r}"
                )
            object.__setattr__(self, "class_shares", shares)


@dataclass(frozen=True)
class Bootstrap:
    """The percentile bootstrap behind every interval, seeded: same input, same interval."""

    resamples: int = 2000
    level: float = 0.95
    seed: int = 0


BOOTSTRAP = Bootstrap()


@dataclass(frozen=True)
class ReportConfig:
    """What the report shows beyond the study's table: intervals and timelines."""

    # Clips whose 7 scores are drawn along time: the most confident wrong ones first.
    timelines: int = 6
    sheets: int = 4  # contact sheets (femo show) of the most confident wrong clips; 0: none
    # The bootstrap of every interval (the same shards give the same report).
    resamples: int = BOOTSTRAP.resamples
    level: float = BOOTSTRAP.level
    seed: int = BOOTSTRAP.seed
    # Fewer units (clips, or persons when persons are resampled) than this: no interval.
    min_units: int = 10

    @property
    def bootstrap(self) -> Bootstrap:
        return Bootstrap(self.resamples, self.level, self.seed)

    def __post_init__(self) -> None:
        if not isinstance(self.timelines, int) or self.timelines < 0:
            raise ConfigError(f"report.timelines must be an integer >= 0, not {self.timelines!r}")
        if not isinstance(self.sheets, int) or self.sheets < 0:
            raise ConfigError(f"report.sheets must be an integer >= 0, not {self.sheets!r}")
        if not isinstance(self.resamples, int) or self.resamples < 1:
            raise ConfigError(f"report.resamples must be an integer >= 1, not {self.resamples!r}")
        if not 0 < self.level < 1:
            raise ConfigError(f"report.level must be between 0 and 1, not {self.level!r}")
        if not isinstance(self.min_units, int) or self.min_units < 1:
            raise ConfigError(f"report.min_units must be an integer >= 1, not {self.min_units!r}")


@dataclass(frozen=True)
class ExtractConfig:
    """Everything that determines the content of a shard (plus how fast it is made)."""

    detector: DetectorConfig = field(default_factory=HaarConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    # Faces per classifier call, across frames; None: 8 with ONNX on a CPU, 64 with Keras,
    # 256 on a GPU.
    batch_size: int | None = None
    device: str = "auto"
    threads: int | None = None
    # ClassifierConfig, or femo.config.classifier.CustomClassifierConfig (classifier=custom).
    classifier: Any = field(default_factory=ClassifierConfig)
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    landmarks: LandmarksConfig = field(default_factory=LandmarksConfig)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A task pickled by femo 0.3.0 has neither section: it was made with keras and
        # no identities, whatever today's defaults are (and 0.4.0's without landmarks).
        defaults = {
            "classifier": ClassifierConfig("keras"),
            "identity": IdentityConfig(),
            "landmarks": LandmarksConfig(),
        }
        state = {**defaults, **state}
        detector = state.get("detector")
        if type(detector) is DetectorConfig:  # pickled with every detector's keys
            state["detector"] = detector_config(vars(detector), saved=True)
        for key, value in state.items():
            object.__setattr__(self, key, value)

    @property
    def plugins(self) -> tuple[tuple[Entry, Any], ...]:
        """Each plug-in's registry entry and the settings it is built with: the detector,
        its face check, the classifier, the landmarks and the identity, in that order."""
        d = self.detector
        return (
            (DETECTORS.require(d.name), d),
            (CHECKS.require(d.verify), d),
            (CLASSIFIERS.require(self.classifier.name), self.classifier),
            (LANDMARKS.require(self.landmarks.name), self.landmarks),
            (IDENTITIES.require(self.identity.name), self.identity),
        )


def positive_or_none(section: str, key: str, value: Any) -> None:
    """Refuse ``value`` unless it is an integer >= 1 or None, in one line naming the key."""
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ConfigError(f"{section}.{key} must be an integer >= 1 or null, not {value!r}")


@functools.cache
def launcher_names() -> tuple[str, ...]:
    """The launchers there are: the options of ``conf/launcher`` (one yaml per launcher)."""
    return tuple(sorted(p.stem for p in (conf_dir() / "launcher").glob("*.yaml")))


@dataclass(frozen=True)
class LauncherSection:
    """The ``launcher`` section: which launcher makes the shards, and its own settings.

    Each launcher types and checks its settings beside its class (``femo.launchers.<name>``,
    see ``femo.launchers.launcher_config``); this module may not import launchers (the
    layering rule in pyproject.toml). So the section stays here as given, in its saved
    (JSON) shape: the results side reads any run's config without loading a launcher,
    and ``from_dict(to_dict(c)) == c``. Only the name is checked here.
    """

    name: str = "local"
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in launcher_names():
            known = ", ".join(launcher_names())
            raise ConfigError(f"unknown launcher {self.name!r} (known: {known})")
        object.__setattr__(self, "settings", to_dict(dict(self.settings)))


@dataclass(frozen=True)
class ShardsConfig:
    # The clip list (sorted paths) is cut into consecutive shards of this many clips.
    videos_per_shard: int = 16
    # Finished clips are kept this many at a time (part files): a shard that dies
    # keeps them, and its rerun does only the rest.
    part_clips: int = 8
    # A clip still unfinished after this many seconds (a decoder that hangs) is cut
    # off and reported, so it cannot eat the task's wall time; None: no limit. An int,
    # as config.yaml wrote it before it left the defaults here: reports print it.
    clip_timeout_s: float | None = 3600
    # Choose videos_per_shard so that one array task takes about this many minutes (a
    # scheduler's useful grain is minutes, not the seconds 16 clips take); None: keep
    # videos_per_shard. The seconds per clip come from timed_by, else femo's default
    # (femo/results/throughput.py DEFAULT_SECONDS_PER_CLIP).
    target_minutes: float | None = None
    # A finished run over like clips with like settings whose shards' timing gives the
    # seconds per clip and per task's model loading for target_minutes.
    timed_by: str | None = None

    def __post_init__(self) -> None:
        if (
            not isinstance(self.videos_per_shard, int)
            or isinstance(self.videos_per_shard, bool)
            or self.videos_per_shard < 1
        ):
            raise ConfigError(
                f"shards.videos_per_shard must be >= 1, not {self.videos_per_shard!r}"
            )
        positive_or_none("shards", "part_clips", self.part_clips)
        for key in ("clip_timeout_s", "target_minutes"):
            value = getattr(self, key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or value <= 0
            ):
                raise ConfigError(f"shards.{key} must be > 0 or null, not {value!r}")
        if self.timed_by is not None and self.target_minutes is None:
            raise ConfigError(
                "shards.timed_by times shards.target_minutes: give both, e.g. "
                f"shards.target_minutes=20 shards.timed_by={self.timed_by}"
            )


def to_dict(obj: Any) -> Any:
    """A dataclass tree as plain JSON-able containers (tuples become lists)."""
    if isinstance(obj, LauncherSection):
        return {"name": obj.name, **obj.settings}
    if isinstance(obj, DetectorConfig):  # in the order femo has always saved them
        return {k: to_dict(getattr(obj, k)) for k in obj.saved_keys()}
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj
