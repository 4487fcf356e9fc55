"""The tables of ``femo bench``: one line per measured run, the study-size estimates
and the facts they stand on (frame sizes, mean clip length)."""

from __future__ import annotations

import math
import os
from functools import cache
from typing import Any

from ..config.detectors import DETECTORS
from ..config.sections import ShardsConfig
from ..results.pages.formatting import percent
from ..results.throughput import format_duration, wall_time_estimate
from .cases import STUDY_CLIPS, STUDY_TASKS, MediaSet


@cache
def frame_sizes(media: MediaSet) -> str:
    """The media set's frame sizes, e.g. "596x336" (several joined by ", "); probed once."""
    import cv2

    sizes = set()
    for video in media.videos:
        cap = cv2.VideoCapture(os.path.join(media.root, video))
        sizes.add(
            f"{int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))}x{int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))}"
        )
        cap.release()
    return ", ".join(sorted(sizes))


def clip_basis(femo_shard: str) -> dict[str, float]:
    """Mean length of the clips a shard measured: what a per-clip estimate stands on."""
    import pyarrow.parquet as pq

    clips = pq.read_table(femo_shard).to_pandas()
    clips = clips[clips.kind == "clip"]
    seconds = (clips.frames_read / clips.fps).mean()
    return {
        "mean_frames": round(float(clips.frames_read.mean()), 1),
        "mean_seconds": round(float(seconds), 2),
    }


def study_estimates(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The study's 2,826 clips on 16 tasks, from the measured time per clip of each media set.

    The study's clips are not at hand, so each estimate stands on one media set's
    clip length and frame size (dev clips: short and small; woman2: longer and
    larger), which gives a range; the time scales with the frames sampled and with
    frame size.
    """
    estimates = []
    for row in rows:
        if row["detector"] != DETECTORS.default or row["every_n"] != 20:  # the study's
            continue
        femo = row["femo"][0]
        basis = clip_basis(femo["shard"])
        fer_per_clip = row["fer"]["seconds"] / row["clips"]
        estimates.append(
            {
                "media": row["media"],
                "basis": f"femo parity mode, Haar, every 20th frame, {row['media']} on this "
                f"machine (mean {basis['mean_seconds']:.1f} s, {basis['mean_frames']:.0f} "
                f"frames of {row['frame_size']} per clip)",
                "frame_size": row["frame_size"],
                **basis,
                **wall_time_estimate(
                    femo["seconds_per_clip"], femo["startup_s"], STUDY_CLIPS, STUDY_TASKS
                ),
                "fer": wall_time_estimate(
                    fer_per_clip, row["fer"]["startup_s"], STUDY_CLIPS, STUDY_TASKS
                ),
            }
        )
    return estimates


def format_estimate(estimate: dict[str, Any]) -> str:
    """The console's line for one of :func:`study_estimates`: the study's size (not the
    bench's media), in the shards femo would cut it into by default."""
    shard = ShardsConfig().videos_per_shard
    clips, tasks = estimate["clips"], estimate["tasks"]
    shards = math.ceil(clips / shard)
    return (
        f"estimate at the study's size ({clips:,} clips, {tasks} processes at a time: "
        f"{tasks} array tasks running at once or launcher.workers={tasks}) on machines like "
        f"this one: {format_duration(estimate['wall_s'])} (about "
        f"{estimate['clips_per_task']} clips per process: {shards} shards of the default "
        f"{shard} clips (shards.videos_per_shard), {shards // tasks}-{math.ceil(shards / tasks)} "
        f"per process, at {estimate['seconds_per_clip']:.2f} s a clip, plus "
        f"{estimate['startup_s']:.1f} s model loading; queueing not counted); "
        f"fer.Video.analyze: {format_duration(estimate['fer']['wall_s'])}. Basis: "
        f"{estimate['basis']}; longer clips and larger frames cost proportionally more"
    )


HEADER = (
    f"{'media':<10} {'detector':<6} {'N':>3} {'run':<22} {'frames':>6} {'fps':>8} "
    f"{'x fer':>6} {'t/floor':>7} {'RSS MB':>7} {'same as fer':>11} {'IoU>=.5':>8} "
    f"{'accuracy':>8}"
)


def format_row(row: dict[str, Any]) -> str:
    """The table lines for one (media, detector, N) point."""

    def line(name: str, s: dict[str, Any], femo: dict[str, Any] | None = None) -> str:
        vs_fer = f"{femo['vs_fer']:.2f}" if femo else ""
        vs_floor = f"{femo['time_vs_floor']:.2f}" if femo else ""
        same = near = acc = ""
        if femo:
            cmp = femo["results_vs_fer"]
            same = f"{cmp['frames_boxes_equal']}/{cmp['frames_compared']}"
            same += "" if cmp["equal"] else "*"
            near = f"{cmp['frames_faces_agree']}/{cmp['frames_compared']}"
            if femo["accuracy"] and femo["accuracy"]["accuracy"] is not None:
                acc = percent(femo["accuracy"]["accuracy"])
        return (
            f"{row['media']:<10} {row['detector']:<6} {row['every_n']:>3} {name:<22} "
            f"{s['frames']:>6} {s['frames_per_s']:>8.2f} {vs_fer:>6} {vs_floor:>7} "
            f"{s['peak_rss_mb']:>7.0f} {same:>11} {near:>8} {acc:>8}"
        )

    lines = [line("fer.Video.analyze", row["fer"]), line("floor", row["floor"])]
    lines += [line(f"femo {f['mode']}", f, f) for f in row["femo"]]
    check = row.get("check")
    if check is not None:
        cost = "no face" if check["ms_per_face"] is None else f"{check['ms_per_face']:.1f} ms/face"
        lines.append(
            f"{row['media']:<10} {row['detector']:<6} {row['every_n']:>3} {'face check (mesh)':<22} "
            f"{check['frames']:>6} faces, {cost} ({check['faces_the_preset_checks']} of them "
            f"checked by the preset)"
        )
    return "\n".join(lines)
