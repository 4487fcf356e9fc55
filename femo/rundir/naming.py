"""Names and claims of new run folders: Hydra's resolvers ``femo_run_name`` and
``femo_claim`` (conf/config.yaml)."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

from ..config import ConfigError, absolute_path
from ..config.classifier import CLASSIFIERS
from ..config.extras import IDENTITIES, LANDMARKS


def run_name(
    root: Any,
    detector: Any,
    mode: Any,
    every_n: Any,
    fps: Any,
    classifier: Any = "fer",
    model: Any = None,
    landmarks: Any = "none",
    identity: Any = "none",
    segment_s: Any = None,
    segment_frames: Any = None,
) -> str:
    """Readable run-folder suffix, e.g. ``dev-clips-haar-n20``; a setting that changes
    what the shards hold adds itself where it is not the default, so that runs of the
    same clips tell apart: ``-custom-<model file's stem>``, ``-mesh``, ``-dlib``,
    ``-seg2s`` (``dataset.segment_s=2``) or ``-seg50f`` (``dataset.segment_frames=50``)."""
    dataset = Path(str(root)).name if _given(root) else "demo"
    sampling = f"n{every_n}" if mode == "every_n" else f"fps{fps}"
    parts = [dataset, str(detector), sampling]
    if _given(classifier) and classifier != CLASSIFIERS.default:
        parts.append(f"{classifier}-{Path(str(model)).stem}" if _given(model) else classifier)
    for role, option in ((LANDMARKS, landmarks), (IDENTITIES, identity)):
        if _given(option) and option != role.default:
            parts.append(str(option))
    if _given(segment_s):
        parts.append(f"seg{float(segment_s):g}s")
    if _given(segment_frames):
        parts.append(f"seg{segment_frames}f")
    return "-".join(parts)


def _given(value: Any) -> bool:
    """Whether a value Hydra hands a resolver is set (null may arrive as 'None')."""
    return value not in (None, "None", "null", "")


def claim_folder(path: str) -> str:
    """Create ``path`` (or ``path-2``, ``path-3``, ...) atomically; returns the one made.

    Two runs started in the same second in the same folder get two folders, before
    Hydra writes anything into either.
    """
    base = Path(absolute_path(path) or path)
    try:
        base.parent.mkdir(parents=True, exist_ok=True)
        for n in range(1, 10_000):
            candidate = base if n == 1 else base.with_name(f"{base.name}-{n}")
            try:
                candidate.mkdir()
                return str(candidate)
            except FileExistsError:
                continue
    except OSError as exc:
        raise ConfigError(
            f"{_why_not(base, exc)}; choose a writable place for the run folders with "
            "output_root=DIR"
        ) from None
    raise ConfigError(f"cannot make a new run folder next to {base}")


def _why_not(base: Path, exc: OSError) -> str:
    """Why no folder could be made for ``base``: the folder that refused a write, or the
    one that could not be made where its parent exists but takes no new folders (as
    /proc answers ENOENT for /proc/femo)."""
    existing = next((p for p in base.parents if p.exists()), base.parent)
    made = Path(exc.filename) if exc.filename else None
    if exc.errno == errno.ENOENT and made is not None and made.parent.exists():
        return f"cannot create {made}: {made.parent} takes no new folders"
    return f"cannot write {existing}: {exc.strerror or exc}"
