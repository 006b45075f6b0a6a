"""GPU GEMM kernels (cuda/kernels/matmul.cu, fused_matmul.cu, gemm_tile*.cuh): MatMul, Gemm and r1::FusedMatMul against
float64 numpy references computed from the dtype-rounded inputs.

Every test runs one kernel through _core.run_kernel on the first GPU and skips where there is none.
Tolerance: |got - want| <= rtol * (|want| + mag), mag being the same expression on absolute values
(alpha |A| @ |B| + |bias| + |residual|), so cancellation in a long dot product is measured against the
size of its terms. rtol: float32 1e-5 (1e-4 for K >= 256), float16 / bfloat16 1e-2.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import deepseek_r1 as r1
from deepseek_r1 import _core

pytestmark = pytest.mark.gpu

from helpers.gemm_reference import (
    BF16,
    DTYPE_IDS,
    DTYPES,
    F16,
    assert_gemm_close,
    c_shapes,
    erf,
    f64,
    gemm_ref,
    rand,
    sigmoid,
)

seeds = st.integers(0, 2**31 - 1)
dtypes = st.sampled_from(DTYPES)


def run(dev, op, inputs, attrs=None, opset=17, domain=""):
    return _core.run_kernel(dev, op, list(inputs), attrs or {}, opset, 1, domain)[0]


# ---- MatMul ---------------------------------------------------------------------------------------


def check_matmul(dev, a_shape, b_shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    a, b = rand(rng, a_shape, dtype), rand(rng, b_shape, dtype)
    want = np.matmul(f64(a), f64(b))
    mag = np.matmul(np.abs(f64(a)), np.abs(f64(b)))
    got = run(dev, "MatMul", [a, b])
    assert_gemm_close(got, want, mag, dtype, a_shape[-1])


MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((4,), (4, 5)),  # 1-D A: [N]
    ((3, 4), (4,)),  # 1-D B: [M]
    ((7,), (7,)),  # both 1-D: a scalar
    ((2, 3, 4), (4, 5)),  # B without batch: A's batch folds into M
    ((4,), (2, 4, 5)),  # 1-D A against a batched B
    ((2, 3, 4), (4,)),
    ((2, 3, 4), (2, 4, 5)),
    ((1, 3, 4), (2, 4, 5)),  # broadcast A
    ((2, 3, 4), (1, 4, 5)),  # broadcast B
    ((2, 1, 3, 4), (5, 4, 6)),  # both broadcast, ranks differ
    ((3, 1, 2, 17, 33), (1, 4, 1, 33, 19)),
    ((3, 4), (2, 2, 4, 5)),
    ((1, 1, 3, 4), (4, 5)),
    ((3, 0), (0, 5)),  # K = 0: zeros
    ((2, 3, 0), (2, 0, 4)),
    ((0, 4), (4, 5)),  # M = 0
    ((3, 4), (4, 0)),  # N = 0
    ((0, 3, 4), (4, 5)),  # empty batch
    ((1, 1), (1, 1)),
    ((17, 33), (33, 65)),
    ((130, 300), (300, 257)),
    ((2, 65, 31), (2, 31, 129)),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("a_shape,b_shape", MATMUL_SHAPES, ids=[f"{a}x{b}" for a, b in MATMUL_SHAPES])
def test_matmul_shapes(dev, a_shape, b_shape, dtype):
    check_matmul(dev, a_shape, b_shape, dtype)


@given(
    bs=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=3),
    m=st.integers(1, 70),
    n=st.integers(1, 70),
    k=st.integers(0, 70),
    dtype=dtypes,
    seed=seeds,
)
@settings(deadline=None)
def test_matmul_property(dev, bs, m, n, k, dtype, seed):
    sa, sb = bs.input_shapes
    check_matmul(dev, tuple(sa) + (m, k), tuple(sb) + (k, n), dtype, seed)


@given(m=st.integers(1, 300), n=st.integers(1, 300), k=st.integers(1, 300), dtype=dtypes, seed=seeds)
@settings(deadline=None, max_examples=20)
def test_matmul_property_large(dev, m, n, k, dtype, seed):
    check_matmul(dev, (m, k), (k, n), dtype, seed)


def test_matmul_values_not_tiles(dev):
    # Integers make every product exact in fp32: a misplaced element or a dropped edge shows as
    # an exact mismatch, independent of tolerance.
    rng = np.random.default_rng(7)
    a = rng.integers(-4, 5, size=(3, 67, 45)).astype(np.float32)
    b = rng.integers(-4, 5, size=(45, 70)).astype(np.float32)
    np.testing.assert_array_equal(run(dev, "MatMul", [a, b]), np.matmul(a, b))
    for dt in (F16, BF16):
        got = run(dev, "MatMul", [a.astype(dt), b.astype(dt)])
        np.testing.assert_array_equal(got.astype(np.float32), np.matmul(a, b).astype(dt).astype(np.float32))


# Sizes around the 32 x 32 x 8 blocks of the MFMA path (HIP) and the 64 x 64 x 32 tiles of every
# path: one short of, at and one past the multiples. Integer values keep every sum exact in fp32
# (|sum| <= 16 K <= 2048 stays exact in fp16 too), so a lane writing the wrong row or column of its
# block shows as an exact mismatch rather than hiding inside a tolerance.
TILE_EDGE_SIZES = [
    (32, 32, 8),
    (31, 33, 7),
    (33, 31, 9),
    (32, 64, 32),
    (64, 32, 31),
    (64, 64, 33),
    (63, 65, 40),
    (65, 63, 64),
    (96, 97, 96),
    (1, 64, 16),
    (64, 1, 8),
    (128, 96, 72),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("m,n,k", TILE_EDGE_SIZES, ids=[f"{m}x{n}x{k}" for m, n, k in TILE_EDGE_SIZES])
def test_gemm_exact_tile_edges(dev, m, n, k, dtype):
    rng = np.random.default_rng(m * 10007 + n * 101 + k)
    a = rng.integers(-4, 5, size=(m, k)).astype(np.float32)
    b = rng.integers(-4, 5, size=(k, n)).astype(np.float32)
    want = (a @ b).astype(dtype).astype(np.float32)
    # MatMul (row-major A and B: vector loads on whole tiles) and Gemm with transposed operands
    # (transB: B contiguous along k; transA: the element path).
    got = run(dev, "MatMul", [a.astype(dtype), b.astype(dtype)])
    np.testing.assert_array_equal(got.astype(np.float32), want)
    for ta, tb in [(0, 1), (1, 0), (1, 1)]:
        A = np.ascontiguousarray(a.T if ta else a).astype(dtype)
        B = np.ascontiguousarray(b.T if tb else b).astype(dtype)
        got = run(dev, "Gemm", [A, B], {"transA": ("int", ta), "transB": ("int", tb)}, opset=13)
        np.testing.assert_array_equal(got.astype(np.float32), want, err_msg=f"transA={ta} transB={tb}")


# ---- Gemm -----------------------------------------------------------------------------------------


def check_gemm(dev, m, n, k, ta, tb, alpha, beta, c_shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    a = rand(rng, (k, m) if ta else (m, k), dtype)
    b = rand(rng, (n, k) if tb else (k, n), dtype)
    c = None if c_shape is None else rand(rng, c_shape, dtype)
    attrs = {"transA": ("int", ta), "transB": ("int", tb)}
    if alpha is not None:
        attrs["alpha"] = ("float", alpha)
    if beta is not None:
        attrs["beta"] = ("float", beta)
    ins = [a, b] if c is None else [a, b, c]
    got = run(dev, "Gemm", ins, attrs, opset=13)
    want, mag = gemm_ref(a, b, c, ta, tb, 1.0 if alpha is None else alpha, 1.0 if beta is None else beta)
    assert_gemm_close(got, want, mag, dtype, k)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("ta", [0, 1])
@pytest.mark.parametrize("tb", [0, 1])
@pytest.mark.parametrize("alpha,beta", [(None, None), (0.5, 2.0), (-1.25, 0.0), (2.0, -0.5)])
@pytest.mark.parametrize("ci", range(8))
def test_gemm_combinations(dev, dtype, ta, tb, alpha, beta, ci):
    m, n, k = 19, 37, 23
    check_gemm(dev, m, n, k, ta, tb, alpha, beta, c_shapes(m, n)[ci], dtype, seed=ci)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_gemm_large(dev, dtype, ta, tb):
    check_gemm(dev, 130, 257, 300, ta, tb, 0.75, 1.5, (257,), dtype, seed=3)


@given(
    m=st.integers(1, 150),
    n=st.integers(1, 150),
    k=st.integers(0, 150),
    ta=st.integers(0, 1),
    tb=st.integers(0, 1),
    alpha=st.floats(-2, 2),
    beta=st.floats(-2, 2),
    ci=st.integers(0, 7),
    dtype=dtypes,
    seed=seeds,
)
@settings(deadline=None)
def test_gemm_property(dev, m, n, k, ta, tb, alpha, beta, ci, dtype, seed):
    check_gemm(dev, m, n, k, ta, tb, alpha, beta, c_shapes(m, n)[ci], dtype, seed)


def test_gemm_beta_zero_ignores_nan_c(dev):
    rng = np.random.default_rng(1)
    a, b = rand(rng, (5, 6), np.float32), rand(rng, (6, 7), np.float32)
    c = np.full((5, 7), np.nan, np.float32)
    got = run(dev, "Gemm", [a, b, c], {"beta": ("float", 0.0)}, opset=13)
    np.testing.assert_allclose(got, f64(a) @ f64(b), rtol=1e-5, atol=1e-6)


def test_gemm_k_zero(dev):
    a, b = np.zeros((4, 0), np.float32), np.zeros((0, 3), np.float32)
    c = np.arange(3, dtype=np.float32)
    got = run(dev, "Gemm", [a, b, c], {"beta": ("float", 2.0)}, opset=13)
    np.testing.assert_array_equal(got, np.broadcast_to(2.0 * c, (4, 3)))


# ---- FusedMatMul ----------------------------------------------------------------------------------

# name -> (float64 reference(x, act_alpha, act_beta), attrs to pass)
ACTS = {
    "": (lambda x, a, b: x, {}),
    "Relu": (lambda x, a, b: np.maximum(x, 0.0), {}),
    "Gelu": (lambda x, a, b: 0.5 * x * (1.0 + erf(x / np.sqrt(2.0))), {}),
    "GeluTanh": (lambda x, a, b: 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3))), {}),
    "Sigmoid": (lambda x, a, b: sigmoid(x), {}),
    "Silu": (lambda x, a, b: x * sigmoid(x), {}),
    "Tanh": (lambda x, a, b: np.tanh(x), {}),
    "HardSigmoid": (lambda x, a, b: np.clip(a * x + b, 0.0, 1.0), {}),
    "HardSwish": (lambda x, a, b: x * np.clip(x / 6.0 + 0.5, 0.0, 1.0), {}),
    "Clip": (lambda x, a, b: np.clip(x, a, b), {"act_alpha": 0.1, "act_beta": 0.6}),
    "LeakyRelu": (lambda x, a, b: np.where(x < 0, a * x, x), {}),
}
ACT_DEFAULTS = {"HardSigmoid": (0.2, 0.5), "LeakyRelu": (0.01, 0.0), "Clip": (-np.inf, np.inf)}


def fused_ref(a, b, bias, res, trans_b, alpha, act, pa, pb):
    A, B = f64(a), f64(b)
    if trans_b:
        B = B.T
    z = alpha * np.matmul(A, B)
    mag = abs(alpha) * np.matmul(np.abs(A), np.abs(B))
    if bias is not None:
        z = z + f64(bias)
        mag = mag + np.abs(f64(bias))
    if res is not None:
        z = z + f64(res)
        mag = mag + np.abs(f64(res))
    # Every activation here has a slope of at most ~1.13: the pre-activation bound carries over.
    return ACTS[act][0](z, pa, pb), np.broadcast_to(mag, z.shape)


def check_fused(
    dev, a_shape, n, dtype, act="", bias=False, res_shape=None, trans_b=0, alpha=None, act_attrs=None, seed=0, scale=1.0
):
    rng = np.random.default_rng(seed)
    k = a_shape[-1]
    a = rand(rng, a_shape, dtype, -scale, scale)
    b = rand(rng, (n, k) if trans_b else (k, n), dtype)
    bv = rand(rng, (n,), dtype) if bias else None
    rv = rand(rng, res_shape, dtype) if res_shape is not None else None
    attrs = {"trans_b": ("int", trans_b)}
    if act:
        attrs["activation"] = ("string", act)
    if alpha is not None:
        attrs["alpha"] = ("float", alpha)
    pa, pb = ACT_DEFAULTS.get(act, (0.0, 0.0))
    extra = dict(ACTS[act][1])
    extra.update(act_attrs or {})
    if "act_alpha" in extra:
        pa = extra["act_alpha"]
        attrs["act_alpha"] = ("float", pa)
    if "act_beta" in extra:
        pb = extra["act_beta"]
        attrs["act_beta"] = ("float", pb)
    got = run(dev, "FusedMatMul", [a, b, bv, rv], attrs, opset=1, domain="r1")
    want, mag = fused_ref(a, b, bv, rv, trans_b, 1.0 if alpha is None else alpha, act, np.float32(pa), np.float32(pb))
    assert_gemm_close(got, want, mag, dtype, k)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("act", list(ACTS), ids=[a or "none" for a in ACTS])
def test_fused_activations(dev, dtype, act):
    # Inputs scaled so pre-activations spread over [-4, 4]: every branch of every activation is hit.
    check_fused(dev, (3, 21, 40), 35, dtype, act=act, bias=True, res_shape=(3, 21, 35), alpha=0.8, scale=2.0)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    "act,attrs",
    [
        ("HardSigmoid", {"act_alpha": 0.3, "act_beta": 0.4}),
        ("LeakyRelu", {"act_alpha": 0.2}),
        ("Clip", {"act_alpha": -0.5}),
        ("HardSigmoid", {}),
        ("LeakyRelu", {}),
    ],
)
def test_fused_activation_attrs(dev, dtype, act, attrs):
    check_fused(dev, (33, 20), 17, dtype, act=act, act_attrs=attrs, scale=2.0)


RESIDUALS = [None, "y", "n", "1n", "row1", "scalar1"]


def res_shape_for(y_shape, kind):
    if kind is None:
        return None
    if kind == "y":
        return y_shape
    if kind == "n":
        return y_shape[-1:]
    if kind == "1n":  # one extra leading 1 where Y has room for it
        return ((1,) if len(y_shape) >= 2 else ()) + tuple(y_shape[-1:])
    if kind == "row1":  # [..., M, 1]: broadcast along N
        return tuple(y_shape[:-1]) + (1,)
    return (1,)


A_SHAPES = [(24,), (5, 24), (2, 7, 24), (2, 1, 3, 24), (1, 24)]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("a_shape", A_SHAPES, ids=[str(s) for s in A_SHAPES])
@pytest.mark.parametrize("res", RESIDUALS, ids=[str(r) for r in RESIDUALS])
@pytest.mark.parametrize("trans_b", [0, 1])
@pytest.mark.parametrize("bias", [False, True])
def test_fused_bias_residual(dev, dtype, a_shape, res, trans_b, bias):
    n = 29
    y_shape = tuple(a_shape[:-1]) + (n,)
    check_fused(
        dev, a_shape, n, dtype, act="Relu", bias=bias, res_shape=res_shape_for(y_shape, res), trans_b=trans_b, alpha=1.5
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_fused_residual_broadcast_lead(dev, dtype):
    # A residual broadcast over some leading dims of Y (not only a row or the whole of Y).
    check_fused(dev, (2, 3, 5, 16), 9, dtype, bias=True, res_shape=(3, 1, 9))
    check_fused(dev, (2, 3, 5, 16), 9, dtype, res_shape=(2, 1, 5, 9))
    check_fused(dev, (2, 3, 5, 16), 9, dtype, res_shape=(1, 3, 5, 1))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("trans_b", [0, 1])
def test_fused_large(dev, dtype, trans_b):
    check_fused(dev, (130, 300), 257, dtype, act="Gelu", bias=True, res_shape=(130, 257), trans_b=trans_b)
    check_fused(dev, (2, 65, 300), 130, dtype, act="Silu", bias=True, trans_b=trans_b, alpha=0.5)


@given(
    lead=st.lists(st.integers(1, 4), min_size=0, max_size=2),
    m=st.integers(1, 80),
    n=st.integers(1, 80),
    k=st.integers(0, 80),
    act=st.sampled_from(list(ACTS)),
    bias=st.booleans(),
    res=st.sampled_from(RESIDUALS),
    trans_b=st.integers(0, 1),
    alpha=st.floats(-2, 2),
    dtype=dtypes,
    seed=seeds,
)
@settings(deadline=None)
def test_fused_property(dev, lead, m, n, k, act, bias, res, trans_b, alpha, dtype, seed):
    a_shape = tuple(lead) + (m, k)
    y_shape = tuple(lead) + (m, n)
    check_fused(
        dev,
        a_shape,
        n,
        dtype,
        act=act,
        bias=bias,
        res_shape=res_shape_for(y_shape, res),
        trans_b=trans_b,
        alpha=alpha,
        seed=seed,
    )


def test_fused_k_zero(dev):
    a, b = np.zeros((3, 0), np.float32), np.zeros((0, 4), np.float32)
    bias = np.array([-1.0, 0.5, 2.0, -3.0], np.float32)
    got = run(dev, "FusedMatMul", [a, b, bias], {"activation": ("string", "Relu")}, opset=1, domain="r1")
    np.testing.assert_array_equal(got, np.broadcast_to(np.maximum(bias, 0), (3, 4)))


# ---- errors ---------------------------------------------------------------------------------------


def test_matmul_inner_mismatch(dev):
    with pytest.raises(r1.InputError, match="(?i)inner|mismatch|differ"):
        run(dev, "MatMul", [np.ones((3, 4), np.float32), np.ones((5, 6), np.float32)])
    with pytest.raises(r1.InputError):
        run(dev, "MatMul", [np.ones((2, 3, 4), np.float32), np.ones((3, 4, 5), np.float32)])  # batch 2 vs 3


def test_gemm_inner_mismatch(dev):
    with pytest.raises(r1.InputError, match="(?i)inner|mismatch|differ"):
        run(dev, "Gemm", [np.ones((3, 4), np.float32), np.ones((3, 5), np.float32)], {"transB": ("int", 1)}, opset=13)
    with pytest.raises(r1.InputError):
        run(
            dev,
            "Gemm",
            [np.ones((3, 4), np.float32), np.ones((4, 5), np.float32), np.ones((2, 5), np.float32)],
            opset=13,
        )


def test_fused_errors(dev):
    a = np.ones((3, 4), np.float32)
    with pytest.raises(r1.InputError, match="(?i)inner|mismatch|differ"):
        run(dev, "FusedMatMul", [a, np.ones((5, 6), np.float32)], opset=1, domain="r1")
    with pytest.raises(r1.InputError):
        run(dev, "FusedMatMul", [a, np.ones((4, 6), np.float32), np.ones(5, np.float32)], opset=1, domain="r1")
    with pytest.raises(r1.InputError):
        run(
            dev,
            "FusedMatMul",
            [a, np.ones((4, 6), np.float32), None, np.ones((2, 6), np.float32)],
            opset=1,
            domain="r1",
        )
    with pytest.raises(r1.ModelError):
        run(
            dev,
            "FusedMatMul",
            [a, np.ones((4, 6), np.float32)],
            {"activation": ("string", "Swish")},
            opset=1,
            domain="r1",
        )
    # packed_b=1 is a CPU layout: the GPU kernel refuses it (the predicate keeps such nodes on the CPU).
    blob = _core.pack_weights(np.ones((4, 6), np.float32), False, "fp32") if hasattr(_core, "pack_weights") else None
    if blob is not None:
        attrs = {"packed_b": ("int", 1), "k": ("int", 4), "n": ("int", 6)}
        with pytest.raises(r1.ModelError, match="packed"):
            run(dev, "FusedMatMul", [a, np.asarray(blob)], attrs, opset=1, domain="r1")


def test_mixed_dtypes_rejected(dev):
    with pytest.raises((r1.InputError, r1.ModelError)):
        run(dev, "MatMul", [np.ones((3, 4), np.float32), np.ones((4, 5), np.float16)])
