"""Inter-op parallelism: branch_scheduling puts independent GEMMs side by side (the IR), the executor
runs them concurrently, one per thread, and the results equal step-by-step execution, over many runs,
shape changes and concurrent callers."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deepseek_r1 as r1
from helpers import graph_builders as gb
from helpers.graph_builders import F, node

SEEDS = st.integers(0, 2**31 - 1)
HID = 24


def _qkv_model(rng, branches=3, bias=True):
    # Branch i reaches its projection through i cheap ops, so a plain topological order starts the
    # projections at different depths, interleaved with each other's reshapes (as exporters do);
    # branch_scheduling runs the cheap ops first and puts the projections side by side.
    nodes, outs, inits = [], [], {"shape": np.array([0, 0, 4, HID // 4], np.int64)}
    for i in range(branches):
        src = "x"
        for j in range(i):
            nodes.append(node("Neg", [src], [f"n{i}_{j}"]))
            src = f"n{i}_{j}"
        if bias:
            nodes += [node("MatMul", [src, f"w{i}"], [f"p{i}"]), node("Add", [f"p{i}", f"b{i}"], [f"a{i}"])]
        else:
            nodes.append(node("MatMul", [src, f"w{i}"], [f"a{i}"]))
        nodes += [
            node("Reshape", [f"a{i}", "shape"], [f"r{i}"]),
            node("Transpose", [f"r{i}"], [f"t{i}"], perm=[0, 2, 1, 3]),
            node("Relu", [f"t{i}"], [f"y{i}"]),
        ]
        inits[f"w{i}"] = gb.rand(rng, HID, HID)
        inits[f"b{i}"] = gb.rand(rng, HID)
        outs.append(f"y{i}")
    # A reader of two branches after the group: its inputs must still be alive when it runs.
    nodes.append(node("Add", ["a0", "a1"], ["sum01"]))
    outs.append("sum01")
    return gb.model(nodes, [("x", F, ["batch", "seq", HID])], outs, inits)


def _engine(m, threads, inter_op=True, level=3):
    return r1.InferenceEngine(
        r1.Model(r1.load_onnx(m)), optimization_level=level, num_threads=threads, inter_op=inter_op
    )


def _projection_positions(ops):
    return [i for i, o in enumerate(ops) if o in ("MatMul", "FusedMatMul")]


def test_branch_scheduling_ir_puts_projections_side_by_side():
    m = _qkv_model(np.random.default_rng(0), bias=False)
    pos = _projection_positions(_engine(m, 1).graph.op_types())
    assert len(pos) == 3 and pos == list(range(pos[0], pos[0] + 3)), _engine(m, 1).graph.op_types()
    # Without the pass the exporter's order stays: projections interleaved with their reshapes.
    ops = r1.InferenceEngine(
        r1.Model(r1.load_onnx(m)), num_threads=1, disabled_passes=["branch_scheduling"]
    ).graph.op_types()
    pos = _projection_positions(ops)
    assert len(pos) == 3 and pos != list(range(pos[0], pos[0] + 3)), ops


@given(SEEDS, st.integers(1, 3), st.integers(1, 9))
def test_branch_scheduling_outputs(seed, b, s):
    rng = np.random.default_rng(seed)
    m = _qkv_model(rng, bias=bool(seed % 2))
    gb.assert_close(*gb.compare(m, {"x": gb.rand(rng, b, s, HID)}, level=3), rtol=1e-5, atol=1e-6)


def test_groups_depend_on_threads():
    m = _qkv_model(np.random.default_rng(0))
    assert _engine(m, 1).parallel_groups == 0
    # Three projections on two threads: one group of two, the third alone (it then uses both threads).
    assert _engine(m, 2).parallel_groups == 1
    assert _engine(m, 3).parallel_groups == 1
    assert _engine(m, 4).parallel_groups == 1


def test_dependent_ops_never_share_a_group():
    rng = np.random.default_rng(1)
    m = gb.model(
        [node("MatMul", ["x", "w0"], ["h"]), node("MatMul", ["h", "w1"], ["y"])],
        [("x", F, [3, 8])],
        ["y"],
        {"w0": gb.rand(rng, 8, 8), "w1": gb.rand(rng, 8, 8)},
    )
    assert _engine(m, 2).parallel_groups == 0


@given(SEEDS, st.integers(2, 3), st.lists(st.tuples(st.integers(1, 3), st.integers(1, 40)), min_size=1, max_size=4))
def test_concurrent_groups_match_step_by_step(seed, threads, shapes):
    rng = np.random.default_rng(seed)
    m = _qkv_model(rng)
    on, off = _engine(m, threads, True), _engine(m, threads, False)
    assert on.parallel_groups >= 1
    # Repeat each shape: the first run records a plan, the later ones run the groups concurrently.
    for b, s in shapes + shapes:
        x = gb.rand(rng, b, s, HID)
        want = off.run({"x": x})
        got = on.run({"x": x})
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-6, atol=1e-6, err_msg=k)


def test_concurrent_callers_with_groups():
    rng = np.random.default_rng(2)
    m = _qkv_model(rng)
    eng = _engine(m, 2)
    ref = _engine(m, 1)
    xs = [gb.rand(rng, 2, 7 + i, HID) for i in range(4)]
    wants = [ref.run({"x": x}) for x in xs]
    errors = []

    def worker(i):
        try:
            for r in range(25):
                j = (i + r) % len(xs)
                got = eng.run({"x": xs[j]})
                for k in wants[j]:
                    np.testing.assert_allclose(got[k], wants[j][k], rtol=1e-6, atol=1e-6)
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_errors_inside_a_group_propagate():
    rng = np.random.default_rng(3)
    m = _qkv_model(rng)
    eng = _engine(m, 2)
    eng.run({"x": gb.rand(rng, 1, 5, HID)})
    eng.run({"x": gb.rand(rng, 1, 5, HID)})
    with pytest.raises(r1.InputError):
        eng.run({"x": gb.rand(rng, 1, 5, HID + 1)})
    # The engine still works afterwards.
    out = eng.run({"x": gb.rand(rng, 1, 5, HID)})
    assert out["y0"].shape == (1, 4, 5, HID // 4)


def test_switch_off_and_on():
    eng = _engine(_qkv_model(np.random.default_rng(4)), 2)
    assert eng.inter_op
    eng.inter_op = False
    assert not eng.inter_op
    eng.inter_op = True
    assert eng.inter_op


def test_profile_reports_every_op_type():
    rng = np.random.default_rng(5)
    eng = _engine(_qkv_model(rng), 2)
    rep = eng.profile({"x": gb.rand(rng, 2, 9, HID)}, runs=4, warmup=1)
    assert rep.runs == 4 and rep.threads == 2 and rep.wall_ms > 0
    assert {k.removeprefix("r1::") for k in rep.by_op} == set(eng.graph.op_types())
    assert sum(rep.op_nodes.values()) == len(eng.graph.op_types())
    assert rep.kernel_ms > 0 and all(ms >= 0 for ms in rep.by_op.values())
    assert "slowest nodes" in str(rep)
    # Profiling is off again afterwards, and a bad run count is refused.
    assert not eng._executor.profiling
    with pytest.raises(ValueError, match="runs"):
        eng.profile({"x": gb.rand(rng, 2, 9, HID)}, runs=0)
