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
from helpers.skip_model import build_skip_model

ROWS, WIDTH, CHAIN = 4096, 256, 10  # 4 MiB activations, 256 KiB weights
MIB = 1 << 20


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("skips")
    path = build_skip_model(d / "skips.onnx", WIDTH, CHAIN)
    x = np.random.default_rng(3).standard_normal((ROWS, WIDTH)).astype(np.float32)
    want = r1.InferenceEngine(path, num_threads=2).run({"x": x})["y"]
    return {"path": path, "x": x, "want": want}


def test_a_decoder_reads_its_skip_back_while_a_step_computes(tmp_path):
    """With a MatMul before each skip is added, the plan can start the read a step early (lead 1): three activations
    instead of four, and outputs identical."""
    path = build_skip_model(tmp_path / "unet.onnx", WIDTH, CHAIN, decoder=True)
    x = np.random.default_rng(5).standard_normal((ROWS, WIDTH)).astype(np.float32)
    want = r1.InferenceEngine(path, num_threads=2).run({"x": x})["y"]
    off = tmp_path / "off"
    off.mkdir()
    eng = r1.InferenceEngine(path, num_threads=2, memory_budget={"cpu": "20MiB"}, offload_dir=off)
    for _ in range(3):
        _same(eng.run({"x": x})["y"], want)
    rep = eng.tiering_report()
    assert rep["spilled_activations"] == 1 and rep["spilled_bytes_last_run"] == 8 * MIB
    assert _arena(eng) == 12 * MIB
    assert rep["pool_peak_bytes"] <= 20 * MIB + (1 << 20)  # (as in test_tiering: a kernel may allocate past it)


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
    assert rep["spilled_bytes_total"] >= 2 * rep["spilled_bytes_last_run"]  # (the first run let values go too)
    assert _arena(eng) <= full_arena - 4 * MIB
    # Everything the engine holds is counted, the spill file's bounce buffer too, and fits the budget.
    assert rep["pool_peak_bytes"] <= 17 * MIB
    assert os.listdir(tmp_path) == []  # the spill file (and the weights' file) are unlinked


def test_the_first_run_of_a_shape_lets_values_go_to_stay_within_the_budget(model, tmp_path):
    """The run that records a plan has no plan to spill with: it lets the value read again latest go to disk while
    its activations exceed the budget, and reads it back when a step needs it."""
    eng = r1.InferenceEngine(model["path"], num_threads=2, memory_budget={"cpu": "17MiB"}, offload_dir=tmp_path)
    _same(eng.run({"x": model["x"]})["y"], model["want"])
    rep = eng.tiering_report()
    assert rep["runs"] == 1 and rep["spilled_activations"] >= 1 and rep["spilled_bytes_last_run"] >= 8 * MIB
    assert rep["pool_peak_bytes"] <= 17 * MIB + (1 << 20)  # (as in test_tiering: a kernel may allocate past it)
    free = r1.InferenceEngine(model["path"], num_threads=2, memory_budget={"cpu": "256MiB"}, offload_dir=tmp_path)
    free.run({"x": model["x"]})
    assert free.tiering_report()["spilled_activations"] == 0
    assert free.tiering_report()["pool_peak_bytes"] >= 16 * MIB  # what the first run holds with nothing let go


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
    shutil.rmtree(d)  # (the spill file is made at the first spill, and lives on unlinked from then on)
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


def build_grouped_model(path) -> str:
    """q = x @ wq and k = x @ wk side by side (one group at 2 threads), s = q + k, a chain on s, then + q + k at the
    end: q and k are long-lived, and k's storage starts (widened to its group) a step before the step that writes
    it."""
    rng = np.random.default_rng(11)
    inits, nodes = [], []

    def weight(name):
        w = (rng.standard_normal((WIDTH, WIDTH)) / np.sqrt(WIDTH)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, name))
        return name

    nodes.append(helper.make_node("MatMul", ["x", weight("wq")], ["q"], name="q"))
    nodes.append(helper.make_node("MatMul", ["x", weight("wk")], ["k"], name="k"))
    nodes.append(helper.make_node("Add", ["q", "k"], ["s"], name="s"))
    prev = "s"
    for i in range(8):
        nodes.append(helper.make_node("MatMul", [prev, weight(f"w{i}")], [f"c{i}"], name=f"c{i}"))
        prev = f"c{i}"
    nodes.append(helper.make_node("Add", [prev, "q"], ["t"], name="skip_q"))
    nodes.append(helper.make_node("Add", ["t", "k"], ["y"], name="skip_k"))
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["rows", WIDTH]) for n in ("x", "y")]
    graph = helper.make_graph(nodes, "grouped", io[:1], io[1:], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return str(path)


def test_spills_with_steps_run_side_by_side(tmp_path):
    """At 2 threads q and k form a group (their lifetimes widen to it); the spilling runs go step by step and
    write each value out only after the step that makes it (plan_spills' `made`)."""
    path = build_grouped_model(tmp_path / "grouped.onnx")
    x = np.random.default_rng(2).standard_normal((ROWS, WIDTH)).astype(np.float32)
    want = r1.InferenceEngine(path, num_threads=1).run({"x": x})["y"]
    off = tmp_path / "off"
    off.mkdir()
    eng = r1.InferenceEngine(path, num_threads=2, memory_budget={"cpu": "14MiB"}, offload_dir=off)
    assert eng._executor.parallel_groups >= 1  # q and k run side by side on runs that do not spill
    for _ in range(3):
        _same(eng.run({"x": x})["y"], want)
    assert eng.tiering_report()["spilled_activations"] >= 1
