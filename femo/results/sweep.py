"""Sweeps: a Hydra multirun makes one run per point under a sweep folder; the sweep
table (``sweep.csv``, ``sweep.md``, ``sweep.html``) compares them and fills in as runs
complete.

Each point is read typed: its report's ``metrics.json``
(:func:`~femo.results.metrics.read_metrics`) and ``videos.csv``
(:func:`~femo.results.tables.read_videos_csv`, by column name). ``sweep.html`` adds what a
table of accuracies cannot say on its own: each accuracy's interval, and for every two
points run over the same labelled clips whether their difference is bigger than chance
(:mod:`femo.results.sweep_compare`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ..config import ConfigError, MappingConfig, from_saved
from ..rundir import REPORT, ReportFolder, RunDir, RunDirError, SweepFolder, write_text
from .metrics import Metrics, read_metrics
from .pages.formatting import decimal, own_overrides, percent, shared_overrides
from .sweep_data import PointSummary, SweepPoint
from .tables import read_videos_csv


def is_sweep_dir(path: Path) -> bool:
    return SweepFolder(path).is_sweep()


def sweep_runs(sweep_dir: Path) -> list[Path]:
    return sorted(SweepFolder(sweep_dir).point_folders(), key=lambda p: _point_number(p.name))


def _point_number(name: str) -> tuple[int, str]:
    head = name.split("-", 1)[0]
    return (int(head), name) if head.isdigit() else (1 << 30, name)


def _overrides(run_dir: Path) -> tuple[str, ...]:
    path = RunDir(run_dir).hydra_overrides_file
    if not path.is_file():
        return ()
    import yaml

    items = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return tuple(str(i) for i in items if not str(i).startswith(("hydra.", "output_root=")))


# ------------------------------------------------------------------ reading a point


def _mapping(config: dict[str, Any] | None) -> MappingConfig | None:
    """The mapping a saved config names (None: no config, or one femo cannot read)."""
    try:
        return from_saved(config).mapping if config else None
    except (ConfigError, TypeError, ValueError):
        return None


def _saved_mapping(run_dir: Path) -> MappingConfig | None:
    """The mapping a run was planned with (None: one femo cannot read)."""
    try:
        return RunDir(run_dir).config().mapping
    except (RunDirError, ConfigError, TypeError, ValueError):
        return None


def _label_set(
    metrics: Metrics, run_dir: Path, voted: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...] | None, str | None]:
    """The report's label set: (classes, emotion -> class pairs or None, mapping name).

    The report's own config wins, since ``femo reduce mapping=...`` changes the mapping
    after the run; the manifest is the fallback for older reports, trusted only where
    its classes match the report's (``metrics.json``'s, or ``voted``: the vote columns of
    its ``videos.csv``).
    """
    classes = tuple(metrics.classes or voted)
    for mapping in (_mapping(metrics.config), _saved_mapping(run_dir)):
        if mapping is not None and (not classes or mapping.classes == classes):
            return mapping.classes, tuple(sorted(mapping.emotions.items())), mapping.name
    return classes, None, None


def read_point(run_dir: Path, status: str | None = None, report: str = REPORT) -> SweepPoint:
    """Read one sweep point from its run folder (its report, when there is one)."""
    manifest = json.loads(RunDir(run_dir).manifest_file.read_text(encoding="utf-8"))
    folder = ReportFolder(run_dir / report)
    if not folder.metrics_json.is_file():
        overrides = _overrides(run_dir)
        return SweepPoint(run_dir.name, overrides, status or "not reported", run_dir, manifest)
    metrics = read_metrics(folder.metrics_json)
    videos = folder.videos_csv
    clips, voted = read_videos_csv(videos) if videos.is_file() else (None, ())
    classes, emotions, mapping_name = _label_set(metrics, run_dir, voted)
    return SweepPoint(
        name=run_dir.name,
        override_items=_overrides(run_dir),
        status=status or "done",
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


def point_summary(point: SweepPoint) -> PointSummary:
    """The numbers of one point, unformatted (None where unknown)."""
    m = point.metrics
    ci = m.accuracy_ci if m else None
    speed = m.throughput if m else None
    return PointSummary(
        point=point.name,
        overrides=point.overrides,
        override_items=point.override_items,
        label=point.label,
        status=point.status,
        reported=point.reported,
        n_videos=m.n_videos if m else point.manifest.get("n_clips"),
        n_labelled=m.n_labelled if m else None,
        accuracy=m.accuracy if m else None,
        accuracy_ci=(float(ci[0]), float(ci[1])) if ci else None,
        ci_unit=m.ci.unit if m and m.ci else None,
        ci_level=m.level if ci else None,
        macro_f1=m.macro_f1 if m else None,
        frames_per_s=speed.frames_per_s if speed else None,
        clips_per_hour_per_task=speed.clips_per_hour_per_task if speed else None,
        mapping=point.mapping_name,
        n_classes=len(point.classes) or None,
    )


@dataclass(frozen=True)
class SweepRow:
    """A point's row of ``sweep.csv`` (formatted; empty where unknown), in column order."""

    point: str
    overrides: str
    status: str
    n_videos: int | None
    n_labelled: int | str
    accuracy: str
    macro_f1: str
    shards_from: str
    run_dir: str
    # Added later: kept at the end so readers that index columns keep working.
    accuracy_ci_low: str
    accuracy_ci_high: str
    frames_per_s: str


