"""Every launcher's typed settings, on one base (as Hydra's submitit launchers share
``BaseQueueConf`` and differ only by their executor).

:class:`QueueConfig` holds what an array script asks of any scheduler, each under one
name, one type and one default: ``time_min``, ``cpus_per_task``, ``mem_gb``, ``gpus``,
``array_parallelism`` and ``setup``. :class:`SubmittedConfig` adds what only a launcher
that submits the array itself needs: ``max_array_size`` (it splits the array),
``extra_flags`` (one scheduler's own words) and ``wait``. A scheduler's class keeps only
its own: SLURM where a job goes (:class:`SlurmPlace`) and how a task is requeued, Grid
Engine where it goes and how it asks for cores, memory and GPUs (:class:`SgePlace`);
``launcher=none`` writes a script for each, so it takes both places.

Each value is checked against its field's type when the settings are made, so adding a
setting is its field here and, where it becomes a directive, one entry in the flag
table of :mod:`.dialects` (docs/extending.md, "A launcher setting").

These classes live apart from the launchers, which import submitit, so that the command
line's checks (:mod:`femo.overrides`) and Hydra's defaults (:func:`register_defaults`)
read them cheaply. ``conf/launcher/<name>.yaml`` holds only what differs from them.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..config import ConfigError, to_dict

# A flag's name (without dashes) -> its value; true: a flag without a value.
Flags = dict[str, Any]
LEAST = "least"  # field metadata: the smallest integer a count may be (default 1)


@dataclass(frozen=True)
class LauncherConfig:
    """What every launcher's settings have: the launcher's name. Values are checked
    against their fields' types (numbers written as text become text, lists tuples)."""

    name: str

    def __post_init__(self) -> None:
        hints = _type_hints(type(self))
        for f in dataclasses.fields(self):
            check = CHECKS.get(hints[f.name])
            if check is None:
                raise TypeError(f"{type(self).__name__}.{f.name}: no check for {hints[f.name]}")
            value = check(f"launcher.{f.name}", getattr(self, f.name), f.metadata.get(LEAST, 1))
            object.__setattr__(self, f.name, value)
        self.check()

    def check(self) -> None:
        """Checks between settings (a subclass adds its own, then calls this)."""

    def shards_at_once(self, left: int) -> int:
        """How many of ``left`` shards run side by side: all of them, unless capped."""
        return max(1, left)


@dataclass(frozen=True)
class LocalLauncherConfig(LauncherConfig):
    """Shards run in worker processes on this machine."""

    name: str = "local"
    # Worker processes; None: the CPUs available, at most one per shard.
    workers: int | None = None
    # Threads per worker for OpenCV and TensorFlow; None: CPUs // workers. 1: the worker
    # runs decode, detect and classify in turn on one thread (measured nearest the floor).
    threads_per_worker: int | None = None


@dataclass(frozen=True)
class QueueConfig(LauncherConfig):
    """What an array script asks of a scheduler, the same in every launcher that writes
    one (``slurm``, ``sge``, ``none``)."""

    # Run-time limit of a task, in minutes (sbatch --time, qsub -l h_rt).
    time_min: int = 120
    # CPU cores per task (sbatch --cpus-per-task, qsub -pe PE N). 1: one single-threaded
    # pipeline per task, the layout measured nearest the floor (docs/speed.md).
    cpus_per_task: int = 1
    # Memory per task in GB (sbatch --mem, qsub -l <mem_resource>=<mem_gb>G); None: none
    # asked for. What a task needs: the README's "Clusters" section.
    mem_gb: float | None = 2
    # GPUs per task (sbatch --gpus-per-node, qsub -l <gpu_resource>=N); 0: none.
    gpus: int = field(default=0, metadata={LEAST: 0})
    # At most this many array tasks run at once (sbatch --array=...%N, qsub -tc N).
    array_parallelism: int = 64
    # Shell lines run before the task's Python, e.g. ("module load python3",).
    setup: tuple[str, ...] = ()

    def shards_at_once(self, left: int) -> int:
        return min(max(1, left), self.array_parallelism)


@dataclass(frozen=True)
class SubmittedConfig(QueueConfig):
    """What a launcher that submits the array itself (through submitit) adds."""

    # The scheduler's cap on one array's tasks; larger runs are split into several
    # arrays. None: the scheduler's usual cap (``usual_max_array_size``).
    max_array_size: int | None = None
    # More directives in the scheduler's own words, {flag: value} (true: no value), e.g.
    # SLURM {constraint: a100, mail-type: END}, Grid Engine {l: "gpu_c=7.0", m: e}.
    extra_flags: Flags = field(default_factory=dict)
    # false: submit, record the job ids and return; true: wait for the array and reduce.
    wait: bool = False

    usual_max_array_size: ClassVar[int]

    @property
    def array_cap(self) -> int:
        """How many tasks one array may hold."""
        return self.max_array_size or self.usual_max_array_size


