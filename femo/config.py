"""Typed configuration for femo's stages, and the one dict shape it is saved in.

Hydra's ``DictConfig`` stops at the CLI layer: :func:`from_dict` turns the resolved
config into these frozen dataclasses, which pickle cheaply for submitit and can be
built in tests without Hydra. :func:`to_dict` gives back the same shape as ``conf/``
(``from_dict(to_dict(c)) == c``); run folders store it in their manifest.

The ``launcher`` section is the exception: each launcher's typed settings live beside
the launcher (``femo.launchers.<name>``), which this module must not import (the
layering rule in pyproject.toml). :class:`LauncherSection` keeps that section as given,
with its name checked against ``conf/launcher``; ``femo.launchers.launcher_config``
types and checks the rest, and ``femo run`` and resume call it before any work starts.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


class ConfigError(ValueError):
    """A configuration problem a person can fix; its message is one readable line."""


def conf_dir() -> Path:
    """The folder of femo's Hydra config tree (``conf/``), shipped with the package."""
    return Path(__file__).resolve().parent / "conf"


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
    video_extensions: tuple[str, ...] = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
    image_extensions: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")

    def __post_init__(self) -> None:
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
class DetectorConfig:
    # haar | mtcnn | none (no detection: each frame is one face, for pre-cropped faces)
    name: str = "haar"
    # Image-pyramid step; None means the detector's own default (Haar 1.1, MTCNN 0.709).
    scale_factor: float | None = None
    # Haar (fer's defaults)
    min_neighbors: int = 5
    min_size: int = 50
    # MTCNN (the mtcnn package's defaults, which fer uses)
    min_face_size: int = 20
    offsets: tuple[int, int] = (10, 10)
    # Fast mode: detect on the frame shrunk by this factor (boxes are mapped back and
    # faces are still cropped from the full-resolution frame). 1 is exact parity with fer.
    downscale: float = 1.0
    # Frames per MTCNN call (MTCNN runs batched across frames); None: 8 on CPU, 32 on GPU.
    frames_per_call: int | None = None
    # BlazeFace: short (close-ups) | full | back (small faces); several joined by '+'
    # (each runs, boxes merged) or by '/' (a cascade: the next runs only on frames where
    # the ones before found no face); min_score null: each model's own (MediaPipe's).
    # The preset (conf/detector/blazeface.yaml) is short/back; this field's default stays
    # short+back because every run's extraction key holds it, whatever its detector.
    model: str = "short+back"
    min_score: float | None = None
    nms_iou: float = 0.3

    def __post_init__(self) -> None:
        if self.name not in ("haar", "mtcnn", "none", "blazeface"):
            raise ConfigError(
                f"detector.name must be 'haar', 'mtcnn', 'blazeface' or 'none', not {self.name!r}"
            )
        if self.name == "blazeface":
            _check_blazeface(self)
        # name 'none' (pre-cropped faces, the whole frame is the face) detects nothing:
        # its scale factor and minimum sizes are unused, and left as given.
        if self.scale_factor is None and self.name in ("haar", "mtcnn"):
            default = 1.1 if self.name == "haar" else 0.709
            object.__setattr__(self, "scale_factor", default)
        if self.name == "haar" and not self.scale_factor > 1:
            raise ConfigError(
                f"detector.scale_factor must be > 1 for Haar, not {self.scale_factor}"
            )
        if self.name == "mtcnn" and not 0 < self.scale_factor < 1:
            raise ConfigError(
                f"detector.scale_factor must be between 0 and 1 for MTCNN, not {self.scale_factor}"
            )
        if len(self.offsets) != 2:
            raise ConfigError(f"detector.offsets must be two integers [x, y], not {self.offsets!r}")
        if not isinstance(self.downscale, (int, float)) or self.downscale < 1:
            raise ConfigError(
                f"detector.downscale must be a number >= 1 (1 = exact parity with fer), "
                f"not {self.downscale!r}"
            )
        if self.frames_per_call is not None and (
            not isinstance(self.frames_per_call, int) or self.frames_per_call < 1
        ):
            raise ConfigError(
                f"detector.frames_per_call must be an integer >= 1 or null, "
                f"not {self.frames_per_call!r}"
            )


def blazeface_models(model: str) -> tuple[str, list[str]]:
    """``detector.model`` as (how models combine: '+' merged or '/' cascade, the models)."""
    joiner = "/" if "/" in model else "+"
    return joiner, list(dict.fromkeys(model.split(joiner)))


