"""femo.overrides: an override that leaves a run's saved value as it is is never refused."""

from __future__ import annotations

import pytest

from femo.config import ConfigError, RunConfig, from_dict, to_dict
from femo.overrides import apply_overrides


@pytest.fixture
def saved(tmp_path) -> dict:
    config = to_dict(RunConfig())
    config["dataset"]["root"] = str(tmp_path / "clips")
    config["dataset"]["references"] = str(tmp_path / "refs")
    return config


@pytest.mark.parametrize("command", ["reduce", "resume"])
@pytest.mark.parametrize(
    "override",
    [
        "detector=haar",  # the group's preset: the run's own detector
        "detector.min_size=50",
        "sampling.every_n=20",
        "dataset.root={tmp}/clips",
        "dataset.root={tmp}/clips/../clips",  # the same folder, written otherwise
        "identity=none",
        "shards.videos_per_shard=16",
    ],
)
def test_a_shard_key_set_to_the_runs_own_value_is_accepted(saved, tmp_path, command, override):
    changed = apply_overrides(saved, [override.format(tmp=tmp_path)], command)
    assert from_dict(changed) == from_dict(saved)


@pytest.mark.parametrize(
    "override", ["detector=mtcnn", "detector.min_size=40", "sampling.every_n=10", "identity=dlib"]
)
def test_a_shard_key_set_to_another_value_is_still_refused(saved, override):
    with pytest.raises(ConfigError, match="it changes the shards"):
        apply_overrides(saved, [override], "reduce")


def test_execution_keys_at_their_value_are_accepted_by_reduce(saved):
    changed = apply_overrides(saved, ["device=auto", "batch_size=null"], "reduce")
    assert changed == saved
    with pytest.raises(ConfigError, match="it decides how shards are made"):
        apply_overrides(saved, ["device=cpu"], "reduce")


def test_references_are_read_at_reduce(saved, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    changed = apply_overrides(saved, ["dataset.references=other"], "reduce")
    assert changed["dataset"]["references"] == str(tmp_path / "other")
