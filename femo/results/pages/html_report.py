"""``report/index.html``: one self-contained page, the first thing to open after a run.

Everything the page needs is inside it: figures are base64 PNG data URIs, the CSS is
inline, and nothing refers to the network, so it reads the same after ``scp`` from a
cluster, offline, or with JavaScript off. A Content-Security-Policy forbids any load
but data: images and the inline style, in case a future edit slips one in.

Pure: ``render_index_html(metrics, clips)`` returns the text; the caller writes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .formatting import counts_text, scores_the_person, top_text
from .html_parts import SECTIONS, ci_basis, esc, h2, level_label, pct, span
from .html_sections import (
    MAX_CLIP_ROWS,
    MAX_LIST_ITEMS,
    MAX_PROFILE_GROUPS,
    MAX_TIMELINES,
    clips_section,
    confusion_section,
    faces_section,
    fit_section,
    identities_figure,
    is_wrong,
    order_clips,
    profiles_section,
    provenance_section,
    timelines_section,
)
from .identities import identities_html
from .over_time import over_time_section

__all__ = [
    "MAX_CLIP_ROWS", "MAX_LIST_ITEMS", "MAX_PROFILE_GROUPS", "MAX_TIMELINES", "SECTIONS",
    "answer_text", "is_wrong", "order_clips", "render_index_html",
]  # fmt: skip

FER_EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
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


def answer_text(metrics: Mapping[str, Any]) -> tuple[str, str]:
    """The headline pair, plain text: the accuracy line and the macro-F1 line.

    E.g. ``Accuracy 62.5 % (95 % CI 41.0–80.2 %, bootstrap over 12 persons)``.
    """
    accuracy = metrics.get("accuracy")
    if accuracy is None:
        acc = "Accuracy n/a (no labelled clips)"
    else:
        acc = f"Accuracy {pct(accuracy)}"
        shown = span(metrics.get("accuracy_ci"))
        why = (metrics.get("ci") or {}).get("withheld")
        if shown:
            acc += f" ({level_label(metrics)} CI {shown}, {ci_basis(metrics)})"
        elif why:
            acc += f" ({why})"
    f1 = metrics.get("macro_f1")
    if f1 is None:
        mf1 = "Macro-F1 n/a (no labelled clips)"
    else:
        mf1 = f"Macro-F1 {f1:.3f}"
        shown = span(metrics.get("macro_f1_ci"), as_percent=False)
        if shown:
            mf1 += f" ({level_label(metrics)} CI {shown})"
    return acc, mf1


def _partial_banner(metrics: Mapping[str, Any]) -> str:
    if not metrics.get("partial"):
        return ""
    shards = metrics.get("shards") or {}
    not_done = shards.get("not_done") or []
    listed = ", ".join(str(i) for i in not_done[:40]) + (" …" if len(not_done) > 40 else "")
    detail = ""
    if shards.get("planned") is not None:
        detail = f" {esc(shards.get('done'))} of {esc(shards.get('planned'))} shards are done"
        detail += f"; not done: {esc(listed)}." if not_done else "."
    n_missing, n_videos = metrics.get("n_missing") or 0, metrics.get("n_videos") or 0
    return (
        '<div class="partial" id="partial" role="alert"><strong>PARTIAL</strong> '
        f"This report covers only part of the run.{detail} {esc(n_missing)} of "
        f"{esc(n_videos)} clips are missing; the accuracy is over the "
        f"{esc(n_videos - n_missing)} clips present. Rerun the report when the run is "
        "complete.</div>"
    )


def _answer(metrics: Mapping[str, Any]) -> str:
    acc, mf1 = answer_text(metrics)

    def split(text: str) -> str:
        head, sep, rest = text.partition(" (")
        if not sep or "CI" not in rest:
            return esc(text)
        return f'{esc(head)} <span class="ci">({esc(rest)}</span>'

    n_labelled = metrics.get("n_labelled")
    correct = ""
    if metrics.get("accuracy") is not None and metrics.get("no_face") == "abstain":
        compared = metrics.get("n_compared", n_labelled)
        correct = (
            f"<p class='note'>{esc(metrics.get('n_correct'))} of {esc(compared)} labelled clips "
            "right. Clips where no face was found abstain (reduce.no_face=abstain): coverage "
            f"{pct(metrics.get('coverage'))} of the {esc(n_labelled)} labelled clips."
        )
    elif metrics.get("accuracy") is not None:
        correct = (
            f"<p class='note'>{esc(metrics.get('n_correct'))} of {esc(n_labelled)} labelled clips "
            "right. A labelled clip without a prediction (no face found, or the clip failed) "
            "counts as wrong."
        )
        if metrics.get("accuracy_scored") is not None:
            correct += (
                f" Over the {esc(metrics.get('n_scored'))} labelled clips with a prediction: "
                f"{pct(metrics.get('accuracy_scored'))}."
            )
        correct += "</p>"
    cards = [
        ("clips", metrics.get("n_videos"), False),
        ("labelled", n_labelled, False),
        ("labelled with a prediction", metrics.get("n_scored"), False),
        ("no face", metrics.get("n_no_face"), bool(metrics.get("n_no_face"))),
        *(
            [
                (
                    "person absent",
                    metrics.get("n_person_absent"),
                    bool(metrics.get("n_person_absent")),
                )
            ]
            if scores_the_person(metrics)
            else []
        ),
        ("failed", metrics.get("n_failed"), bool(metrics.get("n_failed"))),
        ("missing", metrics.get("n_missing"), bool(metrics.get("n_missing"))),
    ]
    card_html = _cards_html(cards)
    return (
        f'{h2("answer")}<p class="headline">{split(acc)}</p>'
        f'<p class="second">{split(mf1)}</p>{correct}<div class="cards">{card_html}</div>'
    )


def _cards_html(cards: list[tuple[str, Any, bool]]) -> str:
    """The answer's boxes: a count and its name each, marked where it is bad news."""
    return "".join(
        f'<div class="card{" bad" if bad else ""}"><b>{esc(v)}</b><span>{esc(k)}</span></div>'
        for k, v, bad in cards
    )


