"""Shared fixtures and helpers: the real media in ../shared/data, small clips made on
the fly, ``femo`` in a subprocess, hand-built shard tasks."""

from __future__ import annotations

import html.parser
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import cv2
import numpy as np
import pytest

from femo.config import ExtractConfig
from femo.dataset import Clip
from femo.task import ShardTask

from .fake_scheduler import FakeScheduler
from .hand_sweep import make_sweep

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FEMO_SHARED_DATA", REPO.parent / "shared" / "data"))
FER_SAMPLES = SHARED / "fer-samples"
DEV_CLIPS = SHARED / "dev-clips"
GOLDEN = Path(__file__).resolve().parent / "golden"


def check_golden(name: str, text: str) -> None:
    """``text`` is byte for byte ``tests/golden/NAME``; ``FEMO_UPDATE_GOLDEN=1`` (the one
    switch, for every golden file) rewrites the file instead: review its diff."""
    path = GOLDEN / name
    if os.environ.get("FEMO_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())
    assert path.exists(), f"missing {path}: run with FEMO_UPDATE_GOLDEN=1 to create it"
    assert text.encode() == path.read_bytes(), (
        f"{path} differs from what the code makes; if the change is intended, "
        "regenerate with FEMO_UPDATE_GOLDEN=1 and review the diff"
    )


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs the shared media {path} (absent on this machine)")
    return path


@pytest.fixture
def no_tensorflow(request):
    """For fast test modules (``pytestmark``): a test that loads TensorFlow fails.

    Tests marked slow may load it.
    """
    before = "tensorflow" in sys.modules
    yield
    if not before and request.node.get_closest_marker("slow") is None:
        assert "tensorflow" not in sys.modules, "this fast test loaded TensorFlow"


@pytest.fixture
def scheduler(monkeypatch) -> FakeScheduler:
    """A fresh fake SLURM and Grid Engine (tests/fake_scheduler.py), installed for this test."""
    from submitit.slurm.slurm import SlurmJob

    from femo.launchers.sge_plugin import SgeJob

    yield FakeScheduler().install(monkeypatch)
    SlurmJob.watcher.clear()  # submitit's watchers are shared by every job of a class
    SgeJob.watcher.clear()


@pytest.fixture(scope="session")
def poisoned_tf(tmp_path_factory) -> Path:
    """A folder whose tensorflow, keras, fer and mtcnn packages refuse to be imported."""
    folder = tmp_path_factory.mktemp("poison")
    for name in ("tensorflow", "keras", "fer", "mtcnn"):
        (folder / name).mkdir()
        (folder / name / "__init__.py").write_text(
            f"raise ImportError('{name} was imported by a command that must fail before it loads')\n"
        )
    return folder


SCHEDULER_TASK_VARS = ("SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_JOB_ID", "JOB_ID",
                       "SGE_TASK_ID")  # fmt: skip


def femo_env(env: Mapping[str, str] | None = None, first: Path | None = None) -> dict[str, str]:
    """The environment of a ``femo`` subprocess: this one, TensorFlow quiet, this
    checkout first on PYTHONPATH (after ``first``, the poisoned TensorFlow say), then
    ``env``'s variables."""
    # Not the job ids of a scheduler the tests may run under: a femo.worker would
    # record them in its run folder as its own (unless a test sets them).
    inherited = {k: v for k, v in os.environ.items() if k not in SCHEDULER_TASK_VARS}
    merged = {**inherited, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    paths = [str(p) for p in (first, REPO) if p is not None]
    merged["PYTHONPATH"] = os.pathsep.join([*paths, *filter(None, [merged.get("PYTHONPATH")])])
    return merged


def femo_argv(*args: str, module: str = "femo") -> list[str]:
    """``python -m femo ARGS`` (or another entry point: ``femo.worker``, ``femo.shard``)."""
    return [sys.executable, "-m", module, *args]


def femo(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    first: Path | None = None,
    timeout: float = 60,
    module: str = "femo",
) -> subprocess.CompletedProcess:
    """``python -m femo ARGS`` in ``cwd``, run to its end (see :func:`femo_env`)."""
    return subprocess.run(
        femo_argv(*args, module=module),
        cwd=cwd,
        env=femo_env(env, first),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def fast_femo(poisoned_tf, tmp_path):
    """``python -m femo ...`` in ``tmp_path``, with TensorFlow poisoned."""

    def run(*args: str) -> subprocess.CompletedProcess:
        return femo(*args, cwd=tmp_path, env={"XDG_CACHE_HOME": str(tmp_path / "cache")},
                    first=poisoned_tf)  # fmt: skip

    return run


@pytest.fixture(scope="session")
def fer_samples() -> Path:
    return need(FER_SAMPLES)


@pytest.fixture(scope="session")
def dev_clips() -> Path:
    return need(DEV_CLIPS)


@pytest.fixture(scope="session")
def face_image() -> np.ndarray:
    """A real face photo that an installed package ships (matplotlib's Grace Hopper)."""
    from femo.demo import source_image

    return source_image()


def write_video(
    path: Path, frames: list[np.ndarray], fps: float = 10.0, fourcc: str = "mp4v"
) -> Path:
    """``frames`` as a video (MPEG-4 part 2; ``fourcc="MJPG"`` for Motion JPEG in an .avi)."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened()
    for f in frames:
        writer.write(f)
    writer.release()
    return path


def write_mjpg_avi(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    """``frames`` as Motion JPEG in an .avi."""
    return write_video(path, frames, fps, fourcc="MJPG")


def read_all(path: Path) -> list[np.ndarray]:
    """Every frame, as cv2.VideoCapture.read() returns them (what fer analyses)."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


@pytest.fixture(scope="session")
def long_clips(tmp_path_factory) -> Path:
    """The demo dataset with every video played 8 times over (384 frames, every frame).

    Long enough that a kill or a signal lands while a shard is in progress; with the
    demo's 48-frame clips a task can finish before it lands.
    """
    from femo.demo import build_demo

    folder = tmp_path_factory.mktemp("long-clips")
    build_demo(folder)
    for video in folder.glob("*.mp4"):
        write_video(video, read_all(video) * 8)
    return folder


def shard_task(
    run_dir: Path | str,
    clips: Iterable[Clip | str],
    *,
    index: int = 0,
    root: Path | str | None = None,
    extract: ExtractConfig | None = None,
    **kw,
) -> ShardTask:
    """A hand-built :class:`ShardTask`: a name in ``clips`` is a video; the dataset root
    is ``run_dir`` unless given; the default ExtractConfig unless given."""
    return ShardTask(
        run_dir=str(run_dir),
        index=index,
        dataset_root=str(run_dir if root is None else root),
        clips=tuple(c if isinstance(c, Clip) else Clip(c, "video") for c in clips),
        extract=ExtractConfig() if extract is None else extract,
        **kw,
    )


# ------------------------------------------------ assertions and shared folders


def error_line(proc: subprocess.CompletedProcess) -> str:
    """The single line a failing command writes to stderr."""
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def assert_no_run_folder(output_root: Path) -> None:
    assert not list(output_root.rglob("femo.json"))
    assert not list(output_root.rglob(".hydra"))
    assert [p for p in output_root.rglob("*") if p.is_file()] == []


class Page(html.parser.HTMLParser):
    """index.html as text per element id, and every table row as its cells' text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.by_id: dict[str, str] = {}
        self.rows: list[list[str]] = []
        self._open: list[tuple[str, str | None]] = []
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag in ("img", "meta", "br", "link"):
            return
        ident = dict(attrs).get("id")
        self._open.append((tag, ident))
        if ident:
            self.by_id[ident] = ""
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data):
        for _, ident in self._open:
            if ident:
                self.by_id[ident] += data
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture
def planned(fast_femo, tmp_path) -> Path:
    """A run planned with launcher=none: 3 shards of one clip, nothing run."""
    root = tmp_path / "clips"
    root.mkdir()
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        (root / name).write_bytes(b"never decoded here")
    proc = fast_femo(
        "run", "launcher=none", "dataset.root=clips", "shards.videos_per_shard=1", "output_root=out"
    )
    assert proc.returncode == 0, proc.stderr
    (manifest,) = (tmp_path / "out").glob("*/*/femo.json")
    return manifest.parent


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """The hand-made sweep of :mod:`tests.hand_sweep` (points A to E)."""
    return make_sweep(tmp_path)
