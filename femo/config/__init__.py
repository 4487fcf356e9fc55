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
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .classifier import (
    CLASSIFIERS,
    EMOTIONS,
    FER_BACKENDS,
    AnyClassifier,
    ClassifierConfig,
    CustomClassifierConfig,
)
from .detectors import (
    CHECKS,
    DETECTORS,
    BlazeFaceConfig,
    DetectorConfig,
    HaarConfig,
    MtcnnConfig,
    WholeFrameConfig,
    blazeface_models,
    detector_config,
)
from .errors import ConfigError
from .extras import IDENTITIES, LANDMARKS, IdentityConfig, LandmarksConfig
from .registry import Registry
from .sections import (
    BOOTSTRAP,
    Bootstrap,
    DatasetConfig,
    ExtractConfig,
    LauncherSection,
    MappingConfig,
    ReduceConfig,
    ReportConfig,
    SamplingConfig,
    ShardsConfig,
    conf_dir,
    launcher_names,
    positive_or_none,
    to_dict,
)


@dataclass(frozen=True)
class RunConfig:
    """A whole run, in the shape of ``conf/config.yaml`` (less Hydra's and the CLI's keys)."""

    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    detector: DetectorConfig = field(default_factory=HaarConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    mapping: MappingConfig = field(default_factory=MappingConfig)
    reduce: ReduceConfig = field(default_factory=ReduceConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    launcher: LauncherSection = field(default_factory=LauncherSection)
    shards: ShardsConfig = field(default_factory=ShardsConfig)
    device: str = "auto"
    batch_size: int | None = None
    classifier: AnyClassifier = field(default_factory=ClassifierConfig)
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    landmarks: LandmarksConfig = field(default_factory=LandmarksConfig)

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

    def check_identity(self) -> None:
        """Refuse identity settings that cannot work together (run and reduce call it)."""
        face, on = self.reduce.face, self.identity.active
        if self.dataset.references and not on:
            raise ConfigError("dataset.references needs identity=dlib (faces' embeddings)")
        if face in ("main", "person") and not on:
            raise ConfigError(f"reduce.face={face} needs a run with identity=dlib")
        if face == "person" and not (self.dataset.references and self.dataset.person_column):
            raise ConfigError(
                "reduce.face=person needs dataset.references and dataset.person_column"
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
            identity=self.identity,
            landmarks=self.landmarks,
        )

    @property
    def videos_per_shard(self) -> int:
        return self.shards.videos_per_shard


# Keys that decide what the shards hold; every other key can change on an existing run.
SHARD_KEYS = ("dataset.root", "dataset.video_extensions", "dataset.image_extensions",
              "detector", "sampling", "shards.videos_per_shard", "classifier", "identity",
              "dataset.segment_s", "dataset.segment_frames", "landmarks")  # fmt: skip
# Keys that only decide how the shards are made (where, how fast): resume may change them.
EXECUTION_KEYS = ("launcher", "device", "batch_size", "shards.part_clips",
                  "shards.clip_timeout_s")  # fmt: skip


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
                  "launcher", "shards", "device", "batch_size", "classifier",
                  "identity", "landmarks")  # fmt: skip


def classifier_config(values: dict[str, Any] | None, base_dir: str | None = None) -> AnyClassifier:
    """The ``classifier`` section in the settings class of the classifier it names (no
    name: fer's), its file paths (``path_keys``: custom's ``model``) made absolute
    against ``base_dir``."""
    values = dict(values or {})
    cls = CLASSIFIERS.require(values.get("name", CLASSIFIERS.default)).settings
    if "name" not in {f.name for f in dataclasses.fields(cls)}:
        values.pop("name", None)  # fer's section is saved as before: {backend: ...}
    for key in getattr(cls, "path_keys", ()):
        if values.get(key) is not None:
            values[key] = absolute_path(values[key], base_dir)
    return build_config(cls, values, "classifier")


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
    dataset["references"] = absolute_path(dataset.get("references"), base_dir)
    for key in ("video_extensions", "image_extensions"):
        if key in dataset:
            dataset[key] = _extensions(dataset[key])
    shards = dict(cfg.get("shards") or {})
    if shards.get("timed_by") is not None:
        shards["timed_by"] = absolute_path(shards["timed_by"], base_dir)
    mapping = dict(cfg.get("mapping") or {})
    if "emotions" in mapping:
        mapping["emotions"] = dict(mapping["emotions"])
    return RunConfig(
        dataset=build_config(DatasetConfig, dataset, "dataset"),
        detector=detector_config(cfg.get("detector")),
        sampling=build_config(SamplingConfig, cfg.get("sampling"), "sampling"),
        mapping=build_config(MappingConfig, mapping, "mapping"),
        reduce=build_config(ReduceConfig, cfg.get("reduce"), "reduce"),
        report=build_config(ReportConfig, cfg.get("report"), "report"),
        launcher=_launcher(cfg.get("launcher")),
        shards=build_config(ShardsConfig, shards, "shards"),
        device=str(cfg.get("device", "auto")),
        batch_size=cfg.get("batch_size"),
        classifier=classifier_config(cfg.get("classifier"), base_dir),
        identity=build_config(IdentityConfig, cfg.get("identity"), "identity"),
        landmarks=build_config(LandmarksConfig, cfg.get("landmarks"), "landmarks"),
    )


def from_saved(cfg: dict[str, Any]) -> RunConfig:
    """A run folder's saved config (``femo.json``) as a :class:`RunConfig`: femo 0.2's
    shape upgraded, and a detector section saved with every detector's keys (before each
    detector had its own settings class) read with its detector's keys only."""
    cfg = _upgrade(cfg)
    if isinstance(cfg.get("detector"), dict):
        cfg = {**cfg, "detector": to_dict(detector_config(cfg["detector"], saved=True))}
    return from_dict(cfg)


# ------------------------------------------------------------------ defaults under the yaml
# The dataclasses hold the defaults. conf/config.yaml and the options of the groups
# hold only what differs from them: Hydra composes each on top of a node made from the
# dataclasses (register_defaults). The options of dataset, sampling, mapping and reduce
# compose on their section's root node ``<group>_base`` (``- /sampling_base@_here_``,
# outside the group, so that ``femo run --help`` lists no ``base`` option); each option
# of a plug-in role (below) on its entry's settings class, the root node
# ``<group>_<entry>`` (``- /detector_haar@_here_`` in conf/detector/haar.yaml);
# config.yaml's own sections on ``base``.
DEFAULTED_GROUPS: dict[str, type] = {
    "dataset": DatasetConfig,
    "sampling": SamplingConfig,
    "mapping": MappingConfig,
    "reduce": ReduceConfig,
}
DEFAULTED_ROOT = ("shards", "report", "device", "batch_size")
PLUGIN_GROUPS: dict[str, Registry[Any]] = {
    "detector": DETECTORS,
    "classifier": CLASSIFIERS,
    "identity": IDENTITIES,
    "landmarks": LANDMARKS,
}


def yaml_defaults(group: str | None = None) -> dict[str, Any]:
    """The dataclass defaults under ``conf/<group>/*.yaml`` for the groups whose options
    share one section class (``None``: under config.yaml's own sections); ``{}`` for
    any other group (:func:`option_defaults` gives a plug-in option's)."""
    if group is None:
        run = to_dict(RunConfig())
        return {key: run[key] for key in DEFAULTED_ROOT}
    cls = DEFAULTED_GROUPS.get(group)
    return {} if cls is None else to_dict(cls())


def option_defaults(group: str, name: str) -> dict[str, Any]:
    """The node an option of plug-in role ``group`` composes on: ``name: <name>`` and the
    defaults of that entry's settings class, in the order they are saved."""
    cls = PLUGIN_GROUPS[group].require(name).settings
    fields = {f.name: f for f in dataclasses.fields(cls)}
    keys = cls.saved_keys() if issubclass(cls, DetectorConfig) else tuple(fields)
    values = {k: to_dict(_field_default(fields[k])) for k in keys}
    return {"name": name, **{k: v for k, v in values.items() if k != "name"}}


def _field_default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def default_nodes() -> dict[str, dict[str, Any]]:
    """Every node :func:`register_defaults` stores, by its path in Hydra's ConfigStore."""
    nodes = {"base": yaml_defaults()}
    nodes.update({f"{group}_base": yaml_defaults(group) for group in DEFAULTED_GROUPS})
    for group, registry in PLUGIN_GROUPS.items():
        nodes.update({f"{group}_{n}": option_defaults(group, n) for n in registry.names()})
    return nodes


def compose_option(group: str, values: dict[str, Any]) -> dict[str, Any]:
    """A group option's yaml (``values``, parsed) as Hydra composes it: each node its
    defaults list names (``/name@_here_``: a root node of :func:`default_nodes`), then
    its own values."""
    nodes = default_nodes()
    out: dict[str, Any] = {}
    for item in values.get("defaults") or []:
        if item != "_self_":
            out = merge_defaults(out, nodes[item.split("@")[0].lstrip("/")])
    return merge_defaults(out, values)


def merge_defaults(base: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """``values`` over ``base`` as Hydra merges configs: mappings key by key, anything
    else (lists included) replaced; a ``defaults`` list is Hydra's, not a value."""
    out = dict(base)
    for key, value in values.items():
        if key == "defaults":
            continue
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_defaults(out[key], value)
        else:
            out[key] = value
    return out


def register_defaults() -> None:
    """Store :func:`default_nodes` in Hydra's ConfigStore: ``base``, ``<group>_base`` and
    ``<group>_<entry>``, the first entry of config.yaml's and each option's defaults
    list. Call it before Hydra composes ``conf/``."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    for path, node in default_nodes().items():
        group, _, name = path.rpartition("/")
        store.store(group=group or None, name=name, node=node)


__all__ = [
    "CHECKS",
    "CLASSIFIERS",
    "DEFAULTED_GROUPS",
    "DEFAULTED_ROOT",
    "DETECTORS",
    "FER_BACKENDS",
    "IDENTITIES",
    "LANDMARKS",
    "PLUGIN_GROUPS",
    "blazeface_models",
    "BOOTSTRAP",
    "Bootstrap",
    "AnyClassifier",
    "BlazeFaceConfig",
    "ClassifierConfig",
    "ConfigError",
    "CustomClassifierConfig",
    "DatasetConfig",
    "DetectorConfig",
    "HaarConfig",
    "MtcnnConfig",
    "WholeFrameConfig",
    "EMOTIONS",
    "EXECUTION_KEYS",
    "ExtractConfig",
    "IdentityConfig",
    "LandmarksConfig",
    "LauncherSection",
    "MappingConfig",
    "ReduceConfig",
    "ReportConfig",
    "RunConfig",
    "SHARD_KEYS",
    "SamplingConfig",
    "ShardsConfig",
    "TOP_LEVEL_KEYS",
    "absolute_path",
    "build_config",
    "classifier_config",
    "compose_option",
    "conf_dir",
    "default_nodes",
    "detector_config",
    "from_dict",
    "from_saved",
    "launcher_names",
    "merge_defaults",
    "option_defaults",
    "register_defaults",
    "positive_or_none",
    "to_dict",
    "yaml_defaults",
]
