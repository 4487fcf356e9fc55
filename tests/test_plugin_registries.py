"""Every plug-in registry, one table per role (py-feat's model tables): each entry builds
its settings, round-trips, names code that imports, has its preset and its Method-line
name; nothing outside the registries compares a role's option names; and a classifier
is added by its entry, its node code and its yaml alone (docs/extending.md).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from omegaconf import OmegaConf

import femo.cli
import femo.rundir
from femo.config import (
    CHECKS,
    CLASSIFIERS,
    DETECTORS,
    EMOTIONS,
    FER_BACKENDS,
    IDENTITIES,
    LANDMARKS,
    PLUGIN_GROUPS,
    ConfigError,
    ExtractConfig,
    RunConfig,
    WholeFrameConfig,
    classifier_config,
    compose_option,
    conf_dir,
    default_nodes,
    from_dict,
    option_defaults,
    to_dict,
)
from femo.config.classifier import ClassifierEntry
from femo.config.registry import Entry, Registry, load
from femo.launchers.settings import register_defaults

from .conftest import REPO, error_line
from .conftest import femo as run_femo

pytestmark = pytest.mark.usefixtures("no_tensorflow")

# The roles and their registries: the config section each option's settings land in
# (None: another section's keys), and the config group its presets live in.
ROLES: dict[str, tuple[Registry[Any], str | None]] = {
    "detector": (DETECTORS, "detector"),
    "detector.verify": (CHECKS, None),
    "classifier": (CLASSIFIERS, "classifier"),
    "classifier.backend": (FER_BACKENDS, None),
    "identity": (IDENTITIES, "identity"),
    "landmarks": (LANDMARKS, "landmarks"),
}
ENTRIES = [(role, entry) for role, (registry, _) in ROLES.items() for entry in registry]
EACH = pytest.mark.parametrize(
    ("role", "entry"), ENTRIES, ids=[f"{role}={entry.name}" for role, entry in ENTRIES]
)


def settings_of(role: str, entry: Entry, **values: Any) -> Any:
    """The settings ``entry`` runs with: its option's defaults node, the settings it
    cannot do without (its ``example``: custom's model and how to feed it), ``values``."""
    node = {**option_defaults(role, entry.name), **entry.example, **values}
    return getattr(from_dict({role: node}), role)


# ------------------------------------------------------------------ each entry


@EACH
def test_the_settings_build_from_the_defaults_and_round_trip(role, entry):
    if entry.settings is None:  # its keys are another section's
        assert role in ("detector.verify", "classifier.backend")
        return
    settings = settings_of(role, entry)
    assert type(settings) is entry.settings and settings.name == entry.name
    config = RunConfig(**{role: settings})
    assert from_dict(to_dict(config)) == config
    assert getattr(from_dict(to_dict(config)), role) == settings
    if entry.example:  # why it has no defaults-only settings
        assert (role, entry.name) == ("classifier", "custom")
        with pytest.raises(ConfigError):
            getattr(from_dict({role: option_defaults(role, entry.name)}), role)


@EACH
def test_the_builder_and_preflight_import(role, entry):
    for path in (entry.builder, entry.preflight):
        if path is not None:
            assert callable(load(path)), path
    if isinstance(entry, ClassifierEntry) and entry.backends is not None:
        assert entry.builder is None  # its backends build it
        assert all(callable(load(b.builder)) for b in entry.backends)
    if isinstance(entry, ClassifierEntry) and entry.plan is not None:
        assert callable(load(entry.plan))


@EACH
def test_each_option_has_its_preset_or_says_why(role, entry):
    registry, group = ROLES[role]
    if entry.no_preset is not None:
        assert entry.no_preset.strip()
        assert group is None or not (conf_dir() / group / f"{entry.name}.yaml").exists()
        return
    values = yaml.safe_load((conf_dir() / group / f"{entry.name}.yaml").read_text())
    assert values["defaults"] == [f"/{group}_{entry.name}@_here_", "_self_"]
    assert compose_option(group, values)["name"] == entry.name


@pytest.mark.parametrize("group", sorted(PLUGIN_GROUPS))
def test_every_option_repeats_none_of_its_defaults(group):
    """A preset that is not an entry's own (haar_fast) composes on its entry's node too,
    and writes only values that differ from it."""
    for path in sorted((conf_dir() / group).glob("*.yaml")):
        values = yaml.safe_load(path.read_text())
        (node,) = [d for d in values.pop("defaults") if d != "_self_"]
        name = node.removeprefix(f"/{group}_").removesuffix("@_here_")
        defaults = option_defaults(group, name)
        assert {k: v for k, v in values.items() if defaults.get(k) == v} == {}, path.name
        assert set(values) <= set(defaults), path.name


@EACH
def test_each_option_names_itself_on_the_method_line(role, entry):
    assert entry.display.strip() and entry.display == entry.display.strip()
    assert isinstance(entry.loads_tensorflow(None if entry.settings is None else
                                             settings_of(role, entry)), bool)  # fmt: skip


@pytest.mark.parametrize("group", sorted(PLUGIN_GROUPS))
def test_the_registry_default_is_config_yamls_choice(group):
    root = OmegaConf.to_container(OmegaConf.load(conf_dir() / "config.yaml"))
    choices = {k: v for d in root["defaults"] if isinstance(d, dict) for k, v in d.items()}
    assert PLUGIN_GROUPS[group].default == choices[group]


# What each table held when it was made, first and in this order (options added since
# come after them).
HAD = {
    "detector": ("haar", "mtcnn", "blazeface", "none"),
    "detector.verify": ("none", "evidence", "mesh"),
    "classifier": ("fer", "custom"),
    "classifier.backend": ("keras", "onnx"),
    "identity": ("none", "dlib"),
    "landmarks": ("none", "mesh"),
}


@pytest.mark.parametrize("role", sorted(HAD))
def test_the_tables_hold_what_femo_had(role):
    registry, _ = ROLES[role]
    had = [registry.entry(name) for name in HAD[role]]
    assert registry.names()[: len(had)] == HAD[role]
    # The options that build nothing are the ones a run without them had; only MTCNN
    # and Keras load TensorFlow.
    nothing = {"detector.verify": ["none"], "identity": ["none"], "landmarks": ["none"]}
    assert [e.name for e in had if not e.builds] == nothing.get(role, [])
    assert [e.name for e in had if e.tensorflow] == {
        "detector": ["mtcnn"], "classifier.backend": ["keras"]}.get(role, [])  # fmt: skip


@pytest.mark.parametrize("role", sorted(ROLES))
def test_an_unknown_option_is_one_line_listing_the_options(role):
    """``detector.name must be 'haar', 'mtcnn', 'blazeface' or 'none', not 'x'``."""
    registry, _ = ROLES[role]
    assert registry.entry("x") is None and registry.entry(None) is None
    *first, last = (f"'{name}'" for name in registry.names())
    with pytest.raises(ConfigError) as caught:
        registry.require("x")
    key = role if "." in role else f"{role}.name"
    assert str(caught.value) == f"{key} must be {', '.join(first)} or {last}, not 'x'"


# ------------------------------------------------- no option name compared elsewhere

# The registry modules: the one place each role's option names are compared.
REGISTRY_MODULES = {"femo/config/registry.py", "femo/config/detectors.py",
                    "femo/config/classifier.py", "femo/config/extras.py"}  # fmt: skip
# Words that say a line is about a role (its section, its key, a name).
ROLE_WORDS = re.compile(r"detector|classifier|backend|identity|landmarks|verify|name|\blm\b")
# Comparisons that are not of a role's options, each with why.
NOT_ROLES = {
    ("femo/node/custom.py", 'spec.backend == "onnx"'): "custom's own runtime, from its file name",
}


def option_names() -> set[str]:
    return {name for registry, _ in ROLES.values() for name in registry.names()}


def comparisons(line: str, names: set[str]) -> Iterator[str]:
    """The option names ``line`` compares with (==, !=) or looks up in a literal tuple
    of several (``in``, ``not in``, ``for ... in``)."""
    literal = r"""["']({})["']""".format("|".join(map(re.escape, sorted(names))))
    for pattern in (r"(?:==|!=)\s*" + literal, literal + r"\s*(?:==|!=)"):
        yield from re.findall(pattern, line)
    for group in re.findall(r"\bin\s*[\(\[\{]([^\)\]\}]*)[\)\]\}]", line):
        found = re.findall(literal, group)
        if len(found) >= 2:
            yield from found


def role_comparisons(root: Path) -> list[str]:
    names, found = option_names(), []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).as_posix()
        if rel in REGISTRY_MODULES:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#")[0]
            if not ROLE_WORDS.search(code) or any(
                rel == where and text in code for where, text in NOT_ROLES
            ):
                continue
            if list(comparisons(code, names)):
                found.append(f"{rel}:{number}: {line.strip()}")
    return found


def test_no_role_option_is_compared_as_a_string_outside_its_registry():
    """Each role's entry says what its option does (builds, active, checks, runtime): a
    comparison on an option's name outside the registry modules comes back here."""
    assert role_comparisons(REPO / "femo") == []


def test_the_grep_finds_what_it_looks_for(tmp_path):
    """The check above on code as femo had it before the registries."""
    package = tmp_path / "femo"
    package.mkdir()
    (package / "engine.py").write_text(
        'self.embedder = Embedder() if config.identity.name == "dlib" else None\n'
        'if config.classifier.name == "fer" and config.classifier.backend == "onnx":\n'
        '    if self.name not in ("none", "dlib"):\n'
        "for lm in ('none', 'mesh'):\n"
        'if config.detector.verify != "none" and x:  # a comment: "mesh" == x\n'
        'if launcher == "none":\n'  # not a role
        "if detector.verify == mode:\n"  # no literal
    )
    assert [line.split(": ", 1)[0] for line in role_comparisons(package)] == [
        f"femo/engine.py:{n}" for n in (1, 2, 3, 4, 5)
    ]


# ------------------------------------------------------ a classifier, added in 3 files


@dataclass(frozen=True)
class TinyConfig:
    """File 1 (femo/config/classifier.py): a classifier's settings, beside its entry."""

    name: str = "tiny"
    # Every face scores this much happier than the rest.
    happy: float = 0.7

    def __post_init__(self) -> None:
        if not 0 < self.happy < 1:
            raise ConfigError(f"classifier.happy must be between 0 and 1, not {self.happy!r}")

    @property
    def identity(self) -> str:
        return f"a tiny test model (happy={self.happy:g})"

    @property
    def method(self) -> str:
        return f"{self.identity} (classifier=tiny)"


TINY = ClassifierEntry(
    name="tiny",
    display="a tiny test model",
    settings=TinyConfig,
    builder="tests.test_plugin_registries:build_tiny",
)


class TinyClassifier:
    """File 2 (femo/node/tiny.py): the node's classifier, the interface every classifier
    has (femo/node/classifier.py's docstring)."""

    device_note = "; classifier: tiny"
    face_shape = (4, 4)
    batch_size = 16

    def __init__(self, spec: TinyConfig, model_path: str) -> None:
        self.spec = spec
        self.model_path = self.emotion_model_path = model_path

    def crops(self, image, gray, faces, offsets) -> list[np.ndarray | None]:
        return [np.full(self.face_shape, f.w, np.float32) for f in faces]

    def predict(self, faces: np.ndarray) -> np.ndarray:
        rest = (1 - self.spec.happy) / (len(EMOTIONS) - 1)
        scores = np.full((len(faces), len(EMOTIONS)), rest, np.float32)
        scores[:, EMOTIONS.index("happy")] = self.spec.happy
        return scores


def build_tiny(config: ExtractConfig, tf_device: str, threads: int, busy: int) -> TinyClassifier:
    return TinyClassifier(config.classifier, str(REPO / "README.md"))


@pytest.fixture
def tiny(monkeypatch) -> ClassifierEntry:
    """The tiny classifier registered, as its entry in CLASSIFIERS would be."""
    monkeypatch.setattr(CLASSIFIERS, "entries", (*CLASSIFIERS.entries, TINY))
    return TINY


def test_a_classifier_is_its_entry_node_code_and_yaml(tiny, tmp_path):
    """Config, Hydra's node, Method line and extraction take the new classifier from its
    entry; the engine, extract and report code are unchanged."""
    import cv2

    from femo.dataset import Clip
    from femo.node.classifier import make_classifier, needs_tensorflow
    from femo.node.detectors import Face
    from femo.node.engine import Extractor
    from femo.node.units import Columns

    # File 3 (conf/classifier/tiny.yaml) composes on the node its entry gives Hydra.
    assert default_nodes()["classifier_tiny"] == {"name": "tiny", "happy": 0.7}
    composed = compose_option("classifier", {"defaults": ["/classifier_tiny@_here_", "_self_"]})
    config = from_dict({"classifier": {**composed, "happy": 0.9}})
    assert config.classifier == TinyConfig(happy=0.9)
    assert from_dict(to_dict(config)) == config
    assert (
        classifier_config({"name": "tiny"}).method
        == "a tiny test model (happy=0.7) (classifier=tiny)"
    )
    with pytest.raises(
        ConfigError, match=r"^classifier.name must be 'fer', .* or 'tiny', not 'small'$"
    ):
        classifier_config({"name": "small"})

    extract = dataclasses.replace(
        config.extract, detector=WholeFrameConfig(), device="cpu", threads=1
    )
    assert not needs_tensorflow(extract)
    model = make_classifier(extract, "CPU:0", 1, 0)
    (crop,) = model.crops(None, None, [Face(0, 0, 3, 3)], (10, 10))
    assert model.predict(crop[None])[0, EMOTIONS.index("happy")] == pytest.approx(0.9)

    cv2.imwrite(str(tmp_path / "face.png"), np.full((32, 32, 3), 128, np.uint8))
    extractor = Extractor(extract)
    columns = Columns()
    assert extractor.run(str(tmp_path), [Clip("face.png", "image")], columns) == {"face.png": "ok"}
    rows = columns.table({}).to_pandas()
    face = rows[rows.kind == "frame"].iloc[0]
    assert (face.w, face.h, round(float(face.happy), 5)) == (32, 32, 0.9)
    assert extractor.device.endswith("; classifier: tiny")


# ----------------------------------------------- detector keys: each detector's own


@pytest.fixture(scope="module")
def compose():
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    OmegaConf.register_new_resolver("femo_run_name", femo.rundir.run_name, replace=True)
    OmegaConf.register_new_resolver("femo_claim", lambda path: path, replace=True)
    register_defaults()  # the sections', the plug-ins' and the launchers'

    def run(*overrides: str) -> RunConfig:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            cfg = hydra_compose("config", overrides=list(overrides))
        container = OmegaConf.to_container(cfg, resolve=True)
        for key in femo.cli.ENTRY_KEYS:
            container.pop(key, None)
        return from_dict(container)

    return run


PRESETS = sorted(p.stem for p in (conf_dir() / "detector").glob("*.yaml"))
# Issue 37: the README lists these for every detector, and they were refused without '+'.
SHARED_KEYS = {"downscale": 2.0, "verify_below": 0.5, "verify_min": 0.1}


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("key", sorted(SHARED_KEYS))
def test_a_detectors_own_keys_take_overrides_without_plus(compose, preset, key):
    from femo.overrides import check_run_overrides

    value = SHARED_KEYS[key]
    overrides = [f"detector={preset}", f"detector.{key}={value}"]
    composed = compose(f"detector={preset}").detector
    if key not in type(composed).saved_keys():  # detector=none: nothing to shrink
        assert (preset, key) == ("none", "downscale")
        with pytest.raises(ConfigError, match=f"^unknown key 'detector.{key}' \\(detector none"):
            check_run_overrides(overrides)
        return
    check_run_overrides(overrides)  # femo run's own check before Hydra composes
    assert getattr(compose(*overrides).detector, key) == value


def test_a_key_the_chosen_detector_lacks_is_one_line(tmp_path):
    proc = run_femo("run", "detector=haar", "detector.model=full", f"output_root={tmp_path}",
                cwd=tmp_path)  # fmt: skip
    assert error_line(proc) == (
        "femo: error: unknown key 'detector.model' (detector haar has: name, scale_factor, "
        "min_neighbors, min_size, offsets, downscale, verify, verify_below, verify_min; "
        "add detector=blazeface, which has it)"
    )
    # Added with '+', past that check, the detector's own class refuses it the same way.
    proc = run_femo("run", "detector=haar", "+detector.model=full", f"output_root={tmp_path}",
                cwd=tmp_path)  # fmt: skip
    assert error_line(proc) == (
        "femo: error: unknown key 'detector.model' (detector haar has: name, scale_factor, "
        "min_neighbors, min_size, offsets, downscale, verify, verify_below, verify_min)"
    )
    assert not list(tmp_path.rglob("femo.json"))


def test_a_saved_config_of_every_detectors_keys_reads_as_its_detectors():
    """femo.json and shard metadata written before each detector had its own class hold
    one flat section; reading it drops the keys of the other detectors."""
    from femo.config import BlazeFaceConfig, from_saved

    flat = {"name": "blazeface", "scale_factor": None, "min_neighbors": 5, "min_size": 50,
            "min_face_size": 20, "offsets": [10, 10], "downscale": 1.0, "frames_per_call": None,
            "model": "short/back", "min_score": None, "nms_iou": 0.3, "verify": "mesh",
            "verify_below": 0.65, "verify_min": 0.05}  # fmt: skip
    # It ran as femo did then: the letterbox alone (no min_face), the mesh check.
    was = BlazeFaceConfig(min_face=None, verify="mesh", verify_below=0.65)
    assert from_saved({"detector": flat}).detector == was
    older = {k: v for k, v in flat.items() if not k.startswith("verify")}
    before = BlazeFaceConfig(min_face=None, verify="none", verify_below=0.65)
    assert from_saved({"detector": older}).detector == before
    with pytest.raises(ConfigError, match="^unknown keys 'detector.frames_per_call', "):
        from_dict({"detector": flat})  # a config given now is not a saved one
    with pytest.raises(ConfigError, match="unknown key 'detector.colour'"):
        from_saved({"detector": {**flat, "colour": "red"}})  # no femo saved that key


def test_custom_without_labels_says_what_labels_are():
    """conf/classifier/custom.yaml no longer sets labels to null: the class's empty
    default reaches its own check (issue 37: it was "'NoneType' object is not iterable")."""
    values = yaml.safe_load((conf_dir() / "classifier" / "custom.yaml").read_text())
    section = {**compose_option("classifier", values), "model": "/m.onnx", "size": 8}
    with pytest.raises(ConfigError) as caught:
        classifier_config(section)
    assert str(caught.value) == (
        "classifier.labels names the model's outputs in order, each one of angry, disgust, "
        "fear, happy, sad, surprise, neutral or drop; none is one (labels: [])"
    )


def test_saved_configs_are_read_as_saved():
    """A run folder's manifest may hold every detector's keys (runs made before each had
    its own class): code that reads one uses from_saved, which drops the others' keys;
    from_dict refuses them, as it refuses a key given now."""
    readers = []
    for path in sorted((REPO / "femo").rglob("*.py")):
        if path.parent.name == "config":  # where both are defined
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "from_dict(" in line and "manifest" in line:
                readers.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert readers == []
