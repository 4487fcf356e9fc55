"""Report stage: ``videos.csv``, ``metrics.json``, ``report.md`` and ``index.html``."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from ..config import DETECTOR_SETTINGS_UNUSED
from ..dataset import SEGMENT_COLUMNS, Segment
from ..rundir import write_text
from .metrics import METRICS_FILE, Metrics
from .pages.formatting import (
    ci_text,
    counts_text,
    decimal,
    level_of,
    level_text,
    min_units_note,
    partial_text,
    percent,
    scores_the_person,
    top_text,
)
from .pages.identities import identities_csv_text, identities_markdown
from .pages.over_time import over_time_markdown
from .reduce import ClipResult


def videos_csv_text(
    results: list[ClipResult], classes: tuple[str, ...], spans: dict[str, Segment] | None = None
) -> str:
    """``videos.csv``: one row per clip; in a segmented run (``spans``: each segment by its
    clip id) ``video`` is the segment's file, followed by its span."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "video",
            *(SEGMENT_COLUMNS if spans else ()),
            "group",
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
                *(_span_cells(r.video, spans) if spans else [r.video]),
                r.group or "",
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


def _span_cells(video: str, spans: dict[str, Segment]) -> list[Any]:
    """A clip's file and span cells (empty for a whole file in a segmented run)."""
    seg = spans.get(video)
    if seg is None:
        return [video, "", "", "", ""]
    cells = (seg.start_frame, seg.end_frame, seg.start_s, seg.end_s)
    return [seg.file, *("" if v is None else v for v in cells)]


def clip_rows(results: list[ClipResult]) -> list[dict[str, Any]]:
    """The clip table of the HTML report: one dict per clip."""
    return [
        {
            "video": r.video,
            "group": r.group,
            "golden": r.golden,
            "predict": r.predict,
            "status": r.status,
            "frames_sampled": r.frames_sampled,
            "frames_with_face": r.frames_with_face,
            "face_rate": r.face_rate,
            "votes": dict(r.counts),
            "message": r.message,
        }
        for r in results
    ]


def groups_csv_text(groups: list[dict[str, Any]], classes: list[str], emotions: list[str]) -> str:
    """``groups.csv``: one row per group, its counts, shares and accuracy with interval."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "group", "clips", "labelled", "frames_with_face", "accuracy", "accuracy_ci_low",
            "accuracy_ci_high", *(f"share_{e}" for e in emotions),
            *(f"mean_score_{e}" for e in emotions), *(f"class_share_{c}" for c in classes),
            *(f"predicted_share_{c}" for c in classes),
        ]
    )  # fmt: skip
    for g in groups:
        ci = g.get("accuracy_ci") or [None, None]
        # A group without a face has no shares: empty cells, not zeros.
        emotion, cls, pred = (
            g[k] or {} for k in ("emotion_share", "class_share", "predicted_share")
        )
        writer.writerow(
            [
                g["group"], g["clips"], g["labelled"], g["frames_with_face"],
                "" if g["accuracy"] is None else round(g["accuracy"], 6),
                "" if ci[0] is None else ci[0], "" if ci[1] is None else ci[1],
                *(emotion.get(e, "") for e in emotions),
                *("" if g["emotion_mean_score"][e] is None else g["emotion_mean_score"][e]
                  for e in emotions),
                *(cls.get(c, "") for c in classes),
                *(pred.get(c, "") for c in classes),
            ]
        )  # fmt: skip
    return out.getvalue()


def settings_yaml(config: dict[str, Any]) -> str:
    """The run's settings as YAML, with only the keys of the detector it used."""
    import yaml

    settings = {k: v for k, v in config.items()}
    detector = dict(settings.get("detector") or {})
    unused = DETECTOR_SETTINGS_UNUSED.get(detector.get("name"), ())
    settings["detector"] = {k: v for k, v in detector.items() if k not in unused}
    return yaml.safe_dump(settings, sort_keys=False, default_flow_style=None, width=100)


