"""The sections of ``report/index.html`` below the answer: confusion, profiles,
timelines, clips, faces, provenance and a learnt head's figures."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import plots
from .formatting import min_units_note, p_value, points, top_text
from .html_parts import esc, h2, img, legend, level_label, pct, span, table, td, with_ci

# The clip table and the lists stop here; the full lists are in videos.csv.
MAX_CLIP_ROWS = 2000
MAX_LIST_ITEMS = 500
MAX_PROFILE_GROUPS = 60
MAX_TIMELINES = 48


def is_wrong(clip: Mapping[str, Any]) -> bool:
    """A labelled clip whose prediction (possibly none) is not its golden class."""
    return clip.get("golden") is not None and clip.get("predict") != clip.get("golden")


def order_clips(clips: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Wrong clips first, then the rest, each in the given order."""
    clips = list(clips)
    return [c for c in clips if is_wrong(c)] + [c for c in clips if not is_wrong(c)]


def confusion_section(metrics: Mapping[str, Any]) -> str:
    classes = list(metrics.get("classes") or [])
    confusion = metrics.get("confusion") or {}
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
    per_class = metrics.get("per_class") or {}
    level = level_label(metrics)
    rows = []
    for c in classes:
        pc = per_class.get(c) or {}

        def num(key: str, pc: Mapping[str, Any] = pc) -> str:
            v = pc.get(key)
            return "n/a" if v is None else f"{v:.3f}"

        rows.append(
            "<tr>"
            + td(c)
            + td(num("precision"), True)
            + td(with_ci(pc.get("recall"), pc.get("recall_ci"), as_percent=False), True)
            + td(num("f1"), True)
            + td(pc.get("support"), True)
            + "</tr>"
        )
    head = [
        ("class", False),
        ("precision", True),
        (f"recall ({esc(level)} CI)", True),
        ("F1", True),
        ("support", True),
    ]
    out.append(table(head, rows))
    return "".join(out)


def profiles_section(
    metrics: Mapping[str, Any], emotions: Sequence[str], classes: Sequence[str]
) -> str:
    """Per group (person) and, for the unlabelled clips, per clip: the 7 emotions' and the
    classes' shares of their frames with a face, drawn and listed."""
    return (
        h2("profiles")
        + _group_profiles(metrics, emotions, classes)
        + _clip_profiles(metrics, emotions, classes)
    )


def _profiles_figure(profiles: Sequence[Mapping[str, Any]], emotions, classes, alt: str) -> str:
    return (
        "<figure>"
        + img(plots.profiles_png(profiles, emotions, classes), alt)
        + "<figcaption>Left: the share of the frames with a face whose top emotion is each of "
        "the seven. Right: the same frames by mapping class. In brackets: those frames "
        "(face frames) and the clips they come from; no bar where no face was "
        "found.</figcaption></figure>"
    )


def _group_profiles(
    metrics: Mapping[str, Any], emotions: Sequence[str], classes: Sequence[str]
) -> str:
    groups = list(metrics.get("groups") or [])
    out = []
    pattern = ((metrics.get("config") or {}).get("dataset") or {}).get("group_pattern")
    if not groups and pattern:
        out.append(
            f'<p id="no-groups">dataset.group_pattern <code>{html.escape(repr(pattern))}</code> '
            "matches no clip id, so no clip has a group and no profile per person is shown.</p>"
        )
        return "".join(out)
    if not groups:
        out.append(
            '<p id="no-groups">No groups (persons) are known for this run. To get a profile '
            "per person, tell femo which clips belong together: "
            "<code>dataset.group_column=COLUMN</code> (a column of the labels file) or "
            "<code>dataset.group_pattern=REGEX</code> (its first capture group, searched in "
            "each clip id, e.g. <code>'^([a-z]+)_'</code>).</p>"
        )
        return "".join(out)
    shown, capped = plots.select_groups(groups, MAX_PROFILE_GROUPS)
    if capped:
        out.append(
            f'<p class="note" id="profiles-capped">The figure shows the {len(shown)} groups '
            f"with the most clips, of {len(groups)}; the table below lists all of them.</p>"
        )
    out.append(_profiles_figure(shown, emotions, classes, "per-person profiles"))
    labelled = bool(metrics.get("n_labelled"))
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
    if labelled and any(g.get("ci_withheld") for g in groups):
        out.append(f'<p class="note" id="min-units">{esc(min_units_note(metrics))}</p>')
    return "".join(out)