COLUMNS = [f.name for f in fields(SweepRow)]


def table_row(point: SweepPoint) -> SweepRow:
    """The ``sweep.csv`` row of a point."""
    s = point_summary(point)
    source = point.manifest.get("shards_from")
    ci = s.accuracy_ci
    return SweepRow(
        point=s.point,
        overrides=s.overrides,
        status=s.status,
        n_videos=s.n_videos,
        n_labelled="" if s.n_labelled is None else s.n_labelled,
        accuracy=decimal(s.accuracy),
        macro_f1=decimal(s.macro_f1),
        shards_from=Path(source).name if source else "",
        run_dir=str(point.run_dir or ""),
        accuracy_ci_low=decimal(ci[0] if ci else None),
        accuracy_ci_high=decimal(ci[1] if ci else None),
        frames_per_s=decimal(s.frames_per_s, 2),
    )


def sweep_rows(sweep_dir: Path, status_of: dict[Path, str] | None = None) -> list[SweepRow]:
    """The ``sweep.csv`` rows of every point of a sweep, in point order."""
    return [table_row(p) for p in read_sweep(sweep_dir, status_of)]


# ------------------------------------------------------------------ writing


def sweep_markdown(rows: list[SweepRow], items: Sequence[Sequence[str]] = ()) -> str:
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
        own = own_overrides(items[k], shared) if items else r.overrides
        acc = percent(float(r.accuracy)) if r.accuracy else "-"
        lines.append(
            f"| {r.point} | {f'`{own}`' if own else '-'} | {r.status} | {r.n_videos} "
            f"| {r.n_labelled} | {acc} | {r.macro_f1 or '-'} | {r.shards_from or '-'} |"
        )
    return "\n".join(lines) + "\n"


def write_sweep_table(
    sweep_dir: Path, status_of: dict[Path, str] | None = None, report: str = REPORT
) -> Path:
    """Write ``sweep.csv``, ``sweep.md`` and ``sweep.html`` in the sweep folder; returns
    the csv path. Reports other than the runs' own (``report-<overrides>``) get their
    own ``sweep-<overrides>.*`` files."""
    from .pages.sweep_html import accuracy_plot_png, sweep_html
    from .sweep_compare import compare_sweep

    points = read_sweep(sweep_dir, status_of, report)
    folder = SweepFolder(sweep_dir)
    rows = [table_row(p) for p in points]
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(asdict(r) for r in rows)
    write_text(folder.table_file(report, "csv"), out.getvalue())
    markdown = sweep_markdown(rows, [p.override_items for p in points])
    write_text(folder.table_file(report, "md"), markdown)
    summaries = [point_summary(p) for p in points]
    # Hydra names sweeps DATE/TIME: the time alone would not say which sweep this is.
    title = f"{sweep_dir.parent.name}/{sweep_dir.name}"
    html = sweep_html(title, summaries, compare_sweep(points), accuracy_plot_png(summaries))
    write_text(folder.table_file(report, "html"), html)
    return folder.table_file(report, "csv")


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
