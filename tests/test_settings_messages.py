"""A new user's settings and messages (issue 37, "Settings and messages"): each mistake is
one ``femo: error:`` line that names what is right, and nothing is left behind."""

from __future__ import annotations

import re

import pytest

from .conftest import error_line


def test_run_help_lists_only_options_one_can_choose(fast_femo):
    """``base`` (the dataclass defaults each option composes on) was listed for dataset,
    identity, mapping, reduce and sampling, and ``mapping=base`` was then refused."""
    proc = fast_femo("run", "--help")
    assert proc.returncode == 0, proc.stderr
    groups = dict(re.findall(r"^(\w+): (.+)$", proc.stdout.split("== Config ==")[0], re.M))
    assert groups["mapping"] == "seven, three_class"
    assert groups["sampling"] == "every_n, fps"
    assert groups["reduce"] == "first, largest, main, person"
    assert groups["dataset"] == "folder"
    assert not [g for g, options in groups.items() if "base" in options.split(", ")]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["sampling=fps", "sampling.every_n=3"],
            "sampling=fps reads sampling.fps and sampling.max_frames, not sampling.every_n "
            "(every 3rd frame: sampling=every_n sampling.every_n=3)",
        ),
        (
            ["sampling.fps=2"],
            "sampling=every_n reads sampling.every_n and sampling.max_frames, not sampling.fps "
            "(2 frames a second: sampling=fps sampling.fps=2)",
        ),
        (
            ["sampling.mode=fps", "sampling.fps=2", "sampling.every_n=5"],
            "sampling=fps reads sampling.fps and sampling.max_frames, not sampling.every_n "
            "(every 5th frame: sampling=every_n sampling.every_n=5)",
        ),
    ],
)
def test_a_sampling_key_the_mode_does_not_read_is_refused(fast_femo, tmp_path, overrides, message):
    """``sampling=fps sampling.every_n=3`` took every_n and ignored it."""
    out = tmp_path / "out"
    proc = fast_femo("run", *overrides, f"output_root={out}")
    assert error_line(proc) == f"femo: error: {message}"
    assert not out.exists()


def test_a_sweep_over_both_modes_takes_each_modes_key():
    from femo.overrides import check_run_overrides

    check_run_overrides(["sampling=every_n,fps", "sampling.every_n=5"], multirun=True)
    check_run_overrides(["sampling=fps", "sampling.fps=2", "sampling.max_frames=10"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["classifier=custom", "classifier.labels=angry,disgust,fear"],
            "classifier.labels is a list: write it in brackets, "
            "classifier.labels=[angry,disgust,fear]",
        ),
        (
            ["detector=haar,mtcnn"],
            "detector=haar,mtcnn gives several values: add -m to run one per value "
            "(femo run -m detector=haar,mtcnn)",
        ),
        (
            ["dataset.root=clips,2024"],
            "dataset.root=clips,2024 gives several values: add -m to run one per value "
            "(femo run -m dataset.root=clips,2024), or quote a value that holds a comma "
            "(dataset.root='clips,2024')",
        ),
        (
            ["classifier.model=m.onnx"],
            "unknown key 'classifier.model' (classifier has: name, backend; "
            "add classifier=custom, which has it)",
        ),
        (
            ["launcher.partition=gpu"],
            "unknown key 'launcher.partition' (launcher local has: name, workers, "
            "threads_per_worker; add launcher=none or launcher=slurm, which have it)",
        ),
    ],
)
def test_hydra_level_mistakes_get_a_hint(fast_femo, tmp_path, overrides, message):
    """A list without brackets gave Hydra's 'Ambiguous value for argument', and a key of
    another option of its group (classifier.model without classifier=custom) no hint."""
    out = tmp_path / "out"
    proc = fast_femo("run", *overrides, f"output_root={out}")
    assert error_line(proc) == f"femo: error: {message}"
    assert not out.exists()
