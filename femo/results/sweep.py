"""Sweeps: a Hydra multirun makes one run per point under a sweep folder; the sweep
table (``sweep.csv``, ``sweep.md``, ``sweep.html``) compares them and fills in as runs
complete.

``sweep.html`` adds what a table of accuracies cannot say on its own: each accuracy's
interval, and for every two points run over the same labelled clips whether their
difference is bigger than chance (a paired bootstrap and McNemar's test).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from ..config import BOOTSTRAP
from ..dataset import segment_id
from ..rundir import MANIFEST, REPORT, write_text
from .metrics import METRICS_FILE, read_metrics
from .pages.formatting import decimal, level_of, own_overrides, percent, shared_overrides

COLUMNS = [
    "point",
    "overrides",
    "status",
    "n_videos",
    "n_labelled",
    "accuracy",
    "macro_f1",
    "shards_from",
    "run_dir",
    # Added later: kept at the end so readers that index columns keep working.
    "accuracy_ci_low",
    "accuracy_ci_high",
    "frames_per_s",
]

# Points compared pairwise at most: 10 points make 45 pairs.
MAX_COMPARED_POINTS = 10
# Fixed columns of report/videos.csv; the vote columns (one per class) sit between
# frames_with_face and message.
_VOTES_AFTER = "frames_with_face"
_VOTES_BEFORE = "message"


@dataclass(frozen=True)
class ClipRow:
    """One clip of a point's ``report/videos.csv``; None where the cell is empty."""

    video: str
    golden: str | None
    predict: str | None
    group: str | None = None


@dataclass(frozen=True)
class SweepPoint:
    """One point of a sweep, as its run folder holds it.

    ``metrics`` is empty and ``clips`` None when the point has no report. ``classes``
    and ``emotions`` describe the label set (the mapping) its report was made with.
    """

    name: str
    override_items: tuple[str, ...] = ()
    status: str = "not reported"
    run_dir: Path | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    clips: tuple[ClipRow, ...] | None = None
    classes: tuple[str, ...] = ()
    emotions: tuple[tuple[str, str], ...] | None = None
    mapping_name: str | None = None

    @property
    def reported(self) -> bool:
        """Whether the point has a report (``report/metrics.json``)."""
        return bool(self.metrics)

    @property
    def overrides(self) -> str:
        """The point's overrides as one line, as given to it."""
        return " ".join(self.override_items)

    @property
    def label(self) -> str:
        """How plots and verdicts name the point: its overrides, else its folder name."""
        return self.overrides or self.name


def is_sweep_dir(path: Path) -> bool:
    return (path / "multirun.yaml").is_file() and not (path / MANIFEST).exists()


def sweep_runs(sweep_dir: Path) -> list[Path]:
    return sorted(
        (p.parent for p in sweep_dir.glob(f"*/{MANIFEST}")), key=lambda p: _point_number(p.name)
    )


def _point_number(name: str) -> tuple[int, str]:
    head = name.split("-", 1)[0]
    return (int(head), name) if head.isdigit() else (1 << 30, name)


def _overrides(run_dir: Path) -> tuple[str, ...]:
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return ()
    import yaml

    items = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return tuple(str(i) for i in items if not str(i).startswith(("hydra.", "output_root=")))


# ------------------------------------------------------------------ reading a point


def parse_videos_csv(text: str) -> tuple[tuple[ClipRow, ...], tuple[str, ...]]:
    """The clips of a ``report/videos.csv`` and its classes (the vote columns).

    A report written before the ``group`` column existed gives clips without groups.
    """
    reader = csv.DictReader(io.StringIO(text))
    header = list(reader.fieldnames or [])
    classes: tuple[str, ...] = ()
    if _VOTES_AFTER in header and _VOTES_BEFORE in header:
        classes = tuple(header[header.index(_VOTES_AFTER) + 1 : header.index(_VOTES_BEFORE)])

    def cell(row: dict[str, str | None], key: str) -> str | None:
        return row.get(key) or None

    clips = tuple(
        ClipRow(
            # A segment is named by its video and its start (a segmented run's videos.csv).
            video=segment_id(row["video"], int(row["start_frame"]))
            if row.get("start_frame")
            else row["video"],
            golden=cell(row, "golden"),
            predict=cell(row, "predict"),
            group=cell(row, "group"),
        )
        for row in reader
    )
    return clips, classes


