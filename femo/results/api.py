"""femo's results from Python: ``run = femo.open_run(RUN_DIR)``, then ``run.clips()``,
``run.frames()``, ``run.metrics()``, ``run.config()``.

Everything here reads the run folder; nothing is written and no video is read.
pandas and pyarrow are imported when a table is asked for, TensorFlow never.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import EMOTIONS, RunConfig
from ..dataset import clip_groups
from ..rundir import ReportFolder, RunDirError
from ..shard_files import SCHEMA
from .metrics import Metrics, read_metrics
from .run import OpenRun
from .run import open_run as open_run_folder

if TYPE_CHECKING:
    import pandas as pd

# Shard columns that describe a clip, not a frame, and the face embedding an identity
# model and the face mesh landmarks=mesh may add (large, and not a result): left out of
# frames().
_CLIP_COLUMNS = ("status", "message", "fps", "frames_read", "frames_sampled", "seconds")
_LEFT_OUT = ("kind", *_CLIP_COLUMNS, "embedding", "mesh")
# The columns of frames(), in the shard files' order.
_FRAME = tuple(f.name for f in SCHEMA if f.name not in _LEFT_OUT)
# Columns of whole numbers, nullable (a frame without a face has none): integers in CSV.
_INTEGERS = ("frame", "face", "x", "y", "w", "h")


class Run:
    """One run folder, read: its clips (the report's rows), its frames, metrics, config."""

    def __init__(self, path: str | Path) -> None:
        self._run: OpenRun = open_run_folder(
            Path(path).expanduser().resolve(), frame_columns=_FRAME
        )

    @property
    def path(self) -> Path:
        return self._run.path

    def __repr__(self) -> str:
        return f"femo.open_run({str(self.path)!r})"

    def config(self) -> dict[str, Any]:
        """The run's saved config (femo.json), as plain dicts and lists."""
        return self._run.folder.config_dict()

    def _report_file(self, pick: Callable[[ReportFolder], Path], report: str | Path | None) -> Path:
        folder = self._run.folder.report_dir if report is None else Path(report).expanduser()
        if not folder.is_absolute() and not folder.exists():
            folder = self.path / folder  # report="report-mapping-seven"
        path = pick(ReportFolder(folder))
        if not path.is_file():
            raise RunDirError(
                f"{path} does not exist; write the report with femo reduce {self.path}"
            )
        return path

    def clips(self, report: str | Path | None = None) -> pd.DataFrame:
        """One row per planned clip: the rows of the report's ``videos.csv`` (video, group,
        predict, golden, status, frame counts per class, message).

        ``report``: another report folder of this run (``report-...``, or one written
        with ``femo reduce --out DIR``); default ``RUN_DIR/report``.
        """
        import pandas as pd

        path = self._report_file(lambda folder: folder.videos_csv, report)
        return pd.read_csv(path, dtype={"video": str, "group": str, "golden": str})

    def metrics(self, report: str | Path | None = None) -> Metrics:
        """The report's ``metrics.json``: accuracy, per class, intervals, groups, settings;
        typed (``.accuracy``) and a read-only mapping of the file (``["accuracy"]``)."""
        return read_metrics(self._report_file(lambda folder: folder.metrics_json, report))

    def frames(self) -> pd.DataFrame:
        """One row per sampled frame and face, read from the shard files, with the clip's
        ``label`` (from the run's labels snapshot) and ``group``.

        A sampled frame without a face is one row whose ``face`` and scores are empty.
        Columns: video, label, group, frame, time_s, face, x, y, w, h, the 7 emotion
        scores, detector_confidence, ``person`` (the face's reference person: its nearest
        reference photo within ``reduce.match_distance``; null for nobody, or without
        references), ``scored`` (whether the run's ``reduce.face`` scored this face) and
        ``predicted_class`` (the face's top emotion under the run's mapping: the class
        this frame votes for when the face is scored; null without a face).
        Frame, face and box are integers (null where a frame has no face). A clip found in
        several shard files is read from the lowest-numbered one, as the report reads it.
        """
        from .faces.choice import face_columns

        run = self._run
        frames = run.shards.frame_rows.reset_index(drop=True)
        for name in _FRAME:  # a column older shards lack
            if name not in frames:
                frames[name] = None
        frames = frames[list(_FRAME)].copy()
        for name in _INTEGERS:
            frames[name] = frames[name].astype("Int64")
        labels, groups = run.labels, clip_groups(run.videos, run.config.dataset, run.labels)
        frames.insert(1, "label", frames["video"].map(labels.by_video))
        frames.insert(2, "group", frames["video"].map(groups))
        frames["person"], frames["scored"] = face_columns(run, frames)
        frames["predicted_class"] = predicted_classes(frames, run.config)
        return frames


def predicted_classes(frames: pd.DataFrame, config: RunConfig) -> pd.Series:
    """Each face's class: its top emotion (rounded as the report rounds, ``reduce.
    score_decimals``) under the run's mapping; null for a frame without a face."""
    import numpy as np
    import pandas as pd

    from .reduce import _top_emotions

    has_face = frames[EMOTIONS[0]].notna().to_numpy()
    scores = frames.loc[has_face, list(EMOTIONS)].to_numpy(dtype=np.float32)
    top = _top_emotions(scores, config.reduce.score_decimals)
    out = np.full(len(frames), None, dtype=object)
    out[has_face] = [config.mapping.emotions[e] for e in top]
    return pd.Series(out, index=frames.index)


def open_run(path: str | Path) -> Run:
    """A run folder's results, read from Python (see :class:`Run`).

    >>> run = femo.open_run("outputs/2026-01-01/12-00-00-clips-haar-n20")  # doctest: +SKIP
    >>> run.clips()["status"].value_counts()  # doctest: +SKIP
    """
    return Run(path)


def export_frames(run_dir: str | Path, out: Path) -> int:
    """Write ``open_run(run_dir).frames()`` to ``out`` (.parquet or .csv); returns rows."""
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise RunDirError(f"--frames takes a .parquet or .csv file name, not {out.name!r}")
    frames = open_run(run_dir).frames()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        frames.to_csv(out, index=False)
    else:
        frames.to_parquet(out, index=False)
    return len(frames)
