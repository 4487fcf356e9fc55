"""``report.md``: the report for a terminal, rendered from the report model.

Pure: :func:`report_markdown` takes a :class:`~femo.results.model.Report` and returns the
text; the caller writes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..metrics import GroupProfile, Interval, Metrics, Predicted, answer_counts
from ..model import Report
from .formatting import (
    TITLE,
    ci_text,
    counts_text,
    decimal,
    in_sample_text,
    level_text,
    min_units_note,
    partial_text,
    percent,
    shares_text,
    top_text,
)
from .identities import identities_markdown
from .over_time import over_time_markdown

CiText = Callable[..., str]
# Wrong clips listed in report.md; videos.csv has them all.
MAX_WRONG_LISTED = 200


def _accuracy_lead(m: Metrics, _ci: CiText) -> list[str]:
    """The headline: the accuracy with its interval (why there is none is said on the
    intervals line, not here)."""
    compared = m.n_labelled if m.n_compared is None else m.n_compared
    return [
        f"**Accuracy: {percent(m.accuracy)}{_in_sample_mark(m)}**{_ci(m.accuracy_ci)} "
        f"({m.n_correct} of {compared} labelled clips"
        + (" present" if m.partial else "")
        + (
            f"; clips without a face abstain: coverage {percent(m.coverage)})"
            if m.no_face == "abstain"
            else ")"
        ),
    ]


def _in_sample_mark(m: Metrics) -> str:
    return " (in-sample)" if m.in_sample and m.in_sample.labelled else ""


def _predicted_lead(predicted: Predicted) -> list[str]:
    """A run without labels: what was predicted comes first."""
    return [
        f"**Predicted ({predicted.clips} clip{'s' * (predicted.clips != 1)}, no labels): "
        f"{counts_text(predicted.classes)}** ({predicted.no_face} without a face, "
        f"{predicted.failed} failed)",
        "",
        f"Top emotions: {top_text(predicted.emotion_share)} "
        f"(of {predicted.frames_with_face} frames with a face)",
    ]


def _described(m: Metrics) -> list[str]:
    """The Method line and the Labels line, each after a blank line."""
    lines = []
    for text in (m.method, m.labels_line):
        if text:
            lines += ["", text]
    return lines


def _counts_line(report: Report, bad: bool) -> str:
    """The answer's counts as one line: the clips, or (``bad``) what went wrong."""
    counts = answer_counts(report.metrics, report.scores_the_person)
    return "- " + "; ".join(f"{c.line}: {value}" for c, value in counts if c.bad == bad)


