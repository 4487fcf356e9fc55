"""``report/index.html``: one self-contained page, the first thing to open after a run.

Everything the page needs is inside it: figures are base64 PNG data URIs, the CSS is
inline, and nothing refers to the network, so it reads the same after ``scp`` from a
cluster, offline, or with JavaScript off. A Content-Security-Policy forbids any load
but data: images and the inline style, in case a future edit slips one in.

Pure: ``render_index_html(report)`` returns the text of a
:class:`~femo.results.model.Report`; the caller writes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...config import EMOTIONS
from ..metrics import Metrics, answer_counts
from ..model import Report
from .formatting import TITLE, counts_text, in_sample_text, top_text
from .html_parts import SECTIONS, ci_basis, esc, h2, level_label, pct, span
from .html_sections import (
    clips_section,
    confusion_section,
    faces_section,
    fit_section,
    identities_figure,
    profiles_section,
    provenance_section,
    timelines_section,
)
from .identities import identities_html
from .over_time import over_time_section

PREDICTED_TITLE = "Predicted, unlabelled clips"

_CSS = """
:root { --fg: #1d1d1f; --muted: #5f6368; --line: #d9d9de; --bg2: #f5f6f8;
  --bad: #b2182b; --good: #1b7837; --warn-bg: #fff4ce; --warn-line: #c99a00; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff; line-height: 1.45;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 0 20px 60px; }
header { padding: 18px 0 4px; }
h1 { font-size: 1.35rem; margin: 0 0 2px; }
h2 { font-size: 1.2rem; margin: 36px 0 10px; padding-bottom: 4px;
  border-bottom: 2px solid var(--line); }
h3 { font-size: 1rem; margin: 18px 0 6px; }
.sub, .note { color: var(--muted); font-size: 0.9rem; }
nav { position: sticky; top: 0; background: rgba(255,255,255,0.96); z-index: 2;
  border-bottom: 1px solid var(--line); padding: 6px 0; font-size: 0.9rem; }
nav a { margin-right: 14px; color: #0b57d0; text-decoration: none; white-space: nowrap; }
.partial { background: var(--warn-bg); border: 2px solid var(--warn-line); padding: 12px 16px;
  font-size: 1.05rem; margin: 0; }
.partial strong { font-size: 1.25rem; letter-spacing: 0.04em; }
.headline { font-size: 2rem; font-weight: 700; margin: 6px 0 0; }
.headline .ci, .second .ci { font-size: 1.05rem; font-weight: 400; color: var(--muted); }
.second { font-size: 1.35rem; font-weight: 600; margin: 4px 0 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 10px 0; }
.card { background: var(--bg2); border: 1px solid var(--line); border-radius: 6px;
  padding: 8px 14px; min-width: 110px; }
.card b { display: block; font-size: 1.4rem; }
.card span { color: var(--muted); font-size: 0.85rem; }
.card.bad b { color: var(--bad); }
p.method { color: var(--muted); font-size: 0.9rem; margin: 4px 0 0; }
figure { margin: 10px 0; }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 0.85rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr));
  gap: 8px 16px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 0.9rem; margin: 6px 0; }
.sw { display: inline-block; width: 12px; height: 12px; border-radius: 2px;
  margin-right: 5px; vertical-align: -1px; }
.sw.tick { width: 2px; height: 12px; border-radius: 0; }
table { border-collapse: collapse; font-size: 0.88rem; margin: 8px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 9px; text-align: left;
  vertical-align: top; }
