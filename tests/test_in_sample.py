"""A head applied to clips it was fitted on says so (issue 37): ``head.json`` records the
clips it was trained on by content, and the console, the Method line, report.md,
index.html and metrics.json mark the accuracy in-sample."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from femo.dataset import Clip, Segment
from femo.results.fit.fitted_clips import (
    FittedClip,
    clip_identities,
    file_fingerprint,
    fitted_on,
    read_fitted_clips,
)
from femo.results.fit.headfile import head_from_json, head_to_json
from femo.results.metrics import InSample, Metrics
from femo.rundir import RunDir

from .builders import synthetic_run
from .conftest import SHARED, femo, need

pytestmark = pytest.mark.usefixtures("no_tensorflow")

PERSONS = "dataset.group_pattern='^(p[0-9]+)_'"


# ------------------------------------------------------------------ fingerprints


def test_a_file_is_known_by_its_content_not_its_name(tmp_path):
    data = bytes(range(256)) * 1000  # 256 kB: both ends are read, not the middle
    (tmp_path / "a.mp4").write_bytes(data)
    (tmp_path / "copy.mp4").write_bytes(data)
    middle = bytearray(data)
    middle[128_000] ^= 1
    (tmp_path / "middle.mp4").write_bytes(bytes(middle))
    end = bytearray(data)
    end[-1] ^= 1
    (tmp_path / "end.mp4").write_bytes(bytes(end))
    a = file_fingerprint(tmp_path / "a.mp4")
    assert a is not None and a.startswith("256000:") and len(a.split(":")[1]) == 16
    assert file_fingerprint(tmp_path / "copy.mp4") == a
    assert file_fingerprint(tmp_path / "end.mp4") != a
    # A change between the two ends is not read: that is what keeps it cheap.
    assert file_fingerprint(tmp_path / "middle.mp4") == a
    assert file_fingerprint(tmp_path / "absent.mp4") is None


def test_segments_that_overlap_fitted_frames_are_in_sample(tmp_path):
    (tmp_path / "long.mp4").write_bytes(b"x" * 1000)
    (tmp_path / "other.mp4").write_bytes(b"y" * 1000)
    fitted = clip_identities(str(tmp_path), [
        Clip("long.mp4@0", "video", Segment("long.mp4", 0, 100)),
        Clip("long.mp4@200", "video", Segment("long.mp4", 200, 300)),
    ])  # fmt: skip
    assert fitted[0].to_json() == {
        "clip": "long.mp4@0", "file": file_fingerprint(tmp_path / "long.mp4"), "frames": [0, 100]
    }  # fmt: skip
    scored = clip_identities(str(tmp_path), [
        Clip(f"long.mp4@{s}", "video", Segment("long.mp4", s, s + 50))
        for s in (0, 50, 100, 150, 250, 300)
    ] + [Clip("long.mp4", "video"), Clip("other.mp4", "video")])  # fmt: skip
    assert fitted_on(fitted, scored) == {
        "long.mp4@0": "content",
        "long.mp4@50": "content",
        "long.mp4@250": "content",
        "long.mp4": "content",
    }  # fmt: skip  (100-150, 150-200 and 300-350 touch no fitted frame)


def test_a_clip_is_known_by_name_only_where_a_file_could_not_be_read():
    fitted = [FittedClip.of(clip="a.mp4", file="10:aa", frames=None),
              FittedClip.of(clip="b.mp4", file=None, frames=None)]  # fmt: skip
    scored = [
        FittedClip.of(clip="a.mp4", file="10:bb", frames=None),  # same name, other file
        FittedClip.of(clip="b.mp4", file="10:cc", frames=None),  # unread when fitted
        FittedClip.of(clip="a.mp4", file=None, frames=None),  # unread now
    ]
    assert fitted_on(fitted, scored[:1]) == {}
    assert fitted_on(fitted, scored[1:2]) == {"b.mp4": "name"}
    assert fitted_on(fitted, scored[2:]) == {"a.mp4": "name"}


def _head_json(provenance: dict) -> dict:
    return {
        "format": "femo-head", "version": 1, "classes": ["a", "b"], "feature_names": ["x"],
        "scaler": {"mean": [0.0], "scale": [1.0]}, "coefficients": [[1.0], [-1.0]],
        "intercepts": [0.0, 0.0], "C": 1.0, "provenance": provenance,
    }  # fmt: skip


def test_head_files_with_and_without_fitted_clips_load_and_write_back_unchanged():
    old = _head_json({"detectors": ["haar"], "labelled_clips": 12})
    head = head_from_json(old)
    assert read_fitted_clips(head.provenance) == ()
    # A provenance written by hand may hold a count: no clips recorded, as before.
    assert read_fitted_clips(head_from_json(_head_json({"clips": 600})).provenance) == ()
    assert head_to_json(head, {}) == old
    clips = [{"clip": "a.mp4", "file": "10:aa", "frames": None},
             {"clip": "l.mp4@0", "file": None, "frames": [0, 50]}]  # fmt: skip
    new = _head_json({"detectors": ["haar"], "clips": clips})
    head = head_from_json(new)
    assert [c.to_json() for c in read_fitted_clips(head.provenance)] == clips
    assert head_to_json(head, {}) == new


@pytest.mark.parametrize(
    "clips, message",
    [
        ([{"file": "1:aa"}], "head file: provenance.clips[0]: required key(s) 'clip' missing"),
        ([{"clip": "a", "size": 3}], "head file: provenance.clips[0]: unknown key(s) 'size'"),
        ([{"clip": "a", "frames": [1]}], "head file: provenance.clips: 'a' frames must be [start, end]"),
    ],
)  # fmt: skip
def test_a_bad_list_of_fitted_clips_is_one_line(clips, message):
    with pytest.raises(ValueError) as caught:
        head_from_json(_head_json({"detectors": ["haar"], "clips": clips}))
    assert str(caught.value) == message


def test_metrics_json_reads_the_in_sample_record_and_old_files_without_it():
    old = {"accuracy": 0.5, "macro_f1": 0.4, "n_videos": 3, "n_labelled": 2}
    assert Metrics.from_json(old).to_json() == old
    assert Metrics.from_json(old).in_sample is None
    record = {"head_file": "h.json", "clips": 2, "labelled": 2, "known_by": ["content"],
              "out_of_sample_labelled": 1, "out_of_sample_accuracy": 1.0,
              "out_of_sample_accuracy_ci": None}  # fmt: skip
    m = Metrics.from_json({**old, "in_sample": record})
    assert isinstance(m.in_sample, InSample) and m.in_sample.labelled == 2
    assert m.to_json() == {**old, "in_sample": record}


# ------------------------------------------------------------------ end to end


def _synthetic(folder: Path, root: Path | None = None, content: str = "") -> Path:
    """A synthetic run (60 labelled clips of 12 persons) whose dataset.root holds a small
    file per clip (``content`` varies them); none without ``root``."""
    folder.mkdir(parents=True)
    run_dir = synthetic_run(folder)
    if root is not None:
        run = RunDir(run_dir)
        manifest = run.read_manifest()
        root.mkdir(parents=True, exist_ok=True)
        for clip in run.read_plan().clips:
            (root / clip.video).write_bytes(f"{content}{clip.video}".encode() * 100)
        manifest["config"]["dataset"]["root"] = str(root)
        run.manifest_file.write_text(json.dumps(manifest))
    return run_dir


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, poisoned_tf) -> Path:
    """A synthetic run over small files and the head ``femo fit`` left in it (fitted once
    for the module: a fit takes a while on a busy machine)."""
    tmp = tmp_path_factory.mktemp("fitted")
    run_dir = _synthetic(tmp / "a", tmp / "media")
    proc = femo("fit", str(run_dir), PERSONS, "report.resamples=200", cwd=tmp, timeout=600,
                first=poisoned_tf)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run_dir


def _copy(run_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the fitted run (its own report folders) and its head file."""
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    return copy, copy / "fit" / "head.json"


