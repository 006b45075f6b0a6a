"""deepseek_r1._cublas: cuBLASLt MatMul / Gemm / r1::FusedMatMul for the CUDA backend, against float64
numpy references computed from the dtype-rounded inputs.

GPU tests run one kernel through _core.run_kernel on the first GPU (conftest's `dev`) and skip where
there is none, or where _cublas did not load (gpu.cublas_active()). _cublas.stats() tells which path a
node took: cuBLASLt, or the replaced tiled kernel of _cuda (activations other than ReLU / tanh-GELU,
broadcast residuals, scaled or column C, batch broadcasts, K = 0...). Tolerance as in
test_cuda_gemm.py: |got - want| <= rtol * (|want| + |alpha| |A| @ |B| + |bias| + |residual|), rtol
float32 1e-5 (1e-4 for K >= 256), float16 / bfloat16 1e-2.
The tests without the gpu marker check the import on a machine without a GPU.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deepseek_r1 as r1
from deepseek_r1 import _core, gpu
from helpers.gemm_reference import (
    DTYPE_IDS,
    DTYPES,
    F32,
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
gpu_only = pytest.mark.gpu


@pytest.fixture(scope="module")
def lt():
    """The _cublas module, loaded and registered; skips where it is not."""
    if not gpu.cublas_active():
        pytest.skip("deepseek_r1._cublas is not loaded (not built, or no nvidia-cublas)")
    return importlib.import_module("deepseek_r1._cublas")


def run(dev, op, inputs, attrs=None, opset=17, domain=""):
    return _core.run_kernel(dev, op, list(inputs), attrs or {}, opset, 1, domain)[0]


def run_counted(lt, dev, op, inputs, attrs=None, opset=17, domain=""):
    """Runs one node; returns the output and which path ran it ("cublas" or "fallback")."""
    lt.reset_stats()
    got = run(dev, op, inputs, attrs, opset, domain)
    s = lt.stats()
    assert s["cublas_calls"] + s["fallback_calls"] == 1, s
    return got, "cublas" if s["cublas_calls"] else "fallback"


# ---- without a GPU --------------------------------------------------------------------------------


def test_import_records_no_cublas_error():
    # Importing the package never fails for _cublas, and where it is present it loads (or is absent).
    assert "cublas" not in gpu.load_errors(), gpu.load_errors()
    assert isinstance(gpu.cublas_active(), bool)


def test_cublas_active_follows_cuda():
    if "cuda" not in gpu.modules():
        assert not gpu.cublas_active()  # _cublas is only tried after _cuda loaded
    elif importlib.util.find_spec("deepseek_r1._cublas") is not None and os.environ.get("R1_DISABLE_CUBLAS", "") in (
        "",
        "0",
    ):
        assert gpu.cublas_active()


def test_preload_finds_the_wheel():
    wheel = any(
        os.path.isfile(os.path.join(p or os.curdir, "nvidia", "cu13", "lib", "libcublasLt.so.13")) for p in sys.path
    )
    if not wheel:
        pytest.skip("nvidia-cublas 13 is not installed")
    assert gpu._preload_cublaslt()


def test_module_api(lt):
    assert lt.version() >= 130000 and lt.compiled_version >= 130000
    assert lt.tf32() is False  # exact float32 by default
    try:
        assert lt.tf32(True) is True and lt.tf32() is True
    finally:
        assert lt.tf32(False) is False
    s = lt.stats()
    assert set(s) == {"cublas_calls", "fallback_calls", "cached_plans"}


# ---- MatMul ---------------------------------------------------------------------------------------

# a shape, b shape, whether cuBLASLt runs it (None: either, the heuristic decides)
MATMUL_CASES = [
    ((64, 128), (128, 32), True),
    ((3, 4), (4, 5), None),
    ((4,), (4, 5), None),  # 1-D A
    ((3, 4), (4,), None),  # 1-D B
    ((2, 3, 16, 32), (32, 24), True),  # B without batch: A's batch folds into M
    ((2, 3, 16, 32), (2, 3, 32, 24), True),  # equal batches: strided batch
    ((1, 3, 16, 32), (3, 32, 24), True),  # equal up to leading 1s
    ((2, 1, 16, 32), (1, 1, 32, 24), True),
    ((16, 32), (2, 32, 24), False),  # A broadcast over B's batch: the tiled kernel
    ((2, 1, 8, 16), (1, 3, 16, 8), False),  # batch broadcast both ways
    ((5, 300), (300, 7), None),  # long K
]


@gpu_only
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("a_shape,b_shape,lt_path", MATMUL_CASES)
def test_matmul(dev, lt, a_shape, b_shape, lt_path, dtype):
    rng = np.random.default_rng(len(a_shape) * 10 + len(b_shape))
    a, b = rand(rng, a_shape, dtype), rand(rng, b_shape, dtype)
    got, path = run_counted(lt, dev, "MatMul", [a, b])
    assert_gemm_close(got, np.matmul(f64(a), f64(b)), np.matmul(np.abs(f64(a)), np.abs(f64(b))), dtype, a_shape[-1])
    if lt_path is not None:
        assert path == ("cublas" if lt_path else "fallback")


@gpu_only
@given(
    batch=st.sampled_from([(), (1,), (3,), (2, 2)]),
    m=st.integers(1, 70),
    n=st.integers(1, 70),
    k=st.integers(1, 300),
    b_batched=st.booleans(),
    dtype=dtypes,
    seed=seeds,
)
@settings(deadline=None)
def test_matmul_property(dev, lt, batch, m, n, k, b_batched, dtype, seed):
    rng = np.random.default_rng(seed)
    a = rand(rng, batch + (m, k), dtype)
    b = rand(rng, (batch if b_batched else ()) + (k, n), dtype)
    got = run(dev, "MatMul", [a, b])
    assert_gemm_close(got, np.matmul(f64(a), f64(b)), np.matmul(np.abs(f64(a)), np.abs(f64(b))), dtype, k)


@gpu_only
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_matmul_large(dev, lt, dtype):
    rng = np.random.default_rng(7)
    a, b = rand(rng, (2, 256, 1024), dtype), rand(rng, (1024, 384), dtype)
    got, path = run_counted(lt, dev, "MatMul", [a, b])
    assert path == "cublas"
    assert_gemm_close(got, np.matmul(f64(a), f64(b)), np.matmul(np.abs(f64(a)), np.abs(f64(b))), dtype, 1024)


@gpu_only
def test_matmul_tf32_opt_in(dev, lt):
    rng = np.random.default_rng(8)
    a, b = rand(rng, (128, 512), F32), rand(rng, (512, 64), F32)
    want, mag = f64(a) @ f64(b), np.abs(f64(a)) @ np.abs(f64(b))
    try:
        lt.tf32(True)
        got, path = run_counted(lt, dev, "MatMul", [a, b])
        assert path == "cublas"
        assert_gemm_close(got, want, mag, F32, 512, rtol=1e-2)  # TF32: 10-bit mantissa products
    finally:
        lt.tf32(False)
    got, path = run_counted(lt, dev, "MatMul", [a, b])  # exact again (another plan)
    assert path == "cublas"
    assert_gemm_close(got, want, mag, F32, 512)


@gpu_only
def test_matmul_k_zero(dev, lt):
    got, path = run_counted(lt, dev, "MatMul", [np.zeros((3, 0), np.float32), np.zeros((0, 4), np.float32)])
    assert path == "fallback"
    np.testing.assert_array_equal(got, np.zeros((3, 4), np.float32))


@gpu_only
def test_plan_cache_is_bounded(dev, lt):
    rng = np.random.default_rng(9)
    for n in range(1, 80):
        a, b = rand(rng, (4, 8), F32), rand(rng, (8, n), F32)
        assert_gemm_close(run(dev, "MatMul", [a, b]), f64(a) @ f64(b), np.abs(f64(a)) @ np.abs(f64(b)), F32, 8)
    assert lt.stats()["cached_plans"] <= 64 * max(1, len([d for d in r1.devices() if d.startswith("cuda")]))


# ---- Gemm -----------------------------------------------------------------------------------------


def gemm_lt_path(m, n, c_shape, alpha, beta):
    """Whether _cublas runs it (given an algorithm): C as a matrix, or a row with beta 1 (bias)."""
    if alpha == 0:
        return False
    if c_shape is None or beta == 0 or int(np.prod(c_shape)) == m * n:
        return True
    row = int(np.prod(c_shape)) == n and (n == 1 if len(c_shape) == 0 else c_shape[-1] == n)
    return row and beta == 1


def check_gemm(dev, lt, m, n, k, ta, tb, alpha, beta, c_shape, dtype, seed=0, expect_path=False):
    rng = np.random.default_rng(seed)
    a = rand(rng, (k, m) if ta else (m, k), dtype)
    b = rand(rng, (n, k) if tb else (k, n), dtype)
    c = None if c_shape is None else rand(rng, c_shape, dtype)
    attrs = {"transA": ("int", ta), "transB": ("int", tb)}
    if alpha is not None:
        attrs["alpha"] = ("float", alpha)
    if beta is not None:
        attrs["beta"] = ("float", beta)
    alpha = 1.0 if alpha is None else alpha
    beta = 1.0 if beta is None else beta
    got, path = run_counted(lt, dev, "Gemm", [a, b] if c is None else [a, b, c], attrs, opset=13)
    want, mag = gemm_ref(a, b, c, ta, tb, alpha, beta)
    assert_gemm_close(got, want, mag, dtype, k)
    if expect_path:
        assert path == ("cublas" if gemm_lt_path(m, n, c_shape, alpha, beta) else "fallback"), (c_shape, alpha, beta)


@gpu_only
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("ta", [0, 1])
@pytest.mark.parametrize("tb", [0, 1])
@pytest.mark.parametrize("alpha,beta", [(None, None), (0.5, 2.0), (-1.25, 0.0), (2.0, 1.0), (0.0, 1.0)])
@pytest.mark.parametrize("ci", range(8))
def test_gemm_paths(dev, lt, dtype, ta, tb, alpha, beta, ci):
    # Aligned sizes: cuBLASLt has an algorithm for each, so the path is the one expected.
    m, n, k = 48, 64, 32
    check_gemm(dev, lt, m, n, k, ta, tb, alpha, beta, c_shapes(m, n)[ci], dtype, seed=ci, expect_path=True)


@gpu_only
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
@pytest.mark.parametrize("ci", range(8))
def test_gemm_odd_sizes(dev, lt, dtype, ta, tb, ci):
    m, n, k = 19, 37, 23
    check_gemm(dev, lt, m, n, k, ta, tb, 0.75, 1.0, c_shapes(m, n)[ci], dtype, seed=ci)


@gpu_only
@given(
    m=st.integers(1, 150),
    n=st.integers(1, 150),
    k=st.integers(0, 300),
    ta=st.integers(0, 1),
    tb=st.integers(0, 1),
    alpha=st.floats(-2, 2),
    beta=st.sampled_from([0.0, 1.0, -0.5, 2.0]),
    ci=st.integers(0, 7),
    dtype=dtypes,
    seed=seeds,
)
@settings(deadline=None)
def test_gemm_property(dev, lt, m, n, k, ta, tb, alpha, beta, ci, dtype, seed):
    check_gemm(dev, lt, m, n, k, ta, tb, alpha, beta, c_shapes(m, n)[ci], dtype, seed)


@gpu_only
def test_gemm_beta_zero_ignores_nan_c(dev, lt):
    rng = np.random.default_rng(1)
    a, b = rand(rng, (16, 8), F32), rand(rng, (8, 24), F32)
    c = np.full((16, 24), np.nan, np.float32)
    got = run(dev, "Gemm", [a, b, c], {"beta": ("float", 0.0)}, opset=13)
    np.testing.assert_allclose(got, f64(a) @ f64(b), rtol=1e-5, atol=1e-6)


@gpu_only
def test_gemm_k_zero(dev, lt):
    a, b = np.zeros((4, 0), np.float32), np.zeros((0, 3), np.float32)
    c = np.arange(3, dtype=np.float32)
    got, path = run_counted(lt, dev, "Gemm", [a, b, c], {"beta": ("float", 2.0)}, opset=13)
    assert path == "fallback"
    np.testing.assert_array_equal(got, np.broadcast_to(2.0 * c, (4, 3)))


# ---- FusedMatMul ----------------------------------------------------------------------------------

ACTS = {
    "": lambda x: x,
    "Relu": lambda x: np.maximum(x, 0.0),
    "GeluTanh": lambda x: 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3))),
    # not cuBLASLt epilogues: the tiled kernel runs these (CUBLASLT_EPILOGUE_GELU is the tanh form)
    "Gelu": lambda x: 0.5 * x * (1.0 + erf(x / np.sqrt(2.0))),
    "Sigmoid": sigmoid,
    "Silu": lambda x: x * sigmoid(x),
    "Tanh": np.tanh,
    "HardSigmoid": lambda x: np.clip(0.2 * x + 0.5, 0.0, 1.0),
    "HardSwish": lambda x: x * np.clip(x / 6.0 + 0.5, 0.0, 1.0),
    "Clip": lambda x: x,  # defaults: -inf, inf
    "LeakyRelu": lambda x: np.where(x < 0, 0.01 * x, x),
}
LT_ACTS = ("", "Relu", "GeluTanh")


def check_fused(
    dev,
    lt,
    a_shape,
    n,
    dtype,
    act="",
    bias=False,
    res_shape=None,
    trans_b=0,
    alpha=None,
    seed=0,
    scale=1.0,
    expect_path=None,
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
    got, path = run_counted(lt, dev, "FusedMatMul", [a, b, bv, rv], attrs, opset=1, domain="r1")
    A, B = f64(a), f64(b)
    if trans_b:
        B = B.T
    al = 1.0 if alpha is None else alpha
    z, mag = al * np.matmul(A, B), abs(al) * np.matmul(np.abs(A), np.abs(B))
    for extra in (bv, rv):
        if extra is not None:
            z, mag = z + f64(extra), mag + np.abs(f64(extra))
    # Every activation here has a slope of at most ~1.13: the pre-activation bound carries over.
    assert_gemm_close(got, ACTS[act](z), np.broadcast_to(mag, z.shape), dtype, k)
    if expect_path is not None:
        assert path == expect_path, (act, bias, res_shape)


@gpu_only
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("act", list(ACTS), ids=[a or "none" for a in ACTS])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("res", [False, True])
def test_fused_epilogues(dev, lt, dtype, act, bias, res):
    # Pre-activations spread over about [-4, 4]; a residual of Y's shape rides in cuBLASLt's C.
    check_fused(
        dev,
        lt,
        (2, 24, 64),
        32,
        dtype,
        act=act,
        bias=bias,
        res_shape=(2, 24, 32) if res else None,
        alpha=0.8,
        scale=2.0,
        expect_path="cublas" if act in LT_ACTS else "fallback",
    )


@gpu_only
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    "res_shape,lt_ok",
    [
        ((32,), False),
        ((1, 32), False),
        ((24, 1), False),
        ((24, 32), False),
        ((1, 24, 32), False),
        ((3, 1, 32), False),
        ((3, 24, 32), True),
    ],
)
@pytest.mark.parametrize("trans_b", [0, 1])
def test_fused_residual_shapes(dev, lt, dtype, res_shape, lt_ok, trans_b):
    # Y is [3, 24, 32]: only a residual laid out as Y goes to cuBLASLt; broadcasts fall back.
    check_fused(
        dev,
        lt,
        (3, 24, 16),
        32,
        dtype,
        act="Relu",
        bias=True,
        res_shape=res_shape,
        trans_b=trans_b,
        expect_path="cublas" if lt_ok else "fallback",
    )


@gpu_only
@given(
    lead=st.sampled_from([(), (2,), (2, 3)]),
    m=st.integers(1, 40),
    n=st.integers(1, 70),
    k=st.integers(1, 300),
    act=st.sampled_from(list(ACTS)),
    bias=st.booleans(),
    res=st.booleans(),
    trans_b=st.integers(0, 1),
    alpha=st.sampled_from([None, 0.5, -1.5]),
    dtype=dtypes,
    seed=seeds,
)
@settings(deadline=None)
def test_fused_property(dev, lt, lead, m, n, k, act, bias, res, trans_b, alpha, dtype, seed):
    check_fused(
        dev,
        lt,
        lead + (m, k),
        n,
        dtype,
        act=act,
        bias=bias,
        res_shape=lead + (m, n) if res else None,
        trans_b=trans_b,
        alpha=alpha,
        seed=seed,
        scale=2.0,
    )


@gpu_only
def test_fused_1d_a(dev, lt):
    check_fused(dev, lt, (64,), 48, F32, act="Relu", bias=True, res_shape=(48,))


@gpu_only
def test_fused_k_zero(dev, lt):
    a, b = np.zeros((3, 0), np.float32), np.zeros((0, 4), np.float32)
    bias = np.array([-1.0, 0.5, 2.0, -3.0], np.float32)
    got, path = run_counted(
        lt, dev, "FusedMatMul", [a, b, bias], {"activation": ("string", "Relu")}, opset=1, domain="r1"
    )
    assert path == "fallback"
    np.testing.assert_array_equal(got, np.broadcast_to(np.maximum(bias, 0), (3, 4)))


# ---- errors still come from the replaced kernel ----------------------------------------------------


@gpu_only
def test_errors_fall_through(dev, lt):
    f = np.ones((3, 4), np.float32)
    with pytest.raises(r1.InputError):
        run(dev, "MatMul", [f, np.ones((5, 6), np.float32)])
    with pytest.raises(r1.InputError):
        run(dev, "MatMul", [np.ones((2, 3, 4), np.float32), np.ones((3, 4, 5), np.float32)])  # batch 2 vs 3
    with pytest.raises(r1.InputError):
        run(dev, "Gemm", [f, np.ones((4, 5), np.float32), np.ones((2, 5), np.float32)], opset=13)
    with pytest.raises(r1.InputError):
        run(dev, "FusedMatMul", [f, np.ones((4, 6), np.float32), np.ones(5, np.float32)], opset=1, domain="r1")
    with pytest.raises(r1.InputError):
        run(
            dev,
            "FusedMatMul",
            [f, np.ones((4, 6), np.float32), None, np.ones((2, 6), np.float32)],
            opset=1,
            domain="r1",
        )
    with pytest.raises(r1.ModelError):
        run(
            dev,
            "FusedMatMul",
            [f, np.ones((4, 6), np.float32)],
            {"activation": ("string", "Swish")},
            opset=1,
            domain="r1",
        )
