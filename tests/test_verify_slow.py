"""The face check in a whole run of the blazeface preset on graphics-clips, and femo show."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from .conftest import SHARED, femo, need

pytestmark = pytest.mark.slow

GRAPHICS = SHARED / "graphics-clips" / "clips"


def test_text_loses_its_faces_and_the_banner_keeps_its_one(tmp_path):
    """text-11 ("BBC 0800": BlazeFace's "face" in the 08, its upright crop scoring 0.99)
    and banner-00 (one face, 5 words), every 5th frame, with the preset and without its
    check: the text's boxes become rejected rows, the banner's face stays in every frame;
    femo show draws the rejected boxes dashed, with their presence."""
    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("text-11.mp4", "banner-00.mp4"):
        (clips / name).symlink_to(need(GRAPHICS / name))
    rows = {}
    for verify in ("mesh", "none"):
        run = tmp_path / verify
        done = femo("run", f"dataset.root={clips}", "detector=blazeface", "sampling.every_n=5",
                    f"detector.verify={verify}", f"hydra.run.dir={run}", cwd=tmp_path,
                    timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        rows[verify] = pq.read_table(run / "shards" / "shard-00000.parquet").to_pandas()
    checked, plain = rows["mesh"], rows["none"]
    text = checked[checked.video == "text-11.mp4"]
    found = plain[(plain.video == "text-11.mp4") & plain.face.notna()]
    assert len(found) > 0  # without the check, BlazeFace finds "faces" in the text
    assert text[text.kind == "frame"].face.isna().all()
    rejected = text[text.kind == "rejected"]
    # The same boxes, now rejected: their presence under 0.05, their score under 0.65.
    key = ["frame", "x", "y", "w", "h"]
    assert sorted(map(tuple, rejected[key].to_numpy())) == sorted(map(tuple, found[key].to_numpy()))
    assert (rejected.face_check < 0.05).all() and (rejected.detector_confidence < 0.65).all()
    banner = checked[(checked.video == "banner-00.mp4") & (checked.kind == "frame")]
    assert banner.face.notna().all() and (banner.face == 0).all()
    assert (checked.video == "banner-00.mp4").sum() == (plain.video == "banner-00.mp4").sum()

    from femo.results.run import open_run
    from femo.results.sheets.show import make_sheet

    opened = open_run(tmp_path / "mesh")
    clip = next(c for c in opened.plan.clips if c.video == "text-11.mp4")
    sheet = make_sheet(opened, clip)
    boxes = [b for t in sheet.layout["tiles"] for b in t["boxes"]]
    assert len(boxes) == len(rejected) and all("rejected" in b for b in boxes)
    assert all(b["label"].startswith("not a face 0.0") for b in boxes)
    assert any(line.startswith("dashed grey: not a face") for line in sheet.layout["title"])
