"""PyTorch control flow exported to ONNX and run by the engine, compared with onnxruntime: `torch.cond` through the
dynamo exporter (an If whose branches read the module's weights from the outer graph) and a scripted loop through
the legacy exporter (a Loop with the trip count as an input). The models are tiny: exported in the test."""

from __future__ import annotations

import io
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch  # (installed by .ci/run: a missing torch fails here rather than skipping)

import deepseek_r1 as r1


class CondModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(8, 8)
        self.b = torch.nn.Linear(8, 8)

    def forward(self, x):
        def pos(x):
            return torch.relu(self.a(x))

        def neg(x):
            return torch.tanh(self.b(x)) - 1.0

        return torch.cond(x.sum() > 0, pos, neg, (x,))


class LoopModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, x, n: int):
        h = x
        for _ in range(n):
            h = torch.tanh(self.lin(h)) + h
        return h


def _compare(model_bytes: bytes, feeds: dict, expect_op: str):
    want = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"]).run(None, feeds)
    engine = r1.InferenceEngine(r1.Model(r1.load_onnx(model_bytes)), num_threads=1)
    assert expect_op in engine.graph.op_types()
    got = list(engine.run(feeds).values())
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(w).max())))


def test_torch_cond_exported_by_dynamo_runs_both_branches():
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(
            CondModel().eval(), (torch.randn(2, 8),), dynamo=True, dynamic_shapes={"x": {0: "batch"}}, verbose=False
        )
    data = prog.model_proto.SerializeToString()
    assert "If" in {n.op_type for n in prog.model_proto.graph.node}
    rng = np.random.default_rng(0)
    for sign, rows in ((1, 3), (-1, 5)):  # each branch, at two batch sizes
        _compare(data, {"x": (sign * np.abs(rng.standard_normal((rows, 8)))).astype(np.float32)}, "If")


def test_scripted_loop_exported_by_the_legacy_exporter():
    torch.manual_seed(0)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            torch.jit.script(LoopModel().eval()),
            (torch.randn(2, 4), 3),
            buf,
            dynamo=False,
            input_names=["x", "n"],
            opset_version=17,
            dynamic_axes={"x": {0: "batch"}},
        )
    proto = onnx.load_from_string(buf.getvalue())
    assert "Loop" in {n.op_type for n in proto.graph.node}
    rng = np.random.default_rng(1)
    for n, rows in ((0, 2), (5, 3), (1, 1)):
        _compare(buf.getvalue(), {"x": rng.standard_normal((rows, 4)).astype(np.float32), "n": np.array(n)}, "Loop")
