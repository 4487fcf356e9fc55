"""Decoding real good and bad files: frames sampled exactly, bad clips failing clearly.

The fast tests decode only (no TensorFlow); the slow one runs a whole shard over a
folder that mixes good clips with every kind of bad file.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest

from femo.config import EMOTIONS, ExtractConfig, HaarConfig, SamplingConfig
from femo.dataset import Clip, discover_clips
from femo.node.video import ClipError, ClipInfo, sampled_frames

from .conftest import read_all, shard_task, write_mjpg_avi, write_video

EVERY_N = SamplingConfig(mode="every_n", every_n=4)
NOT_A_VIDEO = "cannot be opened as a video (not a video, or a codec OpenCV lacks)"
NOT_AN_IMAGE = "cannot be read as an image (corrupt, or not an image)"
N_FRAMES = 30


pytestmark = pytest.mark.usefixtures("no_tensorflow")


def moving_frames(image: np.ndarray, n: int = N_FRAMES) -> list[np.ndarray]:
    """n distinct frames (the face shifted a little each time), even-sized for the codecs."""
    h, w = image.shape[:2]
    image = image[: h // 2 * 2, : w // 2 * 2]
    return [np.roll(image, 3 * i, axis=1) for i in range(n)]


def small(image: np.ndarray) -> np.ndarray:
    return cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2))


def decode(path: Path, kind: str = "video", sampling: SamplingConfig = EVERY_N):
    info = ClipInfo()
    frames = list(sampled_frames(str(path), kind, sampling, info))
    return frames, info


def decode_error(path: Path, kind: str = "video", sampling: SamplingConfig = EVERY_N):
    info = ClipInfo()
    with pytest.raises(ClipError) as exc:
        list(sampled_frames(str(path), kind, sampling, info))
    return str(exc.value), info


def truncate(path: Path, target: Path, fraction: float = 0.6) -> Path:
    data = path.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


@pytest.fixture(scope="module")
def good_mp4(tmp_path_factory, face_image) -> Path:
    folder = tmp_path_factory.mktemp("good")
    return write_video(folder / "good.mp4", moving_frames(small(face_image)), fps=25.0)


# ------------------------------------------------------------------- bad files


def test_missing_file(tmp_path):
    message, info = decode_error(tmp_path / "nope.mp4")
    assert message == "file not found"
    assert info.frames_read == 0


@pytest.mark.parametrize("kind", ["video", "image"])
def test_zero_byte_file(tmp_path, kind):
    path = tmp_path / ("empty.mp4" if kind == "video" else "empty.jpg")
    path.write_bytes(b"")
    message, info = decode_error(path, kind)
    assert message == "empty file (0 bytes)"
    assert info.frames_read == 0


def test_text_file_named_mp4(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 50)
    message, info = decode_error(path)
    assert message == NOT_A_VIDEO
    assert (info.fps, info.frames_read) == (None, 0)


def test_truncated_mp4_cannot_be_opened(tmp_path, good_mp4):
    """OpenCV's mp4 writer puts the index (moov atom) at the end: 60% of it has none."""
    path = truncate(good_mp4, tmp_path / "truncated.mp4")
    assert 0 < path.stat().st_size < good_mp4.stat().st_size
    message, info = decode_error(path)
    assert message == NOT_A_VIDEO
    assert info.frames_read == 0


def test_truncated_avi_yields_the_frames_before_the_cut_and_a_note(tmp_path, face_image):
    """An AVI streams without its index: the frames before the cut decode, and a note says so."""
    frames = moving_frames(small(face_image))
    good = write_mjpg_avi(tmp_path / "good.avi", frames)
    path = truncate(good, tmp_path / "truncated.avi")
    complete = read_all(good)
    assert len(complete) == N_FRAMES

    sampled, info = decode(path)
    assert info.frames_announced == N_FRAMES  # the header still announces them all
    assert 0 < info.frames_read < N_FRAMES
    assert [f.index for f in sampled] == list(range(0, info.frames_read, 4))
    for f in sampled:
        assert np.array_equal(f.image, complete[f.index])
    assert info.notes == [
        f"decoded {info.frames_read} of the {N_FRAMES} frames the container announces "
        "(truncated or damaged file?)"
    ]
    # The complete file has no note.
    _, complete_info = decode(good)
    assert (complete_info.frames_read, complete_info.notes) == (N_FRAMES, [])