def _labelled_lines(report: Report, _ci: CiText, why: str | None) -> list[str]:
    """The figures against the labels: counts, per class, confusion."""
    m, classes = report.metrics, report.classes
    macro_f1 = "n/a" if m.macro_f1 is None else f"{m.macro_f1:.3f}"
    unit = m.ci.unit if m.ci else None
    resampled = {"group": "whole groups", "clip": "clips"}.get(unit or "", "")
    lines = [
        _counts_line(report, bad=False),
        f"- accuracy over clips with a prediction: {percent(m.accuracy_scored)}",
        f"- macro F1: {macro_f1}{_ci(m.macro_f1_ci, False)}",
        *(
            [f"- intervals: none ({why})"]
            if why
            else [
                f"- intervals: {level_text(m.level)} percentile bootstrap, resampling {resampled}"
            ]
            if resampled
            else []
        ),
        _counts_line(report, bad=True),
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
        pc = m.per_class[c]
        recall = decimal(pc.recall, 3, "n/a") + _ci(pc.recall_ci, False)
        lines.append(
            f"| {c} | {decimal(pc.precision, 3, 'n/a')} | {recall} "
            f"| {decimal(pc.f1, 3, 'n/a')} | {pc.support} |"
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
        lines.append(f"| {g} | " + " | ".join(str(m.confusion[g][c]) for c in cols) + " |")
    return lines


def _predicted_lines(m: Metrics, predicted: Predicted, labelled: bool) -> list[str]:
    """What was predicted for the unlabelled clips, and each one's profile."""
    lines = ["", f"## Predicted, unlabelled clips ({predicted.clips})", ""] if labelled else []
    lines += [
        f"- clips: {predicted.clips}; with a prediction: {predicted.with_prediction}; "
        f"no face in any sampled frame: {predicted.no_face}; failed: {predicted.failed}"
        + ("" if labelled else f"; missing (shard not done): {m.n_missing}"),
        f"- predicted classes (clips): {counts_text(predicted.classes)}",
        f"- top emotions (of {predicted.frames_with_face} frames with a face): "
        f"{top_text(predicted.emotion_share)}",
    ]
    profiles = m.clip_profiles or []
    if profiles:
        n = predicted.clips
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
            f"| {p.group} | {p.predict or '–'} | {p.frames_with_face} "
            f"| {top_text(p.emotion_share)} | {top_text(p.class_share)} |"
            for p in profiles
        ]
    return lines


def _group_row(g: GroupProfile, _ci: CiText, labelled: bool, classes: Sequence[str]) -> str:
    row = (
        f"| {g.group} | {g.clips} | {g.labelled} | {g.frames_with_face} "
        f"| {top_text(g.emotion_share)} | {shares_text(g.class_share, classes)} "
        f"| {shares_text(g.predicted_share, classes)} |"
    )
    if labelled:
        none = " (no interval)" if g.ci_withheld else ""
        row += f" {percent(g.accuracy, missing='–')}{_ci(g.accuracy_ci)}{none} |"
    return row


def _group_lines(m: Metrics, _ci: CiText, classes: Sequence[str]) -> list[str]:
    """Per group: clips, frames with a face, top emotions, the classes' shares of those
    frames, the shares of its clips predicted as each class (and accuracy, with labels);
    "–" where a group has no frame with a face."""
    groups = m.groups or []
    if not groups:
        return []
    labelled = bool(m.n_labelled)
    lines = [
        "",
        f"## Groups ({len(groups)})",
        "",
        "| group | clips | labelled | frames with a face | top emotions "
        "| classes (of those frames) | clips predicted as |" + (" accuracy |" if labelled else ""),
        "|---|---|---|---|---|---|---|" + ("---|" if labelled else ""),
    ]
    lines += [_group_row(g, _ci, labelled, classes) for g in groups]
    if labelled and any(g.ci_withheld for g in groups):
        lines += ["", min_units_note(m)]
    return lines


def _wrong_lines(report: Report) -> list[str]:
    """The labelled clips whose prediction (possibly none) is not their golden class."""
    wrong = [c for c in report.clips if c.wrong]
    if not wrong:
        return []
    classes = report.classes
    lines = [
        "",
        f"## Wrong clips ({len(wrong)})",
        "",
        "Labelled clips whose prediction differs from the golden class or is missing; "
        "votes: frames per class.",
        "",
        "| clip | group | golden | predicted | " + " | ".join(classes) + " | status |",
        "|---" * (len(classes) + 5) + "|",
    ]
    lines += [
        f"| {c.video} | {c.group or ''} | {c.golden} | {c.predict or '–'} | "
        + " | ".join(str(c.counts.get(k, 0)) for k in classes)
        + f" | {c.status} |"
        for c in wrong[:MAX_WRONG_LISTED]
    ]
    if len(wrong) > MAX_WRONG_LISTED:
        lines += ["", f"The first {MAX_WRONG_LISTED} of {len(wrong)}; videos.csv lists them all."]
    return lines


def _problem_lines(report: Report) -> list[str]:
    """The clips that need a look, and the clips and labels listed apart."""
    problems = [r for r in report.clips if r.status != "ok"]
    lines = []
    if problems:
        lines += ["", "## Clips that need a look", "", "| clip | status | message |",
                  "|---|---|---|"]  # fmt: skip
        lines += [f"| {r.video} | {r.status} | {r.message or ''} |" for r in problems]
    m = report.metrics
    for items, title in (
        (m.unlabelled, "Unlabelled clips"),
        (m.missing_clips, "Labels whose clip is missing"),
        (m.unknown_labels, "Labels outside the mapping (treated as unlabelled)"),
    ):
        if items:
            lines += ["", f"## {title} ({len(items)})", ""]
            if isinstance(items, dict):
                lines += [f"- {k}: {v}" for k, v in items.items()]
            else:
                lines += [f"- {v}" for v in items]
    return lines


def report_markdown(report: Report) -> str:
    """The whole of ``report.md``."""
    m = report.metrics
    level = m.level

    def _ci(interval: Interval | None, as_percent: bool = True) -> str:
        return ci_text(interval, level, as_percent)

    why = m.ci.withheld if m.ci else None
    lines = [f"# {TITLE}", ""]
    if m.partial:
        lines += [f"**{partial_text(m)}.**", ""]
    if in_sample := in_sample_text(m):
        lines += [f"**IN-SAMPLE: {in_sample}.**", ""]
    predicted = m.predicted
    if not m.n_labelled and predicted:
        lines += [*_predicted_lead(predicted), *_described(m), ""]
        lines += _predicted_lines(m, predicted, labelled=False)
    else:
        lines += [*_accuracy_lead(m, _ci), *_described(m), ""]
        lines += _labelled_lines(report, _ci, why)
        lines += _wrong_lines(report)
        if predicted:
            lines += _predicted_lines(m, predicted, labelled=True)
    lines += _group_lines(m, _ci, report.classes)
    lines += identities_markdown(m.identities)
    lines += over_time_markdown(m)
    lines += _problem_lines(report)
    speed = m.throughput.lines if m.throughput else []
    if speed:
        lines += ["", "## Throughput", "", *[f"- {line}" for line in speed]]
    lines += ["", "## Settings", "", "```yaml", (m.settings_yaml or "").rstrip(), "```"]
    return "\n".join(lines) + "\n"
