"""The threaded extraction engine: clips in, one row per sampled frame and face out.

An :class:`Extractor` decodes clips (:mod:`femo.node.video`), detects faces and
classifies them (:mod:`femo.node.detectors`, :mod:`femo.node.classifier`) in bounded, ordered pipelines
(:mod:`femo.node.stream`); :mod:`femo.node.extract` drives it over one shard. The rows
are described in :mod:`femo.shard_files`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ..config import IDENTITIES, LANDMARKS, ExtractConfig
from ..dataset import Clip
from .classifier import make_classifier, needs_tensorflow
from .detectors import Face, make_detector
from .runtime import configure_runtime, cpu_count, tf_device_name
from .stream import InlineExecutor, chain_ahead, ordered_map
from .units import ClipEnd, Columns, StageClock, Tagged, Unit, by_file, clip_status, detector_calls
from .verify import Verdict, make_check
from .video import ClipError, ClipInfo, Frame, VideoReader, sampled_frames

log = logging.getLogger(__name__)


@dataclass
class _Detected:
    clip: Clip
    frames: list[Frame]
    faces: list[list[Face]]
    crops: list[list[np.ndarray | None]]
    error: str | None = None
    end: ClipEnd | None = None
    # Per frame, each face's embedding (identity=dlib only).
    embeddings: list[list[np.ndarray]] | None = None
    # Per frame, the face check's verdict on each kept face, and the faces it rejected
    # (detector.verify=mesh only).
    verdicts: list[list[Verdict]] | None = None
    rejected: list[list[tuple[Face, Verdict]]] | None = None
    # Per frame, each face's normalised mesh or None (landmarks=mesh only).
    meshes: list[list[np.ndarray | None]] | None = None


class Extractor:
    """Detector + classifier for one process; a shard's clips in, rows out.

    Extraction is a pipeline, so that both cores (or all the node grants) stay busy
    and memory stays bounded whatever the clip length:

    * a decode thread reads the sampled frames of every clip in turn (non-sampled
      frames are only grabbed) into a bounded queue;
    * a pool of detector threads analyses them (OpenCV and TensorFlow release the
      GIL), at most ``window`` calls in flight, results taken back in order;
    * faces are cropped as fer crops them and classified in batches across frames
      and clips on one classifier thread, while detection goes on.

    A process granted one CPU (``threads`` 1: a node's cores as one single-threaded
    pipeline each) runs the same stages in turn on the calling thread: threads there
    only take the core from each other and wait on the GIL (``femo bench``'s node table).
    """

    def __init__(self, config: ExtractConfig):
        self.config = config
        self.threads = config.threads or cpu_count()
        tensorflow = needs_tensorflow(config)
        self.device = configure_runtime(self.threads, config.device, tensorflow)
        if tensorflow:
            log.info("TensorFlow device: %s", self.device)
        tf_device = tf_device_name() if tensorflow else "CPU:0"
        self.detector = make_detector(config.detector, tf_device, self.threads)
        self.check = make_check(config.detector)
        # CPUs detection keeps busy: its threads, or all of them for TensorFlow's pool.
        busy = self.threads if tensorflow else self.detector.parallel_calls
        self.classifier = make_classifier(config, tf_device, self.threads, busy)
        self.device += self.classifier.device_note
        self.batch_size = self.classifier.batch_size
        self.classifier.predict(np.zeros((1, *self.classifier.face_shape), np.float32))
        # None where the option builds nothing (identity=none, landmarks=none).
        self.embedder = IDENTITIES.require(config.identity.name).build()
        self.landmarks = LANDMARKS.require(config.landmarks.name).build()
        if self.detector.parallel_calls > 1:
            # Parallelism comes from concurrent calls; one OpenCV thread each avoids
            # oversubscribing the cores (and makes Haar's box order deterministic).
            cv2.setNumThreads(1)
        # The mesh's own stage: its time is not the detector's.
        self.clock = StageClock(("mesh",) if self.landmarks is not None else ())
        # Detector calls in flight: enough to keep every detector thread fed while the
        # oldest result is taken back; multi-frame calls (MTCNN) need fewer spares.
        parallel, per_call = self.detector.parallel_calls, self.detector.frames_per_call
        self.window = 2 * parallel + 2 if per_call == 1 else parallel + 1
        # Decoded frames waiting for a detector call: two calls' worth, per clip being
        # decoded. A clip decodes on one thread, so the next clip starts decoding
        # beside it: where detection is cheap (fast mode, a GPU, every 20th frame)
        # decoding is what the shard waits for.
        self.queued_frames = max(self.window, 2 * per_call)
        self.inline = self.threads == 1
        # 0: decoded on the calling thread (inline); a decoder's own threads: the grant
        # per clip decoded, never the machine's CPU count (OpenCV's default).
        self.decoders = 0 if self.inline else 2 if self.threads >= 2 else 1
        self.decode_threads = max(1, self.threads // max(1, self.decoders))
        # Pools live as long as the process (one extractor per process), so that
        # per-thread detector state (Haar cascades) is loaded once, not per shard.
        self.detect_pool: Executor = (
            InlineExecutor()
            if self.inline
            else ThreadPoolExecutor(self.detector.parallel_calls, "femo-detect")
        )
        self.classify_pool: Executor = (
            InlineExecutor() if self.inline else ThreadPoolExecutor(1, "femo-classify")
        )
        self._warm_up_threads()

    def _warm_up_threads(self) -> None:
        """Run the detector's warm-up once on every detector thread."""
        n = self.detector.parallel_calls
        barrier = threading.Barrier(n)

        def warm() -> None:
            self.detector.warm_up_thread()
            if self.check is not None:
                self.check.warm_up_thread()
            if self.landmarks is not None:
                self.landmarks.warm_up_thread()
            barrier.wait(timeout=60)  # holds each thread until all n have warmed up

        for future in [self.detect_pool.submit(warm) for _ in range(n)]:
            future.result()

    def run(
        self,
        root: str,
        clips: Iterable[Clip],
        columns: Columns,
        on_clip: Callable[[str, str], None] | None = None,
        on_start: Callable[[str], None] | None = None,
    ) -> dict[str, str]:
        """Append the rows of ``clips`` to ``columns``; returns each clip's status.

        ``on_start(video)`` is called as a clip starts decoding, ``on_clip(video, status)``
        as it ends (progress bars, the shard's journal).
        """
        statuses: dict[str, str] = {}
        frames_per_call = self.detector.frames_per_call
        queued = chain_ahead(
            (self._decode_file(root, run, on_start) for run in by_file(clips)),
            ahead=self.decoders,
            maxsize=self.queued_frames,
            name="femo-decode",
        )
        classifier = _BatchedClassifier(self, self.classify_pool, columns)
        units = detector_calls(queued, frames_per_call)
        last = time.perf_counter()
        try:
            for done in ordered_map(self.detect_pool, self._analyse, units, self.window):
                if done.end is None:
                    self._add_rows(done, columns, classifier)
                    continue
                end = done.end
                status, message = clip_status(end, classifier.failed_clips.get(end.clip.video))
                now = time.perf_counter()
                columns.add(
                    video=end.clip.video,
                    kind="clip",
                    status=status,
                    message=message,
                    fps=end.info.fps,
                    frames_read=end.info.frames_read,
                    frames_sampled=end.sampled,
                    # The clip's share of the shard's wall time: with frames of
                    # several clips in flight, clips overlap.
                    seconds=now - last,
                )
                last = now
                statuses[end.clip.video] = status
                log.info("clip %s: %s, %d frames sampled", end.clip.video, status, end.sampled)
                if on_clip is not None:
                    on_clip(end.clip.video, status)
            classifier.finish()
        finally:
            queued.close()  # stops the decode threads if a stage failed
        return statuses

    def _decode_file(
        self, root: str, clips: list[Clip], on_start: Callable[[str], None] | None
    ) -> Iterator[Tagged | ClipEnd]:
        """The clips of one file in turn (a whole file, or consecutive segments of it,
        read forward by one :class:`VideoReader`)."""
        reader = VideoReader(os.path.join(root, clips[0].file), self.decode_threads)
        try:
            for clip in clips:
                yield from self._decode_clip(root, clip, on_start, reader)
        finally:
            reader.close()

    def _decode_clip(
        self,
        root: str,
        clip: Clip,
        on_start: Callable[[str], None] | None = None,
        reader: VideoReader | None = None,
    ) -> Iterator[Tagged | ClipEnd]:
        """A clip's sampled frames, followed by its :class:`ClipEnd`."""
        if on_start is not None:
            on_start(clip.video)
        _test_fault(clip.video)
        info, sampled, error = ClipInfo(), 0, None
        frames = sampled_frames(
            os.path.join(root, clip.file),
            clip.kind,
            self.config.sampling,
            info,
            clip.segment,
            reader,
            threads=self.decode_threads,
        )
        try:
            while True:
                t0 = time.perf_counter()
                frame = next(frames, None)
                self.clock.add("decode", time.perf_counter() - t0)
                if frame is None:
                    break
                sampled += 1
                yield Tagged(clip, frame)
        except ClipError as exc:
            error = str(exc)
        except Exception as exc:  # a damaged clip must not stop the shard
            log.exception("clip %s failed while decoding", clip.video)
            error = f"{type(exc).__name__}: {exc}"
        yield ClipEnd(clip, info, error, sampled)

    def _analyse(self, unit: Unit) -> _Detected:
        """Detector thread: grey frames, faces, and the classifier's input crops."""
        if unit.end is not None:
            return _Detected(unit.clip, [], [], [], end=unit.end)
        t0 = time.perf_counter()
        mesh_seconds = 0.0
        try:
            images = [f.image for f in unit.frames]
            # A detector that reads the colour frame (BlazeFace, MTCNN) needs grey only
            # for the crops of frames where it found a face.
            grays: list = [None] * len(images)
            if self.detector.looks_at == "gray":
                grays = [cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) for image in images]
            faces = self.detector.detect(images, grays)
            verdicts = rejected = None
            if self.check is not None:
                faces, verdicts, rejected = self._check(images, faces)
            crops = [
                self._crops(image, gray, frame_faces)
                for image, gray, frame_faces in zip(images, grays, faces, strict=True)
            ]
            embeddings = None
            if self.embedder is not None:
                embeddings = [
                    self.embedder.embed(
                        cv2.cvtColor(image, cv2.COLOR_BGR2RGB), [(f.x, f.y, f.w, f.h) for f in ff]
                    )
                    if ff
                    else []
                    for image, ff in zip(images, faces, strict=True)
                ]
            meshes = None
            if self.landmarks is not None:
                t1 = time.perf_counter()
                meshes = [self._meshes(image, ff) for image, ff in zip(images, faces, strict=True)]
                mesh_seconds = time.perf_counter() - t1
                self.clock.add("mesh", mesh_seconds)
            return _Detected(
                unit.clip,
                unit.frames,
                faces,
                crops,
                embeddings=embeddings,
                verdicts=verdicts,
                rejected=rejected,
                meshes=meshes,
            )
        except Exception as exc:  # reported on the clip's row; the shard goes on
            log.exception("clip %s failed in detection", unit.clip.video)
            return _Detected(unit.clip, unit.frames, [], [], error=f"{type(exc).__name__}: {exc}")
        finally:
            self.clock.add("detect", time.perf_counter() - t0 - mesh_seconds)

    def _meshes(self, image: np.ndarray, faces: list[Face]) -> list[np.ndarray | None]:
        """Each face's normalised mesh (landmarks=mesh), from the BGR frame."""
        if not faces:
            return []
        return self.landmarks.frame(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), faces)

    def _crops(
        self, image: np.ndarray, gray: np.ndarray | None, faces: list[Face]
    ) -> list[np.ndarray | None]:
        """The classifier's input for each face of a frame (None: an empty crop)."""
        return self.classifier.crops(image, gray, faces, self.config.detector.offsets)

    def _check(
        self, images: list[np.ndarray], faces: list[list[Face]]
    ) -> tuple[list[list[Face]], list[list[Verdict]], list[list[tuple[Face, Verdict]]]]:
        """The face check on each frame's faces: (kept faces, their verdicts, rejected
        faces with theirs), per frame; kept faces keep the detector's order."""
        assert self.check is not None
        kept, kept_verdicts, rejected = [], [], []
        for image, frame_faces in zip(images, faces, strict=True):
            verdicts = self.check.check(image, frame_faces) if frame_faces else []
            pairs = list(zip(frame_faces, verdicts, strict=True))
            kept.append([f for f, v in pairs if v.kept])
            kept_verdicts.append([v for _, v in pairs if v.kept])
            rejected.append([(f, v) for f, v in pairs if not v.kept])
        return kept, kept_verdicts, rejected

    def _add_rows(self, done: _Detected, columns: Columns, classifier: _BatchedClassifier) -> None:
        if done.error is not None:
            classifier.fail(done.clip, done.error)
            return
        if classifier.failed(done.clip):
            return
        video = done.clip.video
        embeddings = done.embeddings or [[None] * len(f) for f in done.faces]
        verdicts = done.verdicts or [[Verdict()] * len(f) for f in done.faces]
        rejected = done.rejected or [[] for _ in done.faces]
        meshes = done.meshes or [[None] * len(f) for f in done.faces]
        for frame, faces, crops, vectors, checks, dropped, shapes in zip(
            done.frames,
            done.faces,
            done.crops,
            embeddings,
            verdicts,
            rejected,
            meshes,
            strict=True,
        ):
            base = {"video": video, "kind": "frame", "frame": frame.index, "time_s": frame.time_s}
            if not faces:
                columns.add(**base)
            for i, (face, crop, vector, verdict, shape) in enumerate(
                zip(faces, crops, vectors, checks, shapes, strict=True)
            ):
                row = columns.add(
                    **base,
                    **_box(face, i, verdict),
                    embedding=vector,
                    mesh=shape,
                )
                if crop is not None:  # an empty crop keeps its box, with null scores
                    classifier.add(row, crop)
            for i, (face, verdict) in enumerate(dropped, start=len(faces)):
                columns.add(
                    **{**base, "kind": "rejected"}, **_box(face, i, verdict), message=verdict.reason
                )


