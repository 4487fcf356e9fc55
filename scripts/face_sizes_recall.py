"""Recall by face size over ``face-sizes`` (docs/accuracy.md, "Faces at every size").

Reads whole femo runs over ``../shared/data/face-sizes/images`` and counts, per run, the
annotated faces that a kept box overlaps with IoU >= 0.3, by face width, by kind of
image, and the boxes put on the photos without a person::

    femo run detector=haar dataset.root=../shared/data/face-sizes/images
    python scripts/face_sizes_recall.py RUN [RUN ...]

It prints one Markdown table, a row per run, named by its detector and settings.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from femo.config import from_saved
from femo.results.pages.method import detector_text
from femo.rundir import RunDir

IOU_FOUND = 0.3
BANDS = (
    (0, 50, "< 50 px"),
    (50, 80, "50-79 px"),
    (80, 120, "80-119 px"),
    (120, 10**9, ">= 120 px"),
)
KINDS = ("wide", "collage", "voc")


def iou(truth: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of each truth box (n, 4: x, y, w, h) with each found box (m, 4): (n, m)."""
    if not len(boxes):
        return np.zeros((len(truth), 0))
    t, b = truth[:, None, :], boxes[None, :, :]
    w = np.clip(
        np.minimum(t[..., 0] + t[..., 2], b[..., 0] + b[..., 2]) - np.maximum(t[..., 0], b[..., 0]),
        0,
        None,
    )
    h = np.clip(
        np.minimum(t[..., 1] + t[..., 3], b[..., 1] + b[..., 3]) - np.maximum(t[..., 1], b[..., 1]),
        0,
        None,
    )
    inter = w * h
    return inter / (t[..., 2] * t[..., 3] + b[..., 2] * b[..., 3] - inter)


def kept_boxes(run: Path) -> pd.DataFrame:
    """The run's kept faces: video, x, y, w, h."""
    files = sorted(RunDir(run).shards_dir.glob("*.parquet"))
    table = pd.concat(
        [pq.read_table(f, columns=["video", "kind", "x", "y", "w", "h"]).to_pandas() for f in files]
    )
    return table[(table.kind == "frame") & table.w.notna()]


def count(run: Path, truth: pd.DataFrame, images: list[str]) -> dict[str, object]:
    """Faces found per band and kind, and boxes on each no-face photo, for one run."""
    boxes = kept_boxes(run)
    truth = truth.assign(found=False)
    for image, rows in truth.groupby("image"):
        found = boxes[boxes.video == image][["x", "y", "w", "h"]].to_numpy(float)
        hit = (iou(rows[["x", "y", "w", "h"]].to_numpy(float), found) >= IOU_FOUND).any(axis=1)
        truth.loc[rows.index, "found"] = hit
    out: dict[str, object] = {"found": int(truth.found.sum()), "faces": len(truth)}
    for low, high, name in BANDS:
        band = truth[(truth.w >= low) & (truth.w < high)]
        out[name] = f"{int(band.found.sum())}/{len(band)}"
    for kind in KINDS:
        part = truth[truth.image.str.startswith(kind)]
        out[kind] = f"{int(part.found.sum())}/{len(part)}"
    noface = [i for i in images if i.startswith("noface")]
    out["no-face boxes"] = ", ".join(str(int((boxes.video == i).sum())) for i in noface)
    return out


def describe(run: Path) -> str:
    """The run's detector as the Method line names it."""
    return detector_text(from_saved(RunDir(run).read_manifest()["config"]).detector)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(__file__).resolve().parents[1].parent / "shared/data/face-sizes",
    )
    args = parser.parse_args(argv)
    truth = pd.read_csv(args.data / "boxes.csv")
    images = sorted(p.name for p in (args.data / "images").iterdir())
    rows = [{"run": describe(r), **count(r, truth, images)} for r in args.runs]
    for row in rows:
        row["recall"] = f"{row.pop('found')}/{row.pop('faces')}"
    columns = ["run", "recall", *(b[2] for b in BANDS), *KINDS, "no-face boxes"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
