"""The blazeface preset's figures on the shared sets, against BlazeFace as it was.

Usage: python scripts/face_check_figures.py OUT_DIR [--data ../shared/data]
       [--sets graphics,fr,lfw] [--variants unchecked,0.4,preset]
       [--extra detector.model=short+back ...]

Runs ``femo run detector=blazeface`` as each variant sets it (``VARIANTS``: BlazeFace
without any check; femo 0.4's preset, the mesh on faces under 0.65 and no pyramid;
today's preset) on:
- graphics-clips (every 5th frame): text clips with a face (of 12), banner frames
  without a face and with a second face;
- fr-samples with identities (every 2nd frame, identity=dlib, its refs): faces matched
  to Alex Lacamoire (seen in profile) and to Lin-Manuel Miranda, Hamilton frames with
  no face, faces in the two photos;
- lfw-expressions: images with a face (of 804);
and, for each, what the check rejected (boxes, their detector scores and presences).
``--extra`` overrides go to every run (e.g. another ``detector.model``).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

SETS = {
    "graphics": ("graphics-clips/clips", ["dataset.labels={data}/graphics-clips/labels.csv",
                 "dataset.unknown_labels=unlabelled", "sampling.every_n=5"]),
    "fr": ("fr-samples/clips", ["identity=dlib", "dataset.references={data}/fr-samples/refs",
           "sampling.every_n=2"]),
    "lfw": ("lfw-expressions", ["dataset.labels={data}/lfw-expressions/labels.csv"]),
}  # fmt: skip


VARIANTS = {
    "unchecked": ["detector.min_face=null", "detector.verify=none"],
    "0.4": ["detector.min_face=null", "detector.verify=mesh", "detector.verify_below=0.65"],
    "preset": [],
}


def run(data: Path, name: str, variant: str, out: Path, extra: list[str]) -> Path:
    """The run folder of ``femo run`` on set ``name`` as ``variant`` sets the detector."""
    folder, settings = SETS[name]
    target = out / f"{name}-{variant}"
    args = [f"dataset.root={data / folder}", *(s.format(data=data) for s in settings),
            "detector=blazeface", *VARIANTS[variant], *extra,
            f"hydra.run.dir={target}"]  # fmt: skip
    if not (target / "report").is_dir():
        subprocess.run([sys.executable, "-m", "femo", "run", *args], check=True,
                       capture_output=True)  # fmt: skip
    return target


def rows(run_dir: Path) -> pd.DataFrame:
    return pd.concat(pd.read_parquet(p) for p in sorted((run_dir / "shards").glob("*.parquet")))


def graphics(frame: pd.DataFrame) -> dict:
    faces = frame[frame.kind == "frame"]
    text, banner = (
        faces[faces.video.str.startswith("text")],
        faces[faces.video.str.startswith("banner")],
    )
    per_frame = banner.groupby(["video", "frame"]).face.count()
    return {"text clips with a face (of 12)": text[text.face.notna()].video.nunique(),
            "banner frames": len(per_frame),
            "banner frames without a face": int((per_frame == 0).sum()),
            "banner frames with a second face": int((per_frame > 1).sum())}  # fmt: skip


def identities(run_dir: Path, frame: pd.DataFrame) -> dict:
    table = csv.DictReader((run_dir / "report" / "identities.csv").read_text().splitlines())
    found = {r["person"]: int(r["faces"]) for r in table}
    clip = frame[(frame.kind == "frame") & frame.video.str.endswith(".mp4")]
    stills = frame[(frame.kind == "frame") & ~frame.video.str.endswith(".mp4")]
    return {"alex-lacamoire faces": found.get("alex-lacamoire"),
            "lin-manuel-miranda faces": found.get("lin-manuel-miranda"),
            "matched to nobody": found.get("(nobody)"),
            "hamilton frames without a face": int((clip.groupby("frame").face.count() == 0).sum()),
            "faces in the two photos": int(stills.face.notna().sum())}  # fmt: skip


def lfw(frame: pd.DataFrame) -> dict:
    faces = frame[frame.kind == "frame"]
    return {"images with a face (of 804)": faces[faces.face.notna()].video.nunique()}


def figures(name: str, run_dir: Path, frame: pd.DataFrame) -> dict:
    if name == "graphics":
        return graphics(frame)
    return identities(run_dir, frame) if name == "fr" else lfw(frame)


def rejected(frame: pd.DataFrame) -> str:
    gone = frame[frame.kind == "rejected"]
    if gone.empty:
        return "nothing rejected"
    return (f"{len(gone)} boxes rejected in {gone.video.nunique()} clips: detector scores "
            f"{gone.detector_confidence.min():.2f}-{gone.detector_confidence.max():.2f}, "
            f"presence max {gone.face_check.max():.3g}, widths {gone.w.min()}-{gone.w.max()} px; "
            + ", ".join(sorted(gone.video.unique())[:12]))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser.add_argument("out", type=Path)
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("FEMO_SHARED_DATA", default_data))
    )
    parser.add_argument("--sets", default="graphics,fr,lfw")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--extra", nargs="*", default=[])
    args = parser.parse_args()
    data = args.data.resolve()
    for name in args.sets.split(","):
        for variant in args.variants.split(","):
            run_dir = run(data, name, variant, args.out.resolve(), args.extra)
            frame = rows(run_dir)
            print(f"{name} {variant}: {figures(name, run_dir, frame)}", flush=True)
            if variant != "unchecked":
                print(f"  rejected: {rejected(frame)}", flush=True)


if __name__ == "__main__":
    main()
