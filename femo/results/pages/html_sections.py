"""The sections of ``report/index.html`` below the answer: confusion, profiles,
timelines, clips, faces, provenance and a learnt head's figures, each rendered from the
report model (:class:`~femo.results.model.Report`, its typed figures)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from ..metrics import FitSummary, GroupProfile, Identities, Metrics
from ..model import ClipResult, Report
from . import plots
from .formatting import min_units_note, p_value, points, top_text
from .html_parts import esc, h2, img, legend, level_label, pct, span, table, td, with_ci

# The clip table and the lists stop here; the full lists are in videos.csv.
MAX_CLIP_ROWS = 2000
MAX_LIST_ITEMS = 500
MAX_PROFILE_GROUPS = 60
MAX_TIMELINES = 48


def order_clips(clips: Sequence[ClipResult]) -> list[ClipResult]:
    """Wrong clips first, then the rest, each in the given order."""
    return [c for c in clips if c.wrong] + [c for c in clips if not c.wrong]


def confusion_section(metrics: Metrics, classes: Sequence[str]) -> str:
    confusion = metrics.confusion or {}
    out = [h2("confusion")]
    if not classes:
        return out[0] + "<p>No classes in the metrics.</p>"
    if any(sum((confusion.get(c) or {}).values()) for c in classes):
        out.append(
            "<figure>"
            + img(plots.confusion_png(confusion, classes), "confusion heat map", 760)
            + "<figcaption>Rows: golden class; columns: predicted class, <i>none</i> = no "
            "prediction (no face or failed). Each cell: clips and share of its row.</figcaption>"
            "</figure>"
        )
    else:
        out.append("<p>No labelled clips, so no confusion table.</p>")
    per_class = metrics.per_class or {}
    rows = []
    for c in classes:
        pc = per_class.get(c)

        def num(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.3f}"

        rows.append(
            "<tr>"
            + td(c)
            + td(num(pc.precision if pc else None), True)
            + td(with_ci(pc and pc.recall, pc and pc.recall_ci, as_percent=False), True)
            + td(num(pc.f1 if pc else None), True)
            + td(pc.support if pc else None, True)
            + "</tr>"
        )
    head = [
        ("class", False),
        ("precision", True),
        (f"recall ({esc(level_label(metrics))} CI)", True),
        ("F1", True),
        ("support", True),
    ]
    out.append(table(head, rows))
    return "".join(out)


def profiles_section(report: Report, emotions: Sequence[str], classes: Sequence[str]) -> str:
    """Per group (person) and, for the unlabelled clips, per clip: the 7 emotions' and the
    classes' shares of their frames with a face, drawn and listed."""
    return (
        h2("profiles")
        + _group_profiles(report, emotions, classes)
        + _clip_profiles(report.metrics, emotions, classes)
    )


def _profiles_figure(bars: Sequence[plots.Bar], emotions, classes, alt: str) -> str:
    return (
        "<figure>"
        + img(plots.profiles_png(bars, emotions, classes), alt)
        + "<figcaption>Left: the share of the frames with a face whose top emotion is each of "
        "the seven. Right: the same frames by mapping class. In brackets: those frames "
        "(face frames) and the clips they come from; no bar where no face was "
        "found.</figcaption></figure>"
    )


def _group_bar(g: GroupProfile) -> plots.Bar:
    return plots.Bar(g.group, g.clips, g.frames_with_face, g.emotion_share, g.class_share)


def _no_groups(report: Report) -> str:
    pattern = report.config.dataset.group_pattern
    if pattern:
        return (
            f'<p id="no-groups">dataset.group_pattern <code>{html.escape(repr(pattern))}</code> '
            "matches no clip id, so no clip has a group and no profile per person is shown.</p>"
        )
    return (
        '<p id="no-groups">No groups (persons) are known for this run. To get a profile '
        "per person, tell femo which clips belong together: "
        "<code>dataset.group_column=COLUMN</code> (a column of the labels file) or "
        "<code>dataset.group_pattern=REGEX</code> (its first capture group, searched in "
        "each clip id, e.g. <code>'^([a-z]+)_'</code>).</p>"
    )