@dataclass(frozen=True)
class SlurmPlace(LauncherConfig):
    """Where a SLURM job goes."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None


@dataclass(frozen=True)
class SgePlace(LauncherConfig):
    """Where a Grid Engine job goes, and the names its cluster gives cores, memory and GPUs."""

    queue: str | None = None
    project: str | None = None
    # The parallel environment that grants cpus_per_task slots (qsub -pe PE N); None:
    # none (one slot). BU SCC calls it omp; many clusters smp.
    pe: str | None = "smp"
    # The resource memory is asked by; BU SCC: mem_per_core; others mem_free or h_vmem.
    mem_resource: str = "mem_free"
    # The resource GPUs are asked by (-l gpus=N on BU SCC; gpu=N elsewhere).
    gpu_resource: str = "gpus"

    def check(self) -> None:
        if self.cpus_per_task > 1 and not self.pe:  # type: ignore[attr-defined]
            raise ConfigError(
                "launcher.cpus_per_task > 1 needs a parallel environment, launcher.pe "
                "(e.g. smp; omp on BU SCC)"
            )
        if "=" in self.gpu_resource:
            raise ConfigError(
                f"launcher.gpu_resource names the resource GPUs are asked by (e.g. gpus), "
                f"not {self.gpu_resource!r}: ask for N GPUs with launcher.gpus=N"
            )
        super().check()


@dataclass(frozen=True)
class SlurmLauncherConfig(SlurmPlace, SubmittedConfig):
    """One SLURM array job per run through submitit, one array task per shard."""

    name: str = "slurm"
    # Requeue a preempted or timed-out task this many times (submitit's checkpointing).
    max_requeue: int = field(default=3, metadata={LEAST: 0})
    # SIGUSR2 this many seconds before the time limit: the task keeps its finished clips
    # and is requeued (SLURM may send it up to a minute earlier).
    signal_delay_s: int = 90

    usual_max_array_size: ClassVar[int] = 1000  # SLURM's default MaxArraySize is 1001


@dataclass(frozen=True)
class SgeLauncherConfig(SgePlace, SubmittedConfig):
    """One Grid Engine array job per run (qsub -t 1-N), through femo's submitit plugin."""

    name: str = "sge"

    usual_max_array_size: ClassVar[int] = 75000  # Grid Engine's default max_aj_tasks


@dataclass(frozen=True)
class NoneLauncherConfig(SgePlace, SlurmPlace, QueueConfig):
    """Plan the run folder and stop; the user submits the sbatch or qsub array script
    femo writes, filled from these settings (each script reads its scheduler's place)."""

    name: str = "none"


SETTINGS: dict[str, type[LauncherConfig]] = {
    c.name: c
    for c in (LocalLauncherConfig, NoneLauncherConfig, SlurmLauncherConfig, SgeLauncherConfig)
}


def settings_class(name: str) -> type[LauncherConfig]:
    """The settings class of launcher ``name`` (a ConfigError for an unknown one)."""
    if name not in SETTINGS:
        raise ConfigError(f"unknown launcher {name!r} (known: {', '.join(sorted(SETTINGS))})")
    return SETTINGS[name]


def launcher_defaults(name: str) -> dict[str, Any]:
    """Launcher ``name``'s settings and their defaults, in the saved (JSON) shape."""
    return to_dict(settings_class(name)())


def base_name(name: str) -> str:
    """The ConfigStore name of launcher ``name``'s defaults (``conf/launcher`` names it)."""
    return f"launcher_base_{name}"


def register_defaults() -> None:
    """Store every default Hydra composes ``conf/`` on, before it composes: the
    sections' (:func:`femo.config.register_defaults`) and each launcher's, the first
    entry of ``conf/launcher/<name>.yaml``'s defaults list (:func:`base_name`)."""
    from hydra.core.config_store import ConfigStore

    from ..config import register_defaults as register_section_defaults

    register_section_defaults()
    store = ConfigStore.instance()
    for name in SETTINGS:
        store.store(name=base_name(name), node=launcher_defaults(name))


# ------------------------------------------------------------------ names of old
# Settings renamed when the launchers got one base. A run folder saved before reads in
# today's names (:func:`upgraded`); on the command line, an old spelling is one error
# line that gives today's (:func:`old_spelling`).
RENAMED = {"gpus_per_node": "gpus", "slots": "cpus_per_task"}


def old_spelling(key: str, value: Any = None) -> ConfigError | None:
    """The one-line error for a launcher override spelled as an earlier femo read it
    (``launcher.slots=4``, ``launcher.extra_flags=[-m,e]``,
    ``launcher.gpu_resource=gpus=1``), naming today's spelling; None for any other."""
    head, _, last = key.lstrip("+~").partition(".")
    if head != "launcher":
        return None
    if last in RENAMED:
        return ConfigError(f"launcher.{last} is now launcher.{RENAMED[last]}")
    old_flags = last == "extra_flags" and isinstance(value, Sequence) and not isinstance(value, str)
    old_gpus = last == "gpu_resource" and isinstance(value, str) and "=" in value
    if not (old_flags or old_gpus):
        return None
    today = " ".join(_override(k, v) for k, v in upgraded({last: value}).items())
    what = "a mapping of flag to value" if old_flags else "the resource GPUs are asked by"
    return ConfigError(f"launcher.{last} is {what} now: {today}")


