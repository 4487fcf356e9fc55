"""dlib distances between faces of one person and of two people, on lfw-expressions.

Usage: python scripts/identity_distances.py [DATA_DIR] [PER_PERSON]

Every person of lfw-expressions with two photos or more (at most PER_PERSON photos each,
default 8, in file order) is embedded as femo embeds reference photos (BlazeFace boxes,
dlib's 5-point alignment and ResNet). Prints the quantiles of the distances between two
photos of one person and between photos of two people: the evidence for dlib's 0.6 and
for a wider bound that a face of someone else seldom comes within.
"""

import sys
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from femo.node.detectors import BlazeFaceDetector
from femo.node.identity import Embedder
from femo.node.references import DETECTOR, find_candidates, select_faces

root = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/lfw-expressions")
per_person = int(sys.argv[2]) if len(sys.argv) > 2 else 8
labels = pd.read_csv(root / "labels.csv")
counts = labels["person"].value_counts()
chosen = labels[labels["person"].isin(counts[counts >= 2].index)]
photos = {
    person: [root / v for v in group["video"].sort_values()[:per_person]]
    for person, group in chosen.groupby("person")
}
found = find_candidates(photos, Embedder(), BlazeFaceDetector(DETECTOR, delegates=False))
kept, skipped = select_faces(found)
persons = [photo.person for photo, _ in kept]
vectors = np.array([photo.embeddings[face] for photo, face in kept], dtype=np.float64)
same, other = [], []
for i, j in combinations(range(len(kept)), 2):
    d = float(np.linalg.norm(vectors[i] - vectors[j]))
    (same if persons[i] == persons[j] else other).append(d)
same, other = np.array(same), np.array(other)
print(f"{len(kept)} photos of {len(set(persons))} persons ({len(skipped)} skipped)")
qs = [0.5, 0.9, 0.95, 0.99]
print(f"one person, {len(same)} pairs:", {q: round(float(np.quantile(same, q)), 3) for q in qs})
qo = [0.001, 0.01, 0.05, 0.5]
print(f"two people, {len(other)} pairs:", {q: round(float(np.quantile(other, q)), 3) for q in qo})
for bound in (0.6, 0.65, 0.7, 0.75, 0.8):
    print(
        f"under {bound}: one person {100 * np.mean(same < bound):.1f} % of pairs, "
        f"two people {100 * np.mean(other < bound):.2f} %"
    )
