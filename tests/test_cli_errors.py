"""A newcomer's mistakes, each one `femo: error:` line with exit 2 (issue 19): config
overrides Hydra cannot read, places femo cannot write, a run combined with itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from femo.launchers.base import Launch
from femo.launchers.local import gpu_visible
from femo.pipeline import IncompleteRun, _after_launch
from femo.rundir import RunDir

from .builders import clip_rows, labelled_run, synthetic_run, talk_run, write_shard
from .conftest import assert_no_run_folder, error_line
from .read_only import unwritable

DATASET_KEYS = (
    "root, labels, video_column, label_column, unknown_labels, group_column, group_pattern, "
    "references, person_column, video_extensions, image_extensions, segment_s, segment_frames"
)

# ------------------------------------------------------------ config overrides


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "dataset.rot=X",
            f"unknown key 'dataset.rot' (did you mean 'dataset.root'? dataset has: {DATASET_KEYS})",
        ),
        (
            "detector=haarr",
            "no detector config named 'haarr' (options: blazeface, haar, haar_fast, mtcnn, none)",
        ),
        (
            "detector=haar,mtcnnn",
            "no detector config named 'mtcnnn' (options: blazeface, haar, haar_fast, mtcnn, none)",
        ),
        (
            "/data/clips",
            "'/data/clips' is not an override: overrides are key=value "
            "(e.g. dataset.root=/data/clips)",
        ),
        (
            "dataset.group_pattern=^([a-z]+)_",
            "cannot read override 'dataset.group_pattern=^([a-z]+)_': '^' is not allowed there; "
            "quote the value: dataset.group_pattern='^([a-z]+)_'",
        ),
        (
            "launcher.partition=gpu",
            "unknown key 'launcher.partition' (launcher local has: name, workers, threads_per_worker; "
            "add launcher=none or launcher=slurm, which have it)",
        ),
        (
            "detector.min_sise=30",
            "unknown key 'detector.min_sise' (did you mean 'detector.min_size'? detector haar "
            "has: name, scale_factor, min_neighbors, min_size, offsets, downscale, verify, "
            "verify_below, verify_min)",
        ),
    ],
)
def test_run_config_mistake_is_one_line(fast_femo, tmp_path, override, message):
    out = tmp_path / "out"
    proc = fast_femo("run", override, f"output_root={out}")
    assert error_line(proc) == f"femo: error: {message}"
    assert_no_run_folder(out)


def test_run_unknown_key_in_a_sweep(fast_femo, tmp_path):
    out = tmp_path / "out"
    proc = fast_femo(
        "run", "-m", "detector=haar,mtcnn", "detector.min_sise=1", f"output_root={out}"
    )
    assert error_line(proc).startswith("femo: error: unknown key 'detector.min_sise' (did you mean")
    assert_no_run_folder(out)


def test_run_expands_a_home_folder(fast_femo, tmp_path):
    """`dataset.root=~/clips` (the shell leaves `~` after `=` alone in zsh and in quotes)."""
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), PYTHONPATH=str(Path(__file__).parents[1]))
    proc = subprocess.run(
        [sys.executable, "-m", "femo", "run", "dataset.root=~/clips", f"output_root={tmp_path}/o"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert error_line(proc) == f"femo: error: dataset.root {home / 'clips'} does not exist"


def test_reduce_names_the_override_it_cannot_read(fast_femo, tmp_path):
    run_dir = labelled_run(tmp_path)
    proc = fast_femo("reduce", str(run_dir), "dataset.group_pattern=^(p)_")
    assert error_line(proc) == (
        "femo: error: cannot read override 'dataset.group_pattern=^(p)_': '^' is not allowed "
        "there; quote the value: dataset.group_pattern='^(p)_'"
    )


def test_reduce_with_itself_is_refused(fast_femo, tmp_path):
    run_dir = labelled_run(tmp_path, n_shards=1)
    write_shard(run_dir, 0, clip_rows("v0.mp4", ["happy"]))
    proc = fast_femo("reduce", str(run_dir), "--with", str(run_dir))
    assert error_line(proc) == (
        f"femo: error: --with {run_dir}: that is the run being reported; name another run"
    )


# -------------------------------------------------------------- unwritable places


def femo_unwritable(
    folder: Path, tmp_path: Path, *args: str
) -> tuple[subprocess.CompletedProcess, str]:
    """``femo ARGS`` with ``folder`` unwritable; the completed process and the reason."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    argv, env, reason = unwritable(
        folder, [sys.executable, "-m", "femo", *args], env, tmp_path / "site"
    )
    proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    return proc, reason


