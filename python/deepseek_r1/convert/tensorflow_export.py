"""TensorFlow -> ONNX through tf2onnx (tensorflow-cpu and tf2onnx are the optional `[tensorflow]` extra).

Accepts a Keras model object, a Keras file (.keras, .h5) or a SavedModel directory (its serving signature). The
ONNX model then goes through our importer as any other. TensorFlow's and tf2onnx's start-up logging is silenced
so a conversion prints nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._core import ModelError

_INSTALL = "framework='tensorflow' needs TensorFlow and tf2onnx: pip install 'deepseek_r1[tensorflow]'"


def _import_tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before the first import: C++ start-up logs
    try:
        import tensorflow as tf
        import tf2onnx
    except ImportError:
        raise ModelError(_INSTALL) from None
    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    return tf, tf2onnx


def _keras_signature(tf, model, input_names: Sequence[str] | None):
    """One TensorSpec per Keras input, batch (and any None) dims left dynamic."""
    inputs = model.inputs
    names = (
        list(input_names)
        if input_names
        else [getattr(t, "name", f"input_{i}").split(":")[0] for i, t in enumerate(inputs)]
    )
    if len(names) != len(inputs):
        raise ModelError(f"input_names has {len(names)} names for a model with {len(inputs)} inputs")
    return tuple(tf.TensorSpec(t.shape, t.dtype, name=n) for t, n in zip(inputs, names))


def export_to_onnx(source: Any, input_names: Sequence[str] | None = None, opset: int = 17):
    """The ONNX ModelProto of a Keras model, a .keras / .h5 file or a SavedModel directory."""
    tf, tf2onnx = _import_tf()
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise ModelError(f"TensorFlow model '{path}' does not exist")
        if path.is_dir():
            return _from_saved_model(tf, tf2onnx, path, opset)
        if path.suffix not in (".keras", ".h5"):
            raise ModelError(f"'{path}' is neither a SavedModel directory nor a .keras / .h5 Keras file")
        try:
            source = tf.keras.models.load_model(path, compile=False)
        except Exception as e:
            raise ModelError(f"could not load the Keras model '{path}': {type(e).__name__}: {e}") from None
    if not isinstance(source, tf.keras.Model):
        raise ModelError(
            f"framework='tensorflow' expects a tf.keras.Model, a .keras/.h5 file or a SavedModel directory, "
            f"got {type(source).__name__}"
        )
    spec = _keras_signature(tf, source, input_names)
    try:
        model, _ = tf2onnx.convert.from_keras(source, input_signature=spec, opset=opset)
    except Exception as e:
        raise ModelError(f"tf2onnx could not convert the Keras model: {type(e).__name__}: {e}") from None
    return model


def _from_saved_model(tf, tf2onnx, path: Path, opset: int):
    if not (path / "saved_model.pb").exists():
        raise ModelError(f"'{path}' is not a SavedModel directory (no saved_model.pb)")
    try:
        loaded = tf.saved_model.load(str(path))
        fn = loaded.signatures["serving_default"]
    except KeyError:
        raise ModelError(f"SavedModel '{path}' has no 'serving_default' signature") from None
    except Exception as e:
        raise ModelError(f"could not load the SavedModel '{path}': {type(e).__name__}: {e}") from None
    _, kwargs = fn.structured_input_signature
    spec = tuple(tf.TensorSpec(s.shape, s.dtype, name=name) for name, s in sorted(kwargs.items()))
    try:
        model, _ = tf2onnx.convert.from_function(
            tf.function(lambda *xs: fn(**{s.name: x for s, x in zip(spec, xs)})), input_signature=spec, opset=opset
        )
    except Exception as e:
        raise ModelError(f"tf2onnx could not convert the SavedModel '{path}': {type(e).__name__}: {e}") from None
    return model