def _mapping_of(
    metrics: Mapping[str, Any], manifest: dict[str, Any], classes: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...] | None, str | None]:
    """The report's label set: (classes, emotion -> class pairs or None, mapping name).

    The report's own config (metrics.json) wins, since ``femo reduce mapping=...`` changes
    the mapping after the run; the manifest is the fallback for older reports, trusted
    only where its classes match the report's vote columns.
    """
    for config in ((metrics.get("config") or {}), (manifest.get("config") or {})):
        mapping = config.get("mapping") or {}
        mapped = tuple(mapping.get("classes") or ())
        if mapped and (not classes or mapped == classes):
            emotions = mapping.get("emotions")
            pairs = (
                tuple(sorted((str(k), str(v)) for k, v in emotions.items())) if emotions else None
            )
            return mapped, pairs, mapping.get("name")
    return classes, None, None


def read_point(run_dir: Path, status: str | None = None, report: str = REPORT) -> SweepPoint:
    """Read one sweep point from its run folder (its report, when there is one)."""
    manifest = json.loads((run_dir / MANIFEST).read_text(encoding="utf-8"))
    metrics_path = run_dir / report / METRICS_FILE
    metrics = read_metrics(metrics_path) if metrics_path.is_file() else {}
    videos_path = run_dir / report / "videos.csv"
    clips, classes = None, ()
    if metrics and videos_path.is_file():
        clips, classes = parse_videos_csv(videos_path.read_text(encoding="utf-8"))
    classes, emotions, mapping_name = _mapping_of(metrics, manifest, classes)
    return SweepPoint(
        name=run_dir.name,
        override_items=_overrides(run_dir),
        status=status or ("done" if metrics else "not reported"),
        run_dir=run_dir,
        manifest=manifest,
        metrics=metrics,
        clips=clips,
        classes=classes,
        emotions=emotions,
        mapping_name=mapping_name,
    )


def read_sweep(
    sweep_dir: Path, status_of: dict[Path, str] | None = None, report: str = REPORT
) -> list[SweepPoint]:
    """Every point of a sweep, in point order, read from each run's ``report`` folder."""
    return [read_point(run, (status_of or {}).get(run), report) for run in sweep_runs(sweep_dir)]


# ------------------------------------------------------------------ the table


def point_summary(point: SweepPoint) -> dict[str, Any]:
    """The numbers of one point, unformatted (None where unknown)."""
    m = point.metrics
    ci = m.get("accuracy_ci")
    speed = m.get("throughput") or {}
    return {
        "point": point.name,
        "overrides": point.overrides,
        "override_items": list(point.override_items),
        "label": point.label,
        "status": point.status,
        "reported": point.reported,
        "n_videos": m.get("n_videos", point.manifest.get("n_clips")),
        "n_labelled": m.get("n_labelled"),
        "accuracy": m.get("accuracy"),
        "accuracy_ci": (float(ci[0]), float(ci[1])) if ci else None,
        "ci_unit": (m.get("ci") or {}).get("unit"),
        "ci_level": level_of(m) if ci else None,
        "macro_f1": m.get("macro_f1"),
        "frames_per_s": speed.get("frames_per_s"),
        "clips_per_hour_per_task": speed.get("clips_per_hour_per_task"),
        "mapping": point.mapping_name,
        "n_classes": len(point.classes) or None,
    }


def table_row(point: SweepPoint) -> dict[str, Any]:
    """The ``sweep.csv`` row of a point (the keys of :data:`COLUMNS`)."""
    s = point_summary(point)
    source = point.manifest.get("shards_from")
    ci = s["accuracy_ci"]
    return {
        "point": s["point"],
        "overrides": s["overrides"],
        "status": s["status"],
        "n_videos": s["n_videos"],
        "n_labelled": "" if s["n_labelled"] is None else s["n_labelled"],
        "accuracy": decimal(s["accuracy"]),
        "macro_f1": decimal(s["macro_f1"]),
        "shards_from": Path(source).name if source else "",
        "run_dir": str(point.run_dir or ""),
        "accuracy_ci_low": decimal(ci[0] if ci else None),
        "accuracy_ci_high": decimal(ci[1] if ci else None),
        "frames_per_s": decimal(s["frames_per_s"], 2),
    }


def sweep_rows(sweep_dir: Path, status_of: dict[Path, str] | None = None) -> list[dict[str, Any]]:
    """The ``sweep.csv`` rows of every point of a sweep, in point order."""
    return [table_row(p) for p in read_sweep(sweep_dir, status_of)]


# ------------------------------------------------------------------ paired comparisons


def _labelled(point: SweepPoint) -> dict[str, ClipRow]:
    return {c.video: c for c in point.clips or () if c.golden is not None}


def _label_set_text(point: SweepPoint) -> str:
    name = f"mapping {point.mapping_name}" if point.mapping_name else "label set"
    return f"{name} ({len(point.classes)} classes: {', '.join(point.classes)})"


