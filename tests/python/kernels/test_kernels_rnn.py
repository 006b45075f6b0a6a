"""Property tests of the rnn family (LSTM, GRU, RNN) against a numpy reference and onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto, helper

import deepseek_r1 as r1
from helpers.op_harness import run_op
from helpers.rnn_reference import rnn_reference, run_onnxruntime

# ---------------------------------------------------------------------------------------------
# random problems

ACTS_POOL = {
    "LSTM": [
        None,
        ["Sigmoid", "Tanh", "Tanh"],
        ["HardSigmoid", "Tanh", "Relu"],
        ["Sigmoid", "Softsign", "Tanh"],
        ["Sigmoid", "Tanh", "ScaledTanh"],
        ["HardSigmoid", "Elu", "Affine"],
    ],
    "GRU": [None, ["Sigmoid", "Tanh"], ["HardSigmoid", "Relu"], ["Sigmoid", "Softplus"], ["Sigmoid", "LeakyRelu"]],
    "RNN": [None, ["Tanh"], ["Relu"], ["Sigmoid"], ["Affine"], ["Softsign"], ["ThresholdedRelu"]],
}


@st.composite
def problems(draw, op, allow_seq_lens=True, exotic=True):
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    seq = draw(st.integers(1, 5))
    batch = draw(st.integers(1, 4))
    inp = draw(st.integers(1, 6))
    hid = draw(st.integers(1, 6))
    direction = draw(st.sampled_from(["forward", "reverse", "bidirectional"]))
    dirs = 2 if direction == "bidirectional" else 1
    layout = draw(st.sampled_from([0, 1]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)

    def rnd(*shape, scale=0.5):
        a = (rng.standard_normal(shape) * scale).astype(np.float32)
        if a.size:
            a.flat[0] = a.flat[0] if a.flat[0] != 0 else 0.25
        return a

    X = rnd(batch, seq, inp, scale=1.0) if layout else rnd(seq, batch, inp, scale=1.0)
    W = rnd(dirs, G * hid, inp)
    R = rnd(dirs, G * hid, hid)
    state_shape = (batch, dirs, hid) if layout else (dirs, batch, hid)
    ins = {"X": X, "W": W, "R": R}
    ins["B"] = rnd(dirs, 2 * G * hid) if draw(st.booleans()) else None
    ins["seq_lens"] = (
        rng.integers(0, seq + 1, size=batch).astype(np.int32) if allow_seq_lens and draw(st.booleans()) else None
    )
    ins["h0"] = rnd(*state_shape) if draw(st.booleans()) else None
    if op == "LSTM":
        ins["c0"] = rnd(*state_shape) if draw(st.booleans()) else None
        ins["P"] = rnd(dirs, 3 * hid) if draw(st.booleans()) else None
    attrs = {"hidden_size": hid, "direction": direction}
    if layout:
        attrs["layout"] = 1
    if exotic:
        if draw(st.booleans()):
            attrs["clip"] = draw(st.sampled_from([0.5, 1.0, 3.0]))
        acts = draw(st.sampled_from(ACTS_POOL[op]))
        if acts is not None:
            attrs["activations"] = acts * dirs if draw(st.booleans()) or dirs == 1 else acts
            nab = len(attrs["activations"])
            if draw(st.booleans()):
                attrs["activation_alpha"] = [float(v) for v in rng.uniform(0.1, 0.9, nab)]
                attrs["activation_beta"] = [float(v) for v in rng.uniform(-0.5, 0.5, nab)]
        if op == "LSTM" and draw(st.booleans()):
            attrs["input_forget"] = 1
    if op == "GRU" and draw(st.booleans()):
        attrs["linear_before_reset"] = 1
    return ins, attrs


def node_inputs(op, ins):
    order = ["X", "W", "R", "B", "seq_lens", "h0"] + (["c0", "P"] if op == "LSTM" else [])
    lst = [ins.get(k) for k in order]
    while lst and lst[-1] is None:
        lst.pop()
    return lst


def run_ours(op, ins, attrs, dtype=np.float32):
    lst = node_inputs(op, ins)
    lst = [a if a is None or a.dtype == np.int32 else a.astype(dtype) for a in lst]
    n_out = 3 if op == "LSTM" else 2
    opset = 14 if attrs.get("layout") else 13
    return run_op(op, lst, attrs=attrs, n_outputs=n_out, opset=opset)


def check_vs_reference(op, ins, attrs, dtype=np.float32, rtol=1e-4, atol=1e-5):
    got = run_ours(op, ins, attrs, dtype)
    cast = lambda a: None if a is None or a.dtype == np.int32 else a.astype(dtype).astype(np.float32)
    ref_ins = {k: (v if k == "seq_lens" else cast(v)) for k, v in ins.items()}
    want = rnn_reference(
        op,
        ref_ins["X"],
        ref_ins["W"],
        ref_ins["R"],
        ref_ins.get("B"),
        ref_ins.get("seq_lens"),
        ref_ins.get("h0"),
        ref_ins.get("c0"),
        ref_ins.get("P"),
        **attrs,
    )
    assert len(got) == len(want)
    for g, w, name in zip(got, want, ["Y", "Y_h", "Y_c"]):
        assert g.dtype == np.dtype(dtype), name
        assert g.shape == w.shape, f"{name}: {g.shape} vs {w.shape}"
        np.testing.assert_allclose(g.astype(np.float64), w, rtol=rtol, atol=atol, err_msg=name)


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@given(data=st.data())
def test_vs_numpy_reference(op, data):
    ins, attrs = data.draw(problems(op))
    check_vs_reference(op, ins, attrs)


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@given(data=st.data())
def test_vs_onnxruntime(op, data):
    # onnxruntime's CPU kernels handle layout 0 only; plain activations keep its fast paths comparable.
    ins, attrs = data.draw(problems(op, exotic=False))
    if attrs.get("layout"):
        return
    lst = node_inputs(op, ins)
    n_out = 3 if op == "LSTM" else 2
    want = run_onnxruntime(op, lst, attrs=attrs, n_outputs=n_out, opset=13)
    got = run_op(op, lst, attrs=attrs, n_outputs=n_out, opset=13)
    for g, w, name in zip(got, want, ["Y", "Y_h", "Y_c"]):
        assert g.shape == w.shape, name
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@given(data=st.data())
def test_half_precision(op, dtype, data):
    import ml_dtypes

    dt = np.float16 if dtype == "float16" else ml_dtypes.bfloat16
    ins, attrs = data.draw(problems(op, exotic=False))
    tol = 2e-2 if dtype == "float16" else 6e-2
    check_vs_reference(op, ins, attrs, dtype=dt, rtol=tol, atol=tol)


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_larger_problem(op, rng):
    # Sizes past the blocking of the GEMM paths, bidirectional (directions run in parallel).
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    seq, batch, inp, hid = 7, 5, 37, 70
    ins = {
        "X": rng.standard_normal((seq, batch, inp)).astype(np.float32),
        "W": (rng.standard_normal((2, G * hid, inp)) * 0.2).astype(np.float32),
        "R": (rng.standard_normal((2, G * hid, hid)) * 0.2).astype(np.float32),
        "B": (rng.standard_normal((2, 2 * G * hid)) * 0.2).astype(np.float32),
        "seq_lens": np.array([7, 3, 1, 6, 7], np.int32),
        "h0": rng.standard_normal((2, batch, hid)).astype(np.float32),
    }
    check_vs_reference(op, ins, {"hidden_size": hid, "direction": "bidirectional"})


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("layout", [0, 1])
def test_empty_sequence_and_batch(op, layout):
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    for seq, batch in [(0, 2), (3, 0)]:
        X = np.zeros((batch, seq, 3) if layout else (seq, batch, 3), np.float32)
        W = np.ones((1, G * 2, 3), np.float32) * 0.1
        R = np.ones((1, G * 2, 2), np.float32) * 0.1
        got = run_op(op, [X, W, R], attrs={"hidden_size": 2, "layout": layout}, n_outputs=2, opset=14)
        want = rnn_reference(op, X, W, R, layout=layout)
        for g, w in zip(got, want):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, atol=1e-6)


def _model(op, outputs, n_in=3, opset=13, **attrs):
    names = ["X", "W", "R"][:n_in]
    node = helper.make_node(op, names, outputs, **attrs)
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    ins = [
        helper.make_tensor_value_info("X", TensorProto.FLOAT, ["s", "b", 3]),
        helper.make_tensor_value_info("W", TensorProto.FLOAT, [1, G * 4, 3]),
        helper.make_tensor_value_info("R", TensorProto.FLOAT, [1, G * 4, 4]),
    ]
    outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs if o]
    g = helper.make_graph([node], "g", ins, outs)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_only_final_state_output(op, rng):
    # Y omitted (empty name): only Y_h (and Y_c) are produced, with symbolic seq/batch dims.
    outs = ["", "yh"] + (["yc"] if op == "LSTM" else [])
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    eng = r1.InferenceEngine(r1.Model(r1.load_onnx(_model(op, outs, hidden_size=4))))
    X = rng.standard_normal((5, 2, 3)).astype(np.float32)
    W = (rng.standard_normal((1, G * 4, 3)) * 0.5).astype(np.float32)
    R = (rng.standard_normal((1, G * 4, 4)) * 0.5).astype(np.float32)
    got = eng.run([X, W, R])
    want = rnn_reference(op, X, W, R)
    np.testing.assert_allclose(got["yh"], want[1], rtol=1e-4, atol=1e-5)
    if op == "LSTM":
        np.testing.assert_allclose(got["yc"], want[2], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_bad_attributes(op):
    with pytest.raises(r1.ModelError, match="not supported"):
        r1.InferenceEngine(
            r1.Model(r1.load_onnx(_model(op, ["y"], activations=["Bogus"] * {"LSTM": 3, "GRU": 2, "RNN": 1}[op])))
        )
    with pytest.raises(r1.ModelError, match="not supported"):
        r1.InferenceEngine(r1.Model(r1.load_onnx(_model(op, ["y"], direction="sideways"))))


def test_bad_shapes():
    X = np.zeros((2, 1, 3), np.float32)
    W = np.zeros((1, 8, 5), np.float32)  # input size 5 != 3
    R = np.zeros((1, 8, 2), np.float32)
    with pytest.raises((r1.InputError, r1.ModelError)):
        run_op("LSTM", [X, W, R], attrs={"hidden_size": 2})
