"""``python -m femo.bench.methods``: the study's vote against femo's opt-in methods.

On each labelled set (by default ``lfw-expressions`` grouped by ``person`` and
``dev-clips`` grouped by ``actor`` from ``../shared/data``), it runs femo with Haar and
with MTCNN (or reuses ``--runs-dir``), then reports accuracy with its 95 % interval
(persons resampled), over all labelled clips and over clips with a face, for: the
study's majority vote, ``reduce.vote=mean``, ``reduce.vote=balanced``, the Haar+MTCNN
ensemble (``--with``), and a head (``femo fit``, cross-validated by person); and the
head fit on the first set applied to the second (a transfer across kinds of data).
Everything goes through femo's own commands, so a reader can rerun each step.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..results.metrics import Metrics, read_metrics
from ..results.pages.formatting import brackets, percent
from ..rundir import RunDir

SETS = {"lfw-expressions": "person", "dev-clips": "actor"}


def femo(*args: str, cwd: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "femo", *args], cwd=cwd, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(f"femo {' '.join(args)} failed: {proc.stderr[-2000:]}")
    return proc.stdout


def ensure_run(data: Path, name: str, detector: str, runs: Path) -> Path:
    """The run of ``name`` with ``detector`` under ``runs`` (made when absent)."""
    out = runs / f"{name}-{detector}"
    found = sorted(out.glob("*/*/femo.json"))
    if not found:
        root = data / name
        femo("run", f"dataset.root={root}", f"dataset.labels={root / 'labels.csv'}",
             "dataset.unknown_labels=unlabelled", f"detector={detector}",
             f"output_root={out}", cwd=runs)  # fmt: skip
        found = sorted(out.glob("*/*/femo.json"))
    return found[-1].parent


def figures(metrics: Metrics) -> dict[str, Any]:
    """A method's row: accuracy, its interval, the recall of Negative, labelled clips."""
    negative = (metrics.per_class or {}).get("Negative")
    return {"accuracy": metrics.accuracy, "ci": metrics.accuracy_ci,
            "negative_recall": negative.recall if negative else None,
            "n": metrics.n_labelled}  # fmt: skip


def reduce(run: Path, group: str, *extra: str, cwd: Path) -> Metrics:
    """``femo reduce`` of ``run`` with ``extra`` overrides; the report's metrics."""
    femo("reduce", str(run), f"dataset.group_column={group}", *extra, cwd=cwd)
    folder = sorted(run.glob("report*"), key=lambda p: p.stat().st_mtime)[-1]
    return read_metrics(folder)


def methods_of(name: str, group: str, haar: Path, mtcnn: Path, cwd: Path) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for label, extra in (
        ("study's vote (Haar)", ()),
        ("vote=mean (Haar)", ("reduce.vote=mean",)),
        ("vote=balanced (Haar)", ("reduce.vote=balanced",)),
        ("study's vote (MTCNN)", ()),
        ("Haar+MTCNN ensemble (mean)", ("--with", str(mtcnn))),
    ):
        run = mtcnn if "MTCNN)" in label else haar
        everything = reduce(run, group, *extra, cwd=cwd)
        with_face = reduce(run, group, *extra, "reduce.no_face=abstain", cwd=cwd)
        rows[label] = {"all": figures(everything), "with_face": figures(with_face)}
    femo("fit", str(haar), f"dataset.group_column={group}", cwd=cwd)
    head = RunDir(haar).head_file
    cv = json.loads(head.read_text())["provenance"]["cross_validation"]
    for part in ("all", "with_face"):
        head = cv[part]["head"]
        rows.setdefault("head, cross-validated by person (Haar)", {})[part] = {
            "accuracy": head["accuracy"], "ci": head["accuracy_ci"],
            "negative_recall": (head.get("recall") or {}).get("Negative"), "n": cv[part]["n"],
        }  # fmt: skip
    return rows


def table(results: dict[str, dict[str, Any]]) -> str:
    def cell(f: dict[str, Any]) -> str:
        if f.get("accuracy") is None:
            return "n/a"
        return percent(f["accuracy"], space=True) + brackets(f.get("ci"))

    lines = ["| set | method | all labelled clips | clips with a face | Negative recall |",
             "|---|---|---|---|---|"]  # fmt: skip
    for name, rows in results.items():
        for label, parts in rows.items():
            recall = parts["all"].get("negative_recall")
            lines.append(
                f"| {name} | {label} | {cell(parts['all'])} | {cell(parts['with_face'])} | "
                f"{percent(recall, 0, space=True)} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m femo.bench.methods", description=__doc__)
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "data"
    )
    parser.add_argument("--runs-dir", type=Path, default=Path("outputs") / "methods")
    args = parser.parse_args(argv)
    runs = args.runs_dir.resolve()
    runs.mkdir(parents=True, exist_ok=True)
    results, heads = {}, {}
    for name, group in SETS.items():
        haar = ensure_run(args.data, name, "haar", runs)
        mtcnn = ensure_run(args.data, name, "mtcnn", runs)
        results[name] = methods_of(name, group, haar, mtcnn, runs)
        heads[name] = (haar, group)
    (source, _), (target, group) = heads["lfw-expressions"], heads["dev-clips"]
    transfer = reduce(target, group, f"reduce.head={source / 'fit' / 'head.json'}", cwd=runs)
    transfer_face = reduce(target, group, f"reduce.head={source / 'fit' / 'head.json'}",
                           "reduce.no_face=abstain", cwd=runs)  # fmt: skip
    results["dev-clips"]["head fit on lfw-expressions, applied (transfer)"] = {
        "all": figures(transfer),
        "with_face": figures(transfer_face),
    }
    text = table(results)
    print(text)
    (runs / "methods.md").write_text(text + "\n", encoding="utf-8")
    (runs / "methods.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
