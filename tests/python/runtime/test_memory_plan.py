"""Static memory plan and plan cache (cpp/r1/memory/planner.cc, cpp/r1/runtime/plan*.cc).

The planner is a pure function, tested on random lifetimes: no two buffers live at the same step
overlap in memory (except an honoured in-place parent/child pair), offsets are aligned, and the
arena lies between the largest live set and the sum of all buffers. The executor is tested by
comparing planned runs with unplanned ones (memory_planning=False: infer and allocate per node)
on small graphs built here, graphs whose shapes depend on data, and the cached real models.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import deepseek_r1 as r1
from deepseek_r1 import _core

ALIGN = _core.PLAN_ALIGNMENT


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


# --------------------------------------------------------------------------------------------------
# The planner on its own


@st.composite
def buffer_lists(draw):
    n = draw(st.integers(0, 40))
    bufs = []
    for i in range(n):
        size = draw(st.one_of(st.integers(0, 5000), st.sampled_from([64, 128, 4096])))
        parent = -1
        if i and draw(st.booleans()):
            parent = draw(st.integers(0, i - 1))
            first = bufs[parent][2]  # starts where the parent's life ends: an in-place candidate
            if draw(st.integers(0, 4)) == 0:
                first += draw(st.integers(-1, 1))  # sometimes not: the planner must refuse it
            first = max(first, 0)
        else:
            first = draw(st.integers(0, 30))
        last = first + draw(st.integers(0, 10))
        bufs.append((size, first, last, parent))
    return bufs


def _check_plan(bufs, plan):
    bufs = [tuple(b) + (-1,) * (4 - len(b)) for b in bufs]
    offs, inplace = plan["offsets"], plan["inplace"]
    assert len(offs) == len(bufs) == len(inplace)
    assert all(o % ALIGN == 0 for o in offs)
    claimed = set()
    for i, p in enumerate(inplace):
        if p < 0:
            continue
        assert p == bufs[i][3], "only the requested parent may be shared"
        assert bufs[p][2] == bufs[i][1] and bufs[p][1] < bufs[i][1], "in-place needs parent.last == child.first"
        assert _align(bufs[i][0]) <= _align(bufs[p][0])
        assert offs[i] == offs[p]
        assert p not in claimed, "a parent lends its memory to one child"
        claimed.add(p)
    pairs = {(p, i) for i, p in enumerate(inplace) if p >= 0}
    for i in range(len(bufs)):
        for j in range(i + 1, len(bufs)):
            (si, fi, li, _), (sj, fj, lj, _) = bufs[i], bufs[j]
            if si == 0 or sj == 0 or li < fj or lj < fi:
                continue
            if (i, j) in pairs or (j, i) in pairs:
                continue
            disjoint = offs[i] + si <= offs[j] or offs[j] + sj <= offs[i]
            assert disjoint, f"buffers {i} {bufs[i]} and {j} {bufs[j]} are live together and overlap"
    ends = [offs[i] + _align(b[0]) for i, b in enumerate(bufs) if b[0]]
    assert plan["arena_bytes"] == max(ends, default=0)
    assert plan["sum_bytes"] == sum(b[0] for b in bufs)
    assert plan["arena_bytes"] <= sum(_align(b[0]) for b in bufs)
    # Lower bound: at every step the live buffers need their own memory, except that a child
    # written in place over its parent needs none beyond the parent's.
    steps = {s for b in bufs for s in (b[1], b[2])}
    for t in steps:
        live = sum(_align(b[0]) for b in bufs if b[1] <= t <= b[2])
        shared = sum(_align(bufs[i][0]) for p, i in pairs if bufs[i][1] <= t <= bufs[p][2])
        assert plan["arena_bytes"] >= live - shared


@given(buffer_lists())
def test_planner_properties(bufs):
    plan = _core.plan_memory(bufs)
    _check_plan(bufs, plan)
    assert _core.plan_memory(bufs) == plan  # a pure function: same input, same plan


def test_planner_reuses_dead_buffers_and_honours_inplace():
    # A chain a -> b -> c of 4 KiB buffers: a and c never live together, so two slots suffice.
    plan = _core.plan_memory([(4096, 0, 1), (4096, 1, 2), (4096, 2, 3)])
    assert plan["arena_bytes"] == 8192 and plan["sum_bytes"] == 12288
    # With in-place links the whole chain runs in one slot.
    plan = _core.plan_memory([(4096, 0, 1), (4096, 1, 2, 0), (4096, 2, 3, 1)])
    assert plan["inplace"] == [-1, 0, 1] and plan["arena_bytes"] == 4096
    # Refused: the child is larger, or the parent is read after the child is written.
    assert _core.plan_memory([(64, 0, 1), (128, 1, 2, 0)])["inplace"] == [-1, -1]
    assert _core.plan_memory([(64, 0, 2), (64, 1, 3, 0)])["inplace"] == [-1, -1]


def test_planner_fills_gaps():
    # A big buffer dies early; a later small one fits into its hole instead of growing the arena.
    bufs = [(1 << 20, 0, 1), (4096, 0, 5), (65536, 2, 3), (4096, 4, 5)]
    plan = _core.plan_memory(bufs)
    _check_plan(bufs, plan)
    assert plan["arena_bytes"] == (1 << 20) + 4096


def test_planner_rejects_bad_input():
    with pytest.raises(r1.InputError):
        _core.plan_memory([(64, 3, 1)])
    with pytest.raises(r1.InputError):
        _core.plan_memory([(64, 0, 1, 5)])
    with pytest.raises(r1.InputError):
        _core.plan_memory([(64, 0)])


# --------------------------------------------------------------------------------------------------
# Planned runs against unplanned ones


def _model(nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return r1.Model(r1.load_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])))


def _vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def _pair(model, level=0, threads=1):
    """(planned engine, unplanned engine) over the same model."""
    a = r1.InferenceEngine(model, num_threads=threads, optimization_level=level)
    b = r1.InferenceEngine(model, num_threads=threads, optimization_level=level)
    b._executor.memory_planning = False
    return a, b


def _same(a: dict, b: dict):
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _elementwise_model(width=256):
    """Elementwise chains the planner runs in place, plus a broadcast operand, an input read twice,
    an intermediate read again later (no in-place there) and an output that is a view (Reshape)."""
    f = TensorProto.FLOAT
    w = numpy_helper.from_array(np.linspace(-1, 1, width).astype(np.float32), "w")
    shape = numpy_helper.from_array(np.array([-1], np.int64), "flat")
    nodes = [
        helper.make_node("Sigmoid", ["x"], ["e2"]),
        helper.make_node("Neg", ["x"], ["a"]),
        helper.make_node("Add", ["a", "w"], ["b"]),  # b over a (w broadcasts)
        helper.make_node("Sigmoid", ["b"], ["c"]),
        helper.make_node("Mul", ["c", "c"], ["d"]),  # the same input twice
        helper.make_node("Exp", ["d"], ["e"]),
        helper.make_node("Sub", ["row", "e"], ["g"]),  # over e (the other operand broadcasts)
        helper.make_node("Tanh", ["g"], ["h"]),
        helper.make_node("Div", ["h", "e2"], ["k"]),
        helper.make_node("Erf", ["k"], ["m"]),
        helper.make_node("Relu", ["m"], ["n"]),
        helper.make_node("Add", ["n", "k"], ["p"]),  # k is read again here: not overwritten by Erf
        helper.make_node("Abs", ["p"], ["q"]),
        helper.make_node("Reshape", ["q", "flat"], ["y"]),  # the output is a view of q's memory
    ]
    ins = [_vi("x", f, ["batch", width]), _vi("row", f, [1, width])]
    return _model(nodes, ins, [_vi("y", f, None), _vi("g", f, None)], [w, shape])


def test_elementwise_planned_matches_unplanned_and_runs_in_place():
    planned, plain = _pair(_elementwise_model())
    rng = np.random.default_rng(0)
    for batch in (4, 4, 4, 3, 4):
        feeds = {
            "x": rng.standard_normal((batch, 256)).astype(np.float32),
            "row": rng.standard_normal((1, 256)).astype(np.float32),
        }
        _same(planned.run(feeds), plain.run(feeds))
    rep = planned.memory_report()
    assert rep["plan_hits"] >= 3 and rep["plans_cached"] == 1 and rep["planned_allocations"] == 0
    assert 0 < rep["arena_bytes"] < rep["sum_intermediate_bytes"]


def test_unary_chain_runs_in_one_slot():
    """Neg -> Exp -> Sqrt -> Tanh -> Relu: every intermediate takes over its input's slot."""
    f = TensorProto.FLOAT
    ops = ["Neg", "Exp", "Sqrt", "Tanh", "Relu"]
    names = ["x"] + [f"t{i}" for i in range(len(ops) - 1)] + ["y"]
    nodes = [helper.make_node(op, [names[i]], [names[i + 1]]) for i, op in enumerate(ops)]
    planned, plain = _pair(_model(nodes, [_vi("x", f, ["n"])], [_vi("y", f, ["n"])]))
    x = np.random.default_rng(1).standard_normal(1024).astype(np.float32)
    for _ in range(3):
        _same(planned.run({"x": x}), plain.run({"x": x}))
    rep = planned.memory_report()
    assert rep["sum_intermediate_bytes"] == 4 * 4096
    assert rep["arena_bytes"] == 4096  # in place all along (without it, two slots alternate)


