"""End to end against a real single-node SLURM and a real single-node SGE.

The schedulers are installed and started by tests/cluster/start-*.sh (Debian 12, root);
these tests fail, rather than skip, when a selected scheduler cannot be started.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from femo.demo import build_demo

from .conftest import SHARED, need
from .conftest import femo as run_femo

CLUSTER = Path(__file__).parent / "cluster"
SGE_ENV = {"SGE_ROOT": "/var/lib/gridengine", "SGE_CELL": "default"}


def _scheduler_up(name: str) -> bool:
    """The controller answers, and (SGE) no queue instance is unknown: a qmaster whose
    execution daemon is gone answers qstat but never starts a job."""
    probe = ["sinfo", "-h"] if name == "slurm" else ["qstat", "-f"]
    try:
        proc = subprocess.run(
            probe, capture_output=True, text=True, timeout=30, env={**os.environ, **SGE_ENV}
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    if proc.returncode != 0:
        return False
    return name == "slurm" or not any(_sge_queue_unknown(line) for line in proc.stdout.splitlines())


def _sge_queue_unknown(line: str) -> bool:
    """A `qstat -f` queue line (`all.q@vm BIP 0/0/2 -NA- lx-amd64 u`) in state u."""
    fields = line.split()
    return "@" in line and len(fields) >= 6 and "u" in fields[5]


def _start(name: str) -> None:
    if not _scheduler_up(name):
        proc = subprocess.run(
            ["bash", str(CLUSTER / f"start-{name}.sh")],
            capture_output=True,
            text=True,
            timeout=1500,
        )
        if proc.returncode != 0 or not _scheduler_up(name):
            pytest.fail(f"could not start {name}: {proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    if name == "sge":
        os.environ.update({k: os.environ.get(k, v) for k, v in SGE_ENV.items()})
        subprocess.run(["qmod", "-c", "*"], capture_output=True, timeout=30)  # clear error states


@pytest.fixture(scope="session")
def slurm():
    _start("slurm")
    return "slurm"


@pytest.fixture(scope="session")
def sge():
    _start("sge")
    return "sge"


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """The demo dataset (5 clips, 4 labelled, one without a face), made here."""
    folder = tmp_path_factory.mktemp("clips")
    build_demo(folder)
    return folder


def femo(*args: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    """:func:`tests.conftest.femo` with Grid Engine's variables, and a scheduler's patience."""
    return run_femo(*args, cwd=cwd, env=SGE_ENV, timeout=timeout)


def common(clips: Path, out: Path) -> list[str]:
    return [
        f"dataset.root={clips}",
        f"dataset.labels={clips / 'labels.csv'}",
        "shards.videos_per_shard=2",
        "sampling.every_n=4",
        f"output_root={out}",
    ]


def launcher_args(name: str) -> list[str]:
    if name == "slurm":
        return [
            "launcher=slurm",
            "launcher.cpus_per_task=1",
            "launcher.mem_gb=2",
            "launcher.time_min=20",
        ]
    return ["launcher=sge", "launcher.pe=null", "launcher.cpus_per_task=1", "launcher.time_min=20"]


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def run_dirs(out: Path) -> list[Path]:
    return sorted(p.parent for p in out.glob("*/*/femo.json"))


def wait_until_settled(run_dir: Path, cwd: Path, timeout: float = 600) -> str:
    """Poll `femo status` from a fresh process until nothing is queued or running."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        proc = femo("status", str(run_dir), cwd=cwd)
        assert proc.returncode == 0, proc.stderr
        if " 0 running, 0 pending" in proc.stdout:
            return proc.stdout
        time.sleep(3)
    pytest.fail(f"{run_dir} still busy after {timeout} s:\n{proc.stdout}")


@pytest.fixture(scope="module")
def local_report(clips, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("local")
    proc = femo("run", *common(clips, work / "out"), cwd=work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = run_dirs(work / "out")
    return run / "report"


def check_same_as_local(run_dir: Path, local_report: Path) -> None:
    assert (run_dir / "report" / "videos.csv").read_bytes() == (
        local_report / "videos.csv"
    ).read_bytes()
    mine = json.loads((run_dir / "report" / "metrics.json").read_text())
    theirs = json.loads((local_report / "metrics.json").read_text())
    assert mine["accuracy"] == theirs["accuracy"]
    assert mine["n_videos"] == 5 and mine["n_labelled"] == 4


def _same_as_local(name: str, clips: Path, tmp_path: Path, local_report: Path) -> None:
    out = tmp_path / "out"
    proc = femo(
        "run", *common(clips, out), *launcher_args(name), "launcher.wait=true", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert f"submitted {name} array" in proc.stdout
    (run,) = run_dirs(out)
    jobs = json.loads((run / "jobs.json").read_text())
    assert len(jobs) == 1 and jobs[0]["shards"] == [0, 1, 2] and len(jobs[0]["job_ids"]) == 3
    assert sorted(p.name for p in (run / "shards").iterdir()) == [
        f"shard-0000{k}.parquet" for k in range(3)
    ]
    check_same_as_local(run, local_report)


@pytest.mark.slurm
def test_slurm_run_equals_local(slurm, clips, tmp_path, local_report):
    _same_as_local("slurm", clips, tmp_path, local_report)


@pytest.mark.sge
def test_sge_run_equals_local(sge, clips, tmp_path, local_report):
    _same_as_local("sge", clips, tmp_path, local_report)


def _sweep(name: str, clips: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    # Submitted from one shell ...
    proc = femo(
        "run", "-m", "detector=haar,mtcnn", "mapping=three_class,seven", "dataset.unknown_labels=unlabelled",
        *common(clips, out), *launcher_args(name), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    (sweep_dir,) = list(out.glob("sweeps/*/*"))
    rows = read_csv(sweep_dir / "sweep.csv")
    assert len(rows) == 4
    # Points that differ only in the mapping share one extraction: two arrays, not four.
    assert sum(1 for r in rows if r["shards_from"]) == 2
    assert proc.stdout.count(f"submitted {name} array") == 2
    # ... collected from another, once the arrays are done.
    for run in sorted(p.parent for p in sweep_dir.glob("*/femo.json")):
        wait_until_settled(run, tmp_path)
    proc = femo("reduce", str(sweep_dir), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = read_csv(sweep_dir / "sweep.csv")
    assert [r["status"] for r in rows] == ["done"] * 4
    assert all(r["n_videos"] == "5" for r in rows)
    for r in rows:
        # Of the demo's 3-class labels only "Neutral" is also a 7-class name (neutral).
        labelled = "3" if "mapping=seven" in r["overrides"] else "4"
        assert r["n_labelled"] == labelled and 0.0 <= float(r["accuracy"]) <= 1.0
    # sweep.html: Haar against MTCNN on the same clips, paired; 3 against 7 classes: not
    page = (sweep_dir / "sweep.html").read_text()
    verdicts = ("no difference beyond chance", "better than A beyond chance", "better than B")
    assert sum(page.count(v) for v in verdicts) == 2, page  # one per mapping
    assert page.count("not comparable") == 4
    assert "http://" not in page and "https://" not in page


@pytest.mark.slurm
def test_slurm_sweep_submit_then_collect(slurm, clips, tmp_path):
    _sweep("slurm", clips, tmp_path)


@pytest.mark.sge
def test_sge_sweep_submit_then_collect(sge, clips, tmp_path):
    _sweep("sge", clips, tmp_path)


def _running_task(name: str, array_id: str, among: set[int], timeout: float = 120) -> str:
    """A submitit job id ('<array>_<k>', k in ``among``) of a task reported as running."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if name == "slurm":
            out = subprocess.run(
                ["squeue", "-h", "-r", "-o", "%i|%T"], capture_output=True, text=True
            ).stdout
            running = [
                ln.split("|")[0]
                for ln in out.splitlines()
                if ln.endswith("|RUNNING") and ln.startswith(array_id + "_")
            ]
        else:
            from femo.launchers.sge_plugin import parse_qstat_xml

            out = subprocess.run(["qstat", "-xml"], capture_output=True).stdout
            running = [
                k
                for k, v in parse_qstat_xml(out).items()
                if k.startswith(array_id + "_") and v["State"] == "RUNNING"
            ]
        running = [job for job in running if int(job.split("_")[1]) in among]
        if running:
            return sorted(running)[0]
        time.sleep(0.3)
    pytest.fail(f"no task of {array_id} ever ran")


def _kill(name: str, job_id: str) -> None:
    array_id, task = job_id.split("_")
    if name == "slurm":
        subprocess.run(["scancel", "--signal=KILL", "--full", job_id], check=True)
    else:
        subprocess.run(
            ["qdel", array_id, "-t", str(int(task) + 1)], check=True, capture_output=True
        )


def _kill_and_resume(name: str, clips: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = femo(
        "run", *common(clips, out), *launcher_args(name), "sampling.every_n=1", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = run_dirs(out)
    array_id = json.loads((run / "jobs.json").read_text())[0]["array_id"]
    # Kill a task whose shard holds only long clips with a face: it cannot finish
    # in the moment between being seen running and being killed.
    plan = read_csv(run / "clips.csv")
    quick = {int(r["shard"]) for r in plan if not r["video"].startswith("hopper_")}
    long_shards = {int(r["shard"]) for r in plan} - quick
    assert long_shards, plan
    victim = _running_task(name, array_id, among=long_shards)
    _kill(name, victim)
    shard = int(victim.split("_")[1])
    status = wait_until_settled(run, tmp_path)
    assert not (run / "shards" / f"shard-{shard:05d}.parquet").exists()
    assert f"shard {shard:5d} failed" in status, status
    assert "1 failed" in status
    # A partial run is refused, and says what is missing.
    proc = femo("reduce", str(run), cwd=tmp_path)
    assert proc.returncode == 2 and "allow_partial" in proc.stderr and "not done" in proc.stderr
    # Resume redoes exactly the killed shard.
    proc = femo("run", f"resume={run}", *launcher_args(name), "launcher.wait=true", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "2 done, 0 queued or running, 1 to redo" in proc.stdout
    jobs = json.loads((run / "jobs.json").read_text())
    assert len(jobs) == 2 and jobs[1]["shards"] == [shard]
    videos = read_csv(run / "report" / "videos.csv")
    assert len(videos) == 5 and len({v["video"] for v in videos}) == 5
    assert json.loads((run / "report" / "metrics.json").read_text())["n_videos"] == 5


@pytest.mark.slurm
def test_slurm_killed_task_then_resume(slurm, long_clips, tmp_path):
    _kill_and_resume("slurm", long_clips, tmp_path)


@pytest.mark.sge
def test_sge_killed_task_then_resume(sge, long_clips, tmp_path):
    _kill_and_resume("sge", long_clips, tmp_path)


@pytest.mark.slurm
def test_slurm_refusal_is_the_schedulers_message(slurm, clips, tmp_path):
    proc = femo(
        "run",
        *common(clips, tmp_path / "out"),
        *launcher_args("slurm"),
        "launcher.partition=nosuchpart",
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "refused" in proc.stderr and "partition" in proc.stderr.lower()
    assert "Traceback" not in proc.stderr


@pytest.mark.sge
def test_sge_refusal_is_the_schedulers_message(sge, clips, tmp_path):
    proc = femo(
        "run",
        *common(clips, tmp_path / "out"),
        *launcher_args("sge"),
        "launcher.queue=nosuchq",
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "refused" in proc.stderr and "nosuchq" in proc.stderr
    assert "Traceback" not in proc.stderr


def _plain_scripts_as_printed(name: str, clips: Path, tmp_path: Path, local_report: Path) -> None:
    """launcher=none, then the submit line femo printed, run as the user would run it:
    the script's directives (placeholders included) and its throttle are the scheduler's
    to accept, and `femo status` follows the tasks to done."""
    out = tmp_path / "out"
    proc = femo("run", *common(clips, out), "launcher=none", "launcher.time_min=20", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    (run,) = run_dirs(out)
    command = "sbatch" if name == "slurm" else "qsub"
    (line,) = [ln.removeprefix("femo:").strip() for ln in proc.stdout.splitlines()
               if ln.removeprefix("femo:").strip().startswith(command + " ")]  # fmt: skip
    assert ("%64 " if name == "slurm" else "-tc 64 ") in line
    submitted = subprocess.run(
        line, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={**os.environ, **SGE_ENV},
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    deadline = time.time() + 600
    while time.time() < deadline:
        status = femo("status", str(run), cwd=tmp_path).stdout
        if "3 done" in status:
            break
        time.sleep(3)
    assert "3 done" in status, status
    proc = femo("reduce", str(run), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    check_same_as_local(run, local_report)


@pytest.mark.slurm
def test_slurm_takes_the_plain_script_as_printed(slurm, clips, tmp_path, local_report):
    _plain_scripts_as_printed("slurm", clips, tmp_path, local_report)


@pytest.mark.sge
def test_sge_takes_the_plain_script_as_printed(sge, clips, tmp_path, local_report):
    _plain_scripts_as_printed("sge", clips, tmp_path, local_report)


def test_sge_plugin_is_registered_with_submitit():
    from submitit.core import plugins

    assert plugins.get_executors()["sge"].__module__ == "femo.launchers.sge_plugin"
    assert "sge" in plugins.get_job_environments()


@pytest.mark.parametrize(
    "name",
    [pytest.param("slurm", marks=pytest.mark.slurm), pytest.param("sge", marks=pytest.mark.sge)],
)
def test_arrays_larger_than_the_cap_are_split(name, request, clips, tmp_path, local_report):
    request.getfixturevalue(name)
    out = tmp_path / "out"
    args = [
        *common(clips, out),
        *launcher_args(name),
        "launcher.max_array_size=2",
        "launcher.wait=true",
    ]
    proc = femo("run", *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    (run,) = run_dirs(out)
    jobs = json.loads((run / "jobs.json").read_text())
    assert [j["shards"] for j in jobs] == [[0, 1], [2]]
    assert jobs[0]["array_id"] != jobs[1]["array_id"]
    check_same_as_local(run, local_report)


@pytest.mark.slurm
def test_resume_of_a_slurm_run_submits_to_slurm(slurm, clips, tmp_path):
    """No launcher named on resume: the run's own (SLURM) is used, never the local one."""
    out = tmp_path / "out"
    proc = femo(
        "run", *common(clips, out), *launcher_args("slurm"), "launcher.wait=true", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    (run,) = run_dirs(out)
    (run / "shards" / "shard-00001.parquet").unlink()  # lost: its task ended, no file
    status = femo("status", str(run), cwd=tmp_path).stdout
    assert "2 done" in status and "1 failed" in status, status
    proc = femo("run", f"resume={run}", "device=cpu", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "femo: submitted slurm array" in proc.stdout
    # launcher.wait=true was saved with the run: resume waited and reported
    assert "femo: accuracy" in proc.stdout
    jobs = json.loads((run / "jobs.json").read_text())
    assert [j["launcher"] for j in jobs] == ["slurm", "slurm"] and jobs[1]["shards"] == [1]
    assert json.loads((run / "femo.json").read_text())["config"]["device"] == "cpu"
    assert len(read_csv(run / "report" / "videos.csv")) == 5


@pytest.fixture(scope="module")
def many_clips(tmp_path_factory, dev_clips) -> Path:
    """FEMO_SCALE_CLIPS short clips cut from the dev clips (60 by default in CI; the
    README's 3,000-clip figures come from FEMO_SCALE_CLIPS=3000)."""
    from tests.clipgen import make_clips

    n = int(os.environ.get("FEMO_SCALE_CLIPS", "60"))
    return make_clips(dev_clips, tmp_path_factory.mktemp("many") / "clips", n)


@pytest.mark.parametrize(
    "name",
    [pytest.param("slurm", marks=pytest.mark.slurm), pytest.param("sge", marks=pytest.mark.sge)],
)
@pytest.mark.timeout(3600)  # FEMO_SCALE_CLIPS=3000 takes minutes; the CI size, seconds
def test_many_clips_through_a_real_scheduler(name, request, many_clips, tmp_path):
    """Every clip exactly once through arrays split by max_array_size; figures printed."""
    request.getfixturevalue(name)
    n = len(list(many_clips.glob("*.mp4")))
    per_shard = max(1, -(-n // 20))  # 20 shards, as the study-sized run
    out = tmp_path / "out"
    args = [f"dataset.root={many_clips}", f"dataset.labels={many_clips / 'labels.csv'}",
            "dataset.group_column=actor", f"shards.videos_per_shard={per_shard}",
            f"output_root={out}", *launcher_args(name), "launcher.max_array_size=8"]  # fmt: skip
    started = time.perf_counter()
    proc = femo("run", *args, cwd=tmp_path)
    submit_s = time.perf_counter() - started
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    (run,) = run_dirs(out)
    jobs = json.loads((run / "jobs.json").read_text())
    assert [len(j["shards"]) for j in jobs] == [8, 8, 4]
    wait_until_settled(run, tmp_path, timeout=3000)
    started = time.perf_counter()
    status = femo("status", str(run), cwd=tmp_path)
    status_s = time.perf_counter() - started
    assert "20 done" in status.stdout, status.stdout
    started = time.perf_counter()
    proc = femo("reduce", str(run), cwd=tmp_path)
    reduce_s = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    videos = read_csv(run / "report" / "videos.csv")
    assert len(videos) == n and len({v["video"] for v in videos}) == n
    assert all(v["status"] in ("ok", "no_face") for v in videos)
    print(f"{name}: {n} clips: submit {submit_s:.1f} s, status {status_s:.1f} s, "
          f"reduce {reduce_s:.1f} s")  # fmt: skip


@pytest.mark.slurm
def test_a_poison_clip_on_slurm(slurm, clips, tmp_path):
    """A clip that kills its worker (os.abort, a test-only hook the job inherits from
    femo's environment, as SLURM exports it): the array task's supervisor replaces the
    worker, the clip is skipped with its signal, and the run completes without a
    resume. (SGE jobs do not inherit the submitting environment, so the hook cannot
    reach them; their tasks run the same supervised worker.)"""
    out = tmp_path / "out"
    env = {**SGE_ENV, "FEMO_TEST_CRASH_ON": "hopper_zoom.mp4"}
    proc = run_femo("run", *common(clips, out), *launcher_args("slurm"), "launcher.wait=true",
                    cwd=tmp_path, env=env, timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    (run,) = run_dirs(out)
    videos = {v["video"]: v for v in read_csv(run / "report" / "videos.csv")}
    assert len(videos) == 5
    assert videos["hopper_zoom.mp4"]["status"] == "error"
    assert "(signal 6, SIGABRT)" in videos["hopper_zoom.mp4"]["message"]
    assert [v for v, row in videos.items() if row["status"] == "error"] == ["hopper_zoom.mp4"]
    assert len(json.loads((run / "jobs.json").read_text())) == 1  # no resume was needed


# ------------------------------------------------------------ requeue (issue 13)


@pytest.fixture(scope="module")
def requeue_clips(tmp_path_factory, dev_clips) -> Path:
    """160 short clips: one shard of them keeps a task busy for a minute or more."""
    from tests.clipgen import make_clips

    return make_clips(dev_clips, tmp_path_factory.mktemp("requeue") / "clips", 160)


def _one_shard_run(clips: Path, tmp_path: Path, *extra: str) -> tuple[Path, str]:
    """Submit all of ``clips`` as one SLURM task, 4 clips a part; (run folder, task id)."""
    n = len(list(clips.glob("*.mp4")))
    args = [f"dataset.root={clips}", f"dataset.labels={clips / 'labels.csv'}",
            "dataset.group_column=actor", f"shards.videos_per_shard={n}", "shards.part_clips=4",
            "sampling.every_n=1", f"output_root={tmp_path / 'out'}", "launcher=slurm",
            "launcher.cpus_per_task=1", "launcher.mem_gb=2", *extra]  # fmt: skip
    proc = femo("run", *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    (run,) = run_dirs(tmp_path / "out")
    (job,) = json.loads((run / "jobs.json").read_text())
    return run, job["job_ids"][0]


def _squeue_state(job_id: str) -> tuple[str, str] | None:
    """(state, reason) of an array task in squeue, None once it is gone."""
    out = subprocess.run(
        ["squeue", "-h", "-r", "-o", "%i|%T|%r"], capture_output=True, text=True, check=True
    ).stdout
    for line in out.splitlines():
        job, state, reason = line.split("|")
        if job == job_id:
            return state, reason
    return None


def _follow(
    run: Path, job_id: str, cwd: Path, kept: set[str] | None = None, timeout: float = 600
) -> dict:
    """Watch a task until it has left the queue, with `femo status` every round.

    SLURM holds a requeued task for two minutes (reason BeginTime); this releases it
    at once (`scontrol update StartTime=now`) to keep the test short. Returns what
    was seen: the states and status lines, the number of requeues, and the clips
    that were in part files the last time the first attempt was seen running.
    """
    from femo.node.progress import ShardProgress
    from femo.rundir import RunDir

    progress = ShardProgress(RunDir(run), 0)
    seen: dict = {"states": [], "status": [], "requeues": 0, "kept_before": kept or set()}
    ran = kept is not None
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = _squeue_state(job_id)
        status = femo("status", str(run), cwd=cwd)
        assert status.returncode == 0, status.stderr
        seen["status"].append(
            next(ln for ln in status.stdout.splitlines() if ln.startswith("shards:"))
        )
        if state is None:
            return seen
        seen["states"].append(state)
        if state[0] == "RUNNING" and seen["requeues"] == 0:
            seen["kept_before"] = progress.done_clips()
        if state[0] in ("PENDING", "REQUEUED") and ran:
            seen["requeues"] += 1  # it ran, and is queued again
        ran = state[0] not in ("PENDING", "REQUEUED")
        if state == ("PENDING", "BeginTime"):
            subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], check=True)
        time.sleep(1)
    pytest.fail(f"{job_id} still in the queue after {timeout} s: {seen['states'][-5:]}")


def _clips_logged(run: Path) -> dict[str, int]:
    """How many times each clip was extracted, from the shard's log (kept across attempts)."""
    counts: dict[str, int] = {}
    for line in (run / "logs" / "shard-00000.log").read_text().splitlines():
        if " femo.node.engine: clip " in line:
            video = line.split(" femo.node.engine: clip ")[1].split(":")[0]
            counts[video] = counts.get(video, 0) + 1
    return counts


def _check_requeued_run(run: Path, clips: Path, seen: dict, cwd: Path) -> None:
    names = sorted(p.name for p in clips.glob("*.mp4"))
    # While it was requeued, femo status said pending or running, never failed.
    assert seen["status"] and all(" 0 failed," in s for s in seen["status"]), seen["status"]
    assert any(" 1 pending," in s for s in seen["status"]), seen["status"]
    assert seen["status"][-1].startswith("shards: 1 planned, 1 done"), seen["status"][-1]
    # The run completes with every clip exactly once.
    proc = femo("reduce", str(run), cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    videos = [v["video"] for v in read_csv(run / "report" / "videos.csv")]
    assert sorted(videos) == names
    # Clips finished before the requeue were kept, not extracted again; at most the
    # part in flight (4 clips) per requeue was redone.
    logged = _clips_logged(run)
    assert sorted(logged) == names
    assert seen["kept_before"], "no part file was seen before the requeue"
    assert all(logged[v] == 1 for v in seen["kept_before"]), {
        v: logged[v] for v in seen["kept_before"] if logged[v] != 1
    }
    redone = [v for v, n in logged.items() if n > 1]
    assert len(redone) <= 5 * seen["requeues"], redone
    # Each attempt stopped cleanly: no failure recorded, nothing left behind.
    log = (run / "logs" / "shard-00000.log").read_text()
    assert "shard 0 failed" not in log
    assert log.count("shard 0 stopped before it finished") == seen["requeues"]
    assert sorted(p.name for p in (run / "logs").iterdir()) == ["shard-00000.log"]
    assert not (run / "shards" / ".parts-00000").exists()


@pytest.mark.slurm
@pytest.mark.timeout(900)
def test_slurm_requeued_task_keeps_its_finished_clips(slurm, requeue_clips, tmp_path):
    """`scontrol requeue` of a running task: the rerun does only the clips not kept."""
    from femo.node.progress import ShardProgress
    from femo.rundir import RunDir

    run, job_id = _one_shard_run(requeue_clips, tmp_path, "launcher.time_min=20")
    parts = run / "shards" / ".parts-00000"
    deadline = time.time() + 180
    while (_squeue_state(job_id) or ("",))[0] != "RUNNING" or len(
        list(parts.glob("*.parquet"))
    ) < 2:
        assert time.time() < deadline, f"{job_id} never ran with a part file written"
        time.sleep(0.3)
    kept = ShardProgress(RunDir(run), 0).done_clips()
    subprocess.run(["scontrol", "requeue", job_id], check=True)
    seen = _follow(run, job_id, tmp_path, kept)
    assert seen["requeues"] == 1, seen["states"]
    _check_requeued_run(run, requeue_clips, seen, tmp_path)
    out = (run / "jobs" / f"{job_id}_0_log.out").read_text()
    assert out.count("Starting with JobEnvironment") == 2


@pytest.mark.slurm
@pytest.mark.timeout(900)
def test_slurm_task_at_its_time_limit_is_requeued(slurm, requeue_clips, tmp_path):
    """A 2-minute limit, SIGUSR2 60 s before it: submitit checkpoints and requeues the
    task (as often as it takes), and the run completes with every clip once."""
    run, job_id = _one_shard_run(
        requeue_clips, tmp_path, "launcher.time_min=2", "launcher.signal_delay_s=60",
        "launcher.max_requeue=10",
    )  # fmt: skip
    seen = _follow(run, job_id, tmp_path)
    assert seen["requeues"] >= 1, seen["states"]
    assert not any(s[0] == "TIMEOUT" for s in seen["states"]), seen["states"]
    _check_requeued_run(run, requeue_clips, seen, tmp_path)
    out = (run / "jobs" / f"{job_id}_0_log.out").read_text()
    assert out.count("Caught signal SIGUSR2") == seen["requeues"]
    assert out.count("this job is timed-out") == seen["requeues"]
    assert out.count("Starting with JobEnvironment") == seen["requeues"] + 1


@pytest.mark.slurm
@pytest.mark.parametrize(
    "how",
    [["dataset.labels={root}/segments.csv", "shards.videos_per_shard=4"], ["dataset.segment_s=2"]],
    ids=["labelled-segments", "segment_s=2"],
)
def test_slurm_segmented_run_equals_local(slurm, tmp_path, how):
    """Long videos in segments (issue 27): the shared long videos, cut by their labels
    (6 shards) or every 2 s, give through SLURM the videos.csv a local run gives."""
    root = need(SHARED / "long-videos")
    args = [f"dataset.root={root}", *(a.format(root=root) for a in how)]
    reports = []
    for name, launcher in (
        ("local", []),
        ("slurm", [*launcher_args("slurm"), "launcher.wait=true"]),
    ):
        out = tmp_path / name
        proc = femo("run", *args, *launcher, f"output_root={out}", cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
        (run,) = run_dirs(out)
        reports.append((run / "report" / "videos.csv").read_bytes())
    if "shards.videos_per_shard=4" in how:
        assert sorted(p.name for p in (run / "shards").iterdir()) == [
            f"shard-0000{k}.parquet" for k in range(6)
        ]
    assert reports[0] == reports[1]
    assert len(reports[0].splitlines()) == 1 + (24 if len(how) == 2 else 51)
