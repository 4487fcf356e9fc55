"""A sweep written by hand with a known answer, for the sweep page's tests.

Over 200 clips in 20 groups, B is right on 80 % and A on 50 % (B better beyond chance),
C is A with two more clips right (no difference beyond chance), D was reported with the
7-class mapping (not comparable) and E has no report.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import yaml

THREE = ["Positive", "Neutral", "Negative"]


SEVEN = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


THREE_MAPPING = {
    "name": "three_class",
    "classes": THREE,
    "emotions": {
        "happy": "Positive",
        "surprise": "Positive",
        "neutral": "Neutral",
        "fear": "Neutral",
        "sad": "Neutral",
        "angry": "Negative",
        "disgust": "Negative",
    },
}


SEVEN_MAPPING = {"name": "seven", "classes": SEVEN, "emotions": {e: e for e in SEVEN}}


N_CLIPS, N_GROUPS = 200, 20


A = "0-demo-haar-n20"


B = "1-demo-mtcnn-n20"


C = "2-demo-haar-n10"


D = "3-demo-haar-seven"


E = "4-demo-mtcnn-n10"


def right_sets() -> dict[str, set[int]]:
    """Which clips each point gets right: A 100 (50 %), B 160 (80 %), C = A + 2 clips."""
    rng = np.random.default_rng(7)
    a = {int(i) for i in rng.choice(N_CLIPS, 100, replace=False)}
    b = {int(i) for i in rng.choice(N_CLIPS, 160, replace=False)}
    c = a | set(sorted(set(range(N_CLIPS)) - a)[:2])
    return {A: a, B: b, C: c}


def videos_csv(
    classes: list[str], golden: list[str], right: set[int], with_group: bool = True
) -> tuple[str, float]:
    """A report/videos.csv (a wrong clip predicts the next class, or nothing) and its accuracy."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    fixed = ["video"] + (["group"] if with_group else []) + ["predict", "golden", "status"]
    w.writerow([*fixed, "frames_sampled", "frames_with_face", *classes, "message"])
    for i, g in enumerate(golden):
        if i in right:
            predict = g
        elif i % 5 == 0:
            predict = ""  # no face found: counts as wrong
        else:
            predict = classes[(classes.index(g) + 1) % len(classes)]
        group = [f"person{i % N_GROUPS:02d}"] if with_group else []
        status = "ok" if predict else "no_face"
        votes = [3 if c == predict else 0 for c in classes]
        w.writerow(
            [f"clip{i:03d}.mp4", *group, predict, g, status, 3, 3 if predict else 0, *votes, ""]
        )
    return out.getvalue(), len(right) / len(golden)


def write_point(
    sweep: Path,
    name: str,
    overrides: list[str],
    mapping: dict | None = None,
    report: tuple[str, dict] | None = None,
) -> Path:
    run = sweep / name
    (run / ".hydra").mkdir(parents=True)
    manifest = {"config": {"mapping": mapping or THREE_MAPPING}, "n_clips": N_CLIPS}
    (run / "femo.json").write_text(json.dumps(manifest))
    (run / ".hydra" / "overrides.yaml").write_text(
        yaml.safe_dump([*overrides, f"hydra.sweep.dir={sweep}", "output_root=out"])
    )
    if report is not None:
        (run / "report").mkdir()
        (run / "report" / "videos.csv").write_text(report[0])
        (run / "report" / "metrics.json").write_text(json.dumps(report[1]))
    return run


def metrics(accuracy: float, ci: list[float] | None = None, old: bool = False, **extra) -> dict:
    m = {"accuracy": accuracy, "macro_f1": accuracy - 0.05, "n_labelled": N_CLIPS}
    m["n_videos"] = N_CLIPS
    if not old:
        m["accuracy_ci"] = ci
        m["ci"] = {"unit": "group", "level": 0.95}
        m["throughput"] = {"frames_per_s": 12.5, "clips_per_hour_per_task": 900.0}
    m.update(extra)
    return m


def make_sweep(tmp_path: Path) -> Path:
    """The sweep folder: points A to E under sweeps/2024-01-01/12-00-00."""
    sweep = tmp_path / "sweeps" / "2024-01-01" / "12-00-00"
    sweep.mkdir(parents=True)
    (sweep / "multirun.yaml").write_text("hydra:\n  mode: MULTIRUN\n")
    golden = [THREE[i % 3] for i in range(N_CLIPS)]
    right = right_sets()
    text, acc = videos_csv(THREE, golden, right[A])
    write_point(
        sweep,
        A,
        ["detector=haar", "sampling.every_n=20"],
        report=(text, metrics(acc, [0.43, 0.57])),
    )
    text, acc = videos_csv(THREE, golden, right[B])
    write_point(
        sweep,
        B,
        ["detector=mtcnn", "sampling.every_n=20"],
        report=(text, metrics(acc, [0.74, 0.86])),
    )
    # C is an older report: no group column, no interval, no throughput.
    text, acc = videos_csv(THREE, golden, right[C], with_group=False)
    write_point(
        sweep, C, ["detector=haar", "sampling.every_n=10"], report=(text, metrics(acc, old=True))
    )
    # D was run with three_class but reduced with mapping=seven: its report says so.
    golden7 = [SEVEN[i % 7] for i in range(N_CLIPS)]
    text, acc = videos_csv(SEVEN, golden7, set(range(0, N_CLIPS, 2)))
    d_metrics = metrics(acc, [0.4, 0.6], config={"mapping": SEVEN_MAPPING})
    write_point(sweep, D, ["detector=haar", "mapping=seven"], report=(text, d_metrics))
    write_point(sweep, E, ["detector=mtcnn", "dataset.labels=<b>odd</b>.csv"])
    return sweep
