"""Bad input of every kind gets a typed error that names the problem."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import deepseek_r1 as r1
from helpers.small_models import add_relu_model, two_input_model


@pytest.fixture
def engine():
    return r1.InferenceEngine(r1.Model(r1.load_onnx(add_relu_model(width=8))))


def test_unsupported_op_names_op_node_and_opset():
    g = helper.make_graph(
        [helper.make_node("FancyOp", ["x"], ["y"], name="mystery_node")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(r1.ModelError) as e:
        r1.load_onnx(m)
    msg = str(e.value)
    assert "FancyOp" in msg and "mystery_node" in msg and "opset 17" in msg


def test_corrupt_onnx_file(tmp_path):
    p = tmp_path / "bad.onnx"
    p.write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(r1.ModelError):
        r1.InferenceEngine(str(p))


def test_truncated_onnx_file(tmp_path):
    data = add_relu_model(width=256).SerializeToString()
    p = tmp_path / "cut.onnx"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(r1.ModelError):
        r1.InferenceEngine(str(p))


def test_missing_model_file(tmp_path):
    with pytest.raises(r1.ModelError, match="does not exist"):
        r1.load_onnx(str(tmp_path / "nope.onnx"))


def test_unsupported_dtype_in_model():
    g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT8E4M3FN, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT8E4M3FN, [2])],
    )
    with pytest.raises(r1.ModelError, match="FLOAT8E4M3FN"):
        r1.load_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))


def test_unsupported_opset():
    with pytest.raises(r1.ModelError, match="opset 99 is not supported"):
        r1.load_onnx(add_relu_model(opset=99))
    # Older than 7 is upgraded by onnx's version converter; one it cannot upgrade is refused, saying why.
    g = helper.make_graph(
        [helper.make_node("Pad", ["x"], ["y"], paddings=[0, 1])],  # opset 1's Pad: no adapter to opset 2
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])],
    )
    with pytest.raises(r1.ModelError, match="opset 1 is not supported .* could not upgrade"):
        r1.load_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 1)]))


def test_undefined_tensor_reference():
    g = helper.make_graph(
        [helper.make_node("Add", ["x", "ghost"], ["y"], name="n0")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    with pytest.raises(r1.ModelError, match="ghost"):
        r1.load_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))


def test_graph_cycle():
    g = helper.make_graph(
        [helper.make_node("Add", ["x", "b"], ["a"], name="n0"), helper.make_node("Relu", ["a"], ["b"], name="n1")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("b", TensorProto.FLOAT, [2])],
    )
    with pytest.raises(r1.ModelError, match="cycle"):
        r1.load_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))


def test_incompatible_static_shapes_at_compile_time():
    a = onnx.numpy_helper.from_array(np.ones((3,), np.float32), "w")
    g = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"], name="bad_add")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        [a],
    )
    with pytest.raises(r1.ModelError, match="bad_add"):
        r1.load_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))


def test_wrong_input_name(engine):
    with pytest.raises(r1.InputError, match=r"unknown input name\(s\) \['X'\].*\['x'\]"):
        engine.run({"X": np.ones((1, 8), np.float32)})


def test_missing_input():
    e = r1.InferenceEngine(r1.Model(r1.load_onnx(two_input_model())))
    with pytest.raises(r1.InputError, match=r"missing input\(s\) \['b'\]"):
        e.run({"a": np.ones((1, 2), np.float32)})


def test_wrong_dtype(engine):
    with pytest.raises(r1.InputError, match="'x' must be float32, got float64"):
        engine.run({"x": np.ones((1, 8))})


def test_wrong_rank(engine):
    with pytest.raises(r1.InputError, match=r"rank 2.*rank 1"):
        engine.run({"x": np.ones(8, np.float32)})


def test_wrong_static_dim(engine):
    with pytest.raises(r1.InputError, match=r"dim 1 must be 8"):
        engine.run({"x": np.ones((1, 7), np.float32)})


def test_inconsistent_symbolic_dims():
    e = r1.InferenceEngine(r1.Model(r1.load_onnx(two_input_model())))
    with pytest.raises(r1.InputError, match="'seq' is 3"):
        e.run({"a": np.ones((1, 3), np.float32), "b": np.ones((1, 4), np.float32)})


def test_wrong_input_count(engine):
    with pytest.raises(r1.InputError, match="takes 1 inputs"):
        engine.run([np.ones((1, 8), np.float32)] * 2)


def test_unsupported_numpy_dtype(engine):
    with pytest.raises(r1.InputError):
        engine.run({"x": np.array([["a"] * 8])})


def test_bad_engine_arguments():
    m = r1.Model(r1.load_onnx(add_relu_model()))
    with pytest.raises(ValueError, match="precision"):
        r1.InferenceEngine(m, precision="fp8")
    with pytest.raises(r1.DeviceError, match="available devices: cpu"):
        r1.InferenceEngine(m, device="cuda:7")
    with pytest.raises(ValueError, match="num_threads"):
        r1.InferenceEngine(m, num_threads=0)


def test_errors_are_a_hierarchy():
    assert issubclass(r1.ModelError, r1.R1Error)
    assert issubclass(r1.InputError, r1.R1Error)
    assert issubclass(r1.R1Error, RuntimeError)


def test_engine_keeps_working_after_errors(engine):
    for _ in range(3):
        with pytest.raises(r1.InputError):
            engine.run({"x": np.ones((1, 3), np.float32)})
    assert engine.run({"x": np.ones((1, 8), np.float32)})["y"].shape == (1, 8)


# Regressions from the review of the core (each of these once crashed, hung or gave an untyped error).


@pytest.mark.parametrize("declared", [-1, -7, 0])
def test_negative_and_zero_input_dims_are_dynamic_as_onnxruntime_reads_them(declared, tmp_path):
    """Exporters write -1 (or 0) for "any size"; onnxruntime runs such models. The builder's own API still refuses a
    negative dim (it once crashed on one)."""
    g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [declared, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    eng = r1.InferenceEngine(path)
    assert eng.inputs[0].shape[0] != declared and eng.inputs[0].shape[1] == 3
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    for rows in (5, 2):
        y = eng.run({"x": x[:rows]})["y"]
        assert y.dtype == np.float32
        np.testing.assert_array_equal(y, np.maximum(x[:rows], 0))
    with pytest.raises(r1.InputError):
        eng.run({"x": x[:, :2]})  # the static dim still holds
    b = r1._core.GraphBuilder()
    with pytest.raises(r1.ModelError, match="negative dim"):
        b.add_input("x", "float32", [-7, 3])


def test_builder_cannot_be_reused_after_finish():
    b = r1._core.GraphBuilder()
    b.add_input("x", "float32", [2])
    b.add_node("Relu", "", "r", ["x"], ["y"], {})
    b.add_output("y")
    b.finish()
    with pytest.raises(r1.ModelError, match="already finished"):
        b.finish()
    with pytest.raises(r1.ModelError, match="already finished"):
        b.add_output("y")


@pytest.mark.parametrize("n", [2**61 + 1, 2**62])
def test_huge_data_dependent_output_is_an_input_error(n):
    g = helper.make_graph(
        [
            helper.make_node(
                "ConstantOfShape", ["s"], ["y"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.5])
            )
        ],
        "g",
        [helper.make_tensor_value_info("s", TensorProto.INT64, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    e = r1.InferenceEngine(r1.Model(r1.load_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))))
    with pytest.raises(r1.InputError, match="too large"):
        e.run({"s": np.array([n], np.int64)})


def test_too_many_threads():
    m = r1.Model(r1.load_onnx(add_relu_model()))
    with pytest.raises(ValueError, match="1 to 1024"):
        r1.InferenceEngine(m, num_threads=2**31)


def _external_model(tmp_path, location, offset=0):
    from onnx import numpy_helper

    w = numpy_helper.from_array(np.ones(4, np.float32), "w")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", str(offset)), ("length", "16")):
        entry = w.external_data.add()
        entry.key, entry.value = k, v
    g = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
        [w],
    )
    d = tmp_path / "model"
    d.mkdir()
    p = d / "m.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(p))
    return p


def test_external_data_cannot_escape_the_model_directory(tmp_path):
    (tmp_path / "model2").mkdir()
    (tmp_path / "model2" / "secret.bin").write_bytes(np.ones(4, np.float32).tobytes())
    p = _external_model(tmp_path, "../model2/secret.bin")
    with pytest.raises(r1.ModelError, match="leaves the model directory"):
        r1.load_onnx(str(p))


def test_external_data_negative_offset(tmp_path):
    p = _external_model(tmp_path, "w.bin", offset=-4)
    (p.parent / "w.bin").write_bytes(np.ones(4, np.float32).tobytes())
    with pytest.raises(r1.ModelError, match="negative external data offset"):
        r1.load_onnx(str(p))


def test_batch_infer_rejects_scalar_inputs_with_a_message():
    g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])],
    )
    e = r1.InferenceEngine(r1.Model(r1.load_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))))
    assert e.run({"x": np.array(-2.0, np.float32)})["y"] == 0
    with pytest.raises(r1.InputError, match="scalar input"):
        e.batch_infer([{"x": np.array(1.0, np.float32)}] * 2)


def test_big_endian_arrays_are_rejected_not_misread():
    with pytest.raises(r1.InputError, match="big-endian"):
        r1._core.Tensor(np.ones(3, dtype=">f4"))


def test_models_before_opset_7_are_upgraded():
    """onnx's version converter lifts a legacy model (opset 6: Add with the broadcast attribute) to opset 7."""
    f = TensorProto.FLOAT
    g = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["y"], broadcast=1), helper.make_node("Not", ["c"], ["d"])],
        "g",
        [
            helper.make_tensor_value_info("a", f, [2, 3]),
            helper.make_tensor_value_info("b", f, [3]),
            helper.make_tensor_value_info("c", TensorProto.BOOL, [2]),
        ],
        [helper.make_tensor_value_info("y", f, [2, 3]), helper.make_tensor_value_info("d", TensorProto.BOOL, [2])],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 6)])
    engine = r1.InferenceEngine(r1.Model(r1.load_onnx(model)))
    a, b = np.ones((2, 3), np.float32), np.arange(3, dtype=np.float32)
    out = engine.run({"a": a, "b": b, "c": np.array([True, False])})
    np.testing.assert_array_equal(out["y"], a + b)
    np.testing.assert_array_equal(out["d"], [False, True])
