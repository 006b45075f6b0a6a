"""The .r1 file: round trip, mmap'd weights, and every kind of damage raising ModelError."""

import struct
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import numpy_helper

import deepseek_r1 as r1
from helpers.small_models import add_relu_model, reference_add_relu


@pytest.fixture(scope="module")
def r1_file(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("r1file")
    model = add_relu_model(width=64)
    onnx_path = tmp_path / "m.onnx"
    onnx.save(model, onnx_path)
    out = r1.ModelConverter(input_model=str(onnx_path), framework="onnx", output_path=tmp_path / "m.r1").convert()
    return model, out


def test_round_trip_same_outputs_and_ir(r1_file, tmp_path):
    model, path = r1_file
    direct = r1.InferenceEngine(r1.Model(r1.load_onnx(model)))
    loaded = r1.InferenceEngine(path)
    x = np.random.default_rng(1).standard_normal((3, 64)).astype(np.float32)
    np.testing.assert_array_equal(direct.run({"x": x})["y"], loaded.run({"x": x})["y"])
    np.testing.assert_allclose(loaded.run({"x": x})["y"], reference_add_relu(model, x), rtol=1e-6)
    assert str(direct.model.graph) == str(loaded.model.graph)
    assert loaded.model.metadata["framework"] == "onnx"
    # Saving the loaded model again gives a byte-identical file.
    again = tmp_path / "again.r1"
    r1.save_model(loaded.model, again)
    assert open(path, "rb").read() == open(again, "rb").read()


def test_weights_are_page_aligned_for_direct_reads(tmp_path):
    """Version 3: the weights section and every blob of 4 KiB or more start on a 4 KiB page of the file (what an
    O_DIRECT read needs); smaller blobs are packed at 64 bytes."""
    from helpers.serve_fixtures import matmul_model

    model = matmul_model(64, seed=3)  # W: 16 KiB, b: 256 bytes
    path = tmp_path / "m.r1"
    r1.save_model(r1.Model(r1.load_onnx(model)), path)
    data = open(path, "rb").read()
    assert data[:8] == b"R1MODEL\0" and struct.unpack_from("<I", data, 8)[0] == r1._core.R1_FORMAT_VERSION == 5
    weights_offset = struct.unpack_from("<Q", data, 40)[0]
    assert weights_offset % 4096 == 0
    w, b = (numpy_helper.to_array(t) for t in model.graph.initializer)
    at_w, at_b = data.find(w.tobytes()), data.find(b.tobytes())
    assert at_w >= weights_offset and at_w % 4096 == 0
    assert at_b >= weights_offset and at_b % 64 == 0


def test_a_version_2_file_still_loads():
    """A file written by the previous format version (64-byte blobs), kept in the repository (17 KB)."""
    data = Path(__file__).parent / "data"
    path = data / "matmul64_v2.r1"
    assert struct.unpack_from("<I", path.read_bytes(), 8)[0] == 2
    x = np.random.default_rng(0).standard_normal((2, 64)).astype(np.float32)
    y = r1.InferenceEngine(path).run({"x": x})["y"]
    np.testing.assert_array_equal(y, np.load(data / "matmul64_v2_y.npy"))
    assert y.dtype == np.float32


def test_wrong_version_is_rejected(r1_file, tmp_path):
    _, path = r1_file
    data = bytearray(open(path, "rb").read())
    struct.pack_into("<I", data, 8, 99)
    bad = tmp_path / "v99.r1"
    bad.write_bytes(bytes(data))
    with pytest.raises(r1.ModelError, match="format version 99"):
        r1.load_model(bad)


@pytest.mark.parametrize("cut", [0, 10, 63, 64, 100, -1])
def test_truncated_file_is_rejected(r1_file, tmp_path, cut):
    _, path = r1_file
    data = open(path, "rb").read()
    bad = tmp_path / "cut.r1"
    bad.write_bytes(data[:cut] if cut >= 0 else data[:-1])
    with pytest.raises(r1.ModelError):
        r1.load_model(bad)


@given(pos=st.integers(min_value=0, max_value=10**9), flip=st.integers(min_value=1, max_value=255))
def test_any_corrupted_byte_is_rejected(r1_file, tmp_path_factory, pos, flip):
    _, path = r1_file
    data = bytearray(open(path, "rb").read())
    pos %= len(data)
    data[pos] ^= flip
    bad = tmp_path_factory.getbasetemp() / "flip.r1"
    bad.write_bytes(bytes(data))
    with pytest.raises(r1.ModelError):
        r1.load_model(bad)


@given(junk=st.binary(min_size=0, max_size=300))
def test_random_bytes_never_crash(tmp_path_factory, junk):
    bad = tmp_path_factory.getbasetemp() / "junk.r1"
    bad.write_bytes(junk)
    with pytest.raises(r1.ModelError):
        r1.load_model(bad)


def test_corrupt_ir_with_valid_checksum_is_rejected(r1_file, tmp_path):
    """Damage inside the IR, then skip the checksum: the bounded parser must still refuse cleanly."""
    _, path = r1_file
    data = bytearray(open(path, "rb").read())
    rng = np.random.default_rng(0)
    ir_size = struct.unpack_from("<Q", data, 32)[0]
    for trial in range(200):
        d = bytearray(data)
        for p in rng.integers(64, 64 + ir_size, size=3):
            d[p] = int(rng.integers(0, 256))
        bad = tmp_path / f"ir{trial}.r1"
        bad.write_bytes(bytes(d))
        try:
            m = r1.load_model(bad, verify_checksum=False)
        except r1.ModelError:
            continue
        # A change that still parses (e.g. in a name) must give a usable model or a typed error.
        try:
            r1.InferenceEngine(m).run({m.graph.inputs[0][0]: np.ones((1, 64), np.float32)})
        except (r1.R1Error, KeyError):
            pass


def test_missing_file(tmp_path):
    with pytest.raises(r1.ModelError, match="cannot open"):
        r1.load_model(tmp_path / "nope.r1")


def test_outputs_outlive_engine_and_mapped_weights(r1_file):
    _, path = r1_file
    engine = r1.InferenceEngine(path)
    y = engine.run({"x": np.ones((2, 64), np.float32)})["y"]
    del engine
    assert np.isfinite(y).all()


def test_load_is_fast_and_does_not_copy_weights(tmp_path):
    """A 64 MB weight loads by mmap: resident memory must not grow by the weight size."""
    w = np.random.default_rng(0).standard_normal(16 * 1024 * 1024).astype(np.float32)
    from onnx import TensorProto, helper, numpy_helper

    g = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])],
        "big",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [w.size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [w.size])],
        [numpy_helper.from_array(w, "w")],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "big.r1"
    r1.save_model(r1.Model(r1.load_onnx(m)), path)
    del m, g

    def rss_kb():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))

    before = rss_kb()
    model = r1.load_model(path, verify_checksum=False)
    grown_mb = (rss_kb() - before) / 1024
    assert grown_mb < 16, f"loading grew RSS by {grown_mb:.0f} MB: weights were copied"
    assert model.graph.num_nodes == 1
    # Verifying the checksum reads every byte, but drops each verified chunk: still no 64 MB growth.
    del model
    before = rss_kb()
    model = r1.load_model(path, verify_checksum=True)
    grown_mb = (rss_kb() - before) / 1024
    assert grown_mb < 24, f"verifying the checksum left {grown_mb:.0f} MB resident"
    assert model.graph.num_nodes == 1


