"""r1::FusedConv's float64 numpy reference (geometry, conv, activations), a one-node FusedConv model and its run, the
scale-relative check and the seeded arrays of the fixed-shape cases, for kernels/test_kernels_fused_conv.py and
test_kernels_fused_conv_bf16.py.
"""

from __future__ import annotations

import itertools
import math

import ml_dtypes
import numpy as np
from onnx import TensorProto, helper, numpy_helper

import deepseek_r1 as r1

ACTS = ["", "Relu", "LeakyRelu", "Clip", "HardSigmoid", "HardSwish", "Sigmoid", "Silu", "Tanh", "Gelu", "GeluTanh"]
_TYPES = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.float16): TensorProto.FLOAT16,
    np.dtype(ml_dtypes.bfloat16): TensorProto.BFLOAT16,
}


# ------------------------------------------------------------------------------------ reference
def geometry(ins, k, s, d, pads, auto_pad):
    """Output dims and begin/end pads, as ONNX Conv defines them."""
    nd = len(ins)
    outs, pb, pe = [], [], []
    for i in range(nd):
        ek = (k[i] - 1) * d[i] + 1
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            o = -(-ins[i] // s[i])
            tot = max(0, (o - 1) * s[i] + ek - ins[i])
            lo = tot // 2 if auto_pad == "SAME_UPPER" else tot - tot // 2
            outs.append(o), pb.append(lo), pe.append(tot - lo)
        elif auto_pad == "VALID":
            outs.append((ins[i] - ek) // s[i] + 1), pb.append(0), pe.append(0)
        else:
            outs.append((ins[i] + pads[i] + pads[nd + i] - ek) // s[i] + 1), pb.append(pads[i]), pe.append(pads[nd + i])
    return outs, pb, pe


def conv_ref(x, w, b, s, d, pb, pe, outs, group):
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    n, c = x.shape[:2]
    m, nd, k = w.shape[0], x.ndim - 2, w.shape[2:]
    xp = np.pad(x, [(0, 0), (0, 0)] + [(pb[i], pe[i] + k[i] * d[i] + s[i] * outs[i]) for i in range(nd)])
    y = np.zeros((n, m, *outs))
    cg, mg = c // group, m // group
    for g in range(group):
        xg, wg = xp[:, g * cg : (g + 1) * cg], w[g * mg : (g + 1) * mg]
        for off in itertools.product(*[range(kk) for kk in k]):
            sl = tuple(slice(off[i] * d[i], off[i] * d[i] + s[i] * (outs[i] - 1) + 1, s[i]) for i in range(nd))
            patch = xg[(slice(None), slice(None)) + sl]
            y[:, g * mg : (g + 1) * mg] += np.einsum("nc...,mc->nm...", patch, wg[(slice(None), slice(None)) + off])
    if b is not None:
        y += np.asarray(b, np.float64).reshape((1, m) + (1,) * nd)
    return y


def act_ref(v, act, alpha, beta):
    sig = lambda t: 1.0 / (1.0 + np.exp(-t))
    if act == "":
        return v
    if act == "Relu":
        return np.maximum(v, 0)
    if act == "LeakyRelu":
        return np.where(v < 0, alpha * v, v)
    if act == "Clip":
        return np.clip(v, alpha, beta)
    if act == "HardSigmoid":
        return np.clip(alpha * v + beta, 0, 1)
    if act == "HardSwish":
        return v * np.clip(v / 6 + 0.5, 0, 1)
    if act == "Sigmoid":
        return sig(v)
    if act == "Silu":
        return v * sig(v)
    if act == "Tanh":
        return np.tanh(v)
    if act == "Gelu":
        return 0.5 * v * (1 + np.vectorize(math.erf)(v / math.sqrt(2)))
    if act == "GeluTanh":
        return 0.5 * v * (1 + np.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3)))
    raise ValueError(act)


# ------------------------------------------------------------------------------------ running
def fused_model(x, w, b, res, attrs, w_const=True):
    """One r1::FusedConv node; X and the residual are graph inputs, W and B initializers."""
    dt = _TYPES[np.dtype(x.dtype)]
    names, ins, inits = [], [], []

    def add(name, a, const):
        if a is None:
            names.append("")
        elif const:
            names.append(name), inits.append(numpy_helper.from_array(np.asarray(a), name))
        else:
            names.append(name), ins.append(helper.make_tensor_value_info(name, dt, list(a.shape)))

    add("x", x, False), add("w", w, w_const), add("b", b, True), add("r", res, False)
    while names and names[-1] == "":
        names.pop()
    node = helper.make_node("FusedConv", names, ["y"], domain="r1", **attrs)
    g = helper.make_graph([node], "fused_conv", ins, [helper.make_tensor_value_info("y", dt, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("r1", 1)])


def run_fused(x, w, b=None, res=None, attrs=None, threads=None, w_const=True):
    model = fused_model(x, w, b, res, attrs or {}, w_const)
    eng = r1.InferenceEngine(r1.Model(r1.load_onnx(model)), num_threads=threads)
    feeds = [x] + ([] if w_const else [w]) + ([res] if res is not None else [])
    return eng.run(feeds)["y"]


def check(got, want, scale, rtol=1e-5):
    """|got - want| <= rtol * output scale (the largest pre-activation magnitude)."""
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    err = np.max(np.abs(np.asarray(got, np.float64) - want)) if want.size else 0.0
    assert err <= rtol * max(scale, 1.0), f"max error {err:.3g} > {rtol:g} x scale {scale:.3g}"


def act_params(act, draw_or_rng):
    if act == "LeakyRelu":
        return 0.1, 0.0
    if act == "Clip":
        return -0.5, 1.5
    if act == "HardSigmoid":
        return 0.25, 0.4
    return 0.0, 0.0


def case_attrs(k, s, d, pads, auto_pad, group, act, alpha, beta):
    attrs = dict(kernel_shape=k, strides=s, dilations=d, group=group, activation=act)
    if act in ("LeakyRelu", "Clip", "HardSigmoid"):
        attrs.update(act_alpha=alpha, act_beta=beta)
    if auto_pad != "NOTSET":
        attrs["auto_pad"] = auto_pad
    elif any(pads):
        attrs["pads"] = pads
    return attrs


def expected(x, w, b, res, k, s, d, pads, auto_pad, group, act, alpha, beta):
    outs, pb, pe = geometry(list(x.shape[2:]), k, s, d, pads, auto_pad)
    pre = conv_ref(x, w, b, s, d, pb, pe, outs, group)
    if res is not None:
        pre = pre + np.asarray(res, np.float64)
    return act_ref(pre, act, alpha, beta), float(np.max(np.abs(pre))) if pre.size else 0.0


def case_arrays(rng, n, group, cg, mg, ins, k, outs, nd, bias, residual):
    """X, W, bias (or None) and residual (None, "full": Y's shape, "channel": [M, 1, ...] broadcast) of a drawn case."""
    m = mg * group
    x = rng.standard_normal((n, cg * group, *ins)).astype(np.float32)
    w = rng.standard_normal((m, cg, *k)).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32) if bias else None
    res = None
    if residual == "full":
        res = rng.standard_normal((n, m, *outs)).astype(np.float32)
    elif residual == "channel":  # broadcast over batch and space
        res = rng.standard_normal((m,) + (1,) * nd).astype(np.float32)
    return x, w, b, res


def fixed_case_arrays(xs, ws, s, pads):
    """Seeded x, w (scaled by fan-in), bias and residual for a fixed-shape case; also k and the rank."""
    rng = np.random.default_rng(sum(xs) + sum(ws))
    x = rng.standard_normal(xs).astype(np.float32)
    w = (rng.standard_normal(ws) / math.sqrt(np.prod(ws[1:]))).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    nd, k = len(xs) - 2, list(ws[2:])
    outs, _, _ = geometry(list(xs[2:]), k, s, [1] * nd, pads, "NOTSET")
    res = rng.standard_normal((xs[0], ws[0], *outs)).astype(np.float32)
    return x, w, b, res, k, nd
