"""`femo show` and the report's contact sheets, on a hand-made run over a synthetic clip;
and (slow) a real run over two dev clips."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from femo.results.commands import reduce_run
from femo.results.sheets.show import show_clip
from femo.rundir import RunDir

from .builders import talk_run

pytestmark = pytest.mark.usefixtures("no_tensorflow")


@pytest.fixture
def run_dir(tmp_path) -> Path:
    """talk.avi's run (:func:`tests.builders.talk_run`)."""
    return talk_run(tmp_path)


def test_show_writes_the_sheet_under_the_report(run_dir):
    path = show_clip(run_dir, "talk.avi")
    assert path == run_dir / "report" / "sheets" / "talk.avi.png"
    image = cv2.imread(str(path))
    # 3 tiles of 240x120 in one row, 4 title lines
    assert image.shape == (4 + 4 * 16 + 120 + 16 + 4 + 4, 3 * 240 + 4 * 4, 3)


def test_show_cli_prints_the_path(run_dir, fast_femo, tmp_path):
    out = tmp_path / "sheet.png"
    done = fast_femo("show", str(run_dir), "talk.avi", "--out", str(out), "reduce.face=largest")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{out}\n", "")
    assert cv2.imread(str(out)) is not None


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["nope.avi"], "no clip 'nope.avi' in {run} (e.g. 'talk.avi')"),
        (["talk.avi", "--out", "x.jpg"], "--out x.jpg: the sheet is a PNG; name a .png file"),
        (["talk.avi", "reduce.face=middle"],
         "reduce.face must be 'first', 'largest', 'main' or 'person', not 'middle'"),
        (["talk.avi", "detector.name=mtcnn"], None),
    ],
)  # fmt: skip
def test_show_bad_input_is_one_line(run_dir, fast_femo, args, line):
    done = fast_femo("show", str(run_dir), *args)
    assert done.returncode == 2 and done.stdout == ""
    (err,) = done.stderr.splitlines()
    if line is None:  # only that it names the key
        assert err.startswith("femo: error: ") and "detector.name" in err
    else:
        assert err == "femo: error: " + line.format(run=run_dir)


def test_show_an_unreadable_clip_is_one_line(run_dir, fast_femo, tmp_path):
    (tmp_path / "data" / "talk.avi").unlink()
    done = fast_femo("show", str(run_dir), "talk.avi")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"femo: error: cannot read clip 'talk.avi' again: "
        f"{tmp_path / 'data' / 'talk.avi'}: file not found\n"
    )
    (tmp_path / "data" / "talk.avi").write_bytes(b"garbage")
    done = fast_femo("show", str(run_dir), "talk.avi")
    assert done.stderr == (
        f"femo: error: cannot read clip 'talk.avi' again: "
        f"{tmp_path / 'data' / 'talk.avi'}: cannot be opened as a video\n"
    )


def test_show_a_clip_whose_shard_is_not_done(run_dir, fast_femo):
    RunDir(run_dir).shard_file(0).unlink()
    done = fast_femo("show", str(run_dir), "talk.avi")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "femo: error: clip 'talk.avi' is in shard 0 (shard-00000.parquet), which is not "
        f"done; nothing to show yet (femo status {run_dir})\n"
    )


def sheet_images(html: str) -> list[str]:
    section = html.split('<h2 id="sheets">', 1)[1].split("</section>", 1)[0]
    return re.findall(r'<img src="data:image/png;base64,', section)


def test_report_embeds_a_sheet_of_the_wrong_clip(run_dir):
    html = (reduce_run(run_dir, []).report_dir / "index.html").read_text(encoding="utf-8")
    assert len(sheet_images(html)) == 1
    # Confidence: the mean Positive score (happy + surprise) of the scored faces, frames 0
    # and 8: 0.6 + 0.4 / 6 = 0.67 each (the vote's share, 1.00, said nothing).
    assert (
        "talk.avi: predicted Positive, golden Negative, confidence 0.67 (mean Positive score)"
        in html
    )


def test_report_says_so_when_clips_are_not_readable(run_dir, tmp_path):
    (tmp_path / "data" / "talk.avi").unlink()
    html = (reduce_run(run_dir, []).report_dir / "index.html").read_text(encoding="utf-8")
    (line,) = [s for s in html.splitlines() if 'id="sheets"' in s]
    assert "are left out: the clips are not readable from here" in line
    assert sheet_images(html) == []


def test_report_sheets_0_has_no_section(run_dir):
    report_dir = reduce_run(run_dir, ["report.sheets=0"]).report_dir
    assert 'id="sheets"' not in (report_dir / "index.html").read_text(encoding="utf-8")


# ------------------------------------------------------------------ slow, real


HAPPY, SAD = "W011_front_happy_level3_001.mp4", "M030_front_sad_level3_001.mp4"


@pytest.mark.slow
def test_show_after_a_real_run_over_two_dev_clips(dev_clips, tmp_path):
    import shutil

    data = tmp_path / "data"
    data.mkdir()
    for name in (HAPPY, SAD):
        src = dev_clips / name
        if not src.exists():
            pytest.skip(f"needs {src}")
        (data / name).symlink_to(src)
    labels = tmp_path / "labels.csv"
    labels.write_text(f"video,label\n{HAPPY},Negative\n{SAD},Neutral\n")
    env_python = [sys.executable, "-m", "femo"]
    run = subprocess.run(
        [*env_python, "run", f"dataset.root={data}", f"dataset.labels={labels}",
         "sampling.every_n=10", "launcher.workers=1", f"output_root={tmp_path / 'out'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    (run_dir,) = [p.parent for p in (tmp_path / "out").glob("*/*/clips.csv")]
    html = (run_dir / "report" / "index.html").read_text(encoding="utf-8")
    assert len(sheet_images(html)) >= 1  # W011_happy labelled Negative here: wrong
    shown = subprocess.run(
        [*env_python, "show", str(run_dir), HAPPY],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    path = Path(shown.stdout.strip())
    image = cv2.imread(str(path))
    frames = cv2.VideoCapture(str(data / HAPPY)).get(cv2.CAP_PROP_FRAME_COUNT)
    n = len(range(0, int(frames), 10))
    rows = -(-n // 6)
    # 256x256 clips: tiles 240x240, 6 a row, 4 title lines
    assert image.shape == (4 + 4 * 16 + rows * (240 + 16 + 4) + 4, 6 * 240 + 7 * 4, 3)
    if os.environ.get("FEMO_KEEP_SHEET"):  # for a look by eye
        shutil.copy(path, os.environ["FEMO_KEEP_SHEET"])