def _override(key: str, value: Any) -> str:
    """``launcher.key=value`` as a command line writes it (a mapping key by key)."""
    if isinstance(value, Mapping):
        return " ".join(_override(f"{key}.{k}", v).replace("launcher.", "+launcher.", 1)
                        for k, v in value.items())  # fmt: skip
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if any(c in text for c in "=,:[]{}() "):
        return f"\"launcher.{key}='{text}'\""
    return f"launcher.{key}={text}"


def upgraded(values: Mapping[str, Any]) -> dict[str, Any]:
    """A launcher section saved by an earlier femo, in today's names: ``gpus_per_node``
    and Grid Engine's ``slots`` renamed, ``extra_flags`` given as qsub arguments
    (``["-m", "e"]``) made a mapping, and a free-form ``gpu_resource`` (``"gpus=1"``)
    split into the resource and ``gpus``. The scripts it makes ask for the same."""
    out = {RENAMED.get(k, k): v for k, v in values.items()}
    if isinstance(out.get("extra_flags"), Sequence) and not isinstance(out["extra_flags"], str):
        out["extra_flags"] = qsub_arguments(out["extra_flags"])
    resource = out.get("gpu_resource")
    if resource is None or (isinstance(resource, str) and "=" in resource):
        out.pop("gpu_resource", None)  # none, or a request: today's default names it
        if resource:
            out.update(_gpu_request(resource, out.get("extra_flags") or {}))
    return out


def qsub_arguments(args: Sequence[Any]) -> Flags:
    """qsub arguments as flags: ``["-m", "e", "-notify"]`` -> ``{m: e, notify: true}``; a
    flag given twice (``-l``) keeps both values, comma-joined as qsub reads them."""
    flags: Flags = {}
    key = None
    for arg in map(str, args):
        if arg.startswith("-"):
            key = arg.lstrip("-")
            flags.setdefault(key, True)
        elif key is not None:
            flags[key] = arg if flags[key] is True else f"{flags[key]},{arg}"
    return flags


def _gpu_request(resource: str, flags: Flags) -> dict[str, Any]:
    """``gpu_resource="gpus=1,gpu_c=7.0"`` (femo 0.4's free-form request) as today's
    ``gpu_resource`` and ``gpus``; what is not a GPU count stays an ``-l`` request."""
    first, *rest = resource.split(",")
    name, _, count = first.partition("=")
    out: dict[str, Any] = {}
    if count.strip().isdigit():
        out = {"gpu_resource": name.strip(), "gpus": int(count)}
    else:
        rest = [first, *rest]
    if rest:
        asked = flags.get("l")
        out["extra_flags"] = {**flags, "l": ",".join([*([asked] if asked else []), *rest])}
    return out


# ------------------------------------------------------------------ value checks
@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _text(key: str, value: Any, optional: bool) -> str | None:
    if value is None and optional:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # a partition or account Hydra read as a number
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a name{' or null' if optional else ''}, not {value!r}")
    return value


def _count(key: str, value: Any, least: int, optional: bool) -> int | None:
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise ConfigError(
            f"{key} must be an integer >= {least}{' or null' if optional else ''}, not {value!r}"
        )
    return value


def _size(key: str, value: Any, least: int) -> float | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{key} must be a number > 0 or null, not {value!r}")
    return value


def _switch(key: str, value: Any, least: int) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false, not {value!r}")
    return value


def _lines(key: str, value: Any, least: int) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigError(
            f'{key} must be a list of shell lines, e.g. ["module load x"], not {value!r}'
        )
    return tuple(str(line) for line in value)


def _flags(key: str, value: Any, least: int) -> Flags:
    scalar = (str, int, float, bool)
    if not isinstance(value, Mapping) or not all(isinstance(v, scalar) for v in value.values()):
        raise ConfigError(
            f"{key} must be a mapping of flag to value, e.g. {{constraint: a100}}, not {value!r}"
        )
    return {str(k).lstrip("-"): v for k, v in value.items()}


CHECKS: dict[object, Callable[[str, Any, int], Any]] = {
    str: lambda key, value, least: _text(key, value, optional=False),
    str | None: lambda key, value, least: _text(key, value, optional=True),
    int: lambda key, value, least: _count(key, value, least, optional=False),
    int | None: lambda key, value, least: _count(key, value, least, optional=True),
    float | None: _size,
    bool: _switch,
    tuple[str, ...]: _lines,
    Flags: _flags,
}
