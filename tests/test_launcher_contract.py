"""The contract every launcher keeps, as Hydra's ``LauncherTestSuite`` checks its launchers.

One class, run for each launcher: it is registered once (its module and its yaml agree);
a launch records what it submitted in ``jobs.json``; a launcher made afresh from that
record (``femo status`` from another shell) answers for those tasks; and the run's status
follows the tasks to ``done``. SLURM and Grid Engine run against the fake scheduler
(tests/fake_scheduler.py), their tasks' submitit pickles run in this process; no launcher
extracts anything (a stand-in writes each shard).
"""

from __future__ import annotations

import dataclasses
import typing

import pytest
from omegaconf import OmegaConf

from femo.config import LauncherSection, RunConfig, conf_dir, from_dict, to_dict
from femo.launchers import launcher_class, launcher_config, launcher_for, make_launcher
from femo.launchers.base import Launch, TaskState
from femo.launchers.local import LocalLauncher
from femo.launchers.settings import base_name, launcher_defaults, settings_class
from femo.rundir import RunDir
from femo.status import ShardState, read_status
from femo.task import ShardTask

from .builders import make_shard, shard_per_clip_run, tasks_of

pytestmark = pytest.mark.usefixtures("no_tensorflow")

KINDS = ["local", "none", "slurm", "sge"]
# What `femo status` says of a shard right after its launch returns.
# Whether `femo run` waits for the shards (and reports) with the default settings.
WAITS = {"local": True, "none": False, "slurm": False, "sge": False}
AFTER_LAUNCH = {
    "local": ShardState.DONE,  # blocking: its workers have run
    "none": ShardState.NOT_SUBMITTED,  # the user submits the scripts femo wrote
    "slurm": ShardState.PENDING,
    "sge": ShardState.PENDING,
}


class Harness:
    """Runs one launcher kind: launch, then make its launched tasks end."""

    def __init__(self, kind: str, monkeypatch, request) -> None:
        self.kind = kind
        self.scheduler = request.getfixturevalue("scheduler") if kind in ("slurm", "sge") else None
        # The array tasks' ShardJob and the local pool both end in a stand-in shard.
        monkeypatch.setattr("femo.launchers.cluster.run_one", make_shard)
        monkeypatch.setattr(LocalLauncher, "_run_pool", self._pool)

    @staticmethod
    def _pool(launcher, run: RunDir, tasks: list[ShardTask], n_workers: int) -> dict[int, str]:
        for task in tasks:
            make_shard(task)
        return {}

    def launch(self, run: RunDir, tasks: list[ShardTask]) -> Launch:
        said: list[str] = []
        return make_launcher(LauncherSection(self.kind)).launch(run, tasks, said.append)

    def run_tasks(self, tasks: list[ShardTask]) -> None:
        """The launched tasks run to their end, as the scheduler (or the user) runs them."""
        if self.scheduler is not None:
            self.scheduler.run_all()
        elif self.kind == "none":  # the user submits femo-array.*: python -m femo.worker
            for task in tasks:
                make_shard(task)


@pytest.fixture(params=KINDS)
def harness(request, monkeypatch) -> Harness:
    return Harness(request.param, monkeypatch, request)


@pytest.fixture
def run(tmp_path) -> RunDir:
    return shard_per_clip_run(tmp_path, n_shards=3)


class TestLauncherContract:
    def test_it_is_registered_once_by_its_module_and_its_yaml(self, harness):
        cls = launcher_class(harness.kind)
        assert cls.name == harness.kind and cls.__module__ == f"femo.launchers.{harness.kind}"
        assert cls.settings_class is settings_class(harness.kind)
        yaml = OmegaConf.to_container(OmegaConf.load(conf_dir() / "launcher" / f"{cls.name}.yaml"))
        # The yaml composes the typed settings' defaults (Hydra's ConfigStore) and holds
        # no value of its own that equals one of them.
        assert yaml.pop("defaults") == [f"/{base_name(cls.name)}@_here_", "_self_"]
        defaults = to_dict(cls.settings_class())
        assert {k: v for k, v in yaml.items() if defaults.get(k, object()) == v} == {}
        assert launcher_defaults(cls.name) == defaults
        config = from_dict({"launcher": {**defaults, **yaml}})
        assert launcher_config(config.launcher) == cls.settings_class()
        assert from_dict(to_dict(config)) == config
        assert type(make_launcher(config.launcher)) is cls

    def test_a_launch_records_what_it_submitted_in_jobs_json(self, harness, run):
        tasks = tasks_of(run)
        launched = harness.launch(run, tasks)
        recorded = run.submissions()
        assert recorded == launched.submissions
        shards = sorted(k for s in recorded for k in s.shards)
        job_ids = [j for s in recorded for j in s.job_ids]
        if AFTER_LAUNCH[harness.kind] is ShardState.NOT_SUBMITTED:
            assert shards == [] and launched.instructions
        else:
            assert shards == [t.index for t in tasks]
            assert len(set(job_ids)) == len(job_ids) == len(tasks)
        assert {s.launcher for s in recorded} <= {harness.kind}

    def test_a_fresh_launcher_answers_for_the_recorded_tasks(self, harness, run):
        harness.launch(run, tasks_of(run))
        recorded = run.submissions()
        answers = launcher_for(harness.kind).query(run, recorded)
        assert answers is not None
        assert set(answers) <= {j for s in recorded for j in s.job_ids}
        assert {a.state for a in answers.values()} <= set(typing.get_args(TaskState))

    def test_status_follows_the_tasks_to_done(self, harness, run):
        tasks = tasks_of(run)
        harness.launch(run, tasks)
        after_launch = AFTER_LAUNCH[harness.kind]
        assert [s.state for s in read_status(run).statuses] == [after_launch] * 3
        harness.run_tasks(tasks)
        status = read_status(run)
        assert [s.state for s in status.statuses] == [ShardState.DONE] * 3
        assert status.redo == [] and status.busy == []

    def test_a_launch_of_no_tasks_submits_nothing(self, harness, run):
        harness.launch(run, [])
        assert run.submissions() == []
        assert not run.jobs_dir.exists() or not any(run.jobs_dir.iterdir())

    def test_femo_run_waits_where_the_launcher_says(self, harness):
        defaults = make_launcher(LauncherSection(harness.kind))
        assert defaults.waits == WAITS[harness.kind]
        if "wait" in {f.name for f in dataclasses.fields(defaults.settings_class)}:
            assert make_launcher(LauncherSection(harness.kind, {"wait": True})).waits


def test_every_launcher_is_in_the_contract():
    names = sorted(p.stem for p in (conf_dir() / "launcher").glob("*.yaml"))
    assert names == sorted(KINDS)


def test_a_default_run_config_names_the_local_launcher():
    assert RunConfig().launcher == LauncherSection("local")
    assert launcher_config(RunConfig().launcher) == launcher_class("local").settings_class()
