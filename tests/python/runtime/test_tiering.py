"""Memory tiering: weights stream from their .r1 file under a memory budget (runtime/weight_streamer.h).

Outputs are bit-identical to the resident engine's at every budget (hypothesis over budgets, prefetch depths,
batch sizes); the budget too small for one step is an error naming the smallest that works, and that budget
runs; a budget too small for an input's activations fails that run with DeviceError and the engine runs a smaller
input next; the two-stage disk -> host -> device path runs on sim:0; a file truncated or corrupted under a
streaming engine is a ModelError, never a crash or a hang; an unwritable offload_dir is an error at construction.
Peak memory in a child process: tests/python/runtime/test_tiering_rss.py.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deepseek_r1 as r1
from deepseek_r1 import DeviceError, InputError, ModelError
from helpers.llama_onnx import LlamaShape, build_llama, llama_inputs

SHAPE = LlamaShape(hidden=128, inter=352, layers=4, vocab=512, heads=4)  # 30 weights of 64-256 KiB, 3.9 MiB
SMALL_READS = {"cpu": "8MiB"}


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    d = tmp_path_factory.mktemp("llama")
    onnx_path = build_llama(d / "llama.onnx", SHAPE)
    r1_path = r1.ModelConverter(str(onnx_path), output_path=d / "llama.r1", target_hardware="native").convert()
    return {"onnx": onnx_path, "r1": r1_path, "dir": d}


@pytest.fixture(scope="module")
def reference(llama):
    eng = r1.InferenceEngine(llama["r1"], num_threads=2)
    return lambda feeds: eng.run(feeds)["logits"]


def _same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def _min_budget(path, **kw) -> int:
    with pytest.raises(InputError, match="smallest budget that can work is") as e:
        r1.InferenceEngine(path, memory_budget={"cpu": 64 << 10}, **kw)
    return int(re.search(r"smallest budget that can work is (\d+) bytes", str(e.value)).group(1))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    frac=st.floats(0.0, 1.2),
    prefetch=st.sampled_from(["auto", "off", 1, 3]),
    batch=st.integers(1, 3),
    seq=st.integers(2, 12),
)
def test_outputs_are_bit_identical_to_the_resident_engine_at_any_budget(llama, reference, frac, prefetch, batch, seq):
    low = _min_budget(llama["r1"])
    # Activations of these inputs are < 1 MiB; the weights are 3.9 MiB.
    budget = low + (1 << 20) + int(frac * SHAPE.weight_bytes())
    eng = r1.InferenceEngine(llama["r1"], num_threads=2, memory_budget={"cpu": budget}, prefetch=prefetch)
    feeds = llama_inputs(SHAPE, batch, seq, seed=batch * 100 + seq)
    want = reference(feeds)
    for _ in range(3):  # the first run records a plan (streams everything); later ones keep some resident
        _same(eng.run(feeds)["logits"], want)
    rep = eng.tiering_report()
    assert rep["enabled"] and rep["runs"] == 3
    # (Stored packed for this CPU: up to 48-column panels, a little larger than the plain weights.)
    assert rep["weights"] == 30 and SHAPE.weight_bytes() * 0.99 <= rep["weight_bytes"] <= SHAPE.weight_bytes() * 1.2
    # Every weight not resident is read once a run (none is read by two steps here).
    assert rep["streamed_bytes_last_run"] == rep["weight_bytes"] - rep["resident_weight_bytes"]
    if rep["resident_weights"] < rep["weights"]:
        assert rep["streamed_bytes_last_run"] > 0
    # Everything the engine holds is counted in the pool; activations may go past it by what a kernel allocates.
    assert rep["pool_peak_bytes"] <= budget + (1 << 20)


def test_onnx_model_spills_to_offload_dir_and_streams(llama, reference, tmp_path):
    feeds = llama_inputs(SHAPE, 2, 8)
    eng = r1.InferenceEngine(llama["onnx"], memory_budget={"cpu": "6MiB"}, offload_dir=tmp_path)
    for _ in range(2):
        _same(eng.run(feeds)["logits"], reference(feeds))
    assert eng.tiering_report()["streamed_bytes_last_run"] > 0
    assert list(tmp_path.iterdir()) == []  # the spill file is unlinked: nothing is left behind


def test_too_small_a_budget_names_the_smallest_that_works_and_that_one_runs(llama, reference):
    low = _min_budget(llama["r1"])
    assert SHAPE.hidden * SHAPE.vocab * 4 <= low < SHAPE.weight_bytes() + (16 << 20)
    feeds = llama_inputs(SHAPE, 1, 2)
    # At the smallest budget plus room for this tiny input's activations, every weight streams and it runs.
    eng = r1.InferenceEngine(llama["r1"], memory_budget={"cpu": low + (256 << 10)})
    for _ in range(2):
        _same(eng.run(feeds)["logits"], reference(feeds))
    assert eng.tiering_report()["resident_weights"] < 30


def test_activations_past_the_budget_fail_that_run_and_the_engine_runs_smaller_inputs(llama, reference):
    low = _min_budget(llama["r1"])
    eng = r1.InferenceEngine(llama["r1"], memory_budget={"cpu": low + (256 << 10)})
    big = llama_inputs(SHAPE, 8, 256)  # attention scores alone: 8 x 4 x 256 x 256 x 4 B = 8 MiB
    with pytest.raises(DeviceError, match=r"too small for this input.*give the engine at least \d+ bytes"):
        eng.run(big)
    small = llama_inputs(SHAPE, 1, 4)
    _same(eng.run(small)["logits"], reference(small))


def test_bad_budgets_and_offload_dirs_are_errors_at_construction(llama, tmp_path):
    path = llama["r1"]
    for bad in ({"cpu": "lots"}, {"gpu": "1GiB"}, {"cpu": -5}, "cpu", {}):
        with pytest.raises(ValueError):
            r1.InferenceEngine(path, memory_budget=bad)
    with pytest.raises(ValueError, match="no entry for the engine's device 'cpu'"):
        r1.InferenceEngine(path, memory_budget={"sim:0": "1GiB"})
    with pytest.raises(ValueError, match="offload_dir '/proc' is not writable"):
        r1.InferenceEngine(path, memory_budget=SMALL_READS, offload_dir="/proc")
    with pytest.raises(ValueError, match="is not a directory"):
        r1.InferenceEngine(path, memory_budget=SMALL_READS, offload_dir=tmp_path / "missing")
    with pytest.raises(ValueError, match="needs mmap=True"):
        r1.InferenceEngine(path, memory_budget=SMALL_READS, mmap=False)
    for bad in ("soon", -1, 1.5):
        with pytest.raises(ValueError, match="prefetch"):
            r1.InferenceEngine(path, memory_budget=SMALL_READS, prefetch=bad)


def test_the_two_stage_gpu_path_on_sim(llama):
    r1._core._register_sim_device()
    feeds = llama_inputs(SHAPE, 2, 8)
    want = r1.InferenceEngine(llama["r1"], device="sim:0").run(feeds)["logits"]
    eng = r1.InferenceEngine(llama["r1"], device="sim:0", memory_budget={"sim:0": "3MiB", "cpu": "64MiB"})
    for _ in range(3):
        _same(eng.run(feeds)["logits"], want)
    rep = eng.tiering_report()
    assert rep["streamed_bytes_last_run"] > 0 and 0 < rep["resident_weights"] < rep["weights"]
    assert eng.placement["device_constant_bytes"] < 1 << 20  # streamed weights are not uploaded up front


def test_a_shared_pool_runs_two_engines_in_one_budget_and_keeps_the_recent_one_resident(llama, reference):
    a = r1.InferenceEngine(llama["r1"])
    b = r1.InferenceEngine(llama["r1"])
    a.set_memory_pool(7, shared=True)  # 7 MiB: not enough for both to keep their 3.9 MiB each
    b.set_memory_pool(7, shared=True)
    feeds = llama_inputs(SHAPE, 2, 6)
    want = reference(feeds)
    errors: list[BaseException] = []

    def loop(eng):
        try:
            for _ in range(5):
                _same(eng.run(feeds)["logits"], want)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=loop, args=(e,)) for e in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    ra = a.tiering_report()
    assert ra["budget_bytes"] == {"cpu": 7 << 20} and ra["pool_peak_bytes"] <= (7 << 20) + (1 << 20)
    # The model used most recently keeps its weights; the one used before gave them back for it.
    for first, second in ((a, b), (b, a)):
        for _ in range(2):
            first.run(feeds)
        assert first.tiering_report()["loaded_weight_bytes"] == first.tiering_report()["weight_bytes"]
        for _ in range(2):
            second.run(feeds)
        assert second.tiering_report()["loaded_weight_bytes"] == second.tiering_report()["weight_bytes"]
        assert first.tiering_report()["loaded_weight_bytes"] < first.tiering_report()["weight_bytes"] // 2


@pytest.mark.parametrize("how", ["truncate", "corrupt"])
def test_file_changed_under_a_streaming_engine_is_a_model_error_never_a_crash(llama, tmp_path, how):
    path = tmp_path / "m.r1"
    path.write_bytes(open(llama["r1"], "rb").read())
    eng = r1.InferenceEngine(path, memory_budget={"cpu": "9MiB"}, prefetch="off")
    feeds = llama_inputs(SHAPE, 2, 8)
    eng.run(feeds)
    size = os.path.getsize(path)
    stop = threading.Event()

    def change():
        stop.wait(0.005)
        with open(path, "r+b") as f:
            if how == "truncate":
                f.truncate(size // 2)
            else:
                f.seek(size - (1 << 20))
                f.write(os.urandom(1 << 19))

    t = threading.Thread(target=change)
    t.start()
    with pytest.raises(ModelError, match="m.r1"):
        for _ in range(1000):
            eng.run(feeds)
    t.join()
    # The engine is not wedged: the next run fails the same way at once, and nothing it held is lost.
    with pytest.raises(ModelError):
        eng.run(feeds)
    rep = eng.tiering_report()
    assert rep["pool_used_bytes"] <= rep["budget_bytes"]["cpu"]


def test_the_command_line_takes_a_budget_and_writes_a_trace(llama, tmp_path, capsys):
    from deepseek_r1.cli import main

    args = ["--memory-budget", "cpu=3MiB", "--dim", "batch=2", "--dim", "seq=8"]
    assert main(["run", str(llama["r1"]), *args]) == 0
    out = capsys.readouterr().out
    assert "tiering: budget cpu=3.1 MB" in out and "weights resident" in out
    trace = tmp_path / "run.json"
    assert main(["profile", str(llama["r1"]), *args, "--runs", "2", "--warmup", "1", "--trace", str(trace)]) == 0
    events = json.loads(trace.read_text())["traceEvents"]
    lanes = {e["tid"] for e in events if e["ph"] == "X"}
    assert lanes >= {0, 1}  # compute steps and disk reads
    assert any(e["name"].startswith("read ") for e in events if e["ph"] == "X")
    assert main(["run", str(llama["r1"]), "--memory-budget", "cpu=lots"]) == 2  # a clear error, not a traceback


@pytest.mark.parametrize("prefetch", ["auto", "off"])
def test_between_runs_the_next_runs_first_weights_are_read_ahead(llama, reference, prefetch):
    feeds = llama_inputs(SHAPE, 2, 8)
    eng = r1.InferenceEngine(llama["r1"], memory_budget={"cpu": "3MiB"}, prefetch=prefetch)
    for _ in range(3):
        _same(eng.run(feeds)["logits"], reference(feeds))
    deadline = time.monotonic() + 5
    rep = eng.tiering_report()
    while prefetch == "auto" and rep["loaded_weight_bytes"] == rep["resident_weight_bytes"]:
        assert time.monotonic() < deadline, "nothing was read ahead for the next run"
        time.sleep(0.01)
        rep = eng.tiering_report()
    assert rep["resident_weights"] < rep["weights"]  # some weights stream at this budget
    if prefetch == "off":  # reading on demand only: nothing but the resident weights stays between runs
        time.sleep(0.1)
        assert eng.tiering_report()["loaded_weight_bytes"] == rep["resident_weight_bytes"]
    _same(eng.run(feeds)["logits"], reference(feeds))  # the preloaded weights are the right ones


def test_the_report_says_how_far_ahead_the_measured_speeds_need_reads(llama, reference):
    feeds = llama_inputs(SHAPE, 2, 8)
    eng = r1.InferenceEngine(llama["r1"], memory_budget={"cpu": "3MiB"})
    assert eng.tiering_report()["prefetch_steps_needed"] is None  # nothing measured yet
    for _ in range(3):
        _same(eng.run(feeds)["logits"], reference(feeds))
    rep = eng.tiering_report()
    steps = eng._executor.num_steps
    # At least the step being read for and one more weight-reading step ahead, and never past the run.
    assert isinstance(rep["prefetch_steps_needed"], int)
    assert 2 <= rep["prefetch_steps_needed"] <= steps
    # A number the engine takes.
    fixed = r1.InferenceEngine(llama["r1"], memory_budget={"cpu": "3MiB"}, prefetch=rep["prefetch_steps_needed"])
    _same(fixed.run(feeds)["logits"], reference(feeds))
