"""The folders a run's results go into, and the files femo writes there: a report's
(:class:`ReportFolder`), ``femo fit``'s (:class:`FitFolder`, with ``femo fit --tune``'s
:class:`~.tune.TuneFolder` under it) and a sweep's (:class:`SweepFolder`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .tune import TUNE, TuneFolder

MANIFEST = "femo.json"
REPORT = "report"


@dataclass(frozen=True)
class ReportFolder:
    """A report's folder (``report/``, ``report-<overrides>/`` or one given with ``--out``)
    and the files femo writes into it."""

    path: Path

    @property
    def videos_csv(self) -> Path:
        return self.path / "videos.csv"

    @property
    def groups_csv(self) -> Path:
        return self.path / "groups.csv"

    @property
    def identities_csv(self) -> Path:
        return self.path / "identities.csv"

    @property
    def metrics_json(self) -> Path:
        return self.path / "metrics.json"

    @property
    def markdown(self) -> Path:
        return self.path / "report.md"

    @property
    def page(self) -> Path:
        return self.path / "index.html"

    def sheet_file(self, video: str) -> Path:
        """``sheets/<clip>.png``: ``femo show``'s contact sheet of a clip (a clip in a
        subfolder: ``/`` becomes ``__``)."""
        return self.path / "sheets" / (video.replace("/", "__") + ".png")

    def over_time_png(self, video: str) -> Path:
        """``over-time/<video>.png``: a segmented run's timeline of one long video (a
        video in a subfolder: ``/`` becomes ``__``); report.md links it."""
        return self.path / "over-time" / (video.replace("/", "__") + ".png")


@dataclass(frozen=True)
class FitFolder:
    """Where ``femo fit`` writes: a run's ``fit/`` or the folder given with ``--out``."""

    path: Path

    @property
    def head_file(self) -> Path:
        """The learnt head, plain JSON (never a pickle)."""
        return self.path / "head.json"

    @property
    def report_file(self) -> Path:
        return self.path / "report.md"

    @property
    def tune(self) -> TuneFolder:
        """``femo fit --tune``'s folder: the tuned network, its head and its report."""
        return TuneFolder(self.path / TUNE)


@dataclass(frozen=True)
class SweepFolder:
    """A Hydra multirun's folder: one run folder per point, and the sweep's tables."""

    path: Path

    def is_sweep(self) -> bool:
        return (self.path / "multirun.yaml").is_file() and not (self.path / MANIFEST).exists()

    def point_folders(self) -> list[Path]:
        """The points' run folders (those planned: with a manifest), in folder order."""
        return sorted(p.parent for p in self.path.glob(f"*/{MANIFEST}"))

    def table_file(self, report: str, suffix: str) -> Path:
        """``sweep.<suffix>`` of the points' own reports; ``sweep-<overrides>.<suffix>`` of
        their ``report-<overrides>`` folders."""
        return self.path / f"sweep{report[len(REPORT) :]}.{suffix}"
