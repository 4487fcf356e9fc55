"""``report/metrics.json``: every figure a report holds, typed, read and written in one place.

:class:`Metrics` is the file as a frozen :class:`~femo.results.records.Record` whose
sections are records too (per class, the intervals' basis, per group, per identity, the
timelines, the videos over time, provenance, speed, a head's cross-validation), and also
a read-only mapping of the file's JSON (``metrics["accuracy"]``), so code written
against the dict keeps working. :func:`read_metrics` and :meth:`Metrics.write` are the
only reader and writer: the keys and their order are those femo writes today, and a file
an older femo wrote (without the keys added since) reads and writes back unchanged.

:data:`ANSWER_COUNTS` is the one list of the answer's counts: report.md, index.html and
the console render every entry, so a count added to the report is a field here, its line
there, and the code that computes it (``femo.results.reduce.compute_metrics``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import BOOTSTRAP
from ..rundir import ReportFolder, write_json
from .records import Record, RecordError
from .time_records import Timeline, VideoOverTime

# The file's name (its place in a report folder: rundir.ReportFolder.metrics_json).
METRICS_FILE = ReportFolder(Path()).metrics_json.name
Interval = list[float]

MetricsError = RecordError


@dataclass(frozen=True, eq=False)
class ClassFigures(Record):
    """One class's row of ``per_class``: None (n/a) for a class without support."""

    REQUIRED = frozenset({"precision", "recall", "f1", "support"})

    precision: float | None
    recall: float | None
    f1: float | None
    support: int
    recall_ci: Interval | None = None
    absent: frozenset[str] = frozenset()


@dataclass(frozen=True, eq=False)
class CiBasis(Record):
    """How the intervals were made (``ci``): the bootstrap, or why there are none."""

    method: str | None = None
    level: float | None = None
    resamples: int | None = None
    unit: str | None = None  # "clip" or "group" (whole groups resampled)
    n_units: int | None = None
    seed: int | None = None
    min_units: int | None = None
    withheld: str | None = None  # why no interval is shown (too few units)
    absent: frozenset[str] = frozenset()


@dataclass(frozen=True, eq=False)
class ShardCounts(Record):
    planned: int | None = None
    done: int | None = None
    not_done: list[int] = field(default_factory=list)
    absent: frozenset[str] = frozenset()


@dataclass(frozen=True, eq=False)
class Predicted(Record):
    """The unlabelled clips: predicted classes (clip counts) and top emotions (shares of
    their frames with a face)."""

    clips: int = 0
    with_prediction: int = 0
    no_face: int = 0
    failed: int = 0
    classes: dict[str, int] = field(default_factory=dict)
    frames_with_face: int = 0
    emotion_share: dict[str, float] | None = None
    class_share: dict[str, float] | None = None
    absent: frozenset[str] = frozenset()


@dataclass(frozen=True, eq=False)
class ClipProfile(Record):
    """One unlabelled clip's own profile (``group`` is the clip's id)."""

    group: str = ""
    clips: int = 1
    frames_with_face: int = 0
    emotion_share: dict[str, float] | None = None
    class_share: dict[str, float] | None = None
    predict: str | None = None
    absent: frozenset[str] = frozenset()


@dataclass(frozen=True, eq=False)
class GroupProfile(Record):
    """One group's (person's) profile; shares and accuracy None without a frame with a face."""

    REQUIRED = frozenset({"group"})

    group: str = ""
    clips: int = 0
    labelled: int = 0
    frames_with_face: int = 0
    emotion_share: dict[str, float] | None = None
    emotion_mean_score: dict[str, float | None] | None = None
    class_share: dict[str, float] | None = None
    predicted_share: dict[str, float] | None = None
    accuracy: float | None = None
    accuracy_ci: Interval | None = None
    ci_withheld: str | None = None
    absent: frozenset[str] = frozenset()


@dataclass(frozen=True, eq=False)
class IdentityProfile(Record):
    """One reference person's faces in every clip (or, last, the faces matched to nobody)."""

    person: str = ""
    faces: int = 0
    clips: int = 0
    clips_labelled_other: int = 0
    emotion_share: dict[str, float] | None = None
    mean_scores: dict[str, float | None] = field(default_factory=dict)
    class_share: dict[str, float] | None = None
    absent: frozenset[str] = frozenset()


@dataclass(frozen=True, eq=False)
class Identities(Record):
    """Per-identity profiles (references given): names, counts and scores, no embedding."""

    faces: int = 0
    unmatched: int = 0
    unmatched_share: float | None = None
    persons: list[IdentityProfile] = field(default_factory=list)
    absent: frozenset[str] = frozenset()


