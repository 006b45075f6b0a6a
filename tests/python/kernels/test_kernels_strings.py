"""The string element type: StringConcat, StringSplit, RegexFullMatch, StringNormalizer and Equal against Python's
own string functions; strings in and out of the engine (object and numpy str arrays), through .r1, and the
ModelError of an op that does not take them."""

from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto, helper

import deepseek_r1 as r1
from helpers.op_harness import run_op

WORDS = st.sampled_from(["", "a", "ab", "hello", "a b", " x  y ", "a,b,,c", "naïve", "日本", "x--y--"])


def _arr(draw_list, shape):
    return np.array(draw_list, dtype=object).reshape(shape)


def _strings(data, shape):
    n = int(np.prod(shape)) if shape else 1
    return _arr([data.draw(WORDS) for _ in range(n)], shape)


@given(st.data(), st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple))
def test_string_concat_and_equal(data, shape):
    a = _strings(data, shape)
    b = _strings(data, shape[-1:] if shape else ())  # broadcast
    (y,) = run_op("StringConcat", [a, b], opset=20)
    want = np.frompyfunc(lambda u, v: u + v, 2, 1)(a, b)
    assert y.dtype == object and y.shape == np.shape(want)
    assert y.tolist() == np.asarray(want).tolist()
    (e,) = run_op("Equal", [a, b], opset=19)
    np.testing.assert_array_equal(e, np.asarray(np.frompyfunc(lambda u, v: u == v, 2, 1)(a, b)).astype(bool))


@given(st.data(), st.sampled_from([None, "", ",", "--", " "]), st.sampled_from([None, 0, 1, 2]))
def test_string_split(data, delim, maxsplit):
    x = _strings(data, (data.draw(st.integers(1, 4)),))
    attrs = {} if delim is None else {"delimiter": delim}
    if maxsplit is not None:
        attrs["maxsplit"] = maxsplit
    y, z = run_op("StringSplit", [x], attrs=attrs, n_outputs=2, opset=20)
    sep = delim or None
    parts = [s.split(sep, -1 if maxsplit is None else maxsplit) for s in x]
    assert z.dtype == np.int64 and z.tolist() == [len(p) for p in parts]
    most = max(len(p) for p in parts)
    assert y.shape == (len(x), most)
    assert y.tolist() == [p + [""] * (most - len(p)) for p in parts]


@given(st.data(), st.sampled_from([r"a.*", r"[a-z]+", r"\w+@(gmail|yahoo)\.com", r"", r"x--y--"]))
def test_regex_full_match(data, pattern):
    x = _strings(data, (3,))
    x[0] = "me@gmail.com"
    (y,) = run_op("RegexFullMatch", [x], attrs={"pattern": pattern}, opset=20)
    assert y.dtype == np.bool_
    assert y.tolist() == [re.fullmatch(pattern, s) is not None for s in x]


@given(st.sampled_from(["NONE", "LOWER", "UPPER"]), st.booleans(), st.booleans())
def test_string_normalizer(action, sensitive, two_d):
    words = ["Monday", "tuesday", "MONDAY", "wednesday"]
    x = np.array(words, dtype=object).reshape((1, 4) if two_d else (4,))
    attrs = {"case_change_action": action, "is_case_sensitive": int(sensitive), "stopwords": ["monday"]}
    (y,) = run_op("StringNormalizer", [x], attrs=attrs, opset=10)
    kept = [w for w in words if (w if sensitive else w.lower()) != "monday"]
    kept = [w.lower() if action == "LOWER" else w.upper() if action == "UPPER" else w for w in kept] or [""]
    assert y.tolist() == ([kept] if two_d else kept)


def test_strings_in_and_out_and_r1(tmp_path):
    s = TensorProto.STRING
    g = helper.make_graph(
        [helper.make_node("StringConcat", ["a", "b"], ["c"]), helper.make_node("Identity", ["c"], ["d"])],
        "g",
        [helper.make_tensor_value_info("a", s, [2]), helper.make_tensor_value_info("b", s, [2])],
        [helper.make_tensor_value_info("d", s, [2])],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])
    onnx.save(model, tmp_path / "s.onnx")
    path = r1.ModelConverter(input_model=str(tmp_path / "s.onnx"), output_path=str(tmp_path / "s.r1")).convert()
    for engine in (r1.InferenceEngine(r1.Model(r1.load_onnx(model))), r1.InferenceEngine(path)):
        assert engine.inputs[0].dtype == "string"
        out = engine.run({"a": np.array(["x", "é"]), "b": np.array(["1", "2"], dtype=object)})["d"]
        assert out.dtype == object and out.tolist() == ["x1", "é2"]


def test_string_errors(tmp_path):
    with pytest.raises(r1.ModelError, match="Transpose does not support an input of dtype string"):
        run_op("Transpose", [np.array(["a", "b"], dtype=object)])
    with pytest.raises(r1.ModelError, match="pattern '\\(' is not a valid regular expression"):
        run_op("RegexFullMatch", [np.array(["a"], dtype=object)], attrs={"pattern": "("}, opset=20)
    s = TensorProto.STRING
    g = helper.make_graph(
        [helper.make_node("StringConcat", ["a", "k"], ["c"])],
        "g",
        [helper.make_tensor_value_info("a", s, [1])],
        [helper.make_tensor_value_info("c", s, [1])],
        [helper.make_tensor("k", s, [1], [b"!"])],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])
    assert r1.InferenceEngine(r1.Model(r1.load_onnx(model))).run({"a": np.array(["hi"])})["c"].tolist() == ["hi!"]
    onnx.save(model, tmp_path / "k.onnx")
    with pytest.raises(r1.ModelError, match="holds strings, which .r1 files cannot store yet"):
        r1.ModelConverter(input_model=str(tmp_path / "k.onnx"), output_path=str(tmp_path / "k.r1")).convert()