th { background: var(--bg2); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafafb; }
tr.wrong td { background: #fdecee; }
tr.wrong td.pred { color: var(--bad); font-weight: 600; }
.scroll { overflow-x: auto; }
.status-ok { color: var(--good); }
.status-no_face, .status-person_absent, .status-partial { color: #8a6100; }
.status-error, .status-missing { color: var(--bad); font-weight: 600; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 0.85rem; }
pre { background: var(--bg2); border: 1px solid var(--line); padding: 10px; overflow-x: auto; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; word-break: break-all; }
details { margin: 6px 0; }
summary { cursor: pointer; }
"""


def answer_text(metrics: Metrics) -> tuple[str, str]:
    """The headline pair, plain text: the accuracy line and the macro-F1 line.

    E.g. ``Accuracy 62.5 % (95 % CI 41.0–80.2 %, bootstrap over 12 persons)``.
    """
    if metrics.accuracy is None:
        acc = "Accuracy n/a (no labelled clips)"
    else:
        acc = f"Accuracy {pct(metrics.accuracy)}"
        if metrics.in_sample and metrics.in_sample.labelled:
            acc += " in-sample"
        shown = span(metrics.accuracy_ci)
        why = metrics.ci.withheld if metrics.ci else None
        if shown:
            acc += f" ({level_label(metrics)} CI {shown}, {ci_basis(metrics)})"
        elif why:
            acc += f" ({why})"
    if metrics.macro_f1 is None:
        mf1 = "Macro-F1 n/a (no labelled clips)"
    else:
        mf1 = f"Macro-F1 {metrics.macro_f1:.3f}"
        shown = span(metrics.macro_f1_ci, as_percent=False)
        if shown:
            mf1 += f" ({level_label(metrics)} CI {shown})"
    return acc, mf1


def _partial_banner(metrics: Metrics) -> str:
    if not metrics.partial:
        return ""
    shards = metrics.shards
    not_done = shards.not_done if shards else []
    listed = ", ".join(str(i) for i in not_done[:40]) + (" …" if len(not_done) > 40 else "")
    detail = ""
    if shards is not None and shards.planned is not None:
        detail = f" {esc(shards.done)} of {esc(shards.planned)} shards are done"
        detail += f"; not done: {esc(listed)}." if not_done else "."
    n_missing, n_videos = metrics.n_missing or 0, metrics.n_videos or 0
    return (
        '<div class="partial" id="partial" role="alert"><strong>PARTIAL</strong> '
        f"This report covers only part of the run.{detail} {esc(n_missing)} of "
        f"{esc(n_videos)} clips are missing; the accuracy is over the "
        f"{esc(n_videos - n_missing)} clips present. Rerun the report when the run is "
        "complete.</div>"
    )


def _in_sample_banner(metrics: Metrics) -> str:
    text = in_sample_text(metrics)
    if not text:
        return ""
    return (
        '<div class="partial" id="in-sample" role="alert"><strong>IN-SAMPLE</strong> '
        f"{esc(text[0].upper() + text[1:])}.</div>"
    )


def _split(text: str) -> str:
    """A headline with its bracket (the interval) in the lighter ``ci`` style."""
    head, sep, rest = text.partition(" (")
    if not sep or "CI" not in rest:
        return esc(text)
    return f'{esc(head)} <span class="ci">({esc(rest)}</span>'


def _correct_note(m: Metrics) -> str:
    """How many labelled clips were right, and what a clip without a prediction counts."""
    if m.accuracy is None:
        return ""
    if m.no_face == "abstain":
        compared = m.n_labelled if m.n_compared is None else m.n_compared
        return (
            f"<p class='note'>{esc(m.n_correct)} of {esc(compared)} labelled clips "
            "right. Clips where no face was found abstain (reduce.no_face=abstain): coverage "
            f"{pct(m.coverage)} of the {esc(m.n_labelled)} labelled clips."
        )
    note = (
        f"<p class='note'>{esc(m.n_correct)} of {esc(m.n_labelled)} labelled clips "
        "right. A labelled clip without a prediction (no face found, or the clip failed) "
        "counts as wrong."
    )
    if m.accuracy_scored is not None:
        note += (
            f" Over the {esc(m.n_scored)} labelled clips with a prediction: "
            f"{pct(m.accuracy_scored)}."
        )
    return note + "</p>"


def _answer(report: Report) -> str:
    m = report.metrics
    acc, mf1 = answer_text(m)
    cards = [
        (c.card, value, c.bad and bool(value))
        for c, value in answer_counts(m, report.scores_the_person)
    ]
    return (
        f'{h2("answer")}<p class="headline">{_split(acc)}</p>'
        f'<p class="second">{_split(mf1)}</p>{_correct_note(m)}'
        f'<div class="cards">{_cards_html(cards)}</div>'
    )


def _cards_html(cards: list[tuple[str, Any, bool]]) -> str:
    """The answer's boxes: a count and its name each, marked where it is bad news."""
    return "".join(
        f'<div class="card{" bad" if bad else ""}"><b>{esc(v)}</b><span>{esc(k)}</span></div>'
        for k, v, bad in cards
    )


def _predicted_answer(metrics: Metrics) -> str:
    """A run without labels: what was predicted is the answer; nothing is scored."""
    predicted = metrics.predicted
    assert predicted is not None
    cards = [
        ("clips", predicted.clips, False),
        ("with a prediction", predicted.with_prediction, False),
        ("no face", predicted.no_face, bool(predicted.no_face)),
        ("failed", predicted.failed, bool(predicted.failed)),
        ("missing", metrics.n_missing, bool(metrics.n_missing)),
    ]
    return (
        f'{h2("answer")}<p class="headline" id="predicted-classes">Predicted: '
        f"{esc(counts_text(predicted.classes))} "
        f'<span class="ci">(of {esc(predicted.clips)} clips; no labels)</span></p>'
        f'<p class="second" id="top-emotions">Top emotions: '
        f"{esc(top_text(predicted.emotion_share, space=True))} "
        f'<span class="ci">(of {esc(predicted.frames_with_face)} frames with a face)'
        f'</span></p><div class="cards">{_cards_html(cards)}</div>'
    )


def predicted_section(metrics: Metrics) -> str:
    """A run with labels: what was predicted for its unlabelled clips."""
    predicted = metrics.predicted
    assert predicted is not None
    return (
        f'<h2 id="predicted">{esc(PREDICTED_TITLE)} ({esc(predicted.clips)})</h2>'
        f'<p id="predicted-classes">Predicted classes (clips): '
        f"{esc(counts_text(predicted.classes))}; "
        f"{esc(predicted.no_face)} without a face, {esc(predicted.failed)} failed."
        f'</p><p id="top-emotions">Top emotions (of {esc(predicted.frames_with_face)} '
        f"frames with a face): {esc(top_text(predicted.emotion_share, space=True))}. "
        "Each clip's profile is under the per-person profiles.</p>"
    )


def _described(metrics: Metrics) -> str:
    """The Method and Labels lines, under the title."""
    return "".join(
        f'<p class="method" id="{key}">{esc(text)}</p>'
        for key, text in (("method", metrics.method), ("labels", metrics.labels_line))
        if text
    )


def _nav(m: Metrics, scored: bool) -> str:
    """The page's links, one per section it has."""
    links = [(k, t) for k, t in SECTIONS if scored or k != "confusion"]
    if m.identities:  # reference photos given: after the per-person profiles
        links.insert(links.index(("profiles", dict(SECTIONS)["profiles"])) + 1,
                     ("identities", "Identities"))  # fmt: skip
    if m.n_labelled and m.predicted:
        links.insert(1, ("predicted", PREDICTED_TITLE))
    if m.over_time:  # a segmented run: before the timelines of single clips
        links.insert(links.index(("timelines", "Timelines")), ("over-time", "Over time"))
    return "".join(f'<a href="#{key}">{esc(label)}</a>' for key, label in links)


def _subtitle(m: Metrics) -> str:
    prov = m.provenance
    root = prov.dataset_root if prov else None
    when = (prov.reported_at or prov.run_created) if prov else None
    labels = prov.labels_file if prov else None
    return " · ".join(
        esc(x)
        for x in (
            f"dataset {root}" if root else None,
            None if m.labels_line else f"labels {labels or 'none'}",
            f"report {when}" if when else None,
        )
        if x
    )


def render_index_html(
    report: Report, sheets_html: str = "", over_time: Mapping[str, bytes] | None = None
) -> str:
    """The whole report page as one self-contained HTML string.

    Every string from the data is HTML-escaped. ``sheets_html``
    (:mod:`femo.results.sheets.section`, already escaped) follows the timelines;
    ``over_time``: a segmented run's timeline PNGs by video, drawn here when not given.
    """
    m = report.metrics
    emotions = list(m.emotions or EMOTIONS)
    classes = list(report.classes)
    root = m.provenance.dataset_root if m.provenance else None
    title = TITLE + (f" — {root}" if root else "")
    labelled = bool(m.n_labelled)
    scored = labelled or not m.predicted  # a run with labels, or nothing predicted either
    partial = " (PARTIAL)" if m.partial else ""
    identities = m.identities
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">",
        f"<title>{esc(title + partial)}</title>",
        f"<style>{_CSS}</style></head><body>",
        _partial_banner(m),
        _in_sample_banner(m),
        f'<main><header><h1>{esc(TITLE)}</h1><div class="sub">{_subtitle(m)}</div>'
        f"{_described(m)}</header>",
        f"<nav>{_nav(m, scored)}</nav>",
        f"<section>{_answer(report) if scored else _predicted_answer(m)}</section>",
        f"<section>{predicted_section(m)}</section>" if labelled and m.predicted else "",
        f"<section>{fit_section(m.fit)}</section>" if m.fit else "",
        f"<section>{confusion_section(m, classes)}</section>" if scored else "",
        f"<section>{profiles_section(report, emotions, classes)}</section>",
        f"<section>{identities_html(identities, report.reference_crops)}"
        f"{identities_figure(identities, emotions, classes)}</section>"
        if identities
        else "",
        f"<section>{over_time_section(report, over_time)}</section>" if m.over_time else "",
        f"<section>{timelines_section(m, emotions)}</section>",
        f"<section>{sheets_html}</section>" if sheets_html else "",
        f"<section>{clips_section(report)}</section>",
        f"<section>{faces_section(report.clips)}</section>",
        f"<section>{provenance_section(m)}</section>",
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"
