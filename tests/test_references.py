"""Which face of a reference photo is its person's (femo.node.references), on embeddings
placed by hand: distances are exact, so every choice is known in advance."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from femo.node.references import Candidates, choose_face, crop_png, select_faces


def at(*coords: float) -> np.ndarray:
    """A 128-number embedding with the given first coordinates, zeros after."""
    v = np.zeros(128, np.float32)
    v[: len(coords)] = coords
    return v


def photo(person: str, name: str, *embeddings: np.ndarray) -> Candidates:
    rgb = np.zeros((10, 10, 3), np.uint8)
    boxes = [(0, 0, 5, 5)] * len(embeddings)
    return Candidates(person, Path(name), rgb, boxes, list(embeddings))


def test_one_face_is_the_photos_face_whatever_it_matches():
    assert choose_face([at(9.0)], [at(0.0)]) == 0


def test_of_several_faces_the_only_one_near_the_persons_other_photos():
    # distances to the one other photo at the origin: 1.0, 0.3, 2.0: only face 1 is < 0.6
    assert choose_face([at(1.0), at(0.3), at(0, 2.0)], [at(0.0)]) == 1


def test_the_median_over_the_other_photos_decides():
    others = [at(0.0), at(0.1), at(5.0)]
    # face 0: distances 0.5, 0.4, 4.5 -> median 0.5 (< 0.6); face 1: 1.5, 1.4, 3.5 -> 1.5
    assert choose_face([at(0.5), at(1.5)], others) == 0


def test_no_clear_face_is_none():
    assert choose_face([at(0.1), at(0.2)], [at(0.0)]) is None  # two faces match
    assert choose_face([at(1.0), at(2.0)], [at(0.0)]) is None  # none does
    assert choose_face([at(0.1), at(2.0)], []) is None  # nothing to compare with
    assert choose_face([], [at(0.0)]) is None  # no face


def test_select_faces_keeps_the_clear_faces_and_warns_once_per_photo_skipped():
    photos = [
        photo("ann", "ann/0.jpg", at(0.0)),
        photo("ann", "ann/1.jpg", at(3.0), at(0.2)),  # face 1 is ann's
        photo("ann", "ann/2.jpg"),  # no face
        photo("ann", "ann/3.jpg", at(0.1), at(0.2)),  # both could be ann
        photo("bob", "bob/0.jpg", at(7.0), at(8.0)),  # no one-face photo of bob
    ]
    kept, warnings = select_faces(photos)
    assert [(p.path.as_posix(), face) for p, face in kept] == [("ann/0.jpg", 0), ("ann/1.jpg", 1)]
    assert warnings == [
        "dataset.references: ann/2.jpg shows no face; skipped",
        "dataset.references: ann/3.jpg shows 2 faces and not exactly one matches ann's other "
        "photos; skipped",
        "dataset.references: bob/0.jpg shows 2 faces and no other photo of bob shows one face "
        "alone to tell which is theirs; skipped",
    ]


def test_the_crop_is_the_squared_box_resized():
    import cv2

    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[10:30, 20:40] = (255, 0, 0)  # a red 20x20 square: the face box
    png = crop_png(rgb, (20, 10, 20, 20), size=8)
    crop = cv2.cvtColor(
        cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB
    )
    assert crop.shape == (8, 8, 3)
    assert (crop == (255, 0, 0)).all()