def _group_profiles(report: Report, emotions: Sequence[str], classes: Sequence[str]) -> str:
    metrics = report.metrics
    groups = list(metrics.groups or [])
    if not groups:
        return _no_groups(report)
    out = []
    shown, capped = plots.select_groups(groups, MAX_PROFILE_GROUPS)
    if capped:
        out.append(
            f'<p class="note" id="profiles-capped">The figure shows the {len(shown)} groups '
            f"with the most clips, of {len(groups)}; the table below lists all of them.</p>"
        )
    bars = [_group_bar(g) for g in shown]
    out.append(_profiles_figure(bars, emotions, classes, "per-person profiles"))
    labelled = bool(metrics.n_labelled)
    rows = [_group_row(g, classes, labelled) for g in groups]
    head = [
        ("group", False),
        ("clips", True),
        ("labelled", True),
        ("frames with a face", True),
        ("top emotion (of those frames)", False),
        ("clips predicted as", False),
    ]
    if labelled:
        head.append((f"accuracy ({esc(level_label(metrics))} CI)", True))
    out.append(table(head, rows))
    if labelled and any(g.ci_withheld for g in groups):
        out.append(f'<p class="note" id="min-units">{esc(min_units_note(metrics))}</p>')
    return "".join(out)


def _group_row(g: GroupProfile, classes: Sequence[str], labelled: bool) -> str:
    """One group's row; "–" for everything a group without a face frame cannot have."""
    emotion_share = g.emotion_share or {}
    top = max(emotion_share, key=lambda k: emotion_share[k] or 0) if emotion_share else None
    predicted = g.predicted_share or {}
    pred_text = ", ".join(
        f"{c}\u00a0{pct(predicted.get(c), 0)}".replace(" %", "\u00a0%")
        for c in classes
        if c in predicted
    )
    cells = (
        td(g.group)
        + td(g.clips, True)
        + td(g.labelled, True)
        + td(g.frames_with_face, True)
        + td(top)
        + td(pred_text or None)
    )
    if labelled:
        accuracy = (
            with_ci(g.accuracy, g.accuracy_ci) + (" (no interval)" if g.ci_withheld else "")
            if g.frames_with_face
            else None
        )
        cells += td(accuracy, True)
    return f"<tr>{cells}</tr>"


def identities_figure(
    identities: Identities | None, emotions: Sequence[str], classes: Sequence[str]
) -> str:
    """Each reference person's profile (and the faces matched to nobody), drawn."""
    persons = identities.persons if identities else []
    if not persons:
        return ""
    bars = [
        plots.Bar(p.person, p.clips, p.faces, p.emotion_share, p.class_share, "faces")
        for p in persons
    ]
    return _profiles_figure(bars, emotions, classes, "per-identity profiles")


def _clip_profiles(metrics: Metrics, emotions: Sequence[str], classes: Sequence[str]) -> str:
    """The unlabelled clips' own profiles (those with the most frames with a face)."""
    profiles = list(metrics.clip_profiles or [])
    if not profiles:
        return ""
    n = metrics.predicted.clips if metrics.predicted else len(profiles)
    which = (
        f"all {n} unlabelled clips"
        if len(profiles) >= n
        else f"the {len(profiles)} unlabelled clips (of {n}) with the most frames with a face"
    )
    rows = [
        "<tr>"
        + td(p.group)
        + td(p.predict)
        + td(p.frames_with_face, True)
        + td(top_text(p.emotion_share, space=True))
        + td(top_text(p.class_share, space=True))
        + "</tr>"
        for p in profiles
    ]
    head = [
        ("clip", False),
        ("predicted", False),
        ("frames with a face", True),
        ("top emotions (of those frames)", False),
        ("classes (of those frames)", False),
    ]
    bars = [
        plots.Bar(p.group, p.clips, p.frames_with_face, p.emotion_share, p.class_share)
        for p in profiles
    ]
    return (
        f'<h3 id="clip-profiles">Per clip: {esc(which)}</h3>'
        + _profiles_figure(bars, emotions, classes, "per-clip profiles")
        + table(head, rows)
    )