def _predicted_answer(metrics: Mapping[str, Any]) -> str:
    """A run without labels: what was predicted is the answer; nothing is scored."""
    predicted = metrics.get("predicted") or {}
    cards = [
        ("clips", predicted.get("clips"), False),
        ("with a prediction", predicted.get("with_prediction"), False),
        ("no face", predicted.get("no_face"), bool(predicted.get("no_face"))),
        ("failed", predicted.get("failed"), bool(predicted.get("failed"))),
        ("missing", metrics.get("n_missing"), bool(metrics.get("n_missing"))),
    ]
    card_html = _cards_html(cards)
    return (
        f'{h2("answer")}<p class="headline" id="predicted-classes">Predicted: '
        f"{esc(counts_text(predicted.get('classes') or {}))} "
        f'<span class="ci">(of {esc(predicted.get("clips"))} clips; no labels)</span></p>'
        f'<p class="second" id="top-emotions">Top emotions: '
        f"{esc(top_text(predicted.get('emotion_share'), space=True))} "
        f'<span class="ci">(of {esc(predicted.get("frames_with_face"))} frames with a face)'
        f'</span></p><div class="cards">{card_html}</div>'
    )


def predicted_section(metrics: Mapping[str, Any]) -> str:
    """A run with labels: what was predicted for its unlabelled clips."""
    predicted = metrics.get("predicted") or {}
    return (
        f'<h2 id="predicted">{esc(PREDICTED_TITLE)} ({esc(predicted.get("clips"))})</h2>'
        f'<p id="predicted-classes">Predicted classes (clips): '
        f"{esc(counts_text(predicted.get('classes') or {}))}; "
        f"{esc(predicted.get('no_face'))} without a face, {esc(predicted.get('failed'))} failed."
        f'</p><p id="top-emotions">Top emotions (of {esc(predicted.get("frames_with_face"))} '
        f"frames with a face): {esc(top_text(predicted.get('emotion_share'), space=True))}. "
        "Each clip's profile is under the per-person profiles.</p>"
    )


