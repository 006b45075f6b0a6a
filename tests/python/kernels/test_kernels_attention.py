"""Property tests of r1::Attention (cpp/r1/cpu/kernels/attention.cc) against a float64 numpy reference,
and of its fully-masked rows against onnxruntime running the unfused MatMul/Softmax/MatMul graph."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

import deepseek_r1 as r1
from helpers.op_harness import make_op_model, onnx_type

BF16 = np.dtype(ml_dtypes.bfloat16)
LOWEST = np.finfo(np.float32).min


def run_r1(op, inputs, attrs=None, n_outputs=1, threads=1):
    """One r1-domain node through the engine (None inputs are omitted optionals)."""
    model = make_op_model(op, inputs, attrs, (), n_outputs, opset=1, domain="r1")
    eng = r1.InferenceEngine(r1.Model(r1.load_onnx(model)), num_threads=threads)
    out = eng.run([a for a in inputs if a is not None])
    return [out[f"out{k}"] for k in range(n_outputs)]


def reference(q, k, v, mask=None, scale=None, causal=False, k_transposed=False):
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    kt = k if k_transposed else np.swapaxes(k, -1, -2)
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = (q @ kt) * scale
    if mask is not None:
        s = s + np.asarray(mask, np.float64)
    sq, sk = s.shape[-2:]
    if causal:
        allowed = np.arange(sk)[None, :] <= np.arange(sq)[:, None] + (sk - sq)
        s = np.where(allowed, s, -np.inf)
    with np.errstate(invalid="ignore"):
        m = s.max(-1, keepdims=True)
        p = np.exp(s - m)  # an all -inf row gives NaN, like the unfused graph
        p = p / p.sum(-1, keepdims=True)
    return p @ v


def arrays(seed, B, H, Sq, Sk, D, Dv, kb=None, vb=None, dtype=np.float32):
    rng = np.random.default_rng(seed)
    kb = kb or (B, H)
    vb = vb or kb
    q = rng.standard_normal((B, H, Sq, D))
    k = rng.standard_normal((*kb, Sk, D))
    v = rng.standard_normal((*vb, Sk, Dv))
    return [a.astype(dtype) for a in (q, k, v)]


def make_mask(seed, shape, kind):
    """Additive mask: normal values plus masked entries (-inf or the float lowest), never a fully
    masked row (that case has its own test)."""
    rng = np.random.default_rng(seed + 1)
    m = rng.standard_normal(shape).astype(np.float32) * 2
    if kind in ("tri", "pad"):
        # Masked tails the kernel skips (cpp/r1/cpu/kernels/attention.cc, open_end): a causal mask built as a
        # graph would (key j hidden from row i when j > i, the float lowest), or right padding per batch (-inf).
        sq, sk = (shape[-2], shape[-1]) if len(shape) > 1 else (1, shape[-1])
        if kind == "tri":
            m.reshape(-1, sq, sk)[:, np.triu(np.ones((sq, sk), bool), 1)] = LOWEST
        else:
            for idx in np.ndindex(*shape[:-1]):
                m[idx][int(rng.integers(1, sk + 1)) :] = -np.inf
        return m
    hidden = rng.random(shape) < 0.3
    hidden[..., 0] = False
    m[hidden] = -np.inf if kind == "inf" else LOWEST
    return m


def check(got, want, rtol=1e-5, atol=None):
    # atol: outputs are averages of V ~ N(0, 1); fp32 accumulation leaves ~1e-6 absolute error (the
    # unfused graph in onnxruntime measures up to 9e-7 on these sizes), and up to ~5e-6 on a stored
    # hypothesis example: bounded as fp32's 1e-5 of the output's magnitude, per element.
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    if atol is None:
        atol = 1e-5 * max(1.0, float(np.abs(want).max(initial=0)))
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=rtol, atol=atol)


def rel_err(got, want):
    return float(np.abs(got.astype(np.float64) - want).max() / max(np.abs(want).max(), 1e-30))


dims = st.tuples(
    st.integers(1, 2),
    st.integers(1, 3),
    st.sampled_from([1, 2, 5, 17, 64, 70, 129]),
    st.sampled_from([1, 3, 16, 33, 128, 130, 300]),
    st.sampled_from([1, 7, 16, 64]),
    st.sampled_from([1, 16, 64]),
)


@settings(max_examples=80, deadline=None)
@given(
    dims=dims,
    mask_shape=st.sampled_from(["none", "b11k", "b1qk", "11qk", "k", "bhqk"]),
    kind=st.sampled_from(["inf", "lowest", "tri", "pad"]),
    causal=st.booleans(),
    kt=st.booleans(),
    threads=st.sampled_from([1, 2]),
    seed=st.integers(0, 2**16),
)
def test_attention_fp32(dims, mask_shape, kind, causal, kt, threads, seed):
    B, H, Sq, Sk, D, Dv = dims
    q, k, v = arrays(seed, B, H, Sq, Sk, D, Dv)
    shapes = {
        "none": None,
        "b11k": (B, 1, 1, Sk),
        "b1qk": (B, 1, Sq, Sk),
        "11qk": (1, 1, Sq, Sk),
        "k": (Sk,),
        "bhqk": (B, H, Sq, Sk),
    }
    mask = None if shapes[mask_shape] is None else make_mask(seed, shapes[mask_shape], kind)
    kin = np.ascontiguousarray(np.swapaxes(k, -1, -2)) if kt else k
    attrs = {"causal": int(causal), "k_transposed": int(kt)}
    (got,) = run_r1("Attention", [q, kin, v, mask], attrs, threads=threads)
    check(got, reference(q, k, v, mask, causal=causal))


@settings(max_examples=15, deadline=None)
@given(dims=dims, kv=st.sampled_from(["1h", "b1", "11"]), seed=st.integers(0, 2**16))
def test_attention_broadcast_kv_and_scale(dims, kv, seed):
    B, H, Sq, Sk, D, Dv = dims
    kb = {"1h": (1, H), "b1": (B, 1), "11": (1, 1)}[kv]
    q, k, v = arrays(seed, B, H, Sq, Sk, D, Dv, kb=kb)
    (got,) = run_r1("Attention", [q, k, v], {"scale": 0.3})
    assert got.shape == (B, H, Sq, Dv)
    check(got, reference(q, k, v, scale=0.3))


def assert_bf16_close(got, want, v):
    """bf16 rounds P and V (2^-8 each): the error of an average of V is bounded by V's scale, not by the
    output's, which cancels towards 0 for small head sizes (D = Dv = 1)."""
    err = np.abs(got.astype(np.float64) - want).max()
    assert err <= 2e-2 * max(float(np.abs(want).max()), float(np.abs(v).max())), err


