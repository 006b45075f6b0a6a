"""The wide element types (float64, int16, uint16, uint32, uint64) through every op that takes them
(cpp/r1/ir/ops/wide_types.cc), against numpy; and the ModelError of an op that does not take them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto

import deepseek_r1 as r1
from helpers.dtype_arrays import seeds, shapes
from helpers.op_harness import run_op

WIDE = [np.dtype(t) for t in (np.float64, np.int16, np.uint16, np.uint32, np.uint64)]
wide = st.sampled_from(WIDE)
CODE = {
    np.dtype(np.float64): TensorProto.DOUBLE,
    np.dtype(np.int16): TensorProto.INT16,
    np.dtype(np.uint16): TensorProto.UINT16,
    np.dtype(np.uint32): TensorProto.UINT32,
    np.dtype(np.uint64): TensorProto.UINT64,
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.int64): TensorProto.INT64,
}


def rand(rng, shape, dt, lo=None, hi=None):
    dt = np.dtype(dt)
    if dt.kind == "f":
        a = rng.standard_normal(shape) * 10
        return (np.abs(a) if lo is not None and lo >= 0 else a).astype(dt)
    info = np.iinfo(dt)
    lo = max(info.min, -1000) if lo is None else lo
    hi = min(info.max, 1000) if hi is None else hi
    a = rng.integers(lo, hi, size=shape, endpoint=True).astype(dt)
    if a.size and not a.any():
        a.flat[0] = 1
    return a


def same(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)  # float64 is computed in double
    else:
        np.testing.assert_array_equal(got, want)


@given(shapes(0, 3, 1, 4), wide, seeds(), st.sampled_from(["Add", "Sub", "Mul", "Div", "Mod", "Max", "Min"]))
def test_binary(shape, dt, seed, op):
    rng = np.random.default_rng(seed)
    a = rand(rng, shape, dt, lo=0 if op == "Sub" else None)
    b = rand(rng, shape[-1:], dt, lo=1, hi=50)  # broadcast; nonzero divisors, small so Sub of unsigned stays >= 0
    if op == "Sub" and dt.kind == "u":
        a = a + np.array(50, dt)
    attrs = {"fmod": 1} if op == "Mod" and dt.kind == "f" else {}
    (y,) = run_op(op, [a, b], attrs=attrs, opset=13)
    if op == "Div":
        want = (a / b).astype(dt) if dt.kind == "f" else np.trunc(a.astype(np.float64) / b).astype(dt)
    elif op == "Mod":
        want = np.fmod(a, b) if dt.kind == "f" else np.mod(a, b)
    else:
        want = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Max": np.maximum, "Min": np.minimum}[op](a, b)
    same(y, want.astype(dt))


@given(
    shapes(0, 3, 1, 4), wide, seeds(), st.sampled_from(["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"])
)
def test_compare(shape, dt, seed, op):
    rng = np.random.default_rng(seed)
    a, b = rand(rng, shape, dt, lo=0, hi=5), rand(rng, shape, dt, lo=0, hi=5)
    (y,) = run_op(op, [a, b], opset=13)
    fn = {
        "Equal": np.equal,
        "Less": np.less,
        "Greater": np.greater,
        "LessOrEqual": np.less_equal,
        "GreaterOrEqual": np.greater_equal,
    }[op]
    same(y, fn(a, b))


@given(shapes(0, 3, 1, 4), wide, seeds(), st.sampled_from(["Neg", "Abs", "Sign", "Relu"]))
def test_unary(shape, dt, seed, op):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dt)
    if op == "Neg" and dt.kind == "u":
        with pytest.raises(r1.ModelError, match=f"Neg of dtype {dt.name} is not supported"):
            run_op(op, [x], opset=14)
        return
    (y,) = run_op(op, [x], opset=14)
    with np.errstate(over="ignore"):
        want = {"Neg": np.negative, "Abs": np.abs, "Sign": np.sign, "Relu": lambda v: np.maximum(v, 0)}[op](x)
    same(y, want.astype(dt))


@given(shapes(1, 3, 1, 4), wide, seeds(), st.data())
def test_reductions(shape, dt, seed, data):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dt, lo=0, hi=20)
    axis = data.draw(st.integers(0, len(shape) - 1))
    op = data.draw(
        st.sampled_from(["ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare", "ArgMax", "ArgMin"])
    )
    attrs = {"keepdims": 0} | ({"axis": axis} if op.startswith("Arg") else {})
    consts = [] if op.startswith("Arg") else [np.array([axis], np.int64)]
    (y,) = run_op(op, [x], attrs=attrs, constants=consts, opset=18)
    fn = {
        "ReduceSum": np.sum,
        "ReduceMax": np.max,
        "ReduceMin": np.min,
        "ReduceProd": np.prod,
        "ReduceSumSquare": lambda v, axis: np.sum(v * v, axis=axis),
        "ArgMax": np.argmax,
        "ArgMin": np.argmin,
    }[op]
    want = fn(x, axis=axis)
    same(y, want.astype(np.int64 if op.startswith("Arg") else dt))


@given(shapes(1, 3, 1, 4), wide, seeds(), st.data())
def test_movement(shape, dt, seed, data):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dt)
    r = len(shape)
    perm = data.draw(st.permutations(range(r)))
    (y,) = run_op("Transpose", [x], attrs={"perm": list(perm)})
    same(y, np.transpose(x, perm))
    (y,) = run_op("Concat", [x, x], attrs={"axis": r - 1})
    same(y, np.concatenate([x, x], axis=r - 1))
    idx = rng.integers(0, shape[0], size=3).astype(np.int64)
    (y,) = run_op("Gather", [x, idx], attrs={"axis": 0})
    same(y, np.take(x, idx, axis=0))
    (y,) = run_op("Slice", [x], constants=[np.array([0]), np.array([max(1, shape[0] - 1)])], opset=13)
    same(y, x[: max(1, shape[0] - 1)])
    (y,) = run_op("Reshape", [x], constants=[np.array([-1])], opset=13)
    same(y, x.reshape(-1))
    (y,) = run_op("Tile", [x], constants=[np.array([2] + [1] * (r - 1), np.int64)])
    same(y, np.tile(x, [2] + [1] * (r - 1)))
    (y,) = run_op("Expand", [x], constants=[np.array((2,) + shape, np.int64)])
    same(y, np.broadcast_to(x, (2,) + shape))
    cond = rng.integers(0, 2, size=shape).astype(np.bool_)
    (y,) = run_op("Where", [cond, x, x[::-1].copy()])
    same(y, np.where(cond, x, x[::-1]))
    (y,) = run_op("Pad", [x], constants=[np.array([1] * r + [0] * r, np.int64)], opset=13)
    same(y, np.pad(x, [(1, 0)] * r))


@given(shapes(0, 3, 1, 4), wide, st.sampled_from(WIDE + [np.dtype(np.float32), np.dtype(np.int64)]), seeds())
def test_cast(shape, src, dst, seed):
    x = rand(np.random.default_rng(seed), shape, src, lo=0, hi=100)
    (y,) = run_op("Cast", [x], attrs={"to": CODE[np.dtype(dst)]}, opset=13)
    same(y, x.astype(dst))
    (y,) = run_op("Cast", [x.astype(dst)], attrs={"to": CODE[np.dtype(src)]}, opset=13)
    same(y, x.astype(dst).astype(src))


@given(shapes(1, 3, 1, 4), wide, seeds(), st.data())
def test_cumulative_and_einsum(shape, dt, seed, data):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dt, lo=0, hi=3)
    axis = data.draw(st.integers(0, len(shape) - 1))
    (y,) = run_op("CumSum", [x], constants=[np.array(axis, np.int64)], opset=14)
    same(y, np.cumsum(x, axis=axis, dtype=dt))
    (y,) = run_op("CumProd", [x], constants=[np.array(axis, np.int64)], opset=26)
    same(y, np.cumprod(x, axis=axis, dtype=dt))
    a, b = rand(rng, (2, 3), dt, lo=0, hi=9), rand(rng, (3, 4), dt, lo=0, hi=9)
    (y,) = run_op("Einsum", [a, b], attrs={"equation": "ij,jk->ik"}, opset=12)
    same(y, (a @ b).astype(dt))
    (y,) = run_op("MatMul", [a, b], opset=13)
    same(y, (a @ b).astype(dt))


@given(
    shapes(1, 3, 1, 4),
    st.sampled_from([np.dtype(np.int16), np.dtype(np.uint16), np.dtype(np.uint32), np.dtype(np.uint64)]),
    seeds(),
    st.sampled_from(["BitwiseAnd", "BitwiseOr", "BitwiseXor"]),
)
def test_bitwise(shape, dt, seed, op):
    rng = np.random.default_rng(seed)
    info = np.iinfo(dt)
    a = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dt)
    b = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dt)
    (y,) = run_op(op, [a, b], opset=18)
    same(y, {"BitwiseAnd": np.bitwise_and, "BitwiseOr": np.bitwise_or, "BitwiseXor": np.bitwise_xor}[op](a, b))


FLOAT_MATH = {
    "Exp": np.exp,
    "Log": np.log,
    "Sqrt": np.sqrt,
    "Reciprocal": np.reciprocal,
    "Floor": np.floor,
    "Ceil": np.ceil,
    "Round": np.round,
    "Sin": np.sin,
    "Cos": np.cos,
    "Tan": np.tan,
    "Asin": np.arcsin,
    "Acos": np.arccos,
    "Atan": np.arctan,
    "Sinh": np.sinh,
    "Cosh": np.cosh,
    "Asinh": np.arcsinh,
    "Acosh": np.arccosh,
    "Atanh": np.arctanh,
}


@given(shapes(0, 3, 1, 4), seeds(), st.sampled_from(sorted(FLOAT_MATH) + ["Erf"]))
def test_float_math_in_double(shape, seed, op):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.05, 0.95, shape)  # inside every function's domain (Acosh: shifted below)
    if op == "Acosh":
        x = x + 1.0
    (y,) = run_op(op, [x], opset=13)
    if op == "Erf":
        import math

        want = np.vectorize(math.erf, otypes=[np.float64])(x)
    else:
        want = FLOAT_MATH[op](x)
    same(y, want)


@pytest.mark.parametrize("dt", WIDE[1:])
def test_float_math_rejects_wide_integers(dt):
    with pytest.raises(r1.ModelError, match=f"Exp of dtype {dt.name} is not supported"):
        run_op("Exp", [np.ones(3, dt)], opset=13)


@pytest.mark.parametrize("dt", WIDE)
def test_ops_without_wide_types_say_so(dt):
    x = np.ones((2, 3), dt)
    with pytest.raises(r1.ModelError, match=rf"node 'Sigmoid_0' \(Sigmoid\).*dtype {dt.name}"):
        run_op("Sigmoid", [x], opset=13)
    with pytest.raises(r1.ModelError, match=rf"node 'Gemm_0' \(Gemm\).*dtype {dt.name}"):
        run_op("Gemm", [x, np.ones((3, 2), dt)], opset=13)
    # An op whose own checks allow any numeric type: the wide-type gate (ir/ops/wide_types.cc) names it.
    with pytest.raises(
        r1.ModelError, match=rf"node 'TopK_0' \(TopK\): TopK does not support an input of dtype {dt.name}"
    ):
        run_op("TopK", [x], constants=[np.array([1], np.int64)], n_outputs=2, opset=11)


@given(shapes(2, 3, 2, 4), wide, seeds())
def test_more_ops(shape, dt, seed):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dt, lo=0, hi=9)
    with np.errstate(over="ignore"):
        if dt.kind == "f":
            (y,) = run_op("ReduceMean", [x], constants=[np.array([0], np.int64)], attrs={"keepdims": 0}, opset=18)
            same(y, x.mean(axis=0))
            (y,) = run_op("ReduceLogSumExp", [x], constants=[np.array([1], np.int64)], attrs={"keepdims": 0}, opset=18)
            same(y, np.log(np.exp(x).sum(axis=1)))
            (y,) = run_op("ReduceL2", [x], constants=[np.array([0], np.int64)], attrs={"keepdims": 0}, opset=18)
            same(y, np.sqrt((x * x).sum(axis=0)))
        (y,) = run_op("ReduceL1", [x], constants=[np.array([0], np.int64)], attrs={"keepdims": 0}, opset=18)
        same(y, np.abs(x).sum(axis=0).astype(dt))
        lo, hi = np.array(2, dt), np.array(6, dt)
        (y,) = run_op("Clip", [x, lo, hi], opset=13)
        same(y, np.clip(x, lo, hi))
        (y,) = run_op("Sum", [x, x, x], opset=13)
        same(y, (x + x + x).astype(dt))
    (y,) = run_op("Range", [], constants=[np.array(1, dt), np.array(9, dt), np.array(2, dt)], opset=11)
    same(y, np.arange(1, 9, 2).astype(dt))
    cond = np.array([True, False, True])[: shape[0]]
    (y,) = run_op("Compress", [x, cond], attrs={"axis": 0}, opset=11)
    same(y, np.compress(cond, x, axis=0))
    (y,) = run_op("ReverseSequence", [x, np.full(shape[1], shape[0], np.int64)], opset=10)
    same(y, x[::-1])
    (y,) = run_op("Trilu", [x], opset=14)
    same(y, np.triu(x))
    (y,) = run_op("NonZero", [x], opset=13)
    same(y, np.array(np.nonzero(x), np.int64))
    (u,) = run_op("Unique", [x], opset=11)
    same(u, np.unique(x))
    a, b = run_op(
        "Split", [x], attrs={"axis": 0}, constants=[np.array([1, shape[0] - 1], np.int64)], n_outputs=2, opset=13
    )
    same(a, x[:1])
    same(b, x[1:])
    (y,) = run_op("Unsqueeze", [x], constants=[np.array([0], np.int64)], opset=13)
    same(y, x[None])
    (y,) = run_op("Flatten", [x], opset=13)
    same(y, x.reshape(shape[0], -1))
    (y,) = run_op("Identity", [x], opset=13)
    same(y, x)
    idx = rng.integers(0, shape[0], size=shape).astype(np.int64)
    (y,) = run_op("GatherElements", [x, idx], attrs={"axis": 0}, opset=13)
    same(y, np.take_along_axis(x, idx, axis=0))
    (y,) = run_op("ScatterElements", [x, idx[:1], x[:1]], attrs={"axis": 0}, opset=13)
    want = x.copy()
    np.put_along_axis(want, idx[:1], x[:1], axis=0)
    same(y, want)
    (y,) = run_op("GatherND", [x, np.array([[0], [shape[0] - 1]], np.int64)], opset=13)
    same(y, x[[0, shape[0] - 1]])
    (y,) = run_op("ScatterND", [x, np.array([[0]], np.int64), x[1:2]], opset=13)
    same(y, np.concatenate([x[1:2], x[1:]]))
    (y,) = run_op("CastLike", [x.astype(np.int64), np.zeros(1, dt)], opset=15)
    same(y, x.astype(np.int64).astype(dt))
    (y,) = run_op(
        "ConstantOfShape", [], constants=[np.array(shape, np.int64)], attrs={"value": _tensor(dt, 3)}, opset=13
    )
    same(y, np.full(shape, 3, dt))
    (y,) = run_op("EyeLike", [x[:, :, 0] if len(shape) == 3 else x], attrs={"dtype": CODE[dt]}, opset=9)
    same(y, np.eye(*y.shape, dtype=dt))
    if dt.kind == "u":
        (y,) = run_op("BitShift", [x, np.ones_like(x)], attrs={"direction": "LEFT"}, opset=11)
        same(y, (x << 1).astype(dt))
    if dt.kind in "iu":
        (y,) = run_op("BitwiseNot", [x], opset=18)
        same(y, np.invert(x))


def _tensor(dt, v):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.array([v], dt), "value")


def test_if_passes_wide_types_through():
    from onnx import helper

    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    branch = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["o"])],
        "b",
        [],
        [helper.make_tensor_value_info("o", TensorProto.DOUBLE, [2, 3])],
    )
    other = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["o"])],
        "n",
        [],
        [helper.make_tensor_value_info("o", TensorProto.DOUBLE, [2, 3])],
    )
    g = helper.make_graph(
        [helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=other)],
        "g",
        [
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", TensorProto.DOUBLE, [2, 3]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [2, 3])],
    )
    engine = r1.InferenceEngine(
        r1.Model(r1.load_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])))
    )
    same(engine.run({"c": np.array(True), "x": x})["y"], x)
    same(engine.run({"c": np.array(False), "x": x})["y"], -x)


@given(shapes(1, 3, 1, 5), seeds(), st.sampled_from(["Softmax", "LogSoftmax"]))
def test_softmax_in_double(shape, seed, op):
    x = np.random.default_rng(seed).standard_normal(shape) * 5
    axis = -1
    (y,) = run_op(op, [x], attrs={"axis": axis}, opset=13)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    want = e / e.sum(axis=axis, keepdims=True)
    same(y, np.log(want) if op == "LogSoftmax" else want)
