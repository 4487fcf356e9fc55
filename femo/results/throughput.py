"""What a run's shards record about their own speed, and what it predicts.

Every shard file carries its timing in its ``femo.timing`` metadata (written by
:mod:`femo.node.extract`); this module adds them up for ``femo status`` and the report,
and turns them into wall-time estimates for sizing array jobs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyarrow import ArrowException

from ..shard_files import read_shard_metadata
from .metrics import Speed

# shards.target_minutes's seconds per clip where no shards.timed_by run measured them:
# the default run (haar, every 20th frame, fer on ONNX Runtime, 2 CPU threads) over the
# 24 dev clips on a 2-core machine shared with other work, measured by
#   femo run dataset.root=../shared/data/dev-clips launcher.workers=1
# (femo status: 0.52 s per clip, 0.95 s of model loading per task). A study's clips of
# another length or a slower detector take longer: time a few with shards.timed_by.
DEFAULT_SECONDS_PER_CLIP = 0.52
DEFAULT_STARTUP_S = 0.95


def clips_per_task(target_s: float, seconds_per_clip: float, startup_s: float) -> int:
    """The most clips one array task works through in about ``target_s`` seconds, its
    model loading (``startup_s``) included; at least one."""
    return max(1, math.floor((target_s - startup_s) / seconds_per_clip))


@dataclass
class Throughput:
    """Summed timing of finished shards (one array task each)."""

    shards: int = 0
    clips: int = 0
    frames_sampled: int = 0
    seconds: float = 0.0  # extraction, model loading excluded
    startup_s: float = 0.0  # model loading, summed over tasks
    loads: int = 0  # shards that loaded the models (a local worker loads them once)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    devices: list[str] = field(default_factory=list)

    @property
    def frames_per_s(self) -> float | None:
        return self.frames_sampled / self.seconds if self.seconds > 0 else None

    @property
    def seconds_per_clip(self) -> float | None:
        return self.seconds / self.clips if self.clips else None

    @property
    def startup_per_task(self) -> float:
        """Model loading per array task: every task pays it, though a local worker
        that runs several shards pays it once, so average over the shards that did."""
        return self.startup_s / self.loads if self.loads else 0.0

    @property
    def clips_per_hour(self) -> float | None:
        """Clips per hour for one array task."""
        return 3600 * self.clips / self.seconds if self.seconds > 0 else None

    def stage_frames_per_s(self) -> dict[str, float | None]:
        """Frames/s each stage would sustain alone (its seconds summed over threads)."""
        return {
            stage: (self.frames_sampled / s if s > 0 else None)
            for stage, s in self.stage_seconds.items()
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "shards": self.shards,
            "clips": self.clips,
            "frames_sampled": self.frames_sampled,
            "seconds": round(self.seconds, 3),
            "startup_s_per_task": round(self.startup_per_task, 3) if self.shards else None,
            "frames_per_s": _round(self.frames_per_s),
            "clips_per_hour_per_task": _round(self.clips_per_hour),
            "stage_frames_per_s": {k: _round(v) for k, v in self.stage_frames_per_s().items()},
            "devices": self.devices,
        }


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def add_timing(metadata: Iterable[dict[str, str] | None]) -> Throughput:
    """Add up shards' ``femo.*`` metadata (None: a file that could not be read); shards
    without timing are skipped."""
    total = Throughput()
    for meta in metadata:
        if not meta or "timing" not in meta:
            continue
        timing = json.loads(meta["timing"])
        total.shards += 1
        total.clips += int(meta.get("n_clips", 0))
        total.frames_sampled += int(timing.get("frames_sampled") or 0)
        startup = float(timing.get("startup_seconds") or 0.0)
        total.startup_s += startup
        total.loads += startup > 0
        total.seconds += float(timing.get("seconds") or 0.0) - startup
        for stage, seconds in (timing.get("stage_seconds") or {}).items():
            total.stage_seconds[stage] = total.stage_seconds.get(stage, 0.0) + float(seconds)
        device = meta.get("device")
        if device and device not in total.devices:
            total.devices.append(device)
    return total


def read_throughput(shard_files: list[Path]) -> Throughput:
    """Add up the timing metadata of ``shard_files`` (unreadable files are skipped)."""

    def metadata(path: Path) -> dict[str, str] | None:
        try:
            return read_shard_metadata(path)
        except (OSError, ArrowException):  # a damaged file: status says so elsewhere
            return None

    return add_timing(metadata(p) for p in shard_files)


def wall_time_estimate(
    seconds_per_clip: float, startup_s: float, clips: int, tasks: int
) -> dict[str, float]:
    """Wall time of ``clips`` clips cut into ``tasks`` array tasks that all run at once.

    Each task loads the models once (``startup_s``) and then works through its
    share; the slowest task (the one with ``ceil(clips / tasks)`` clips) sets the
    wall time. Queueing time on the cluster is not included.
    """
    if clips < 1 or tasks < 1:
        raise ValueError("clips and tasks must be >= 1")
    per_task = math.ceil(clips / tasks)
    seconds = startup_s + per_task * seconds_per_clip
    return {
        "clips": clips,
        "tasks": tasks,
        "clips_per_task": per_task,
        "seconds_per_clip": round(seconds_per_clip, 4),
        "startup_s": round(startup_s, 3),
        "wall_s": round(seconds, 1),
        "wall_h": round(seconds / 3600, 3),
    }


def format_duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def throughput_lines(total: Throughput, clips: int, tasks: int) -> list[str]:
    """Human lines for ``femo status`` and the report; empty when nothing is measured."""
    if not total.shards or total.seconds_per_clip is None:
        return []
    stages = ", ".join(
        f"{stage} {fps:.1f}" for stage, fps in total.stage_frames_per_s().items() if fps
    )
    estimate = wall_time_estimate(total.seconds_per_clip, total.startup_per_task, clips, tasks)
    return [
        f"speed:  {total.frames_per_s:.1f} sampled frames/s and "
        f"{total.clips_per_hour:.0f} clips/hour per task, over {total.shards} finished shard(s) "
        f"({', '.join(total.devices) or 'device unknown'})",
        f"stages: frames/s each stage alone: {stages}",
        f"estimate: {clips} clips on {tasks} array task(s) at that speed: "
        f"{format_duration(estimate['wall_s'])} of wall time (model loading "
        f"{total.startup_per_task:.0f} s per task included), not counting queueing",
    ]


def time_left_line(total: Throughput, left: int, at_once: int) -> str:
    """``femo status``'s estimate: ``left`` shards at the measured seconds of the finished ones.

    A finished shard's seconds are its own wall time, model loading included; ``at_once``
    is how many shards run side by side (local workers, or the array's parallelism).
    """
    if not total.shards:
        return "estimate: no estimate yet (no finished shard has measured its time)"
    per_shard = (total.seconds + total.startup_s) / total.shards
    measured = f"{format_duration(per_shard)} per shard, measured over {total.shards} finished"
    if left < 1:
        return f"time: every shard is done ({measured})"
    waves = math.ceil(left / max(1, at_once))
    return (
        f"estimate: {left} shard(s) not done, {min(left, at_once)} at a time at "
        f"{measured}: about {format_duration(waves * per_shard)} more, not counting queueing"
    )


def speed_summary(total: Throughput, clips: int, tasks: int) -> Speed:
    """The report's ``throughput``: measured speed, its lines, and the wall time it predicts."""
    estimate = None
    if total.seconds_per_clip is not None:
        estimate = wall_time_estimate(total.seconds_per_clip, total.startup_per_task, clips, tasks)
    return Speed.of(
        **total.as_dict(),
        lines=throughput_lines(total, clips, tasks),
        **({} if estimate is None else {"estimate": estimate}),
    )