INPLACE_UNARY = [
    "Exp",
    "Log",
    "Sqrt",
    "Reciprocal",
    "Floor",
    "Ceil",
    "Round",
    "Sin",
    "Cos",
    "Tan",
    "Asin",
    "Acos",
    "Atan",
    "Sinh",
    "Cosh",
    "Asinh",
    "Acosh",
    "Atanh",
    "Tanh",
    "Sigmoid",
    "Erf",
    "Softsign",
    "Softplus",
    "Mish",
    "LeakyRelu",
    "Elu",
    "Selu",
    "Celu",
    "HardSigmoid",
    "HardSwish",
    "ThresholdedRelu",
    "Gelu",
    "Relu",
    "Abs",
    "Neg",
    "Sign",
    "Clip",
]


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_every_inplace_unary_op_matches_unplanned(dtype):
    """Each op of the in-place list, run over its input's memory, gives what a fresh output gives."""
    elem = TensorProto.FLOAT if dtype == np.float32 else TensorProto.FLOAT16
    names = ["x", "t0"] + [f"t{i + 1}" for i in range(len(INPLACE_UNARY))]
    nodes = [helper.make_node("Neg", ["x"], ["t0"])]
    nodes += [helper.make_node(op, [names[i + 1]], [names[i + 2]]) for i, op in enumerate(INPLACE_UNARY)]
    nodes.append(helper.make_node("Neg", [names[-1]], ["y"]))
    model = _model(nodes, [_vi("x", elem, ["n"])], [_vi("y", elem, None)], opset=20)
    planned, plain = _pair(model)
    x = (np.random.default_rng(6).standard_normal(3000) * 2).astype(dtype)
    for _ in range(3):
        _same(planned.run({"x": x}), plain.run({"x": x}))
    rep = planned.memory_report()
    assert rep["inplace_steps"] == len(INPLACE_UNARY) and rep["arena_bytes"] == _align(x.nbytes)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64, np.float16])