def _box(face: Face, index: int, verdict: Verdict) -> dict:
    """A face row's box columns: its index in the frame, box, scores and check."""
    return {
        "face": index,
        "x": face.x,
        "y": face.y,
        "w": face.w,
        "h": face.h,
        "detector_confidence": face.confidence,
        "face_check": verdict.presence,
    }


def _test_fault(video: str) -> None:
    """Tests only: a decoder that kills (FEMO_TEST_CRASH_ON) or hangs (FEMO_TEST_HANG_ON)
    its process on the named clip; both variables are unset outside the test suite."""
    if os.environ.get("FEMO_TEST_CRASH_ON") == video:
        os.abort()
    if os.environ.get("FEMO_TEST_HANG_ON") == video:
        time.sleep(10**6)


class _BatchedClassifier:
    """Crops collected across frames and clips, classified a batch at a time on a thread.

    At most two batches are in flight, so the crops held in memory stay bounded.
    """

    def __init__(self, extractor: Extractor, pool: Executor, columns: Columns):
        self.extractor = extractor
        self.pool = pool
        self.columns = columns
        self.rows: list[int] = []
        self.crops: list[np.ndarray] = []
        self.in_flight: deque[tuple[list[int], Future]] = deque()
        self.failed_clips: dict[str, str] = {}

    def add(self, row: int, crop: np.ndarray) -> None:
        self.rows.append(row)
        self.crops.append(crop)
        if len(self.crops) >= self.extractor.batch_size:
            self._submit()

    def fail(self, clip: Clip, error: str) -> None:
        self.failed_clips.setdefault(clip.video, error)

    def failed(self, clip: Clip) -> bool:
        return clip.video in self.failed_clips

    def _submit(self) -> None:
        if not self.crops:
            return
        batch = np.stack(self.crops)
        self.in_flight.append((self.rows, self.pool.submit(self._predict, batch)))
        self.rows, self.crops = [], []
        while len(self.in_flight) > 2:
            self._collect()

    def _predict(self, batch: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        try:
            return self.extractor.classifier.predict(batch)
        finally:
            self.extractor.clock.add("classify", time.perf_counter() - t0)

    def _collect(self) -> None:
        rows, future = self.in_flight.popleft()
        for row, scores in zip(rows, future.result(), strict=True):
            self.columns.set_scores(row, scores)

    def finish(self) -> None:
        self._submit()
        while self.in_flight:
            self._collect()


@lru_cache(maxsize=2)
def get_extractor(config: ExtractConfig) -> Extractor:
    """One extractor (one model load) per process and config."""
    return Extractor(config)
