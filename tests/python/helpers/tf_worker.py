"""Builds Keras models with random weights, records TensorFlow's outputs and converts each model with
ModelConverter(framework="tensorflow"), in its own process (TensorFlow stays out of the test process).

    python tf_worker.py WORKDIR     # writes WORKDIR/<name>.r1 and WORKDIR/<name>.npz (inputs, TF outputs)

Models: a CNN (Conv2D, BatchNormalization, MaxPooling2D, DepthwiseConv2D, GlobalAveragePooling2D, Dense) converted
from a .keras file, an .h5 file, a SavedModel directory (Keras' export) and the model object; an LSTM (stacked,
return_sequences, then the last state through Dense) converted from the object. Inputs at two batch sizes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf

import deepseek_r1 as r1


def cnn() -> tf.keras.Model:
    x = inp = tf.keras.Input((24, 24, 3), name="image")
    x = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.MaxPooling2D()(x)
    x = tf.keras.layers.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
    x = tf.keras.layers.Conv2D(16, 3, strides=2, activation="swish")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    out = tf.keras.layers.Dense(5, activation="softmax")(x)
    return tf.keras.Model(inp, out)


def lstm() -> tf.keras.Model:
    x = inp = tf.keras.Input((None, 6), name="tokens")
    x = tf.keras.layers.LSTM(12, return_sequences=True)(x)
    x = tf.keras.layers.LSTM(8)(x)
    out = tf.keras.layers.Dense(3)(x)
    return tf.keras.Model(inp, out)


def randomize(model: tf.keras.Model, seed: int) -> None:
    """Random weights (BatchNormalization statistics included, variances positive)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        v = rng.standard_normal(w.shape).astype(np.float32) * 0.3
        if "variance" in w.path:
            v = np.abs(v) + 0.5
        w.assign(v)


def record(name: str, model: tf.keras.Model, inputs: list[np.ndarray], work: Path, source) -> None:
    outs = [np.asarray(model(x, training=False)) for x in inputs]
    np.savez(
        work / f"{name}.npz", **{f"x{i}": x for i, x in enumerate(inputs)}, **{f"y{i}": y for i, y in enumerate(outs)}
    )
    r1.ModelConverter(input_model=source, framework="tensorflow", output_path=str(work / f"{name}.r1")).convert()


def main(work: Path) -> None:
    rng = np.random.default_rng(0)
    m = cnn()
    randomize(m, 1)
    images = [rng.standard_normal((n, 24, 24, 3)).astype(np.float32) for n in (1, 3)]
    m.save(work / "cnn.keras")
    m.save(work / "cnn.h5")
    m.export(str(work / "cnn_saved_model"), verbose=False)
    record("cnn_keras_file", m, images, work, str(work / "cnn.keras"))
    record("cnn_h5", m, images, work, str(work / "cnn.h5"))
    record("cnn_saved_model", m, images, work, str(work / "cnn_saved_model"))
    record("cnn_object", m, images, work, m)
    seq = lstm()
    randomize(seq, 2)
    tokens = [rng.standard_normal((n, s, 6)).astype(np.float32) for n, s in ((1, 5), (4, 9))]
    record("lstm_object", seq, tokens, work, seq)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
