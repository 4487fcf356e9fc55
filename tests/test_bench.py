"""The benchmark's smoke version: its numbers exist and femo's results equal fer's.

Speeds are never asserted (the machine is shared and noisy); ``femo bench`` run in
full reports them, with ratios measured in the same run.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from femo.bench import make_long_clip, memory_check

# The smoke bench is one --full run (every detector, backend and frame size): on a loaded
# 2-core machine it passed the suite's 900 s.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, fer_samples, dev_clips):
    out_dir = tmp_path_factory.mktemp("bench")
    cwd = tmp_path_factory.mktemp("cwd")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "femo",
            "bench",
            "--full",
            "--processes",
            "0",
            "--data",
            str(fer_samples.parent),
            "--every",
            "20",
            "--max-frames",
            "3",
            "--max-clips",
            "3",
            "--long-clip-minutes",
            "0",
            "--out-dir",
            str(out_dir),
        ],
        capture_output=True,
        text=True,
        timeout=1700,
        cwd=cwd,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # fer.Video.analyze writes data.csv into the current directory; the bench must
    # keep that inside its own folder.
    assert list(cwd.iterdir()) == []
    return proc.stdout, json.loads((out_dir / "bench.json").read_text())


def test_every_point_has_fer_floor_and_femo_figures(smoke):
    _, results = smoke
    points = {(r["media"], r["detector"], r["every_n"]) for r in results["results"]}
    assert points == {
        ("woman2", "haar", 20),
        ("woman2", "mtcnn", 20),
        ("woman2", "blazeface", 20),
        ("dev-clips", "haar", 20),
        ("dev-clips", "mtcnn", 20),
        ("dev-clips", "blazeface", 20),
    }
    for row in results["results"]:
        n_frames = 3 * row["clips"]
        for run in (row["fer"], row["floor"], *row["femo"]):
            assert run["frames"] == n_frames
            assert run["frames_per_s"] > 0 and run["peak_rss_mb"] > 100
        for femo in row["femo"]:
            assert femo["vs_fer"] > 0 and femo["time_vs_floor"] > 0
            assert set(femo["stage_seconds"]) == {"decode", "detect", "classify"}
        modes = [f["mode"] for f in row["femo"]]
        parity = ["parity", "parity, onnx"]
        extra = {"haar": ["fast (haar_fast)"], "blazeface": ["parity, onnx, verify=none"]}
        assert modes == parity + extra.get(row["detector"], [])


def test_blazeface_rows_time_the_face_check_per_face(smoke):
    stdout, results = smoke
    for row in results["results"]:
        if row["detector"] != "blazeface":
            assert "check" not in row
            continue
        check = row["check"]
        # The check timed every face the preset found: those of femo's shard, kept or not.
        import pyarrow.parquet as pq

        shard = pq.read_table(row["femo"][0]["shard"]).to_pandas()
        found = shard[shard.kind.isin(["frame", "rejected"]) & shard.face.notna()]
        assert check["frames"] == len(found) > 0 and check["ms_per_face"] > 0
        assert 0 <= check["faces_the_preset_checks"] <= check["frames"]
        assert f"{row['media']:<10} blazeface  20 face check (mesh)" in stdout


def test_parity_mode_results_equal_fer(smoke):
    """With either classifier backend."""
    _, results = smoke
    for row in results["results"]:
        for femo in row["femo"][:2]:
            parity = femo["results_vs_fer"]
            assert parity["frames_compared"] == 3 * row["clips"]
            if row["detector"] != "blazeface":  # fer has no BlazeFace: it runs fer's Haar
                assert parity["equal"], (row["media"], row["detector"], femo["mode"], parity)


def test_both_backends_are_timed_alone_and_on_the_demo(smoke):
    stdout, results = smoke
    speeds = results["backends"]["classifier"]
    assert [s["backend"] for s in speeds] == ["keras", "onnx"]
    for speed in speeds:
        assert speed["load_s"] > 0
        assert speed["faces_per_s_batch_1"] > 0 and speed["faces_per_s_batch_64"] > 0
    assert set(results["backends"]["demo_wall_s"]) == {"keras", "onnx"}
    assert "demo (onnx): femo run classifier.backend=onnx:" in stdout


def test_blazeface_is_compared_with_haar_parity_and_shares_fers_haar_run(smoke):
    stdout, results = smoke
    rows = {(r["media"], r["detector"]): r for r in results["results"]}
    for media in ("woman2", "dev-clips"):
        blaze, haar = rows[(media, "blazeface")], rows[(media, "haar")]
        assert blaze["fer"] == haar["fer"]  # one fer.Video.analyze run serves both
        femo = blaze["femo"][0]
        assert femo["vs_haar"] == femo["frames_per_s"] / haar["femo"][0]["frames_per_s"]
        assert f"{media}, every 20: femo blazeface" in stdout
    assert "vs_haar" not in rows[("woman2", "haar")]["femo"][0]
    assert rows[("woman2", "mtcnn")]["femo"][0]["vs_haar"] > 0


def test_accuracy_and_the_study_estimate_are_reported(smoke):
    stdout, results = smoke
    dev = [r for r in results["results"] if r["media"] == "dev-clips"]
    for row in dev:
        for femo in row["femo"]:
            assert femo["accuracy"]["n_labelled"] == 2  # the 3 first dev clips: one is "contempt"
            assert 0 <= femo["accuracy"]["accuracy"] <= 1
    estimates = {e["media"]: e for e in results["estimates"]}
    assert set(estimates) == {"woman2", "dev-clips"}
    assert estimates["woman2"]["frame_size"] == "596x336"
    assert estimates["dev-clips"]["frame_size"] == "256x256"
    for estimate in estimates.values():
        assert estimate["clips"] == 2826 and estimate["tasks"] == 16
        assert estimate["clips_per_task"] == 177 and estimate["wall_s"] > 0
        assert estimate["fer"]["wall_s"] > 0
    assert stdout.count("estimate at the study's size (2,826 clips, 16 processes at a time") == 2
    assert "fer.Video.analyze" in stdout and "femo parity" in stdout


def test_the_preset_at_each_frame_size_finds_the_annotated_faces(smoke):
    """--full's frame-size rows: the dev clips' 256 px and the 720p and 1080p clips made
    from face-sizes' wide shots, every frame (here the first 3), with the faces found
    against the shots' own boxes and the smallest."""
    stdout, results = smoke
    rows = {row["size"]: row for row in results["frame_sizes"]}
    assert list(rows) == ["256px", "720p", "1080p"]
    assert [rows[s]["width"] for s in rows] == [256, 1280, 1920]
    for row in rows.values():
        assert row["frames"] == 3 and row["frames_per_s"] > 0
        assert 0 < row["smallest_face_share"] < 1
        assert row["smallest_face_px"] == round(row["smallest_face_share"] * row["width"])
    assert rows["256px"]["faces"] == 3 and "annotated" not in rows["256px"]
    for size in ("720p", "1080p"):  # the first still held 3 frames: each face in each
        assert rows[size]["annotated"] > 0 and rows[size]["annotated"] % 3 == 0
        assert rows[size]["annotated_found"] == rows[size]["annotated"]
    assert "blazeface preset at 1080p (1920 px wide), every frame:" in stdout


def test_make_long_clip_repeats_the_source(tmp_path, fer_samples):
    import cv2

    out = make_long_clip(fer_samples / "woman2.mp4", 0.5, tmp_path / "long.mp4")
    cap = cv2.VideoCapture(str(out))
    fps, frames = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    assert frames == int(0.5 * 60 * fps)  # woman2 has fewer frames: it was repeated
    assert not list(tmp_path.glob("*.partial.mp4"))


def test_memory_stays_bounded_on_a_long_clip(tmp_path, fer_samples):
    memory = memory_check(fer_samples / "woman2.mp4", 3, 20, tmp_path, tmp_path)
    assert memory["long_frames"] > 5 * memory["short_frames"]
    assert memory["ratio"] <= 1.5, memory
