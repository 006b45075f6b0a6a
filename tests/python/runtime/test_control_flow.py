"""Control flow (If, Loop, Scan) with subgraphs: nested, reading outer-scope values, compared with onnxruntime;
the IR (printer, .r1 round trip), the passes (an If on a constant folded away, outer constants moved into a
body) and the errors a malformed control-flow node gets."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import deepseek_r1 as r1
from helpers.graph_builders import SEEDS

F, I64, B = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL


def vi(name, t=TensorProto.UNDEFINED, shape=None):
    return helper.make_tensor_value_info(name, t, shape)


def make(nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "cf", inputs, [vi(o, F) for o in outputs], list(inits))  # (all float here)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def ort_run(m, feeds):
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    return dict(zip(names, s.run(None, feeds)))


def ours(m, feeds, level=3, threads=1):
    e = r1.InferenceEngine(r1.Model(r1.load_onnx(m)), optimization_level=level, num_threads=threads)
    return e.run(feeds)


def assert_match(m, feeds, level=3):
    want = ort_run(m, feeds)
    got = ours(m, feeds, level)
    assert got.keys() == want.keys()
    for k, w in want.items():
        g = got[k]
        assert g.dtype == w.dtype and g.shape == w.shape, (k, g.dtype, g.shape, w.dtype, w.shape)
        if w.dtype.kind == "f":
            scale = max(1.0, float(np.abs(w).max())) if w.size else 1.0
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6 * scale, err_msg=k)
        else:
            np.testing.assert_array_equal(g, w, err_msg=k)
    return got


# ---------------------------------------------------------------- If


def if_model(nested: bool):
    """y = cond ? relu(x) * w : (x - w) [nested: an inner If on x's sum picks +1 or -1 in the else branch].
    Both branches read x and w from the outer graph."""
    then_g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Mul", ["r", "w"], ["t_out"])],
        "then",
        [],
        [vi("t_out", F)],
    )
    else_nodes = [helper.make_node("Sub", ["x", "w"], ["e_out0"])]
    if nested:
        inner_then = helper.make_graph([helper.make_node("Add", ["e_out0", "one"], ["it"])], "it", [], [vi("it", F)])
        inner_else = helper.make_graph([helper.make_node("Sub", ["e_out0", "one"], ["ie"])], "ie", [], [vi("ie", F)])
        else_nodes += [
            helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
            helper.make_node("Greater", ["s", "zero"], ["pos"]),
            helper.make_node("If", ["pos"], ["e_out"], then_branch=inner_then, else_branch=inner_else),
        ]
    else:
        else_nodes.append(helper.make_node("Identity", ["e_out0"], ["e_out"]))
    else_g = helper.make_graph(else_nodes, "else", [], [vi("e_out", F)])
    inits = [
        numpy_helper.from_array(np.float32(1.0).reshape(()), "one"),
        numpy_helper.from_array(np.float32(0.0).reshape(()), "zero"),
    ]
    return make(
        [helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)],
        [vi("c", B, []), vi("x", F, ["n", 4]), vi("w", F, [4])],
        ["y"],
        inits,
    )


@settings(max_examples=12, deadline=None)
@given(seed=SEEDS, rows=st.integers(1, 5), cond=st.booleans(), nested=st.booleans())
def test_if_reads_outer_values_and_nests(seed, rows, cond, nested):
    rng = np.random.default_rng(seed)
    feeds = {
        "c": np.array(cond),
        "x": rng.standard_normal((rows, 4)).astype(np.float32),
        "w": rng.standard_normal(4).astype(np.float32),
    }
    assert_match(if_model(nested), feeds)
    assert_match(if_model(nested), feeds, level=0)


def test_if_branches_of_different_shapes():
    then_g = helper.make_graph([helper.make_node("Identity", ["x"], ["a"])], "t", [], [vi("a", F)])
    else_g = helper.make_graph([helper.make_node("Concat", ["x", "x"], ["b"], axis=0)], "e", [], [vi("b", F)])
    m = make(
        [helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)],
        [vi("c", B, []), vi("x", F, [2, 3])],
        ["y"],
    )
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    e = r1.InferenceEngine(r1.Model(r1.load_onnx(m)), num_threads=1)
    for c in (True, False, True):  # the same plan serves both shapes
        want = ort_run(m, {"c": np.array(c), "x": x})["y"]
        np.testing.assert_array_equal(e.run({"c": np.array(c), "x": x})["y"], want)


@pytest.mark.parametrize("cond", [True, False])
def test_if_on_a_constant_is_inlined(cond):
    m = if_model(nested=True)
    m.graph.input.pop(0)  # the condition becomes a constant
    m.graph.initializer.append(numpy_helper.from_array(np.array(cond), "c"))
    rng = np.random.default_rng(3)
    feeds = {"x": rng.standard_normal((3, 4)).astype(np.float32), "w": rng.standard_normal(4).astype(np.float32)}
    e = r1.InferenceEngine(r1.Model(r1.load_onnx(m)), num_threads=1)
    ops = e.graph.op_types()
    assert ops.count("If") == (0 if cond else 1), ops  # the outer If went; the else branch keeps its inner one
    assert_match(m, feeds)


# ---------------------------------------------------------------- Loop


def loop_model(with_cond: bool, capture_const: bool):
    """for i in range(M) while cond: acc = acc * w + i; seq = concat(seq, acc); emits acc each iteration.
    `w` is an outer input (or, with capture_const, an outer constant the body reads)."""
    body_nodes = [
        helper.make_node("Cast", ["i"], ["i_f"], to=F),
        helper.make_node("Mul", ["acc_in", "w"], ["m"]),
        helper.make_node("Add", ["m", "i_f"], ["acc_out"]),
        helper.make_node("Concat", ["seq_in", "acc_out"], ["seq_out"], axis=0),
        helper.make_node("Identity", ["acc_out"], ["scan_out"]),
    ]
    if with_cond:
        body_nodes += [
            helper.make_node("ReduceSum", ["acc_out"], ["s"], keepdims=0),
            helper.make_node("Less", ["s", "limit"], ["cond_out"]),
        ]
    else:
        body_nodes.append(helper.make_node("Identity", ["cond_in"], ["cond_out"]))
    body = helper.make_graph(
        body_nodes,
        "body",
        [vi("i", I64, []), vi("cond_in", B, []), vi("acc_in", F, [1, 3]), vi("seq_in", F, [None, 3])],
        [vi("cond_out", B, []), vi("acc_out", F, [1, 3]), vi("seq_out", F, [None, 3]), vi("scan_out", F, [1, 3])],
    )
    inits = [numpy_helper.from_array(np.float32(40.0).reshape(()), "limit")]
    inputs = [vi("M", I64, []), vi("cond", B, []), vi("acc0", F, [1, 3]), vi("seq0", F, [None, 3])]
    if capture_const:
        inits.append(numpy_helper.from_array(np.array([1.5, -0.5, 2.0], np.float32), "w"))
    else:
        inputs.append(vi("w", F, [3]))
    return make(
        [helper.make_node("Loop", ["M", "cond", "acc0", "seq0"], ["acc", "seq", "scans"], body=body)],
        inputs,
        ["acc", "seq", "scans"],
        inits,
    )


@settings(max_examples=12, deadline=None)
@given(seed=SEEDS, trips=st.integers(0, 6), with_cond=st.booleans(), capture_const=st.booleans())
def test_loop_matches_onnxruntime(seed, trips, with_cond, capture_const):
    rng = np.random.default_rng(seed)
    feeds = {
        "M": np.array(trips, np.int64),
        "cond": np.array(True),
        "acc0": rng.standard_normal((1, 3)).astype(np.float32),
        "seq0": rng.standard_normal((int(rng.integers(0, 3)), 3)).astype(np.float32),
    }
    if not capture_const:
        feeds["w"] = rng.standard_normal(3).astype(np.float32)
    m = loop_model(with_cond, capture_const)
    want = ort_run(m, feeds)
    got = ours(m, feeds)
    for k in ("acc", "seq"):
        np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-5, err_msg=k)
    if trips and want["scans"].size:  # (with no iteration, onnxruntime gives the scan output rank 1)
        np.testing.assert_allclose(got["scans"], want["scans"], rtol=1e-5, atol=1e-5)
        assert got["scans"].shape == want["scans"].shape
    else:
        assert got["scans"].shape == (0, 1, 3)


def test_loop_body_constants_move_into_the_body():
    m = loop_model(with_cond=False, capture_const=True)
    e = r1.InferenceEngine(r1.Model(r1.load_onnx(m)), num_threads=1)
    text = str(e.graph)
    loop_line = next(line for line in text.splitlines() if "= Loop(" in line)
    assert "%w" not in loop_line  # the body holds w now
    assert "%M, %cond, %acc0, %seq0)" in loop_line


def test_loop_with_neither_trip_count_nor_condition_is_an_error():
    body = helper.make_graph(
        [helper.make_node("Identity", ["c_in"], ["c_out"]), helper.make_node("Identity", ["v_in"], ["v_out"])],
        "b",
        [vi("i", I64, []), vi("c_in", B, []), vi("v_in", F, [2])],
        [vi("c_out", B, []), vi("v_out", F, [2])],
    )
    m = make([helper.make_node("Loop", ["", "", "v"], ["y"], body=body)], [vi("v", F, [2])], ["y"])
    e = r1.InferenceEngine(r1.Model(r1.load_onnx(m)), num_threads=1)
    with pytest.raises(r1.ModelError, match="neither a trip count nor a condition"):
        e.run({"v": np.ones(2, np.float32)})


# ---------------------------------------------------------------- Scan


def scan_model(in_axis, in_dir, out_axis, out_dir):
    """A running sum over a sequence axis (state) with a per-step output state * k, k an outer value."""
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "x_t"], ["s_out"]), helper.make_node("Mul", ["s_out", "k"], ["y_t"])],
        "body",
        [vi("s_in", F, [3]), vi("x_t", F, [3])],
        [vi("s_out", F, [3]), vi("y_t", F, [3])],
    )
    node = helper.make_node(
        "Scan",
        ["s0", "x"],
        ["s", "y"],
        body=body,
        num_scan_inputs=1,
        scan_input_axes=[in_axis],
        scan_input_directions=[in_dir],
        scan_output_axes=[out_axis],
        scan_output_directions=[out_dir],
    )
    x_shape = [None, 3] if in_axis == 0 else [3, None]
    return make([node], [vi("s0", F, [3]), vi("x", F, x_shape), vi("k", F, [])], ["s", "y"])


@settings(max_examples=16, deadline=None)
@given(
    seed=SEEDS,
    length=st.integers(1, 6),
    in_axis=st.sampled_from([0, 1]),
    in_dir=st.sampled_from([0, 1]),
    out_axis=st.sampled_from([0, 1]),
    out_dir=st.sampled_from([0, 1]),
)
def test_scan_matches_onnxruntime(seed, length, in_axis, in_dir, out_axis, out_dir):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((length, 3) if in_axis == 0 else (3, length)).astype(np.float32)
    feeds = {"s0": rng.standard_normal(3).astype(np.float32), "x": x, "k": np.array(rng.uniform(-2, 2), np.float32)}
    assert_match(scan_model(in_axis, in_dir, out_axis, out_dir), feeds)


# ---------------------------------------------------------------- IR: printer, .r1 round trip, errors


def test_printer_shows_subgraphs_and_r1_round_trip(tmp_path):
    m = if_model(nested=True)
    model = r1.Model(r1.load_onnx(m))
    text = str(model)
    assert "then_branch = graph(" in text and "else_branch = graph(" in text
    assert text.count("= If(") == 2  # the outer If and the one nested in its else branch
    path = r1.save_model(model, tmp_path / "if.r1")
    loaded = r1.load_model(path)
    assert str(loaded) == text
    rng = np.random.default_rng(1)
    for c in (True, False):
        feeds = {"c": np.array(c), "x": rng.standard_normal((2, 4)).astype(np.float32), "w": np.ones(4, np.float32)}
        a = r1.InferenceEngine(loaded, num_threads=1).run(feeds)["y"]
        np.testing.assert_allclose(a, ort_run(m, feeds)["y"], rtol=1e-6)


def test_converter_writes_loop_models(tmp_path):
    m = loop_model(with_cond=True, capture_const=True)
    src = tmp_path / "loop.onnx"
    onnx.save(m, src)
    path = r1.ModelConverter(input_model=str(src), framework="onnx", output_path=str(tmp_path / "loop.r1")).convert()
    feeds = {
        "M": np.array(5, np.int64),
        "cond": np.array(True),
        "acc0": np.ones((1, 3), np.float32),
        "seq0": np.zeros((1, 3), np.float32),
    }
    got = r1.InferenceEngine(path, num_threads=1).run(feeds)
    want = ort_run(m, feeds)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-5)


def test_branch_output_count_mismatch_is_a_model_error():
    then_g = helper.make_graph([helper.make_node("Identity", ["x"], ["a"])], "t", [], [vi("a", F)])
    else_g = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["b"]), helper.make_node("Identity", ["x"], ["b2"])],
        "e",
        [],
        [vi("b", F), vi("b2", F)],
    )
    m = make(
        [helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)],
        [vi("c", B, []), vi("x", F, [2])],
        ["y"],
    )
    with pytest.raises(r1.ModelError, match="'If_0'.*else_branch.*2 outputs"):
        r1.load_onnx(m)


def test_subgraph_reading_an_undefined_name_is_a_model_error():
    then_g = helper.make_graph([helper.make_node("Identity", ["nowhere"], ["a"])], "t", [], [vi("a", F)])
    m = make([helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=then_g)], [vi("c", B, [])], ["y"])
    with pytest.raises(r1.ModelError, match="nowhere"):
        r1.load_onnx(m)


def test_condition_of_the_wrong_type_is_a_model_error():
    then_g = helper.make_graph([helper.make_node("Identity", ["x"], ["a"])], "t", [], [vi("a", F)])
    m = make([helper.make_node("If", ["x"], ["y"], then_branch=then_g, else_branch=then_g)], [vi("x", F, [1])], ["y"])
    with pytest.raises(r1.ModelError, match="If's condition must be bool"):
        r1.load_onnx(m)


@settings(max_examples=10, deadline=None)
@given(seed=SEEDS, batch=st.integers(1, 3), length=st.integers(1, 5), reverse=st.booleans(), lens=st.booleans())
def test_scan_opset_8_with_batch_and_sequence_lengths(seed, batch, length, reverse, lens):
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "x_t"], ["s_out"]), helper.make_node("Mul", ["s_out", "k"], ["y_t"])],
        "body",
        [vi("s_in", F, [2]), vi("x_t", F, [2])],
        [vi("s_out", F, [2]), vi("y_t", F, [2])],
    )
    node = helper.make_node(
        "Scan", ["L" if lens else "", "s0", "x"], ["s", "y"], body=body, num_scan_inputs=1, directions=[int(reverse)]
    )
    inputs = [vi("s0", F, [None, 2]), vi("x", F, [None, None, 2]), vi("k", F, [])]
    if lens:
        inputs.insert(0, vi("L", I64, [None]))
    m = make([node], inputs, ["s", "y"], opset=8)
    m.ir_version = 3
    rng = np.random.default_rng(seed)
    feeds = {
        "s0": rng.standard_normal((batch, 2)).astype(np.float32),
        "x": rng.standard_normal((batch, length, 2)).astype(np.float32),
        "k": np.array(rng.uniform(-2, 2), np.float32),
    }
    if lens:
        feeds["L"] = rng.integers(1, length + 1, batch).astype(np.int64)  # (onnxruntime refuses 0)
    assert_match(m, feeds)


def test_optimizing_an_engine_leaves_the_models_subgraphs_alone():
    """The engine optimizes a copy: moving constants into its bodies must not change the model's own."""
    model = r1.Model(r1.load_onnx(loop_model(with_cond=False, capture_const=True)))
    before = str(model)
    feeds = {
        "M": np.array(3, np.int64),
        "cond": np.array(True),
        "acc0": np.ones((1, 3), np.float32),
        "seq0": np.zeros((0, 3), np.float32),
    }
    opt = r1.InferenceEngine(model, optimization_level=3, num_threads=1).run(feeds)
    assert str(model) == before
    plain = r1.InferenceEngine(model, optimization_level=0, num_threads=1).run(feeds)
    for k in opt:
        np.testing.assert_allclose(plain[k], opt[k], rtol=1e-6)


def test_scan_8_sequence_length_past_the_sequence_is_an_input_error():
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "x_t"], ["s_out"])],
        "body",
        [vi("s_in", F, [2]), vi("x_t", F, [2])],
        [vi("s_out", F, [2])],
    )
    node = helper.make_node("Scan", ["L", "s0", "x"], ["s"], body=body, num_scan_inputs=1)
    m = make([node], [vi("L", I64, [1]), vi("s0", F, [1, 2]), vi("x", F, [1, 3, 2])], ["s"], opset=8)
    e = r1.InferenceEngine(r1.Model(r1.load_onnx(m)), num_threads=1)
    feeds = {"L": np.array([4], np.int64), "s0": np.zeros((1, 2), np.float32), "x": np.ones((1, 3, 2), np.float32)}
    with pytest.raises(r1.InputError, match=r"sequence_lens\[0\] = 4 is outside 0..3"):
        e.run(feeds)
