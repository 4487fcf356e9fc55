"""``report/index.html``: one self-contained page, the first thing to open after a run.

Everything the page needs is inside it: figures are base64 PNG data URIs, the CSS is
inline, and nothing refers to the network, so it reads the same after ``scp`` from a
cluster, offline, or with JavaScript off. A Content-Security-Policy forbids any load
but data: images and the inline style, in case a future edit slips one in.

Pure: ``render_index_html(metrics, clips)`` returns the text; the caller writes it.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import plots
from .identities import identities_html

FER_EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
# The clip table and the lists stop here; the full lists are in videos.csv.
MAX_CLIP_ROWS = 2000
MAX_LIST_ITEMS = 500
MAX_PROFILE_GROUPS = 60
MAX_TIMELINES = 48

SECTIONS = (
    ("answer", "Answer"),
    ("confusion", "Confusion and per-class scores"),
    ("profiles", "Per-person profiles"),
    ("timelines", "Timelines"),
    ("clips", "Clips"),
    ("faces", "Faces found"),
    ("provenance", "Speed, provenance and settings"),
)

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
.status-no_face, .status-partial { color: #8a6100; }
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


def _e(value: Any) -> str:
    """Escaped text of ``value``; None is an en dash."""
    return "–" if value is None else html.escape(str(value), quote=True)


def _pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f} %"


def _interval(ci: Sequence[float] | None, percent: bool = True) -> str | None:
    """``41.0–80.2 %`` (or ``0.41–0.80``); None without an interval."""
    if not ci or len(ci) != 2 or ci[0] is None or ci[1] is None:
        return None
    lo, hi = float(ci[0]), float(ci[1])
    return f"{100 * lo:.1f}–{100 * hi:.1f} %" if percent else f"{lo:.2f}–{hi:.2f}"


def _with_ci(value: float | None, ci: Sequence[float] | None, percent: bool = True) -> str:
    """``62.5 % (41.0–80.2 %)`` for table cells."""
    if value is None:
        return "n/a"
    text = _pct(value) if percent else f"{value:.3f}"
    span = _interval(ci, percent)
    return f"{text} ({span})" if span else text


def _level(metrics: Mapping[str, Any]) -> str:
    level = (metrics.get("ci") or {}).get("level") or 0.95
    return f"{100 * float(level):g} %"


def _ci_basis(metrics: Mapping[str, Any]) -> str:
    """``bootstrap over 12 persons``: what was resampled, from ``metrics["ci"]``."""
    ci = metrics.get("ci") or {}
    n = ci.get("n_units")
    unit = "persons" if ci.get("unit") == "group" else "clips"
    if n == 1:
        unit = unit[:-1]
    return f"bootstrap over {n} {unit}" if n is not None else "bootstrap"


def answer_text(metrics: Mapping[str, Any]) -> tuple[str, str]:
    """The headline pair, plain text: the accuracy line and the macro-F1 line.

    E.g. ``Accuracy 62.5 % (95 % CI 41.0–80.2 %, bootstrap over 12 persons)``.
    """
    accuracy = metrics.get("accuracy")
    if accuracy is None:
        acc = "Accuracy n/a (no labelled clips)"
    else:
        acc = f"Accuracy {_pct(accuracy)}"
        span = _interval(metrics.get("accuracy_ci"))
        if span:
            acc += f" ({_level(metrics)} CI {span}, {_ci_basis(metrics)})"
    f1 = metrics.get("macro_f1")
    if f1 is None:
        mf1 = "Macro-F1 n/a (no labelled clips)"
    else:
        mf1 = f"Macro-F1 {f1:.3f}"
        span = _interval(metrics.get("macro_f1_ci"), percent=False)
        if span:
            mf1 += f" ({_level(metrics)} CI {span})"
    return acc, mf1


def is_wrong(clip: Mapping[str, Any]) -> bool:
    """A labelled clip whose prediction (possibly none) is not its golden class."""
    return clip.get("golden") is not None and clip.get("predict") != clip.get("golden")


def order_clips(clips: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Wrong clips first, then the rest, each in the given order."""
    clips = list(clips)
    return [c for c in clips if is_wrong(c)] + [c for c in clips if not is_wrong(c)]


