"""Models built with onnx.helper around the operators real pipelines need beyond a plain network (issue 13, item 6):

- ssd_detector: an SSD-style detector (two feature levels, class and box heads, anchor box decoding, TopK pre-filter,
  NonMaxSuppression, Gather of the kept boxes, RoiAlign of their features, a second-stage classifier).
- audio_frontend: a log-mel front end (HannWindow, STFT, power spectrum, MelWeightMatrix, log) and a Conv1d encoder.
- scan_gru: a GRU written as a Scan whose body reads its weights from the outer graph.

Weights are random (seeded); each builder returns (onnx.ModelProto, example feeds).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


class _Graph:
    """Collects nodes and initializers with generated names."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0

    def name(self, base: str) -> str:
        self.count += 1
        return f"{base}_{self.count}"

    def const(self, value, base: str = "c") -> str:
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(value), n))
        return n

    def op(self, op_type: str, inputs, n_out: int = 1, **attrs):
        outs = [self.name(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=self.name(op_type), **attrs))
        return outs[0] if n_out == 1 else outs

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int = 1, relu: bool = True, dims: int = 2) -> str:
        shape = (cout, cin) + (k,) * dims
        w = (self.rng.standard_normal(shape) * np.sqrt(2.0 / (cin * k**dims))).astype(np.float32)
        b = (self.rng.standard_normal(cout) * 0.1).astype(np.float32)
        y = self.op(
            "Conv", [x, self.const(w, "w"), self.const(b, "b")], pads=[k // 2] * 2 * dims, strides=[stride] * dims
        )
        return self.op("Relu", [y]) if relu else y

    def model(self, inputs, outputs, name: str) -> onnx.ModelProto:
        g = helper.make_graph(self.nodes, name, inputs, outputs, self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
        m.ir_version = 8
        onnx.checker.check_model(m)
        return m


def _anchors(fh: int, fw: int, stride: int, sizes) -> np.ndarray:
    """SSD anchors (cx, cy, w, h) in pixels, cell-major then anchor, matching the heads' reshape."""
    ys, xs = np.meshgrid((np.arange(fh) + 0.5) * stride, (np.arange(fw) + 0.5) * stride, indexing="ij")
    out = []
    for cy, cx in zip(ys.ravel(), xs.ravel()):
        for w, h in sizes:
            out.append((cx, cy, w, h))
    return np.array(out, np.float32)


def ssd_detector(size: int = 128, classes: int = 5, seed: int = 0, max_per_class: int = 20):
    """Image [1, 3, size, size] (any size) -> selected [S, 3] int64, boxes [S, 4], scores [S], second-stage logits [S, classes]."""
    g = _Graph(seed)
    a = 3  # anchors per cell
    f1 = g.conv(g.conv("image", 3, 16, 3, 2), 16, 32, 3, 2)  # stride 4
    f2 = g.conv(f1, 32, 32, 3, 2)  # stride 8
    logits, deltas, anchors = [], [], []
    s1 = (size + 3) // 4  # each stride-2 conv (pad 1) gives ceil(side / 2)
    levels = ((f1, 4, s1, [(8, 8), (12, 6), (6, 12)]), (f2, 8, (s1 + 1) // 2, [(24, 24), (32, 16), (16, 32)]))
    for f, stride, side, sizes in levels:
        n = side**2 * a
        cls = g.conv(f, 32, a * classes, 3, relu=False)
        box = g.conv(f, 32, a * 4, 3, relu=False)
        for head, width, out in ((cls, classes, logits), (box, 4, deltas)):
            t = g.op("Transpose", [head], perm=[0, 2, 3, 1])
            out.append(g.op("Reshape", [t, g.const(np.array([1, n, width], np.int64))]))
        anchors.append(_anchors(side, side, stride, sizes))
    logit = g.op("Concat", logits, axis=1)  # [1, N, C]
    delta = g.op("Concat", deltas, axis=1)  # [1, N, 4]
    anc = np.concatenate(anchors)  # [N, 4]
    n_all = anc.shape[0]
    # Box decoding (SSD variances 0.1 / 0.2): centre shift scaled by the anchor, size by exp.
    last = g.const(np.array([2], np.int64))
    d_xy = g.op("Slice", [delta, g.const(np.array([0], np.int64)), g.const(np.array([2], np.int64)), last])
    d_wh = g.op("Slice", [delta, g.const(np.array([2], np.int64)), g.const(np.array([4], np.int64)), last])
    a_xy, a_wh = g.const(anc[:, :2][None]), g.const(anc[:, 2:][None])
    xy = g.op("Add", [a_xy, g.op("Mul", [g.op("Mul", [d_xy, g.const(np.float32(0.1))]), a_wh])])
    wh = g.op("Mul", [a_wh, g.op("Exp", [g.op("Mul", [d_wh, g.const(np.float32(0.2))])])])
    half = g.op("Mul", [wh, g.const(np.float32(0.5))])
    lo, hi = g.op("Sub", [xy, half]), g.op("Add", [xy, half])  # (x1, y1), (x2, y2)
    xyxy = g.op("Concat", [lo, hi], axis=2)  # [1, N, 4] as x1 y1 x2 y2
    yxyx = g.op("Gather", [xyxy, g.const(np.array([1, 0, 3, 2], np.int64))], axis=2)  # NMS corner order
    prob = g.op("Softmax", [logit], axis=2)
    fg = g.op("Slice", [prob, g.const(np.array([1], np.int64)), g.const(np.array([classes], np.int64)), last])
    # Pre-filter: the K anchors with the best foreground score, as detectors do before NMS.
    best = g.op("ReduceMax", [fg], axes=[2], keepdims=0)  # [1, N]
    k = min(200, n_all)
    _, top = g.op("TopK", [best, g.const(np.array([k], np.int64))], n_out=2, axis=1)
    top = g.op("Squeeze", [top, g.const(np.array([0], np.int64))])  # [K]
    boxes_k = g.op("Gather", [yxyx, top], axis=1)  # [1, K, 4]
    scores_k = g.op("Transpose", [g.op("Gather", [fg, top], axis=1)], perm=[0, 2, 1])  # [1, C-1, K]
    sel = g.op(
        "NonMaxSuppression",
        [
            boxes_k,
            scores_k,
            g.const(np.array([max_per_class], np.int64)),
            g.const(np.array([0.45], np.float32)),
            g.const(np.array([0.05], np.float32)),
        ],
    )  # [S, 3]
    box_idx = g.op("Gather", [sel, g.const(np.array(2, np.int64))], axis=1)  # [S]
    boxes_sel = g.op(
        "Gather", [g.op("Squeeze", [xyxy, g.const(np.array([0], np.int64))]), g.op("Gather", [top, box_idx])]
    )  # [S, 4] x1 y1 x2 y2 in pixels
    scores_sel = g.op("GatherND", [scores_k, sel])  # [S]
    batch_idx = g.op("Gather", [sel, g.const(np.array(0, np.int64))], axis=1)
    rois = g.op(
        "RoiAlign",
        [f1, boxes_sel, batch_idx],
        output_height=7,
        output_width=7,
        sampling_ratio=2,
        spatial_scale=0.25,
        mode="avg",
    )  # [S, 32, 7, 7]
    pooled = g.op("ReduceMean", [rois], axes=[2, 3], keepdims=0)  # [S, 32]
    w2 = (g.rng.standard_normal((32, classes)) * 0.2).astype(np.float32)
    second = g.op("MatMul", [pooled, g.const(w2)])
    outs = {"selected": sel, "boxes": boxes_sel, "scores": scores_sel, "second_stage": second}
    for name, v in outs.items():
        g.nodes.append(helper.make_node("Identity", [v], [name]))
    model = g.model(
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, size, size])],
        [
            helper.make_tensor_value_info("selected", TensorProto.INT64, [None, 3]),
            helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [None, 4]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None]),
            helper.make_tensor_value_info("second_stage", TensorProto.FLOAT, [None, classes]),
        ],
        "ssd_detector",
    )
    feeds = {"image": np.random.default_rng(seed + 1).uniform(0, 1, (1, 3, size, size)).astype(np.float32)}
    return model, feeds