def _report(run_dir: Path) -> Path:
    (folder,) = [p for p in run_dir.iterdir() if p.name.startswith("report-reduce.head")]
    return folder


def _videos(report: Path) -> list[dict]:
    import csv

    return list(csv.DictReader((report / "videos.csv").open()))


IN_SAMPLE = (
    "femo: warning: the head was fitted on 60 of the 60 labelled clips scored here: the "
    "accuracy is in-sample, not an estimate for new clips"
)


def test_a_head_on_its_own_clips_warns_and_every_report_says_so(fitted, fast_femo, tmp_path):
    run_dir, head_file = _copy(fitted, tmp_path)
    media = Path(RunDir(run_dir).read_manifest()["config"]["dataset"]["root"])
    recorded = json.loads(head_file.read_text())["provenance"]["clips"]
    assert len(recorded) == 60 and recorded[0] == {
        "clip": "p00_000.mp4",
        "file": file_fingerprint(media / "p00_000.mp4"),
        "frames": None,
    }
    proc = fast_femo("reduce", str(run_dir), f"reduce.head={head_file}")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    accuracy = next(i for i, ln in enumerate(lines) if ln.startswith("femo: accuracy "))
    assert lines[accuracy + 1] == IN_SAMPLE
    report = _report(run_dir)
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["in_sample"] == {
        "head_file": str(head_file), "model_file": None, "clips": 60, "labelled": 60, "known_by": ["content"],
        "out_of_sample_labelled": 0, "out_of_sample_accuracy": None,
        "out_of_sample_accuracy_ci": None,
    }  # fmt: skip
    assert "; IN-SAMPLE: it was fit on 60 of the labelled clips scored here)" in metrics["method"]
    markdown = (report / "report.md").read_text()
    # The title, then the banner, before any figure.
    banner = f"**IN-SAMPLE: {IN_SAMPLE.removeprefix('femo: warning: ')}.**"
    assert markdown.startswith(f"# femo report\n\n{banner}\n")
    assert "**Accuracy: " in markdown and " (in-sample)**" in markdown
    page = (report / "index.html").read_text()
    assert 'id="in-sample"' in page and "IN-SAMPLE: it was fit on 60" in page
    assert "% in-sample" in page
    # The run's own report (the vote) is not marked.
    assert fast_femo("reduce", str(run_dir)).returncode == 0
    assert "in_sample" not in json.loads((run_dir / "report" / "metrics.json").read_text())


