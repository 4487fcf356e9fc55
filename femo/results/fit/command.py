"""``femo fit``: a head learnt on the labelled clips of runs (see :mod:`.model`), estimated
by cross-validation grouped by person beside the study's vote."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ... import __version__
from ...config import ConfigError
from ...rundir import FitFolder, RunDir, timestamp, write_text


@dataclass
class FitOutcome:
    head_file: Path
    report_file: Path
    cv: dict[str, Any]
    clips: int


def fit_runs(
    run_dirs: list[Path],
    overrides: list[str],
    out: Path | None = None,
    with_runs: tuple[Path, ...] = (),
    *,
    use_mesh: bool = True,
) -> FitOutcome:
    """Fit a head on the labelled clips of ``run_dirs`` (reduce-side ``overrides``, e.g.
    ``dataset.group_column=person``), estimate it by cross-validation grouped by person
    beside the study's vote on the same held-out clips, and write ``fit/head.json``
    (plain JSON) and ``fit/report.md`` into the first run (or ``out``).

    Several runs pool their clips; ``with_runs`` (one run only) put the features of runs
    over the same clips side by side (an ensemble of detectors or samplings).

    Where every run was made with ``landmarks=mesh``, the head also uses the face's mesh
    (each clip's mean mesh of the scored face, reduced on its own), and the same head
    without it is cross-validated on the same folds beside it; ``use_mesh`` False fits
    on the scores alone all the same (``femo fit --no-mesh``).
    """
    import numpy as np

    from .clips import gather_clips
    from .crossval import cross_validate_head, cv_figures
    from .headfile import save_head
    from .model import fit_head
    from .report import fit_report_markdown

    clips = gather_clips(run_dirs, overrides, with_runs, use_mesh=use_mesh)
    config, golden, mesh = clips.config, clips.golden, clips.mesh
    if clips.labelled < 10:
        raise _too_few_labels(clips.labelled, clips.unlabelled)
    X, has_face, names, classes = clips.X, clips.has_face, clips.names, clips.classes
    try:
        boot = config.report.bootstrap  # report.resamples, report.level, report.seed
        cv = cross_validate_head(
            X, golden, clips.groups, clips.votes, classes, has_face=has_face,
            min_units=config.report.min_units, mesh=mesh, **asdict(boot),
        )  # fmt: skip
        head = fit_head(
            X, golden, clips.groups, classes, has_face=has_face, feature_names=names, mesh=mesh
        )
    except ValueError as exc:
        raise ConfigError(f"femo fit: {exc}") from None
    folder = FitFolder(out) if out else RunDir(run_dirs[0]).fit
    provenance = {
        "runs": clips.runs,
        "detectors": sorted(clips.detectors),
        # What made the scores (each run's classifier.identity): a head reads only these.
        "classifiers": sorted(clips.classifiers),
        "labelled_clips": clips.labelled,
        # The clips it was trained on (labelled, with a face), known by content: a report
        # that scores one of them says its figure is in-sample.
        "clips": clips.fitted_clips(),
        # The face's mesh (landmarks=mesh runs): clips with a mesh of the scored face.
        "mesh": None if mesh is None else {"clips_with_mesh": int((~np.isnan(mesh).any(1)).sum())},
        "femo_version": __version__,
        "fer_version": _fer_version(),
        "fitted_at": timestamp(),
        "overrides": overrides,
        "cross_validation": cv_figures(cv),
    }
    save_head(folder.head_file, head, provenance)
    write_text(folder.report_file, fit_report_markdown(cv))
    return FitOutcome(folder.head_file, folder.report_file, cv, len(golden))


def _fer_version() -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version("fer")
    except importlib.metadata.PackageNotFoundError:
        return None


def _too_few_labels(labelled: int, unlabelled: list[Path]) -> ConfigError:
    """Fewer than 10 labelled clips: how many, or which runs have no labels and how to
    give them (``dataset.labels=`` after the run folders)."""
    if not unlabelled:
        return ConfigError(f"femo fit needs at least 10 labelled clips ({labelled} here)")
    runs = " ".join(str(p) for p in unlabelled)
    have = "has" if len(unlabelled) == 1 else "have"
    return ConfigError(
        f"femo fit needs at least 10 labelled clips; {runs} {have} no labels: "
        f"give them after the run folders, femo fit {runs} dataset.labels=FILE"
    )
