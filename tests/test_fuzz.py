"""Fuzz: a few hundred damaged copies of good clips through one real ``femo run``.

Truncated, bytes flipped, headers zeroed, garbage, empty, the wrong extension: every
file gets exactly one row in the report with a known status (an error with its
message), the untouched clips among them are reported as usual, and the run ends.
The files are made in tmp_path from the demo clips with a fixed seed.
"""

from __future__ import annotations

import csv
import random
import time
from pathlib import Path

import pytest

from femo.demo import build_demo

from .conftest import femo, read_all, write_mjpg_avi

pytestmark = pytest.mark.slow

SEED = 13
N_MUTANTS = 240
STATUSES = {"ok", "no_face", "partial", "error"}
NOT_A_VIDEO = "cannot be opened as a video (not a video, or a codec OpenCV lacks)"
NOT_AN_IMAGE = "cannot be read as an image (corrupt, or not an image)"
# The demo clips, untouched, as every run reports them.
GOOD = {
    "good/empty_wall.mp4": "no_face",
    "good/hopper.jpg": "ok",
    "good/hopper_mirrored.mp4": "ok",
    "good/hopper_still.mp4": "ok",
    "good/hopper_zoom.mp4": "ok",
    "good/hopper.avi": "ok",
}


def truncated(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(1, len(data))]


def flipped(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice((1, 4, 32, 256))):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def header_zeroed(data: bytes, rng: random.Random) -> bytes:
    n = rng.choice((4, 16, 64, 512, 4096))
    return bytes(min(n, len(data))) + data[n:]


def chunk_zeroed(data: bytes, rng: random.Random) -> bytes:
    start = rng.randrange(len(data))
    n = rng.randrange(1, 8192)
    return data[:start] + bytes(len(data[start : start + n])) + data[start + n :]


def garbage(data: bytes, rng: random.Random) -> bytes:
    return rng.randbytes(rng.randrange(1, 20_000))


def spliced(data: bytes, rng: random.Random) -> bytes:
    """The start of the file, then its own bytes from a random later point."""
    a, b = sorted(rng.sample(range(len(data)), 2))
    return data[:a] + data[b:]


MUTATIONS = {
    "truncated": truncated,
    "flipped": flipped,
    "header_zeroed": header_zeroed,
    "chunk_zeroed": chunk_zeroed,
    "garbage": garbage,
    "spliced": spliced,
}


def make_corpus(root: Path) -> dict[str, str]:
    """The good clips under good/, N_MUTANTS mutants under bad/; returns mutant -> how made."""
    good = root / "good"
    good.mkdir(parents=True)
    build_demo(good)
    (good / "labels.csv").unlink()
    write_mjpg_avi(good / "hopper.avi", read_all(good / "hopper_zoom.mp4")[:24], fps=24.0)
    sources = {p.name: p.read_bytes() for p in sorted(good.iterdir())}
    bad = root / "bad"
    bad.mkdir()
    rng = random.Random(SEED)
    made: dict[str, str] = {}

    def add(name: str, data: bytes, how: str) -> None:
        path = bad / f"{len(made):03d}-{name}"
        path.write_bytes(data)
        made[str(path.relative_to(root))] = how

    # Fixed cases first: empty files and renamed files of every kind.
    for ext in (".mp4", ".avi", ".jpg"):
        add(f"empty{ext}", b"", "empty")
    add("jpg-as.mp4", sources["hopper.jpg"], "renamed")
    add("mp4-as.jpg", sources["hopper_still.mp4"], "renamed")
    add("avi-as.mp4", sources["hopper.avi"], "renamed")
    add("mp4-as.avi", sources["hopper_zoom.mp4"], "renamed")
    add("wall-as.png", sources["empty_wall.mp4"], "renamed")
    while len(made) < N_MUTANTS:
        source = rng.choice(sorted(sources))
        how = rng.choice(sorted(MUTATIONS))
        ext = Path(source).suffix
        if rng.random() < 0.1:  # now and then under another extension too
            ext = rng.choice((".mp4", ".avi", ".mkv", ".jpg", ".png"))
        name = f"{how}-{Path(source).stem}{ext}"
        add(name, MUTATIONS[how](sources[source], rng), how)
    return made


def test_hundreds_of_damaged_clips_in_one_run(tmp_path):
    root = tmp_path / "clips"
    made = make_corpus(root)
    assert len(made) == N_MUTANTS
    out = tmp_path / "out"
    args = [
        f"dataset.root={root}",
        f"output_root={out}",
        "launcher.workers=1",
        "shards.videos_per_shard=64",
        "shards.clip_timeout_s=120",
    ]
    started = time.monotonic()
    proc = femo("run", *args, cwd=tmp_path, timeout=900)
    elapsed = time.monotonic() - started
    print(f"femo run over {len(made) + len(GOOD)} files: {elapsed:.0f} s")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    (run_dir,) = [p.parent for p in out.glob("*/*/femo.json")]
    with open(run_dir / "report" / "videos.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))

    # Exactly one row per file, each with a known status; errors say why.
    videos = [r["video"] for r in rows]
    assert sorted(videos) == sorted([*made, *GOOD])
    by_video = {r["video"]: r for r in rows}
    for r in rows:
        assert r["status"] in STATUSES, r
        if r["status"] == "error":
            assert r["message"].strip(), r
        if r["status"] == "partial":
            assert r["message"].endswith("(truncated or damaged file?)"), r
    # The untouched clips come out as in any run.
    assert {v: by_video[v]["status"] for v in GOOD} == GOOD
    # The fixed cases, exactly.
    for ext in (".mp4", ".avi", ".jpg"):
        row = next(r for v, r in by_video.items() if v.endswith(f"-empty{ext}"))
        assert (row["status"], row["message"]) == ("error", "empty file (0 bytes)")
    renamed = {Path(v).name[4:]: r for v, r in by_video.items() if made.get(v) == "renamed"}
    assert renamed["mp4-as.jpg"]["status"] == "error"
    assert renamed["mp4-as.jpg"]["message"] == NOT_AN_IMAGE
    assert renamed["wall-as.png"]["message"] == NOT_AN_IMAGE
    # FFmpeg probes the content, not the name: these decode and find the face.
    for name in ("jpg-as.mp4", "avi-as.mp4", "mp4-as.avi"):
        assert renamed[name]["status"] == "ok", (name, renamed[name])
    # Garbage is never taken for a clip.
    for v, how in made.items():
        if how == "garbage":
            assert by_video[v]["status"] == "error", by_video[v]
    # The mutants really exercise every outcome, not only one kind of failure.
    seen = {by_video[v]["status"] for v in made}
    assert {"ok", "error"} <= seen, seen
    assert elapsed < 600