@settings(max_examples=15, deadline=None)
@given(dims=dims, causal=st.booleans(), kt=st.booleans(), seed=st.integers(0, 2**16))
def test_attention_bf16_precision(dims, causal, kt, seed):
    B, H, Sq, Sk, D, Dv = dims
    q, k, v = arrays(seed, B, H, Sq, Sk, D, Dv)
    mask = make_mask(seed, (B, 1, 1, Sk), "lowest")
    kin = np.ascontiguousarray(np.swapaxes(k, -1, -2)) if kt else k
    attrs = {"causal": int(causal), "k_transposed": int(kt), "precision": "bf16"}
    (got,) = run_r1("Attention", [q, kin, v, mask], attrs, threads=2)
    want = reference(q, k, v, mask, causal=causal)
    nan = np.isnan(want)  # causal with Sq > Sk: queries that see no key
    assert np.array_equal(np.isnan(got), nan)
    if not nan.all():
        assert_bf16_close(got[~nan], want[~nan], v)


@pytest.mark.parametrize("dtype", [np.float16, BF16])
def test_attention_16bit_tensors(dtype):
    q, k, v = arrays(3, 2, 3, 40, 150, 32, 32, dtype=dtype)
    mask = make_mask(3, (2, 1, 40, 150), "lowest")
    mask = np.where(mask == LOWEST, ml_dtypes.finfo(dtype).min, mask).astype(dtype)  # the dtype's lowest
    (got,) = run_r1("Attention", [q, k, v, mask], {"causal": 1})
    assert got.dtype == np.dtype(dtype)
    assert rel_err(got, reference(q, k, v, mask, causal=True)) < 2e-2


def unfused_ort(q, k, v, mask, scale):
    """softmax(scale * Q Kᵀ + mask) V as the unfused ONNX graph, run by onnxruntime."""
    import onnxruntime as ort

    t = onnx_type(q.dtype)
    names = ["q", "k", "v", "mask"]
    ins = [helper.make_tensor_value_info(n, t, list(a.shape)) for n, a in zip(names, (q, k, v, mask))]
    nodes = [
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q", "kt"], ["s"]),
        helper.make_node("Mul", ["s", "scale"], ["ss"]),
        helper.make_node("Add", ["ss", "mask"], ["sm"]),
        helper.make_node("Softmax", ["sm"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["o"]),
    ]
    init = [helper.make_tensor("scale", t, [], [scale])]
    g = helper.make_graph(nodes, "unfused", ins, [helper.make_tensor_value_info("o", t, None)], init)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, dict(zip(names, (q, k, v, mask))))[0]