@dataclass(frozen=True, eq=False)
class Provenance(Record):
    """Who made the shards and the report, and from what."""

    femo_version: str | None = None
    fer_version: str | None = None
    emotion_model_sha256: str | None = None
    dataset_root: str | None = None
    labels_file: str | None = None
    label_column: str | None = None
    run_created: str | None = None
    reported_at: str | None = None
    report_by: str | None = None
    absent: frozenset[str] = frozenset()


@dataclass(frozen=True, eq=False)
class Speed(Record):
    """The finished shards' measured speed (``throughput``) and what it predicts."""

    shards: int = 0
    clips: int = 0
    frames_sampled: int = 0
    seconds: float = 0.0
    startup_s_per_task: float | None = None
    frames_per_s: float | None = None
    clips_per_hour_per_task: float | None = None
    stage_frames_per_s: dict[str, float | None] = field(default_factory=dict)
    devices: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    estimate: dict[str, float] | None = None
    absent: frozenset[str] = frozenset()


@dataclass(frozen=True, eq=False)
class MethodFigures(Record):
    """One method's cross-validated figures (the head's, the vote's) with intervals."""

    accuracy: float | None = None
    accuracy_ci: Interval | None = None
    macro_f1: float | None = None
    macro_f1_ci: Interval | None = None
    recall: dict[str, float | None] | None = None
    recall_ci: dict[str, Interval | None] | None = None
    confusion: dict[str, dict[str, int]] | None = None
    absent: frozenset[str] = frozenset()


@dataclass(frozen=True, eq=False)
class PairedFigures(Record):
    """Two methods on the same held-out clips: the difference, its paired interval,
    McNemar's p and the clips only one got right."""

    difference: float | None = None
    difference_ci: Interval | None = None
    mcnemar_p: float | None = None
    head_only_right: int | None = None
    vote_only_right: int | None = None
    scores_only_only_right: int | None = None
    significant: bool | None = None
    absent: frozenset[str] = frozenset()


@dataclass(frozen=True, eq=False)
class FitPart(Record):
    """A head's cross-validated figures over one subset of clips, beside the study's vote."""

    n: int = 0
    support: dict[str, int] | None = None
    head: MethodFigures | None = None
    vote: MethodFigures | None = None
    comparison: PairedFigures | None = None
    ci_withheld: str | None = None
    scores_only: MethodFigures | None = None
    mesh_comparison: PairedFigures | None = None
    absent: frozenset[str] = frozenset()


@dataclass(frozen=True, eq=False)
class FitSummary(Record):
    """The cross-validation of the head ``femo fit`` left in the run (``fit/head.json``)."""

    head_file: str | None = None
    classes: list[str] | None = None
    folds: dict[str, Any] | None = None
    ci: dict[str, Any] | None = None
    all: FitPart | None = None
    with_face: FitPart | None = None
    absent: frozenset[str] = frozenset()


@dataclass(frozen=True, eq=False)
class InSample(Record):
    """The scored clips a head (``reduce.head``) was fitted on, or a tuned model
    (``classifier.model``, made by ``femo fit --tune``) learnt from: figures over them
    are in-sample, not an estimate for new clips; and the accuracy over the others."""

    head_file: str | None = None  # the head, where it was fitted on some of them
    model_file: str | None = None  # the tuned model, where it learnt from some of them
    clips: int = 0  # scored clips the head was fitted on
    labelled: int = 0  # of them, labelled ones (in the accuracy)
    known_by: list[str] = field(default_factory=list)  # content, name or run
    out_of_sample_labelled: int = 0  # labelled clips it was not fitted on
    out_of_sample_accuracy: float | None = None
    out_of_sample_accuracy_ci: Interval | None = None
    absent: frozenset[str] = frozenset()