def timelines_section(metrics: Metrics, emotions: Sequence[str]) -> str:
    timelines = list(metrics.timelines or [])
    out = [h2("timelines")]
    if not timelines:
        out.append("<p>No timelines in this run (<code>report.timelines=N</code> asks for N).</p>")
        return "".join(out)
    which = "wrong ones first" if metrics.n_labelled else "ones (no labels)"
    out.append(
        '<p class="note">The seven emotion scores of a few clips along time, the most '
        f"confident {which}; a clip's confidence is the mean score of its predicted class "
        "over its frames with a face. A gap in the lines (and a grey tick under them) is a "
        "sampled frame where no face was found.</p>"
    )
    out.append(
        legend(
            emotions,
            [plots.emotion_colour(e, i) for i, e in enumerate(emotions)],
            f'<span><span class="sw tick" style="background:{plots.NO_FACE_COLOUR}"></span>'
            "no face</span>",
        )
    )
    if len(timelines) > MAX_TIMELINES:
        out.append(f'<p class="note">The first {MAX_TIMELINES} of {len(timelines)}.</p>')
    figures = []
    for t in timelines[:MAX_TIMELINES]:
        caption = plots.timeline_title(t)
        if t.confidence is not None:
            caption += f"; confidence {t.confidence:.2f} (mean {t.predict} score)"
        if t.group is not None:
            caption += f"; person {t.group}"
        figures.append(
            f"<figure>{img(plots.timeline_png(t, emotions), caption)}"
            f"<figcaption>{esc(caption)}</figcaption></figure>"
        )
    out.append(f'<div class="grid">{"".join(figures)}</div>')
    return "".join(out)


def _clip_row(c: ClipResult, classes: Sequence[str]) -> str:
    status = str(c.status or "")
    return (
        ('<tr class="wrong">' if c.wrong else "<tr>")
        + td(c.video)
        + td(c.group)
        + td(c.golden)
        + td(c.predict, cls="pred")
        + "".join(td(c.counts.get(k, 0), True) for k in classes)
        + td(pct(c.face_rate, 0) if c.face_rate is not None else None, True)
        + td(status, cls=f"status-{status}" if status.isidentifier() else "")
        + td(c.message or "")
        + "</tr>"
    )


def _listed(metrics: Metrics) -> str:
    """The clips and labels listed apart: unlabelled, missing, outside the mapping."""
    out = []
    for items, title in (
        (metrics.unlabelled, "Unlabelled clips"),
        (metrics.missing_clips, "Labels whose clip is missing"),
        (metrics.unknown_labels, "Labels outside the mapping (treated as unlabelled)"),
    ):
        if not items:
            continue
        lines = (
            [f"{k}: {v}" for k, v in items.items()]
            if isinstance(items, dict)
            else [str(v) for v in items]
        )
        more = len(lines) - MAX_LIST_ITEMS
        body = "".join(f"<li>{esc(x)}</li>" for x in lines[:MAX_LIST_ITEMS])
        if more > 0:
            body += f"<li>… and {more} more</li>"
        out.append(
            f"<details><summary>{esc(title)} ({len(lines)})</summary><ul>{body}</ul></details>"
        )
    return "".join(out)


def clips_section(report: Report) -> str:
    metrics, clips, classes = report.metrics, report.clips, report.classes
    ordered = order_clips(clips)
    n_wrong = sum(1 for c in clips if c.wrong)
    out = [h2("clips")]
    first = (
        f"; the {n_wrong} wrong ones (labelled, and the prediction differs or is missing) first"
        if metrics.n_labelled
        else " (no labels)"
    )
    out.append(f'<p class="note">{len(clips)} clips{first}. Votes: frames per class.</p>')
    if len(ordered) > MAX_CLIP_ROWS:
        out.append(
            f'<p class="note" id="clips-capped">Showing the first {MAX_CLIP_ROWS} of '
            f"{len(ordered)} clips; the full list is in <code>videos.csv</code>.</p>"
        )
    rows = [_clip_row(c, classes) for c in ordered[:MAX_CLIP_ROWS]]
    head = [
        ("video", False),
        ("person", False),
        ("golden", False),
        ("predicted", False),
        *((f"{esc(k)}", True) for k in classes),
        ("face rate", True),
        ("status", False),
        ("message", False),
    ]
    out.append(table(head, rows, "clips"))
    out.append(_listed(metrics))
    return "".join(out)