def test_corrupt_jpg(tmp_path, face_image):
    data = cv2.imencode(".jpg", small(face_image))[1].tobytes()
    path = tmp_path / "corrupt.jpg"
    # A JPEG start-of-image marker, then bytes that are not a JPEG stream.
    path.write_bytes(data[:4] + bytes(range(256)) * 8)
    message, info = decode_error(path, "image")
    assert message == NOT_AN_IMAGE
    assert info.frames_read == 0


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("not an image")
    message, _ = decode_error(path, "image")
    assert message == NOT_AN_IMAGE


def test_png_named_mp4_decodes_as_a_one_frame_video(tmp_path, face_image):
    """FFmpeg probes the content, not the name: a PNG renamed .mp4 is a one-frame clip."""
    image = small(face_image)
    path = tmp_path / "still.mp4"
    path.write_bytes(cv2.imencode(".png", image)[1].tobytes())
    frames, info = decode(path)
    assert [f.index for f in frames] == [0]
    assert np.array_equal(frames[0].image, image)
    assert info.frames_read == 1 and info.notes == []


# ------------------------------------------------------------------ good files


def test_good_video_every_n(good_mp4):
    complete = read_all(good_mp4)
    assert len(complete) == N_FRAMES
    frames, info = decode(good_mp4)
    assert [f.index for f in frames] == [0, 4, 8, 12, 16, 20, 24, 28]
    assert [f.time_s for f in frames] == [i / 25.0 for i in (0, 4, 8, 12, 16, 20, 24, 28)]
    for f in frames:
        assert np.array_equal(f.image, complete[f.index]), f.index
    # Neighbouring frames differ, so equality above pins the index.
    assert not np.array_equal(complete[0], complete[1])
    assert (info.fps, info.frames_announced, info.frames_read, info.step) == (25.0, 30, 30, 4)
    assert info.notes == []


def test_every_n_larger_than_the_clip(good_mp4):
    frames, info = decode(good_mp4, sampling=SamplingConfig(every_n=1000))
    assert [f.index for f in frames] == [0]
    assert info.frames_read == N_FRAMES and info.notes == []


def test_every_frame(good_mp4):
    frames, _ = decode(good_mp4, sampling=SamplingConfig(every_n=1))
    complete = read_all(good_mp4)
    assert len(frames) == N_FRAMES
    assert all(np.array_equal(f.image, c) for f, c in zip(frames, complete, strict=True))


def test_max_frames_limits_the_sampled_count(good_mp4):
    frames, info = decode(good_mp4, sampling=SamplingConfig(every_n=4, max_frames=3))
    assert [f.index for f in frames] == [0, 4, 8]
    assert info.notes == []  # stopping early on purpose is not truncation
    frames, _ = decode(good_mp4, sampling=SamplingConfig(every_n=4, max_frames=100))
    assert len(frames) == 8


