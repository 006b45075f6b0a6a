"""The int4 group-wise GEMM (pack.h layout S4, cpp/r1/cpu/gemm/pack_s4.cc, gemm_s4*.cc) behind r1::FusedMatMul
precision="int4" (weight-only quantization):

- the packer: per column and group of 128 along K, q = clamp(rint(w / s), -8, 7) stored as the nibble q + 8 with
  the scale of least squared error among max|w| / 7 x (1, 0.95, ..., 0.65), and each group's sum of q;
- the product: A quantized to uint8 per row and group of 128 (the int8 GEMM's scheme on each group), the sum over
  groups of (the weights' scale x the activations' scale) x (the exact integer dot product): equal to a numpy model of that scheme built from the blob's own
  scales and nibbles, on both paths (AVX512-VNNI and the portable kernel), which also agree bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_kernels_int8_gemm import quantize_rows, run_int8

from deepseek_r1 import _core

G = 128


@pytest.fixture(autouse=True)
def _reset_isa():
    yield
    _core.set_gemm_isa_limit("auto")


def unpack(blob, k, n):
    """(scales [groups, n], sums [groups, n], q [K, n]) read from an S4 blob as pack.h lays it out."""
    groups, panels = -(-k // G), -(-n // 48)
    npad = panels * 48
    data = blob[64:]
    scales = data[: groups * npad * 4].view(np.float32).reshape(groups, npad)
    sums = data[groups * npad * 4 : groups * npad * 8].view(np.int32).reshape(groups, npad)
    nib = data[groups * npad * 8 :].reshape(panels, groups, G // 8, 3, 16, 4)  # panel, group, block, v, c, e
    lo, hi = nib & 0xF, nib >> 4
    # K row 8p + e (low nibble) and 8p + 4 + e (high nibble) of column 16v + c
    rows = np.stack([lo, hi], axis=3)  # panel, group, block, half, v, c, e
    q = rows.transpose(1, 2, 3, 6, 0, 4, 5).reshape(groups * G, npad).astype(np.int64) - 8
    return scales[:, :n], sums[:, :n], q[:k, :n]


def int4_reference(x, blob, k, n, bias=None):
    """A quantized per row and group of 128 (the int8 scheme on each group), exact integer dot products per
    group, each scaled by the weights' and the activations' group scales."""
    s, _, q = unpack(blob, k, n)
    out = np.zeros((x.shape[0], n), np.float64)
    for g in range(s.shape[0]):
        qx, sx, zx = quantize_rows(x[:, g * G : (g + 1) * G])
        acc = (qx - zx[:, None]) @ q[g * G : (g + 1) * G]
        out += acc * (s[g][None, :] * sx[:, None]).astype(np.float32).astype(np.float64)
    return out + bias if bias is not None else out


def run_int4(x, w, bias=None, threads=1, level=3, act=""):
    return run_int8(x, w, bias, threads, act=act, level=level, precision="int4")


def group_error(wg, scale):
    with np.errstate(divide="ignore", invalid="ignore"):
        qq = np.clip(np.rint(wg / scale), -8, 7)
    return ((wg - qq * scale) ** 2).sum(axis=0, dtype=np.float64)


@pytest.mark.parametrize("k,n", [(1, 1), (100, 50), (128, 48), (300, 130), (768, 200)])
def test_pack_int4_layout_and_scales(k, n):
    rng = np.random.default_rng(k * n)
    w = (rng.standard_normal((k, n)) * rng.choice([0.01, 1.0, 30.0])).astype(np.float32)
    w[rng.random((k, n)) < 0.01] *= 20  # outliers: where clipping pays
    blob = _core.pack_weights(w, False, "int4")
    groups, panels = -(-k // G), -(-n // 48)
    assert _core.packed_layout(blob) == "int4"
    assert blob.dtype == np.uint8 and blob.nbytes == 64 + groups * panels * 48 * 8 + panels * groups * G * 48 // 2
    s, sums, q = unpack(blob, k, n)
    assert q.min() >= -8 and q.max() <= 7
    np.testing.assert_array_equal(sums, np.add.reduceat(q, np.arange(0, k, G), axis=0))
    for g in range(groups):
        wg = w[g * G : (g + 1) * G].astype(np.float32)
        amax = np.abs(wg).max(axis=0)
        inv = np.where(s[g] > 0, np.float32(1) / np.where(s[g] > 0, s[g], 1), 0).astype(np.float32)
        np.testing.assert_array_equal(q[g * G : (g + 1) * G], np.clip(np.rint(wg * inv), -8, 7))

        cands = [(amax * np.float32(1 - 0.05 * i) / np.float32(7)).astype(np.float32) for i in range(8)]
        best = np.min([group_error(wg, c) for c in cands], axis=0)
        live = amax > 0
        assert np.all(group_error(wg, s[g])[live] <= best[live] * (1 + 1e-4) + 1e-30)  # the least-error candidate
        assert np.all(s[g][~live] == 0)


@given(
    seed=st.integers(0, 2**31 - 1),
    m=st.sampled_from([1, 2, 6, 7, 13, 40]),
    k=st.sampled_from([1, 5, 127, 128, 129, 300, 768]),
    n=st.sampled_from([1, 16, 47, 48, 49, 130]),
    with_bias=st.booleans(),
    skew=st.sampled_from([0.0, 1.0]),
    isa=st.sampled_from(["auto", "baseline"]),
    threads=st.sampled_from([1, 2]),
    level=st.sampled_from([0, 3]),
)
def test_fused_matmul_int4_follows_its_scheme(seed, m, k, n, with_bias, skew, isa, threads, level):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((m, k)) + skew).astype(np.float32)
    w = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32) if with_bias else None
    _core.set_gemm_isa_limit(isa)
    y = run_int4(x, w, bias, threads, level)
    assert y.dtype == np.float32 and y.shape == (m, n)
    want = int4_reference(x, _core.pack_weights(w, False, "int4"), k, n, bias)
    mag = np.abs(x).sum(axis=1, keepdims=True) * np.abs(w).max(axis=0, keepdims=True) + np.abs(want)
    assert np.all(np.abs(y - want) <= 2e-6 * mag + 1e-30)


def test_vnni_and_portable_give_the_same_bits():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((9, 768)).astype(np.float32)
    x[0] = 4.0  # a constant row: every uint8 at 255 (the largest integer sums)
    w = (rng.standard_normal((768, 130)) / 28).astype(np.float32)
    fast = run_int4(x, w, threads=2)
    _core.set_gemm_isa_limit("baseline")
    np.testing.assert_array_equal(run_int4(x, w, threads=2), fast)


def test_int4_accuracy_against_fp32_on_a_large_product():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 3072)).astype(np.float32)
    w = (rng.standard_normal((3072, 768)) / 55).astype(np.float32)
    y = run_int4(x, w, threads=2).astype(np.float64)
    ref = x.astype(np.float64) @ w
    cos = (y * ref).sum() / np.linalg.norm(y) / np.linalg.norm(ref)
    assert cos > 0.99
