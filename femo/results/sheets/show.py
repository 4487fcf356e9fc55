"""``femo show``: the contact sheet of one clip of a run, what its shards say was scored
drawn over its sampled frames read again.

The shard rows give the boxes; :func:`femo.results.reduce.frame_emotions` (the vote's own
face choice, ``reduce.face``) says which box was scored; the clip is read again from
``dataset.root`` (:mod:`femo.results.sheets.frames`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ...config import ConfigError, RunConfig
from ...dataset import Clip, Labels
from ...rundir import Plan
from ...shard_files import EMBEDDING_WIDTH, shard_name, write_atomically
from ..faces.match import chosen_faces, identify, reference_vectors
from ..model import ClipResult
from ..reduce import frame_emotions, reduce_clips
from ..run import Embed, OpenRun, open_run
from ..shard_rows import ShardData
from .draw import clip_tiles, draw_sheet, png_bytes, spread
from .frames import FrameReadError, read_frames

MAX_FRAMES = 48  # tiles on one sheet; a clip with more sampled frames shows them spread out
LEGEND = "green: the scored face; amber: other faces; red frame: no face found"
# Shown where the face check (detector.verify) rejected boxes in the clip.
REJECTED_LEGEND = "dashed grey: not a face to the face check (detector.verify), its presence"


@dataclass
class ClipSheet:
    """A drawn sheet: its PNG, the image (BGR) and what was drawn where."""

    png: bytes
    image: np.ndarray
    layout: dict[str, Any]


def find_clip(plan: Plan, name: str, run_path: Path) -> Clip:
    """The planned clip ``name`` (its id, relative to ``dataset.root``; or a file name
    that only one clip has)."""
    by_id = {c.video: c for c in plan.clips}
    if name in by_id:
        return by_id[name]
    same_name = [c for c in plan.clips if Path(c.video).name == name]
    if len(same_name) == 1:
        return same_name[0]
    example = f" (e.g. {plan.clips[0].video!r})" if plan.clips else ""
    if same_name:
        raise ConfigError(
            f"{len(same_name)} clips of {run_path} are named {name!r}; give the path "
            f"relative to dataset.root, e.g. {same_name[0].video!r}"
        )
    raise ConfigError(f"no clip {name!r} in {run_path}{example}")


def _clip_rows(run: OpenRun, video: str) -> pd.DataFrame:
    """Every row of the clip (frames, clip, rejected boxes) in the shard file that wins it."""
    try:
        path = run.owner_file(video)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if path is None:
        index = run.plan.shard_of[video]
        raise ConfigError(
            f"clip {video!r} is in shard {index} ({shard_name(index)}), which is not done; "
            f"nothing to show yet (femo status {run.path})"
        )
    try:
        table = pq.read_table(path, filters=[("video", "=", video)])
    except (OSError, pa.ArrowException) as exc:
        raise ConfigError(f"shard file {path} is damaged ({str(exc).splitlines()[0]})") from None
    return table.to_pandas()


def clip_result(
    config: RunConfig,
    video: str,
    frames: pd.DataFrame,
    clip: pd.DataFrame,
    labels: Labels,
    eligible: np.ndarray | None = None,
) -> ClipResult:
    """The clip's own result under ``config`` (a vote that needs every clip, balanced or
    a head, is left to the report: no prediction here). ``eligible``: the faces
    ``reduce.face=main|person`` may score (:func:`clip_identities`)."""
    shards = ShardData(clip.set_index("video"), frames)
    per_frame = frame_emotions(frames, config.reduce, eligible)
    (result,) = reduce_clips(
        [video], shards, labels.by_video, config.mapping, config.reduce, per_frame=per_frame,
        persons=labels.persons,
    )  # fmt: skip
    if config.reduce.vote == "balanced" or config.reduce.head:
        result.predict = None
    return result


def clip_identities(
    run: OpenRun, frames: pd.DataFrame
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """For a run with identities: the faces ``reduce.face`` may score (None: any) and each
    face's person (its nearest reference photo within ``reduce.match_distance``, None for
    nobody; None without references), as the report's identities say."""
    config = run.config
    if not config.identity.active or "embedding" not in frames.columns:
        return None, None
    nan = np.full(EMBEDDING_WIDTH, np.nan, np.float32)
    embeddings = np.stack(
        [nan if e is None else np.asarray(e, np.float32) for e in frames["embedding"]]
    ) if len(frames) else np.empty((0, EMBEDDING_WIDTH), np.float32)  # fmt: skip
    table = run.references
    references = None if table is None else reference_vectors(table)
    eligible = chosen_faces(frames, embeddings, config.reduce, run.persons, references)
    if references is None:
        return eligible, None
    who = np.full(len(frames), None, dtype=object)
    has = ~np.isnan(embeddings).any(axis=1)
    who[has] = identify(embeddings[has], *references, config.reduce.match_distance)
    return eligible, who