def _check_blazeface(c: DetectorConfig) -> None:
    joiner, models = blazeface_models(c.model or "")
    mixed = joiner == "/" and "+" in c.model
    if not c.model or mixed or any(m not in ("short", "full", "back") for m in models):
        raise ConfigError(
            f"detector.model must be short, full, back, models joined by '+' (merged, "
            f"e.g. short+back) or by '/' (a cascade, e.g. short/back), not {c.model!r}"
        )
    if c.min_score is not None and not 0 < c.min_score < 1:
        raise ConfigError(
            f"detector.min_score must be between 0 and 1 or null, not {c.min_score!r}"
        )
    if not 0 < c.nms_iou < 1:
        raise ConfigError(f"detector.nms_iou must be between 0 and 1, not {c.nms_iou!r}")


@dataclass(frozen=True)
class SamplingConfig:
    mode: str = "every_n"
    every_n: int | None = 20
    fps: float | None = None
    max_frames: int | None = None

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
        wanted = name.strip().casefold()
        for cls in self.classes:
            if cls.casefold() == wanted:
                return cls
        return None


@dataclass(frozen=True)
class ReduceConfig:
    face: str = "first"
    # majority: the study's vote of the frames' top emotions; mean: the top emotion of
    # the clip's mean scores; balanced: classes by rank of the clips' class scores, so
    # that predicted shares match class_shares (uniform when null), labels unseen.
    vote: str = "majority"
    class_shares: dict[str, float] | None = None
    # A clip where no face was found: wrong (the study), or abstain (left out of the
    # accuracy; the coverage is reported beside it).
    no_face: str = "wrong"
    # A head file from `femo fit` (plain JSON): it predicts every clip with a face.
    head: str | None = None
    score_decimals: int | None = 2
    allow_partial: bool = False

    def __post_init__(self) -> None:
        if self.face not in ("first", "largest"):
            raise ConfigError(f"reduce.face must be 'first' or 'largest', not {self.face!r}")
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


@dataclass(frozen=True)
class ClassifierConfig:
    backend: str = "keras"  # keras: fer's model on TensorFlow (the study); onnx: ONNX Runtime

    def __post_init__(self) -> None:
        if self.backend not in ("keras", "onnx"):
            raise ConfigError(f"classifier.backend must be 'keras' or 'onnx', not {self.backend!r}")


@dataclass(frozen=True)
class ExtractConfig:
    """Everything that determines the content of a shard (plus how fast it is made)."""

    detector: DetectorConfig = field(default_factory=DetectorConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    # Faces per classifier call, across frames; None: 64 on CPU, 256 on GPU.
    batch_size: int | None = None
    device: str = "auto"
    threads: int | None = None
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)


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
    # off and reported, so it cannot eat the task's wall time; None: no limit.
    clip_timeout_s: float | None = 3600.0

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
        timeout = self.clip_timeout_s
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
        ):
            raise ConfigError(f"shards.clip_timeout_s must be > 0 or null, not {timeout!r}")


@dataclass(frozen=True)
class RunConfig:
    """A whole run, in the shape of ``conf/config.yaml`` (less Hydra's and the CLI's keys)."""

    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    mapping: MappingConfig = field(default_factory=MappingConfig)
    reduce: ReduceConfig = field(default_factory=ReduceConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    launcher: LauncherSection = field(default_factory=LauncherSection)
    shards: ShardsConfig = field(default_factory=ShardsConfig)
    device: str = "auto"
    batch_size: int | None = None
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)

    def __post_init__(self) -> None:
        if self.device not in ("auto", "cpu", "gpu"):
            raise ConfigError(f"device must be auto, cpu or gpu, not {self.device!r}")
        if self.batch_size is not None and (
            not isinstance(self.batch_size, int)
            or isinstance(self.batch_size, bool)
            or self.batch_size < 1
        ):
            raise ConfigError(
                f"batch_size must be an integer >= 1 or null (auto), not {self.batch_size!r}"
            )

    @property
    def extract(self) -> ExtractConfig:
        """What the extraction stage needs: the shards' content and how fast to make them."""
        return ExtractConfig(
            detector=self.detector,
            sampling=self.sampling,
            batch_size=self.batch_size,
            device=self.device,
            threads=self.launcher.settings.get("threads_per_worker"),
            classifier=self.classifier,
        )

    @property
    def videos_per_shard(self) -> int:
        return self.shards.videos_per_shard


# Keys that decide what the shards hold; every other key can change on an existing run.
SHARD_KEYS = ("dataset.root", "dataset.video_extensions", "dataset.image_extensions",
              "detector", "sampling", "shards.videos_per_shard", "classifier")  # fmt: skip
