"""``classifier=custom``'s section: an emotion model file the user brings, and its spec."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from .sections import EMOTIONS, ClassifierConfig, ConfigError

CUSTOM_COLORS = ("gray", "gray3", "rgb", "bgr")


@dataclass(frozen=True)
class CustomClassifierConfig:
    """``classifier=custom``: an emotion model file the user brings, and how to feed it.

    The spec says what fer's code knows about fer's model: the input side, colour, value
    range and layout, which of femo's emotions each output is, whether the outputs still
    need a softmax, and how faces are cropped. ``sha256`` is the file's, filled in when
    the run is planned (or given, to pin the file); the spec and it are a shard key.
    """

    name: str = "custom"
    model: str | None = None
    size: int | None = None
    color: str = "rgb"
    range: tuple[float, float] = (0.0, 1.0)
    layout: str = "nhwc"
    labels: tuple[str, ...] = ()
    softmax: str = "auto"
    crop: str = "fer"
    sha256: str | None = None

    def __post_init__(self) -> None:
        if self.name != "custom":
            raise ConfigError(f"classifier.name must be 'fer' or 'custom', not {self.name!r}")
        if not self.model:
            raise ConfigError("classifier=custom needs classifier.model=PATH (.onnx or .tflite)")
        if not str(self.model).lower().endswith((".onnx", ".tflite")):
            raise ConfigError(
                f"classifier=custom needs classifier.model=PATH to an .onnx or .tflite file, "
                f"not {self.model!r}"
            )
        size = self.size
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ConfigError(
                f"classifier.size must be an integer >= 1 (the input side), not {size!r}"
            )
        _one_of("color", self.color, CUSTOM_COLORS)
        _one_of("layout", self.layout, ("nhwc", "nchw"))
        _one_of("softmax", self.softmax, ("auto", "yes", "no"))
        _one_of("crop", self.crop, ("fer", "box"))
        bounds = tuple(self.range)
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bounds)
        if len(bounds) != 2 or not numbers or bounds[0] == bounds[1]:
            raise ConfigError(
                f"classifier.range must be two different numbers [lo, hi] (0..255 is mapped "
                f"onto them), not {list(bounds)!r}"
            )
        object.__setattr__(self, "range", (float(bounds[0]), float(bounds[1])))
        bad = [lab for lab in self.labels if lab not in (*EMOTIONS, "drop")]
        if bad or not any(lab in EMOTIONS for lab in self.labels):
            what = f"{bad[0]!r} is not one" if bad else "none is one"
            raise ConfigError(
                f"classifier.labels names the model's outputs in order, each one of "
                f"{', '.join(EMOTIONS)} or drop; {what} (labels: {list(self.labels)})"
            )

    @property
    def backend(self) -> str:
        """The runtime: ``onnx`` (ONNX Runtime) or ``tflite`` (LiteRT), from the file name."""
        return "tflite" if str(self.model).lower().endswith(".tflite") else "onnx"

    @property
    def channels(self) -> int:
        return 1 if self.color == "gray" else 3

    @property
    def identity(self) -> str:
        """What made the scores: the file (name and SHA-256) and every key of the spec, so
        two runs' scores mean the same only where this text is the same."""
        digest = (self.sha256 or "unknown")[:12]
        lo, hi = self.range
        return (
            f"custom model {PurePath(str(self.model)).name} (sha256 {digest}; size={self.size}, "
            f"color={self.color}, range=[{lo:g}, {hi:g}], layout={self.layout}, "
            f"labels=[{', '.join(self.labels)}], softmax={self.softmax}, crop={self.crop})"
        )


def _one_of(key: str, value: Any, options: tuple[str, ...]) -> None:
    if value not in options:
        listed = ", ".join(options[:-1]) + f" or {options[-1]}"
        raise ConfigError(f"classifier.{key} must be {listed}, not {value!r}")


AnyClassifier = ClassifierConfig | CustomClassifierConfig