@pytest.mark.parametrize(
    ("fps", "indices"), [(5.0, [0, 5, 10, 15, 20, 25]), (2.0, [0, 12, 24]), (50.0, list(range(30)))]
)
def test_fps_mode(good_mp4, fps, indices):
    complete = read_all(good_mp4)
    frames, info = decode(good_mp4, sampling=SamplingConfig(mode="fps", every_n=None, fps=fps))
    assert [f.index for f in frames] == indices
    assert info.step == max(1, int(25.0 // fps))
    assert [f.time_s for f in frames] == [i / 25.0 for i in indices]
    for f in frames:
        assert np.array_equal(f.image, complete[f.index])


def test_image_is_one_frame(tmp_path, face_image):
    path = tmp_path / "face.png"
    cv2.imwrite(str(path), face_image)
    frames, info = decode(path, "image")
    assert len(frames) == 1
    assert (frames[0].index, frames[0].time_s) == (0, 0.0)
    assert np.array_equal(frames[0].image, face_image)  # PNG is lossless
    assert (info.frames_read, info.frames_announced) == (1, 1)


# -------------------------------------------------------- a whole shard (slow)


@pytest.mark.slow
def test_shard_over_good_and_bad_clips(tmp_path, face_image):
    from femo.node.extract import run_shard
    from femo.shard_files import read_shard_metadata

    root = tmp_path / "clips"
    root.mkdir()
    write_video(root / "good.mp4", moving_frames(face_image, 12), fps=10.0)
    cv2.imwrite(str(root / "face.jpg"), face_image)
    (root / "zero.mp4").write_bytes(b"")
    (root / "text.mp4").write_text("this is not a video\n" * 50)
    truncate(
        write_video(tmp_path / "whole.mp4", moving_frames(face_image, 12), fps=10.0),
        root / "truncated.mp4",
    )
    truncate(
        write_mjpg_avi(tmp_path / "whole.avi", moving_frames(face_image, 12)),
        root / "truncated.avi",
    )
    (root / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8)
    clips = [*discover_clips_sorted(root), Clip("missing.mp4", "video")]
    run_dir = tmp_path / "run"
    extract = ExtractConfig(detector=HaarConfig(), sampling=SamplingConfig(every_n=4), device="cpu")
    task = shard_task(run_dir, clips, index=3, root=root, extract=extract)
    result = run_shard(task)

    path = run_dir / "shards" / "shard-00003.parquet"
    assert path.is_file()
    assert result.path == str(path) and result.clips == len(clips) == 8
    assert result.clips_failed == 5
    assert read_shard_metadata(path)["n_clips"] == "8"
    rows = pq.read_table(path).to_pandas()
    clip_rows = rows[rows.kind == "clip"].set_index("video")
    assert sorted(clip_rows.index) == sorted(c.video for c in clips)  # exactly one row per clip

    for video in ("good.mp4", "face.jpg"):
        assert clip_rows.loc[video, "status"] == "ok"
        faces = rows[(rows.video == video) & (rows.kind == "frame") & rows.face.notna()]
        expected_frames = [0, 4, 8] if video == "good.mp4" else [0]
        assert sorted(faces.frame.unique()) == expected_frames  # a face in every sampled frame
        assert faces[list(EMOTIONS)].notna().all().all()
        assert np.allclose(faces[list(EMOTIONS)].sum(axis=1), 1.0, atol=1e-4)
        assert clip_rows.loc[video, "frames_sampled"] == len(expected_frames)

    expected_errors = {
        "zero.mp4": "empty file (0 bytes)",
        "text.mp4": NOT_A_VIDEO,
        "truncated.mp4": NOT_A_VIDEO,
        "corrupt.jpg": NOT_AN_IMAGE,
        "missing.mp4": "file not found",
    }
    for video, message in expected_errors.items():
        assert clip_rows.loc[video, "status"] == "error", video
        assert clip_rows.loc[video, "message"] == message, video
        assert clip_rows.loc[video, "frames_sampled"] == 0
        assert (rows.video == video).sum() == 1  # the clip row only

    partial = clip_rows.loc["truncated.avi"]
    assert partial["status"] == "partial"
    assert "truncated or damaged file?" in partial["message"]
    assert 0 < partial["frames_read"] < 12


def discover_clips_sorted(root: Path) -> list[Clip]:
    from femo.config import DatasetConfig

    return discover_clips(DatasetConfig(root=str(root)))
