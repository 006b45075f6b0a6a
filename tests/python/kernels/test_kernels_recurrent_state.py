"""Property tests of LinearAttention and CausalConvWithState (opset 27) against onnx's reference implementation,
and of BatchNormalization's training mode against numpy."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from onnx.reference import ReferenceEvaluator

from helpers.dtype_arrays import seeds
from helpers.op_harness import make_op_model, run_op


def _reference(op, inputs, attrs, n_out, opset):
    model = make_op_model(op, inputs, attrs, (), n_out, opset)
    return ReferenceEvaluator(model).run(None, {f"in{i}": a for i, a in enumerate(inputs) if a is not None})


def _close(got, want, tol=1e-5):
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, g.shape, w.dtype, w.shape)
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol * max(1.0, float(np.abs(w).max(initial=0))))


@given(seeds(), st.data())
def test_linear_attention(seed, data):
    rng = np.random.default_rng(seed)
    b, t = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 6))
    hkv = data.draw(st.integers(1, 2))
    hq = hkv * data.draw(st.integers(1, 2))
    dk, dv = data.draw(st.sampled_from([2, 4])), data.draw(st.sampled_from([2, 3]))
    rule = data.draw(st.sampled_from(["linear", "gated", "delta", "gated_delta"]))

    def r(*s, lo=-1.0, hi=1.0):
        return rng.uniform(lo, hi, s).astype(np.float32)

    past = r(b, hkv, dk, dv) if data.draw(st.booleans()) else None
    decay = r(b, t, data.draw(st.sampled_from([hkv, hkv * dk])), lo=-0.5, hi=0.0) if "gated" in rule else None
    beta = r(b, t, data.draw(st.sampled_from([hkv, 1])), lo=0.0, hi=1.0) if "delta" in rule else None
    inputs = [r(b, t, hq * dk), r(b, t, hkv * dk), r(b, t, hkv * dv), past, decay, beta]
    attrs = {"q_num_heads": hq, "kv_num_heads": hkv, "update_rule": rule}
    if data.draw(st.booleans()):
        attrs["scale"] = 0.5
    while inputs and inputs[-1] is None:
        inputs.pop()
    got = run_op("LinearAttention", inputs, attrs=attrs, n_outputs=2, opset=27)
    _close(got, _reference("LinearAttention", inputs, attrs, 2, 27))


@given(seeds(), st.integers(1, 2), st.integers(1, 4), st.integers(1, 7), st.integers(1, 4), st.data())
def test_causal_conv_with_state(seed, b, c, length, k, data):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((b, c, length)).astype(np.float32)
    w = rng.standard_normal((c, 1, k)).astype(np.float32)
    bias = rng.standard_normal(c).astype(np.float32) if data.draw(st.booleans()) else None
    past = rng.standard_normal((b, c, k - 1)).astype(np.float32) if data.draw(st.booleans()) else None
    attrs = {"activation": data.draw(st.sampled_from(["none", "silu", "swish"]))}
    inputs = [x, w, bias, past]
    while inputs and inputs[-1] is None:
        inputs.pop()
    got = run_op("CausalConvWithState", inputs, attrs=attrs, n_outputs=2, opset=27)
    _close(got, _reference("CausalConvWithState", inputs, attrs, 2, 27))


@given(seeds(), st.integers(1, 3), st.integers(1, 4), st.integers(1, 5), st.sampled_from([0.9, 0.5]))
def test_batchnorm_training_mode(seed, n, c, s, momentum):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, s)).astype(np.float32)
    scale, bias = rng.standard_normal(c).astype(np.float32), rng.standard_normal(c).astype(np.float32)
    mean, var = rng.standard_normal(c).astype(np.float32), rng.uniform(0.5, 2, c).astype(np.float32)
    got = run_op(
        "BatchNormalization",
        [x, scale, bias, mean, var],
        attrs={"training_mode": 1, "momentum": momentum, "epsilon": 1e-5},
        n_outputs=3,
        opset=15,
    )
    m, v = x.mean(axis=(0, 2)), x.var(axis=(0, 2))
    y = (x - m[None, :, None]) / np.sqrt(v[None, :, None] + 1e-5) * scale[None, :, None] + bias[None, :, None]
    want = [y, mean * momentum + m * (1 - momentum), var * momentum + v * (1 - momentum)]
    _close(got, [a.astype(np.float32) for a in want], 1e-4)
