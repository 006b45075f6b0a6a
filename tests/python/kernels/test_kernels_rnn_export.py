"""The rnn family (LSTM, GRU, RNN) as exporters emit it: nn.LSTM exported from PyTorch (against onnxruntime and
torch), and LSTM / GRU / RNN nodes of opsets 7, 14 and 22 (against the numpy reference).
"""

from __future__ import annotations

import numpy as np
import pytest

import deepseek_r1 as r1
from helpers.op_harness import run_op
from helpers.rnn_reference import rnn_reference

# ---------------------------------------------------------------------------------------------
# nn.LSTM exported from PyTorch (two layers, batch_first): uses shape ops around the LSTM nodes.


def test_pytorch_lstm_export(tmp_path):
    torch = pytest.importorskip("torch")
    import onnx
    import onnxruntime as ort

    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(input_size=16, hidden_size=32, num_layers=2, batch_first=True)

        def forward(self, x):
            y, (h, c) = self.lstm(x)
            return y, h, c

    net = Net().eval()
    x = torch.randn(3, 11, 16)
    path = tmp_path / "lstm.onnx"
    torch.onnx.export(
        net,
        (x,),
        str(path),
        dynamo=False,
        input_names=["x"],
        output_names=["y", "h", "c"],
        dynamic_axes={"x": {0: "batch", 1: "seq"}},
    )
    model = onnx.load(str(path))
    needed = {n.op_type for n in model.graph.node} - {"Constant"}
    missing = needed - set(r1.supported_ops())
    if missing:
        pytest.skip(f"ops not registered yet: {sorted(missing)}")
    try:
        eng = r1.InferenceEngine(r1.Model(r1.load_onnx(model)))
    except r1.ModelError as e:
        if "has no kernel" in str(e):
            pytest.skip(f"kernels not registered yet: {e}")
        raise
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for shape in [(3, 11, 16), (1, 4, 16), (5, 20, 16)]:
        xin = np.random.default_rng(sum(shape)).standard_normal(shape).astype(np.float32)
        want = sess.run(None, {"x": xin})
        got = eng.run([xin])
        for name, w in zip(["y", "h", "c"], want):
            g = got[name]
            assert g.shape == w.shape, name
            rel = np.max(np.abs(g - w)) / max(np.max(np.abs(w)), 1e-6)
            assert rel <= 1e-4, f"{name}: max rel err {rel}"


def test_pytorch_lstm_nodes_chained(tmp_path):
    # The exported LSTM nodes (with PyTorch's W/R/B initializers) run one by one through the engine,
    # glued with numpy in place of the exporter's shape ops; compared with torch and onnxruntime.
    torch = pytest.importorskip("torch")
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    torch.manual_seed(1)
    lstm = torch.nn.LSTM(input_size=16, hidden_size=32, num_layers=2, batch_first=True).eval()

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = lstm

        def forward(self, x):
            y, (h, c) = self.lstm(x)
            return y, h, c

    path = tmp_path / "lstm.onnx"
    torch.onnx.export(
        Net().eval(),
        (torch.randn(2, 6, 16),),
        str(path),
        dynamo=False,
        input_names=["x"],
        output_names=["y", "h", "c"],
        dynamic_axes={"x": {0: "batch", 1: "seq"}},
    )
    model = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for n in model.graph.node:  # the exporter may keep weights in Constant nodes
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            inits[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    lstm_nodes = [n for n in model.graph.node if n.op_type == "LSTM"]
    assert len(lstm_nodes) == 2
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for shape in [(2, 6, 16), (1, 3, 16), (4, 9, 16)]:
        xin = np.random.default_rng(sum(shape)).standard_normal(shape).astype(np.float32)
        cur = xin.transpose(1, 0, 2)  # [seq, batch, input]
        hs, cs = [], []
        for n in lstm_nodes:
            W, R, B = (inits[name] for name in n.input[1:4])
            zeros = np.zeros((1, shape[0], 32), np.float32)
            y, h, c = run_op(
                "LSTM", [cur, W, R, B, None, zeros, zeros], attrs={"hidden_size": 32}, n_outputs=3, opset=20
            )
            cur = y[:, 0]
            hs.append(h[0])
            cs.append(c[0])
        got = [cur.transpose(1, 0, 2), np.stack(hs), np.stack(cs)]
        with torch.no_grad():
            ty, (th, tc) = lstm(torch.from_numpy(xin))
        want_ort = sess.run(None, {"x": xin})
        for g, t, w in zip(got, [ty.numpy(), th.numpy(), tc.numpy()], want_ort):
            assert g.shape == t.shape == w.shape
            for ref in (t, w):
                rel = np.max(np.abs(g - ref)) / max(np.max(np.abs(ref)), 1e-6)
                assert rel <= 1e-4, f"max rel err {rel}"


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("opset", [7, 14, 22])
def test_opsets(op, opset, rng):
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    X = rng.standard_normal((3, 2, 4)).astype(np.float32)
    W = (rng.standard_normal((1, G * 5, 4)) * 0.5).astype(np.float32)
    R = (rng.standard_normal((1, G * 5, 5)) * 0.5).astype(np.float32)
    got = run_op(op, [X, W, R], attrs={"hidden_size": 5}, n_outputs=2, opset=opset)
    want = rnn_reference(op, X, W, R)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
