"""Make N short labelled clips from the shared dev clips (10-25-frame cuts, re-encoded),
for scale tests: ``python -m tests.clipgen OUT_DIR N``. No media is committed."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from tests.conftest import read_all, write_video


def make_clips(dev_clips: Path, out: Path, n: int, seed: int = 0) -> Path:
    """``n`` clips named ``<actor>_<k>.mp4`` in ``out`` with ``labels.csv`` (video,
    actor, label); each a 10-25-frame cut of a dev clip, in turn."""
    import numpy as np

    rng = np.random.default_rng(seed)
    with open(dev_clips / "labels.csv", newline="") as fh:
        sources = [r for r in csv.DictReader(fh) if r["label"]]
    frames_of = {row["video"]: read_all(dev_clips / row["video"]) for row in sources}
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for k in range(n):
        row = sources[k % len(sources)]
        frames = frames_of[row["video"]]
        length = int(rng.integers(10, 26))
        start = int(rng.integers(0, max(1, len(frames) - length)))
        name = f"{row['actor']}_{k:05d}.mp4"
        write_video(out / name, frames[start : start + length], fps=25.0)
        rows.append({"video": name, "actor": row["actor"], "label": row["label"]})
    with open(out / "labels.csv", "w", newline="") as fh:
        writer_csv = csv.DictWriter(fh, ["video", "actor", "label"])
        writer_csv.writeheader()
        writer_csv.writerows(rows)
    return out


if __name__ == "__main__":
    make_clips(Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dev-clips",
               Path(sys.argv[1]), int(sys.argv[2]))  # fmt: skip
