"""BlazeFace's model modes ('+' merged, '/' cascade) on fake model outputs (no model files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from femo.config import BlazeFaceConfig
from femo.node import blazeface
from femo.node.detectors import BlazeFaceDetector, Face, spec_layout

pytestmark = pytest.mark.usefixtures("no_tensorflow")

# Anchor 238 of both short (128 px input) and back (256 px) sits at cell (7, 7) of a
# 16 x 16 grid: its centre is x = y = 7.5 / 16 of the input.
ANCHOR = 238
CONFIDENCE = 1 / (1 + np.exp(-10.0))


class FakeInterpreter:
    """A model that finds one face of ``size`` input pixels at ``anchor``, or none."""

    def __init__(self, size: int | None, anchor: int = ANCHOR, logit: float = 10.0):
        self.invoked = 0
        self.boxes = np.zeros((1, 896, 16), np.float32)
        self.scores = np.full((1, 896, 1), -100.0, np.float32)
        if size is not None:
            self.boxes[0, anchor, 2:4] = size
            self.scores[0, anchor, 0] = logit

    def set_tensor(self, index: int, tensor: np.ndarray) -> None:
        pass

    def invoke(self) -> None:
        self.invoked += 1

    def get_tensor(self, index: int) -> np.ndarray:
        return self.boxes if index == 1 else self.scores


def detector(
    monkeypatch,
    model: str,
    short: int | None,
    back: int | None,
    anchor: int = ANCHOR,
    short_logit: float = 10.0,
    verify: str = "none",
):
    """A BlazeFace detector on ``model`` whose short and back models are fakes."""
    monkeypatch.setattr(blazeface, "model_path", lambda spec: Path(spec.file))
    fakes = {"short": FakeInterpreter(short, anchor, short_logit), "back": FakeInterpreter(back)}

    def runner(self, model: int, height: int, width: int) -> tuple:
        spec = self.specs[model]
        fake = fakes["short" if spec.size == 128 else "back"]
        return (fake, 0, 1, 2, blazeface.ssd_anchors(*spec_layout(spec)), spec.size)

    monkeypatch.setattr(BlazeFaceDetector, "_runner", runner)
    # The letterbox alone (no pyramid: its levels are other input shapes than the fakes').
    config = BlazeFaceConfig(model=model, verify=verify, verify_below=0.65, min_face=None)
    return BlazeFaceDetector(config), fakes


FRAME = np.zeros((128, 128, 3), np.uint8)
# short: centre 60 px, 40 px wide, in a 128 px frame read at 128 px.
SHORT_FACE = Face(40, 40, 40, 40, confidence=pytest.approx(CONFIDENCE))
# back: centre 120 of 256 input px, 40 wide, in a 128 px frame read at 256: halved.
BACK_FACE = Face(50, 50, 20, 20, confidence=pytest.approx(CONFIDENCE))


def test_cascade_skips_the_back_model_where_short_range_finds_a_face(monkeypatch):
    found, fakes = detector(monkeypatch, "short/back", short=40, back=40)
    assert found.detect([FRAME], [FRAME[..., 0]]) == [[SHORT_FACE]]
    assert (fakes["short"].invoked, fakes["back"].invoked) == (1, 0)


def test_cascade_runs_the_back_model_where_short_range_finds_none(monkeypatch):
    found, fakes = detector(monkeypatch, "short/back", short=None, back=40)
    assert found.detect([FRAME, FRAME], [FRAME[..., 0]] * 2) == [[BACK_FACE], [BACK_FACE]]
    assert (fakes["short"].invoked, fakes["back"].invoked) == (2, 2)


def test_cascade_finds_nothing_where_no_model_does(monkeypatch):
    found, fakes = detector(monkeypatch, "short/back", short=None, back=None)
    assert found.detect([FRAME], [FRAME[..., 0]]) == [[]]
    assert (fakes["short"].invoked, fakes["back"].invoked) == (1, 1)


def test_merged_models_all_run_and_their_boxes_are_merged(monkeypatch):
    # IoU of the two boxes: 20 x 20 inside 40 x 40 = 0.25, under nms_iou 0.3: both kept.
    found, fakes = detector(monkeypatch, "short+back", short=40, back=40)
    assert found.detect([FRAME], [FRAME[..., 0]]) == [[SHORT_FACE, BACK_FACE]]
    assert (fakes["short"].invoked, fakes["back"].invoked) == (1, 1)


def test_cascade_goes_on_where_short_ranges_box_lies_outside_the_frame(monkeypatch):
    # A 128 x 72 frame sits in the middle of the 128 px input (28 px bars above and
    # below); anchor 46 (cell (7, 1)) is centred at y = 1.5 / 16 * 128 = 12 input px:
    # its 8 px box, y 8 to 16, lies wholly in the top bar (frame y -20 to -12).
    found, fakes = detector(monkeypatch, "short/back", short=8, back=None, anchor=46)
    wide = np.zeros((72, 128, 3), np.uint8)
    assert found.detect([wide], [wide[..., 0]]) == [[]]
    assert (fakes["short"].invoked, fakes["back"].invoked) == (1, 1)


@pytest.mark.parametrize(("verify", "back_runs"), [("none", 0), ("mesh", 1)])
def test_with_the_face_check_a_cascade_goes_on_past_faces_it_is_unsure_of(
    monkeypatch, verify, back_runs
):
    # short finds a face scoring 0.6 (logit 0.405), under verify_below 0.65: with the
    # check on, the back model looks too, and both faces are kept (IoU 0.25 < 0.3).
    found, fakes = detector(monkeypatch, "short/back", 40, 40, short_logit=0.405, verify=verify)
    faces = found.detect([FRAME], [FRAME[..., 0]])[0]
    assert (fakes["short"].invoked, fakes["back"].invoked) == (1, back_runs)
    assert [f.w for f in faces] == ([20, 40] if back_runs else [40])
    assert faces[-1].confidence == pytest.approx(0.6, abs=1e-3)


def test_with_the_face_check_a_cascade_stops_at_a_face_it_is_sure_of(monkeypatch):
    # logit 0.62: a score of 0.6502, at least verify_below 0.65.
    found, fakes = detector(monkeypatch, "short/back", 40, 40, short_logit=0.62, verify="mesh")
    sure = Face(40, 40, 40, 40, confidence=pytest.approx(1 / (1 + np.exp(-0.62))))
    assert found.detect([FRAME], [FRAME[..., 0]]) == [[sure]]
    assert (fakes["short"].invoked, fakes["back"].invoked) == (1, 0)
