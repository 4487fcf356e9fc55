"""The face check's rule over a grid of settings, from face_check_evidence.py's rows.

Usage: python scripts/face_check_grid.py EVIDENCE.csv [EVIDENCE.csv ...]

For each preset in the rows and each (verify_below, verify_min) of the grid, the
figures of the issue's Done-when as the rule would give them: text clips of
graphics-clips with a face kept, banner frames without their face or with a second one,
faces matched to Alex Lacamoire (dlib distance under 0.6 to his photo and nearer than to
Lin-Manuel Miranda's, femo's reduce.match_distance), Hamilton frames without a face, and
lfw-expressions images with a face. A face is rejected where its BlazeFace score is under
verify_below and its presence (turned crop) under verify_min. The banner clips' face sits
in the picture at x 30-286, y 20-276 (the clips' layout); a box centred there is it.
"""

from __future__ import annotations

import itertools
import sys

import numpy as np
import pandas as pd

BELOW = (0.6, 0.65, 0.7, 0.75, 0.8)
MINIMUM = (0.5, 0.1, 0.05, 0.01)


def figures(rows: pd.DataFrame, below: float, minimum: float) -> dict:
    face = rows.x.notna()
    kept = face & ~((rows.score < below) & (rows.presence < minimum))
    rows = rows.assign(kept=kept, real=rows.real & kept)
    text = rows[rows.set == "graphics-text"]
    banner = rows[rows.set == "graphics-banner"].groupby(["file", "frame"])
    hamilton = rows[rows.set == "fr-clip"].groupby("frame").kept.sum()
    return {
        "text clips with a face": text[text.kept].file.nunique(),
        "banner frames without it": int((banner.real.sum() == 0).sum()),
        "banner frames, 2nd face": int((banner.kept.sum() > 1).sum()),
        "lacamoire": int((rows.lacamoire_match & rows.kept).sum()),
        "hamilton frames without a face": int((hamilton == 0).sum()),
        "lfw images with a face": int(rows[rows.set == "lfw"].groupby("file").kept.any().sum()),
    }


def main() -> None:
    rows = pd.concat(pd.read_csv(path) for path in sys.argv[1:])
    cx, cy = rows.x + rows.w / 2, rows.y + rows.h / 2
    rows["real"] = (rows.set == "graphics-banner") & cx.between(30, 286) & cy.between(20, 276)
    rows["lacamoire_match"] = (rows.lacamoire < 0.6) & (rows.lacamoire < rows.miranda)
    out = []
    for preset, group in rows.groupby("preset"):
        out.append({"preset": preset, "verify_below": 0, "verify_min": 0, **figures(group, 0, 0)})
        for below, minimum in itertools.product(BELOW, MINIMUM):
            out.append({"preset": preset, "verify_below": below, "verify_min": minimum,
                        **figures(group, below, minimum)})  # fmt: skip
    with pd.option_context("display.width", 250, "display.max_rows", 500):
        print(pd.DataFrame(out).replace({np.nan: None}).to_string(index=False))


if __name__ == "__main__":
    main()