def files_in(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*"))


def test_run_into_an_unwritable_output_root(tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "a.mp4").write_bytes(b"never decoded")
    ro = tmp_path / "ro"
    ro.mkdir()
    proc, reason = femo_unwritable(ro, tmp_path, "run", "dataset.root=clips", f"output_root={ro}")
    assert error_line(proc) == (
        f"femo: error: cannot write {ro}: {reason}; "
        "choose a writable place for the run folders with output_root=DIR"
    )
    assert files_in(ro) == []


@pytest.fixture
def finished_run(tmp_path) -> Path:
    run_dir = labelled_run(tmp_path, n_shards=1)
    write_shard(run_dir, 0, [*clip_rows("v0.mp4", ["happy"]), *clip_rows("v1.mp4", ["sad"])])
    return run_dir


def test_reduce_an_unwritable_run_then_report_it_elsewhere(tmp_path, finished_run):
    before = files_in(finished_run)
    proc, reason = femo_unwritable(finished_run, tmp_path, "reduce", str(finished_run))
    assert error_line(proc) == (
        f"femo: error: cannot write {finished_run / 'report'}: {reason}; "
        "write the report elsewhere with --out DIR"
    )
    out = tmp_path / "elsewhere"
    proc, _ = femo_unwritable(
        finished_run, tmp_path, "reduce", str(finished_run), "--out", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    assert f"femo: report: {out / 'index.html'}" in proc.stdout
    assert (
        (out / "videos.csv").read_text().splitlines()[1].startswith("v0.mp4,,Positive,Positive,ok")
    )
    assert files_in(finished_run) == before


def test_reduce_out_refuses_a_sweep(fast_femo, tmp_path):
    sweep = tmp_path / "sweep"
    (sweep / "0-a").mkdir(parents=True)
    (sweep / "multirun.yaml").write_text("{}\n")
    proc = fast_femo("reduce", str(sweep), "--out", str(tmp_path / "o"))
    assert error_line(proc) == "femo: error: --out takes a run folder, not a sweep folder"


def test_fit_an_unwritable_run(tmp_path):
    run_dir = synthetic_run(tmp_path)
    proc, reason = femo_unwritable(run_dir, tmp_path, "fit", str(run_dir))
    assert error_line(proc) == (
        f"femo: error: cannot write {run_dir}: {reason}; write the head elsewhere with --out DIR"
    )


def test_show_on_an_unwritable_run_suggests_out(tmp_path):

    run_dir = talk_run(tmp_path)
    proc, reason = femo_unwritable(run_dir, tmp_path, "show", str(run_dir), "talk.avi")
    assert error_line(proc) == (
        f"femo: error: cannot write {run_dir / 'report' / 'sheets' / 'talk.avi.png'}: {reason}; "
        "write the sheet elsewhere with --out PNG"
    )
    out = tmp_path / "sheet.png"
    proc, _ = femo_unwritable(
        run_dir, tmp_path, "show", str(run_dir), "talk.avi", "--out", str(out)
    )
    assert (proc.returncode, proc.stdout) == (0, f"{out}\n")


def test_resume_an_unwritable_run(tmp_path):
    run_dir = labelled_run(tmp_path)
    proc, reason = femo_unwritable(run_dir, tmp_path, "run", f"resume={run_dir}")
    assert error_line(proc) == (
        f"femo: error: cannot write {run_dir / '.resume.lock'}: {reason}; femo run resume= "
        "continues a run in its own folder: make it writable, or resume a copy"
    )


# ------------------------------------------------------------------------- groups


def test_group_pattern_with_group_column_is_refused(fast_femo, tmp_path, finished_run):
    message = (
        "femo: error: dataset.group_column and dataset.group_pattern are both set; set one "
        "(a column of the labels file, or a regex on the clip id) and the other to null"
    )
    both = ("dataset.group_column=person", "dataset.group_pattern='^(v)'")
    assert error_line(fast_femo("reduce", str(finished_run), *both)) == message
    (tmp_path / "clips").mkdir()
    out = tmp_path / "out"
    proc = fast_femo("run", "dataset.root=clips", *both, f"output_root={out}")
    assert error_line(proc) == message
    assert_no_run_folder(out)


def test_group_pattern_that_matches_no_clip_says_so(fast_femo, tmp_path, finished_run):
    out = tmp_path / "report"
    proc = fast_femo(
        "reduce", str(finished_run), "dataset.group_pattern='^(p[0-9]+)_'", "--out", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    warning = (
        "dataset.group_pattern '^(p[0-9]+)_' matches no clip id (e.g. 'v0.mp4'); no clip has a "
        "group, so the report shows no profile per person"
    )
    assert f"WARNING femo.results.build: {warning}" in proc.stderr.splitlines()
    page = (out / "index.html").read_text()
    assert "matches no clip id, so no clip has a group" in page
    assert "To get a profile per person" not in page


def test_run_whose_group_pattern_matches_no_clip_warns_before_any_work(fast_femo, tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "a_1.mp4").write_bytes(b"never decoded")
    proc = fast_femo(
        "run", "dataset.root=clips", "dataset.group_pattern='^(p)_'", "launcher=none",
        f"output_root={tmp_path / 'out'}",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (
        "femo: warning: dataset.group_pattern '^(p)_' matches no clip id (e.g. 'a_1.mp4'); no "
        "clip has a group, so the report shows no profile per person"
    ) in proc.stdout.splitlines()


# ------------------------------------------------------------------------- device

NO_GPU = (
    "femo: error: device=gpu but this machine shows no GPU (no /dev/nvidia*); use device=auto "
    "(a GPU where there is one) or device=cpu, or a launcher whose nodes have GPUs"
)


@pytest.mark.skipif(gpu_visible(), reason="this machine has a GPU")
def test_device_gpu_without_a_gpu_stops_before_any_work(fast_femo, tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "a.mp4").write_bytes(b"never decoded")
    out = tmp_path / "out"
    assert error_line(
        fast_femo("run", "dataset.root=clips", "device=gpu", f"output_root={out}")
    ) == (NO_GPU)
    assert_no_run_folder(out)
    run_dir = labelled_run(tmp_path)
    before = (run_dir / "femo.json").read_text()
    assert error_line(fast_femo("run", f"resume={run_dir}", "device=gpu")) == NO_GPU
    assert (run_dir / "femo.json").read_text() == before


def test_a_run_with_shards_not_done_names_the_first_failure(tmp_path):
    run_dir = labelled_run(tmp_path)
    write_shard(run_dir, 0, [*clip_rows("v0.mp4", ["happy"]), *clip_rows("v1.mp4", ["sad"])])
    (run_dir / "logs" / "shard-00001.failed").write_text(
        "Traceback (most recent call last):\n"
        "RuntimeError: device=gpu but TensorFlow sees no GPU on this node\n"
    )
    with pytest.raises(IncompleteRun) as exc:
        _after_launch(RunDir(run_dir), RunDir(run_dir).config(), Launch())
    assert str(exc.value) == (
        "2 shard(s) not done; no report written. Shard 1 failed: RuntimeError: device=gpu but "
        f"TensorFlow sees no GPU on this node. See `femo status {run_dir}`; "
        f"`femo run resume={run_dir}` redoes them."
    )


# ------------------------------------------------------------------ submissions


def test_a_refused_submission_says_how_to_continue_the_run(tmp_path, scheduler, capsys):
    """sbatch refuses the array (larger than the cluster allows): the run folder stays,
    and the line says to fix the setting and resume it."""
    from femo import cli

    scheduler.max_array_size = 2  # femo was told 3 (launcher.max_array_size)
    run_dir = labelled_run(tmp_path, n_shards=3)
    run_dir.chmod(0o700)
    argv = ["run", f"resume={run_dir}", "launcher=slurm", "launcher.max_array_size=3"]
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "femo: error: the scheduler refused the submission: sbatch: error: Batch job "
        "submission failed: Invalid job array specification; the run folder is kept: fix "
        f"the setting, then femo run resume={run_dir} launcher.KEY=VALUE"
    )
    assert (run_dir / "femo.json").is_file()
