"""Runs a single ONNX op through the engine, for property tests against numpy references.

(y,) = run_op("Add", [a, b])
(y,) = run_op("Transpose", [x], attrs={"perm": [1, 0]})
(y,) = run_op("Reshape", [x], constants=[np.array([2, -1])], opset=13)   # constants become initializers
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import deepseek_r1 as r1

_ONNX_TYPES = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.float16): TensorProto.FLOAT16,
    np.dtype(np.int8): TensorProto.INT8,
    np.dtype(np.uint8): TensorProto.UINT8,
    np.dtype(np.int32): TensorProto.INT32,
    np.dtype(np.int64): TensorProto.INT64,
    np.dtype(np.bool_): TensorProto.BOOL,
    np.dtype(np.float64): TensorProto.DOUBLE,
    np.dtype(np.int16): TensorProto.INT16,
    np.dtype(np.uint16): TensorProto.UINT16,
    np.dtype(np.uint32): TensorProto.UINT32,
    np.dtype(np.uint64): TensorProto.UINT64,
    np.dtype(object): TensorProto.STRING,
}


def onnx_type(dt) -> int:
    import ml_dtypes

    dt = np.dtype(dt)
    if dt == np.dtype(ml_dtypes.bfloat16):
        return TensorProto.BFLOAT16
    return _ONNX_TYPES[dt]


def make_op_model(
    op_type: str,
    inputs: Sequence[np.ndarray | None],
    attrs: dict | None = None,
    constants: Sequence[np.ndarray | None] = (),
    n_outputs: int = 1,
    opset: int = 17,
    domain: str = "",
):
    """A one-node model: `inputs` are graph inputs (None = omitted optional), then `constants`
    are initializers appended as further node inputs (None = omitted)."""
    node_inputs, graph_inputs, inits = [], [], []
    for i, a in enumerate(inputs):
        if a is None:
            node_inputs.append("")
            continue
        name = f"in{i}"
        node_inputs.append(name)
        graph_inputs.append(helper.make_tensor_value_info(name, onnx_type(a.dtype), list(a.shape)))
    for j, c in enumerate(constants):
        if c is None:
            node_inputs.append("")
            continue
        name = f"const{j}"
        node_inputs.append(name)
        inits.append(numpy_helper.from_array(np.asarray(c), name))
    outs = [f"out{k}" for k in range(n_outputs)]
    node = helper.make_node(op_type, node_inputs, outs, domain=domain, **(attrs or {}))
    graph = helper.make_graph(
        [node],
        f"{op_type}_test",
        graph_inputs,
        [helper.make_tensor_value_info(o, TensorProto.UNDEFINED, None) for o in outs],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(domain, opset)])
    # Type the outputs where onnx can infer them (onnxruntime rejects UNDEFINED outputs).
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
        types = {v.name: v.type for v in inferred.graph.value_info}
        types.update({v.name: v.type for v in inferred.graph.output})
        for o in model.graph.output:
            t = types.get(o.name)
            if t is not None and t.tensor_type.elem_type:
                o.type.CopyFrom(t)
    except Exception:
        pass
    return model


def run_op(
    op_type: str,
    inputs: Sequence[np.ndarray | None],
    attrs: dict | None = None,
    constants: Sequence[np.ndarray | None] = (),
    n_outputs: int = 1,
    opset: int = 17,
    num_threads: int | None = None,
) -> list[np.ndarray]:
    model = make_op_model(op_type, inputs, attrs, constants, n_outputs, opset)
    # Level 0: the kernel itself is under test, not what the compiler would turn it into.
    engine = r1.InferenceEngine(r1.Model(r1.load_onnx(model)), num_threads=num_threads, optimization_level=0)
    out = engine.run([a for a in inputs if a is not None])
    return [out[f"out{k}"] for k in range(n_outputs)]


def run_onnxruntime(op_type: str, inputs, attrs=None, constants=(), n_outputs=1, opset=17) -> list[np.ndarray]:
    """The same one-node model through onnxruntime, as a second reference where numpy has none."""
    import onnxruntime as ort

    model = make_op_model(op_type, inputs, attrs, constants, n_outputs, opset)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {f"in{i}": a for i, a in enumerate(inputs) if a is not None}
    return sess.run(None, feeds)