def test_another_run_over_the_same_files_is_in_sample_and_other_files_are_not(
    fitted, fast_femo, tmp_path
):
    head = f"reduce.head={fitted / 'fit' / 'head.json'}"
    media = Path(RunDir(fitted).read_manifest()["config"]["dataset"]["root"])
    # The same files in another folder (another run, another copy of the data).
    same = _synthetic(tmp_path / "b")
    shutil.copytree(media, tmp_path / "copy")
    manifest = RunDir(same).read_manifest()
    manifest["config"]["dataset"]["root"] = str(tmp_path / "copy")
    RunDir(same).manifest_file.write_text(json.dumps(manifest))
    proc = fast_femo("reduce", str(same), head)
    assert IN_SAMPLE in proc.stdout.splitlines(), proc.stdout
    # The same names over other files: new clips, no warning.
    other = _synthetic(tmp_path / "c", tmp_path / "other", content="another clip ")
    proc = fast_femo("reduce", str(other), head)
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stdout
    metrics = json.loads((_report(other) / "metrics.json").read_text())
    assert "in_sample" not in metrics and "IN-SAMPLE" not in metrics["method"]


def test_half_the_clips_fitted_on_gives_the_accuracy_over_the_others_too(
    fitted, fast_femo, tmp_path
):
    run_dir, head_file = _copy(fitted, tmp_path)
    head = json.loads(head_file.read_text())
    kept = head["provenance"]["clips"][:30]
    head["provenance"]["clips"] = kept
    half = tmp_path / "half.json"
    half.write_text(json.dumps(head))
    proc = fast_femo("reduce", str(run_dir), f"reduce.head={half}", "report.resamples=200")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((_report(run_dir) / "metrics.json").read_text())
    record = metrics["in_sample"]
    assert (record["clips"], record["labelled"], record["out_of_sample_labelled"]) == (30, 30, 30)
    rows = [r for r in _videos(_report(run_dir)) if r["video"] not in {c["clip"] for c in kept}]
    right = sum(r["predict"] == r["golden"] for r in rows)
    assert record["out_of_sample_accuracy"] == pytest.approx(right / 30)
    lo, hi = record["out_of_sample_accuracy_ci"]
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("femo: warning:")]
    assert line == (
        "femo: warning: the head was fitted on 30 of the 60 labelled clips scored here: the "
        "accuracy is in-sample, not an estimate for new clips; over the 30 labelled clips it "
        f"was not fitted on: {100 * right / 30:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]"
    )


