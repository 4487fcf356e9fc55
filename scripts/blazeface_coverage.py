"""Faces found by Haar and BlazeFace on a wide stage shot and on close-up stills.

Usage: python scripts/blazeface_coverage.py [--data ../shared/data] [--models short,full,...]

For each detector (fer's Haar, then each BlazeFace ``detector.model`` asked for):
frames with NO face found on fr-samples/clips/short_hamilton_clip.mp4 at every 2nd
frame (138 frames, as in shared/data/README.md) (small faces in a wide shot; lower is better), and images with a face found in
lfw-expressions (804 face crops; higher is better), with milliseconds per image.
One thread; the detectors are femo's own (femo.node.detectors).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2

from femo.config import BlazeFaceConfig, HaarConfig, SamplingConfig
from femo.node.detectors import make_detector
from femo.node.video import ClipInfo, sampled_frames


def frames(path: Path, kind: str, every_n: int = 1):
    yield from (
        f.image
        for f in sampled_frames(str(path), kind, SamplingConfig(every_n=every_n), ClipInfo())
    )


def count(detector, images) -> tuple[int, int, float]:
    """(images, images with a face, seconds detecting)."""
    total = found = 0
    seconds = 0.0
    for image in images:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        t0 = time.perf_counter()
        faces = detector.detect([image], [gray])[0]
        seconds += time.perf_counter() - t0
        total += 1
        found += bool(faces)
    return total, found, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("FEMO_SHARED_DATA", default_data))
    )
    parser.add_argument("--models", default="short,full,back,short+full,short+back")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    clip = args.data / "fr-samples" / "clips" / "short_hamilton_clip.mp4"
    stills = sorted((args.data / "lfw-expressions" / "images").iterdir())
    configs = [("haar", HaarConfig())]
    configs += [
        (f"blazeface {m}", BlazeFaceConfig(model=m, verify="none")) for m in args.models.split(",")
    ]
    print(f"{'detector':<22} {'hamilton: no face':>18} {'lfw: face found':>16} {'ms/image':>9}")
    for label, config in configs:
        detector = make_detector(config)
        detector.warm_up()
        sampled, with_face, _ = count(detector, frames(clip, "video", 2))
        total, found, seconds = count(detector, (next(frames(p, "image")) for p in stills))
        print(
            f"{label:<22} {f'{sampled - with_face} of {sampled}':>18} "
            f"{f'{found} of {total}':>16} {1000 * seconds / total:>9.1f}"
        )


if __name__ == "__main__":
    main()