@dataclass(frozen=True, eq=False, kw_only=True)
class Metrics(Record, Mapping[str, Any]):
    """The content of ``metrics.json``.

    Only ``accuracy``, ``macro_f1``, ``n_videos`` and ``n_labelled`` are required (every
    femo wrote them); any other key may be absent from an older report, and then reads as
    None. Equal to a dict with the same JSON content.
    """

    REQUIRED = frozenset({"accuracy", "macro_f1", "n_videos", "n_labelled"})

    accuracy: float | None
    accuracy_scored: float | None = None
    n_videos: int
    n_labelled: int
    n_compared: int | None = None
    no_face: str | None = None
    coverage: float | None = None
    n_scored: int | None = None
    n_correct: int | None = None
    n_no_face: int | None = None
    n_person_absent: int | None = None
    n_failed: int | None = None
    n_missing: int | None = None
    n_missing_labelled: int | None = None
    per_class: Mapping[str, ClassFigures] | None = None
    macro_f1: float | None
    confusion: Mapping[str, Mapping[str, int]] | None = None
    accuracy_ci: Interval | None = None
    macro_f1_ci: Interval | None = None
    ci: CiBasis | None = None
    partial: bool | None = None
    classes: list[str] | None = None
    emotions: list[str] | None = None
    unlabelled: list[str] | None = None
    missing_clips: list[str] | None = None
    unknown_labels: Any = None  # a list, or each clip's unknown label
    shards: ShardCounts | None = None
    clips_in_several_shards: list[str] | None = None
    labels_file: str | None = None
    predicted: Predicted | None = None
    clip_profiles: list[ClipProfile] | None = None
    method: str | None = None
    labels_line: str | None = None
    groups: list[GroupProfile] | None = None
    identities: Identities | None = None
    timelines: list[Timeline] | None = None
    provenance: Provenance | None = None
    fit: FitSummary | None = None
    in_sample: InSample | None = None  # a head scored clips it was fitted on
    settings_yaml: str | None = None
    config: dict[str, Any] | None = None
    throughput: Speed | None = None
    over_time: list[VideoOverTime] | None = None
    absent: frozenset[str] = frozenset()
    _json: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The mapping view is read often (the API, old callers): the JSON is built once.
        object.__setattr__(self, "_json", Record.to_json(self))

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = METRICS_FILE) -> Metrics:
        """The metrics of a JSON object; :class:`MetricsError` names a missing or unknown key."""
        return super().from_json(data, where)

    def to_json(self) -> dict[str, Any]:
        """The JSON object written to ``metrics.json`` (a fresh copy at the top level)."""
        return dict(self._json)

    def write(self, path: Path) -> None:
        """Write ``metrics.json`` atomically, as femo always has (2-space indent)."""
        write_json(path, self._json)

    @property
    def level(self) -> float:
        """The level of the report's intervals (the bootstrap's default where none was
        recorded)."""
        recorded = None if self.ci is None else self.ci.level
        return float(recorded or BOOTSTRAP.level)

    @property
    def labelled_present(self) -> int:
        """Labelled clips whose shard is done."""
        return self.n_labelled - (self.n_missing_labelled or 0)

    @property
    def present(self) -> int:
        """Clips whose shard is done."""
        return self.n_videos - (self.n_missing or 0)

    def __getitem__(self, key: str) -> Any:
        return self._json[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._json)

    def __len__(self) -> int:
        return len(self._json)

    __eq__ = Record.__eq__
    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class Count:
    """One count of the answer, as each page names it."""

    key: str  # the Metrics field
    card: str  # index.html's box
    line: str  # report.md's list
    # A non-zero count is bad news: index.html marks its box, and report.md lists it on
    # the line of what went wrong, below the accuracy.
    bad: bool = False
    # Shown only where the labelled person's faces are scored (reduce.face=person).
    person: bool = False


# The answer's counts, in the order the pages show them.
ANSWER_COUNTS: tuple[Count, ...] = (
    Count("n_videos", "clips", "clips"),
    Count("n_labelled", "labelled", "labelled"),
    Count("n_scored", "labelled with a prediction", "labelled with a prediction"),
    Count("n_no_face", "no face", "clips with no face in any sampled frame", bad=True),
    Count(
        "n_person_absent",
        "person absent",
        "with faces but none of their person",
        bad=True,
        person=True,
    ),
    Count("n_failed", "failed", "failed", bad=True),
    Count("n_missing", "missing", "missing (shard not done)", bad=True),
)


def answer_counts(metrics: Metrics, scores_the_person: bool) -> list[tuple[Count, Any]]:
    """The answer's counts a report shows, each with its value."""
    return [
        (c, getattr(metrics, c.key)) for c in ANSWER_COUNTS if scores_the_person or not c.person
    ]


def read_metrics(path: Path) -> Metrics:
    """Read a report's ``metrics.json`` (a file, or the report folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = ReportFolder(path).metrics_json
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise MetricsError(f"{path}: not JSON ({exc})") from None
    return Metrics.from_json(data, str(path))
