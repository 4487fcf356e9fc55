"""The embedded demo dataset: a few clips femo makes itself from a face image matplotlib ships.

It lets ``femo run`` with no arguments produce a report minutes after installing. The
labels are made up for the demonstration; they say nothing about the model's accuracy.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np

DEMO_VERSION = 1
FPS = 24.0
N_FRAMES = 48
LABELS = {
    "hopper_still.mp4": "Neutral",
    "hopper_zoom.mp4": "Neutral",
    "hopper_mirrored.mp4": "Positive",
    "empty_wall.mp4": "Neutral",
    # hopper.jpg is left unlabelled on purpose: unlabelled clips are reported too.
}


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "femo"


def source_image() -> np.ndarray:
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"the demo's source image {path} is missing from matplotlib")
    return image


def _write_video(path: Path, frames: list[np.ndarray]) -> None:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    for frame in frames:
        writer.write(frame)
    writer.release()


def _zoom(image: np.ndarray, factor: float) -> np.ndarray:
    h, w = image.shape[:2]
    ch, cw = int(h / factor), int(w / factor)
    y, x = (h - ch) // 2, (w - cw) // 2
    return cv2.resize(image[y : y + ch, x : x + cw], (w, h))


def build_demo(folder: Path) -> None:
    """Write the demo clips and labels into ``folder`` (which must exist)."""
    image = source_image()
    image = cv2.resize(image, (image.shape[1] // 2 * 2, image.shape[0] // 2 * 2))
    _write_video(folder / "hopper_still.mp4", [image] * N_FRAMES)
    _write_video(
        folder / "hopper_zoom.mp4", [_zoom(image, 1 + 0.3 * i / N_FRAMES) for i in range(N_FRAMES)]
    )
    _write_video(folder / "hopper_mirrored.mp4", [cv2.flip(image, 1)] * N_FRAMES)
    wall = np.full_like(image, 180)
    wall[:, :, 0] = np.linspace(120, 220, image.shape[1], dtype=np.uint8)[None, :]
    _write_video(folder / "empty_wall.mp4", [wall] * N_FRAMES)
    cv2.imwrite(str(folder / "hopper.jpg"), image)
    lines = ["video,label"] + [f"{v},{label}" for v, label in LABELS.items()] + ["hopper.jpg,"]
    (folder / "labels.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def ensure_demo_dataset() -> tuple[Path, Path]:
    """(root, labels.csv) of the demo dataset, made on first use in femo's cache folder."""
    target = cache_dir() / f"demo-v{DEMO_VERSION}"
    if not (target / "labels.csv").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".demo-", dir=target.parent))
        try:
            build_demo(tmp)
            if target.exists():  # half-made by an interrupted first use
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return target, target / "labels.csv"
