"""The rnn family's (LSTM, GRU, RNN) float64 numpy reference and a one-node onnxruntime run, for
kernels/test_kernels_rnn.py and test_kernels_rnn_export.py.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from helpers.op_harness import make_op_model

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