def test_prepacked_weights_do_not_stay_resident_twice(tmp_path):
    """A GEMM weight repacked at load stops counting in RSS in its mapped form (one copy, not two)."""
    rng = np.random.default_rng(1)
    from onnx import TensorProto, helper, numpy_helper

    w = rng.standard_normal((2048, 4096)).astype(np.float32)  # 32 MB
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "mm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2048])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4096])],
        [numpy_helper.from_array(w, "w")],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "mm.r1"
    r1.save_model(r1.Model(r1.load_onnx(m)), path)
    x = rng.standard_normal((2, 2048)).astype(np.float32)
    want = x @ w
    del m, g, w

    def rss_kb():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))

    before = rss_kb()
    engine = r1.InferenceEngine(path, num_threads=1)
    y = engine.run({"x": x})["y"]
    grown_mb = (rss_kb() - before) / 1024
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-3)
    # Packed (32 MB) where prepacking runs; the mapped 32 MB must not be resident as well.
    assert grown_mb < 52, f"the weight is resident twice: RSS grew by {grown_mb:.0f} MB"


def test_constant_shape_overflow_is_rejected(r1_file, tmp_path):
    """A constant whose dims multiply past 2^64 must not pass the bounds check by wrapping."""
    _, path = r1_file
    data = bytearray(open(path, "rb").read())
    # The weight 'w' has shape [64]: find its dims vector (count 1, value 64) in the IR and enlarge it.
    needle = struct.pack("<Iq", 1, 64)
    pos = data.find(needle, 64)
    assert pos > 0
    struct.pack_into("<q", data, pos + 4, 2**62 + 1)
    bad = tmp_path / "ovf.r1"
    bad.write_bytes(bytes(data))
    with pytest.raises(r1.ModelError):
        r1.load_model(bad, verify_checksum=False)
