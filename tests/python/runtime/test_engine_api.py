"""InferenceEngine / ModelConverter API: inputs as dict or list, metadata, dynamic shapes, batching."""

import threading

import numpy as np
import onnx
import pytest

import deepseek_r1 as r1
from helpers.small_models import add_relu_model, reference_add_relu, two_input_model


@pytest.fixture
def engine():
    return r1.InferenceEngine(r1.Model(r1.load_onnx(add_relu_model(width=8))))


def test_metadata(engine):
    assert [(t.name, t.dtype, t.shape) for t in engine.inputs] == [("x", "float32", ("batch", 8))]
    assert [(t.name, t.dtype, t.shape) for t in engine.outputs] == [("y", "float32", ("batch", 8))]
    assert engine.num_threads >= 1


def test_dict_list_and_array_inputs_agree(engine):
    x = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
    a = engine.run({"x": x})["y"]
    np.testing.assert_array_equal(a, engine.run([x])["y"])
    np.testing.assert_array_equal(a, engine.run(x)["y"])


@pytest.mark.parametrize("batch", [1, 3, 17, 0])
def test_dynamic_batch_without_reconversion(engine, batch):
    model = add_relu_model(width=8)
    x = np.random.default_rng(batch).standard_normal((batch, 8)).astype(np.float32)
    np.testing.assert_allclose(engine.run({"x": x})["y"], reference_add_relu(model, x), rtol=1e-6)


def test_non_contiguous_input_is_handled(engine):
    x = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32).T
    model = add_relu_model(width=8)
    np.testing.assert_allclose(engine.run({"x": x})["y"], reference_add_relu(model, x), rtol=1e-6)


def test_batch_infer_matches_single_runs(engine):
    rng = np.random.default_rng(0)
    samples = [{"x": rng.standard_normal((1, 8)).astype(np.float32)} for _ in range(10)]
    outs = engine.batch_infer(samples, batch_size=4)
    assert len(outs) == 10
    for s, o in zip(samples, outs):
        np.testing.assert_array_equal(o["y"], engine.run(s)["y"])
    # Samples without the batch dim get one.
    outs2 = engine.batch_infer([{"x": s["x"][0]} for s in samples], batch_size=64)
    np.testing.assert_array_equal(outs2[3]["y"], outs[3]["y"])


def test_batch_infer_groups_different_shapes():
    e = r1.InferenceEngine(r1.Model(r1.load_onnx(two_input_model())))
    rng = np.random.default_rng(0)
    samples = []
    for seq in (3, 5, 3, 7, 5):
        a = rng.standard_normal((1, seq)).astype(np.float32)
        samples.append({"a": a, "b": a * 2})
    outs = e.batch_infer(samples, batch_size=2)
    for s, o in zip(samples, outs):
        np.testing.assert_allclose(o["z"], np.maximum(s["a"] * 3, 0), rtol=1e-6)


def test_concurrent_runs_from_threads(engine):
    model = add_relu_model(width=8)
    errors = []

    def worker(seed):
        try:
            rng = np.random.default_rng(seed)
            for _ in range(50):
                x = rng.standard_normal((4, 8)).astype(np.float32)
                np.testing.assert_allclose(engine.run({"x": x})["y"], reference_add_relu(model, x), rtol=1e-6)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_onnx_path_and_bytes_sources(tmp_path):
    m = add_relu_model(width=8)
    p = tmp_path / "m.onnx"
    onnx.save(m, p)
    x = np.ones((1, 8), np.float32)
    a = r1.InferenceEngine(str(p)).run({"x": x})["y"]
    b = r1.InferenceEngine(r1.Model(r1.load_onnx(m.SerializeToString()))).run({"x": x})["y"]
    np.testing.assert_array_equal(a, b)


def test_converter_default_output_name(tmp_path):
    p = tmp_path / "net.onnx"
    onnx.save(add_relu_model(), p)
    out = r1.ModelConverter(input_model=str(p), framework="onnx", target_hardware="cpu").convert()
    assert out.endswith("net.r1")
    assert r1.InferenceEngine(out).inputs[0].name == "x"


def test_ir_printer_shows_types_and_symbols(engine):
    text = str(engine.model.graph)
    assert "%y: float32[batch, 8] = Relu(%t)" in text
    assert "Add(%x, %w)" in text


def test_external_data_is_mapped(tmp_path):
    m = add_relu_model(width=1024)
    x = np.random.default_rng(0).standard_normal((2, 1024)).astype(np.float32)
    want = reference_add_relu(m, x)  # before saving: onnx.save moves the weights out of `m`
    path = tmp_path / "ext.onnx"
    onnx.save(
        m, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location="weights.bin", size_threshold=0
    )
    assert (tmp_path / "weights.bin").exists()
    np.testing.assert_allclose(r1.InferenceEngine(str(path)).run({"x": x})["y"], want, rtol=1e-6)


def test_devices_lists_cpu():
    assert "cpu" in r1.devices()


def test_outputs_viewing_weights_or_inputs_are_read_only():
    """An output that is a weight (or an Identity of an input) must not let callers change the model."""
    from onnx import TensorProto, helper, numpy_helper

    g = helper.make_graph(
        [
            helper.make_node("Identity", ["w"], ["wi"]),
            helper.make_node("Identity", ["x"], ["xi"]),
            helper.make_node("Add", ["x", "w"], ["y"]),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2]) for n in ("wi", "xi", "y")],
        [numpy_helper.from_array(np.ones(2, np.float32), "w")],
    )
    e = r1.InferenceEngine(r1.Model(r1.load_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))))
    out = e.run({"x": np.zeros(2, np.float32)})
    with pytest.raises(ValueError, match="read-only"):
        out["wi"][:] = 100
    with pytest.raises(ValueError, match="read-only"):
        out["xi"][:] = 100
    out["y"][:] = 5  # engine-owned memory stays writable
    np.testing.assert_array_equal(e.run({"x": np.zeros(2, np.float32)})["y"], [1, 1])


def test_interpreter_exit_with_daemon_threads_running():
    """Daemon threads inside run() at shutdown: CPython ends them mid-call; the process must exit cleanly."""
    import subprocess
    import sys

    code = """
import threading, time, numpy as np, deepseek_r1 as r1, sys
sys.path.insert(0, {!r})
from helpers.small_models import add_relu_model
e = r1.InferenceEngine(r1.Model(r1.load_onnx(add_relu_model(width=4096))), num_threads=2)
x = np.ones((64, 4096), np.float32)
def loop():
    while True:
        e.run({{"x": x}})
for _ in range(2):
    threading.Thread(target=loop, daemon=True).start()
time.sleep(0.3)
print("exit")
""".format(str(__import__("pathlib").Path(__file__).parents[1]))
    for _ in range(3):
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr[-2000:]
        assert "exit" in p.stdout