def _described(metrics: Mapping[str, Any]) -> str:
    """The Method and Labels lines, under the title."""
    return "".join(
        f'<p class="method" id="{key.split("_")[0]}">{esc(metrics[key])}</p>'
        for key in ("method", "labels_line")
        if metrics.get(key)
    )


def render_index_html(
    metrics: dict[str, Any], clips: list[dict[str, Any]], sheets_html: str = ""
) -> str:
    """The whole report page as one self-contained HTML string.

    ``metrics`` is the content of ``report/metrics.json``; ``clips`` the per-clip rows
    (``video``, ``group``, ``golden``, ``predict``, ``status``, ``frames_sampled``,
    ``frames_with_face``, ``face_rate``, ``votes``, ``message``). Missing optional keys
    are shown as absent. Every string from the data is HTML-escaped. ``sheets_html``
    (:mod:`femo.results.sheets.section`, already escaped) follows the timelines.
    """
    emotions = list(metrics.get("emotions") or FER_EMOTIONS)
    classes = list(metrics.get("classes") or [])
    prov = metrics.get("provenance") or {}
    root = prov.get("dataset_root")
    title = "femo report" + (f" — {root}" if root else "")
    when = prov.get("reported_at") or prov.get("run_created")
    described = metrics.get("labels_line")
    sub = " · ".join(
        esc(x)
        for x in (
            f"dataset {root}" if root else None,
            None if described else f"labels {prov.get('labels_file') or 'none'}",
            f"report {when}" if when else None,
        )
        if x
    )
    labelled = bool(metrics.get("n_labelled"))
    predicted = metrics.get("predicted")
    scored = labelled or not predicted  # a run with labels, or nothing predicted either
    links = [(k, t) for k, t in SECTIONS if scored or k != "confusion"]
    if metrics.get("identities"):  # reference photos given: after the per-person profiles
        links.insert(links.index(("profiles", dict(SECTIONS)["profiles"])) + 1,
                     ("identities", "Identities"))  # fmt: skip
    if labelled and predicted:
        links.insert(1, ("predicted", PREDICTED_TITLE))
    if metrics.get("over_time"):  # a segmented run: before the timelines of single clips
        links.insert(links.index(("timelines", "Timelines")), ("over-time", "Over time"))
    nav = "".join(f'<a href="#{key}">{esc(label)}</a>' for key, label in links)
    partial = " (PARTIAL)" if metrics.get("partial") else ""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">",
        f"<title>{esc(title + partial)}</title>",
        f"<style>{_CSS}</style></head><body>",
        _partial_banner(metrics),
        f'<main><header><h1>{esc("femo report")}</h1><div class="sub">{sub}</div>'
        f"{_described(metrics)}</header>",
        f"<nav>{nav}</nav>",
        f"<section>{_answer(metrics) if scored else _predicted_answer(metrics)}</section>",
        f"<section>{predicted_section(metrics)}</section>" if labelled and predicted else "",
        f"<section>{fit_section(metrics)}</section>" if metrics.get("fit") else "",
        f"<section>{confusion_section(metrics)}</section>" if scored else "",
        f"<section>{profiles_section(metrics, emotions, classes)}</section>",
        f"<section>{identities_html(metrics.get('identities'))}"
        f"{identities_figure(metrics.get('identities'), emotions, classes)}</section>"
        if metrics.get("identities")
        else "",
        f"<section>{over_time_section(metrics)}</section>" if metrics.get("over_time") else "",
        f"<section>{timelines_section(metrics, emotions)}</section>",
        f"<section>{sheets_html}</section>" if sheets_html else "",
        f"<section>{clips_section(metrics, clips)}</section>",
        f"<section>{faces_section(clips)}</section>",
        f"<section>{provenance_section(metrics)}</section>",
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"
