"""Typed configuration for femo's stages.

Hydra's ``DictConfig`` stops at the CLI layer: :func:`run_config_from_dict` turns the
resolved config into these frozen dataclasses, which pickle cheaply for submitit and
can be built in tests without Hydra.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


class ConfigError(ValueError):
    """A configuration problem a person can fix; its message is one readable line."""


@dataclass(frozen=True)
class DatasetConfig:
    root: str | None = None
    labels: str | None = None
    video_column: str = "video"
    label_column: str = "label"
    unknown_labels: str = "error"
    video_extensions: tuple[str, ...] = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
    image_extensions: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")

    def __post_init__(self) -> None:
        if self.unknown_labels not in ("error", "unlabelled"):
            raise ConfigError(
                f"dataset.unknown_labels must be 'error' or 'unlabelled', not {self.unknown_labels!r}"
            )


@dataclass(frozen=True)
class DetectorConfig:
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

    def __post_init__(self) -> None:
        if self.name not in ("haar", "mtcnn"):
            raise ConfigError(f"detector.name must be 'haar' or 'mtcnn', not {self.name!r}")
        if self.scale_factor is None:
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
    vote: str = "majority"
    score_decimals: int | None = 2
    allow_partial: bool = False

    def __post_init__(self) -> None:
        if self.face not in ("first", "largest"):
            raise ConfigError(f"reduce.face must be 'first' or 'largest', not {self.face!r}")
        if self.vote != "majority":
            raise ConfigError(f"reduce.vote must be 'majority', not {self.vote!r}")


@dataclass(frozen=True)
class ExtractConfig:
    """Everything that determines the content of a shard (plus how fast it is made)."""

    detector: DetectorConfig = field(default_factory=DetectorConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    # Faces per classifier call, across frames; None: 64 on CPU, 256 on GPU.
    batch_size: int | None = None
    device: str = "auto"
    threads: int | None = None


@dataclass(frozen=True)
class RunConfig:
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    mapping: MappingConfig = field(default_factory=MappingConfig)
    reduce: ReduceConfig = field(default_factory=ReduceConfig)
    videos_per_shard: int = 16
    launcher: dict[str, Any] = field(default_factory=lambda: {"name": "local"})


def _build(cls: type, values: dict[str, Any] | None, section: str) -> Any:
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


def run_config_from_dict(cfg: dict[str, Any], base_dir: str | None = None) -> RunConfig:
    """Build a :class:`RunConfig` from a resolved config dict (Hydra's, as plain containers).

    Relative dataset paths are made absolute against ``base_dir`` (the folder femo was
    started in), so that the config still means the same thing inside a cluster job.
    """
    dataset = dict(cfg.get("dataset") or {})
    dataset.pop("name", None)
    dataset["root"] = absolute_path(dataset.get("root"), base_dir)
    dataset["labels"] = absolute_path(dataset.get("labels"), base_dir)
    for key in ("video_extensions", "image_extensions"):
        if key in dataset:
            dataset[key] = tuple(
                e.lower() if e.startswith(".") else "." + e.lower() for e in dataset[key]
            )
    mapping = dict(cfg.get("mapping") or {})
    if "emotions" in mapping:
        mapping["emotions"] = dict(mapping["emotions"])
    shards = cfg.get("shards") or {}
    videos_per_shard = int(shards.get("videos_per_shard", 16))
    if videos_per_shard < 1:
        raise ConfigError(f"shards.videos_per_shard must be >= 1, not {videos_per_shard}")
    launcher = dict(cfg.get("launcher") or {"name": "local"})
    batch_size = cfg.get("batch_size")
    if batch_size is not None and (
        not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1
    ):
        raise ConfigError(f"batch_size must be an integer >= 1 or null (auto), not {batch_size!r}")
    extract = ExtractConfig(
        detector=_build(DetectorConfig, cfg.get("detector"), "detector"),
        sampling=_build(SamplingConfig, cfg.get("sampling"), "sampling"),
        batch_size=batch_size,
        device=str(cfg.get("device", "auto")),
        threads=launcher.get("threads_per_worker"),
    )
    if extract.device not in ("auto", "cpu", "gpu"):
        raise ConfigError(f"device must be auto, cpu or gpu, not {extract.device!r}")
    return RunConfig(
        dataset=_build(DatasetConfig, dataset, "dataset"),
        extract=extract,
        mapping=_build(MappingConfig, mapping, "mapping"),
        reduce=_build(ReduceConfig, cfg.get("reduce"), "reduce"),
        videos_per_shard=videos_per_shard,
        launcher=launcher,
    )


def to_dict(obj: Any) -> Any:
    """A dataclass tree as plain JSON-able containers."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj
