"""Every detector of femo.config.detectors is configurable, buildable, named and benched.

One parametrized check per entry, so that a detector added to the registry without its
preset, node class or display name fails here, and one pin of what the registry held
when it replaced the lists scattered over config, node, report and bench.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
import yaml

from femo.bench.cases import bench_facts
from femo.bench.run import FULL
from femo.config import (
    ClassifierConfig,
    ConfigError,
    DetectorConfig,
    ExtractConfig,
    MtcnnConfig,
    RunConfig,
    compose_option,
    conf_dir,
    detector_config,
    from_dict,
)
from femo.config.detectors import (
    DETECTORS,
    SAVED_ORDER,
    DetectorEntry,
    detector_entry,
    detector_names,
)
from femo.config.registry import load
from femo.node.classifier import needs_tensorflow
from femo.node.detectors import Detector, MtcnnDetector, make_detector
from femo.results.pages.method import method_text

ENTRIES = pytest.mark.parametrize("entry", DETECTORS, ids=lambda e: e.name)


def preset(name: str) -> dict:
    """``conf/detector/<name>.yaml`` as Hydra composes it (its class's defaults, its values)."""
    values = yaml.safe_load((conf_dir() / "detector" / f"{name}.yaml").read_text())
    return compose_option("detector", values)


def listed_names(message: str, before: str, after: str, last: str) -> list[str]:
    """The names a one-line error lists between ``before`` and ``after``."""
    found = re.fullmatch(re.escape(before) + r"(.*)" + re.escape(after), message)
    assert found, message
    head, tail = found.group(1).rsplit(f" {last} ", 1)
    return [n.strip("'") for n in [*head.split(", "), tail]]


@ENTRIES
def test_each_detector_has_its_preset(entry: DetectorEntry):
    if entry.no_preset is not None:
        assert entry.no_preset.strip(), "a detector without a preset says why"
        return
    values = preset(entry.name)
    assert values["name"] == entry.name
    assert from_dict({"detector": values}).detector.name == entry.name


@ENTRIES
def test_each_builder_is_a_detector_class_of_that_name(entry: DetectorEntry):
    built = load(entry.builder).__self__  # "module:Class.build": the class's build
    assert isinstance(built, type) and issubclass(built, Detector)
    assert built.name == entry.name


@ENTRIES
def test_the_config_takes_each_name_with_its_own_class_and_defaults(entry: DetectorEntry):
    config = detector_config({"name": entry.name})
    assert config.name == entry.name and type(config) is entry.settings
    assert issubclass(entry.settings, DetectorConfig)
    fields = {f.name for f in dataclasses.fields(entry.settings)}
    assert {"name", "offsets", "verify", "verify_below", "verify_min"} <= fields
    assert fields <= set(SAVED_ORDER)  # every key femo ever saved, in its saved order
    if entry.preflight is not None:
        assert callable(load(entry.preflight)), entry.preflight


@ENTRIES
def test_the_method_line_names_each_detector(entry: DetectorEntry):
    config = RunConfig(detector=detector_config({"name": entry.name}))
    shown = "".join(f", {key} {getattr(config.detector, key)}" for key in entry.method_keys)
    expected = f"detector {entry.name} ({entry.display}{shown}; detector={entry.name})"
    assert method_text(config).startswith(f"Method: {expected}; classifier ")


@ENTRIES
def test_tensorflow_is_loaded_only_for_the_detectors_that_need_it(entry: DetectorEntry):
    config = ExtractConfig(
        detector=detector_config({"name": entry.name}), classifier=ClassifierConfig(backend="onnx")
    )
    assert needs_tensorflow(config) is entry.tensorflow


@ENTRIES
def test_the_bench_facts_name_real_presets(entry: DetectorEntry):
    facts = bench_facts(entry.name)
    assert facts is entry.bench
    assert facts.fer_reference in ("haar", "mtcnn")  # the detectors fer has
    if facts.fast_preset is not None:
        assert preset(facts.fast_preset)["name"] == entry.name
    assert (entry.name in FULL["detectors"].split(",")) is facts.in_full


def test_every_preset_names_a_registered_detector():
    presets = sorted((conf_dir() / "detector").glob("*.yaml"))
    assert {preset(p.stem)["name"] for p in presets} == set(detector_names())


def test_the_config_error_lists_the_registry():
    with pytest.raises(ConfigError) as caught:
        detector_config({"name": "yolo"})
    names = listed_names(str(caught.value), "detector.name must be ", ", not 'yolo'", "or")
    assert names == list(detector_names()) == ["haar", "mtcnn", "blazeface", "none"]


def test_make_detector_error_lists_the_registry():
    config = detector_config()
    object.__setattr__(config, "name", "yolo")  # past the config's own check
    with pytest.raises(ConfigError) as caught:
        make_detector(config)
    names = listed_names(str(caught.value), "unknown detector 'yolo': femo has ", "", "and")
    assert names == list(detector_names())


def test_unknown_names_have_no_entry_and_bench_defaults():
    assert detector_entry("yolo") is None and detector_entry(None) is None
    assert bench_facts("yolo").floor_threads == (None,)
    assert bench_facts("yolo").fer_reference == "haar"


def test_mtcnn_is_built_on_the_tensorflow_device_with_at_most_two_calls(monkeypatch):
    monkeypatch.setattr(MtcnnDetector, "_mtcnn", lambda self: None)  # no weights loaded
    built = MtcnnDetector.build(MtcnnConfig(), "GPU:0", threads=8)
    assert (built.device, built.parallel_calls, built.frames_per_call) == ("GPU:0", 2, 32)


def test_the_registry_holds_what_the_scattered_lists_held():
    """The facts as config, node, report and bench each had them before the registry (the
    keys each does not read: those its settings class lacks; its scale factor: its class's
    default)."""
    blaze = ("model", "min_score", "nms_iou", "min_face")
    facts = {
        e.name: (e.display, e.tensorflow, getattr(e.settings(), "scale_factor", None),
                 tuple(k for k in SAVED_ORDER if k not in e.settings.saved_keys()),
                 e.method_keys)
        for e in DETECTORS
    }  # fmt: skip
    assert facts == {
        "haar": ("fer's Haar cascade", False, 1.1, ("min_face_size", "frames_per_call", *blaze), ()),
        "mtcnn": ("fer's MTCNN", True, 0.709, ("min_neighbors", "min_size", *blaze), ()),
        "blazeface": ("MediaPipe's BlazeFace", False, None, ("scale_factor", "min_neighbors",
                      "min_size", "min_face_size", "frames_per_call"), ("model", "min_face", "verify")),
        "none": ("none: the whole frame is the face", False, None, ("scale_factor",
                 "min_neighbors", "min_size", "min_face_size", "downscale", "frames_per_call",
                 *blaze), ()),
    }  # fmt: skip
    bench = {e.name: dataclasses.astuple(e.bench) for e in DETECTORS}
    assert bench == {
        "haar": ("haar", (1, 2), "haar_fast", False, True),
        "mtcnn": ("mtcnn", (None,), None, False, True),
        "blazeface": ("haar", (1,), None, True, True),
        "none": ("haar", (None,), None, False, False),
    }
    assert FULL["detectors"] == "haar,mtcnn,blazeface"