def test_inplace_binary_ops_match_unplanned(dtype):
    """Add/Sub/Mul/Div over either operand, with the other one broadcast, the same tensor, or full."""
    elem = {
        np.float32: TensorProto.FLOAT,
        np.int32: TensorProto.INT32,
        np.int64: TensorProto.INT64,
        np.float16: TensorProto.FLOAT16,
    }[dtype]
    nodes = [
        helper.make_node("Neg", ["x"], ["a"]),
        helper.make_node("Add", ["a", "row"], ["b"]),  # over input 0, input 1 broadcasts
        helper.make_node("Mul", ["b", "b"], ["c"]),  # the same tensor twice
        helper.make_node("Sub", ["row", "c"], ["d"]),  # over input 1, input 0 broadcasts
        helper.make_node("Neg", ["x"], ["e"]),
        helper.make_node("Div", ["d", "e"], ["f"]),  # both full: over either
        helper.make_node("Mul", ["col", "f"], ["g"]),  # over input 1, input 0 broadcasts along rows
        helper.make_node("Neg", ["g"], ["y"]),
    ]
    model = _model(
        nodes,
        [_vi("x", elem, ["r", 32]), _vi("row", elem, [1, 32]), _vi("col", elem, ["r", 1])],
        [_vi("y", elem, None)],
    )
    planned, plain = _pair(model)
    rng = np.random.default_rng(7)
    for r in (8, 8, 5, 8):
        x = rng.integers(-20, 20, (r, 32)).astype(dtype)
        x[x == 0] = 3  # Div by -x
        feeds = {
            "x": x,
            "row": rng.integers(-5, 5, (1, 32)).astype(dtype),
            "col": rng.integers(-5, 5, (r, 1)).astype(dtype),
        }
        _same(planned.run(feeds), plain.run(feeds))
    assert planned.memory_report()["inplace_steps"] >= 4