def _title(
    video: str, config: RunConfig, result: ClipResult | None, shown: int, rejected: int = 0
) -> list[str]:
    lines = [video]
    if result is not None:
        votes = ", ".join(f"{c} {n}" for c, n in result.counts.items() if n)
        lines.append(
            f"predicted {result.predict or 'none'}, golden {result.golden or 'unlabelled'}"
            + (f"; votes: {votes}" if votes else "")
        )
        found = (
            result.message
            if result.status == "person_absent"
            else f"a face in {result.frames_with_face} of {result.frames_sampled} sampled frames"
        )
        lines.append(f"face: {config.reduce.face}; {found}; {shown} shown")
    lines.append(LEGEND)
    if rejected:
        lines.append(f"{REJECTED_LEGEND}; {rejected} box(es) in the frames shown")
    return lines


def make_sheet(
    run: OpenRun,
    clip: Clip,
    result: ClipResult | None = None,
    max_frames: int = MAX_FRAMES,
    tile_width: int = 240,
) -> ClipSheet:
    """The contact sheet of ``clip``: up to ``max_frames`` of its sampled frames, evenly
    spread. Raises :class:`FrameReadError` when the clip cannot be read again."""
    config = run.config
    every = _clip_rows(run, clip.video)
    frames, clip_row = every[every["kind"] == "frame"], every[every["kind"] == "clip"]
    eligible, who = clip_identities(run, frames)
    if who is not None:
        frames = frames.assign(person=who)
    if result is None:
        result = clip_result(config, clip.video, frames, clip_row, run.labels, eligible)
    if config.dataset.root is None:
        raise FrameReadError("the run has no dataset.root to read its clips from")
    sampled = sorted(int(f) for f in frames["frame"].dropna().unique())
    shown = [sampled[k] for k in spread(len(sampled), max_frames)]
    images = read_frames(Path(config.dataset.root) / clip.file, clip.kind, shown)
    in_sheet = frames["frame"].isin(shown).to_numpy()
    rows = frames[in_sheet]
    scored = frame_emotions(rows, config.reduce, None if eligible is None else eligible[in_sheet])
    rejected = every[(every["kind"] == "rejected") & every["frame"].isin(shown)]
    tiles = clip_tiles(rows, scored, images, rejected)
    title = _title(clip.video, config, result, len(shown), len(rejected))
    image, layout = draw_sheet(tiles, title, tile_width=tile_width)
    return ClipSheet(png_bytes(image), image, layout)


def show_clip(
    run_dir: Path,
    name: str,
    out: Path | None = None,
    overrides: list[str] | tuple = (),
    embed: Embed | None = None,
) -> Path:
    """Write the contact sheet of clip ``name`` of the run in ``run_dir`` (to ``out``, or
    the run's ``report/sheets/<clip>.png``); returns its path. ``overrides`` are
    reduce-side settings (``reduce.face=largest``) that change which face is marked as
    scored; ``embed`` embeds reference photos that are not the run's own, as ``femo
    reduce`` does."""
    run = open_run(run_dir, list(overrides), "reduce", embed)
    clip = find_clip(run.plan, name, run.path)
    path = Path(out) if out is not None else run.folder.sheet_file(clip.video)
    if path.suffix.lower() != ".png":
        raise ConfigError(f"--out {path}: the sheet is a PNG; name a .png file")
    try:
        sheet = make_sheet(run, clip)
    except FrameReadError as exc:
        raise ConfigError(f"cannot read clip {clip.video!r} again: {exc}") from None
    try:
        write_atomically(path, lambda tmp: Path(tmp).write_bytes(sheet.png))
    except OSError as exc:
        hint = "; write the sheet elsewhere with --out PNG" if out is None else ""
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}{hint}") from None
    return path
