"""ONNX node conformance: every case of onnx's backend test suite whose ops we claim.

Cases are generated in memory by onnx (load_model_tests(kind="node")). A case is collected when
every op in it is registered. Cases needing a dtype or feature the engine does not support
(float64, strings, sequences) skip with the engine's own error message; everything else must match
the expected outputs within the case's tolerance.
"""

from __future__ import annotations

import warnings

import ml_dtypes
import numpy as np
import pytest
from onnx.backend.test.loader import load_model_tests

import deepseek_r1 as r1

SUPPORTED = set(r1.supported_ops())
BF16 = np.dtype(ml_dtypes.bfloat16)
# Phrases the engine uses when a model asks for something it does not implement.
UNSUPPORTED_MARKERS = ("does not support", "not supported", "is not a tensor")


def _ops(graph) -> set[str]:
    """Op types of a graph and of its subgraphs (If's branches, Loop's and Scan's bodies)."""
    ops = set()
    for n in graph.node:
        if n.domain not in ("", "ai.onnx"):
            ops.add(f"{n.domain}::{n.op_type}")
        ops.add(n.op_type)
        for a in n.attribute:
            if a.type == a.GRAPH:
                ops |= _ops(a.g)
            for g in a.graphs:
                ops |= _ops(g)
    return ops


def _cases():
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = load_model_tests(kind="node")
    for case in cases:
        ops = _ops(case.model.graph)
        if any("::" in op for op in ops):
            continue
        if ops and ops - {"Constant"} <= SUPPORTED:
            out.append(pytest.param(case, id=case.name))
    return out


CASES = _cases()


@pytest.mark.parametrize("case", CASES)
def test_node_case(case):
    try:
        engine = r1.InferenceEngine(r1.Model(r1.load_onnx(case.model)))
    except r1.ModelError as e:
        if any(m in str(e) for m in UNSUPPORTED_MARKERS):
            pytest.skip(f"unsupported: {e}")
        raise
    for inputs, expected in case.data_sets:
        inputs = [np.asarray(a) for a in inputs]
        for info, a in zip(engine.inputs, inputs):
            if a.dtype != info.numpy_dtype:
                pytest.skip(f"unsupported: input '{info.name}' of dtype {a.dtype}")
        got = engine.run(inputs)
        for info, want in zip(engine.outputs, expected):
            want = np.asarray(want)
            have = got[info.name]
            assert have.shape == want.shape, f"{info.name}: shape {have.shape} != {want.shape}"
            if want.dtype.kind in "fc" or want.dtype == BF16:
                # 16-bit floats: fp16 at 1e-2 as for every kernel; bf16 keeps only 8 significant bits
                # and the expanded cases round after every op, so 2 ulp (2e-2) is its honest bound.
                rtol = {np.dtype(np.float16): 1e-2, BF16: 2e-2}.get(want.dtype, max(case.rtol, 1e-4))
                np.testing.assert_allclose(
                    have.astype(np.float64),
                    want.astype(np.float64),
                    rtol=rtol,
                    atol=max(case.atol, 1e-6),
                    err_msg=info.name,
                )
            else:
                np.testing.assert_array_equal(have, want, err_msg=info.name)