@pytest.mark.parametrize("fill", [-np.inf, LOWEST, "mixed"])
@pytest.mark.parametrize("Sk", [5, 300])
def test_attention_fully_masked_rows_match_unfused_graph(fill, Sk):
    q, k, v = arrays(7, 2, 2, 6, Sk, 16, 16)
    mask = make_mask(7, (2, 1, 6, Sk), "inf")
    if fill == "mixed":  # -inf in one key block, the float lowest in the rest
        mask[0, 0, 1, :] = -np.inf
        mask[0, 0, 1, Sk // 2 :] = LOWEST
    else:
        mask[0, 0, 1, :] = fill
    mask[1, 0, 4, :] = LOWEST
    want = unfused_ort(q, k, v, mask, 1.0 / np.sqrt(16))
    got = {}
    for prec in ("fp32", "bf16"):
        (got[prec],) = run_r1("Attention", [q, k, v, mask], {"precision": prec}, threads=2)
        assert np.array_equal(np.isnan(got[prec]), np.isnan(want)), "NaN rows differ from the unfused graph"
        tol = dict(rtol=2e-2, atol=2e-2) if prec == "bf16" else dict(rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got[prec], want, **tol)
    if fill == -np.inf:
        assert np.isnan(got["fp32"][0, :, 1]).all()  # softmax of an all -inf row: NaN, as unfused
    else:
        assert np.isfinite(got["fp32"]).all()
    # A row masked with the float lowest everywhere: softmax of equal values, the plain mean of V.
    np.testing.assert_allclose(got["fp32"][1, :, 4], v[1].mean(axis=1), rtol=1e-5, atol=1e-6)


def test_attention_causal_sq_longer_than_sk_and_empty_keys():
    q, k, v = arrays(11, 1, 2, 9, 4, 8, 8)
    (got,) = run_r1("Attention", [q, k, v], {"causal": 1})
    want = reference(q, k, v, causal=True)  # the first Sq - Sk queries see no key: NaN
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert np.isnan(got[:, :, :5]).all() and np.isfinite(got[:, :, 5:]).all()
    q, k, v = arrays(11, 1, 2, 3, 0, 8, 8)
    (got,) = run_r1("Attention", [q, k, v])
    np.testing.assert_array_equal(got, np.zeros((1, 2, 3, 8), np.float32))


def test_attention_long_sequence_matches_reference():
    q, k, v = arrays(5, 1, 2, 1030, 1030, 64, 64)
    (got,) = run_r1("Attention", [q, k, v], {"causal": 1}, threads=2)
    check(got, reference(q, k, v, causal=True))


def test_attention_schema_errors_and_symbolic_shapes():
    q, k, v = arrays(1, 1, 2, 4, 6, 8, 8)
    with pytest.raises(r1.ModelError):
        run_r1("Attention", [q, k[..., :5], v])  # head sizes differ
    with pytest.raises(r1.ModelError):
        run_r1("Attention", [q, k, v, np.zeros((1, 2, 3, 6), np.float32)])  # mask does not broadcast
    with pytest.raises(r1.ModelError):
        run_r1("Attention", [q, k, v], {"precision": "int8"})
    # Symbolic batch / sequence dims: the graph compiles, shapes resolve at run time.
    f = TensorProto.FLOAT
    ins = [
        helper.make_tensor_value_info("q", f, ["b", 2, "s", 8]),
        helper.make_tensor_value_info("k", f, ["b", 2, "t", 8]),
        helper.make_tensor_value_info("v", f, ["b", 2, "t", 8]),
        helper.make_tensor_value_info("m", f, ["b", 1, 1, "t"]),
    ]
    node = helper.make_node("Attention", ["q", "k", "v", "m"], ["o"], domain="r1")
    g = helper.make_graph([node], "sym", ins, [helper.make_tensor_value_info("o", f, None)])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("r1", 1)])
    eng = r1.InferenceEngine(r1.Model(r1.load_onnx(model)))
    for b, s, t in [(1, 3, 5), (2, 7, 130)]:
        q, k, v = arrays(b + s, b, 2, s, t, 8, 8)
        m = make_mask(t, (b, 1, 1, t), "inf")
        check(eng.run([q, k, v, m])["o"], reference(q, k, v, m))