def not_comparable_reason(a: SweepPoint, b: SweepPoint) -> str | None:
    """Why two reported points cannot be compared clip by clip; None when they can."""
    if a.classes != b.classes or (
        a.emotions is not None and b.emotions is not None and a.emotions != b.emotions
    ):
        return f"different label sets: {_label_set_text(a)} vs {_label_set_text(b)}"
    clips_a, clips_b = _labelled(a), _labelled(b)
    shared = clips_a.keys() & clips_b.keys()
    if not shared:
        return "no labelled clips in common"
    differ = sum(clips_a[v].golden != clips_b[v].golden for v in shared)
    if differ:
        return f"golden labels differ on {differ} shared clip(s) (another labels file or column)"
    return None


def compare_points(
    a: SweepPoint,
    b: SweepPoint,
    resamples: int = BOOTSTRAP.resamples,
    level: float = BOOTSTRAP.level,
    seed: int = BOOTSTRAP.seed,
) -> dict[str, Any]:
    """Paired comparison of B against A over the labelled clips both reported.

    Groups (the ``group`` column) are resampled when every compared clip has the same
    group in both reports and there are at least two groups; clips otherwise. Returns
    :func:`femo.results.stats.paired_comparison`'s dict plus ``a``, ``b`` (point names),
    ``a_label``, ``b_label``, ``n_groups``, ``n_labelled_a``, ``n_labelled_b``,
    ``verdict`` and ``beyond_chance``. Call :func:`not_comparable_reason` first.
    """
    from .stats import paired_comparison

    clips_a, clips_b = _labelled(a), _labelled(b)
    shared = sorted(clips_a.keys() & clips_b.keys())
    golden = [clips_a[v].golden for v in shared]
    predicted_a = [clips_a[v].predict for v in shared]
    predicted_b = [clips_b[v].predict for v in shared]
    groups_a = [clips_a[v].group for v in shared]
    groups = groups_a if groups_a == [clips_b[v].group for v in shared] else None
    # One group cannot be resampled (every replicate is the sample itself).
    if groups is not None and (None in groups or len(set(groups)) < 2):
        groups = None
    result = paired_comparison(
        golden, predicted_a, predicted_b, groups, resamples=resamples, level=level, seed=seed
    )
    result.update(
        a=a.name,
        b=b.name,
        a_label=a.label,
        b_label=b.label,
        n_groups=None if groups is None else len(set(groups)),
        n_labelled_a=len(clips_a),
        n_labelled_b=len(clips_b),
        level=level,
    )
    result["beyond_chance"] = beyond_chance(result)
    result["verdict"] = verdict(result)
    return result


def beyond_chance(comparison: dict[str, Any], alpha: float = 0.05) -> bool:
    """Whether the difference's interval excludes 0 and McNemar's p is below ``alpha``."""
    ci = comparison.get("difference_ci")
    excludes_zero = ci is not None and (ci.low > 0 or ci.high < 0)
    return excludes_zero and comparison["mcnemar_p"] < alpha


def verdict(comparison: dict[str, Any], alpha: float = 0.05) -> str:
    """The comparison in plain words (A and B as in :func:`compare_points`)."""
    if not beyond_chance(comparison, alpha):
        return "no difference beyond chance"
    if comparison["difference_ci"].low > 0:
        return "B is better than A beyond chance"
    return "A is better than B beyond chance"


def compare_sweep(
    points: Sequence[SweepPoint],
    max_points: int = MAX_COMPARED_POINTS,
    resamples: int = BOOTSTRAP.resamples,
    level: float = BOOTSTRAP.level,
    seed: int = BOOTSTRAP.seed,
) -> dict[str, Any]:
    """Every paired comparison of a sweep's reported points.

    Pairs grow quadratically, so at most ``max_points`` points take part: the most
    accurate ones (ties in point order). A is always the earlier point of a pair.

    Returns ``{"pairs": [compare_points dicts], "not_comparable": [{"a", "b", "a_label",
    "b_label", "reason"}], "not_reported": [names], "no_labels": [names],
    "left_out": [names of reported points over the cap], "max_points", "level"}``.
    """
    not_reported = [p.name for p in points if not p.reported]
    no_labels = [p.name for p in points if p.reported and not _labelled(p)]
    candidates = [p for p in points if p.reported and _labelled(p)]
    order = {p.name: i for i, p in enumerate(points)}
    left_out: list[str] = []
    if len(candidates) > max_points:
        ranked = sorted(
            candidates, key=lambda p: (-(p.metrics.get("accuracy") or 0.0), order[p.name])
        )
        kept = {p.name for p in ranked[:max_points]}
        left_out = [p.name for p in candidates if p.name not in kept]
        candidates = [p for p in candidates if p.name in kept]
    pairs, not_comparable = [], []
    for a, b in combinations(candidates, 2):
        reason = not_comparable_reason(a, b)
        if reason is None:
            pairs.append(compare_points(a, b, resamples=resamples, level=level, seed=seed))
        else:
            not_comparable.append(
                {"a": a.name, "b": b.name, "a_label": a.label, "b_label": b.label, "reason": reason}
            )
    return {
        "pairs": pairs,
        "not_comparable": not_comparable,
        "not_reported": not_reported,
        "no_labels": no_labels,
        "left_out": left_out,
        "max_points": max_points,
        "level": level,
    }