# Keys that only decide how the shards are made (where, how fast): resume may change them.
EXECUTION_KEYS = ("launcher", "device", "batch_size", "shards.part_clips",
                  "shards.clip_timeout_s")  # fmt: skip
# Keys that only decide how the shards are read: reduce (and resume) may change them.
REDUCE_KEYS = ("mapping", "reduce", "report", "dataset.labels", "dataset.label_column",
               "dataset.video_column", "dataset.unknown_labels", "dataset.group_column",
               "dataset.group_pattern")  # fmt: skip


def build_config(cls: type, values: dict[str, Any] | None, section: str) -> Any:
    """A frozen config dataclass from a section's plain values (lists become tuples); an
    unknown key or a bad value is one ConfigError line naming ``section``."""
    values = dict(values or {})
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown key(s) in {section}: {', '.join(unknown)}")
    for f in dataclasses.fields(cls):
        if f.name in values and isinstance(values[f.name], list):
            values[f.name] = tuple(values[f.name])
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"bad {section} config: {exc}") from None


def absolute_path(path: str | None, base: str | os.PathLike[str] | None = None) -> str | None:
    """``path`` made absolute against ``base`` (default: the current directory)."""
    if path is None or str(path) == "":
        return None
    p = Path(os.path.expanduser(str(path)))
    if not p.is_absolute():
        p = Path(base or os.getcwd()) / p
    return os.path.normpath(str(p))


def _extensions(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in values)


def _launcher(values: dict[str, Any] | None) -> LauncherSection:
    settings = dict(values or {})
    return LauncherSection(str(settings.pop("name", "local")), settings)


def _upgrade(cfg: dict[str, Any]) -> dict[str, Any]:
    """A manifest written by femo 0.2 (``extract`` and ``videos_per_shard`` keys) in today's shape."""
    if "extract" not in cfg:
        return cfg
    cfg = dict(cfg)
    extract = cfg.pop("extract")
    cfg["detector"] = extract.get("detector")
    cfg["sampling"] = extract.get("sampling")
    cfg["batch_size"] = extract.get("batch_size")
    cfg["device"] = extract.get("device", "auto")
    cfg["shards"] = {"videos_per_shard": cfg.pop("videos_per_shard", 16)}
    return cfg


TOP_LEVEL_KEYS = ("dataset", "detector", "sampling", "mapping", "reduce", "report",
                  "launcher", "shards", "device", "batch_size", "classifier")  # fmt: skip


def from_dict(cfg: dict[str, Any], base_dir: str | None = None) -> RunConfig:
    """Build a :class:`RunConfig` from a resolved config dict (Hydra's, or :func:`to_dict`'s).

    Relative dataset paths are made absolute against ``base_dir`` (the folder femo was
    started in), so that the config still means the same thing inside a cluster job.
    """
    # A manifest from before the classifier key was made with keras, whatever the default.
    cfg = {"classifier": {"backend": "keras"}, **_upgrade(cfg)}
    unknown = sorted(set(cfg) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise ConfigError(f"unknown key(s): {', '.join(unknown)}")
    dataset = dict(cfg.get("dataset") or {})
    dataset.pop("name", None)
    dataset["root"] = absolute_path(dataset.get("root"), base_dir)
    dataset["labels"] = absolute_path(dataset.get("labels"), base_dir)
    for key in ("video_extensions", "image_extensions"):
        if key in dataset:
            dataset[key] = _extensions(dataset[key])
    mapping = dict(cfg.get("mapping") or {})
    if "emotions" in mapping:
        mapping["emotions"] = dict(mapping["emotions"])
    return RunConfig(
        dataset=build_config(DatasetConfig, dataset, "dataset"),
        detector=build_config(DetectorConfig, cfg.get("detector"), "detector"),
        sampling=build_config(SamplingConfig, cfg.get("sampling"), "sampling"),
        mapping=build_config(MappingConfig, mapping, "mapping"),
        reduce=build_config(ReduceConfig, cfg.get("reduce"), "reduce"),
        report=build_config(ReportConfig, cfg.get("report"), "report"),
        launcher=_launcher(cfg.get("launcher")),
        shards=build_config(ShardsConfig, cfg.get("shards"), "shards"),
        device=str(cfg.get("device", "auto")),
        batch_size=cfg.get("batch_size"),
        classifier=build_config(ClassifierConfig, cfg.get("classifier"), "classifier"),
    )


def to_dict(obj: Any) -> Any:
    """A dataclass tree as plain JSON-able containers (tuples become lists)."""
    if isinstance(obj, LauncherSection):
        return {"name": obj.name, **obj.settings}
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj
