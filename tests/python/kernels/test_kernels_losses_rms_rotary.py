"""Property tests of NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss, RMSNormalization and RotaryEmbedding
against numpy references (and the losses against onnxruntime too)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deepseek_r1 as r1
from helpers.dtype_arrays import BF16, seeds, shapes
from helpers.op_harness import run_onnxruntime, run_op


def _close(got, want, tol=1e-5):
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
    np.testing.assert_allclose(
        got.astype(np.float64),
        want.astype(np.float64),
        rtol=tol,
        atol=tol * max(1.0, float(np.abs(want).max(initial=0))),
    )


def _nll_ref(logp, target, weight, reduction, ignore):
    c = logp.shape[1]
    t = np.where(target == ignore, 0, target) if ignore is not None else target
    picked = np.take_along_axis(logp.astype(np.float64), t[:, None].astype(np.int64), axis=1)[:, 0]
    w = np.ones(c) if weight is None else weight.astype(np.float64)
    wt = w[t] * (target != ignore if ignore is not None else 1)
    loss = -picked * wt
    if reduction == "none":
        return loss.astype(np.float32)
    if reduction == "sum":
        return np.float32(loss.sum())
    return np.float32(loss.sum() / wt.sum())


@settings(max_examples=40)
@given(seeds(), st.integers(1, 4), st.integers(2, 5), shapes(0, 2, 1, 3), st.data())
def test_losses(seed, n, c, rest, data):
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((n, c, *rest)).astype(np.float32)
    target = rng.integers(0, c, size=(n, *rest)).astype(np.int64)
    weight = rng.uniform(0.5, 2, size=c).astype(np.float32) if data.draw(st.booleans()) else None
    reduction = data.draw(st.sampled_from(["none", "sum", "mean"]))
    ignore = data.draw(st.one_of(st.none(), st.integers(0, c - 1)))
    if ignore is not None and reduction == "mean" and (target == ignore).all():
        target.flat[0] = (ignore + 1) % c  # keep a non-ignored element: mean over none is 0/0
    attrs = {"reduction": reduction} | ({} if ignore is None else {"ignore_index": ignore})
    shifted = scores - scores.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted.astype(np.float64)).sum(axis=1, keepdims=True))
    want = _nll_ref(logp, target, weight, reduction, ignore)
    ins = [scores, target] + ([weight] if weight is not None else [])
    loss, lp = run_op("SoftmaxCrossEntropyLoss", ins, attrs=attrs, n_outputs=2, opset=13)
    _close(np.asarray(loss), np.asarray(want))
    _close(lp, logp.astype(np.float32))
    (nll,) = run_op("NegativeLogLikelihoodLoss", [logp.astype(np.float32)] + ins[1:], attrs=attrs, opset=13)
    _close(np.asarray(nll), np.asarray(want))
    (ort,) = run_onnxruntime("NegativeLogLikelihoodLoss", [logp.astype(np.float32)] + ins[1:], attrs=attrs, opset=13)
    _close(np.asarray(nll), np.asarray(ort))


def test_loss_target_out_of_range():
    with pytest.raises(r1.InputError, match="target 7 out of range for 3 classes"):
        run_op("NegativeLogLikelihoodLoss", [np.zeros((1, 3), np.float32), np.array([7], np.int64)], opset=13)


@given(seeds(), shapes(1, 4, 1, 6), st.sampled_from([np.float32, np.float16, BF16]), st.data())
def test_rms_normalization(seed, shape, dt, data):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3).astype(np.float32).astype(dt)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    a = axis % len(shape)
    scale = rng.standard_normal(shape[a:]).astype(np.float32).astype(dt)
    eps = data.draw(st.sampled_from([1e-5, 1e-2]))
    xf = x.astype(np.float64)
    ms = (xf**2).mean(axis=tuple(range(a, len(shape))), keepdims=True)
    want = (xf / np.sqrt(ms + eps) * scale.astype(np.float64)).astype(dt)
    (y,) = run_op("RMSNormalization", [x, scale], attrs={"axis": axis, "epsilon": eps}, opset=23)
    _close(y, want, {np.dtype(np.float32): 1e-5, np.dtype(np.float16): 1e-2, BF16: 2e-2}[np.dtype(dt)])


def _rotary_ref(x, cos, sin, pos, interleaved, rot, heads):
    four = x.ndim == 4
    v = x.transpose(0, 2, 1, 3) if four else x.reshape(x.shape[0], x.shape[1], heads, -1)  # [B, S, H, D]
    v = v.astype(np.float64)
    if pos is not None:
        cos, sin = cos[pos], sin[pos]
    c, s = cos[:, :, None, :], sin[:, :, None, :]
    r = v[..., :rot]
    x1, x2 = (r[..., 0::2], r[..., 1::2]) if interleaved else np.split(r, 2, axis=-1)
    re, im = c * x1 - s * x2, s * x1 + c * x2
    out = v.copy()
    if interleaved:
        out[..., 0:rot:2], out[..., 1:rot:2] = re, im
    else:
        out[..., :rot] = np.concatenate([re, im], axis=-1)
    return (out.transpose(0, 2, 1, 3) if four else out.reshape(x.shape)).astype(x.dtype)


@given(seeds(), st.integers(1, 2), st.integers(1, 3), st.integers(1, 5), st.sampled_from([2, 4, 8]), st.data())
def test_rotary_embedding(seed, b, h, s, d, data):
    rng = np.random.default_rng(seed)
    four = data.draw(st.booleans())
    x = rng.standard_normal((b, h, s, d) if four else (b, s, h * d)).astype(np.float32)
    rot = data.draw(st.sampled_from([r for r in (0, 2, d) if r <= d]))
    half = (rot or d) // 2
    interleaved = data.draw(st.booleans())
    use_pos = data.draw(st.booleans())
    if use_pos:
        cache = 16
        cos = rng.uniform(-1, 1, (cache, half)).astype(np.float32)
        sin = rng.uniform(-1, 1, (cache, half)).astype(np.float32)
        pos = rng.integers(0, cache, (b, s)).astype(np.int64)
    else:
        cos = rng.uniform(-1, 1, (b, s, half)).astype(np.float32)
        sin = rng.uniform(-1, 1, (b, s, half)).astype(np.float32)
        pos = None
    attrs = {"interleaved": int(interleaved), "rotary_embedding_dim": rot} | ({} if four else {"num_heads": h})
    ins = [x, cos, sin] + ([pos] if use_pos else [])
    (y,) = run_op("RotaryEmbedding", ins, attrs=attrs, opset=23)
    _close(y, _rotary_ref(x, cos, sin, pos, interleaved, rot or d, h))