def faces_section(clips: Sequence[ClipResult]) -> str:
    out = [h2("faces")]
    rates = [c.face_rate for c in clips]
    out.append(
        "<figure>"
        + img(plots.face_rate_png(rates), "histogram of face-found rate per clip", 720)
        + "<figcaption>Per clip, the share of sampled frames in which a face was found."
        "</figcaption></figure>"
    )
    for status, title in (
        ("no_face", "Clips with no face in any sampled frame"),
        ("person_absent", "Clips with faces but none of their person"),
        ("error", "Clips that failed"),
    ):
        chosen = [c for c in clips if c.status == status]
        if status != "no_face" and not chosen:
            continue
        out.append(f'<h3 id="faces-{status}">{esc(title)} ({len(chosen)})</h3>')
        if not chosen:
            out.append("<p>None.</p>")
            continue
        items = "".join(
            f"<li><code>{esc(c.video)}</code>"
            + (f" — {esc(c.message)}" if c.message else "")
            + (f" ({esc(c.frames_sampled)} frames sampled)" if status == "no_face" else "")
            + "</li>"
            for c in chosen[:MAX_LIST_ITEMS]
        )
        if len(chosen) > MAX_LIST_ITEMS:
            items += f"<li>… and {len(chosen) - MAX_LIST_ITEMS} more (see videos.csv)</li>"
        out.append(f"<ul>{items}</ul>")
    return "".join(out)


def _intervals_basis(metrics: Metrics) -> str | None:
    ci = metrics.ci
    if ci is None:
        return None
    if ci.withheld:
        return ci.withheld
    return (
        f"{ci.method or 'bootstrap'}, level {ci.level}, {ci.resamples} resamples, unit "
        f"{ci.unit} ({ci.n_units} units)"
    )


def provenance_section(metrics: Metrics) -> str:
    out = [h2("provenance")]
    speed = metrics.throughput.lines if metrics.throughput else []
    out.append("<h3>Speed</h3>")
    if speed:
        out.append("<ul>" + "".join(f"<li>{esc(line)}</li>" for line in speed) + "</ul>")
    else:
        out.append("<p>No throughput recorded.</p>")
    prov = metrics.provenance
    fields: list[tuple[str, Any]] = [
        ("femo", prov and prov.femo_version),
        ("fer", prov and prov.fer_version),
        ("emotion model sha256", prov and prov.emotion_model_sha256),
        ("dataset root", prov and prov.dataset_root),
        ("labels file", prov and prov.labels_file),
        ("label column", prov and prov.label_column),
        ("run created", prov and prov.run_created),
        ("report written", prov and prov.reported_at),
    ]
    basis = _intervals_basis(metrics)
    if basis is not None:
        fields.append(("intervals", basis))
    body = "".join(f"<dt>{esc(k)}</dt><dd><code>{esc(v)}</code></dd>" for k, v in fields)
    out.append(f'<h3>Provenance</h3><dl class="kv">{body}</dl>')
    settings = metrics.settings_yaml
    out.append("<h3>Settings</h3>")
    out.append(f"<pre>{esc(settings)}</pre>" if settings else "<p>No settings recorded.</p>")
    return "".join(out)


def fit_section(fit: FitSummary | None) -> str:
    """The learnt head's cross-validated figures beside the study's vote, where
    ``femo fit`` was run on this run; empty otherwise."""
    if not fit:
        return ""
    parts = (
        ("all labelled clips (no face = wrong)", fit.all),
        ("clips with a face", fit.with_face),
    )
    why = fit.all.ci_withheld if fit.all else None
    rows = []
    for label, part in parts:
        head, vote = (part.head, part.vote) if part else (None, None)
        if not head or not vote:
            continue
        comp = part.comparison
        diff = comp.difference if comp else None
        diff_text = "" if diff is None else points(diff)
        shown = span(comp.difference_ci if comp else None)
        if shown:
            diff_text += f" ({shown})"
        p = comp.mcnemar_p if comp else None
        cells = [
            esc(label),
            esc(part.n),
            esc(with_ci(vote.accuracy, vote.accuracy_ci)),
            esc(with_ci(head.accuracy, head.accuracy_ci)),
            esc(diff_text),
            "" if p is None else esc(p_value(p)),
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    level = level_label(fit.ci or {})
    return (
        '<h2 id="fit">A head learnt on these clips (femo fit)</h2>'
        "<p>Cross-validated with folds grouped by person: both methods are scored on the same "
        f"held-out clips; intervals at {esc(level)}. Head file: "
        f"<code>{esc(fit.head_file)}</code>.</p>"
        "<table><tr><th>clips</th><th>n</th><th>study's vote</th><th>learnt head</th>"
        "<th>head − vote</th><th>McNemar p</th></tr>"
        + "".join(rows)
        + "</table>"
        + (f'<p class="note">No intervals ({esc(why)}).</p>' if why else "")
    )