def audio_frontend(
    seconds: float = 1.0,
    n_fft: int = 400,
    hop: int = 160,
    mels: int = 80,
    rate: int = 16000,
    batch: int = 1,
    seed: int = 0,
):
    """Waveform [batch, samples] -> log-mel [batch, frames, mels] and a Conv1d encoding [batch, 64, frames]."""
    g = _Graph(seed)
    sig = g.op("Unsqueeze", ["waveform", g.const(np.array([2], np.int64))])  # [B, L, 1]
    window = g.op("HannWindow", [g.const(np.array(n_fft, np.int64))])
    spec = g.op(
        "STFT", [sig, g.const(np.array(hop, np.int64)), window, g.const(np.array(n_fft, np.int64))], onesided=1
    )  # [B, F, n_fft/2+1, 2]
    power = g.op("ReduceSumSquare", [spec], axes=[3], keepdims=0)  # [B, F, bins]
    mel = g.op(
        "MelWeightMatrix",
        [g.const(np.array(v, np.int64)) for v in (mels, n_fft, rate)]
        + [g.const(np.float32(0.0)), g.const(np.float32(rate / 2))],
    )
    logmel = g.op("Log", [g.op("Max", [g.op("MatMul", [power, mel]), g.const(np.float32(1e-10))])])
    x = g.op("Transpose", [logmel], perm=[0, 2, 1])  # [B, mels, F]
    enc = g.conv(g.conv(x, mels, 64, 3, dims=1), 64, 64, 3, dims=1)
    g.nodes.append(helper.make_node("Identity", [logmel], ["logmel"]))
    g.nodes.append(helper.make_node("Identity", [enc], ["encoding"]))
    samples = int(seconds * rate)
    model = g.model(
        [helper.make_tensor_value_info("waveform", TensorProto.FLOAT, ["batch", "samples"])],
        [
            helper.make_tensor_value_info("logmel", TensorProto.FLOAT, ["batch", "frames", mels]),
            helper.make_tensor_value_info("encoding", TensorProto.FLOAT, ["batch", 64, "frames"]),
        ],
        "audio_frontend",
    )
    t = np.arange(samples) / rate
    rng = np.random.default_rng(seed + 1)
    wave = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal((batch, samples))
    return model, {"waveform": wave.astype(np.float32)}