def to_bshd(a):
    """[B, H, S, D] -> [B, S, H, D] (contiguous), the layout of qkv_layout/out_layout="bshd"."""
    return np.ascontiguousarray(np.swapaxes(a, 1, 2))


@settings(max_examples=60, deadline=None)
@given(
    dims=dims,
    kv=st.sampled_from(["bh", "1h", "b1", "11"]),
    mask_shape=st.sampled_from(["none", "b11k", "b1qk", "bhqk"]),
    kind=st.sampled_from(["inf", "lowest", "tri", "pad"]),
    causal=st.booleans(),
    in_bshd=st.booleans(),
    out_bshd=st.booleans(),
    bf16=st.booleans(),
    threads=st.sampled_from([1, 2]),
    seed=st.integers(0, 2**16),
)
def test_attention_bshd_layouts(dims, kv, mask_shape, kind, causal, in_bshd, out_bshd, bf16, threads, seed):
    B, H, Sq, Sk, D, Dv = dims
    kb = {"bh": (B, H), "1h": (1, H), "b1": (B, 1), "11": (1, 1)}[kv]  # GQA-style broadcast K/V
    q, k, v = arrays(seed, B, H, Sq, Sk, D, Dv, kb=kb)
    shapes = {"none": None, "b11k": (B, 1, 1, Sk), "b1qk": (B, 1, Sq, Sk), "bhqk": (B, H, Sq, Sk)}
    mask = None if shapes[mask_shape] is None else make_mask(seed, shapes[mask_shape], kind)
    attrs = {"causal": int(causal), "precision": "bf16" if bf16 else "fp32"}
    if in_bshd:
        attrs["qkv_layout"] = "bshd"
    if out_bshd:
        attrs["out_layout"] = "bshd"
    ins = [to_bshd(a) for a in (q, k, v)] if in_bshd else [q, k, v]
    (got,) = run_r1("Attention", [*ins, mask], attrs, threads=threads)
    want = reference(q, k, v, mask, causal=causal)
    if out_bshd:
        want = np.swapaxes(want, 1, 2)
    assert got.shape == want.shape
    if not bf16:
        check(got, want)
        return
    nan = np.isnan(want)  # causal with Sq > Sk: queries that see no key
    assert np.array_equal(np.isnan(got), nan)
    if not nan.all():
        assert_bf16_close(got[~nan], want[~nan], v)


def test_attention_bshd_symbolic_shapes_and_errors():
    f = TensorProto.FLOAT
    ins = [
        helper.make_tensor_value_info("q", f, ["b", "s", 2, 8]),
        helper.make_tensor_value_info("k", f, ["b", "t", 2, 8]),
        helper.make_tensor_value_info("v", f, ["b", "t", 2, 4]),
    ]
    node = helper.make_node("Attention", ["q", "k", "v"], ["o"], domain="r1", qkv_layout="bshd", out_layout="bshd")
    g = helper.make_graph([node], "sym", ins, [helper.make_tensor_value_info("o", f, None)])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("r1", 1)])
    eng = r1.InferenceEngine(r1.Model(r1.load_onnx(model)))
    for b, s, t in [(1, 3, 5), (2, 70, 130)]:
        q, k, v = arrays(b + s, b, 2, s, t, 8, 4)
        got = eng.run([to_bshd(q), to_bshd(k), to_bshd(v)])["o"]
        assert got.shape == (b, s, 2, 4)
        check(got, np.swapaxes(reference(q, k, v), 1, 2))
    q, k, v = (to_bshd(a) for a in arrays(1, 1, 2, 4, 6, 8, 8))
    with pytest.raises(r1.ModelError):
        run_r1("Attention", [q, k, v], {"qkv_layout": "bhds"})
    with pytest.raises(r1.ModelError):  # a transposed K exists only in the bhsd layout
        run_r1(
            "Attention", [q, np.ascontiguousarray(np.swapaxes(k, 1, 3)), v], {"qkv_layout": "bshd", "k_transposed": 1}
        )
    with pytest.raises(r1.ModelError):
        run_r1("Attention", [q, k[:, :5], v], {"qkv_layout": "bshd"})  # key counts of K and V differ
