"""Every face BlazeFace finds on the shared sets, with the face mesh's presence score.

Usage: python scripts/face_check_evidence.py OUT.csv [--data ../shared/data]
       [--presets short/back,short/full,short+full] [--sets graphics,fr,lfw,dev,multiface]

One row per face per preset: the set, file, frame, box, BlazeFace's score, and the
face mesh's presence score on MediaPipe's crop turned by the eyes (``presence``) and
on an upright crop (``presence_upright``); frames without a face get one row with no
box. On fr-samples, each face's dlib distance to the two reference photos (where the
identity extra is installed). The rows are what the face check's rule was chosen from
(docs/accuracy.md, "Faces that are faces"); the rule itself is femo's, not this script's.
Sampling as in the issue: graphics every 5th frame, the Hamilton clip every 2nd,
multiface every 10th, dev-clips every 20th; stills once.
"""

from __future__ import annotations

import argparse
import csv
import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from femo.config import BlazeFaceConfig, SamplingConfig
from femo.node.detectors import make_detector
from femo.node.face_mesh import FaceMesh, face_roi
from femo.node.video import ClipInfo, sampled_frames

FIELDS = ["preset", "set", "file", "frame", "x", "y", "w", "h", "score", "presence",
          "presence_upright", "eye_span", "miranda", "lacamoire"]  # fmt: skip


def media(data: Path, sets: list[str]) -> Iterator[tuple[str, Path, str, int]]:
    """(set, path, kind, every_n) for each file of the sets asked for."""
    if "graphics" in sets:
        for path in sorted((data / "graphics-clips" / "clips").glob("*.mp4")):
            yield f"graphics-{path.name.split('-')[0]}", path, "video", 5
    if "fr" in sets:
        clips = data / "fr-samples" / "clips"
        yield "fr-clip", clips / "short_hamilton_clip.mp4", "video", 2
        for name in ("obama_and_biden.jpg", "two_people.jpg"):
            yield "fr-photos", clips / name, "image", 1
    if "lfw" in sets:
        for path in sorted((data / "lfw-expressions" / "images").iterdir()):
            yield "lfw", path, "image", 1
    if "dev" in sets:
        for path in sorted((data / "dev-clips").glob("*.mp4")):
            yield "dev", path, "video", 20
    if "multiface" in sets:
        for path in sorted((data / "multiface-clips" / "clips").glob("*.mp4"))[::4]:
            yield "multiface", path, "video", 10


def eye_span(face) -> float:
    """The eyes' distance over the box's width: about 0.4 frontal, less turned away."""
    (x0, y0), (x1, y1) = face.eyes
    return round(float(np.hypot(x1 - x0, y1 - y0)) / face.w, 3)


def references(data: Path):
    """The dlib embedder and the two fr-samples references, or None without the extra."""
    try:
        from femo.node.identity import Embedder

        embedder = Embedder()
    except Exception:  # the identity extra is optional here
        return None
    refs = {}
    for person in ("lin-manuel-miranda", "alex-lacamoire"):
        image = cv2.cvtColor(
            cv2.imread(str(data / "fr-samples" / "refs" / person / f"{person}.png")),
            cv2.COLOR_BGR2RGB,
        )
        refs[person] = embedder.embed(image, embedder.find_faces(image)[:1])[0]
    return embedder, refs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser.add_argument("out", type=Path)
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("FEMO_SHARED_DATA", default_data))
    )
    parser.add_argument("--presets", default="short/back,short/full,short+full")
    parser.add_argument("--sets", default="graphics,fr,lfw,dev,multiface")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    mesh = FaceMesh()
    identity = references(args.data)
    detectors = {
        p: make_detector(BlazeFaceConfig(model=p, verify="none")) for p in args.presets.split(",")
    }
    with open(args.out, "w", newline="") as fh:
        writer = csv.DictWriter(fh, FIELDS)
        writer.writeheader()
        for set_name, path, kind, every_n in media(args.data, args.sets.split(",")):
            sampling = SamplingConfig(every_n=every_n)
            for frame in sampled_frames(str(path), kind, sampling, ClipInfo()):
                rgb = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)
                for preset, detector in detectors.items():
                    base = {"preset": preset, "set": set_name, "file": path.name,
                            "frame": frame.index}  # fmt: skip
                    faces = detector.detect([frame.image], [None])[0]
                    if not faces:
                        writer.writerow(base)
                    for face in faces:
                        box = (face.x, face.y, face.w, face.h)
                        row = {**base, "x": face.x, "y": face.y, "w": face.w, "h": face.h,
                               "score": round(face.confidence, 4),
                               "presence": mesh.run(rgb, face_roi(box, face.eyes)).presence,
                               "presence_upright": mesh.run(rgb, face_roi(box)).presence,
                               "eye_span": eye_span(face)}  # fmt: skip
                        if identity is not None and set_name.startswith("fr"):
                            embedder, refs = identity
                            vector = embedder.embed(rgb, [box])[0]
                            for person, ref in refs.items():
                                key = person.split("-")[-1]
                                row[key] = round(float(np.linalg.norm(vector - ref)), 3)
                        writer.writerow(row)


if __name__ == "__main__":
    main()