def _accuracy_lead(m: dict[str, Any], _ci: Any, why: str | None) -> list[str]:
    return [
        f"**Accuracy: {percent(m['accuracy'])}**{_ci(m.get('accuracy_ci'))}"
        + (f" ({why})" if why and m["accuracy"] is not None else "")
        + " "
        f"({m['n_correct']} of {m.get('n_compared', m['n_labelled'])} labelled clips"
        + (" present" if m.get("partial") else "")
        + (
            f"; clips without a face abstain: coverage {percent(m.get('coverage'))})"
            if m.get("no_face") == "abstain"
            else ")"
        ),
    ]


def _predicted_lead(predicted: dict[str, Any]) -> list[str]:
    """A run without labels: what was predicted comes first."""
    return [
        f"**Predicted ({predicted['clips']} clip{'s' * (predicted['clips'] != 1)}, no labels): "
        f"{counts_text(predicted['classes'])}** ({predicted['no_face']} without a face, "
        f"{predicted['failed']} failed)",
        "",
        f"Top emotions: {top_text(predicted['emotion_share'])} "
        f"(of {predicted['frames_with_face']} frames with a face)",
    ]


def _described(m: dict[str, Any]) -> list[str]:
    """The Method line and the Labels line, each after a blank line."""
    lines = []
    for key in ("method", "labels_line"):
        if m.get(key):
            lines += ["", m[key]]
    return lines


