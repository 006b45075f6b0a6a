"""Property tests of the rnn family (LSTM, GRU, RNN) against a numpy reference and onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto, helper

import deepseek_r1 as r1
from helpers.op_harness import make_op_model, run_op

# ---------------------------------------------------------------------------------------------
# numpy reference (float64), following the ONNX operator spec and onnxruntime for sequence_lens:
# steps at or past a batch entry's length leave its state unchanged and write zeros to Y; an entry
# of length 0 gets zero final states.

ALPHA_BETA = {  # activation -> (uses alpha, uses beta, default alpha, default beta)
    "sigmoid": (0, 0, 0, 0),
    "tanh": (0, 0, 0, 0),
    "relu": (0, 0, 0, 0),
    "hardsigmoid": (1, 1, 0.2, 0.5),
    "affine": (1, 1, 1.0, 0.0),
    "leakyrelu": (1, 0, 0.01, 0),
    "thresholdedrelu": (1, 0, 1.0, 0),
    "scaledtanh": (1, 1, 1.0, 1.0),
    "elu": (1, 0, 1.0, 0),
    "softsign": (0, 0, 0, 0),
    "softplus": (0, 0, 0, 0),
}


def _act(name, alpha, beta):
    n = name.lower()
    return {
        "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
        "tanh": np.tanh,
        "relu": lambda x: np.maximum(x, 0),
        "hardsigmoid": lambda x: np.clip(alpha * x + beta, 0, 1),
        "affine": lambda x: alpha * x + beta,
        "leakyrelu": lambda x: np.where(x >= 0, x, alpha * x),
        "thresholdedrelu": lambda x: np.where(x > alpha, x, 0),
        "scaledtanh": lambda x: alpha * np.tanh(beta * x),
        "elu": lambda x: np.where(x >= 0, x, alpha * (np.exp(x) - 1)),
        "softsign": lambda x: x / (1 + np.abs(x)),
        "softplus": lambda x: np.log1p(np.exp(x)),
    }[n]


def _acts(attrs, defaults, dirs):
    names = list(attrs.get("activations", defaults))
    if len(names) == len(defaults) and dirs == 2:
        names = names * 2
    alphas = list(attrs.get("activation_alpha", []))
    betas = list(attrs.get("activation_beta", []))
    out = []
    for n in names:
        ua, ub, da, db = ALPHA_BETA[n.lower()]
        a = alphas.pop(0) if ua and alphas else da
        b = betas.pop(0) if ub and betas else db
        out.append(_act(n, a, b))
    k = len(defaults)
    return [out[d * k : (d + 1) * k] for d in range(dirs)]


def rnn_reference(op, X, W, R, B=None, seq_lens=None, h0=None, c0=None, P=None, **attrs):
    """Returns (Y, Y_h[, Y_c]) for op in LSTM/GRU/RNN."""
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    defaults = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}[op]
    direction = attrs.get("direction", "forward")
    dirs = 2 if direction == "bidirectional" else 1
    layout = attrs.get("layout", 0)
    clip = attrs.get("clip")
    lbr = attrs.get("linear_before_reset", 0)
    input_forget = attrs.get("input_forget", 0)
    X = X.astype(np.float64)
    if layout:
        X = X.transpose(1, 0, 2)
        h0 = None if h0 is None else h0.transpose(1, 0, 2)
        c0 = None if c0 is None else c0.transpose(1, 0, 2)
    seq, batch, _ = X.shape
    H = R.shape[2]
    W, R = W.astype(np.float64), R.astype(np.float64)
    B = np.zeros((dirs, 2 * G * H)) if B is None else B.astype(np.float64)
    P = np.zeros((dirs, 3 * H)) if P is None else P.astype(np.float64)
    h0 = np.zeros((dirs, batch, H)) if h0 is None else h0.astype(np.float64)
    c0 = np.zeros((dirs, batch, H)) if c0 is None else c0.astype(np.float64)
    lens = np.full(batch, seq) if seq_lens is None else np.asarray(seq_lens)
    acts = _acts(attrs, defaults, dirs)
    cl = (lambda v: np.clip(v, -clip, clip)) if clip is not None else (lambda v: v)

    Y = np.zeros((seq, dirs, batch, H))
    Yh = np.zeros((dirs, batch, H))
    Yc = np.zeros((dirs, batch, H))
    for d in range(dirs):
        rev = direction == "reverse" or d == 1
        w, rr = W[d], R[d]
        wb, rb = B[d][: G * H], B[d][G * H :]
        f = acts[d]
        h = h0[d].copy()
        c = c0[d].copy()
        steps = range(seq - 1, -1, -1) if rev else range(seq)
        for t in steps:
            valid = t < lens
            x = X[t]
            if op == "RNN":
                hn = f[0](cl(x @ w.T + wb + h @ rr.T + rb))
                cn = c
            elif op == "LSTM":
                gts = x @ w.T + wb + h @ rr.T + rb
                gi, go, gf, gc = np.split(gts, 4, axis=-1)
                pi, po, pf = np.split(P[d], 3)
                i = f[0](cl(gi + pi * c))
                fg = 1 - i if input_forget else f[0](cl(gf + pf * c))
                cc = f[1](cl(gc))
                cn = fg * c + i * cc
                o = f[0](cl(go + po * cn))
                hn = o * f[2](cn)
            else:
                wz, wr, wh = np.split(w, 3)
                rz, rr_, rh = np.split(rr, 3)
                wbz, wbr, wbh = np.split(wb, 3)
                rbz, rbr, rbh = np.split(rb, 3)
                z = f[0](cl(x @ wz.T + wbz + h @ rz.T + rbz))
                r = f[0](cl(x @ wr.T + wbr + h @ rr_.T + rbr))
                if lbr:
                    hh = f[1](cl(x @ wh.T + wbh + r * (h @ rh.T + rbh)))
                else:
                    hh = f[1](cl(x @ wh.T + wbh + (r * h) @ rh.T + rbh))
                hn = (1 - z) * hh + z * h
                cn = c
            h = np.where(valid[:, None], hn, h)
            c = np.where(valid[:, None], cn, c)
            Y[t, d] = np.where(valid[:, None], hn, 0)
        Yh[d] = np.where((lens == 0)[:, None], 0, h)  # zero-length entries: zeros, as onnxruntime
        Yc[d] = np.where((lens == 0)[:, None], 0, c)
    if layout:
        Y = Y.transpose(2, 0, 1, 3)
        Yh = Yh.transpose(1, 0, 2)
        Yc = Yc.transpose(1, 0, 2)
    return (Y, Yh, Yc) if op == "LSTM" else (Y, Yh)


def run_onnxruntime(op_type, inputs, attrs=None, n_outputs=1, opset=17):
    """op_harness.run_onnxruntime, with float output types (onnxruntime rejects UNDEFINED ones)."""
    import onnxruntime as ort

    model = make_op_model(op_type, inputs, attrs, (), n_outputs, opset)
    for o in model.graph.output:
        o.type.tensor_type.elem_type = TensorProto.FLOAT
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {f"in{i}": a for i, a in enumerate(inputs) if a is not None}
    return sess.run(None, feeds)


# ---------------------------------------------------------------------------------------------
# random problems

ACTS_POOL = {
    "LSTM": [
        None,
        ["Sigmoid", "Tanh", "Tanh"],
        ["HardSigmoid", "Tanh", "Relu"],
        ["Sigmoid", "Softsign", "Tanh"],
        ["Sigmoid", "Tanh", "ScaledTanh"],
        ["HardSigmoid", "Elu", "Affine"],
    ],
    "GRU": [None, ["Sigmoid", "Tanh"], ["HardSigmoid", "Relu"], ["Sigmoid", "Softplus"], ["Sigmoid", "LeakyRelu"]],
    "RNN": [None, ["Tanh"], ["Relu"], ["Sigmoid"], ["Affine"], ["Softsign"], ["ThresholdedRelu"]],
}


@st.composite
def problems(draw, op, allow_seq_lens=True, exotic=True):
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    seq = draw(st.integers(1, 5))
    batch = draw(st.integers(1, 4))
    inp = draw(st.integers(1, 6))
    hid = draw(st.integers(1, 6))
    direction = draw(st.sampled_from(["forward", "reverse", "bidirectional"]))
    dirs = 2 if direction == "bidirectional" else 1
    layout = draw(st.sampled_from([0, 1]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)

    def rnd(*shape, scale=0.5):
        a = (rng.standard_normal(shape) * scale).astype(np.float32)
        if a.size:
            a.flat[0] = a.flat[0] if a.flat[0] != 0 else 0.25
        return a

    X = rnd(batch, seq, inp, scale=1.0) if layout else rnd(seq, batch, inp, scale=1.0)
    W = rnd(dirs, G * hid, inp)
    R = rnd(dirs, G * hid, hid)
    state_shape = (batch, dirs, hid) if layout else (dirs, batch, hid)
    ins = {"X": X, "W": W, "R": R}
    ins["B"] = rnd(dirs, 2 * G * hid) if draw(st.booleans()) else None
    ins["seq_lens"] = (
        rng.integers(0, seq + 1, size=batch).astype(np.int32) if allow_seq_lens and draw(st.booleans()) else None
    )
    ins["h0"] = rnd(*state_shape) if draw(st.booleans()) else None
    if op == "LSTM":
        ins["c0"] = rnd(*state_shape) if draw(st.booleans()) else None
        ins["P"] = rnd(dirs, 3 * hid) if draw(st.booleans()) else None
    attrs = {"hidden_size": hid, "direction": direction}
    if layout:
        attrs["layout"] = 1
    if exotic:
        if draw(st.booleans()):
            attrs["clip"] = draw(st.sampled_from([0.5, 1.0, 3.0]))
        acts = draw(st.sampled_from(ACTS_POOL[op]))
        if acts is not None:
            attrs["activations"] = acts * dirs if draw(st.booleans()) or dirs == 1 else acts
            nab = len(attrs["activations"])
            if draw(st.booleans()):
                attrs["activation_alpha"] = [float(v) for v in rng.uniform(0.1, 0.9, nab)]
                attrs["activation_beta"] = [float(v) for v in rng.uniform(-0.5, 0.5, nab)]
        if op == "LSTM" and draw(st.booleans()):
            attrs["input_forget"] = 1
    if op == "GRU" and draw(st.booleans()):
        attrs["linear_before_reset"] = 1
    return ins, attrs


def node_inputs(op, ins):
    order = ["X", "W", "R", "B", "seq_lens", "h0"] + (["c0", "P"] if op == "LSTM" else [])
    lst = [ins.get(k) for k in order]
    while lst and lst[-1] is None:
        lst.pop()
    return lst


def run_ours(op, ins, attrs, dtype=np.float32):
    lst = node_inputs(op, ins)
    lst = [a if a is None or a.dtype == np.int32 else a.astype(dtype) for a in lst]
    n_out = 3 if op == "LSTM" else 2
    opset = 14 if attrs.get("layout") else 13
    return run_op(op, lst, attrs=attrs, n_outputs=n_out, opset=opset)


def check_vs_reference(op, ins, attrs, dtype=np.float32, rtol=1e-4, atol=1e-5):
    got = run_ours(op, ins, attrs, dtype)
    cast = lambda a: None if a is None or a.dtype == np.int32 else a.astype(dtype).astype(np.float32)
    ref_ins = {k: (v if k == "seq_lens" else cast(v)) for k, v in ins.items()}
    want = rnn_reference(
        op,
        ref_ins["X"],
        ref_ins["W"],
        ref_ins["R"],
        ref_ins.get("B"),
        ref_ins.get("seq_lens"),
        ref_ins.get("h0"),
        ref_ins.get("c0"),
        ref_ins.get("P"),
        **attrs,
    )
    assert len(got) == len(want)
    for g, w, name in zip(got, want, ["Y", "Y_h", "Y_c"]):
        assert g.dtype == np.dtype(dtype), name
        assert g.shape == w.shape, f"{name}: {g.shape} vs {w.shape}"
        np.testing.assert_allclose(g.astype(np.float64), w, rtol=rtol, atol=atol, err_msg=name)


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@given(data=st.data())
def test_vs_numpy_reference(op, data):
    ins, attrs = data.draw(problems(op))
    check_vs_reference(op, ins, attrs)


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@given(data=st.data())
def test_vs_onnxruntime(op, data):
    # onnxruntime's CPU kernels handle layout 0 only; plain activations keep its fast paths comparable.
    ins, attrs = data.draw(problems(op, exotic=False))
    if attrs.get("layout"):
        return
    lst = node_inputs(op, ins)
    n_out = 3 if op == "LSTM" else 2
    want = run_onnxruntime(op, lst, attrs=attrs, n_outputs=n_out, opset=13)
    got = run_op(op, lst, attrs=attrs, n_outputs=n_out, opset=13)
    for g, w, name in zip(got, want, ["Y", "Y_h", "Y_c"]):
        assert g.shape == w.shape, name
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@given(data=st.data())
def test_half_precision(op, dtype, data):
    import ml_dtypes

    dt = np.float16 if dtype == "float16" else ml_dtypes.bfloat16
    ins, attrs = data.draw(problems(op, exotic=False))
    tol = 2e-2 if dtype == "float16" else 6e-2
    check_vs_reference(op, ins, attrs, dtype=dt, rtol=tol, atol=tol)


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_larger_problem(op, rng):
    # Sizes past the blocking of the GEMM paths, bidirectional (directions run in parallel).
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    seq, batch, inp, hid = 7, 5, 37, 70
    ins = {
        "X": rng.standard_normal((seq, batch, inp)).astype(np.float32),
        "W": (rng.standard_normal((2, G * hid, inp)) * 0.2).astype(np.float32),
        "R": (rng.standard_normal((2, G * hid, hid)) * 0.2).astype(np.float32),
        "B": (rng.standard_normal((2, 2 * G * hid)) * 0.2).astype(np.float32),
        "seq_lens": np.array([7, 3, 1, 6, 7], np.int32),
        "h0": rng.standard_normal((2, batch, hid)).astype(np.float32),
    }
    check_vs_reference(op, ins, {"hidden_size": hid, "direction": "bidirectional"})


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("layout", [0, 1])
def test_empty_sequence_and_batch(op, layout):
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    for seq, batch in [(0, 2), (3, 0)]:
        X = np.zeros((batch, seq, 3) if layout else (seq, batch, 3), np.float32)
        W = np.ones((1, G * 2, 3), np.float32) * 0.1
        R = np.ones((1, G * 2, 2), np.float32) * 0.1
        got = run_op(op, [X, W, R], attrs={"hidden_size": 2, "layout": layout}, n_outputs=2, opset=14)
        want = rnn_reference(op, X, W, R, layout=layout)
        for g, w in zip(got, want):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, atol=1e-6)


def _model(op, outputs, n_in=3, opset=13, **attrs):
    names = ["X", "W", "R"][:n_in]
    node = helper.make_node(op, names, outputs, **attrs)
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    ins = [
        helper.make_tensor_value_info("X", TensorProto.FLOAT, ["s", "b", 3]),
        helper.make_tensor_value_info("W", TensorProto.FLOAT, [1, G * 4, 3]),
        helper.make_tensor_value_info("R", TensorProto.FLOAT, [1, G * 4, 4]),
    ]
    outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs if o]
    g = helper.make_graph([node], "g", ins, outs)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_only_final_state_output(op, rng):
    # Y omitted (empty name): only Y_h (and Y_c) are produced, with symbolic seq/batch dims.
    outs = ["", "yh"] + (["yc"] if op == "LSTM" else [])
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    eng = r1.InferenceEngine(r1.Model(r1.load_onnx(_model(op, outs, hidden_size=4))))
    X = rng.standard_normal((5, 2, 3)).astype(np.float32)
    W = (rng.standard_normal((1, G * 4, 3)) * 0.5).astype(np.float32)
    R = (rng.standard_normal((1, G * 4, 4)) * 0.5).astype(np.float32)
    got = eng.run([X, W, R])
    want = rnn_reference(op, X, W, R)
    np.testing.assert_allclose(got["yh"], want[1], rtol=1e-4, atol=1e-5)
    if op == "LSTM":
        np.testing.assert_allclose(got["yc"], want[2], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_bad_attributes(op):
    with pytest.raises(r1.ModelError, match="not supported"):
        r1.InferenceEngine(
            r1.Model(r1.load_onnx(_model(op, ["y"], activations=["Bogus"] * {"LSTM": 3, "GRU": 2, "RNN": 1}[op])))
        )
    with pytest.raises(r1.ModelError, match="not supported"):
        r1.InferenceEngine(r1.Model(r1.load_onnx(_model(op, ["y"], direction="sideways"))))


def test_bad_shapes():
    X = np.zeros((2, 1, 3), np.float32)
    W = np.zeros((1, 8, 5), np.float32)  # input size 5 != 3
    R = np.zeros((1, 8, 2), np.float32)
    with pytest.raises((r1.InputError, r1.ModelError)):
        run_op("LSTM", [X, W, R], attrs={"hidden_size": 2})


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
