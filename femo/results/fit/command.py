"""``femo fit``: a head learnt on the labelled clips of runs (see :mod:`.model`), estimated
by cross-validation grouped by person beside the study's vote."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ... import __version__
from ...config import ConfigError
from ...rundir import FitFolder, RunDir, timestamp, write_text
from ..build import ensemble_features, member_meshes, reduce_shards
from ..run import open_run


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

    from .crossval import cross_validate_head, cv_figures
    from .headfile import save_head
    from .model import fit_head
    from .report import fit_report_markdown

    features, golden, groups, votes, faces, meshes = [], [], [], [], [], []
    names: list[str] = []
    classes: tuple[str, ...] | None = None
    detectors: set[str] = set()
    classifiers: set[str] = set()
    runs = []
    unlabelled: list[Path] = []
    for run_dir in run_dirs:
        run = open_run(run_dir, overrides)
        config = run.config
        if config.reduce.head:
            raise ConfigError("femo fit learns a head; leave reduce.head out")
        if classes is not None and config.mapping.classes != classes:
            raise ConfigError(f"{run.path} has other classes than {run_dirs[0]}: fit them apart")
        classes = config.mapping.classes
        if with_runs and len(run_dirs) > 1:
            raise ConfigError("--with combines one run with others over the same clips")
        reduced = reduce_shards(run, with_runs)
        videos = [r.video for r in reduced.results]
        X, names, has_face = ensemble_features(reduced.members, config.mapping, videos)
        features.append(X)
        faces.append(has_face)
        meshes.append(member_meshes(reduced.members[0], videos) if use_mesh else None)
        if all(r.golden is None for r in reduced.results):
            unlabelled.append(run_dir)
        for r in reduced.results:
            golden.append(r.golden)
            votes.append(r.predict)
            groups.append(r.group or f"{run.path}\0{r.video}")  # no person: its own group
        detectors.update(m.detector for m in reduced.members)
        classifiers.update(m.made_with.classifier.identity for m in reduced.members)
        runs += [
            {"run": str(m.run.path), "clips": len(videos), "detector": m.detector}
            for m in reduced.members
        ]
    assert classes is not None
    if sum(g is not None for g in golden) < 10:
        raise _too_few_labels(sum(g is not None for g in golden), unlabelled)
    X, has_face = np.vstack(features), np.concatenate(faces)
    mesh = None if any(m is None for m in meshes) else np.vstack(meshes)
    try:
        boot = config.report.bootstrap  # report.resamples, report.level, report.seed
        cv = cross_validate_head(
            X, golden, groups, votes, classes, has_face=has_face,
            min_units=config.report.min_units, mesh=mesh, **asdict(boot),
        )  # fmt: skip
        head = fit_head(
            X, golden, groups, classes, has_face=has_face, feature_names=names, mesh=mesh
        )
    except ValueError as exc:
        raise ConfigError(f"femo fit: {exc}") from None
    folder = FitFolder(out) if out else RunDir(run_dirs[0]).fit
    provenance = {
        "runs": runs,
        "detectors": sorted(detectors),
        # What made the scores (each run's classifier.identity): a head reads only these.
        "classifiers": sorted(classifiers),
        "labelled_clips": sum(g is not None for g in golden),
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