def test_outputs_survive_later_runs():
    """Outputs (including one that is a view of an intermediate) never live in the arena."""
    planned, plain = _pair(_elementwise_model())
    rng = np.random.default_rng(2)
    feeds = [
        {"x": rng.standard_normal((4, 256)).astype(np.float32), "row": rng.standard_normal((1, 256)).astype(np.float32)}
        for _ in range(3)
    ]
    kept = [planned.run(f) for f in feeds]
    for f, k in zip(feeds, kept):
        _same(k, plain.run(f))


def test_repeated_shapes_hit_the_plan_and_buckets_share_it():
    planned, plain = _pair(_elementwise_model(width=64))
    rng = np.random.default_rng(3)

    def run(batch):
        feeds = {
            "x": rng.standard_normal((batch, 64)).astype(np.float32),
            "row": rng.standard_normal((1, 64)).astype(np.float32),
        }
        _same(planned.run(feeds), plain.run(feeds))
        return planned.memory_report()

    r = run(20)
    assert (r["plan_misses"], r["plan_hits"], r["plans_cached"]) == (1, 0, 1)
    r = run(20)
    assert (r["plan_misses"], r["plan_hits"]) == (1, 1)
    r = run(17)  # same bucket (32), smaller: placed in the bucket's arena, joins its plan
    assert (r["plan_misses"], r["bucket_reuses"], r["plans_cached"], r["keys_cached"]) == (2, 1, 1, 2)
    r = run(17)
    assert r["plan_hits"] == 2
    r = run(30)  # same bucket, larger: a new layout replaces the old one and keeps its keys
    assert (r["plan_misses"], r["plans_cached"], r["keys_cached"]) == (3, 1, 3)
    r = run(20)
    assert r["plan_hits"] == 3
    for batch in (1, 2, 3, 5, 9, 33, 65, 129, 257, 513):  # many buckets: bounded
        r = run(batch)
    assert r["plans_cached"] <= 8
    assert r["replans"] == 0


def test_same_key_different_data_dependent_shapes():
    """Range over an input's value and Reshape to an input's contents: one shape key, shapes that
    follow the data. These nodes (and all after them) keep per-run inference."""
    i64, f = TensorProto.INT64, TensorProto.FLOAT
    zero = numpy_helper.from_array(np.array(0, np.int64), "zero")
    one = numpy_helper.from_array(np.array(1, np.int64), "one")
    nodes = [
        helper.make_node("Range", ["zero", "n", "one"], ["r"]),
        helper.make_node("Cast", ["r"], ["rf"], to=f),
        helper.make_node("Exp", ["rf"], ["er"]),
        helper.make_node("Reshape", ["x", "s"], ["xr"]),
        helper.make_node("Relu", ["xr"], ["xr2"]),
        helper.make_node("Add", ["xr2", "xr2"], ["y"]),
    ]
    model = _model(
        nodes,
        [_vi("n", i64, []), _vi("x", f, [12]), _vi("s", i64, [2])],
        [_vi("er", f, None), _vi("y", f, None)],
        [zero, one],
    )
    planned, plain = _pair(model)
    x = np.arange(-6, 6, dtype=np.float32)
    for n, s in [(5, (3, 4)), (9, (2, 6)), (5, (3, 4)), (2, (12, 1)), (11, (4, 3))]:
        feeds = {"n": np.array(n, np.int64), "x": x, "s": np.array(s, np.int64)}
        out = planned.run(feeds)
        _same(out, plain.run(feeds))
        assert out["er"].shape == (n,) and out["y"].shape == s
    rep = planned.memory_report()
    assert rep["plan_hits"] == 4 and rep["replans"] == 0