def test_an_old_head_without_its_clips_knows_its_own_run(fitted, fast_femo, tmp_path):
    head = json.loads((fitted / "fit" / "head.json").read_text())
    del head["provenance"]["clips"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(head))
    proc = fast_femo("reduce", str(fitted), f"reduce.head={old}")
    assert (
        "femo: warning: the head was fitted on 60 of the 60 labelled clips scored here (known "
        "by run folder: the head does not record its clips): the accuracy is in-sample, not "
        "an estimate for new clips"
    ) in proc.stdout.splitlines()


# ------------------------------------------------------------------ the dev clips

# Every 60th frame: two or three frames a clip, enough for a head and seconds a run.
SPARSE = "sampling.every_n=60"


def _dev_run(dev_clips: Path, folder: Path, *more: str) -> subprocess.CompletedProcess:
    return femo("run", f"dataset.root={dev_clips}", f"dataset.labels={dev_clips / 'labels.csv'}",
                "dataset.group_column=actor", f"hydra.run.dir={folder}", *more,
                cwd=folder.parent, timeout=900)  # fmt: skip


@pytest.fixture(scope="module")
def dev_fit(dev_clips, tmp_path_factory) -> tuple[Path, Path]:
    """A sparse Haar run of the dev clips and the head ``femo fit`` fitted on it."""
    run = tmp_path_factory.mktemp("dev-fit") / "run"
    done = _dev_run(dev_clips, run, SPARSE)
    assert done.returncode == 0, done.stderr[-3000:]
    assert femo("fit", str(run), cwd=run.parent, timeout=900).returncode == 0
    return run, run / "fit" / "head.json"


DEV_WARNING = (
    "femo: warning: the head was fitted on 21 of the 21 labelled clips scored here: the "
    "accuracy is in-sample, not an estimate for new clips"
)


