"""Parity with the reference: femo's boxes and scores equal fer.FER's on the same frames.

fer rounds scores to 2 decimals; its unrounded scores are captured by wrapping the
model call fer makes, so femo's float32 scores are compared before rounding.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from femo.config import EMOTIONS
from femo.dataset import Clip

from .builders import RawScoreFER, femo_rows, reference_frames
from .conftest import write_video

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fer_haar():
    return RawScoreFER(mtcnn=False)


@pytest.fixture(scope="module")
def fer_mtcnn():
    return RawScoreFER(mtcnn=True)


def assert_frame_parity(rows, video, frames, reference: RawScoreFER):
    frame_rows = rows[(rows.video == video) & (rows.kind == "frame")]
    assert sorted(frame_rows.frame.unique()) == sorted(frames), "femo sampled other frames than fer"
    n_faces = 0
    for index, image in frames.items():
        boxes, scores = reference.detect(image)
        mine = frame_rows[frame_rows.frame == index].sort_values("face", na_position="first")
        if not boxes:
            assert len(mine) == 1 and mine.face.isna().all(), (
                f"frame {index}: femo found a face fer did not"
            )
            continue
        assert list(zip(mine.x, mine.y, mine.w, mine.h, strict=False)) == boxes, (
            f"frame {index}: boxes differ"
        )
        np.testing.assert_allclose(
            mine[list(EMOTIONS)].to_numpy(np.float32), scores, atol=1e-5, rtol=0
        )
        n_faces += len(boxes)
    return n_faces


@pytest.mark.parametrize("threads", [None, 1], ids=["threaded", "one-thread"])
def test_haar_parity_on_video(tmp_path, fer_samples, fer_haar, threads):
    """Threaded, and with one thread (decode, detect, classify in turn, inline)."""
    clips = [Clip("woman2.mp4", "video")]
    rows = femo_rows(tmp_path, fer_samples, clips, "haar", every_n=20, threads=threads)
    frames = reference_frames(str(fer_samples / "woman2.mp4"), 20)
    assert len(frames) == 24
    assert assert_frame_parity(rows, "woman2.mp4", frames, fer_haar) >= 20


def test_haar_parity_on_images(tmp_path, fer_samples, fer_haar):
    clips = [Clip("justin.jpg", "image"), Clip("no-faces.jpg", "image")]
    rows = femo_rows(tmp_path, fer_samples, clips, "haar", every_n=20)
    justin = cv2.imread(str(fer_samples / "justin.jpg"))
    assert assert_frame_parity(rows, "justin.jpg", {0: justin}, fer_haar) == 1
    empty = rows[(rows.video == "no-faces.jpg") & (rows.kind == "frame")]
    assert len(empty) == 1 and empty.face.isna().all()


def test_mtcnn_parity(tmp_path, fer_samples, fer_mtcnn):
    clips = [Clip("justin.jpg", "image"), Clip("woman2.mp4", "video")]
    rows = femo_rows(tmp_path, fer_samples, clips, "mtcnn", every_n=60)
    justin = cv2.imread(str(fer_samples / "justin.jpg"))
    assert assert_frame_parity(rows, "justin.jpg", {0: justin}, fer_mtcnn) == 1
    frames = reference_frames(str(fer_samples / "woman2.mp4"), 60)
    assert assert_frame_parity(rows, "woman2.mp4", frames, fer_mtcnn) >= 6
    faces = rows[(rows.kind == "frame") & rows.face.notna()]
    assert faces.detector_confidence.between(0.5, 1.0).all()


def test_batched_mtcnn_equals_fer_on_frames_with_and_without_faces(
    tmp_path, fer_samples, fer_mtcnn
):
    """MTCNN batches frames; frames without a face inside a batch must not disturb the rest."""
    faces = list(reference_frames(str(fer_samples / "woman2.mp4"), 25).values())[:8]
    blank = np.full_like(faces[0], 127)
    frames = [f for face in faces for f in (face, blank)]
    clips = tmp_path / "clips"
    clips.mkdir()
    write_video(clips / "mixed.mp4", frames)
    rows = femo_rows(tmp_path, clips, [Clip("mixed.mp4", "video")], "mtcnn", every_n=1)
    decoded = reference_frames(str(clips / "mixed.mp4"), 1)
    assert len(decoded) == 16
    assert assert_frame_parity(rows, "mixed.mp4", decoded, fer_mtcnn) >= 7
    no_face = rows[(rows.kind == "frame") & rows.face.isna()]
    assert set(no_face.frame) >= {1, 3, 5, 7, 9, 11, 13, 15}


def test_mtcnn_calls_in_parallel_equal_fer(tmp_path, fer_samples, fer_mtcnn):
    """Two MTCNN calls at once (one MTCNN per thread) give fer's boxes and scores."""
    rows = femo_rows(
        tmp_path, fer_samples, [Clip("woman2.mp4", "video")], "mtcnn", every_n=10, threads=2
    )
    frames = reference_frames(str(fer_samples / "woman2.mp4"), 10)
    assert len(frames) == 47  # 6 calls of up to 8 frames, two at a time
    assert assert_frame_parity(rows, "woman2.mp4", frames, fer_mtcnn) >= 40
