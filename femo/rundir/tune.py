"""``femo fit --tune``'s folder: ``fit/tune/`` (or ``tune/`` under ``--out``), where fer's
network adapted to a run's labelled faces is kept, with its head and its report::

    tune/
      model.tflite   the tuned network, for classifier=custom (its provenance inside)
      model.keras    the same network as Keras saved it (what the TFLite file equals)
      head.json      a head on the tuned network's scores (and the mesh, where it helps)
      report.md      the five candidates against the study's vote, on the same folds
      outcome.json   the figures femo fit prints, for a tuning that ran as a job
      tune.log       progress: each training, fold and epoch
      job.json       the cluster job it was submitted as (launcher=slurm or sge)
      jobs/          submitit's folder, where the tuning ran as one cluster job
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TUNE = "tune"


@dataclass(frozen=True)
class TuneFolder:
    """The files of one tuning (:mod:`femo.tune`)."""

    path: Path

    @property
    def model_file(self) -> Path:
        """The tuned network as a TFLite file (classifier=custom runs it on LiteRT)."""
        return self.path / "model.tflite"

    @property
    def keras_file(self) -> Path:
        return self.path / "model.keras"

    @property
    def head_file(self) -> Path:
        return self.path / "head.json"

    @property
    def report_file(self) -> Path:
        return self.path / "report.md"

    @property
    def outcome_file(self) -> Path:
        return self.path / "outcome.json"

    @property
    def log_file(self) -> Path:
        return self.path / "tune.log"

    @property
    def job_file(self) -> Path:
        """The cluster job the tuning was submitted as (launcher, job id)."""
        return self.path / "job.json"

    @property
    def jobs_dir(self) -> Path:
        return self.path / "jobs"
