"""Sweeps: a Hydra multirun makes one run per point under a sweep folder; the sweep
table (``sweep.csv``, ``sweep.md``) compares them and fills in as runs complete."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from .rundir import MANIFEST, REPORT, RunDir, write_text

COLUMNS = [
    "point",
    "overrides",
    "status",
    "n_videos",
    "n_labelled",
    "accuracy",
    "macro_f1",
    "shards_from",
    "run_dir",
]


def is_sweep_dir(path: Path) -> bool:
    return (path / "multirun.yaml").is_file() and not (path / MANIFEST).exists()


def sweep_runs(sweep_dir: Path) -> list[Path]:
    return sorted(
        (p.parent for p in sweep_dir.glob(f"*/{MANIFEST}")), key=lambda p: _point_number(p.name)
    )


def _point_number(name: str) -> tuple[int, str]:
    head = name.split("-", 1)[0]
    return (int(head), name) if head.isdigit() else (1 << 30, name)


def _overrides(run_dir: Path) -> str:
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return ""
    import yaml

    items = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return " ".join(str(i) for i in items if not str(i).startswith(("hydra.", "output_root=")))


def sweep_rows(sweep_dir: Path, status_of: dict[Path, str] | None = None) -> list[dict[str, Any]]:
    rows = []
    for run in sweep_runs(sweep_dir):
        manifest = json.loads((run / MANIFEST).read_text(encoding="utf-8"))
        metrics_path = run / REPORT / "metrics.json"
        metrics = (
            json.loads(metrics_path.read_text(encoding="utf-8")) if metrics_path.is_file() else {}
        )
        status = (status_of or {}).get(run) or ("done" if metrics else "not reported")
        source = manifest.get("shards_from")
        rows.append(
            {
                "point": run.name,
                "overrides": _overrides(run),
                "status": status,
                "n_videos": metrics.get("n_videos", manifest.get("n_clips")),
                "n_labelled": metrics.get("n_labelled", ""),
                "accuracy": "" if metrics.get("accuracy") is None else f"{metrics['accuracy']:.4f}",
                "macro_f1": "" if metrics.get("macro_f1") is None else f"{metrics['macro_f1']:.4f}",
                "shards_from": Path(source).name if source else "",
                "run_dir": str(run),
            }
        )
    return rows


def write_sweep_table(sweep_dir: Path, status_of: dict[Path, str] | None = None) -> Path:
    """Write ``sweep.csv`` and ``sweep.md`` in the sweep folder; returns the csv path."""
    rows = sweep_rows(sweep_dir, status_of)
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(sweep_dir / "sweep.csv", out.getvalue())
    lines = [
        "# femo sweep",
        "",
        "| point | overrides | status | clips | labelled | accuracy | macro F1 | shards from |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        acc = f"{100 * float(r['accuracy']):.1f}%" if r["accuracy"] else "-"
        lines.append(
            f"| {r['point']} | `{r['overrides']}` | {r['status']} | {r['n_videos']} | {r['n_labelled']} "
            f"| {acc} | {r['macro_f1'] or '-'} | {r['shards_from'] or '-'} |"
        )
    write_text(sweep_dir / "sweep.md", "\n".join(lines) + "\n")
    return sweep_dir / "sweep.csv"


class SweepTableCallback(Callback):
    """Writes the sweep table when a Hydra multirun has launched all its points."""

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir)).resolve()
        if sweep_dir.is_dir():
            path = write_sweep_table(sweep_dir)
            print(f"femo: sweep table: {path}")
            if any(r["status"] != "done" for r in sweep_rows(sweep_dir)):
                print(f"femo: once the runs finish: femo reduce {sweep_dir}")


def reuse_sweep_shards(run: RunDir, sweep_dir: Path) -> Path | None:
    """Point this run's shards at an earlier sweep point with the same extraction key.

    Returns the source run when one was found: ``RUN_DIR/shards`` becomes a symlink to
    the source's shards and the manifest records ``shards_from``; nothing is queued.
    """
    manifest = run.read_manifest()
    key = manifest.get("extraction_key")
    for other in sorted(p.parent for p in sweep_dir.glob(f"*/{MANIFEST}")):
        if other == run.path:
            continue
        theirs = RunDir(other).read_manifest()
        if theirs.get("extraction_key") == key and not theirs.get("shards_from"):
            run.shards_dir.symlink_to(Path("..") / other.name / "shards", target_is_directory=True)
            RunDir(other).shards_dir.mkdir(exist_ok=True)
            manifest["shards_from"] = str(other)
            run.write_manifest(manifest)
            return other
    return None
