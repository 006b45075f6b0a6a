"""2:4 sparse int8 weights (pack.h layout S8S24, cpp/r1/cpu/gemm/pack_s8_sparse.cc and
gemm_s8_sparse_avx512vbmi.cc): int8 weights with at most two nonzeros in every aligned group of four along K
are stored compressed, and r1::FusedMatMul at precision int8 reads them through the sparse kernel or through the
dense kernel (chosen per shape by measurement) over a dense copy held beside a prepacked weight, or over panels
expanded per call where nothing prepacked it (optimization level 0). Both give the integers of the dense int8
scheme exactly: checked against the numpy model of that scheme, against each other bit for bit, against exact
integer math with adversarial values, and on a host without the sparse kernel (decompressed at load)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_kernels_int8_gemm import grid_weights, int8_reference, run_int8, run_int8_fixed

import deepseek_r1 as r1
from deepseek_r1 import _core
from deepseek_r1.quantize.sparsify import prune_2to4

PATHS = ["sparse", "dense", "auto"] if _core.sparse_kernel_available() else ["dense", "auto"]


@pytest.fixture(autouse=True)
def _reset():
    yield
    _core.set_gemm_isa_limit("auto")
    _core.set_sparse_path("auto")


def sparse_weights(rng, k, n, extra_zeros=0.0):
    w = (rng.standard_normal((k, n)) / np.sqrt(max(k, 1))).astype(np.float32)
    w[rng.random((k, n)) < extra_zeros] = 0  # groups with fewer than two nonzeros too
    return prune_2to4(w, 0)


def s24_bytes(k, n):
    panels = -(-n // 48)
    return 64 + panels * 48 * 8 + panels * (-(-k // 8)) * 240


def test_weights_too_shallow_to_gain_stay_dense():
    """K <= 4: one quad a column, 192 bytes a panel dense against 240 compressed."""
    w = sparse_weights(np.random.default_rng(0), 4, 50)
    assert _core.packed_layout(_core.pack_weights(w, False, "int8")) == "int8"


@pytest.mark.parametrize("k,n", [(5, 1), (8, 48), (12, 50), (100, 130), (768, 3072)])
def test_2to4_weights_are_stored_compressed(k, n):
    rng = np.random.default_rng(k + n)
    w = sparse_weights(rng, k, n)
    blob = _core.pack_weights(w, False, "int8")
    assert _core.packed_layout(blob) == "int8-2:4"
    assert blob.nbytes == s24_bytes(k, n)
    dense = _core.pack_weights((rng.standard_normal((k, n)) + 3).astype(np.float32), False, "int8")
    assert _core.packed_layout(dense) == "int8"
    assert blob.nbytes < dense.nbytes  # values plus 2-bit positions: 5/8 of the dense int8 panels
    # transposed weights ([N, K], 2:4 along K = axis 1) compress the same way
    wt = np.ascontiguousarray(w.T)
    assert _core.packed_layout(_core.pack_weights(wt, True, "int8")) == "int8-2:4"


def test_three_nonzeros_in_a_group_keep_the_dense_layout():
    w = sparse_weights(np.random.default_rng(0), 64, 48)
    w[4:7, 5] = 1.0  # one group of column 5 with three nonzeros
    assert _core.packed_layout(_core.pack_weights(w, False, "int8")) == "int8"


@given(
    seed=st.integers(0, 2**31 - 1),
    m=st.sampled_from([1, 2, 7, 8, 9, 15, 33, 100]),
    k=st.sampled_from([3, 4, 5, 8, 12, 31, 100, 384, 1000]),
    n=st.sampled_from([1, 5, 16, 47, 48, 49, 130]),
    extra_zeros=st.sampled_from([0.0, 0.3]),
    with_bias=st.booleans(),
    path=st.sampled_from(PATHS),
    isa=st.sampled_from(["auto", "baseline"]),
    threads=st.sampled_from([1, 2]),
    level=st.sampled_from([0, 3]),
)
def test_sparse_int8_follows_the_dense_scheme(seed, m, k, n, extra_zeros, with_bias, path, isa, threads, level):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((m, k)) + rng.choice([0.0, 1.0])).astype(np.float32)
    w = sparse_weights(rng, k, n, extra_zeros)
    bias = rng.standard_normal(n).astype(np.float32) if with_bias else None
    _core.set_gemm_isa_limit(isa)
    _core.set_sparse_path(path)
    y = run_int8(x, w, bias, threads, level=level)
    assert y.dtype == np.float32 and y.shape == (m, n)
    want = int8_reference(x, w, bias)
    mag = np.abs(x).sum(axis=1, keepdims=True) * np.abs(w).max(axis=0, keepdims=True) + np.abs(want)
    assert np.all(np.abs(y - want) <= 1e-6 * mag + 1e-30)


@pytest.mark.skipif(not _core.sparse_kernel_available(), reason="the 2:4 kernel needs AVX512-VNNI and AVX512-VBMI")
@pytest.mark.parametrize("act", ["", "Gelu"])
@pytest.mark.parametrize("m", [1, 8, 77])
def test_sparse_and_dense_kernels_give_the_same_bits(act, m):
    rng = np.random.default_rng(m)
    x = rng.standard_normal((m, 768)).astype(np.float32)
    w = sparse_weights(rng, 768, 200)
    bias = rng.standard_normal(200).astype(np.float32)
    out = {}
    for path in ("sparse", "dense"):
        _core.set_sparse_path(path)
        out[path] = run_int8(x, w, bias, 2, act=act)
    np.testing.assert_array_equal(out["sparse"], out["dense"])  # dense: over the held copy
    np.testing.assert_array_equal(run_int8(x, w, bias, 2, act=act, level=0), out["dense"])  # expanded per call
    _core.set_gemm_isa_limit("baseline")  # the portable kernel over the weights decompressed at load
    portable = run_int8(x, w, bias, 2, act=act)
    if act == "":  # the same integers and scaling; the activations' polynomials differ between the ISAs
        np.testing.assert_array_equal(portable, out["dense"])
    np.testing.assert_allclose(portable, out["dense"], rtol=1e-5, atol=1e-6 * np.abs(portable).max())


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("values", ["extreme", "random"])
def test_sparse_products_are_exact_where_16_bits_would_saturate(path, values):
    """Static activations at 255 and weights at +-127 on the int8 grid, K = 3072: the integer products are exact
    (no 16-bit intermediate), so the result is the float product of the dequantized operands."""
    rng = np.random.default_rng(3)
    k, n, m = 3072, 96, 5
    q, _, w = grid_weights(rng, k, n)
    if values == "extreme":
        q = rng.choice(np.array([-127, 127]), (k, n))
        s = np.full(n, 0.01, np.float32)
        w = (q * s).astype(np.float32)
    w = prune_2to4(w, 0)
    w[0] = np.where(w[0] == 0, 0, w[0])  # pruning may drop a column's max: the packer rescales, tested below
    a_scale, zero = np.float32(0.02), 0
    x = np.full((m, k), 255 * a_scale, np.float32) if values == "extreme" else rng.random((m, k)).astype(np.float32) * 5
    _core.set_sparse_path(path)
    y = run_int8_fixed(x, w, "static", a_scale=float(a_scale), a_zero_point=zero)
    xq = np.clip(np.rint(x / a_scale) + zero, 0, 255) - zero
    # the packer's own per-column grid of the pruned weights (their max may be below 127 steps now)
    amax = np.abs(w).max(axis=0).astype(np.float32)
    sw = (amax / np.float32(127)).astype(np.float32)
    qw = np.clip(np.rint(w * np.where(amax > 0, np.float32(127) / amax, 0).astype(np.float32)), -127, 127)
    exact = (xq.astype(np.int64) @ qw.astype(np.int64)).astype(np.float64)
    want = exact * (np.float64(a_scale) * sw.astype(np.float64))
    assert np.all(np.abs(y - want) <= 1e-6 * np.abs(want) + 1e-6)


def test_sparse_path_setting_is_checked_and_auto_measures():
    with pytest.raises(r1.InputError, match="auto"):
        _core.set_sparse_path("fastest")
    _core.set_sparse_path("auto")
    _core.clear_sparse_choices()
    assert _core.sparse_choices() == []
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 256)).astype(np.float32)
    w = sparse_weights(rng, 256, 96)
    run_int8(x, w)
    choices = _core.sparse_choices()
    if _core.sparse_kernel_available():
        # prepacked: the dense side is a held copy, made only if it wins by the margin
        assert len(choices) == 1 and "K=256 N=96" in choices[0] and "rows<=4" in choices[0] and "held" in choices[0]
        run_int8(x, w, level=0)  # packed per call: the dense side expands per call, a choice of its own
        assert len(_core.sparse_choices()) == 2
    else:
        assert choices == []  # nothing to choose: the weights are dense from load on
