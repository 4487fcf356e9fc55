"""One-line errors that blamed the wrong thing (issue 37): each now names what is wrong."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .conftest import error_line, femo_argv, femo_env


@pytest.mark.parametrize(
    ("args", "needs"),
    [
        ((), "a run folder and a clip"),
        (("some-run",), "a clip after the run folder"),
    ],
)
def test_show_without_its_arguments_says_what_it_needs(fast_femo, args, needs):
    """It said 'the following arguments are required: run_dir, clip, overrides'."""
    assert error_line(fast_femo("show", *args)) == (
        f"femo: error: femo show needs {needs}: femo show RUN_DIR CLIP [overrides]"
    )


def test_bench_blames_an_unknown_media_name(fast_femo, tmp_path):
    """It said 'no media found under DATA (use --data)', though the folder was right."""
    out = tmp_path / "bench"
    proc = fast_femo("bench", "--media", "nope,woman2", "--out-dir", str(out))
    assert error_line(proc) == (
        "femo: error: unknown media 'nope' (--media takes: woman2, dev-clips)"
    )
    assert not out.exists()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_an_output_root_in_proc_names_the_folder_it_cannot_make(fast_femo, tmp_path):
    """It said 'cannot write /proc: No such file or directory'."""
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "a.mp4").write_bytes(b"never decoded")
    proc = fast_femo("run", "dataset.root=clips", "output_root=/proc/femo")
    assert error_line(proc) == (
        "femo: error: cannot create /proc/femo: /proc takes no new folders; "
        "choose a writable place for the run folders with output_root=DIR"
    )


@pytest.mark.parametrize("args", [("run", "--help"), ("--help",)])
def test_help_into_a_closed_pipe_ends_quietly(poisoned_tf, tmp_path, args):
    """``femo run --help | head`` ended in a BrokenPipeError traceback. The pipe's
    reading end is closed before femo starts, so every write meets a broken pipe."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            femo_argv(*args), cwd=tmp_path, env=femo_env(None, poisoned_tf),
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert proc.stderr == ""
    assert proc.returncode == 1
