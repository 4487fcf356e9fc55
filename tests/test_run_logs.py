"""What a run and a sweep say: one log format on one stream (stderr) for every command,
and a sweep's first line says what really happens (not only Hydra's "locally")."""

from __future__ import annotations

import re

from omegaconf import OmegaConf

from femo.cli import LOG_FORMAT
from femo.config import conf_dir
from femo.results.sweep import sweep_launch_text

LOG_LINE = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ")


def test_hydra_logs_as_femo_does_on_stderr():
    hydra = OmegaConf.load(conf_dir() / "config.yaml").hydra
    for section in (hydra.job_logging, hydra.hydra_logging):
        console = section.handlers.console
        assert console.stream == "ext://sys.stderr"
        assert section.formatters[console.formatter].format == LOG_FORMAT
    assert hydra.job_logging.formatters.file.format == "%(asctime)s " + LOG_FORMAT


def test_sweep_launch_text():
    assert sweep_launch_text("slurm") == (
        "launcher=slurm: Hydra starts the sweep's points one after another in this process "
        '(its "locally" below); each point submits its own SLURM array job, one task per '
        "shard, and returns without waiting: the shards run on the cluster"
    )
    assert sweep_launch_text("sge", wait=True).endswith(
        "each point submits its own Grid Engine array job, one task per shard, and waits for "
        "it: the shards run on the cluster"
    )


def test_a_sweep_says_what_it_does_and_logs_in_one_format(fast_femo, tmp_path):
    (tmp_path / "clips").mkdir()
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        (tmp_path / "clips" / name).write_bytes(b"never decoded here")
    proc = fast_femo(
        "run", "-m", "launcher=none", "dataset.root=clips", "output_root=out",
        "shards.videos_per_shard=1,2",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == (
        "femo: launcher=none: each sweep point plans its run folder and writes its array "
        "scripts; nothing is submitted or run"
    )
    logged = proc.stderr.splitlines()
    assert logged and all(LOG_LINE.match(line) for line in logged), logged
    assert "INFO hydra._internal.core_plugins.basic_launcher: Launching 2 jobs locally" in logged
    assert sum(line.startswith("INFO femo.pipeline: 3 clips in ") for line in logged) == 2
    assert not any(LOG_LINE.match(line) or "[HYDRA]" in line for line in proc.stdout.splitlines())
    (log,) = (tmp_path / "out").glob("sweeps/*/*/0-*/femo.log")
    assert re.match(
        r"^\d{4}-\d\d-\d\d [\d:,]+ INFO femo.pipeline: 3 clips in 3 shard", log.read_text()
    )
