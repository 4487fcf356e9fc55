"""The README's figures, regenerated from the code as it is.

Usage: python scripts/readme_figures.py [DATA_DIR] [WORK_DIR]

Every figure the README states sits between markers. ``<!--fig:ID-->TEXT<!--/fig-->``
is a figure this script regenerates: it runs the README's own commands for it (on the
shared data, DATA_DIR; runs under WORK_DIR, a temporary folder by default) and prints
``ID: TEXT`` for each, which must equal the README's TEXT (``tests/test_readme_figures.py``).
``<!--figures measured: WHERE-->TEXT<!--/figures-->`` holds figures measured elsewhere:
WHERE names the document or script and command behind them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"

FIGURE = re.compile(r"<!--fig:([\w.-]+)-->(.*?)<!--/fig-->", re.S)
MEASURED = re.compile(r"<!--figures measured: (.*?)-->(.*?)<!--/figures-->", re.S)
# A figure in prose: a number with a percent sign; "95 %" is the intervals' level,
# and quoted text shows how a figure is written, neither a measured figure.
PERCENT = re.compile(r"\d+(?:\.\d+)? ?%")
NOT_FIGURES = re.compile(r"\b95 %|\"[^\"]*\"")

# The README's multiface-clips commands (its "Identities" section), as it states them.
MULTIFACE_DATA = "../shared/data/multiface-clips"
MULTIFACE_RUN = (
    "dataset.root=$D/clips",
    "dataset.labels=$D/labels.csv",
    "identity=dlib",
    "dataset.references=$D/refs",
    "dataset.person_column=person",
    "sampling.every_n=4",
)
MULTIFACE_FACES = ("first", "largest", "main", "person")


def multiface_commands() -> str:
    """The README's bash block for the multiface figures, as this script runs them."""
    run = " ".join(MULTIFACE_RUN[:3]) + " \\\n    " + " ".join(MULTIFACE_RUN[3:])
    return (
        f"D={MULTIFACE_DATA}\nfemo run {run}\n"
        f"femo reduce RUN_DIR reduce.face=main      # {', '.join(MULTIFACE_FACES)}\n"
    )


def figure_text(metrics: dict) -> str:
    """``55.0 % [41.7, 66.7]``: an accuracy with its interval, as the README writes it."""
    text = f"{100 * metrics['accuracy']:.1f} %"
    ci = metrics.get("accuracy_ci")
    return text + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "")


def _femo(*args: str, cwd: Path) -> str:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run([sys.executable, "-m", "femo", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"femo {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _report_metrics(stdout: str) -> dict:
    """The metrics.json of the report a femo command printed (``femo: report: PATH``)."""
    (line,) = [ln for ln in stdout.splitlines() if ln.startswith("femo: report: ")]
    return json.loads(
        (Path(line.removeprefix("femo: report: ")).parent / "metrics.json").read_text()
    )


def multiface_figures(data_dir: Path, work: Path) -> dict[str, str]:
    """``multiface.FACE``: the accuracy of each ``reduce.face`` on multiface-clips."""
    root = data_dir / "multiface-clips"
    run_dir = work / "multiface"
    args = [a.replace("$D", str(root)) for a in MULTIFACE_RUN]
    _femo("run", *args, f"hydra.run.dir={run_dir}", cwd=work)
    return {
        f"multiface.{face}": figure_text(
            _report_metrics(_femo("reduce", str(run_dir), f"reduce.face={face}", cwd=work))
        )
        for face in MULTIFACE_FACES
    }


def regenerate(data_dir: Path, work: Path) -> dict[str, str]:
    """Every figure the README marks ``<!--fig:ID-->``, by ID, from the code as it is."""
    return multiface_figures(data_dir, work)


def _flat(text: str) -> str:
    return " ".join(text.split())


def readme_figures(text: str) -> dict[str, str]:
    """The README's regenerated figures by ID (whitespace as one space)."""
    return {m.group(1): _flat(m.group(2)) for m in FIGURE.finditer(text)}


def measured_elsewhere(text: str) -> list[tuple[str, str]]:
    """The README's figures measured elsewhere: (where, the text)."""
    return [(_flat(m.group(1)), _flat(m.group(2))) for m in MEASURED.finditer(text)]


def unmarked_figures(text: str) -> list[str]:
    """Percent figures in the README's prose (outside code blocks) that no marker holds."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    prose = MEASURED.sub("", FIGURE.sub("", prose))
    return PERCENT.findall(NOT_FIGURES.sub("", prose))


def main(argv: list[str]) -> int:
    data_dir = Path(
        argv[0] if argv else os.environ.get("FEMO_SHARED_DATA", REPO.parent / "shared" / "data")
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(argv[1]) if len(argv) > 1 else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        figures = regenerate(data_dir.resolve(), work.resolve())
    stated = readme_figures(README.read_text())
    for key, value in figures.items():
        mark = "" if stated.get(key) == value else f"   (README: {stated.get(key)})"
        print(f"{key}: {value}{mark}")
    return 0 if all(stated.get(k) == v for k, v in figures.items()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
