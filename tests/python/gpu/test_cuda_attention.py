"""r1::Attention, r1::SkipLayerNorm and r1::Gelu on the GPU backend (cuda/kernels/attention.cu,
skip_layernorm.cu and gelu.cu) against float64 numpy references.

Each kernel runs through _core.run_kernel on the first GPU device; the module skips where there is
none. References are computed in float64 from the inputs already rounded to their dtype, so only the
kernel's own error is measured. Tolerances: float32 1e-5 relative (attention with Sk >= 256: 1e-4),
float16 / bfloat16 1e-2.
"""

from __future__ import annotations

from math import erfc

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deepseek_r1 as r1
from deepseek_r1 import _core

pytestmark = pytest.mark.gpu

BF16 = np.dtype(ml_dtypes.bfloat16)
F32, F16 = np.dtype(np.float32), np.dtype(np.float16)
DTYPES = [F32, F16, BF16]
dtypes = st.sampled_from(DTYPES)
seeds = st.integers(0, 2**31 - 1)


def run(dev, op, inputs, attrs=None, num_outputs=1):
    return _core.run_kernel(dev, op, list(inputs), attrs or {}, 17, num_outputs, "r1")


def tol(dtype, long=False):
    if np.dtype(dtype) == F32:
        return (1e-4, 1e-4) if long else (1e-5, 1e-5)
    return (1e-2, 1e-2)


def assert_close(got, want, dtype, long=False):
    rtol, atol = tol(dtype, long)
    assert got.dtype == np.dtype(dtype), (got.dtype, dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got.astype(np.float64), np.asarray(want, np.float64), rtol=rtol, atol=atol)


def rand(rng, shape, dtype, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, size=shape).astype(dtype)


# ------------------------------------------------------------------------------------------------
# Attention


def ref_attention(q, k, v, mask=None, scale=None, causal=False, kt=False, in_bshd=False, out_bshd=False):
    """O = softmax(scale * Q Kᵀ + mask) V in float64 (Q, K, V as given: layouts applied here)."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    if in_bshd:
        q, k, v = (a.transpose(0, 2, 1, 3) for a in (q, k, v))
    if kt:
        k = k.transpose(0, 1, 3, 2)
    d = q.shape[-1]
    if scale is None:
        scale = 1.0 / np.sqrt(max(d, 1))
    sq, sk, dv = q.shape[2], k.shape[2], v.shape[3]
    b = max(q.shape[0], k.shape[0], v.shape[0])
    h = max(q.shape[1], k.shape[1], v.shape[1])
    if sk == 0:
        o = np.zeros((b, h, sq, dv))
    else:
        s = np.matmul(q, k.swapaxes(-1, -2)) * scale
        s = np.broadcast_to(s, (b, h, sq, sk)).copy()
        if mask is not None:
            m = np.broadcast_to(np.asarray(mask, np.float64).reshape((1,) * (4 - mask.ndim) + mask.shape), s.shape)
            # The kernel adds the mask in float32: a score plus a float32 / bfloat16 lowest rounds to the
            # lowest itself (a fully masked row becomes uniform), -inf stays -inf.
            s = np.where(m <= -1e30, m, s + m)
        if causal:
            i = np.arange(sq)[:, None]
            j = np.arange(sk)[None, :]
            s = np.where(j > i + (sk - sq), -np.inf, s)
        with np.errstate(invalid="ignore"):
            mx = s.max(axis=-1, keepdims=True)
            e = np.exp(s - mx)  # an all -inf row: NaN, as the unfused Softmax
            p = e / e.sum(axis=-1, keepdims=True)
        o = np.matmul(p, v)
    if out_bshd:
        o = o.transpose(0, 2, 1, 3)
    return o


def attn_attrs(scale=None, causal=False, kt=False, in_bshd=False, out_bshd=False):
    a = {}
    if scale is not None:
        a["scale"] = ("float", float(scale))
    if causal:
        a["causal"] = ("int", 1)
    if kt:
        a["k_transposed"] = ("int", 1)
    if in_bshd:
        a["qkv_layout"] = ("string", "bshd")
    if out_bshd:
        a["out_layout"] = ("string", "bshd")
    return a


def make_qkv(rng, dtype, b, h, sq, sk, d, dv, kt=False, in_bshd=False, bcast=(1, 1, 1, 1, 1, 1)):
    """Q, K, V in the requested layout; bcast = (qb, qh, kb, kh, vb, vh) flags: 0 makes that dim 1."""
    qb = b if bcast[0] else 1
    qh = h if bcast[1] else 1
    kb = b if bcast[2] else 1
    kh = h if bcast[3] else 1
    vb = b if bcast[4] else 1
    vh = h if bcast[5] else 1
    if in_bshd:
        qs, ks, vs = (qb, sq, qh, d), (kb, sk, kh, d), (vb, sk, vh, dv)
    else:
        qs, ks, vs = (qb, qh, sq, d), (kb, kh, d, sk) if kt else (kb, kh, sk, d), (vb, vh, sk, dv)
    return rand(rng, qs, dtype, -2, 2), rand(rng, ks, dtype, -2, 2), rand(rng, vs, dtype)


MASK_KINDS = ["none", "k", "11k", "b11k", "qk", "b1qk", "bhqk", "1hq1"]


def make_mask(rng, kind, b, h, sq, sk, mdtype, with_minus_inf=True):
    shape = {
        "k": (sk,),
        "11k": (1, 1, sk),
        "b11k": (b, 1, 1, sk),
        "qk": (sq, sk),
        "b1qk": (b, 1, sq, sk),
        "bhqk": (b, h, sq, sk),
        "1hq1": (1, h, sq, 1),
    }[kind]
    m = rng.uniform(-2, 2, size=shape)
    if with_minus_inf:
        # A few masked entries: -inf, or the dtype's lowest where a float32 score plus it rounds to it.
        lowest = -np.inf if np.dtype(mdtype) == F16 else float(ml_dtypes.finfo(mdtype).min)
        drop = rng.random(shape) < 0.2
        m = np.where(drop, np.where(rng.random(shape) < 0.5, -np.inf, lowest), m)
    return m.astype(mdtype)


@settings(max_examples=60, deadline=None)
@given(
    b=st.integers(1, 2),
    h=st.integers(1, 3),
    sq=st.one_of(st.just(1), st.integers(1, 140)),
    sk=st.one_of(st.just(1), st.integers(1, 150)),
    d=st.sampled_from([32, 64, 80, 128, 8, 17]),
    dv_same=st.booleans(),
    dtype=dtypes,
    layout=st.sampled_from(["bhsd", "bshd", "kt"]),
    out_bshd=st.booleans(),
    bcast=st.tuples(*[st.booleans()] * 6),
    mask_kind=st.sampled_from(MASK_KINDS),
    mdtype=dtypes,
    causal=st.booleans(),
    explicit_scale=st.booleans(),
    seed=seeds,
)
def test_attention_random(
    dev, b, h, sq, sk, d, dv_same, dtype, layout, out_bshd, bcast, mask_kind, mdtype, causal, explicit_scale, seed
):
    rng = np.random.default_rng(seed)
    dv = d if dv_same else int(rng.integers(1, 100))
    in_bshd, kt = layout == "bshd", layout == "kt"
    # At least one of Q, K, V carries the full B and H (otherwise they are 1 and that is fine too).
    q, k, v = make_qkv(rng, dtype, b, h, sq, sk, d, dv, kt=kt, in_bshd=in_bshd, bcast=bcast)
    ob = max(x.shape[0] for x in (q, k, v))
    oh = max(x.shape[2 if in_bshd else 1] for x in (q, k, v))
    mask = None if mask_kind == "none" else make_mask(rng, mask_kind, ob, oh, sq, sk, mdtype)
    scale = float(rng.uniform(0.05, 0.5)) if explicit_scale else None
    attrs = attn_attrs(scale, causal, kt, in_bshd, out_bshd)
    inputs = [q, k, v] + ([mask] if mask is not None else [])
    (got,) = run(dev, "Attention", inputs, attrs)
    want = ref_attention(q, k, v, mask, scale, causal, kt, in_bshd, out_bshd)
    assert_close(got, want, dtype, long=sk >= 256)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("d", [32, 64, 80, 128])
@pytest.mark.parametrize("sq,sk", [(1, 1), (1, 77), (65, 1), (63, 130), (129, 129), (100, 300)])
def test_attention_shapes(dev, dtype, d, sq, sk):
    rng = np.random.default_rng(d * 1000 + sq * 7 + sk)
    q, k, v = make_qkv(rng, dtype, 2, 2, sq, sk, d, d)
    (got,) = run(dev, "Attention", [q, k, v])
    assert_close(got, ref_attention(q, k, v), dtype, long=sk >= 256)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", ["bhsd", "bshd", "kt"])
@pytest.mark.parametrize("sq,sk", [(40, 100), (100, 100), (130, 70)])
def test_attention_causal(dev, dtype, layout, sq, sk):
    # Sq < Sk: offset diagonal; Sq == Sk; Sq > Sk: the first Sq - Sk rows see no key (NaN).
    rng = np.random.default_rng(sq * 3 + sk)
    in_bshd, kt = layout == "bshd", layout == "kt"
    q, k, v = make_qkv(rng, dtype, 2, 3, sq, sk, 64, 64, kt=kt, in_bshd=in_bshd)
    attrs = attn_attrs(causal=True, kt=kt, in_bshd=in_bshd, out_bshd=in_bshd)
    (got,) = run(dev, "Attention", [q, k, v], attrs)
    want = ref_attention(q, k, v, causal=True, kt=kt, in_bshd=in_bshd, out_bshd=in_bshd)
    assert_close(got, want, dtype)
    rows_nan = np.isnan(got.astype(np.float64)).any(axis=-1)
    n_nan = max(sq - sk, 0)
    row_axis = 1 if in_bshd else 2
    assert rows_nan.sum() == n_nan * 2 * 3, rows_nan.sum()
    if n_nan:
        assert np.take(rows_nan, np.arange(n_nan), axis=row_axis).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("mdtype", DTYPES, ids=str)
@pytest.mark.parametrize("d", [64, 40])
def test_attention_fully_masked_rows(dev, dtype, mdtype, d):
    """A row masked everywhere with the lowest value averages V uniformly; with -inf it is NaN."""
    rng = np.random.default_rng(7)
    b, h, sq, sk = 2, 2, 70, 90
    q, k, v = make_qkv(rng, dtype, b, h, sq, sk, d, d)
    mask = rng.uniform(-1, 1, size=(b, 1, sq, sk))
    mask[0, 0, 3, :] = -np.inf
    mask[1, 0, 66, :] = -np.inf
    mask[0, 0, 5, :40] = -np.inf  # partly masked
    lowest = float(ml_dtypes.finfo(mdtype).min)
    collapses = np.dtype(mdtype) != F16  # float32 + fp32/bf16 lowest rounds to the lowest itself
    if collapses:
        mask[0, 0, 10, :] = lowest
        mask[1, 0, 69, :] = lowest
        mask[1, 0, 12, ::2] = lowest
        mask[1, 0, 12, 1::2] = -np.inf  # lowest and -inf: uniform over the lowest entries
    mask = mask.astype(mdtype)
    (got,) = run(dev, "Attention", [q, k, v, mask])
    want = ref_attention(q, k, v, mask)
    assert_close(got, want, dtype)
    g = got.astype(np.float64)
    assert np.isnan(g[0, :, 3]).all() and np.isnan(g[1, :, 66]).all()
    assert not np.isnan(g[0, :, 5]).any()
    assert np.isnan(g).sum() == 2 * h * d  # the two -inf rows, nothing else
    if collapses:
        vv = v.astype(np.float64)
        assert_close(got[0, :, 10], np.broadcast_to(vv[0].mean(axis=1), (h, d)), dtype)
        assert_close(got[1, :, 12], np.broadcast_to(vv[1][:, ::2].mean(axis=1), (h, d)), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_attention_broadcast_kv(dev, dtype):
    # K and V shared by every head (multi-query) and every batch; Q broadcast over batch.
    rng = np.random.default_rng(3)
    q = rand(rng, (1, 4, 50, 64), dtype, -2, 2)
    k = rand(rng, (3, 1, 70, 64), dtype, -2, 2)
    v = rand(rng, (1, 1, 70, 64), dtype)
    (got,) = run(dev, "Attention", [q, k, v])
    assert got.shape == (3, 4, 50, 64)
    assert_close(got, ref_attention(q, k, v), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_attention_empty_keys(dev, dtype):
    rng = np.random.default_rng(1)
    q = rand(rng, (2, 2, 5, 32), dtype)
    k = np.zeros((2, 2, 0, 32), dtype)
    v = np.zeros((2, 2, 0, 16), dtype)
    (got,) = run(dev, "Attention", [q, k, v])
    assert got.shape == (2, 2, 5, 16)
    assert (got.astype(np.float64) == 0).all()


@pytest.mark.parametrize("causal", [False, True])
def test_attention_long_fp16(dev, causal):
    rng = np.random.default_rng(11)
    q, k, v = make_qkv(rng, F16, 1, 2, 1024, 1024, 64, 64)
    (got,) = run(dev, "Attention", [q, k, v], attn_attrs(causal=causal))
    assert_close(got, ref_attention(q, k, v, causal=causal), F16)


def test_attention_long_fp32(dev):
    rng = np.random.default_rng(12)
    q, k, v = make_qkv(rng, F32, 1, 2, 300, 700, 64, 64)
    mask = make_mask(rng, "b11k", 1, 2, 300, 700, F32, with_minus_inf=False)
    (got,) = run(dev, "Attention", [q, k, v, mask], attn_attrs(causal=True))
    assert_close(got, ref_attention(q, k, v, mask, causal=True), F32, long=True)


def test_attention_large_head(dev):
    rng = np.random.default_rng(5)
    q, k, v = make_qkv(rng, F32, 1, 1, 40, 50, 256, 256)
    (got,) = run(dev, "Attention", [q, k, v])
    assert_close(got, ref_attention(q, k, v), F32)


def test_attention_errors(dev):
    rng = np.random.default_rng(0)
    q = rand(rng, (1, 2, 4, 16), F32)
    k = rand(rng, (1, 2, 6, 8), F32)
    v = rand(rng, (1, 2, 6, 8), F32)
    with pytest.raises(r1.InputError):
        run(dev, "Attention", [q, k, v])  # head sizes differ
    k = rand(rng, (1, 2, 6, 16), F32)
    with pytest.raises(r1.InputError):
        run(dev, "Attention", [q, k, v, rand(rng, (1, 1, 1, 1, 6), F32)])  # mask of rank 5
    with pytest.raises(r1.InputError):
        run(dev, "Attention", [q, k, v, rand(rng, (3, 1, 4, 6), F32)])  # mask enlarges the scores
    with pytest.raises((r1.InputError, r1.ModelError)):
        run(dev, "Attention", [q, k.astype(F16), v])  # mixed dtypes
    big = rand(rng, (1, 1, 2, 300), F32)
    with pytest.raises(r1.InputError, match="head sizes"):
        run(dev, "Attention", [big, big, rand(rng, (1, 1, 2, 4), F32)])
    with pytest.raises(r1.ModelError):
        run(dev, "Attention", [q, k, v], {"qkv_layout": ("string", "bshd"), "k_transposed": ("int", 1)})


# ------------------------------------------------------------------------------------------------
# SkipLayerNorm


def ref_skip_layernorm(x, skip, gamma, beta=None, bias=None, eps=1e-5):
    s = np.asarray(x, np.float64) + np.asarray(skip, np.float64)
    if bias is not None:
        s = s + np.asarray(bias, np.float64)
    mean = s.mean(axis=-1, keepdims=True)
    var = ((s - mean) ** 2).mean(axis=-1, keepdims=True)
    y = (s - mean) / np.sqrt(var + eps) * np.asarray(gamma, np.float64)
    if beta is not None:
        y = y + np.asarray(beta, np.float64)
    return y, s


@st.composite
def skip_shapes(draw):
    xs = draw(st.lists(st.integers(1, 5), min_size=0, max_size=3)) + [draw(st.sampled_from([1, 7, 64, 300, 1030]))]
    kind = draw(st.sampled_from(["same", "trailing", "ones", "last1"]))
    if kind == "same":
        ss = list(xs)
    elif kind == "trailing":
        ss = xs[draw(st.integers(0, len(xs) - 1)) :]
    elif kind == "ones":
        ss = [d if draw(st.booleans()) else 1 for d in xs]
    else:
        ss = xs[:-1] + [1]
    return tuple(xs), tuple(ss)


@settings(max_examples=40, deadline=None)
@given(
    shapes=skip_shapes(),
    dtype=dtypes,
    pdtype=dtypes,
    has_beta=st.booleans(),
    has_bias=st.booleans(),
    want_sum=st.booleans(),
    eps=st.sampled_from([None, 1e-5, 1e-3]),
    seed=seeds,
)
def test_skip_layernorm(dev, shapes, dtype, pdtype, has_beta, has_bias, want_sum, eps, seed):
    xs, ss = shapes
    rng = np.random.default_rng(seed)
    n = xs[-1]
    x = rand(rng, xs, dtype, -2, 2) + np.asarray(3.0, dtype)  # a mean away from 0
    skip = rand(rng, ss, dtype, -2, 2)
    gamma = rand(rng, (n,), pdtype, 0.5, 1.5)
    beta = rand(rng, (n,), pdtype) if has_beta else None
    bias = rand(rng, (n,), pdtype) if has_bias else None
    attrs = {} if eps is None else {"epsilon": ("float", eps)}
    outs = run(dev, "SkipLayerNorm", [x, skip, gamma, beta, bias], attrs, num_outputs=2 if want_sum else 1)
    y_want, s_want = ref_skip_layernorm(x, skip, gamma, beta, bias, 1e-5 if eps is None else eps)
    assert len(outs) == (2 if want_sum else 1)
    rtol, atol = (1e-5, 1e-5) if dtype == F32 else (1e-2, 1e-2)
    assert outs[0].dtype == dtype and outs[0].shape == xs
    np.testing.assert_allclose(outs[0].astype(np.float64), y_want, rtol=rtol, atol=atol)
    if want_sum:
        assert outs[1].dtype == dtype and outs[1].shape == xs
        np.testing.assert_allclose(outs[1].astype(np.float64), s_want, rtol=rtol, atol=atol)


def test_skip_layernorm_constant_row(dev):
    # A constant row has variance 0: (s - mean) = 0 gives beta exactly.
    x = np.full((3, 16), 2.0, np.float32)
    skip = np.full((16,), 1.0, np.float32)
    gamma = np.linspace(0.5, 1.5, 16).astype(np.float32)
    beta = np.linspace(-1, 1, 16).astype(np.float32)
    (y,) = run(dev, "SkipLayerNorm", [x, skip, gamma, beta])
    np.testing.assert_allclose(y, np.broadcast_to(beta, (3, 16)), rtol=0, atol=1e-6)


def test_skip_layernorm_errors(dev):
    rng = np.random.default_rng(0)
    x = rand(rng, (2, 8), F32)
    with pytest.raises(r1.InputError):
        run(dev, "SkipLayerNorm", [x, rand(rng, (3, 8), F32), rand(rng, (8,), F32)])  # skip does not broadcast
    with pytest.raises(r1.InputError):
        run(dev, "SkipLayerNorm", [x, x, rand(rng, (7,), F32)])  # gamma of the wrong size
    with pytest.raises(r1.InputError):
        run(dev, "SkipLayerNorm", [x, x, rand(rng, (8,), F32), None, rand(rng, (2, 8), F32)])  # bias not 1-D
    with pytest.raises((r1.InputError, r1.ModelError)):
        run(dev, "SkipLayerNorm", [x, x.astype(F16), rand(rng, (8,), F32)])  # X and skip dtypes differ


# ------------------------------------------------------------------------------------------------
# r1::Gelu


def ref_gelu(x, approximate):
    x = np.asarray(x, np.float64)
    if approximate == "tanh":
        xs = np.clip(x, -100, 100)
        u = np.sqrt(2 / np.pi) * (xs + 0.044715 * xs**3)
        with np.errstate(over="ignore", invalid="ignore"):
            # 0.5 x (1 + tanh u) = x / (1 + exp(-2u)), without the cancellation for negative x.
            y = np.maximum(x, -np.finfo(np.float32).max) / (1 + np.exp(-2 * u))
        return np.where(np.isnan(x), np.nan, y)
    e = np.vectorize(
        lambda t: erfc(-t / np.sqrt(2.0)) if np.isfinite(t) else (2.0 if t > 0 else 0.0), otypes=[np.float64]
    )(x)
    with np.errstate(invalid="ignore"):
        y = 0.5 * np.where(np.isinf(x) & (x < 0), 0.0, x) * e
    return np.where(np.isnan(x), np.nan, y)


@settings(max_examples=20, deadline=None)
@given(
    shape=st.lists(st.integers(1, 40), min_size=0, max_size=4).map(tuple),
    dtype=dtypes,
    approximate=st.sampled_from([None, "none", "tanh"]),
    seed=seeds,
)
def test_gelu(dev, shape, dtype, approximate, seed):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dtype, -6, 6)
    attrs = {} if approximate is None else {"approximate": ("string", approximate)}
    (y,) = run(dev, "Gelu", [x], attrs)
    want = ref_gelu(x, approximate or "none")
    rtol, atol = (1e-5, 1e-7) if dtype == F32 else (1e-2, 1e-2)
    assert y.dtype == dtype and y.shape == x.shape
    np.testing.assert_allclose(y.astype(np.float64), want, rtol=rtol, atol=atol)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_special_values(dev, approximate):
    x = np.array([0.0, -0.0, 1e-30, -1e-30, 20.0, -20.0, 1e30, -1e30, np.inf, -np.inf, np.nan], np.float32)
    (y,) = run(dev, "Gelu", [x], {"approximate": ("string", approximate)})
    want = ref_gelu(x, approximate)
    np.testing.assert_allclose(y.astype(np.float64), want, rtol=1e-5, atol=1e-30)
    assert np.isnan(y[-1]) and y[-3] == np.inf and y[-2] == 0


def test_gelu_bad_attr(dev):
    with pytest.raises(r1.ModelError):
        run(dev, "Gelu", [np.ones(3, np.float32)], {"approximate": ("string", "fast")})
