"""The frame-size rows of ``femo bench``: faces found against annotated boxes."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from femo.bench.cases import MediaSet
from femo.bench.frame_sizes import SizedClip, found_faces, size_row


def test_a_face_counts_as_found_at_iou_03_once_whatever_overlaps_it():
    truth = np.array([[0, 0, 100, 100], [500, 500, 40, 40]], float)
    half = np.array([[50, 0, 100, 100]], float)  # IoU 1/3
    assert found_faces(truth, half) == 1
    assert found_faces(truth, np.array([[60, 0, 100, 100]], float)) == 0  # IoU 0.25
    twice = np.array([[0, 0, 100, 100], [5, 5, 100, 100]], float)
    assert found_faces(truth, twice) == 1
    assert found_faces(truth, np.zeros((0, 4))) == 0


def test_a_row_counts_the_faces_of_each_sampled_frame_against_its_boxes(tmp_path):
    truth = (np.array([[10, 10, 40, 40], [200, 10, 40, 40]], float),) * 2
    clip = SizedClip("720p", MediaSet("720p", str(tmp_path), ("a.mp4",)), 1280, truth)
    table = pa.table({
        "kind": ["frame", "frame", "frame", "rejected", "clip"],
        "frame": [0, 0, 1, 1, None],
        "face": [0, 1, None, None, None],
        "x": [10, 600, None, 200, None], "y": [10, 10, None, 10, None],
        "w": [40, 32, None, 40, None], "h": [40, 32, None, 40, None],
    })  # fmt: skip
    pq.write_table(table, tmp_path / "shard.parquet")
    row = size_row(clip, str(tmp_path / "shard.parquet"))
    # Frame 0: one of its two faces (the other box is elsewhere); frame 1: none kept
    # (a rejected box is no face found).
    assert row == {
        "faces": 2, "smallest_face_px": 32, "smallest_face_share": 0.025,
        "annotated": 4, "annotated_found": 1,
    }  # fmt: skip
