"""The package's one dtype table: each element type once, with its name in every layer that names it.

    from deepseek_r1.dtypes import R1_TO_NUMPY, KSERVE_TO_NUMPY
    R1_TO_NUMPY["bfloat16"]        # dtype(bfloat16) (ml_dtypes)
    KSERVE_TO_NUMPY["FP32"]        # dtype('float32')

Columns: the name _core uses ("float32"), the numpy dtype, the ONNX TensorProto element type, the KServe v2
datatype ("FP32") and the typed `InferTensorContents` field that carries it over gRPC. The r1 and ONNX columns
are filled for the types the engine runs; the other rows are KServe datatypes that only the wire codec handles
(BYTES is KServe's string type). FP16 and BF16 have no typed gRPC field: they travel raw only. Every other map in
the package is derived from ROWS, so adding a type is one line here.
"""

from __future__ import annotations

from typing import NamedTuple

import ml_dtypes
import numpy as np


class DType(NamedTuple):
    r1: str | None  # the name _core and TensorInfo use; None: the engine does not run this type
    numpy: np.dtype
    onnx: int | None  # onnx.TensorProto.DataType (literal numbers: importing onnx here would cost the client)
    kserve: str
    grpc_contents: str | None  # InferTensorContents field; None: raw_input_contents only


# In the KServe v2 spec's order, which the codec's error messages list. The r1/ONNX columns are None for the
# datatypes the engine does not run: the codec still decodes and encodes them.
ROWS: tuple[DType, ...] = (
    DType("bool", np.dtype(np.bool_), 9, "BOOL", "bool_contents"),
    DType("uint8", np.dtype(np.uint8), 2, "UINT8", "uint_contents"),
    DType("int8", np.dtype(np.int8), 3, "INT8", "int_contents"),
    DType("int16", np.dtype(np.int16), 5, "INT16", "int_contents"),
    DType("uint16", np.dtype(np.uint16), 4, "UINT16", "uint_contents"),
    DType("int32", np.dtype(np.int32), 6, "INT32", "int_contents"),
    DType("uint32", np.dtype(np.uint32), 12, "UINT32", "uint_contents"),
    DType("int64", np.dtype(np.int64), 7, "INT64", "int64_contents"),
    DType("uint64", np.dtype(np.uint64), 13, "UINT64", "uint64_contents"),
    DType("float16", np.dtype(np.float16), 10, "FP16", None),
    DType("float32", np.dtype(np.float32), 1, "FP32", "fp32_contents"),
    DType("float64", np.dtype(np.float64), 11, "FP64", "fp64_contents"),
    DType("bfloat16", np.dtype(ml_dtypes.bfloat16), 16, "BF16", None),
    DType("string", np.dtype(object), 8, "BYTES", "bytes_contents"),
)

ENGINE_ROWS = tuple(r for r in ROWS if r.r1 is not None)
R1_TO_NUMPY: dict[str, np.dtype] = {r.r1: r.numpy for r in ENGINE_ROWS if r.r1 is not None}
R1_TO_KSERVE: dict[str, str] = {r.r1: r.kserve for r in ENGINE_ROWS if r.r1 is not None}
ONNX_TO_NUMPY: dict[int, np.dtype] = {r.onnx: r.numpy for r in ENGINE_ROWS if r.onnx is not None}
ONNX_TO_R1: dict[int, str] = {r.onnx: r.r1 for r in ENGINE_ROWS if r.onnx is not None and r.r1 is not None}
KSERVE_TO_NUMPY: dict[str, np.dtype] = {r.kserve: r.numpy for r in ROWS}
NUMPY_TO_KSERVE: dict[np.dtype, str] = {r.numpy: r.kserve for r in ROWS}
GRPC_CONTENTS_FIELD: dict[str, str] = {r.kserve: r.grpc_contents for r in ROWS if r.grpc_contents is not None}
