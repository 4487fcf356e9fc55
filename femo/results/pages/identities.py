"""Per-identity profiles on the pages: ``report.md``'s table, ``identities.csv`` and
``index.html``'s section, from the profiles :mod:`femo.results.faces.identities` makes.
The profiles hold names, counts and scores only: never an embedding.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections.abc import Mapping, Sequence

from ...config import EMOTIONS
from ..metrics import Identities
from .formatting import top_text


def _top(shares: Mapping[str, float] | None, k: int = 3) -> str:
    return top_text(shares, k)


def identities_markdown(profiles: Identities | None) -> list[str]:
    """The report.md section (empty without references)."""
    if not profiles:
        return []
    share = profiles.unmatched_share
    lines = [
        "",
        f"## Identities ({len(profiles.persons) - 1} reference persons)",
        "",
        f"- faces: {profiles.faces}; matched to nobody: {profiles.unmatched}"
        + (f" ({100 * share:.1f}%)" if share is not None else ""),
        "",
        "| person | faces | clips | of them labelled for another | top emotions | classes |",
        "|---|---|---|---|---|---|",
    ]
    for p in profiles.persons:
        lines.append(
            f"| {p.person} | {p.faces} | {p.clips} | {p.clips_labelled_other} "
            f"| {_top(p.emotion_share)} | {_top(p.class_share)} |"
        )
    return lines


def identities_csv_text(profiles: Identities, classes: Sequence[str]) -> str:
    """``identities.csv``: one row per person (and one for the faces matched to nobody)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(
        ["person", "faces", "clips", "clips_labelled_other"]
        + [f"share_{e}" for e in EMOTIONS]
        + [f"mean_{e}" for e in EMOTIONS]
        + [f"share_{c}" for c in classes]
    )
    for p in profiles.persons:
        means = [p.mean_scores[e] for e in EMOTIONS]
        emotion, cls = p.emotion_share or {}, p.class_share or {}
        writer.writerow(
            [p.person, p.faces, p.clips, p.clips_labelled_other]
            + [f"{emotion[e]:.4f}" if emotion else "" for e in EMOTIONS]
            + ["" if m is None else f"{m:.4f}" for m in means]
            + [f"{cls[c]:.4f}" if cls else "" for c in classes]
        )
    return buf.getvalue()


def identities_html(
    profiles: Identities | None, crops: Mapping[str, list[bytes]] | None = None
) -> str:
    """The index.html section (empty without references); ``crops``: each person's
    reference faces, shown under their name."""
    if not profiles:
        return ""
    e = html.escape
    share = profiles.unmatched_share
    crops = crops or {}
    body = "".join(
        "<tr>"
        + f"<td>{e(p.person)}{_crops_html(crops.get(p.person, []))}</td>"
        + "".join(f'<td class="num">{n}</td>' for n in (p.faces, p.clips, p.clips_labelled_other))
        + f"<td>{e(_top(p.emotion_share))}</td><td>{e(_top(p.class_share))}</td></tr>"
        for p in profiles.persons
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
        f"their reference photos: {profiles.faces} faces, {profiles.unmatched} matched to "
        f"nobody{unmatched}."
        + (" Under each person, the reference faces used." if crops else "")
        + "</p>"
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
        "</table></div>"
    )


def _crops_html(crops: list[bytes], most: int = 12) -> str:
    """A person's reference faces, as the report matched them, small enough to check."""
    images = "".join(
        f'<img class="ref-face" src="data:image/png;base64,{base64.b64encode(c).decode()}" '
        'alt="reference face" width="48" height="48">'
        for c in crops[:most]
    )
    more = f" and {len(crops) - most} more" if len(crops) > most else ""
    return f"<br>{images}{more}" if crops else ""
