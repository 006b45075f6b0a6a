"""deepseek_r1.dtypes: every row round-trips numpy <-> KServe <-> ONNX <-> r1 name, and each layer agrees with it."""

import numpy as np
import onnx
import pytest
from onnx import helper

import deepseek_r1 as r1
from deepseek_r1 import dtypes
from deepseek_r1.kserve import decode_bytes_tensor, encode_infer_request, numpy_to_kserve, parse_infer_request
from deepseek_r1.kserve.tensors import datatype_of

ROWS = [pytest.param(row, id=row.kserve) for row in dtypes.ROWS]
ENGINE_ROWS = [pytest.param(row, id=row.r1) for row in dtypes.ENGINE_ROWS]


def test_each_name_appears_once():
    for column in ("r1", "onnx", "kserve"):
        names = [getattr(row, column) for row in dtypes.ROWS if getattr(row, column) is not None]
        assert len(names) == len(set(names)), column
    assert len({row.numpy for row in dtypes.ROWS}) == len(dtypes.ROWS)
    assert all((row.r1 is None) == (row.onnx is None) for row in dtypes.ROWS)  # both or neither: engine types


@pytest.mark.parametrize("row", ROWS)
def test_numpy_and_kserve_round_trip(row):
    assert dtypes.KSERVE_TO_NUMPY[row.kserve] == row.numpy and datatype_of("input", "x", row.kserve) == row.numpy
    assert dtypes.NUMPY_TO_KSERVE[row.numpy] == row.kserve and numpy_to_kserve(row.numpy) == row.kserve
    assert dtypes.GRPC_CONTENTS_FIELD.get(row.kserve) == row.grpc_contents


@pytest.mark.parametrize("row", ROWS)
def test_every_kserve_datatype_travels_through_the_http_codec(row):
    if row.kserve == "BYTES":
        arr = decode_bytes_tensor(b"\x02\x00\x00\x00hi", 1)
    else:
        arr = np.zeros((2, 3), row.numpy)
    for binary in (True, False):
        body, headers = encode_infer_request({"t": arr}, binary=binary)
        got = parse_infer_request(body, headers.get("Inference-Header-Content-Length")).inputs["t"]
        assert got.dtype == row.numpy and got.shape == arr.shape


@pytest.mark.parametrize("row", ENGINE_ROWS)
def test_engine_types_round_trip_through_onnx_and_the_engine(row):
    assert row.onnx == getattr(onnx.TensorProto, onnx.TensorProto.DataType.Name(row.onnx))
    assert helper.tensor_dtype_to_np_dtype(row.onnx) == row.numpy
    assert (dtypes.ONNX_TO_NUMPY[row.onnx], dtypes.ONNX_TO_R1[row.onnx]) == (row.numpy, row.r1)
    assert (dtypes.R1_TO_NUMPY[row.r1], dtypes.R1_TO_KSERVE[row.r1]) == (row.numpy, row.kserve)
    # A model whose input is of this ONNX type: the engine names it row.r1 and takes and gives row.numpy arrays.
    g = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "identity",
        [helper.make_tensor_value_info("x", row.onnx, ["n"])],
        [helper.make_tensor_value_info("y", row.onnx, ["n"])],
    )
    engine = r1.InferenceEngine(
        r1.Model(r1.load_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])))
    )
    assert engine.inputs[0].dtype == row.r1 and engine.inputs[0].numpy_dtype == row.numpy
    if row.r1 == "string":  # strings are Python objects both ways
        x = np.array(["a", "bc", "é"], dtype=object)
        y = engine.run({"x": x})["y"]
        assert y.dtype == row.numpy and y.tolist() == x.tolist()
        return
    x = np.ones(3, row.numpy)
    y = engine.run({"x": x})["y"]
    assert y.dtype == row.numpy and np.array_equal(y.astype(np.float64), x.astype(np.float64))


def test_grpc_contents_fields_exist():
    pb = pytest.importorskip("tritonclient.grpc.service_pb2")
    fields = {f.name for f in pb.InferTensorContents.DESCRIPTOR.fields}
    assert set(dtypes.GRPC_CONTENTS_FIELD.values()) <= fields