def scan_gru(input_size: int = 16, hidden: int = 32, steps: int = 20, batch: int = 2, seed: int = 0):
    """X [steps, batch, input] -> all hidden states [steps, batch, hidden] and the last [batch, hidden].

    The GRU's weights are outer-graph initializers the Scan body reads (an outer-scope capture)."""
    g = _Graph(seed)
    rng = g.rng
    w = {
        k: (rng.standard_normal(s) * 0.3).astype(np.float32)
        for k, s in [
            ("Wz", (input_size, hidden)),
            ("Wr", (input_size, hidden)),
            ("Wn", (input_size, hidden)),
            ("Uz", (hidden, hidden)),
            ("Ur", (hidden, hidden)),
            ("Un", (hidden, hidden)),
            ("bz", (hidden,)),
            ("br", (hidden,)),
            ("bn", (hidden,)),
        ]
    }
    g.inits.extend(numpy_helper.from_array(v, k) for k, v in w.items())
    body = _Graph(seed)
    body.count = 1000

    def lin(x, wn, h, un, bn):
        return body.op("Add", [body.op("Add", [body.op("MatMul", [x, wn]), body.op("MatMul", [h, un])]), bn])

    z = body.op("Sigmoid", [lin("x_t", "Wz", "h", "Uz", "bz")])
    r = body.op("Sigmoid", [lin("x_t", "Wr", "h", "Ur", "br")])
    n = body.op("Tanh", [lin("x_t", "Wn", body.op("Mul", [r, "h"]), "Un", "bn")])
    one_minus = body.op("Sub", [body.const(np.float32(1.0)), z])
    h_new = body.op("Add", [body.op("Mul", [one_minus, n]), body.op("Mul", [z, "h"])])
    body.nodes.append(helper.make_node("Identity", [h_new], ["h_out"]))
    body.nodes.append(helper.make_node("Identity", [h_new], ["y_t"]))
    body_graph = helper.make_graph(
        body.nodes,
        "gru_cell",
        [
            helper.make_tensor_value_info("h", TensorProto.FLOAT, [batch, hidden]),
            helper.make_tensor_value_info("x_t", TensorProto.FLOAT, [batch, input_size]),
        ],
        [
            helper.make_tensor_value_info("h_out", TensorProto.FLOAT, [batch, hidden]),
            helper.make_tensor_value_info("y_t", TensorProto.FLOAT, [batch, hidden]),
        ],
        body.inits,
    )
    g.nodes.append(helper.make_node("Scan", ["h0", "X"], ["h_last", "Y"], num_scan_inputs=1, body=body_graph))
    model = g.model(
        [
            helper.make_tensor_value_info("h0", TensorProto.FLOAT, [batch, hidden]),
            helper.make_tensor_value_info("X", TensorProto.FLOAT, [steps, batch, input_size]),
        ],
        [
            helper.make_tensor_value_info("h_last", TensorProto.FLOAT, [batch, hidden]),
            helper.make_tensor_value_info("Y", TensorProto.FLOAT, [steps, batch, hidden]),
        ],
        "scan_gru",
    )
    rng2 = np.random.default_rng(seed + 1)
    feeds = {
        "h0": np.zeros((batch, hidden), np.float32),
        "X": rng2.standard_normal((steps, batch, input_size)).astype(np.float32),
    }
    return model, feeds, w


def gru_reference(x: np.ndarray, h: np.ndarray, w: dict) -> tuple[np.ndarray, np.ndarray]:
    """numpy GRU in float64 with the same gate layout as scan_gru."""

    def sig(v):
        return 1 / (1 + np.exp(-v))

    w = {k: v.astype(np.float64) for k, v in w.items()}
    h = h.astype(np.float64)
    ys = []
    for xt in x.astype(np.float64):
        z = sig(xt @ w["Wz"] + h @ w["Uz"] + w["bz"])
        r = sig(xt @ w["Wr"] + h @ w["Ur"] + w["br"])
        n = np.tanh(xt @ w["Wn"] + (r * h) @ w["Un"] + w["bn"])
        h = (1 - z) * n + z * h
        ys.append(h)
    return h, np.stack(ys)
