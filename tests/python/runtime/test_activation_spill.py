"""Activation spilling under a memory budget (memory/spill_planner.h, runtime/activation_spill.h).

A U-Net-like model: a chain of MatMuls whose first two results are read again only at the end (skip
connections). Under a budget that cannot hold them next to the chain, the plan writes them to an unlinked file in
offload_dir after their last early read and reads them back before the late one. Outputs stay bit-identical to
the resident engine's at every budget (hypothesis), the arena shrinks, nothing is left in offload_dir, and a
spill that cannot be written (offload_dir gone) fails the run with a DeviceError naming it; the engine runs again
once the directory is back.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import deepseek_r1 as r1
from deepseek_r1 import DeviceError

ROWS, WIDTH, CHAIN = 4096, 256, 10  # 4 MiB activations, 256 KiB weights
MIB = 1 << 20


def build_skip_model(path) -> str:
    rng = np.random.default_rng(7)
    inits, nodes = [], []
    prev = "x"
    for k in range(CHAIN):
        w = (rng.standard_normal((WIDTH, WIDTH)) / np.sqrt(WIDTH)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"w{k}"))
        nodes.append(helper.make_node("MatMul", [prev, f"w{k}"], [f"h{k}"], name=f"mm{k}"))
        prev = f"h{k}"
    nodes.append(helper.make_node("Add", [prev, "h1"], ["s1"], name="skip1"))
    nodes.append(helper.make_node("Add", ["s1", "h0"], ["y"], name="skip0"))
    graph = helper.make_graph(
        nodes,
        "skips",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["rows", WIDTH])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["rows", WIDTH])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return str(path)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("skips")
    path = build_skip_model(d / "skips.onnx")
    x = np.random.default_rng(3).standard_normal((ROWS, WIDTH)).astype(np.float32)
    want = r1.InferenceEngine(path, num_threads=2).run({"x": x})["y"]
    return {"path": path, "x": x, "want": want}


def _same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def _arena(eng) -> int:
    return eng._executor.memory_report()["arena_bytes"]


def test_skips_spill_under_a_tight_budget_and_outputs_stay_identical(model, tmp_path):
    free = r1.InferenceEngine(model["path"], num_threads=2, memory_budget={"cpu": "256MiB"}, offload_dir=tmp_path)
    for _ in range(2):
        _same(free.run({"x": model["x"]})["y"], model["want"])
    assert free.tiering_report()["spilled_activations"] == 0
    full_arena = _arena(free)
    assert full_arena >= 16 * MIB  # two skips and two chain results

    eng = r1.InferenceEngine(model["path"], num_threads=2, memory_budget={"cpu": "17MiB"}, offload_dir=tmp_path)
    for _ in range(3):  # the first run records the plan; the next ones spill
        _same(eng.run({"x": model["x"]})["y"], model["want"])
    rep = eng.tiering_report()
    assert rep["spilled_activations"] >= 1
    # Written once and read back once per spilled 4 MiB activation.
    assert rep["spilled_bytes_last_run"] == 2 * rep["spilled_activations"] * 4 * MIB
    assert rep["spilled_bytes_total"] == 2 * rep["spilled_bytes_last_run"]
    assert _arena(eng) <= full_arena - 4 * MIB
    # Everything the engine holds is counted, the spill file's bounce buffer too, and fits the budget.
    assert rep["pool_peak_bytes"] <= 17 * MIB
    assert os.listdir(tmp_path) == []  # the spill file (and the weights' file) are unlinked


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(budget_mib=st.integers(6, 40))
def test_outputs_are_bit_identical_at_every_budget(model, tmp_path, budget_mib):
    eng = r1.InferenceEngine(
        model["path"], num_threads=2, memory_budget={"cpu": budget_mib * MIB}, offload_dir=tmp_path
    )
    for _ in range(2):
        _same(eng.run({"x": model["x"]})["y"], model["want"])
    # Another input shape records and plans its own spills.
    half = model["x"][: ROWS // 2]
    _same(eng.run({"x": half})["y"], r1.InferenceEngine(model["path"], num_threads=2).run({"x": half})["y"])
    _same(eng.run({"x": half})["y"], r1.InferenceEngine(model["path"], num_threads=2).run({"x": half})["y"])


def test_a_spill_that_cannot_be_written_fails_the_run_and_the_engine_recovers(model, tmp_path):
    d = tmp_path / "offload"
    d.mkdir()
    eng = r1.InferenceEngine(model["path"], num_threads=2, memory_budget={"cpu": "17MiB"}, offload_dir=d)
    _same(eng.run({"x": model["x"]})["y"], model["want"])  # records (nothing spills yet)
    shutil.rmtree(d)
    with pytest.raises(DeviceError, match="offload_dir"):
        eng.run({"x": model["x"]})
    d.mkdir()
    _same(eng.run({"x": model["x"]})["y"], model["want"])
    assert eng.tiering_report()["spilled_activations"] >= 1


def test_the_trace_shows_spill_copies(model, tmp_path):
    eng = r1.InferenceEngine(model["path"], num_threads=2, memory_budget={"cpu": "17MiB"}, offload_dir=tmp_path)
    eng.run({"x": model["x"]})
    ex = eng._executor
    ex.tracing = True
    eng.run({"x": model["x"]})
    names = [name for lane, name, _, _ in ex.take_trace() if lane == 1]
    assert any(n.startswith("spill ") for n in names) and any(n.startswith("read back ") for n in names)
