"""Shared fixtures: the real media in ../shared/data, and small clips made on the fly."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FEMO_SHARED_DATA", REPO.parent / "shared" / "data"))
FER_SAMPLES = SHARED / "fer-samples"
DEV_CLIPS = SHARED / "dev-clips"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs the shared media {path} (absent on this machine)")
    return path


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