# ------------------------------------------------------------------ writing


def sweep_markdown(rows: list[dict[str, Any]], items: Sequence[Sequence[str]] = ()) -> str:
    """``sweep.md``: the table of :func:`table_row` rows. With ``items`` (each row's
    overrides one by one) the overrides every point shares are stated once above it and
    each row shows its own."""
    shared = shared_overrides(items)
    lines = ["# femo sweep", ""]
    if shared:
        lines += [f"Every point: `{' '.join(shared)}`; each row gives its own overrides.", ""]
    lines += [
        "| point | overrides | status | clips | labelled | accuracy | macro F1 | shards from |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for k, r in enumerate(rows):
        own = own_overrides(items[k], shared) if items else r["overrides"]
        acc = percent(float(r["accuracy"])) if r["accuracy"] else "-"
        lines.append(
            f"| {r['point']} | {f'`{own}`' if own else '-'} | {r['status']} | {r['n_videos']} "
            f"| {r['n_labelled']} | {acc} | {r['macro_f1'] or '-'} | {r['shards_from'] or '-'} |"
        )
    return "\n".join(lines) + "\n"


def write_sweep_table(
    sweep_dir: Path, status_of: dict[Path, str] | None = None, report: str = REPORT
) -> Path:
    """Write ``sweep.csv``, ``sweep.md`` and ``sweep.html`` in the sweep folder; returns
    the csv path. Reports other than the runs' own (``report-<overrides>``) get their
    own ``sweep-<overrides>.*`` files."""
    from .pages.sweep_html import accuracy_plot_png, sweep_html

    points = read_sweep(sweep_dir, status_of, report)
    stem = "sweep" + report[len(REPORT) :]
    rows = [table_row(p) for p in points]
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(sweep_dir / f"{stem}.csv", out.getvalue())
    write_text(sweep_dir / f"{stem}.md", sweep_markdown(rows, [p.override_items for p in points]))
    summaries = [point_summary(p) for p in points]
    # Hydra names sweeps DATE/TIME: the time alone would not say which sweep this is.
    title = f"{sweep_dir.parent.name}/{sweep_dir.name}"
    html = sweep_html(title, summaries, compare_sweep(points), accuracy_plot_png(summaries))
    write_text(sweep_dir / f"{stem}.html", html)
    return sweep_dir / f"{stem}.csv"


def sweep_launch_text(launcher: str, wait: bool = False) -> str:
    """What a sweep really does, said before Hydra's "Launching N jobs locally"."""
    clusters = {"slurm": "SLURM", "sge": "Grid Engine"}
    if launcher in clusters:
        after = "waits for it" if wait else "returns without waiting"
        return (
            f"launcher={launcher}: Hydra starts the sweep's points one after another in this "
            f'process (its "locally" below); each point submits its own {clusters[launcher]} '
            f"array job, one task per shard, and {after}: the shards run on the cluster"
        )
    if launcher == "none":
        return (
            "launcher=none: each sweep point plans its run folder and writes its array "
            "scripts; nothing is submitted or run"
        )
    return (
        f"launcher={launcher}: the sweep's points run one after another on this machine, "
        "each with its own worker processes"
    )


class SweepTableCallback(Callback):
    """Says what a Hydra multirun really does when it starts, and writes the sweep table
    when it has launched all its points."""

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        launcher = config.get("launcher") or {}
        print(
            f"femo: {sweep_launch_text(str(launcher.get('name')), bool(launcher.get('wait')))}",
            flush=True,
        )

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir)).resolve()
        if sweep_dir.is_dir():
            path = write_sweep_table(sweep_dir)
            print(f"femo: sweep table: {path}")
            if any(r["status"] != "done" for r in sweep_rows(sweep_dir)):
                print(f"femo: once the runs finish: femo reduce {sweep_dir}")
