"""Shared fixtures: the real media in ../shared/data, and small clips made on the fly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from .fake_scheduler import FakeScheduler

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FEMO_SHARED_DATA", REPO.parent / "shared" / "data"))
FER_SAMPLES = SHARED / "fer-samples"
DEV_CLIPS = SHARED / "dev-clips"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs the shared media {path} (absent on this machine)")
    return path


@pytest.fixture
def no_tensorflow(request):
    """For fast test modules (``pytestmark``): a test that loads TensorFlow fails.

    Tests marked slow may load it.
    """
    before = "tensorflow" in sys.modules
    yield
    if not before and request.node.get_closest_marker("slow") is None:
        assert "tensorflow" not in sys.modules, "this fast test loaded TensorFlow"


@pytest.fixture
def scheduler(monkeypatch) -> FakeScheduler:
    """A fresh fake SLURM and Grid Engine (tests/fake_scheduler.py), installed for this test."""
    from submitit.slurm.slurm import SlurmJob

    from femo.launchers.sge import SgeJob

    yield FakeScheduler().install(monkeypatch)
    SlurmJob.watcher.clear()  # submitit's watchers are shared by every job of a class
    SgeJob.watcher.clear()


@pytest.fixture(scope="session")
def poisoned_tf(tmp_path_factory) -> Path:
    """A folder whose tensorflow, keras, fer and mtcnn packages refuse to be imported."""
    folder = tmp_path_factory.mktemp("poison")
    for name in ("tensorflow", "keras", "fer", "mtcnn"):
        (folder / name).mkdir()
        (folder / name / "__init__.py").write_text(
            f"raise ImportError('{name} was imported by a command that must fail before it loads')\n"
        )
    return folder


@pytest.fixture
def fast_femo(poisoned_tf, tmp_path):
    """``python -m femo ...`` in ``tmp_path``, with TensorFlow poisoned."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(poisoned_tf), env.get("PYTHONPATH")) if p)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "femo", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


@pytest.fixture(scope="session")
def fer_samples() -> Path:
    return need(FER_SAMPLES)


@pytest.fixture(scope="session")
def dev_clips() -> Path:
    return need(DEV_CLIPS)


@pytest.fixture(scope="session")
def face_image() -> np.ndarray:
    """A real face photo that an installed package ships (matplotlib's Grace Hopper)."""
    from femo.demo import source_image

    return source_image()


def write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert writer.isOpened()
    for f in frames:
        writer.write(f)
    writer.release()
    return path


def read_all(path: Path) -> list[np.ndarray]:
    """Every frame, as cv2.VideoCapture.read() returns them (what fer analyses)."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames
