"""The classifier's two backends side by side: the same faces, the same scores, the speed.

* :func:`sampled_crops` gives the classifier inputs femo makes from a media folder
  (Haar, the default sampling: every face of every sampled frame);
* :func:`compare_scores` counts where ONNX Runtime's scores give fer's answer;
* :func:`classifier_speed` times one backend alone (model loading apart);
* :func:`demo_wall_time` times ``femo run`` on the demo, a whole process.

``scripts/classifier_parity.py DIR...`` prints the counts over media folders.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..config import FER_BACKENDS, ClassifierConfig, ExtractConfig, HaarConfig, SamplingConfig


def sampled_crops(
    root: Path, sampling: SamplingConfig | None = None, detector: HaarConfig | None = None
) -> Iterator[tuple[str, int, np.ndarray]]:
    """(clip, frame, crops (n, 64, 64)) for each sampled frame under ``root``; n may be 0.

    Clips as ``femo run`` finds them, frames as it samples them, crops as it makes
    them: the classifier inputs of a run with these settings.
    """
    import cv2

    from ..config import DatasetConfig
    from ..dataset import discover_clips
    from ..node.crops import face_crop, pad_gray
    from ..node.detectors import HaarDetector
    from ..node.video import ClipError, ClipInfo, sampled_frames

    sampling = sampling or SamplingConfig()
    detector = detector or HaarConfig()
    haar = HaarDetector(detector)
    for clip in discover_clips(DatasetConfig(root=str(root))):
        try:
            frames = list(sampled_frames(str(root / clip.video), clip.kind, sampling, ClipInfo()))
        except ClipError:
            continue
        for frame in frames:
            gray = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)
            faces = haar.detect([frame.image], [gray])[0]
            padded = pad_gray(gray) if faces else gray
            crops = [face_crop(padded, f, detector.offsets, (64, 64)) for f in faces]
            crops = [c for c in crops if c is not None]
            yield clip.video, frame.index, np.array(crops, np.float32).reshape(-1, 64, 64)


def top_of_rounded(scores: np.ndarray, decimals: int = 2) -> np.ndarray:
    """fer's top emotion: the first of the highest 2-decimal scores, per row."""
    rounded = np.array([[round(float(s), decimals) for s in row] for row in scores])
    return rounded.argmax(axis=1), rounded


def compare_scores(reference: np.ndarray, other: np.ndarray) -> dict[str, Any]:
    """Faces where ``other`` gives the reference's answer: top emotion and rounded scores."""
    top_ref, rounded_ref = top_of_rounded(reference)
    top_other, rounded_other = top_of_rounded(other)
    return {
        "faces": len(reference),
        "same_top_emotion": int((top_ref == top_other).sum()),
        "same_raw_argmax": int((reference.argmax(1) == other.argmax(1)).sum()),
        "same_rounded_scores": int((rounded_ref == rounded_other).all(axis=1).sum()),
        "max_abs_diff": float(np.abs(reference - other).max()) if len(reference) else 0.0,
    }


def make_backend(backend: str, threads: int = 1):
    """A classifier of ``backend`` as a worker makes it, alone on ``threads`` CPUs."""
    from ..node.classifier import make_classifier

    config = ExtractConfig(classifier=ClassifierConfig(backend=backend), device="cpu")
    if FER_BACKENDS.require(backend).tensorflow:
        from ..node.runtime import configure_runtime

        configure_runtime(threads, "cpu")
    return make_classifier(config, "CPU:0", threads, busy=0)


def parity(folders: list[Path]) -> dict[str, Any]:
    """ONNX Runtime and femo's batched Keras against fer on every sampled face, per folder.

    fer's scores come from ``fer.FER``'s own classifier call, one per frame (a frame's
    faces together); femo calls either backend on batches of 64 faces across frames.
    Keras's scores move with the batch around a face (by up to ~1e-6), ONNX Runtime's do not.
    """
    from fer import FER

    reference = FER()._classify_emotions
    keras, onnx = make_backend("keras"), make_backend("onnx")
    out = {}
    for folder in folders:
        sampled = [faces for _, _, faces in sampled_crops(folder)]
        crops = [faces for faces in sampled if len(faces)]
        out[folder.name] = {"frames_sampled": len(sampled), "frames": len(crops)}
        if not crops:
            continue
        fer = np.concatenate([np.asarray(reference(faces)) for faces in crops])
        faces = np.concatenate(crops)
        ends = np.cumsum([len(c) for c in crops])
        for name, model in (("onnx", onnx), ("keras_batched", keras)):
            scores = model.predict(faces)
            counts = compare_scores(fer, scores)
            same = (top_of_rounded(fer)[1] == top_of_rounded(scores)[1]).all(axis=1)
            counts["frames_all_equal"] = int(
                sum(same[e - len(c) : e].all() for e, c in zip(ends, crops, strict=True))
            )
            out[folder.name][name] = counts
    return out


def classifier_speed(backend: str, faces: int = 512, threads: int = 1) -> dict[str, Any]:
    """One backend alone on random faces: load seconds, faces/s one at a time and by 64.

    Loading includes importing the backend (TensorFlow or ONNX Runtime); each rate is
    the best of 3 passes (the machine may be shared).
    """
    t0 = time.perf_counter()
    model = make_backend(backend, threads)
    model.predict(np.zeros((1, 64, 64), np.float32))
    load = time.perf_counter() - t0
    x = np.random.default_rng(0).uniform(-1, 1, (faces, 64, 64)).astype(np.float32)
    out: dict[str, Any] = {"backend": backend, "threads": threads, "load_s": round(load, 3)}
    for batch in (1, 64):
        model.batch_size = batch
        n = faces if batch > 1 else faces // 4
        best = math.inf
        for _ in range(3):
            t0 = time.perf_counter()
            model.predict(x[:n])
            best = min(best, time.perf_counter() - t0)
        out[f"faces_per_s_batch_{batch}"] = round(n / best, 1)
    return out


def demo_wall_time(backend: str, work_dir: Path) -> float:
    """Seconds ``femo run classifier.backend=...`` takes on the demo, one whole process."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    args = [sys.executable, "-m", "femo", "run", f"classifier.backend={backend}"]
    args.append(f"hydra.run.dir={work_dir / f'demo-{backend}'}")
    t0 = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, env=env, cwd=work_dir)
    return time.perf_counter() - t0


def _speed_in_fresh_process(backend: str) -> dict[str, Any]:
    code = f"import json; from femo.bench.backends import classifier_speed as s; print(json.dumps(s({backend!r})))"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def backends_bench(backends: list[str], demo: bool, work_dir: Path, echo=print) -> dict[str, Any]:
    """Each backend alone (a fresh process each), then the demo's wall time with each."""
    out: dict[str, Any] = {"classifier": [], "demo_wall_s": {}}
    for backend in backends:
        speed = _speed_in_fresh_process(backend)
        out["classifier"].append(speed)
        echo(
            f"classifier {backend:<5}: model loading {speed['load_s']:.2f} s (import included), "
            f"{speed['faces_per_s_batch_1']:,.0f} faces/s one at a time, "
            f"{speed['faces_per_s_batch_64']:,.0f} by 64 (1 thread)"
        )
    if demo:
        from ..demo import ensure_demo_dataset

        ensure_demo_dataset()  # made once, outside the timed runs
        with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
            for backend in backends:
                seconds = demo_wall_time(backend, Path(tmp))
                out["demo_wall_s"][backend] = round(seconds, 2)
                echo(f"demo ({backend}): femo run classifier.backend={backend}: {seconds:.1f} s")
    return out
