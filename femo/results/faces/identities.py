"""Per-identity profiles: each reference person's emotions over every face of theirs.

With ``dataset.references`` (identity=dlib), every classified face is matched to the
nearest reference person (:func:`femo.results.faces.match.identify`), in every clip, also
in clips labelled for someone else; faces matched to nobody are counted. The profiles hold
names, counts and scores only: never an embedding. :mod:`femo.results.pages.identities`
writes them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...config import EMOTIONS, MappingConfig
from ..metrics import Identities, IdentityProfile

NOBODY = "(nobody)"


def identity_profiles(
    faces: pd.DataFrame,
    persons: list[str],
    mapping: MappingConfig,
    person_of: dict[str, str] | None = None,
) -> Identities:
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
            IdentityProfile(
                person=name,
                faces=n,
                clips=len(clips),
                clips_labelled_other=sum(
                    1 for v in clips if v in person_of and person_of[v] != name
                ),
                # Never seen: no shares (not zeros, whose argmax would read "angry").
                emotion_share={e: float(share[e]) for e in EMOTIONS} if n else None,
                mean_scores={e: (float(mine[e].mean()) if n else None) for e in EMOTIONS},
                class_share=({c: float(cls.get(c, 0) / n) for c in mapping.classes} if n else None),
            )
        )
    # Most-seen first; the faces matched to nobody last.
    rows[:-1] = sorted(rows[:-1], key=lambda r: -r.faces)
    total = len(faces)
    unmatched = rows[-1].faces
    return Identities(
        faces=total,
        unmatched=unmatched,
        unmatched_share=unmatched / total if total else None,
        persons=rows,
    )


def face_table(frame_rows: pd.DataFrame, top: np.ndarray, persons: np.ndarray) -> pd.DataFrame:
    """Per classified face: video, person, top emotion and scores (input of the profiles)."""
    out = frame_rows[["video", *EMOTIONS]].reset_index(drop=True).copy()
    out["emotion"] = top
    out["person"] = persons
    return out
