"""input_check: the one check of a model's inputs that InferenceEngine and the server's batcher share.

The shape rules are held to the executor's own (cpp/r1/runtime/executor.cc): for random input specs and random
arrays, input_check.check_shapes raises exactly the InputError message the engine raises, or both accept.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

import deepseek_r1 as r1
from deepseek_r1.engine import TensorInfo
from deepseek_r1.input_check import arrange, check_inputs, check_shapes

DIMS = st.one_of(st.integers(1, 3), st.sampled_from(["A", "B"]), st.none())
SPECS = st.lists(st.lists(DIMS, max_size=3), min_size=1, max_size=3)  # one dim list per input


def identity_engine(shapes) -> r1.InferenceEngine:
    """Inputs i0, i1, ... (float32, the given dims: ints, symbols or None), each passed through to an output."""
    names = [f"i{k}" for k in range(len(shapes))]
    g = helper.make_graph(
        [helper.make_node("Identity", [n], [n + "_out"]) for n in names],
        "identity",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in zip(names, shapes)],
        [helper.make_tensor_value_info(n + "_out", TensorProto.FLOAT, None) for n in names],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    return r1.InferenceEngine(r1.Model(r1.load_onnx(model)), num_threads=1)


def _error(fn, *args):
    try:
        fn(*args)
    except r1.InputError as e:
        return str(e)
    return None


@st.composite
def specs_and_arrays(draw, faults=("none", "rank", "dim", "symbol")):
    """Input dims and one float32 array per input, shaped as declared (each symbol bound to one size), then with
    one fault: none, a dim added or dropped (rank), one dim resized (fixed, symbolic or None), or one use of a
    symbol resized."""
    shapes = draw(SPECS)
    sizes = {"A": draw(st.integers(0, 3)), "B": draw(st.integers(0, 3))}
    arrays = [
        [d if isinstance(d, int) else sizes[d] if isinstance(d, str) else draw(st.integers(0, 3)) for d in dims]
        for dims in shapes
    ]
    kind = draw(st.sampled_from(faults))
    k = draw(st.integers(0, len(arrays) - 1))
    if kind == "rank":
        arrays[k] = arrays[k][:-1] if arrays[k] and draw(st.booleans()) else [*arrays[k], draw(st.integers(1, 3))]
    elif kind == "dim" and arrays[k]:
        i = draw(st.integers(0, len(arrays[k]) - 1))
        arrays[k][i] = draw(st.integers(0, 4).filter(lambda n: n != arrays[k][i]))
    elif kind == "symbol":  # one use of a symbol resized: a conflict wherever the symbol is used twice
        uses = [(k, i) for k, dims in enumerate(shapes) for i, d in enumerate(dims) if isinstance(d, str)]
        if uses:
            k, i = draw(st.sampled_from(uses))
            arrays[k][i] = draw(st.integers(0, 4).filter(lambda n: n != arrays[k][i]))
    return shapes, [np.zeros(shape, np.float32) for shape in arrays]


@settings(max_examples=80)
@given(case=specs_and_arrays())
def test_shape_check_says_what_the_executor_says(case):
    shapes, arrays = case
    engine = identity_engine(shapes)
    ours = _error(check_shapes, engine.inputs, arrays)
    theirs = _error(engine.run, arrays)
    assert ours == theirs


@settings(max_examples=30)
@given(case=specs_and_arrays(faults=("none",)))
def test_conforming_inputs_pass_and_keep_their_order(case):
    shapes, arrays = case
    specs = [TensorInfo(f"i{k}", "float32", tuple(s)) for k, s in enumerate(shapes)]
    given_dict = {s.name: a for s, a in reversed(list(zip(specs, arrays)))}  # any dict order
    got = check_inputs(specs, given_dict)
    assert list(got) == [s.name for s in specs]
    assert all(got[s.name] is a for s, a in zip(specs, arrays))  # checked, never copied or converted


SPECS_XY = [TensorInfo("x", "float32", ("batch", 8)), TensorInfo("ids", "int64", ("batch", "seq"))]
X, IDS = np.zeros((2, 8), np.float32), np.zeros((2, 5), np.int64)


@pytest.mark.parametrize(
    "inputs,message",
    [
        (
            {"x": X, "ids": IDS, "mask": IDS},
            r"unknown input name\(s\) \['mask'\]; the model's inputs are \['x', 'ids'\]",
        ),
        ({"x": X}, r"missing input\(s\) \['ids'\]; the model's inputs are \['x', 'ids'\]"),
        ([X], r"the model takes 2 inputs \['x', 'ids'\], got 1"),
        (X, "inputs must be a dict of name -> array or a list of arrays, got ndarray"),
        ({"x": X.astype(np.float64), "ids": IDS}, "input 'x' must be float32, got float64"),
        ({"x": X, "ids": IDS.astype(np.int32)}, "input 'ids' must be int64, got int32"),
        ({"x": X, "ids": np.array([["a"] * 5] * 2)}, "input 'ids' must be int64, got <U1"),
    ],
)
def test_names_count_and_dtypes(inputs, message):
    with pytest.raises(r1.InputError, match=message):
        arrange(SPECS_XY, inputs)


@pytest.mark.parametrize(
    "x,ids,message",
    [
        (X[0], IDS, r"input 'x' must have shape \[batch, 8\] \(rank 2\), got \[8\] \(rank 1\)"),
        (X[:, :7], IDS, r"input 'x' must have shape \[batch, 8\], got \[2, 7\] \(dim 1 must be 8\)"),
        (X, IDS[:1], r"dim 'batch' is 2 in input 'x' but 1 in input 'ids'"),
    ],
)
def test_shapes_name_the_input_the_expected_and_the_given(x, ids, message):
    with pytest.raises(r1.InputError, match=message):
        check_inputs(SPECS_XY, {"x": x, "ids": ids})


def test_list_and_single_array_inputs_arrange_in_model_order():
    assert [a.dtype for a in arrange(SPECS_XY, (X, IDS))] == [np.float32, np.int64]
    (only,) = arrange(SPECS_XY[:1], X)  # a one-input model takes the bare array
    assert only is X
    with pytest.raises(r1.InputError, match="must be a dict"):
        check_inputs(SPECS_XY, [X, IDS])  # the batcher's requests are always named


def test_unknown_rank_is_not_checked():
    assert check_inputs([TensorInfo("x", "float32", None)], {"x": np.zeros((2, 3, 4), np.float32)})
