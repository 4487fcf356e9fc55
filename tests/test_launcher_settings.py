"""Launcher settings on one base (femo/launchers/settings.py): the shared settings are
declared once, every sbatch/qsub flag comes from the dialects' flag tables (a new
setting reaches every script of its dialect with no writer touched), run folders saved
with the old names still read and resume, and the old names on the command line are one
line that gives the new one."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from femo.config import LauncherSection
from femo.launchers import dialects, launcher_config, make_launcher
from femo.launchers.local import plan_workers
from femo.launchers.none import array_scripts
from femo.launchers.settings import (
    SETTINGS,
    NoneLauncherConfig,
    QueueConfig,
    SgeLauncherConfig,
    SlurmLauncherConfig,
    SubmittedConfig,
    launcher_defaults,
    qsub_arguments,
    upgraded,
)
from femo.launchers.sge import SgeLauncher
from femo.launchers.slurm import SlurmLauncher
from femo.pipeline import resume_run, status_report
from femo.rundir import RunDir

from .builders import make_shard, shard_per_clip_run
from .conftest import error_line

pytestmark = pytest.mark.usefixtures("no_tensorflow")

SHARED = {f.name for f in dataclasses.fields(SubmittedConfig)} - {"name"}


def test_every_shared_setting_is_declared_once_on_the_base():
    assert {
        "time_min", "cpus_per_task", "mem_gb", "gpus", "array_parallelism", "setup",
        "max_array_size", "extra_flags", "wait",
    } == SHARED  # fmt: skip
    for cls in (SlurmLauncherConfig, SgeLauncherConfig, NoneLauncherConfig):
        own = set(cls.__dict__.get("__annotations__", {})) - {"name", "usual_max_array_size"}
        assert not own & SHARED, cls
        assert issubclass(cls, QueueConfig)
    # each scheduler's own words, and nothing else
    own = {
        name: {f.name for f in dataclasses.fields(cls)} - SHARED - {"name"}
        for name, cls in SETTINGS.items()
    }
    assert own == {
        "local": {"workers", "threads_per_worker"},
        "slurm": {"partition", "account", "qos", "max_requeue", "signal_delay_s"},
        "sge": {"queue", "project", "pe", "mem_resource", "gpu_resource"},
        "none": {"partition", "account", "qos", "queue", "project", "pe", "mem_resource",
                 "gpu_resource"},
    }  # fmt: skip
    # launcher=none submits nothing: it has nothing to split, wait for or add flags to
    assert {f.name for f in dataclasses.fields(NoneLauncherConfig)} & SHARED == {
        "time_min", "cpus_per_task", "mem_gb", "gpus", "array_parallelism", "setup",
    }  # fmt: skip
    # one default: SLURM and Grid Engine ask for the same task (issue 37: SGE asked for
    # no memory at all)
    defaults = [{k: getattr(cls(), k) for k in ("time_min", "cpus_per_task", "mem_gb", "gpus",
                 "array_parallelism", "setup")} for cls in (SlurmLauncherConfig,
                 SgeLauncherConfig, NoneLauncherConfig)]  # fmt: skip
    assert defaults[0] == defaults[1] == defaults[2]
    assert defaults[0]["mem_gb"] == 2


@pytest.mark.parametrize(
    ("kind", "settings", "left", "at_once"),
    [
        ("local", {"workers": 3}, 10, 3),
        ("local", {}, 1, 1),
        ("none", {"array_parallelism": 4}, 10, 4),
        ("slurm", {}, 10, 10),
        ("slurm", {"array_parallelism": 4}, 10, 4),
        ("sge", {"array_parallelism": 4}, 2, 2),
        ("sge", {}, 0, 1),
    ],
)
def test_each_launcher_says_how_many_shards_run_at_once(kind, settings, left, at_once):
    assert make_launcher(LauncherSection(kind, settings)).shards_at_once(left) == at_once


def test_cfg_job_shows_every_setting_over_the_yamls_few(fast_femo):
    proc = fast_femo("run", "--cfg", "job", "launcher=sge", "launcher.mem_gb=4")
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(proc.stdout)["launcher"] == {**launcher_defaults("sge"), "mem_gb": 4}


def test_femo_status_estimates_with_the_launchers_own_answer(tmp_path, monkeypatch):
    run = shard_per_clip_run(tmp_path, n_shards=4)
    manifest = run.read_manifest()
    manifest["config"]["launcher"] = {"name": "local", "workers": 2}
    run.write_manifest(manifest)
    asked = []
    real = plan_workers
    monkeypatch.setattr("femo.launchers.local.plan_workers", lambda *a: asked.append(a) or real(*a))
    status_report(run.path)
    assert asked == [(4, 2, None)]


# ------------------------------------------------------------- one table per dialect


@dataclass(frozen=True)
class SlurmWithConstraint(SlurmLauncherConfig):
    constraint: str | None = None


@dataclass(frozen=True)
class NoneWithConstraint(NoneLauncherConfig):
    constraint: str | None = None


@dataclass(frozen=True)
class SgeWithMail(SgeLauncherConfig):
    mail_user: str | None = None


@dataclass(frozen=True)
class NoneWithMail(NoneLauncherConfig):
    mail_user: str | None = None


def test_a_new_setting_reaches_every_script_of_its_dialect(tmp_path, scheduler, monkeypatch):
    """docs/extending.md, "A launcher setting": a field in femo/launchers/settings.py and
    an entry in a flag table; no script writer changes."""
    monkeypatch.setitem(dialects.SLURM_FLAGS, "constraint", "--constraint={}")
    monkeypatch.setitem(dialects.SGE_FLAGS, "mail_user", "-M {}")
    # SLURM through submitit: its sbatch header
    executor = SlurmLauncher(SlurmWithConstraint(constraint="a100")).make_executor(tmp_path)
    executor.parameters["map_count"] = 2
    header = executor._executor._make_submission_file_text("python", "UID").splitlines()
    assert "#SBATCH --constraint=a100" in header
    # Grid Engine through femo's submitit plugin: its qsub script
    executor = SgeLauncher(SgeWithMail(mail_user="me@lab.org")).make_executor(tmp_path)
    assert "#$ -M me@lab.org" in executor._executor._make_submission_file_text("t", "U")
    # launcher=none: both plain scripts
    run = RunDir("/runs/r")
    sbatch = array_scripts(run, 2, "/py", NoneWithConstraint(constraint="a100"))
    assert "#SBATCH --constraint=a100" in sbatch["femo-array.sbatch"].splitlines()
    qsub = array_scripts(run, 2, "/py", NoneWithMail(mail_user="me@lab.org"))
    assert "#$ -M me@lab.org" in qsub["femo-array.qsub"].splitlines()
    # unset, it asks for nothing
    plain = array_scripts(run, 2, "/py", NoneWithMail())
    assert "-M" not in plain["femo-array.qsub"]


# ------------------------------------------------------------- old names


OLD_SGE = {
    "name": "sge", "queue": None, "project": "lab", "time_min": 60, "pe": "omp", "slots": 4,
    "mem_gb": None, "mem_resource": "mem_per_core", "gpu_resource": "gpus=1",
    "array_parallelism": 64, "max_array_size": 75000, "extra_flags": ["-m", "e"],
    "setup": [], "wait": False,
}  # fmt: skip
OLD_SLURM = {
    "name": "slurm", "partition": "short", "account": None, "qos": None, "time_min": 60,
    "cpus_per_task": 1, "mem_gb": 2, "gpus_per_node": 1, "array_parallelism": 64,
    "max_array_size": 1000, "extra_flags": {"constraint": "a100"}, "setup": [],
    "max_requeue": 3, "signal_delay_s": 90, "wait": False,
}  # fmt: skip


def old_run(tmp_path: Path, launcher: dict) -> RunDir:
    """A run folder whose manifest holds the launcher section as femo 0.4 saved it."""
    run = shard_per_clip_run(tmp_path, n_shards=2)
    manifest = run.read_manifest()
    manifest["config"]["launcher"] = launcher
    run.write_manifest(manifest)
    return run


def test_old_launcher_sections_read_in_todays_names(tmp_path):
    run = old_run(tmp_path, OLD_SGE)
    assert launcher_config(run.config().launcher) == SgeLauncherConfig(
        project="lab", time_min=60, pe="omp", cpus_per_task=4, mem_gb=None,
        mem_resource="mem_per_core", gpus=1, gpu_resource="gpus", max_array_size=75000,
        extra_flags={"m": "e"},
    )  # fmt: skip
    old = old_run(tmp_path / "slurm", OLD_SLURM)
    assert launcher_config(old.config().launcher) == SlurmLauncherConfig(
        partition="short", time_min=60, gpus=1, max_array_size=1000,
        extra_flags={"constraint": "a100"},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("old", "today"),
    [
        ({"gpu_resource": None}, {}),
        ({"gpu_resource": "gpu=2"}, {"gpu_resource": "gpu", "gpus": 2}),
        (
            {"gpu_resource": "gpus=1,gpu_c=7.0", "extra_flags": ["-l", "h_vmem=4G"]},
            {"gpu_resource": "gpus", "gpus": 1, "extra_flags": {"l": "h_vmem=4G,gpu_c=7.0"}},
        ),
        ({"gpu_resource": "gpu_type=V100"}, {"extra_flags": {"l": "gpu_type=V100"}}),
        ({"extra_flags": ["-l", "a=1", "-notify", "-l", "b=2"]},
         {"extra_flags": {"l": "a=1,b=2", "notify": True}}),
        ({"gpus_per_node": 2, "extra_flags": {}}, {"gpus": 2, "extra_flags": {}}),
    ],
)  # fmt: skip
def test_upgraded_asks_for_what_the_old_section_asked(old, today):
    assert upgraded(old) == today
    assert qsub_arguments([]) == {}


def test_an_old_grid_engine_run_resumes_with_what_it_asked_for(tmp_path, scheduler, monkeypatch):
    monkeypatch.setattr("femo.launchers.cluster.run_one", make_shard)
    run = old_run(tmp_path, OLD_SGE)
    resume_run(run.path, ["launcher.cpus_per_task=2"])
    (script,) = scheduler.scripts.values()
    directives = [line for line in script.splitlines() if line.startswith("#$")]
    for line in ("#$ -l h_rt=01:00:00", "#$ -P lab", "#$ -pe omp 2", "#$ -l gpus=1", "#$ -m e"):
        assert line in directives
    assert not any("mem_per_core" in line for line in directives)  # it asked for none
    saved = json.loads(run.manifest_file.read_text())
    launcher = saved["config"]["launcher"]
    assert (launcher["cpus_per_task"], launcher["gpus"], launcher["extra_flags"]) == (
        2, 1, {"m": "e"},
    )  # fmt: skip
    assert "slots" not in launcher and launcher["gpu_resource"] == "gpus"


def test_an_old_slurm_run_resumes_with_what_it_asked_for(tmp_path, scheduler, monkeypatch):
    monkeypatch.setattr("femo.launchers.cluster.run_one", make_shard)
    run = old_run(tmp_path, OLD_SLURM)
    resume_run(run.path, [])
    (script,) = scheduler.scripts.values()
    for line in ("#SBATCH --gpus-per-node=1", "#SBATCH --constraint=a100",
                 "#SBATCH --partition=short", "#SBATCH --time=60"):  # fmt: skip
        assert line in script.splitlines()


@pytest.mark.parametrize(
    ("override", "line"),
    [
        ("launcher.slots=4", "launcher.slots is now launcher.cpus_per_task"),
        ("+launcher.gpus_per_node=1", "launcher.gpus_per_node is now launcher.gpus"),
        (
            "launcher.extra_flags=[-m,e,-l,'gpu_c=7.0']",
            "launcher.extra_flags is a mapping of flag to value now: +launcher.extra_flags.m=e "
            "\"+launcher.extra_flags.l='gpu_c=7.0'\"",
        ),
        (
            "launcher.gpu_resource='gpus=1'",
            "launcher.gpu_resource is the resource GPUs are asked by now: "
            "launcher.gpu_resource=gpus launcher.gpus=1",
        ),
    ],
)
def test_an_old_name_on_the_command_line_is_one_line_naming_the_new(fast_femo, override, line):
    assert error_line(fast_femo("run", "launcher=sge", override)) == f"femo: error: {line}"


def test_a_bad_launcher_value_stops_the_run_before_anything(fast_femo, tmp_path):
    """Issue 37: `launcher.mem_gb=two` gave OmegaConf's wording and left a run folder;
    the output root it made is gone too."""
    proc = fast_femo("run", "launcher=slurm", "launcher.mem_gb=two", "output_root=out/runs")
    assert (
        error_line(proc) == "femo: error: launcher.mem_gb must be a number > 0 or null, not 'two'"
    )
    assert not (tmp_path / "out").exists()
    (tmp_path / "kept").mkdir()  # a folder that was there before stays
    fast_femo("run", "launcher=slurm", "launcher.mem_gb=two", "output_root=kept")
    assert (tmp_path / "kept").is_dir()


def test_the_sge_plugin_takes_femos_setting_names(tmp_path):
    from femo.launchers.qsub_script import make_qsub_script

    text = make_qsub_script("true", tmp_path, cpus_per_task=2, pe="omp", gpus=1, queue="q")
    assert {"#$ -pe omp 2", "#$ -l gpus=1", "#$ -q q"} <= set(text.splitlines())


# ------------------------------------------------------------- what the docs say

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", REPO / "slurm" / "README.md", REPO / "docs" / "extending.md"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_the_docs_name_only_real_launcher_settings(doc):
    fields = {f.name for cls in SETTINGS.values() for f in dataclasses.fields(cls)}
    named = set(re.findall(r"\blauncher\.(\w+)", doc.read_text(encoding="utf-8")))
    assert named and named - {"constraint"} <= fields  # extending.md adds `constraint`


def test_the_readmes_grid_engine_examples_name_bu_sccs_resources():
    """Issue 37: the README's SCC example asked for `-pe smp 1` (SCC's is omp)."""
    for doc in DOCS[:2]:
        text = doc.read_text(encoding="utf-8")
        (example,) = re.findall(r"femo run launcher=sge[^`]*?dataset\.root=\S+", text)
        assert "launcher.pe=omp" in example and "launcher.mem_resource=mem_per_core" in example


def test_a_tasks_memory_figures_are_in_the_readme_only():
    """Issue 37: conf/launcher/slurm.yaml said 0.35 / 1 / 1.8 GB where the README and
    none.yaml said 0.25 / 0.9 / 1.7 GB."""
    figures = re.compile(r"\d+(?:\.\d+)? ?GB")
    for path in sorted((REPO / "conf" / "launcher").glob("*.yaml")):
        assert not figures.findall(path.read_text(encoding="utf-8")), path.name
    clusters = (REPO / "README.md").read_text(encoding="utf-8").split("## Clusters")[1]
    assert "about 0.35 GB with Haar" in clusters.split("## ")[0]
