"""Per-identity profiles on the pages: ``report.md``'s table, ``identities.csv`` and
``index.html``'s section, from the profiles :mod:`femo.results.faces.identities` makes.
The profiles hold names, counts and scores only: never an embedding.
"""

from __future__ import annotations

import csv
import html
import io
from typing import Any

from ...config import EMOTIONS


def _top(shares: dict[str, float], k: int = 3) -> str:
    top = sorted(shares.items(), key=lambda kv: -kv[1])[:k]
    return ", ".join(f"{e} {100 * v:.0f}%" for e, v in top if v > 0) or "-"


def identities_markdown(profiles: dict[str, Any] | None) -> list[str]:
    """The report.md section (empty without references)."""
    if not profiles:
        return []
    share = profiles["unmatched_share"]
    lines = [
        "",
        f"## Identities ({len(profiles['persons']) - 1} reference persons)",
        "",
        f"- faces: {profiles['faces']}; matched to nobody: {profiles['unmatched']}"
        + (f" ({100 * share:.1f}%)" if share is not None else ""),
        "",
        "| person | faces | clips | of them labelled for another | top emotions | classes |",
        "|---|---|---|---|---|---|",
    ]
    for p in profiles["persons"]:
        lines.append(
            f"| {p['person']} | {p['faces']} | {p['clips']} | {p['clips_labelled_other']} "
            f"| {_top(p['emotion_share'])} | {_top(p['class_share'])} |"
        )
    return lines


def identities_csv_text(profiles: dict[str, Any], classes: list[str]) -> str:
    """``identities.csv``: one row per person (and one for the faces matched to nobody)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(
        ["person", "faces", "clips", "clips_labelled_other"]
        + [f"share_{e}" for e in EMOTIONS]
        + [f"mean_{e}" for e in EMOTIONS]
        + [f"share_{c}" for c in classes]
    )
    for p in profiles["persons"]:
        means = [p["mean_scores"][e] for e in EMOTIONS]
        writer.writerow(
            [p["person"], p["faces"], p["clips"], p["clips_labelled_other"]]
            + [f"{p['emotion_share'][e]:.4f}" for e in EMOTIONS]
            + ["" if m is None else f"{m:.4f}" for m in means]
            + [f"{p['class_share'][c]:.4f}" for c in classes]
        )
    return buf.getvalue()


def identities_html(profiles: dict[str, Any] | None) -> str:
    """The index.html section (empty without references)."""
    if not profiles:
        return ""
    e = html.escape
    share = profiles["unmatched_share"]
    body = "".join(
        "<tr>"
        + f"<td>{e(p['person'])}</td>"
        + "".join(
            f'<td class="num">{p[k]}</td>' for k in ("faces", "clips", "clips_labelled_other")
        )
        + f"<td>{e(_top(p['emotion_share']))}</td><td>{e(_top(p['class_share']))}</td></tr>"
        for p in profiles["persons"]
    )
    head = "".join(
        f"<th{' class=num' if num else ''}>{e(h)}</th>"
        for h, num in (
            ("person", False), ("faces", True), ("clips", True),
            ("labelled for another", True), ("top emotions", False), ("classes", False),
        )
    )  # fmt: skip
    unmatched = f" ({100 * share:.1f} %)" if share is not None else ""
    return (
        '<h2 id="identities">Identities</h2>'
        f'<p id="identities-summary">Each reference person\'s faces in every clip, matched by '
        f"their reference photos: {profiles['faces']} faces, {profiles['unmatched']} matched to "
        f"nobody{unmatched}.</p>"
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
        "</table></div>"
    )
