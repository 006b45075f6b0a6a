"""Small ONNX graphs that hold exactly one pattern each, for the compiler-pass tests.

model = gb.model(nodes, inputs=[("x", F, ["batch", 16])], outputs=["y"], inits={"w": w})
base, opt = gb.compare(model, feeds, level=2)   # outputs at level 0 and at `level`
"""

from __future__ import annotations

import numpy as np
import onnx
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import deepseek_r1 as r1

F = TensorProto.FLOAT
I64 = TensorProto.INT64
SEEDS = st.integers(0, 2**31 - 1)  # hypothesis: seeds of the random inputs


def node(op, inputs, outputs, domain="", **attrs):
    return helper.make_node(op, inputs, outputs, domain=domain, **attrs)


def model(nodes, inputs, outputs, inits=None, opset=17):
    g = helper.make_graph(
        nodes,
        "pattern",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(o, TensorProto.UNDEFINED, None) for o in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def engine(m: onnx.ModelProto, level: int, **kw) -> r1.InferenceEngine:
    return r1.InferenceEngine(r1.Model(r1.load_onnx(m)), optimization_level=level, num_threads=1, **kw)


def op_types(m: onnx.ModelProto, level: int, **kw) -> list[str]:
    return engine(m, level, **kw).graph.op_types()


def compare(m: onnx.ModelProto, feeds: dict, level: int = 3, **kw):
    base = engine(m, 0).run(feeds)
    opt = engine(m, level, **kw).run(feeds)
    assert base.keys() == opt.keys()
    return base, opt


def assert_close(base: dict, opt: dict, rtol=1e-5, atol=1e-6):
    for k in base:
        a, b = base[k].astype(np.float64), opt[k].astype(np.float64)
        assert a.shape == b.shape, k
        scale = max(1.0, float(np.abs(a).max())) if a.size else 1.0
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol * scale, err_msg=k)


def rand(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)
