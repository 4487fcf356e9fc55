"""The tuned network as files: Keras's own (``model.keras``) and a TFLite file that runs as
``classifier=custom`` on LiteRT, with its provenance inside (:mod:`femo.model_card`).

The TFLite file takes fer's input (n, 64, 64, 1) in [-1, 1] and gives the mapping's
classes' probabilities. ``classifier=custom`` sums each output into one of femo's seven
emotions, so each class is given one emotion that the mapping maps to it
(:func:`class_emotions`): a run with the tuned model scores only those emotions, and its
vote is the network's class.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import EMOTIONS, ConfigError, CustomClassifierConfig
from ..model_card import write_card
from ..shard_files import write_atomically
from .faces import SIDE, network_input
from .network import tensorflow

# A TFLite file whose scores differ from the Keras network's by more than this is not
# written (the 1e-4 the tests hold it to).
MAX_DIFFERENCE = 1e-4


def class_emotions(emotions: Mapping[str, str], classes: Sequence[str]) -> list[str]:
    """One of femo's emotions per class, in class order: the emotion named as the class
    (``neutral`` for Neutral), else the first emotion the mapping maps to the class."""
    chosen = []
    for cls in classes:
        mine = [e for e in EMOTIONS if emotions.get(e) == cls]
        if not mine:
            raise ConfigError(f"no emotion maps to class {cls!r}: the tuned model cannot name it")
        chosen.append(cls.lower() if cls.lower() in mine else mine[0])
    return chosen


def custom_spec(model_file: Path, labels: Sequence[str], sha256: str) -> CustomClassifierConfig:
    """``classifier=custom``'s spec of a tuned model: fer's crop and input, its classes'
    emotions, no softmax (the network has its own)."""
    return CustomClassifierConfig(
        model=str(model_file), size=SIDE, color="gray", range=(-1.0, 1.0), layout="nhwc",
        labels=tuple(labels), softmax="no", crop="fer", sha256=sha256,
    )  # fmt: skip


def overrides_of(spec: CustomClassifierConfig) -> str:
    """The ``femo run`` overrides that run ``spec``'s model as the classifier."""
    lo, hi = spec.range
    return (
        f"classifier=custom classifier.model={spec.model} classifier.size={spec.size} "
        f"classifier.color={spec.color} 'classifier.range=[{lo:g},{hi:g}]' "
        f"'classifier.labels=[{','.join(spec.labels)}]' classifier.softmax={spec.softmax} "
        f"classifier.crop={spec.crop}"
    )


def tflite_bytes(model: Any) -> bytes:
    """The Keras network as a TFLite flatbuffer, its weights constants, any batch size."""
    tf = tensorflow()
    spec = tf.TensorSpec([None, SIDE, SIDE, 1], tf.float32, name="faces")

    @tf.function(input_signature=[spec], autograph=False)
    def scores(faces: Any) -> Any:
        return model(faces, training=False)

    # Without the model as its trackable, the converter folds the variables into
    # constants; with it, it keeps resource variables that LiteRT never initialises.
    return tf.lite.TFLiteConverter.from_concrete_functions(
        [scores.get_concrete_function()]
    ).convert()


def tflite_scores(content: bytes, crops: np.ndarray) -> np.ndarray:
    """The TFLite network's outputs for 0..255 crops, on LiteRT."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content)
    index = interpreter.get_input_details()[0]["index"]
    batch = network_input(crops)
    interpreter.resize_tensor_input(index, list(batch.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, batch)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()


def save_model(
    model: Any, keras_file: Path, model_file: Path, card: dict[str, Any], check: np.ndarray
) -> tuple[str, float]:
    """Write the network as ``keras_file`` and ``model_file`` (TFLite, ``card`` inside);
    returns the TFLite file's SHA-256 and the largest difference between its scores and
    the Keras network's on the ``check`` crops (over :data:`MAX_DIFFERENCE`: an error)."""
    content = tflite_bytes(model)
    keras_scores = np.asarray(model.predict(network_input(check), verbose=0), np.float32)
    difference = float(np.abs(tflite_scores(content, check) - keras_scores).max())
    if difference > MAX_DIFFERENCE:
        raise RuntimeError(
            f"the TFLite network's scores differ from Keras's by {difference:.2g} (> 1e-4)"
        )
    content = write_card(content, {**card, "tflite_vs_keras_max_difference": difference})
    keras_file.parent.mkdir(parents=True, exist_ok=True)
    partial = keras_file.with_name(f".{keras_file.stem}.partial.keras")  # Keras wants .keras
    model.save(str(partial))
    os.replace(partial, keras_file)
    write_atomically(model_file, lambda tmp: Path(tmp).write_bytes(content))
    return hashlib.sha256(content).hexdigest(), difference
