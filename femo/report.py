"""Report stage: ``report/videos.csv``, ``report/metrics.json`` and ``report/report.md``."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from .reduce import ClipResult
from .rundir import write_json, write_text


def videos_csv_text(results: list[ClipResult], classes: tuple[str, ...]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "video",
            "predict",
            "golden",
            "status",
            "frames_sampled",
            "frames_with_face",
            *classes,
            "message",
        ]
    )
    for r in results:
        writer.writerow(
            [
                r.video,
                r.predict or "",
                r.golden or "",
                r.status,
                r.frames_sampled,
                r.frames_with_face,
                *(r.counts.get(c, 0) for c in classes),
                r.message or "",
            ]
        )
    return out.getvalue()


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def report_markdown(
    metrics: dict[str, Any], results: list[ClipResult], classes: tuple[str, ...]
) -> str:
    m = metrics
    macro_f1 = "n/a" if m["macro_f1"] is None else f"{m['macro_f1']:.3f}"
    lines = [
        f"**Accuracy: {_pct(m['accuracy'])}** ({m['n_correct']} of {m['n_labelled']} labelled clips)",
        "",
        "# femo report",
        "",
        f"- clips: {m['n_videos']}; labelled: {m['n_labelled']}; with a prediction: {m['n_scored']}",
        f"- accuracy over clips with a prediction: {_pct(m['accuracy_scored'])}",
        f"- macro F1: {macro_f1}",
        f"- clips with no face in any sampled frame: {m['n_no_face']}; failed: {m['n_failed']}; "
        f"missing (shard not done): {m['n_missing']}",
        "",
        "A labelled clip without a prediction (no face found, or the clip failed) counts as "
        "wrong in the accuracy above.",
        "",
        "## Per class",
        "",
        "| class | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
    ]
    for c in classes:
        pc = m["per_class"][c]
        lines.append(
            f"| {c} | {pc['precision']:.3f} | {pc['recall']:.3f} | {pc['f1']:.3f} | {pc['support']} |"
        )
    cols = [*classes, "none"]
    lines += [
        "",
        "## Confusion (rows: golden, columns: predicted)",
        "",
        "| golden | " + " | ".join(cols) + " |",
    ]
    lines.append("|---" * (len(cols) + 1) + "|")
    for g in classes:
        lines.append(f"| {g} | " + " | ".join(str(m["confusion"][g][c]) for c in cols) + " |")
    problems = [r for r in results if r.status not in ("ok",)]
    if problems:
        lines += [
            "",
            "## Clips that need a look",
            "",
            "| clip | status | message |",
            "|---|---|---|",
        ]
        lines += [f"| {r.video} | {r.status} | {r.message or ''} |" for r in problems]
    for key, title in (
        ("unlabelled", "Unlabelled clips"),
        ("missing_clips", "Labels whose clip is missing"),
        ("unknown_labels", "Labels outside the mapping (treated as unlabelled)"),
    ):
        items = m.get(key) or []
        if items:
            lines += ["", f"## {title} ({len(items)})", ""]
            if isinstance(items, dict):
                lines += [f"- {k}: {v}" for k, v in items.items()]
            else:
                lines += [f"- {v}" for v in items]
    speed = (m.get("throughput") or {}).get("lines") or []
    if speed:
        lines += ["", "## Throughput", "", *[f"- {line}" for line in speed]]
    cfg = m.get("config", {})
    lines += [
        "",
        "## Settings",
        "",
        f"- detector: {cfg.get('detector')}",
        f"- sampling: {cfg.get('sampling')}",
        f"- mapping: {cfg.get('mapping', {}).get('name')}; reduce: {cfg.get('reduce')}",
    ]
    return "\n".join(lines) + "\n"


def write_report(
    folder: Path, results: list[ClipResult], metrics: dict[str, Any], classes: tuple[str, ...]
) -> Path:
    """Write the three report files into ``folder`` atomically; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / "videos.csv", videos_csv_text(results, classes))
    write_json(folder / "metrics.json", metrics)
    write_text(folder / "report.md", report_markdown(metrics, results, classes))
    return folder
