"""Property tests of the view ops (Reshape, Flatten, Squeeze / Unsqueeze, Identity, Dropout), the shape queries
(Shape, Size, ConstantOfShape, Range), exporter-style shape chains and shape-op errors, against numpy references.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import deepseek_r1 as r1
from helpers.dtype_arrays import dtypes, num_dtypes, rand, same, seeds, shapes
from helpers.op_harness import run_op

# ----------------------------------------------------------------------------------------------- views


@given(shapes(1, 4, 0, 4), dtypes, seeds(), st.data())
def test_reshape(shape, dt, seed, data):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dt)
    target = list(shape)
    rng.shuffle(target)
    if len(target) >= 2 and data.draw(st.booleans()):  # merge two dims
        target = [target[0] * target[1]] + target[2:]
    spec = list(target)
    attrs = {}
    if 0 in target:
        attrs["allowzero"] = 1  # a literal 0 would otherwise mean "copy"
    else:
        if data.draw(st.booleans()):
            spec[data.draw(st.integers(0, len(spec) - 1))] = -1
        for i in range(min(len(spec), len(shape))):
            if spec[i] == shape[i] and data.draw(st.booleans()):
                spec[i] = 0
    (y,) = run_op("Reshape", [x], attrs=attrs, constants=[np.array(spec, np.int64)], opset=14)
    same(y, x.reshape(target))


def test_reshape_allowzero_and_errors():
    x = np.zeros((0, 3), np.float32)
    (y,) = run_op("Reshape", [x], constants=[np.array([3, 0], np.int64)], attrs={"allowzero": 1}, opset=14)
    assert y.shape == (3, 0)
    with pytest.raises((r1.ModelError, r1.InputError)):
        run_op("Reshape", [np.ones((2, 3), np.float32)], constants=[np.array([4, -1], np.int64)])


@given(shapes(0, 4, 0, 4), dtypes, seeds(), st.data())
def test_flatten(shape, dt, seed, data):
    x = rand(np.random.default_rng(seed), shape, dt)
    r = len(shape)
    axis = data.draw(st.integers(-r, r))
    a = axis + r if axis < 0 else axis
    (y,) = run_op("Flatten", [x], attrs={"axis": axis}, opset=13)
    same(y, x.reshape(int(np.prod(shape[:a])), int(np.prod(shape[a:]))))


@given(shapes(0, 4, 1, 3), dtypes, seeds(), st.data(), st.sampled_from([11, 13]))
def test_squeeze_unsqueeze(shape, dt, seed, data, opset):
    x = rand(np.random.default_rng(seed), shape, dt)
    ones = [i for i, d in enumerate(shape) if d == 1]
    if ones and data.draw(st.booleans()):
        axes = sorted(set(data.draw(st.lists(st.sampled_from(ones), min_size=1, max_size=len(ones)))))
        axes = [a - len(shape) if data.draw(st.booleans()) else a for a in axes]
        want = np.squeeze(x, axis=tuple(axes))
        if opset >= 13:
            (y,) = run_op("Squeeze", [x], constants=[np.array(axes, np.int64)], opset=opset)
        else:
            (y,) = run_op("Squeeze", [x], attrs={"axes": axes}, opset=opset)
    else:
        want = np.squeeze(x)
        (y,) = run_op("Squeeze", [x], opset=opset)
    same(y, want)
    n_new = data.draw(st.integers(1, 3))
    out_rank = len(shape) + n_new
    axes = data.draw(st.lists(st.integers(0, out_rank - 1), min_size=n_new, max_size=n_new, unique=True))
    want = np.expand_dims(x, tuple(axes))
    axes = [a - out_rank if data.draw(st.booleans()) else a for a in axes]
    if opset >= 13:
        (y,) = run_op("Unsqueeze", [x], constants=[np.array(axes, np.int64)], opset=opset)
    else:
        (y,) = run_op("Unsqueeze", [x], attrs={"axes": axes}, opset=opset)
    same(y, want)


@given(shapes(0, 3, 0, 4), dtypes, seeds())
def test_identity_dropout(shape, dt, seed):
    x = rand(np.random.default_rng(seed), shape, dt)
    (y,) = run_op("Identity", [x])
    same(y, x)
    y, m = run_op("Dropout", [x], n_outputs=2, opset=13)
    same(y, x)
    same(m, np.ones(shape, np.bool_))


# ----------------------------------------------------------------------------------------------- shape queries


@given(shapes(0, 5, 0, 4), dtypes, st.integers(-6, 6), st.integers(-6, 6))
def test_shape_size(shape, dt, start, end):
    x = np.zeros(shape, dt)
    (y,) = run_op("Shape", [x], opset=13)
    same(y, np.array(shape, np.int64))
    (y,) = run_op("Shape", [], attrs={"start": start, "end": end}, constants=[x], opset=15)
    same(y, np.array(shape[slice(start, end)] if start >= -len(shape) else shape[:end], np.int64))
    (y,) = run_op("Size", [x])
    same(y, np.array(int(np.prod(shape)), np.int64))


@given(shapes(0, 4, 0, 4), num_dtypes | st.just(np.dtype(np.bool_)), seeds())
def test_constant_of_shape(shape, dt, seed):
    (y,) = run_op("ConstantOfShape", [], constants=[np.array(shape, np.int64)])
    same(y, np.zeros(shape, np.float32))
    v = rand(np.random.default_rng(seed), (1,), dt)
    (y,) = run_op("ConstantOfShape", [np.array(shape, np.int64)], attrs={"value": numpy_helper.from_array(v)})
    same(y, np.full(shape, v[0], dt))


@given(
    st.sampled_from([np.int32, np.int64, np.float32, np.int8]),
    st.integers(-20, 20),
    st.integers(-20, 20),
    st.integers(-5, 5).filter(lambda d: d != 0),
)
def test_range(dt, start, limit, delta):
    args = [np.array(v, dt) for v in (start, limit, delta)]
    (y,) = run_op("Range", args, opset=11)
    want = np.arange(start, limit, delta).astype(dt)
    if np.dtype(dt).kind == "f":
        np.testing.assert_allclose(y, want, rtol=1e-6)
        assert y.dtype == want.dtype
    else:
        same(y, want)


# ----------------------------------------------------------------------------------------------- graphs


def test_exporter_shape_chain_with_symbolic_dims():
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape, as torch exporters emit it."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", 12])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "i0"], ["b"], axis=0),
        helper.make_node("Gather", ["s", "i1"], ["q"], axis=0),
        helper.make_node("Unsqueeze", ["b", "ax0"], ["bu"]),
        helper.make_node("Unsqueeze", ["q", "ax0"], ["qu"]),
        helper.make_node("Concat", ["bu", "qu", "c34"], ["shp"], axis=0),
        helper.make_node("Reshape", ["x", "shp"], ["r"]),
        helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 1, 3]),
        helper.make_node("Slice", ["t", "st", "en", "axs"], ["y"]),
    ]
    inits = [
        numpy_helper.from_array(np.array(0, np.int64), "i0"),
        numpy_helper.from_array(np.array(1, np.int64), "i1"),
        numpy_helper.from_array(np.array([0], np.int64), "ax0"),
        numpy_helper.from_array(np.array([3, 4], np.int64), "c34"),
        numpy_helper.from_array(np.array([1], np.int64), "st"),
        numpy_helper.from_array(np.array([2**62], np.int64), "en"),
        numpy_helper.from_array(np.array([-1], np.int64), "axs"),
    ]
    g = helper.make_graph(nodes, "chain", [x], [y], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    e = r1.InferenceEngine(r1.Model(r1.load_onnx(m)))
    for b, s in [(2, 5), (1, 1), (3, 0)]:
        xv = rand(np.random.default_rng(b), (b, s, 12), np.float32)
        out = e.run([xv])["y"]
        same(out, np.ascontiguousarray(xv.reshape(b, s, 3, 4).transpose(0, 2, 1, 3)[..., 1:]))


def test_symbolic_reshape_inference():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", 768])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    g = helper.make_graph(
        [
            helper.make_node("Reshape", ["x", "s"], ["r"]),
            helper.make_node("Transpose", ["r"], ["y"], perm=[0, 2, 1, 3]),
        ],
        "r",
        [x],
        [y],
        [numpy_helper.from_array(np.array([0, 0, 12, -1], np.int64), "s")],
    )
    e = r1.InferenceEngine(r1.Model(r1.load_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))))
    assert tuple(e.outputs[0].shape) == ("batch", 12, "seq", 64)
    xv = rand(np.random.default_rng(0), (2, 3, 768), np.float32)
    same(e.run([xv])["y"], xv.reshape(2, 3, 12, 64).transpose(0, 2, 1, 3))


def test_errors():
    with pytest.raises((r1.InputError, r1.ModelError)):
        run_op("Gather", [np.ones((3,), np.float32), np.array([3], np.int64)])
    with pytest.raises((r1.InputError, r1.ModelError)):
        run_op("Concat", [np.ones((2, 3), np.float32), np.ones((2, 4), np.float32)], attrs={"axis": 0})
    with pytest.raises(r1.ModelError, match="not supported"):
        run_op(
            "Pad", [np.ones((2, 3), np.float32)], attrs={"mode": "mirror"}, constants=[np.array([0, 0, 0, 0], np.int64)]
        )


def test_range_constant_inputs_infer_at_compile_time():
    args = [np.array(v, np.int64) for v in (2, 11, 3)]
    (y,) = run_op("Range", [], constants=args, opset=11)
    same(y, np.arange(2, 11, 3, dtype=np.int64))


def test_dropout_training_mode_rejected():
    x = np.ones((2, 3), np.float32)
    (y,) = run_op("Dropout", [x], constants=[np.array(0.5, np.float32), np.array(False)], opset=13)
    same(y, x)
    with pytest.raises(r1.ModelError, match="not supported"):
        run_op("Dropout", [x], constants=[np.array(0.5, np.float32), np.array(True)], opset=13)
