"""What ``femo fit --tune`` is asked, checked before anything is written or TensorFlow is
loaded: every refusal is one :class:`~femo.config.ConfigError` line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import ConfigError, LauncherSection
from ..results.fit.clips import LabelledClips, gather_clips
from ..results.fit.headfile import FER_SCORES
from ..results.shard_rows import FRAME_COLUMNS
from ..rundir import FitFolder, RunDir, TuneFolder
from .export import class_emotions
from .faces import BOX_COLUMNS
from .nested import Grid

# femo fit's own outer folds (the same folds as its report's).
OUTER_FOLDS = 5
# femo fit's floor, which a tuning keeps.
MIN_LABELLED_CLIPS = 10
# The least labelled faces per fold of a training set (outer folds x inner folds).
FACES_PER_FOLD = 2


@dataclass(frozen=True)
class TuneRequest:
    """A tuning, as asked: runs, reduce-side overrides, where to write, the folds and the
    network's grid, and the launcher overrides (``launcher=slurm ...``) that say where it
    runs (the first run's own launcher where there are none). Picklable: a cluster job
    gets it as it is."""

    run_dirs: tuple[Path, ...]
    overrides: tuple[str, ...] = ()
    out: Path | None = None
    use_mesh: bool = True
    folds: int = OUTER_FOLDS
    grid: Grid = field(default_factory=Grid)
    launcher: tuple[str, ...] = ()

    @property
    def folder(self) -> TuneFolder:
        return (FitFolder(self.out) if self.out else RunDir(self.run_dirs[0]).fit).tune


def split_overrides(overrides: list[str]) -> tuple[list[str], list[str]]:
    """(reduce-side overrides, launcher overrides): ``launcher=...`` and ``launcher.*``."""
    launcher = [o for o in overrides if o.lstrip("+").split("=", 1)[0].split(".")[0] == "launcher"]
    return [o for o in overrides if o not in launcher], launcher


def check_grid(request: TuneRequest) -> None:
    """The folds and the grid, each in one line."""
    grid = request.grid
    if request.folds < 2 or grid.inner_folds < 2:
        raise ConfigError("femo fit --tune needs at least 2 folds and 2 inner folds")
    if not grid.rates or any(not r > 0 for r in grid.rates):
        raise ConfigError(f"--rates must be positive numbers, not {list(grid.rates)}")
    if not grid.epochs or any(e < 1 for e in grid.epochs):
        raise ConfigError(f"--epochs must be whole numbers >= 1, not {list(grid.epochs)}")


def launcher_section(request: TuneRequest) -> LauncherSection:
    """Where the tuning runs: the first run's launcher with ``request.launcher`` applied."""
    run = RunDir(request.run_dirs[0])
    manifest, _ = run.check(labels_given=True)
    return run.report_config(request.launcher, "resume", manifest).launcher


def persons_needed(folds: int, inner_folds: int) -> int:
    """The fewest persons whose every outer training set still has ``inner_folds``."""
    persons = folds
    while persons - -(-persons // folds) < inner_folds:
        persons += 1
    return persons


def gather(request: TuneRequest) -> LabelledClips:
    """The runs' labelled clips, refused in one line where they cannot be tuned on."""
    if not request.run_dirs:
        raise ConfigError("femo fit --tune needs a run folder")
    clips = gather_clips(
        request.run_dirs, list(request.overrides), use_mesh=request.use_mesh,
        frame_columns=(*FRAME_COLUMNS, *BOX_COLUMNS[:2]),
    )  # fmt: skip
    for part in clips.parts:
        if part.reduced.run.labels_file is None:
            raise ConfigError(
                f"femo fit --tune learns from labelled faces: {part.reduced.run.path} has no "
                "labels (give them with dataset.labels=FILE)"
            )
    if len(clips.classifiers) > 1:
        raise ConfigError(
            "femo fit --tune: the runs were made with different classifiers ("
            + "; ".join(sorted(clips.classifiers))
            + "): tune on runs of one classifier"
        )
    if clips.classifiers != {FER_SCORES}:
        (other,) = clips.classifiers
        raise ConfigError(
            f"femo fit --tune adapts fer's network; the runs were made with {other} "
            "(make the runs with classifier=fer)"
        )
    class_emotions(clips.config.mapping.emotions, clips.classes)
    check_counts(request, clips)
    return clips


def check_counts(request: TuneRequest, clips: LabelledClips) -> None:
    """Enough labelled clips, faces and persons for the folds asked."""
    if clips.labelled < MIN_LABELLED_CLIPS:
        raise ConfigError(
            f"femo fit --tune needs at least {MIN_LABELLED_CLIPS} labelled clips; "
            f"the runs have {clips.labelled}"
        )
    faces, persons = labelled_faces(clips)
    inner = request.grid.inner_folds
    need_faces = request.folds * inner * FACES_PER_FOLD
    need_persons = persons_needed(request.folds, inner)
    if faces < need_faces or persons < need_persons:
        raise ConfigError(
            f"femo fit --tune with {request.folds} folds and {inner} inner folds needs at "
            f"least {need_faces} labelled faces of {need_persons} persons; the runs have "
            f"{faces} of {persons} (fewer folds: --folds, --inner-folds)"
        )


def labelled_faces(clips: LabelledClips) -> tuple[int, int]:
    """How many scored faces the labelled clips have, and of how many persons."""
    faces = 0
    persons: set[str] = set()
    for part in clips.parts:
        labelled = {
            video: part.start + k
            for k, video in enumerate(part.videos)
            if clips.golden[part.start + k] is not None
        }
        persons.update(clips.groups[r] for r in labelled.values() if clips.has_face[r])
        faces += int(np.count_nonzero(part.reduced.per_frame["video"].isin(set(labelled))))
    return faces, len(persons)
