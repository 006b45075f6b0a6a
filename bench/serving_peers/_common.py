"""What every peer server shares: the onnxruntime session, the command line, and the v2 datatype names.

Every peer serves the SAME ONNX file through onnxruntime with 2 intra-op threads and 1 inter-op thread
(deepseek_r1's engine also uses 2 threads on this machine), so the benchmark compares serving layers,
not kernels. Peers bind 127.0.0.1 only: the benchmark is loopback-only.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

V2_DTYPES = {
    "INT64": np.int64,
    "INT32": np.int32,
    "FP32": np.float32,
    "FP64": np.float64,
    "FP16": np.float16,
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "INT8": np.int8,
}
ORT_TO_NUMPY = {
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(bool)": np.bool_,
}
HOST = "127.0.0.1"


def numpy_to_v2(dtype) -> str:
    for name, np_dtype in V2_DTYPES.items():
        if np.dtype(np_dtype) == np.dtype(dtype):
            return name
    raise TypeError(f"no KServe v2 datatype for numpy dtype {dtype}")


def parse_args(description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--model", required=True, help="ONNX file; the model name is its stem")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--max-batch-size", type=int, default=64, help="1 = batching off")
    p.add_argument("--batch-timeout-ms", type=float, default=5.0, help="how long a batch waits to fill")
    p.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    return p.parse_args()


def model_name(path: str) -> str:
    return Path(path).stem


def make_session(path: str, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(os.fspath(path), so, providers=["CPUExecutionProvider"])


def io_specs(sess) -> tuple[list[tuple[str, type]], list[str]]:
    """[(input name, numpy dtype)], [output names] of an onnxruntime session."""
    ins = [(i.name, ORT_TO_NUMPY[i.type]) for i in sess.get_inputs()]
    return ins, [o.name for o in sess.get_outputs()]