def _group_row(g: Mapping[str, Any], classes: Sequence[str], labelled: bool) -> str:
    """One group's row; "–" for everything a group without a face frame cannot have."""
    emotion_share = g.get("emotion_share") or {}
    top = max(emotion_share, key=lambda k: emotion_share[k] or 0) if emotion_share else None
    predicted = g.get("predicted_share") or {}
    pred_text = ", ".join(
        f"{c}\u00a0{pct(predicted.get(c), 0)}".replace(" %", "\u00a0%")
        for c in classes
        if c in predicted
    )
    cells = (
        td(g.get("group"))
        + td(g.get("clips"), True)
        + td(g.get("labelled"), True)
        + td(g.get("frames_with_face"), True)
        + td(top)
        + td(pred_text or None)
    )
    if labelled:
        accuracy = (
            with_ci(g.get("accuracy"), g.get("accuracy_ci"))
            + (" (no interval)" if g.get("ci_withheld") else "")
            if g.get("frames_with_face")
            else None
        )
        cells += td(accuracy, True)
    return f"<tr>{cells}</tr>"


def identities_figure(
    identities: Mapping[str, Any] | None, emotions: Sequence[str], classes: Sequence[str]
) -> str:
    """Each reference person's profile (and the faces matched to nobody), drawn."""
    persons = (identities or {}).get("persons") or []
    if not persons:
        return ""
    profiles = [
        {
            "group": p.get("person"),
            "clips": p.get("clips"),
            "frames_with_face": p.get("faces"),
            "emotion_share": p.get("emotion_share"),
            "class_share": p.get("class_share"),
            "counted": "faces",
        }
        for p in persons
    ]
    return _profiles_figure(profiles, emotions, classes, "per-identity profiles")


