"""The random generators (RandomNormal, RandomUniform, their *Like forms, Bernoulli, Multinomial): dtypes and
shapes, a seed gives the same draws on every run, statistics within bounds that fail only with negligible
probability; the compiler neither folds nor merges them. And SwiGLU against numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto, helper

import deepseek_r1 as r1
from helpers.dtype_arrays import seeds, shapes
from helpers.op_harness import run_op


@pytest.mark.parametrize(
    "dt,code", [(np.float32, TensorProto.FLOAT), (np.float64, TensorProto.DOUBLE), (np.float16, TensorProto.FLOAT16)]
)
def test_random_normal_and_uniform(dt, code):
    n = 20000
    (y,) = run_op("RandomNormal", [], attrs={"shape": [n], "mean": 2.0, "scale": 3.0, "dtype": code, "seed": 1.0})
    assert y.dtype == dt and y.shape == (n,)
    assert abs(float(y.astype(np.float64).mean()) - 2.0) < 0.15 and abs(float(y.astype(np.float64).std()) - 3.0) < 0.15
    (y2,) = run_op("RandomNormal", [], attrs={"shape": [n], "mean": 2.0, "scale": 3.0, "dtype": code, "seed": 1.0})
    np.testing.assert_array_equal(y, y2)  # a seed: the same draws
    (u,) = run_op("RandomUniformLike", [np.zeros((100, 200), dt)], attrs={"low": -1.0, "high": 5.0})
    assert u.dtype == dt and u.shape == (100, 200)
    assert u.min() >= -1 and u.max() <= 5 and abs(float(u.astype(np.float64).mean()) - 2.0) < 0.1


def test_unseeded_draws_differ_and_are_not_folded():
    f = TensorProto.FLOAT
    g = helper.make_graph(
        [
            helper.make_node("RandomUniform", [], ["a"], shape=[64]),
            helper.make_node("RandomUniform", [], ["b"], shape=[64]),
            helper.make_node("Sub", ["a", "b"], ["d"]),
        ],
        "g",
        [],
        [helper.make_tensor_value_info("d", f, [64]), helper.make_tensor_value_info("a", f, [64])],
    )
    engine = r1.InferenceEngine(
        r1.Model(r1.load_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])))
    )
    first, second = engine.run({}), engine.run({})
    assert np.abs(first["d"]).max() > 0  # the two nodes were not merged into one
    assert not np.array_equal(first["a"], second["a"])  # nor folded into a constant


@given(seeds(), shapes(1, 3, 2, 40))
def test_bernoulli(seed, shape):
    p = np.random.default_rng(seed).uniform(0, 1, shape).astype(np.float32)
    p.flat[0] = 0.0
    p.flat[-1] = 1.0
    (y,) = run_op("Bernoulli", [p], opset=15)
    assert y.dtype == np.float32 and set(np.unique(y)) <= {0.0, 1.0}
    assert y.flat[0] == 0 and y.flat[-1] == 1
    (b,) = run_op("Bernoulli", [p], attrs={"dtype": TensorProto.BOOL}, opset=15)
    assert b.dtype == np.bool_


def test_bernoulli_rejects_probabilities_outside_0_1():
    with pytest.raises(r1.InputError, match="probability 1.5 is not in"):
        run_op("Bernoulli", [np.array([0.2, 1.5], np.float32)], opset=15)


def test_multinomial():
    logits = np.log(np.array([[0.1, 0.6, 0.3], [1.0, 1e-12, 1e-12]], np.float32))
    (y,) = run_op("Multinomial", [logits], attrs={"sample_size": 20000, "seed": 3.0}, opset=7)
    assert y.dtype == np.int32 and y.shape == (2, 20000)
    freq = np.bincount(y[0], minlength=3) / 20000
    np.testing.assert_allclose(freq, [0.1, 0.6, 0.3], atol=0.02)
    assert (y[1] == 0).all()
    (y64,) = run_op("Multinomial", [logits], attrs={"sample_size": 3, "dtype": TensorProto.INT64}, opset=7)
    assert y64.dtype == np.int64


@given(seeds(), shapes(0, 3, 1, 5), st.sampled_from([1.0, 1.702]))
def test_swiglu(seed, shape, alpha):
    rng = np.random.default_rng(seed)
    a, b = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
    (y,) = run_op("SwiGLU", [a, b], attrs={"alpha": alpha}, opset=28)
    want = a / (1 + np.exp(-alpha * a.astype(np.float64))) * b
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
