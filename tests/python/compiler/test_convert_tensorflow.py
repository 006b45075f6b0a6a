"""ModelConverter(framework="tensorflow"): Keras models built in the test (random weights) converted through
tf2onnx from a .keras file, an .h5 file, a SavedModel directory and the model object, each run by our engine at two
batch sizes and compared with TensorFlow's own outputs. TensorFlow runs in a subprocess (helpers/tf_worker.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import deepseek_r1 as r1

WORKER = Path(__file__).resolve().parent.parent / "helpers" / "tf_worker.py"
MODELS = ["cnn_keras_file", "cnn_h5", "cnn_saved_model", "cnn_object", "lstm_object"]


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("tf")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run(
        [sys.executable, str(WORKER), str(work)], capture_output=True, text=True, env=env, timeout=900
    )
    assert proc.returncode == 0, f"tf_worker failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return work


@pytest.mark.tensorflow
@pytest.mark.parametrize("name", MODELS)
def test_tensorflow_model_matches_tensorflow(converted, name):
    engine = r1.InferenceEngine(str(converted / f"{name}.r1"))
    data = np.load(converted / f"{name}.npz")
    assert len(engine.inputs) == 1 and len(engine.outputs) == 1
    for i in range(2):
        x, want = data[f"x{i}"], data[f"y{i}"]
        got = engine.run({engine.inputs[0].name: x})[engine.outputs[0].name]
        assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.shape)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * max(1.0, float(np.abs(want).max())))


def test_tensorflow_errors(tmp_path, monkeypatch):
    """Without TensorFlow: a ModelError naming the extra; a bad path or object: a ModelError naming it."""
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # import tensorflow -> ImportError
    with pytest.raises(r1.ModelError, match=r"pip install 'deepseek_r1\[tensorflow\]'"):
        r1.ModelConverter(input_model=str(tmp_path), framework="tensorflow").convert()


@pytest.mark.tensorflow
def test_tensorflow_bad_sources(tmp_path):
    with pytest.raises(r1.ModelError, match="does not exist"):
        r1.ModelConverter(input_model=str(tmp_path / "missing.keras"), framework="tensorflow").convert()
    with pytest.raises(r1.ModelError, match="not a SavedModel directory"):
        r1.ModelConverter(input_model=str(tmp_path), framework="tensorflow").convert()
    (tmp_path / "model.txt").write_text("x")
    with pytest.raises(r1.ModelError, match="neither a SavedModel directory nor a .keras"):
        r1.ModelConverter(input_model=str(tmp_path / "model.txt"), framework="tensorflow").convert()
    with pytest.raises(r1.ModelError, match="expects a tf.keras.Model"):
        r1.ModelConverter(input_model=object(), framework="tensorflow").convert()
