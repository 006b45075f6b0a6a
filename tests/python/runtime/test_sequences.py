"""ONNX sequence and optional values (issue 13, item 3): sequence ops against numpy, sequences and optionals as
model inputs and outputs (Python lists and None), a Loop that builds a sequence against onnxruntime, the .r1 round
trip, and the errors of a wrong kind of input."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto, helper

import deepseek_r1 as r1
from helpers.dtype_arrays import seeds


def _seq_info(name, elem=TensorProto.FLOAT):
    return helper.make_value_info(name, helper.make_sequence_type_proto(helper.make_tensor_type_proto(elem, None)))


def _model(nodes, inputs, outputs, opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _engine(model, **kw):
    return r1.InferenceEngine(r1.Model(r1.load_onnx(model)), **kw)


@given(seeds(), st.integers(1, 4), st.integers(1, 5), st.data())
def test_split_insert_erase_concat(seed, rows, cols, data):
    """SplitToSequence -> SequenceInsert -> SequenceErase -> SequenceAt / SequenceLength / ConcatFromSequence."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    extra = rng.standard_normal((1, cols)).astype(np.float32)
    pos = data.draw(st.integers(-rows, rows))
    erase = data.draw(st.integers(-(rows + 1), rows))
    at = data.draw(st.integers(-rows, rows - 1))
    nodes = [
        helper.make_node("SplitToSequence", ["x"], ["s"], axis=0),
        helper.make_node("SequenceInsert", ["s", "extra", "pos"], ["s2"]),
        helper.make_node("SequenceErase", ["s2", "erase"], ["s3"]),
        helper.make_node("SequenceLength", ["s3"], ["n"]),
        helper.make_node("SequenceAt", ["s3", "at"], ["item"]),
        helper.make_node("ConcatFromSequence", ["s3"], ["cat"], axis=0),
        helper.make_node("ConcatFromSequence", ["s3"], ["stack"], axis=0, new_axis=1),
    ]
    f = TensorProto.FLOAT
    model = _model(
        nodes,
        [helper.make_tensor_value_info("x", f, [rows, cols]), helper.make_tensor_value_info("extra", f, [1, cols])]
        + [helper.make_tensor_value_info(n, TensorProto.INT64, []) for n in ("pos", "erase", "at")],
        [
            helper.make_tensor_value_info(n, t, None)
            for n, t in (("n", TensorProto.INT64), ("item", f), ("cat", f), ("stack", f))
        ],
    )
    items = list(np.split(x, rows, axis=0))
    items.insert(pos if pos >= 0 else pos + rows, extra)
    del items[erase]
    feeds = {"x": x, "extra": extra, "pos": np.array(pos), "erase": np.array(erase), "at": np.array(at)}
    got = _engine(model).run(feeds)
    assert got["n"] == len(items) and got["n"].dtype == np.int64
    np.testing.assert_array_equal(got["item"], items[at])
    np.testing.assert_array_equal(got["cat"], np.concatenate(items, axis=0))
    np.testing.assert_array_equal(got["stack"], np.stack(items, axis=0))


def test_sequence_and_optional_inputs_and_outputs(tmp_path):
    """A list in, a list out (SequenceInsert), an optional that is None or holds a value; also through .r1."""
    nodes = [
        helper.make_node("SequenceInsert", ["seq", "t"], ["out_seq"]),
        helper.make_node("OptionalHasElement", ["opt"], ["has"]),
    ]
    opt = helper.make_value_info(
        "opt", helper.make_optional_type_proto(helper.make_tensor_type_proto(TensorProto.FLOAT, None))
    )
    model = _model(
        nodes,
        [_seq_info("seq"), helper.make_tensor_value_info("t", TensorProto.FLOAT, [2]), opt],
        [_seq_info("out_seq"), helper.make_tensor_value_info("has", TensorProto.BOOL, [])],
        opset=18,
    )
    src = tmp_path / "seq.onnx"
    onnx.save(model, src)
    path = r1.ModelConverter(input_model=str(src), output_path=str(tmp_path / "seq.r1")).convert()
    for engine in (_engine(model), r1.InferenceEngine(path)):
        assert [i.kind for i in engine.inputs] == ["sequence", "tensor", "optional"]
        assert [o.kind for o in engine.outputs] == ["sequence", "tensor"]
        a, b = np.ones((3,), np.float32), np.arange(2, dtype=np.float32)
        out = engine.run({"seq": [a], "t": b, "opt": None})
        assert isinstance(out["out_seq"], list) and len(out["out_seq"]) == 2
        np.testing.assert_array_equal(out["out_seq"][1], b)
        assert not out["has"]
        assert engine.run({"seq": [], "t": b, "opt": b})["has"]
        with pytest.raises(r1.InputError, match="'seq' is a sequence: pass a list of arrays"):
            engine.run({"seq": a, "t": b, "opt": None})
        with pytest.raises(r1.InputError, match="each element of input 'seq' must be float32"):
            engine.run({"seq": [a.astype(np.int32)], "t": b, "opt": None})


@pytest.mark.parametrize("trips", [0, 1, 4])
def test_loop_builds_a_sequence(trips):
    """A Loop carrying a sequence, inserting one tensor per iteration, against onnxruntime."""
    f = TensorProto.FLOAT
    body = helper.make_graph(
        [
            helper.make_node("Cast", ["i"], ["fi"], to=f),
            helper.make_node("Mul", ["fi", "x"], ["v"]),
            helper.make_node("SequenceInsert", ["acc", "v"], ["acc_out"]),
            helper.make_node("Identity", ["c"], ["c_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
            _seq_info("acc"),
        ],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []), _seq_info("acc_out")],
    )
    model = _model(
        [
            helper.make_node("SequenceEmpty", [], ["empty"], dtype=f),
            helper.make_node("Loop", ["M", "", "empty"], ["seq"], body=body),
            helper.make_node("SequenceLength", ["seq"], ["n"]),
        ],
        [helper.make_tensor_value_info("M", TensorProto.INT64, []), helper.make_tensor_value_info("x", f, [3])],
        [_seq_info("seq"), helper.make_tensor_value_info("n", TensorProto.INT64, [])],
    )
    feeds = {"M": np.array(trips, np.int64), "x": np.array([1, 2, 3], np.float32)}
    got = _engine(model).run(feeds)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    want_seq, want_n = sess.run(None, feeds)
    assert got["n"] == want_n == trips
    assert len(got["seq"]) == len(want_seq)
    for g, w in zip(got["seq"], want_seq):
        np.testing.assert_array_equal(g, w)
