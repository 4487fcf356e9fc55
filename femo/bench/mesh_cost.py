"""``femo bench``'s mesh row: what ``landmarks=mesh`` costs per face.

Two figures per media set, on the same faces: the mesh alone (each face's crop and
model call, :class:`~femo.node.landmarks.MeshLandmarks`, wall and CPU time of its
thread), and a whole extraction with ``landmarks=mesh`` against one without (the
shard's ``mesh`` stage seconds per face, and frames/s with and without).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .cases import Case, MediaSet, measure

# The target in issue 28: the mesh may cost at most this much per face.
TARGET_MS_PER_FACE = 3.0


def mesh_bench(
    media: list[MediaSet], detector: str, every_n: int, work_dir: Path, echo=print
) -> list[dict[str, Any]]:
    """The mesh row of each media set (see the module docstring)."""
    rows = []
    for media_set in media:
        alone = measure(Case("mesh", media_set, detector, every_n), work_dir)
        plain, meshed = (
            measure(
                Case("femo", media_set, detector, every_n, backend="onnx", landmarks=lm), work_dir
            )  # fmt: skip
            for lm in (Case.landmarks, "mesh")  # without (the default), and with the mesh
        )
        faces = meshed.extra["faces"]
        stage = meshed.extra["stage_seconds"].get("mesh", 0.0)
        row = {
            "media": media_set.name,
            "detector": detector,
            "every_n": every_n,
            "faces": alone.frames,
            "ms_per_face": 1000 * alone.seconds / max(1, alone.frames),
            "cpu_ms_per_face": 1000 * alone.extra["cpu_s"] / max(1, alone.frames),
            "run_faces": faces,
            "run_meshes": meshed.extra["meshes"],
            "run_ms_per_face": 1000 * stage / max(1, faces),
            "frames_per_s": meshed.frames_per_s,
            "frames_per_s_without": plain.frames_per_s,
            "target_ms_per_face": TARGET_MS_PER_FACE,
        }
        echo(format_mesh_row(row))
        rows.append(row)
    return rows


def format_mesh_row(row: dict[str, Any]) -> str:
    """One line: the mesh's cost per face, alone and in a run, and the run's speed."""
    return (
        f"mesh: {row['media']}, {row['detector']}, every {row['every_n']}: "
        f"{row['ms_per_face']:.2f} ms per face alone ({row['cpu_ms_per_face']:.2f} ms CPU; "
        f"{row['faces']} faces; target <= {row['target_ms_per_face']:g}), "
        f"{row['run_ms_per_face']:.2f} ms per face in a run ({row['run_meshes']} meshes of "
        f"{row['run_faces']} faces); the run {row['frames_per_s']:.1f} frames/s against "
        f"{row['frames_per_s_without']:.1f} without the mesh"
    )
