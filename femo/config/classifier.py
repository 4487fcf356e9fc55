"""The emotion classifiers femo knows, one :class:`ClassifierEntry` each, with their settings.

``classifier=fer`` (the default) is fer's model, on one of :data:`FER_BACKENDS` (onnx or
keras); ``classifier=custom`` is an emotion model file the user brings, with its spec.
The config builds a classifier's settings from here, the node builds the classifier
from here (its entry's builder) and the report's Method line names it from here.
Adding a classifier is its settings class and entry here, its node module and its
``conf/classifier/<name>.yaml`` (docs/extending.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, ClassVar

from .errors import ConfigError
from .registry import Entry, Registry, load

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


@dataclass(frozen=True)
class FerBackend(Entry):
    """One runtime of fer's model: its builder (as a :class:`ClassifierEntry`'s), what the
    Method line says of it, and its faces per call on a CPU where batch_size is null."""

    cpu_batch: int = 64


# ONNX Runtime on a CPU: 8 a call classifies about 1.4x as many faces a second on one
# thread as 64 (docs/speed.md), with the same scores; Keras: 64 (a call costs
# milliseconds of Python).
_A_FER_KEY = "chosen by classifier.backend, a key of classifier=fer's settings"
FER_BACKENDS: Registry[FerBackend] = Registry("classifier.backend", (
    FerBackend(name="keras", display="TensorFlow, as fer runs it", settings=None,
               builder="femo.node.classifier:build_keras", tensorflow=True, no_preset=_A_FER_KEY),
    FerBackend(name="onnx", display="ONNX Runtime", settings=None,
               builder="femo.node.classifier:build_onnx", cpu_batch=8, no_preset=_A_FER_KEY),
), default="onnx")  # fmt: skip


@dataclass(frozen=True)
class ClassifierConfig:
    """``classifier=fer`` (the default): fer's own model and preprocessing.

    Saved as ``{backend: ...}``, without its name (as femo always saved it).
    """

    # onnx: fer's weights on ONNX Runtime (scores equal to fer's after its rounding on every
    # sampled face of the shared media); keras: on TensorFlow, as fer runs them.
    backend: str = "onnx"

    def __post_init__(self) -> None:
        FER_BACKENDS.require(self.backend)

    @property
    def name(self) -> str:
        return "fer"

    @property
    def runtime(self) -> FerBackend:
        """The backend's entry: its node class and what it loads."""
        return FER_BACKENDS.require(self.backend)

    @property
    def identity(self) -> str:
        """What made the scores, for a head to check (both backends: fer's model, equal
        scores)."""
        return "fer's 7-emotion model"

    @property
    def method(self) -> str:
        """What the report's Method line says after ``classifier``."""
        return f"{self.identity} on {self.backend} ({self.runtime.display})"


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

    # The keys that name files: made absolute against the folder femo started in.
    path_keys: ClassVar[tuple[str, ...]] = ("model",)

    def __post_init__(self) -> None:
        if CLASSIFIERS.require(self.name).settings is not type(self):
            raise ConfigError(
                f"classifier.name must be {CLASSIFIERS.listed('or', quoted=True)}, not {self.name!r}"
            )
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

    @property
    def method(self) -> str:
        """What the report's Method line says after ``classifier``."""
        return f"{self.identity} (classifier=custom)"


def _one_of(key: str, value: Any, options: tuple[str, ...]) -> None:
    if value not in options:
        listed = ", ".join(options[:-1]) + f" or {options[-1]}"
        raise ConfigError(f"classifier.{key} must be {listed}, not {value!r}")


AnyClassifier = ClassifierConfig | CustomClassifierConfig


@dataclass(frozen=True)
class ClassifierEntry(Entry):
    """One emotion classifier.

    ``builder`` is called with (ExtractConfig, TensorFlow's device, granted threads,
    CPUs detection keeps busy) and returns the node's classifier: ``predict``,
    ``crops``, ``face_shape``, ``batch_size``, ``model_path``, ``emotion_model_path`` and
    ``device_note`` (femo/node/classifier.py says what each is).
    """

    # Its runtimes where it has several (fer: keras, onnx), chosen by classifier.backend:
    # the chosen one's entry builds it and says whether it loads TensorFlow.
    backends: Registry[Any] | None = None
    # "module:callable(settings) -> settings" run when a run is planned, whose result the
    # run records (custom: its model file checked against the spec, with its SHA-256).
    plan: str | None = None

    @property
    def builds(self) -> bool:
        return self.backends is not None or self.builder is not None

    def runtime(self, settings: Any) -> Entry:
        """The entry that builds it with ``settings``: its backend's, or itself."""
        return self if self.backends is None else self.backends.require(settings.backend)

    def build(self, config: Any, *args: Any) -> Any:
        runtime = self.runtime(config.classifier)
        return super().build(config, *args) if runtime is self else runtime.build(config, *args)

    def loads_tensorflow(self, settings: Any) -> bool:
        runtime = self.runtime(settings)
        return self.tensorflow if runtime is self else runtime.loads_tensorflow(settings)

    def planned(self, settings: Any) -> Any:
        """``settings`` as a run planned with them records them (its ``plan``)."""
        return settings if self.plan is None else load(self.plan)(settings)


CLASSIFIERS: Registry[ClassifierEntry] = Registry("classifier.name", (
    ClassifierEntry(name="fer", display="fer's 7-emotion model", settings=ClassifierConfig,
                    backends=FER_BACKENDS),
    ClassifierEntry(name="custom", display="custom model", settings=CustomClassifierConfig,
                    builder="femo.node.custom:build_custom",
                    plan="femo.node.custom:with_model_hash",
                    example={"model": "m.onnx", "size": 8, "labels": ["happy", "drop"]}),
), default="fer")  # fmt: skip
