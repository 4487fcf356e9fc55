"""Per-identity profiles: each reference person's emotions over every face of theirs.

With ``dataset.references`` (identity=dlib), every classified face is matched to the
nearest reference person (:func:`femo.results.faces.identify`), in every clip, also in
clips labelled for someone else; faces matched to nobody are counted. The profiles hold
names, counts and scores only: never an embedding.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from typing import Any

import numpy as np
import pandas as pd

from ..config import EMOTIONS, MappingConfig

NOBODY = "(nobody)"


def identity_profiles(
    faces: pd.DataFrame,
    persons: list[str],
    mapping: MappingConfig,
    person_of: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Profiles from one row per classified face: ``video``, ``person`` (None: nobody),
    ``emotion`` (its top emotion) and the 7 scores.

    Every reference person gets a row (0 faces where never seen), the most seen first
    (ties in ``persons`` order), then one for the faces matched to nobody.
    """
    person_of = person_of or {}
    who = faces["person"].where(faces["person"].notna(), NOBODY)
    rows = []
    for name in [*dict.fromkeys(persons), NOBODY]:
        mine = faces[who.to_numpy() == name]
        n = len(mine)
        clips = sorted(set(mine["video"]))
        share = mine["emotion"].value_counts().reindex(EMOTIONS, fill_value=0) / (n or 1)
        cls = mine["emotion"].map(mapping.emotions).value_counts()
        rows.append(
            {
                "person": name,
                "faces": n,
                "clips": len(clips),
                "clips_labelled_other": sum(
                    1 for v in clips if v in person_of and person_of[v] != name
                ),
                "emotion_share": {e: float(share[e]) for e in EMOTIONS},
                "mean_scores": {e: (float(mine[e].mean()) if n else None) for e in EMOTIONS},
                "class_share": {c: float(cls.get(c, 0) / n) if n else 0.0 for c in mapping.classes},
            }
        )
    # Most-seen first; the faces matched to nobody last.
    rows[:-1] = sorted(rows[:-1], key=lambda r: -r["faces"])
    total = len(faces)
    unmatched = rows[-1]["faces"]
    return {
        "faces": total,
        "unmatched": unmatched,
        "unmatched_share": unmatched / total if total else None,
        "persons": rows,
    }


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
    crops = profiles.get("crops") or {}
    body = "".join(
        "<tr>"
        + f"<td>{e(p['person'])}{_crops_html(crops.get(p['person'], []))}</td>"
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


def face_table(frame_rows: pd.DataFrame, top: np.ndarray, persons: np.ndarray) -> pd.DataFrame:
    """Per classified face: video, person, top emotion and scores (input of the profiles)."""
    out = frame_rows[["video", *EMOTIONS]].reset_index(drop=True).copy()
    out["emotion"] = top
    out["person"] = persons
    return out