def _img(png: bytes, alt: str, width: int | None = None) -> str:
    size = f' style="max-width:{width}px"' if width else ""
    return f'<img src="{plots.png_data_uri(png)}" alt="{_e(alt)}"{size}>'


def _h2(key: str) -> str:
    title = dict(SECTIONS)[key]
    return f'<h2 id="{key}">{_e(title)}</h2>'


def _table(head: Sequence[tuple[str, bool]], rows: Iterable[str], cls: str = "") -> str:
    """A table; ``head`` is ``(escaped label, numeric)``; ``rows`` are ready ``<tr>``."""
    ths = "".join(f'<th class="num">{h}</th>' if num else f"<th>{h}</th>" for h, num in head)
    klass = f' class="{cls}"' if cls else ""
    return (
        f'<div class="scroll"><table{klass}><thead><tr>{ths}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _td(value: Any, num: bool = False, cls: str = "") -> str:
    """A cell of ``value``, escaped."""
    classes = " ".join(c for c in ("num" if num else "", cls) if c)
    attr = f' class="{classes}"' if classes else ""
    return f"<td{attr}>{_e(value)}</td>"


def _partial_banner(metrics: Mapping[str, Any]) -> str:
    if not metrics.get("partial"):
        return ""
    shards = metrics.get("shards") or {}
    not_done = shards.get("not_done") or []
    listed = ", ".join(str(i) for i in not_done[:40]) + (" …" if len(not_done) > 40 else "")
    detail = ""
    if shards.get("planned") is not None:
        detail = f" {_e(shards.get('done'))} of {_e(shards.get('planned'))} shards are done"
        detail += f"; not done: {_e(listed)}." if not_done else "."
    return (
        '<div class="partial" id="partial" role="alert"><strong>PARTIAL</strong> '
        f"This report covers only part of the run.{detail} Clips of unfinished shards count "
        "as missing; rerun the report when the run is complete.</div>"
    )


def _answer(metrics: Mapping[str, Any]) -> str:
    acc, mf1 = answer_text(metrics)

    def split(text: str) -> str:
        head, sep, rest = text.partition(" (")
        if not sep or "CI" not in rest:
            return _e(text)
        return f'{_e(head)} <span class="ci">({_e(rest)}</span>'

    n_labelled = metrics.get("n_labelled")
    correct = ""
    if metrics.get("accuracy") is not None and metrics.get("no_face") == "abstain":
        compared = metrics.get("n_compared", n_labelled)
        correct = (
            f"<p class='note'>{_e(metrics.get('n_correct'))} of {_e(compared)} labelled clips "
            "right. Clips where no face was found abstain (reduce.no_face=abstain): coverage "
            f"{_pct(metrics.get('coverage'))} of the {_e(n_labelled)} labelled clips."
        )
    elif metrics.get("accuracy") is not None:
        correct = (
            f"<p class='note'>{_e(metrics.get('n_correct'))} of {_e(n_labelled)} labelled clips "
            "right. A labelled clip without a prediction (no face found, or the clip failed) "
            "counts as wrong."
        )
        if metrics.get("accuracy_scored") is not None:
            correct += (
                f" Over the {_e(metrics.get('n_scored'))} clips with a prediction: "
                f"{_pct(metrics.get('accuracy_scored'))}."
            )
        correct += "</p>"
    cards = [
        ("clips", metrics.get("n_videos"), False),
        ("labelled", n_labelled, False),
        ("with a prediction", metrics.get("n_scored"), False),
        ("no face", metrics.get("n_no_face"), bool(metrics.get("n_no_face"))),
        ("failed", metrics.get("n_failed"), bool(metrics.get("n_failed"))),
        ("missing", metrics.get("n_missing"), bool(metrics.get("n_missing"))),
    ]
    card_html = "".join(
        f'<div class="card{" bad" if bad else ""}"><b>{_e(v)}</b><span>{_e(k)}</span></div>'
        for k, v, bad in cards
    )
    return (
        f'{_h2("answer")}<p class="headline">{split(acc)}</p>'
        f'<p class="second">{split(mf1)}</p>{correct}<div class="cards">{card_html}</div>'
    )


def _confusion(metrics: Mapping[str, Any]) -> str:
    classes = list(metrics.get("classes") or [])
    confusion = metrics.get("confusion") or {}
    out = [_h2("confusion")]
    if not classes:
        return out[0] + "<p>No classes in the metrics.</p>"
    if any(sum((confusion.get(c) or {}).values()) for c in classes):
        out.append(
            "<figure>"
            + _img(plots.confusion_png(confusion, classes), "confusion heat map", 760)
            + "<figcaption>Rows: golden class; columns: predicted class, <i>none</i> = no "
            "prediction (no face or failed). Each cell: clips and share of its row.</figcaption>"
            "</figure>"
        )
    else:
        out.append("<p>No labelled clips, so no confusion table.</p>")
    per_class = metrics.get("per_class") or {}
    level = _level(metrics)
    rows = []
    for c in classes:
        pc = per_class.get(c) or {}

        def num(key: str, pc: Mapping[str, Any] = pc) -> str:
            v = pc.get(key)
            return "n/a" if v is None else f"{v:.3f}"

        rows.append(
            "<tr>"
            + _td(c)
            + _td(num("precision"), True)
            + _td(_with_ci(pc.get("recall"), pc.get("recall_ci"), percent=False), True)
            + _td(num("f1"), True)
            + _td(pc.get("support"), True)
            + "</tr>"
        )
    head = [
        ("class", False),
        ("precision", True),
        (f"recall ({_e(level)} CI)", True),
        ("F1", True),
        ("support", True),
    ]
    out.append(_table(head, rows))
    return "".join(out)


def _legend(names: Sequence[str], colours: Sequence[str], extra: str = "") -> str:
    items = "".join(
        f'<span><span class="sw" style="background:{c}"></span>{_e(n)}</span>'
        for n, c in zip(names, colours, strict=True)
    )
    return f'<div class="legend">{items}{extra}</div>'


def _profiles(metrics: Mapping[str, Any], emotions: Sequence[str], classes: Sequence[str]) -> str:
    groups = list(metrics.get("groups") or [])
    out = [_h2("profiles")]
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
    out.append(
        "<figure>"
        + _img(plots.profiles_png(shown, emotions, classes), "per-person profiles")
        + "<figcaption>Left: for each group, the share of its frames with a face whose top "
        "emotion is each of the seven. Right: the same frames by mapping class. "
        "n = clips.</figcaption></figure>"
    )
    level = _level(metrics)
    rows = []
    for g in groups:
        emotion_share = g.get("emotion_share") or {}
        top = max(emotion_share, key=lambda k: emotion_share[k] or 0) if emotion_share else None
        predicted = g.get("predicted_share") or {}
        pred_text = ", ".join(
            f"{c}\u00a0{_pct(predicted.get(c), 0)}".replace(" %", "\u00a0%")
            for c in classes
            if c in predicted
        )
        rows.append(
            "<tr>"
            + _td(g.get("group"))
            + _td(g.get("clips"), True)
            + _td(g.get("labelled"), True)
            + _td(g.get("frames_with_face"), True)
            + _td(top)
            + _td(pred_text or None)
            + _td(_with_ci(g.get("accuracy"), g.get("accuracy_ci")), True)
            + "</tr>"
        )
    head = [
        ("group", False),
        ("clips", True),
        ("labelled", True),
        ("frames with face", True),
        ("top emotion", False),
        ("clips predicted as", False),
        (f"accuracy ({_e(level)} CI)", True),
    ]
    out.append(_table(head, rows))
    return "".join(out)


def _timelines(metrics: Mapping[str, Any], emotions: Sequence[str]) -> str:
    timelines = list(metrics.get("timelines") or [])
    out = [_h2("timelines")]
    if not timelines:
        out.append("<p>No timelines in this run (<code>report.timelines=N</code> asks for N).</p>")
        return "".join(out)
    out.append(
        '<p class="note">The seven emotion scores of a few clips along time, the most '
        "confident wrong ones first. A gap in the lines (and a grey tick under them) is a "
        "sampled frame where no face was found.</p>"
    )
    out.append(
        _legend(
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
            caption += f"; confidence {t['confidence']:.2f}"
        if t.get("group") is not None:
            caption += f"; person {t['group']}"
        figures.append(
            f"<figure>{_img(plots.timeline_png(t, emotions), caption)}"
            f"<figcaption>{_e(caption)}</figcaption></figure>"
        )
    out.append(f'<div class="grid">{"".join(figures)}</div>')
    return "".join(out)


def _clips(metrics: Mapping[str, Any], clips: Sequence[Mapping[str, Any]]) -> str:
    classes = list(metrics.get("classes") or [])
    ordered = order_clips(clips)
    n_wrong = sum(1 for c in clips if is_wrong(c))
    out = [_h2("clips")]
    out.append(
        f'<p class="note">{len(clips)} clips; the {n_wrong} wrong ones (labelled, and the '
        "prediction differs or is missing) first. Votes: frames per class.</p>"
    )
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
            + _td(c.get("video"))
            + _td(c.get("group"))
            + _td(c.get("golden"))
            + _td(c.get("predict"), cls="pred")
            + "".join(_td(votes.get(k, 0), True) for k in classes)
            + _td(_pct(c.get("face_rate"), 0) if c.get("face_rate") is not None else None, True)
            + _td(status, cls=f"status-{status}" if status.isidentifier() else "")
            + _td(c.get("message") or "")
            + "</tr>"
        )
    head = [
        ("video", False),
        ("person", False),
        ("golden", False),
        ("predicted", False),
        *((f"{_e(k)}", True) for k in classes),
        ("face rate", True),
        ("status", False),
        ("message", False),
    ]
    out.append(_table(head, rows, "clips"))
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
        body = "".join(f"<li>{_e(x)}</li>" for x in lines[:MAX_LIST_ITEMS])
        if more > 0:
            body += f"<li>… and {more} more</li>"
        out.append(
            f"<details><summary>{_e(title)} ({len(lines)})</summary><ul>{body}</ul></details>"
        )
    return "".join(out)


def _faces(clips: Sequence[Mapping[str, Any]]) -> str:
    out = [_h2("faces")]
    rates = [c.get("face_rate") for c in clips]
    out.append(
        "<figure>"
        + _img(plots.face_rate_png(rates), "histogram of face-found rate per clip", 720)
        + "<figcaption>Per clip, the share of sampled frames in which a face was found."
        "</figcaption></figure>"
    )
    for status, title in (
        ("no_face", "Clips with no face in any sampled frame"),
        ("error", "Clips that failed"),
    ):
        chosen = [c for c in clips if c.get("status") == status]
        if status == "error" and not chosen:
            continue
        out.append(f'<h3 id="faces-{status}">{_e(title)} ({len(chosen)})</h3>')
        if not chosen:
            out.append("<p>None.</p>")
            continue
        items = "".join(
            f"<li><code>{_e(c.get('video'))}</code>"
            + (f" — {_e(c.get('message'))}" if c.get("message") else "")
            + (
                f" ({_e(c.get('frames_sampled'))} frames sampled)"
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


def _provenance(metrics: Mapping[str, Any]) -> str:
    out = [_h2("provenance")]
    speed = (metrics.get("throughput") or {}).get("lines") or []
    out.append("<h3>Speed</h3>")
    if speed:
        out.append("<ul>" + "".join(f"<li>{_e(line)}</li>" for line in speed) + "</ul>")
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
    if ci:
        items.append(
            (
                "intervals",
                f"{ci.get('method', 'bootstrap')}, level {ci.get('level')}, "
                f"{ci.get('resamples')} resamples, unit {ci.get('unit')} "
                f"({ci.get('n_units')} units)",
            )
        )
    body = "".join(f"<dt>{_e(k)}</dt><dd><code>{_e(v)}</code></dd>" for k, v in items)
    out.append(f'<h3>Provenance</h3><dl class="kv">{body}</dl>')
    settings = metrics.get("settings_yaml")
    out.append("<h3>Settings</h3>")
    out.append(f"<pre>{_e(settings)}</pre>" if settings else "<p>No settings recorded.</p>")
    return "".join(out)


def _fit(metrics: Mapping[str, Any]) -> str:
    """The learnt head's cross-validated figures beside the study's vote, where
    ``femo fit`` was run on this run (``metrics["fit"]``); empty otherwise."""
    fit = metrics.get("fit")
    if not fit:
        return ""
    labels = (("all", "all labelled clips (no face = wrong)"), ("with_face", "clips with a face"))
    rows = []
    for key, label in labels:
        part = fit.get(key) or {}
        head, vote = part.get("head") or {}, part.get("vote") or {}
        comp = part.get("comparison") or {}
        if not head or not vote:
            continue
        diff = comp.get("difference")
        diff_text = "" if diff is None else f"{100 * diff:+.1f} points"
        span = _interval(comp.get("difference_ci"))
        if span:
            diff_text += f" ({span})"
        p_value = comp.get("mcnemar_p")
        cells = [
            _e(label),
            _e(part.get("n")),
            _e(_with_ci(vote.get("accuracy"), vote.get("accuracy_ci"))),
            _e(_with_ci(head.get("accuracy"), head.get("accuracy_ci"))),
            _e(diff_text),
            "" if p_value is None else _e(f"{p_value:.2g}"),
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (
        '<h2 id="fit">A head learnt on these clips (femo fit)</h2>'
        "<p>Cross-validated with folds grouped by person: both methods are scored on the same "
        f"held-out clips. Head file: <code>{_e(fit.get('head_file'))}</code>.</p>"
        "<table><tr><th>clips</th><th>n</th><th>study's vote</th><th>learnt head</th>"
        "<th>head − vote</th><th>McNemar p</th></tr>" + "".join(rows) + "</table>"
    )


def render_index_html(metrics: dict[str, Any], clips: list[dict[str, Any]]) -> str:
    """The whole report page as one self-contained HTML string.

    ``metrics`` is the content of ``report/metrics.json``; ``clips`` the per-clip rows
    (``video``, ``group``, ``golden``, ``predict``, ``status``, ``frames_sampled``,
    ``frames_with_face``, ``face_rate``, ``votes``, ``message``). Missing optional keys
    are shown as absent. Every string from the data is HTML-escaped.
    """
    emotions = list(metrics.get("emotions") or FER_EMOTIONS)
    classes = list(metrics.get("classes") or [])
    prov = metrics.get("provenance") or {}
    root = prov.get("dataset_root")
    title = "femo report" + (f" — {root}" if root else "")
    when = prov.get("reported_at") or prov.get("run_created")
    sub = " · ".join(
        _e(x)
        for x in (
            f"dataset {root}" if root else None,
            f"labels {prov.get('labels_file')}" if prov.get("labels_file") else None,
            f"report {when}" if when else None,
        )
        if x
    )
    links = [*SECTIONS]
    if metrics.get("identities"):  # reference photos given: after the per-person profiles
        links.insert(3, ("identities", "Identities"))
    nav = "".join(f'<a href="#{key}">{_e(label)}</a>' for key, label in links)
    partial = " (PARTIAL)" if metrics.get("partial") else ""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">",
        f"<title>{_e(title + partial)}</title>",
        f"<style>{_CSS}</style></head><body>",
        _partial_banner(metrics),
        f'<main><header><h1>{_e("femo report")}</h1><div class="sub">{sub}</div></header>',
        f"<nav>{nav}</nav>",
        f"<section>{_answer(metrics)}</section>",
        f"<section>{_fit(metrics)}</section>" if metrics.get("fit") else "",
        f"<section>{_confusion(metrics)}</section>",
        f"<section>{_profiles(metrics, emotions, classes)}</section>",
        f"<section>{identities_html(metrics.get('identities'))}</section>"
        if metrics.get("identities")
        else "",
        f"<section>{_timelines(metrics, emotions)}</section>",
        f"<section>{_clips(metrics, clips)}</section>",
        f"<section>{_faces(clips)}</section>",
        f"<section>{_provenance(metrics)}</section>",
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"