@pytest.mark.slow
def test_dev_clips_a_head_on_its_own_run_is_in_sample_in_every_report(dev_fit, tmp_path):
    run, head_file = dev_fit
    assert len(json.loads(head_file.read_text())["provenance"]["clips"]) == 21
    proc = femo("reduce", str(run), f"reduce.head={head_file}", cwd=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    accuracy = next(i for i, ln in enumerate(lines) if ln.startswith("femo: accuracy "))
    assert lines[accuracy + 1] == DEV_WARNING
    report = _report(run)
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["in_sample"]["labelled"] == 21
    assert metrics["in_sample"]["known_by"] == ["content"]
    assert (
        f"(reduce.head={head_file}; fit on 21 labelled clips of haar runs; "
        "IN-SAMPLE: it was fit on 21 of the labelled clips scored here)."
    ) in metrics["method"]
    markdown = (report / "report.md").read_text()
    assert markdown.startswith(
        "# femo report\n\n**IN-SAMPLE: the head was fitted on 21 of the 21 labelled"
    )
    assert " (in-sample)**" in markdown
    page = (report / "index.html").read_text()
    assert 'id="in-sample"' in page and "% in-sample" in page


@pytest.mark.slow
def test_dev_clips_another_run_over_the_same_clips_is_in_sample(dev_fit, dev_clips, tmp_path):
    _, head_file = dev_fit
    other = tmp_path / "every-45"
    done = _dev_run(dev_clips, other, "sampling.every_n=45", f"reduce.head={head_file}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert DEV_WARNING in done.stdout.splitlines(), done.stdout
    metrics = json.loads((other / "report" / "metrics.json").read_text())
    assert metrics["in_sample"]["labelled"] == 21
    assert "IN-SAMPLE: it was fit on 21 of the labelled clips scored here" in metrics["method"]
    assert "**IN-SAMPLE: the head was fitted on 21" in (other / "report" / "report.md").read_text()
    assert 'id="in-sample"' in (other / "report" / "index.html").read_text()


@pytest.mark.slow
def test_long_video_segments_overlapping_fitted_frames_are_in_sample(tmp_path):
    """A head fitted on the labelled segments of the long videos, applied to the same
    videos cut every 2 s (no labels): the segments over fitted frames are in-sample."""
    long = need(SHARED / "long-videos")
    run = tmp_path / "segments"
    done = femo("run", f"dataset.root={long}", f"dataset.labels={long / 'segments.csv'}",
                "dataset.group_column=actor", SPARSE, f"hydra.run.dir={run}", cwd=tmp_path,
                timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert femo("fit", str(run), cwd=tmp_path, timeout=900).returncode == 0
    head_file = run / "fit" / "head.json"
    clips = json.loads(head_file.read_text())["provenance"]["clips"]
    assert {c["clip"].split("@")[0] for c in clips} == {"debate-0.mp4", "debate-1.mp4"}
    assert all(c["frames"] is not None for c in clips)
    cut = tmp_path / "cut"
    done = femo("run", f"dataset.root={long}", "dataset.segment_s=2", SPARSE,
                f"hydra.run.dir={cut}", f"reduce.head={head_file}", cwd=tmp_path,
                timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((cut / "report" / "metrics.json").read_text())
    n = metrics["in_sample"]["clips"]
    assert 0 < n <= metrics["n_videos"]
    (line,) = [ln for ln in done.stdout.splitlines() if ln.startswith("femo: warning:")]
    assert line == (
        f"femo: warning: the head was fitted on {n} of the {metrics['n_videos']} clips "
        "scored here: what it predicts for them is in-sample"
    )


def _tuned_model(tmp_path: Path, clips: list[dict], run_dir: Path) -> Path:
    """A TFLite file with the card femo fit --tune writes, saying it learnt from
    ``clips`` of ``run_dir`` (the network itself is never run by a reduce)."""
    from femo.model_card import write_card

    from .test_tune import identity_tflite

    card = {
        "fitted_on": {"runs": [{"run": str(run_dir)}], "detectors": ["haar"], "clips": clips,
                      "labelled_clips": len(clips), "faces": 6 * len(clips), "persons": 12},
        "settings": {"rate": 0.001, "epochs": 8},
    }  # fmt: skip
    path = tmp_path / "model.tflite"
    path.write_bytes(write_card(identity_tflite(), card))
    return path


def _with_classifier(run_dir: Path, model: Path) -> None:
    """Make the run's saved classifier that custom model (as a run made with it says)."""
    from femo.config import EMOTIONS

    run = RunDir(run_dir)
    manifest = run.read_manifest()
    manifest["config"]["classifier"] = {
        "name": "custom", "model": str(model), "size": 64, "color": "gray", "range": [-1, 1],
        "labels": list(EMOTIONS), "softmax": "no", "crop": "fer", "sha256": "ab" * 32,
    }  # fmt: skip
    run.manifest_file.write_text(json.dumps(manifest))


def _resampled(run_dir: Path) -> Path:
    """The report folder of a re-reduce with ``report.resamples=200``."""
    (folder,) = [p for p in run_dir.iterdir() if p.name.startswith("report-report.resamples")]
    return folder


def test_a_tuned_model_on_clips_it_learnt_from_warns_and_the_method_says_so(
    fitted, fast_femo, tmp_path
):
    run_dir, head_file = _copy(fitted, tmp_path)
    learnt = json.loads(head_file.read_text())["provenance"]["clips"][:30]
    _with_classifier(run_dir, _tuned_model(tmp_path, learnt, run_dir))
    proc = fast_femo("reduce", str(run_dir), "report.resamples=200")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((_resampled(run_dir) / "metrics.json").read_text())
    record = metrics["in_sample"]
    assert (record["head_file"], record["model_file"]) == (None, str(tmp_path / "model.tflite"))
    assert (record["clips"], record["labelled"], record["out_of_sample_labelled"]) == (30, 30, 30)
    lo, hi = record["out_of_sample_accuracy_ci"]
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("femo: warning:")]
    assert line == (
        "femo: warning: the tuned model learnt from 30 of the 60 labelled clips scored here: "
        "the accuracy is in-sample, not an estimate for new clips; over the 30 labelled clips "
        f"it did not learn from: {100 * record['out_of_sample_accuracy']:.1f}% "
        f"[{100 * lo:.1f}, {100 * hi:.1f}]"
    )
    assert (
        "24 epochs" not in metrics["method"]
        and "rate 0.001, 8 epochs; IN-SAMPLE: it learnt from 30 of the labelled clips scored here)"
        in metrics["method"]
    )


def test_a_tuned_model_that_learnt_from_other_clips_says_nothing(fitted, fast_femo, tmp_path):
    run_dir, _ = _copy(fitted, tmp_path)
    other = [{"clip": "elsewhere.mp4", "file": "12:0123456789abcdef", "frames": None}]
    _with_classifier(run_dir, _tuned_model(tmp_path, other, tmp_path / "another-run"))
    proc = fast_femo("reduce", str(run_dir), "report.resamples=200")
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stdout
    metrics = json.loads((_resampled(run_dir) / "metrics.json").read_text())
    assert metrics.get("in_sample") is None and "IN-SAMPLE" not in metrics["method"]
