"""The face detectors femo runs: fer's Haar cascade and MTCNN, MediaPipe's BlazeFace, and
``detector=none`` (the whole frame is the face). Each is a :class:`Detector` built from its
registry entry (:mod:`femo.config.detectors`).

Haar and MTCNN reproduce exactly what ``fer.FER`` 22.4.0 does with the same inputs (same
cascade parameters), but are built to be loaded once per process and called on batches.
``detector=none`` detects nothing: each frame is one face, as fer treats
``detect_emotions(img, face_rectangles=[(0, 0, w, h)])``. ``detector=blazeface`` (not fer's)
is MediaPipe's BlazeFace (:mod:`femo.node.blazeface`); its boxes are cropped and classified
exactly as Haar's are.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..config import DETECTORS, ConfigError, DetectorConfig, blazeface_models
from . import blazeface
from .runtime import fer_data_file


@dataclass(frozen=True)
class Face:
    x: int
    y: int
    w: int
    h: int
    confidence: float | None = None
    # BlazeFace's eye keypoints ((x, y) of the subject's right eye, then left eye, in
    # frame pixels), which turn the face check's crop upright; None for other detectors.
    eyes: tuple[tuple[float, float], tuple[float, float]] | None = field(
        default=None, compare=False
    )
    # How many of BlazeFace's calls (the letterbox, each pyramid level, the back-camera
    # model) found this face: seen at two scales, it has been found again.
    views: int = field(default=1, compare=False)


class Detector:
    """A face detector called on a list of frames of one clip (same size).

    ``frames_per_call`` frames go to each :meth:`detect` call; the extraction pipeline
    runs ``parallel_calls`` calls at once on threads. With ``downscale`` > 1 (fast
    mode) detection runs on the shrunk frame and boxes are mapped back to full size.
    """

    name = ""
    frames_per_call = 1
    parallel_calls = 1
    # Which image the detector looks at, so that fast mode shrinks only that one.
    looks_at = "gray"

    def __init__(self, config: DetectorConfig):
        self.config = config
        self.scale = float(config.downscale)

    @classmethod
    def build(cls, config: DetectorConfig, tf_device: str, threads: int) -> Detector:
        """The detector for ``config``, making ``threads`` calls at once (:func:`make_detector`)."""
        return cls(config, parallel_calls=threads)

    def detect(self, frames_bgr: list[np.ndarray], grays: list[np.ndarray]) -> list[list[Face]]:
        """Faces per frame, in the detector's own order, in full-frame pixels.

        ``grays`` are the grey frames where the detector looks at grey; one that looks at
        the colour frame (``looks_at`` "bgr") may be given None for each.
        """
        if self.scale == 1.0:
            return self._detect(frames_bgr, grays)
        # Shrink only the image the detector reads; the other is never looked at.
        if self.looks_at == "gray":
            small, small_grays = frames_bgr, [self._shrink(g) for g in grays]
        else:
            small, small_grays = [self._shrink(f) for f in frames_bgr], grays
        return [[self._grow(face) for face in faces] for faces in self._detect(small, small_grays)]

    def _detect(self, frames_bgr: list[np.ndarray], grays: list[np.ndarray]) -> list[list[Face]]:
        raise NotImplementedError

    def warm_up(self) -> None:
        """Pay one-off costs (loading, kernel set-up) for calls from the calling thread."""
        self.warm_up_thread()

    def warm_up_thread(self) -> None:
        """Load whatever a detector thread keeps for itself; runs on each thread once."""

    def _shrink(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        size = (max(1, round(width / self.scale)), max(1, round(height / self.scale)))
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA)

    def _grow(self, face: Face) -> Face:
        s = self.scale
        eyes = None
        if face.eyes is not None:
            eyes = tuple((x * s, y * s) for x, y in face.eyes)
        return Face(
            round(face.x * s),
            round(face.y * s),
            round(face.w * s),
            round(face.h * s),
            face.confidence,
            eyes,
        )

    def scaled_min(self, pixels: int) -> int:
        """A minimum face size in full-frame pixels, as seen by the detector."""
        return max(1, round(pixels / self.scale))


class HaarDetector(Detector):
    """OpenCV's frontal-face Haar cascade as fer ships and calls it.

    A ``CascadeClassifier`` is not safe to call from two threads at once (measured:
    wrong boxes on 380 of 464 frames), so each thread loads its own.
    """

    name = "haar"

    def __init__(self, config: DetectorConfig, parallel_calls: int = 1):
        super().__init__(config)
        self.path = str(fer_data_file("haarcascade_frontalface_default.xml"))
        self.parallel_calls = max(1, parallel_calls)
        self._local = threading.local()
        self._cascade()  # fail now, not in a worker thread, if it cannot load

    def warm_up_thread(self) -> None:
        self._cascade()

    def _cascade(self) -> cv2.CascadeClassifier:
        cascade = getattr(self._local, "cascade", None)
        if cascade is None:
            cascade = cv2.CascadeClassifier(self.path)
            if cascade.empty():
                raise RuntimeError(f"could not load the Haar cascade {self.path}")
            self._local.cascade = cascade
        return cascade

    def _detect(self, frames_bgr: list[np.ndarray], grays: list[np.ndarray]) -> list[list[Face]]:
        c = self.config
        cascade = self._cascade()
        min_size = self.scaled_min(c.min_size)
        out = []
        for gray in grays:
            boxes = cascade.detectMultiScale(
                gray,
                scaleFactor=c.scale_factor,
                minNeighbors=c.min_neighbors,
                flags=cv2.CASCADE_SCALE_IMAGE,
                minSize=(min_size, min_size),
            )
            out.append([Face(int(x), int(y), int(w), int(h)) for x, y, w, h in boxes])
        return out


class MtcnnDetector(Detector):
    """MTCNN from the ``mtcnn`` package, called as fer calls it, batched across frames.

    fer hands MTCNN the BGR frame (MTCNN expects RGB); femo does the same so that
    its boxes equal fer's. A batched call returns exactly the boxes and confidences
    of one call per frame (checked in the parity tests). MTCNN spends much of its
    time dispatching small TensorFlow ops from Python, so two calls run at once, each
    thread with its own ``MTCNN``. ``femo bench`` on woman2, every frame, 2 cores:
    33 frames/s one call of 8 at a time, 40 with two (identical boxes); two calls of 16
    give 44 but peak at 1.7 GB instead of 1.3 and are slower at every 20th frame,
    where a short clip fills only one or two calls.
    """

    name = "mtcnn"
    looks_at = "bgr"

    def __init__(self, config: DetectorConfig, device: str = "CPU:0", parallel_calls: int = 1):
        super().__init__(config)
        self.device = device
        gpu = device.upper().startswith("GPU")
        self.frames_per_call = config.frames_per_call or (32 if gpu else 8)
        self.parallel_calls = max(1, parallel_calls)
        self._local = threading.local()
        self._mtcnn()  # fail now, not in a worker thread, if the weights cannot load

    @classmethod
    def build(cls, config: DetectorConfig, tf_device: str, threads: int) -> MtcnnDetector:
        """MTCNN on ``tf_device``, at most two calls at once."""
        # Two calls in flight keep both the Python side and TensorFlow's pool busy; more
        # than that adds memory (a batch of frames each) for little (not measured > 2 CPUs).
        return cls(config, device=tf_device, parallel_calls=min(2, threads))

    def _mtcnn(self):
        mtcnn = getattr(self._local, "mtcnn", None)
        if mtcnn is None:
            from mtcnn import MTCNN

            mtcnn = self._local.mtcnn = MTCNN(device=self.device)
        return mtcnn

    def warm_up_thread(self) -> None:
        noise = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
        frames = [noise] * self.frames_per_call
        self._detect(frames, [cv2.cvtColor(noise, cv2.COLOR_BGR2GRAY)] * len(frames))

    def _detect(self, frames_bgr: list[np.ndarray], grays: list[np.ndarray]) -> list[list[Face]]:
        results = self._mtcnn().detect_faces(
            frames_bgr if len(frames_bgr) > 1 else frames_bgr[0],
            min_face_size=self.scaled_min(self.config.min_face_size),
            scale_factor=self.config.scale_factor,
        )
        if len(frames_bgr) == 1:
            results = [results]
        return [
            [
                Face(*(int(v) for v in r["box"]), confidence=float(r["confidence"]))
                for r in frame_results
            ]
            for frame_results in results
        ]


class WholeFrameDetector(Detector):
    """No detection: the whole frame is the one face (``detector=none``).

    For datasets that are already face crops (CK+48, FER2013, AffectNet crops), where
    fer's Haar cascade (``min_size`` 50) finds nothing. It gives what fer does with
    ``detect_emotions(img, face_rectangles=[(0, 0, w, h)])``: the box is the frame, and
    :func:`femo.node.crops.face_crop` squares it, adds the offsets and crops the padded grey frame as fer
    does. ``downscale`` does not apply (there is nothing to detect on a shrunk frame).
    A call costs next to nothing; the detector threads' time goes to the grey conversion
    and the crop, which OpenCV does without the GIL, so as for Haar one call runs per thread.
    """

    name = "none"

    def __init__(self, config: DetectorConfig, parallel_calls: int = 1):
        super().__init__(config)
        self.parallel_calls = max(1, parallel_calls)

    def detect(self, frames_bgr: list[np.ndarray], grays: list[np.ndarray]) -> list[list[Face]]:
        return self._detect(frames_bgr, grays)

    def _detect(self, frames_bgr: list[np.ndarray], grays: list[np.ndarray]) -> list[list[Face]]:
        return [[Face(0, 0, int(g.shape[1]), int(g.shape[0]))] for g in grays]


class BlazeFaceDetector(Detector):
    """MediaPipe's BlazeFace models on ``ai-edge-litert`` (see :mod:`femo.node.blazeface`).

    Each model named in ``detector.model`` looks at the whole frame letterboxed to its
    input; with ``detector.min_face`` the short-range model also looks at the frame at
    the scales of a :class:`~femo.node.blazeface.Pyramid` (its heads are convolutional:
    one call sees the whole scaled frame, no tiles, no seams), so faces from
    ``min_face`` pixels across are found in any frame. Boxes are merged by weighted NMS,
    a box lying mostly inside a better one (one face seen at two scales) is dropped, and
    faces come best score first, with the score as the face's confidence. In a cascade
    (``short/back``) a model runs only where the ones before it found no face it is
    sure of. An interpreter is not safe to share between threads, so each thread loads
    its own; ``invoke`` releases the GIL, so calls run in parallel.
    """

    name = "blazeface"
    looks_at = "bgr"
    # A box with this share of its area inside a better-scored box is that face again.
    CONTAINED = 0.7
    # A call's box overlapping a merged face by this IoU saw that face (Face.views).
    SEEN_IOU = 0.3
    # A cascade's next model looks where every face found so far scored under this
    # (the face check's old default verify_below: profile faces scored from 0.70).
    UNSURE_BELOW = 0.65

    def __init__(self, config: DetectorConfig, parallel_calls: int = 1, delegates: bool = True):
        super().__init__(config)
        # Without LiteRT's default (XNNPACK) delegate: its plain kernels, which say
        # nothing on stderr, for a few photos where a command's output is one line.
        self.delegates = delegates
        joiner, models = blazeface_models(config.model)
        # '/': a cascade, each model only on frames where the ones before found nothing.
        self.cascade = joiner == "/"
        self.names = models
        self.specs = [blazeface.MODELS[m] for m in models]
        self.paths = [str(blazeface.model_path(spec)) for spec in self.specs]
        # min_face is in full-frame pixels; with downscale the detector sees a shrunk frame.
        self.pyramid = None
        if config.min_face:
            self.pyramid = blazeface.Pyramid(config.min_face / self.scale)
        self.parallel_calls = max(1, parallel_calls)
        # The score that ends a cascade: any face, unless a face check runs; then a face
        # the model is sure of (at least verify_below where only faces under it are
        # checked, else UNSURE_BELOW): past a model unsure of every face it found, the
        # next one looks too, e.g. for a group photo's small faces.
        self.sure = 0.0
        if config.checks:
            below = config.verify_below
            self.sure = self.UNSURE_BELOW if below is None else below
        self._local = threading.local()
        self._runner(0, *[self.specs[0].size] * 2)  # fail now, not in a worker thread

    def warm_up_thread(self) -> None:
        for k, spec in enumerate(self.specs):
            self._runner(k, spec.size, spec.size)

    def _runner(self, model: int, height: int, width: int) -> tuple:
        """Model ``model``'s interpreter for an input of ``height`` x ``width`` on this
        thread (made once per shape: a video's frames share one), with its anchors."""
        cache = getattr(self._local, "runners", None)
        if cache is None:
            cache = self._local.runners = {}
        key = (model, height, width)
        if key not in cache:
            from ai_edge_litert.interpreter import Interpreter, OpResolverType

            plain = {}
            if not self.delegates:
                resolver = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
                plain = {"experimental_op_resolver_type": resolver}
            spec = self.specs[model]
            interpreter = Interpreter(model_path=self.paths[model], num_threads=1, **plain)
            image = interpreter.get_input_details()[0]["index"]
            if (height, width) != (spec.size, spec.size):
                interpreter.resize_tensor_input(image, [1, height, width, 3])
            interpreter.allocate_tensors()
            # The box tensor has 16 numbers per anchor, the score tensor one.
            boxes, scores = sorted(
                interpreter.get_output_details(), key=lambda d: -int(d["shape"][-1])
            )
            if (height, width) == (spec.size, spec.size):  # MediaPipe's own: [0, 1] of the input
                anchors, unit = blazeface.ssd_anchors(*spec_layout(spec)), spec.size
            else:  # a pyramid level: input pixels
                anchors, unit = blazeface.grid_anchors(height, width, spec), 1
            cache[key] = (interpreter, image, boxes["index"], scores["index"], anchors, unit)
        return cache[key]

    def _detect(self, frames_bgr: list[np.ndarray], grays: list[np.ndarray]) -> list[list[Face]]:
        return [self._detect_one(frame) for frame in frames_bgr]

    def _detect_one(self, frame_bgr: np.ndarray) -> list[Face]:
        rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
        height, width = rgb.shape[:2]
        found_boxes, found_scores = [], []
        for k, spec in enumerate(self.specs):
            calls = [self._letterboxed(rgb, k)]
            if self.pyramid is not None and self.names[k] == "short":
                scales = self.pyramid.scales(width, height, spec.size)
                calls += [self._scaled(rgb, k, scale) for scale in scales]
            for boxes, scores in calls:
                found_boxes.append(boxes)
                found_scores.append(scores)
            # Decoded boxes can still fall outside the frame: a cascade goes on unless
            # one it is sure of keeps a pixel in it.
            if self.cascade:
                boxes, scores = np.concatenate(found_boxes), np.concatenate(found_scores)
                if blazeface.pixel_boxes(boxes[scores >= self.sure], width, height):
                    break
        merged, merged_scores = blazeface.weighted_nms(
            np.concatenate(found_boxes), np.concatenate(found_scores), self.config.nms_iou
        )
        if self.pyramid is not None:
            merged, merged_scores = blazeface.drop_contained(merged, merged_scores, self.CONTAINED)
        seen = blazeface.views(merged, found_boxes, self.SEEN_IOU)
        faces = []
        for box, score, views in zip(merged, merged_scores, seen, strict=True):
            pixels = blazeface.pixel_boxes(box[None], width, height)
            if pixels:
                eyes = ((float(box[4]), float(box[5])), (float(box[6]), float(box[7])))
                face = Face(*pixels[0], confidence=float(score), eyes=eyes, views=int(views))
                faces.append(face)
        return faces

    def _call(self, tensor: np.ndarray, model: int) -> tuple[np.ndarray, np.ndarray]:
        """Model ``model`` on one input tensor: boxes (k, 8: corners and the eyes) and
        their scores; in [0, 1] of a square input of the model's own size, else in the
        input's pixels."""
        height, width = tensor.shape[:2]
        interpreter, image, boxes, scores, anchors, unit = self._runner(model, height, width)
        interpreter.set_tensor(image, tensor[None])
        interpreter.invoke()
        return blazeface.decode(
            interpreter.get_tensor(boxes)[0],
            interpreter.get_tensor(scores)[0],
            anchors,
            unit,
            self.config.min_score or self.specs[model].min_score,
            keypoints=2,  # the eyes, which turn the face check's crop upright
        )

    def model_boxes(self, rgb: np.ndarray, model: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (k, 8: corners, then the eyes; RGB frame pixels) and scores of the
        ``model``-th model on the RGB frame letterboxed into its input (MediaPipe's
        call), before NMS."""
        return self._letterboxed(rgb, model)

    def _letterboxed(self, rgb: np.ndarray, model: int) -> tuple[np.ndarray, np.ndarray]:
        """A model on the frame letterboxed into its own input (MediaPipe's call)."""
        size = self.specs[model].size
        tensor, placed = blazeface.letterbox(rgb, size)
        found, scores = self._call(tensor, model)
        return blazeface.to_frame(found, size, placed), scores

    def _scaled(self, rgb: np.ndarray, model: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """A model on the whole frame scaled by ``scale`` (a pyramid level)."""
        tensor, sx, sy = blazeface.scaled(rgb, scale)
        found, scores = self._call(tensor, model)
        return found * np.tile([sx, sy], found.shape[1] // 2), scores


def spec_layout(spec: blazeface.ModelSpec) -> tuple[int, tuple[int, ...], float]:
    """A model's SSD layout as :func:`~femo.node.blazeface.ssd_anchors` takes it."""
    return spec.size, spec.strides, spec.interpolated_scale


def make_detector(config: DetectorConfig, tf_device: str = "CPU:0", threads: int = 1) -> Detector:
    """The detector ``config`` names (its registry entry's builder), on ``threads`` calls at once."""
    entry = DETECTORS.entry(config.name)
    if entry is None:
        raise ConfigError(f"unknown detector {config.name!r}: femo has {DETECTORS.listed('and')}")
    return entry.build(config, tf_device, threads)