def _clip_profiles(
    metrics: Mapping[str, Any], emotions: Sequence[str], classes: Sequence[str]
) -> str:
    """The unlabelled clips' own profiles (those with the most frames with a face)."""
    profiles = list(metrics.get("clip_profiles") or [])
    if not profiles:
        return ""
    n = (metrics.get("predicted") or {}).get("clips", len(profiles))
    which = (
        f"all {n} unlabelled clips"
        if len(profiles) >= n
        else f"the {len(profiles)} unlabelled clips (of {n}) with the most frames with a face"
    )
    rows = [
        "<tr>"
        + td(p.get("group"))
        + td(p.get("predict"))
        + td(p.get("frames_with_face"), True)
        + td(top_text(p.get("emotion_share"), space=True))
        + td(top_text(p.get("class_share"), space=True))
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
    return (
        f'<h3 id="clip-profiles">Per clip: {esc(which)}</h3>'
        + _profiles_figure(profiles, emotions, classes, "per-clip profiles")
        + table(head, rows)
    )


def timelines_section(metrics: Mapping[str, Any], emotions: Sequence[str]) -> str:
    timelines = list(metrics.get("timelines") or [])
    out = [h2("timelines")]
    if not timelines:
        out.append("<p>No timelines in this run (<code>report.timelines=N</code> asks for N).</p>")
        return "".join(out)
    which = "wrong ones first" if metrics.get("n_labelled") else "ones (no labels)"
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
        if t.get("confidence") is not None:
            caption += f"; confidence {t['confidence']:.2f} (mean {t.get('predict')} score)"
        if t.get("group") is not None:
            caption += f"; person {t['group']}"
        figures.append(
            f"<figure>{img(plots.timeline_png(t, emotions), caption)}"
            f"<figcaption>{esc(caption)}</figcaption></figure>"
        )
    out.append(f'<div class="grid">{"".join(figures)}</div>')
    return "".join(out)


def clips_section(metrics: Mapping[str, Any], clips: Sequence[Mapping[str, Any]]) -> str:
    classes = list(metrics.get("classes") or [])
    ordered = order_clips(clips)
    n_wrong = sum(1 for c in clips if is_wrong(c))
    out = [h2("clips")]
    first = (
        f"; the {n_wrong} wrong ones (labelled, and the prediction differs or is missing) first"
        if metrics.get("n_labelled")
        else " (no labels)"
    )
    out.append(f'<p class="note">{len(clips)} clips{first}. Votes: frames per class.</p>')
    if len(ordered) > MAX_CLIP_ROWS:
        out.append(
            f'<p class="note" id="clips-capped">Showing the first {MAX_CLIP_ROWS} of '
            f"{len(ordered)} clips; the full list is in <code>videos.csv</code>.</p>"
        )
    rows = []
    for c in ordered[:MAX_CLIP_ROWS]:
        votes = c.get("votes") or {}
        status = str(c.get("status") or "")
        rows.append(
            ('<tr class="wrong">' if is_wrong(c) else "<tr>")
            + td(c.get("video"))
            + td(c.get("group"))
            + td(c.get("golden"))
            + td(c.get("predict"), cls="pred")
            + "".join(td(votes.get(k, 0), True) for k in classes)
            + td(pct(c.get("face_rate"), 0) if c.get("face_rate") is not None else None, True)
            + td(status, cls=f"status-{status}" if status.isidentifier() else "")
            + td(c.get("message") or "")
            + "</tr>"
        )
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
    for key, title in (
        ("unlabelled", "Unlabelled clips"),
        ("missing_clips", "Labels whose clip is missing"),
        ("unknown_labels", "Labels outside the mapping (treated as unlabelled)"),
    ):
        items = metrics.get(key) or []
        if not items:
            continue
        lines = (
            [f"{k}: {v}" for k, v in items.items()]
            if isinstance(items, Mapping)
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


def faces_section(clips: Sequence[Mapping[str, Any]]) -> str:
    out = [h2("faces")]
    rates = [c.get("face_rate") for c in clips]
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
        chosen = [c for c in clips if c.get("status") == status]
        if status != "no_face" and not chosen:
            continue
        out.append(f'<h3 id="faces-{status}">{esc(title)} ({len(chosen)})</h3>')
        if not chosen:
            out.append("<p>None.</p>")
            continue
        items = "".join(
            f"<li><code>{esc(c.get('video'))}</code>"
            + (f" — {esc(c.get('message'))}" if c.get("message") else "")
            + (
                f" ({esc(c.get('frames_sampled'))} frames sampled)"
                if c.get("frames_sampled") is not None and status == "no_face"
                else ""
            )
            + "</li>"
            for c in chosen[:MAX_LIST_ITEMS]
        )
        if len(chosen) > MAX_LIST_ITEMS:
            items += f"<li>… and {len(chosen) - MAX_LIST_ITEMS} more (see videos.csv)</li>"
        out.append(f"<ul>{items}</ul>")
    return "".join(out)


def provenance_section(metrics: Mapping[str, Any]) -> str:
    out = [h2("provenance")]
    speed = (metrics.get("throughput") or {}).get("lines") or []
    out.append("<h3>Speed</h3>")
    if speed:
        out.append("<ul>" + "".join(f"<li>{esc(line)}</li>" for line in speed) + "</ul>")
    else:
        out.append("<p>No throughput recorded.</p>")
    prov = metrics.get("provenance") or {}
    fields = (
        ("femo", "femo_version"),
        ("fer", "fer_version"),
        ("emotion model sha256", "emotion_model_sha256"),
        ("dataset root", "dataset_root"),
        ("labels file", "labels_file"),
        ("label column", "label_column"),
        ("run created", "run_created"),
        ("report written", "reported_at"),
    )
    ci = metrics.get("ci") or {}
    items = [(label, prov.get(key)) for label, key in fields]
    if ci.get("withheld"):
        items.append(("intervals", ci["withheld"]))
    elif ci:
        items.append(
            (
                "intervals",
                f"{ci.get('method', 'bootstrap')}, level {ci.get('level')}, "
                f"{ci.get('resamples')} resamples, unit {ci.get('unit')} "
                f"({ci.get('n_units')} units)",
            )
        )
    body = "".join(f"<dt>{esc(k)}</dt><dd><code>{esc(v)}</code></dd>" for k, v in items)
    out.append(f'<h3>Provenance</h3><dl class="kv">{body}</dl>')
    settings = metrics.get("settings_yaml")
    out.append("<h3>Settings</h3>")
    out.append(f"<pre>{esc(settings)}</pre>" if settings else "<p>No settings recorded.</p>")
    return "".join(out)


def fit_section(metrics: Mapping[str, Any]) -> str:
    """The learnt head's cross-validated figures beside the study's vote, where
    ``femo fit`` was run on this run (``metrics["fit"]``); empty otherwise."""
    fit = metrics.get("fit")
    if not fit:
        return ""
    labels = (("all", "all labelled clips (no face = wrong)"), ("with_face", "clips with a face"))
    why = (fit.get("all") or {}).get("ci_withheld")
    rows = []
    for key, label in labels:
        part = fit.get(key) or {}
        head, vote = part.get("head") or {}, part.get("vote") or {}
        comp = part.get("comparison") or {}
        if not head or not vote:
            continue
        diff = comp.get("difference")
        diff_text = "" if diff is None else points(diff)
        shown = span(comp.get("difference_ci"))
        if shown:
            diff_text += f" ({shown})"
        p = comp.get("mcnemar_p")
        cells = [
            esc(label),
            esc(part.get("n")),
            esc(with_ci(vote.get("accuracy"), vote.get("accuracy_ci"))),
            esc(with_ci(head.get("accuracy"), head.get("accuracy_ci"))),
            esc(diff_text),
            "" if p is None else esc(p_value(p)),
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (
        '<h2 id="fit">A head learnt on these clips (femo fit)</h2>'
        "<p>Cross-validated with folds grouped by person: both methods are scored on the same "
        f"held-out clips; intervals at {esc(level_label(fit))}. Head file: "
        f"<code>{esc(fit.get('head_file'))}</code>.</p>"
        "<table><tr><th>clips</th><th>n</th><th>study's vote</th><th>learnt head</th>"
        "<th>head − vote</th><th>McNemar p</th></tr>"
        + "".join(rows)
        + "</table>"
        + (f'<p class="note">No intervals ({esc(why)}).</p>' if why else "")
    )
