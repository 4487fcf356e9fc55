"""What a model file femo made says about itself: its provenance, kept inside the file.

``femo fit --tune`` writes a TFLite file for ``classifier=custom``; what was fitted, on
what and with which settings travels inside it, as a JSON text in the flatbuffer's
``metadata`` under the name :data:`NAME`. :func:`read_card` reads it back with LiteRT's
flatbuffer schema alone (no TensorFlow, no interpreter), so a report can name a tuned
model wherever the file goes; a file without it (any other model) has no card.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NAME = "femo"
FORMAT = "femo-tuned-model"
TFLITE_MAGIC = b"TFL3"


def read_card(path: str | Path) -> dict[str, Any] | None:
    """The provenance femo wrote into the TFLite file ``path``; None for a file without
    it, another kind of file, or one that cannot be read."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if data[4:8] != TFLITE_MAGIC:
        return None
    try:
        from ai_edge_litert import schema_py_generated as schema

        model = schema.Model.GetRootAs(data, 0)
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            if entry.Name() != NAME.encode():
                continue
            buffer = model.Buffers(entry.Buffer())
            card = json.loads(buffer.DataAsNumpy().tobytes().decode("utf-8"))
            return card if isinstance(card, dict) and card.get("format") == FORMAT else None
    except Exception:  # a damaged or foreign flatbuffer has no card to read
        return None
    return None


def write_card(model: bytes, card: dict[str, Any]) -> bytes:
    """The TFLite flatbuffer ``model`` with ``card`` (plain JSON) in its metadata."""
    import numpy as np
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    text = json.dumps({**card, "format": FORMAT}, sort_keys=True).encode("utf-8")
    tree = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(text, dtype=np.uint8)
    tree.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = NAME
    entry.buffer = len(tree.buffers) - 1
    tree.metadata = [m for m in (tree.metadata or []) if m.name != NAME.encode()] + [entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(tree))