def test_nonzero_and_topk_with_data_dependent_sizes():
    f, i64 = TensorProto.FLOAT, TensorProto.INT64
    nodes = [
        helper.make_node("NonZero", ["x"], ["nz"]),
        helper.make_node("Transpose", ["nz"], ["nzt"]),
        helper.make_node("Cast", ["nzt"], ["nzf"], to=f),
        helper.make_node("Neg", ["nzf"], ["y"]),
        helper.make_node("TopK", ["x", "k"], ["tv", "ti"], axis=-1),
        helper.make_node("Sigmoid", ["tv"], ["ts"]),
    ]
    model = _model(
        nodes, [_vi("x", f, [6, 8]), _vi("k", i64, [1])], [_vi("y", f, None), _vi("ts", f, None), _vi("ti", i64, None)]
    )
    planned, plain = _pair(model)
    rng = np.random.default_rng(4)
    for density, k in [(0.1, 2), (0.9, 7), (0.5, 1), (0.0, 3), (1.0, 8)]:
        x = (rng.random((6, 8)) < density).astype(np.float32) * rng.standard_normal((6, 8)).astype(np.float32)
        feeds = {"x": x, "k": np.array([k], np.int64)}
        out = planned.run(feeds)
        _same(out, plain.run(feeds))
        assert out["ts"].shape == (6, k)


def test_shape_derived_range_is_planned():
    """Range over Shape(x)[1] depends only on the input shape: planned without per-run inference."""
    f = TensorProto.FLOAT
    inits = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in [("zero", 0), ("one", 1), ("idx", 1)]]
    nodes = [
        helper.make_node("Shape", ["x"], ["sh"]),
        helper.make_node("Gather", ["sh", "idx"], ["len"], axis=0),
        helper.make_node("Range", ["zero", "len", "one"], ["pos"]),
        helper.make_node("Cast", ["pos"], ["posf"], to=f),
        helper.make_node("Add", ["x", "posf"], ["a"]),
        helper.make_node("Tanh", ["a"], ["y"]),
    ]
    planned, plain = _pair(_model(nodes, [_vi("x", f, ["b", "s"])], [_vi("y", f, None)], inits))
    rng = np.random.default_rng(5)
    for shape in [(2, 7), (2, 7), (3, 5), (2, 7), (1, 40)]:
        feeds = {"x": rng.standard_normal(shape).astype(np.float32)}
        _same(planned.run(feeds), plain.run(feeds))
    assert planned.memory_report()["plan_hits"] == 2


# --------------------------------------------------------------------------------------------------
# Real models (exports cached by models.py)


def _models():
    return pytest.importorskip("helpers.models")  # imported here so the tests above run without it


def _export(name, exporter):
    models = _models()
    return models.export_for_test(name, exporter)


@pytest.mark.parametrize(
    "name,exporter", [("minilm", "legacy"), ("minilm", "dynamo"), ("lstm", "legacy"), ("mobilenet", "legacy")]
)
def test_real_models_planned_match_unplanned(name, exporter):
    spec = _models().SPECS[name]
    planned, plain = _pair(_export(name, exporter), level=3, threads=2)
    for k, size in enumerate(spec.test_sizes + spec.test_sizes[:1]):
        feeds = spec.feeds(np.random.default_rng(10 + k), **size)
        _same(planned.run(feeds), plain.run(feeds))
    rep = planned.memory_report()
    assert rep["plan_hits"] >= 1 and rep["replans"] == 0
    assert rep["planned_allocations"] == 0  # hits allocate only the graph outputs
    if name == "minilm":
        assert 0 < rep["arena_bytes"] < rep["sum_intermediate_bytes"]


def test_concurrent_runs_from_four_threads():
    spec = _models().SPECS["minilm"]
    engine = r1.InferenceEngine(_export("minilm", "legacy"), num_threads=2)
    plain = r1.InferenceEngine(engine.model, num_threads=1)
    plain._executor.memory_planning = False
    sizes = [dict(batch=2, seq=16), dict(batch=1, seq=9), dict(batch=2, seq=16), dict(batch=3, seq=12)]
    cases = [spec.feeds(np.random.default_rng(20 + i), **s) for i, s in enumerate(sizes)]
    expected = [plain.run(c) for c in cases]
    errors = []
    barrier = threading.Barrier(4)

    def worker(t):
        try:
            barrier.wait()
            for i in range(6):
                c = (t + i) % len(cases)
                out = engine.run(cases[c])
                for k in expected[c]:
                    np.testing.assert_allclose(out[k], expected[c][k], rtol=1e-5, atol=1e-6, err_msg=k)
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors[0]
    rep = engine.memory_report()
    assert rep["plan_hits"] > 0
    assert rep["arenas"] <= 4 * rep["plans_cached"]  # one arena per concurrent run at most
