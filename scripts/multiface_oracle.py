"""Accuracy of scoring the labelled person's faces on multiface-clips, known from the edit.

Usage: python scripts/multiface_oracle.py RUN_DIR LABELS_CSV

Every clip of multiface-clips is cut the same way: the labelled person's three shots sit
at the same frames in each clip. Those frames are the sampled frames where the labelled
person was matched in most clips (RUN_DIR: an identity=dlib run with references, read
with reduce.face=person); in them the largest face is the labelled person's (the other
person is only a small inset there), elsewhere no face is theirs. Prints the shots'
frames and the majority vote's accuracy over those faces, with its 95 % interval (the
report's bootstrap, whole persons resampled).
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from femo.config import from_dict
from femo.dataset import read_labels
from femo.results.analysis import add_intervals
from femo.results.faces.match import chosen_faces, face_embeddings, read_references
from femo.results.reduce import compute_metrics, frame_emotions, reduce_clips
from femo.results.shard_rows import load_shards
from femo.rundir import RunDir

run, labels_csv = RunDir(sys.argv[1]), Path(sys.argv[2])
config = from_dict({**run.config_dict(), "reduce": {"face": "person"}})
plan = run.read_plan()
labels = read_labels(labels_csv, config.dataset, config.mapping, plan.clips)
shards = load_shards(run.shards_dir)
rows = shards.frame_rows
emb = face_embeddings(shards.shard_files, shards.clip_rows, rows)
person = chosen_faces(
    rows, emb, config.reduce, labels.persons, read_references(run.references_file)
)
videos = rows["video"].nunique()
share = pd.Series(person).groupby(rows["frame"].to_numpy()).sum() / videos
shots = set(share[share > 0.5].index)
print("labelled person's sampled frames:", sorted(int(f) for f in shots))
in_shot = rows["frame"].isin(shots).to_numpy()
largest = from_dict({**run.config_dict(), "reduce": {"face": "largest"}}).reduce
per_frame = frame_emotions(rows, largest, in_shot & rows["face"].notna().to_numpy())
videos = [c.video for c in plan.clips]
results = reduce_clips(
    videos, shards, labels.by_video, config.mapping, largest, labels.persons, per_frame
)
m = compute_metrics(results, config.mapping.classes)
add_intervals(m, results, config.mapping.classes, config.report)
low, high = (100 * x for x in m["accuracy_ci"])
print(
    f"oracle accuracy: {100 * m['accuracy']:.1f}% (95% CI {low:.1f}-{high:.1f}%; "
    f"{m['n_correct']} of {m['n_labelled']})"
)
print(
    "frames with the labelled person's face per clip:",
    np.mean([r.frames_with_face for r in results]),
)
