#!/usr/bin/env python3
"""Count where classifier.backend=onnx (and femo's batched keras) give fer's answer.

    python scripts/classifier_parity.py ../shared/data/fer-samples ../shared/data/dev-clips ...

Every face Haar finds in every sampled frame (femo's defaults) of each folder, classified
by fer's own call (one per frame), by ONNX Runtime and by femo's Keras path (batches of 64
across frames): faces and frames with fer's top emotion and 2-decimal scores, and the
largest difference in raw scores. Loads TensorFlow (fer is the reference).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from femo.bench.backends import parity  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args()
    counts = parity(args.folders)
    for name, c in counts.items():
        print(f"{name}: {json.dumps(c)}")
    for backend in ("onnx", "keras_batched"):
        parts = [c[backend] for c in counts.values() if backend in c]
        keys = ("frames_all_equal", "faces", "same_top_emotion", "same_rounded_scores")
        total = {k: sum(p[k] for p in parts) for k in keys}
        for key in ("frames_sampled", "frames"):
            total[key] = sum(c[key] for c in counts.values())
        total["max_abs_diff"] = max(p["max_abs_diff"] for p in parts)
        print(f"all, {backend} against fer: {json.dumps(total)}")


if __name__ == "__main__":
    main()
