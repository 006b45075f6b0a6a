"""Property tests of MatMul, Gemm, MatMulInteger and Einsum (cpu/kernels/{matmul,matmul_integer,einsum}.cc) against numpy
references computed in float64 / int64. Float results are checked against a bound scaled by
|A| @ |B| (the magnitude the accumulation rounds against), so long dot products are not
held to tolerances only short ones can meet."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deepseek_r1 as r1
from helpers.op_harness import run_op

BF16 = np.dtype(ml_dtypes.bfloat16)
F32, F16 = np.dtype(np.float32), np.dtype(np.float16)
I32, I64 = np.dtype(np.int32), np.dtype(np.int64)
FLOATS = [F32, F16, BF16]
DTYPES = FLOATS + [I32, I64]
seeds = st.integers(0, 2**31 - 1)

REL = {F32: 1e-5, F16: 2e-3, BF16: 1.6e-2}


def make(seed, shape, dt):
    rng = np.random.default_rng(seed)
    dt = np.dtype(dt)
    if dt.kind in "iu":
        lo = 0 if dt.kind == "u" else -5
        a = rng.integers(lo, 6, size=shape).astype(dt)
    else:
        a = rng.standard_normal(size=shape).astype(np.float32).astype(dt)
    if a.size and not a.any():
        a.flat[0] = 1
    return a


def check(got, want, scale, dt, k=1):
    """|got - want| <= rel * (scale + |want|) with rel from the dtype; exact for integers."""
    dt = np.dtype(dt)
    assert got.dtype == dt, (got.dtype, dt)
    assert got.shape == want.shape, (got.shape, want.shape)
    if dt.kind in "iu":
        np.testing.assert_array_equal(got, want.astype(dt))
        return
    rel = REL[dt] * (1 + 0.05 * np.sqrt(max(k, 1))) * 4
    g = got.astype(np.float64)
    err = np.abs(g - want)
    bound = rel * (np.abs(scale) + np.abs(want)) + 1e-30
    assert np.all(err <= bound), f"max excess {np.max(err - bound)}; max err {np.max(err)}"


def f64(a):
    return a.astype(np.float64) if a.dtype.kind == "f" or a.dtype == BF16 else a.astype(np.int64)


# ---------------------------------------------------------------- MatMul


@st.composite
def matmul_shapes(draw):
    M, K, N = draw(st.integers(0, 9)), draw(st.integers(0, 9)), draw(st.integers(0, 9))
    ra, rb = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    nbatch = max(ra, rb) - 2
    batch = [draw(st.integers(1, 3)) for _ in range(max(nbatch, 0))]

    def bshape(r):
        nb = r - 2
        if nb <= 0:
            return []
        return [d if draw(st.booleans()) else 1 for d in batch[len(batch) - nb :]]

    a = [K] if ra == 1 else bshape(ra) + [M, K]
    b = [K] if rb == 1 else bshape(rb) + [K, N]
    # Keep most cases non-empty: only use 0 dims sometimes.
    if draw(st.integers(0, 3)) != 0:
        a = [max(d, 1) for d in a]
        b = [max(d, 1) for d in b]
        if len(a) >= 1 and len(b) >= 1:
            kk = a[-1]
            b[-2 if len(b) >= 2 else 0] = kk
    return tuple(a), tuple(b)


@pytest.mark.parametrize("dt", DTYPES, ids=str)
@given(shapes=matmul_shapes(), seed=seeds, threads=st.sampled_from([1, 2]))
def test_matmul(dt, shapes, seed, threads):
    sa, sb = shapes
    a, b = make(seed, sa, dt), make(seed + 1, sb, dt)
    (y,) = run_op("MatMul", [a, b], opset=13, num_threads=threads)
    want = np.matmul(f64(a), f64(b))
    scale = np.matmul(np.abs(f64(a)), np.abs(f64(b)))
    check(y, want, scale, dt, sa[-1])


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    "sa,sb",
    [
        ((128, 384), (384, 1536)),  # split by rows
        ((1, 768), (768, 768)),  # GEMV split by columns
        ((768,), (768, 300)),  # 1-D A
        ((300, 257), (257,)),  # 1-D B (N == 1)
        ((2, 64, 96), (96, 80)),  # batch folded into M
        ((2, 3, 33, 16), (2, 3, 16, 33)),  # attention scores: many small products
        ((3, 70, 64), (3, 64, 70)),  # few products, each split
        ((1, 4, 50, 20), (3, 1, 20, 40)),  # broadcast batch both ways
        ((40, 50), (5, 50, 60)),  # A shared across B's batch
    ],
)
def test_matmul_large(threads, sa, sb):
    a, b = make(1, sa, F32), make(2, sb, F32)
    (y,) = run_op("MatMul", [a, b], opset=13, num_threads=threads)
    want = np.matmul(f64(a), f64(b))
    check(y, want, np.matmul(np.abs(f64(a)), np.abs(f64(b))), F32, sa[-1])


@pytest.mark.parametrize("dt", [F16, BF16, I32], ids=str)
def test_matmul_large_other_dtypes(dt):
    a, b = make(3, (2, 70, 64), dt), make(4, (64, 90), dt)
    (y,) = run_op("MatMul", [a, b], opset=13, num_threads=2)
    check(y, np.matmul(f64(a), f64(b)), np.matmul(np.abs(f64(a)), np.abs(f64(b))), dt, 64)


def test_matmul_mismatch():
    with pytest.raises((r1.InputError, r1.ModelError)):
        run_op("MatMul", [np.ones((2, 3), np.float32), np.ones((4, 5), np.float32)], opset=13)
    with pytest.raises((r1.InputError, r1.ModelError)):
        run_op("MatMul", [np.ones((2, 2, 3), np.float32), np.ones((3, 3, 5), np.float32)], opset=13)


# ---------------------------------------------------------------- Gemm


@pytest.mark.parametrize("dt", FLOATS + [I32, I64], ids=str)
@given(
    M=st.integers(0, 9),
    N=st.integers(0, 9),
    K=st.integers(0, 9),
    ta=st.booleans(),
    tb=st.booleans(),
    cshape=st.sampled_from(["none", "scalar", "n", "1n", "m1", "mn", "11"]),
    alpha=st.sampled_from([1.0, 0.5, -2.0]),
    beta=st.sampled_from([1.0, 0.0, 0.25]),
    opset=st.sampled_from([7, 9, 11, 13]),
    seed=seeds,
    threads=st.sampled_from([1, 2]),
)
def test_gemm(dt, M, N, K, ta, tb, cshape, alpha, beta, opset, seed, threads):
    if dt.kind in "iu":
        alpha, beta = 1.0, 1.0
    if cshape == "none" and opset < 11:
        cshape = "mn"
    a = make(seed, (K, M) if ta else (M, K), dt)
    b = make(seed + 1, (N, K) if tb else (K, N), dt)
    cs = {"none": None, "scalar": (), "n": (N,), "1n": (1, N), "m1": (M, 1), "mn": (M, N), "11": (1, 1)}[cshape]
    inputs = [a, b]
    if cs is not None:
        inputs.append(make(seed + 2, cs, dt))
    attrs = {"transA": int(ta), "transB": int(tb), "alpha": alpha, "beta": beta}
    (y,) = run_op("Gemm", inputs, attrs=attrs, opset=opset, num_threads=threads)
    A, B = f64(a), f64(b)
    A = A.T if ta else A
    B = B.T if tb else B
    want = alpha * (A @ B)
    scale = abs(alpha) * (np.abs(A) @ np.abs(B))
    if cs is not None:
        want = want + beta * f64(inputs[2])
        scale = scale + abs(beta) * np.abs(f64(inputs[2]))
    scale = np.broadcast_to(scale, want.shape)
    check(y, want, scale, dt, K)


@pytest.mark.parametrize("threads", [1, 2])
def test_gemm_large(threads):
    a, b, c = make(1, (256, 200), F32), make(2, (300, 256), F32), make(3, (300,), F32)
    (y,) = run_op(
        "Gemm", [a, b, c], attrs={"transA": 1, "transB": 1, "alpha": 0.5, "beta": 2.0}, opset=13, num_threads=threads
    )
    want = 0.5 * f64(a).T @ f64(b).T + 2.0 * f64(c)
    check(y, want, 0.5 * np.abs(f64(a)).T @ np.abs(f64(b)).T + 2 * np.abs(f64(c)), F32, 256)


def test_gemm_bad_c():
    with pytest.raises((r1.InputError, r1.ModelError)):
        run_op("Gemm", [np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), np.ones((3,), np.float32)], opset=13)


# ---------------------------------------------------------------- MatMulInteger


@given(
    shapes=matmul_shapes(),
    seed=seeds,
    ta=st.sampled_from([np.uint8, np.int8]),
    tb=st.sampled_from([np.uint8, np.int8]),
    zpa=st.sampled_from(["none", "scalar", "row"]),
    zpb=st.sampled_from(["none", "scalar", "col"]),
)
def test_matmul_integer(shapes, seed, ta, tb, zpa, zpb):
    sa, sb = shapes
    rng = np.random.default_rng(seed)

    def rnd(dt, shape):
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max + 1, size=shape).astype(dt)

    a, b = rnd(ta, sa), rnd(tb, sb)
    inputs = [a, b]
    za = zb = None
    if zpa == "scalar" or (zpa == "row" and len(sa) != 2):
        za = rnd(ta, ())
    elif zpa == "row":
        za = rnd(ta, (sa[0],))
    if zpb == "scalar" or (zpb == "col" and len(sb) != 2):
        zb = rnd(tb, ())
    elif zpb == "col":
        zb = rnd(tb, (sb[1],))
    if za is not None or zb is not None:
        inputs += [za if za is not None else np.zeros((), ta)]
    if zb is not None:
        inputs += [zb]
    (y,) = run_op("MatMulInteger", inputs, opset=10)
    A = a.astype(np.int64)
    if za is not None:
        A = A - (za.astype(np.int64)[:, None] if za.ndim == 1 else za.astype(np.int64))
    B = b.astype(np.int64)
    if zb is not None:
        B = B - zb.astype(np.int64)
    want = np.matmul(A, B)
    assert y.dtype == np.int32
    np.testing.assert_array_equal(y, want.astype(np.int32))


# ---------------------------------------------------------------- Einsum

EQUATIONS = [
    "ij,jk->ik",
    "bij,bjk->bik",
    "bhqd,bhkd->bhqk",
    "bhqk,bhkd->bhqd",
    "ii->i",
    "ii",
    "ij->ji",
    "ij->",
    "i,i",
    "i,j->ij",
    "...ij,...jk->...ik",
    "bij->bj",
    "ij,jk,kl->il",
    "bn,anm,bm->ba",
    "ijk->kji",
    "bsd,hd->bsh",
    "ij,ij->ij",
    "ij",
    "ji",
    "i...->...",
    "...i,...i->...",
    "bii->bi",
    "ab,cd->abcd",
    "BIJ,BJK->BKI",
    "ibh,hnd->ibnd",
]


def einsum_shapes(eq, draw):
    lhs = eq.split("->")[0]
    sizes = {}
    ell = [draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2)))]
    shapes = []
    for term in lhs.split(","):
        shape = []
        if "..." in term:
            pre, post = term.split("...")
            k = draw(st.integers(0, len(ell)))
            e = [d if draw(st.booleans()) else 1 for d in ell[len(ell) - k :]]
        else:
            pre, post, e = term, "", []
        for c in pre:
            shape.append(sizes.setdefault(c, draw(st.integers(1, 5))))
        shape += e
        for c in post:
            shape.append(sizes.setdefault(c, draw(st.integers(1, 5))))
        shapes.append(tuple(shape))
    return shapes


@pytest.mark.parametrize("eq", EQUATIONS)
@given(data=st.data(), seed=seeds, dt=st.sampled_from([F32, F16, I32, I64]))
def test_einsum(eq, data, seed, dt):
    shapes = einsum_shapes(eq, data.draw)
    ins = [make(seed + i, s, dt) for i, s in enumerate(shapes)]
    (y,) = run_op("Einsum", ins, attrs={"equation": eq}, opset=12, num_threads=2)
    want = np.einsum(eq, *[f64(x) for x in ins])
    scale = np.einsum(eq, *[np.abs(f64(x)) for x in ins])
    check(y, np.asarray(want), np.asarray(scale), dt, 8)


def test_einsum_large():
    q, k = make(1, (2, 4, 64, 32), F32), make(2, (2, 4, 64, 32), F32)
    (y,) = run_op("Einsum", [q, k], attrs={"equation": "bhqd,bhkd->bhqk"}, opset=12)
    check(
        y,
        np.einsum("bhqd,bhkd->bhqk", f64(q), f64(k)),
        np.einsum("bhqd,bhkd->bhqk", np.abs(f64(q)), np.abs(f64(k))),
        F32,
        32,
    )


def test_einsum_empty_dim():
    a, b = np.ones((0, 3), np.float32), np.ones((3, 4), np.float32)
    (y,) = run_op("Einsum", [a, b], attrs={"equation": "ij,jk->ik"}, opset=12)
    assert y.shape == (0, 4)
    a, b = np.ones((2, 0), np.float32), np.ones((0, 4), np.float32)
    (y,) = run_op("Einsum", [a, b], attrs={"equation": "ij,jk->ik"}, opset=12)
    np.testing.assert_array_equal(y, np.zeros((2, 4), np.float32))


@pytest.mark.parametrize("eq", ["ij,jk->iz", "ij->ii", "ijk->ij", "ij,jk"])
def test_einsum_bad_equation(eq):
    a = np.ones((2, 3), np.float32)
    inputs = [a] if eq.count(",") == 0 else [a, np.ones((3, 4), np.float32)]
    if eq == "ij,jk":
        inputs = [a]
    with pytest.raises((r1.ModelError, r1.InputError)):
        run_op("Einsum", inputs, attrs={"equation": eq}, opset=12)
