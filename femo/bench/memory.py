"""The long-clip memory check: one femo worker's peak memory on a clip and on it repeated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .cases import Case, MediaSet, measure


def make_long_clip(source: Path, minutes: float, out: Path) -> Path:
    """``source`` played over and over until ``minutes`` long, written as MPEG-4.

    Decoded one frame at a time and never held whole, so it costs no memory itself.
    """
    import cv2

    if out.is_file():
        return out
    cap = cv2.VideoCapture(str(source))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    wanted = int(minutes * 60 * fps)
    tmp = out.with_suffix(".partial.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    written = 0
    while written < wanted:
        ok, frame = cap.read()
        if not ok:  # end of the source: start it again
            cap.release()
            cap = cv2.VideoCapture(str(source))
            continue
        writer.write(frame)
        written += 1
    writer.release()
    cap.release()
    tmp.rename(out)
    return out


def media_cache() -> Path:
    """Where generated benchmark media are kept between runs (femo's cache folder)."""
    from ..demo import cache_dir

    folder = cache_dir() / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def memory_check(
    source: Path, minutes: float, every_n: int, work_dir: Path, media_dir: Path
) -> dict[str, Any]:
    """Peak memory of one femo worker on ``source`` and on it repeated to ``minutes``."""
    long_clip = make_long_clip(source, minutes, media_dir / f"{source.stem}-{minutes:g}min.mp4")
    runs = {}
    for name, path in (("short", source), ("long", long_clip)):
        media = MediaSet(f"memory-{name}", str(path.parent), (path.name,))
        runs[name] = measure(Case("femo", media, "haar", every_n, repeat=False), work_dir)
    short, long = runs["short"], runs["long"]
    return {
        "detector": "haar",
        "every_n": every_n,
        "long_minutes": minutes,
        "short_frames": short.frames,
        "long_frames": long.frames,
        "short_peak_rss_mb": round(short.peak_rss_mb, 1),
        "long_peak_rss_mb": round(long.peak_rss_mb, 1),
        "ratio": round(long.peak_rss_mb / short.peak_rss_mb, 3),
        "long_frames_per_s": round(long.frames_per_s, 2),
    }