def _labelled_lines(
    m: dict[str, Any],
    classes: tuple[str, ...],
    _ci: Any,
    macro_f1: str,
    why: str | None,
    resampled: str,
    level: float,
) -> list[str]:
    """The figures against the labels: counts, per class, confusion."""
    lines = [
        f"- clips: {m['n_videos']}; labelled: {m['n_labelled']}; labelled with a prediction: "
        f"{m['n_scored']}",
        f"- accuracy over clips with a prediction: {percent(m['accuracy_scored'])}",
        f"- macro F1: {macro_f1}{_ci(m.get('macro_f1_ci'), False)}",
        *(
            [f"- intervals: none ({why})"]
            if why
            else [f"- intervals: {level_text(level)} percentile bootstrap, resampling {resampled}"]
            if resampled
            else []
        ),
        f"- clips with no face in any sampled frame: {m['n_no_face']}; "
        + (
            f"with faces but none of their person: {m['n_person_absent']}; "
            if scores_the_person(m)
            else ""
        )
        + f"failed: {m['n_failed']}; missing (shard not done): {m['n_missing']}",
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
        recall = decimal(pc["recall"], 3, "n/a") + _ci(pc.get("recall_ci"), False)
        lines.append(
            f"| {c} | {decimal(pc['precision'], 3, 'n/a')} | {recall} "
            f"| {decimal(pc['f1'], 3, 'n/a')} | {pc['support']} |"
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
    return lines


def _predicted_lines(m: dict[str, Any], predicted: dict[str, Any], labelled: bool) -> list[str]:
    """What was predicted for the unlabelled clips, and each one's profile."""
    lines = ["", f"## Predicted, unlabelled clips ({predicted['clips']})", ""] if labelled else []
    lines += [
        f"- clips: {predicted['clips']}; with a prediction: {predicted['with_prediction']}; "
        f"no face in any sampled frame: {predicted['no_face']}; failed: {predicted['failed']}"
        + ("" if labelled else f"; missing (shard not done): {m['n_missing']}"),
        f"- predicted classes (clips): {counts_text(predicted['classes'])}",
        f"- top emotions (of {predicted['frames_with_face']} frames with a face): "
        f"{top_text(predicted['emotion_share'])}",
    ]
    profiles = m.get("clip_profiles") or []
    if profiles:
        n = predicted["clips"]
        shown = (
            f"all {n}"
            if len(profiles) >= n
            else f"the {len(profiles)} of {n} with the most frames with a face"
        )
        lines += [
            "",
            f"### Per clip ({shown})",
            "",
            "| clip | predicted | frames with a face | top emotions | classes (of those frames) |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {p['group']} | {p['predict'] or '–'} | {p['frames_with_face']} "
            f"| {top_text(p['emotion_share'])} | {top_text(p['class_share'])} |"
            for p in profiles
        ]
    return lines


def _group_lines(m: dict[str, Any], _ci: Any) -> list[str]:
    """Per group: clips, frames with a face, top emotions (and accuracy, with labels);
    "–" where a group has no frame with a face."""
    groups = m.get("groups") or []
    if not groups:
        return []
    labelled = bool(m["n_labelled"])
    lines = [
        "",
        f"## Groups ({len(groups)})",
        "",
        "| group | clips | labelled | frames with a face | top emotions |"
        + (" accuracy |" if labelled else ""),
        "|---|---|---|---|---|" + ("---|" if labelled else ""),
    ]
    for g in groups:
        row = (
            f"| {g['group']} | {g['clips']} | {g['labelled']} | {g['frames_with_face']} "
            f"| {top_text(g['emotion_share'])} |"
        )
        if labelled:
            none = " (no interval)" if g.get("ci_withheld") else ""
            accuracy = percent(g["accuracy"], missing="–")
            row += f" {accuracy}{_ci(g.get('accuracy_ci'))}{none} |"
        lines.append(row)
    if labelled and any(g.get("ci_withheld") for g in groups):
        lines += ["", min_units_note(m)]
    return lines


def report_markdown(
    metrics: dict[str, Any], results: list[ClipResult], classes: tuple[str, ...]
) -> str:
    m = metrics
    level = level_of(m)

    def _ci(interval: list[float] | None, as_percent: bool = True) -> str:
        return ci_text(interval, level, as_percent)

    macro_f1 = "n/a" if m["macro_f1"] is None else f"{m['macro_f1']:.3f}"
    unit = (m.get("ci") or {}).get("unit")
    why = (m.get("ci") or {}).get("withheld")
    resampled = {"group": "whole groups", "clip": "clips"}.get(unit or "", "")
    lines = []
    if m.get("partial"):
        lines += [f"**{partial_text(m)}.**", ""]
    predicted = m.get("predicted")
    if not m["n_labelled"] and predicted:
        lines += [*_predicted_lead(predicted), *_described(m), "", "# femo report", ""]
        lines += _predicted_lines(m, predicted, labelled=False)
    else:
        lines += [*_accuracy_lead(m, _ci, why), *_described(m), "", "# femo report", ""]
        lines += _labelled_lines(m, classes, _ci, macro_f1, why, resampled, level)
        if predicted:
            lines += _predicted_lines(m, predicted, labelled=True)
    lines += _group_lines(m, _ci)
    lines += identities_markdown(m.get("identities"))
    lines += over_time_markdown(m.get("over_time") or [])
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
    lines += ["", "## Settings", "", "```yaml", settings_yaml(m.get("config", {})).rstrip(), "```"]
    return "\n".join(lines) + "\n"


def write_report(
    folder: Path,
    results: list[ClipResult],
    metrics: dict[str, Any],
    classes: tuple[str, ...],
    sheets_html: str = "",
    spans: dict[str, Segment] | None = None,
) -> Path:
    """Write the report files into ``folder``, each atomically; returns the folder.
    ``sheets_html`` is the page's section of contact sheets (none when empty); ``spans``
    the segments of a segmented run, by clip id."""
    from .pages.html_report import render_index_html

    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / "videos.csv", videos_csv_text(results, classes, spans))
    if metrics.get("groups"):
        emotions = list(metrics.get("emotions") or [])
        write_text(
            folder / "groups.csv", groups_csv_text(metrics["groups"], list(classes), emotions)
        )
    if metrics.get("identities"):
        text = identities_csv_text(metrics["identities"], list(classes))
        write_text(folder / "identities.csv", text)
    # The reference faces' crops are the page's pictures, not figures.
    identities = {k: v for k, v in (metrics.get("identities") or {}).items() if k != "crops"}
    Metrics.from_json({**metrics, "identities": identities or None}).write(folder / METRICS_FILE)
    write_text(folder / "report.md", report_markdown(metrics, results, classes))
    write_text(folder / "index.html", render_index_html(metrics, clip_rows(results), sheets_html))
    return folder
