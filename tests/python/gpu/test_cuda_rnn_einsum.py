"""GPU kernels of RNN / GRU / LSTM, Einsum and MatMulInteger (cuda/kernels/{rnn,einsum,matmul_integer}.cu).

RNN / GRU / LSTM are compared with the CPU kernel (`_core.run_kernel("cpu", ...)`) on the same
inputs, which are already rounded to the dtype: both compute in float32 and round the outputs.
Einsum is compared with numpy.einsum in float64, MatMulInteger exactly with an int64 numpy matmul.
Tolerances: float32 1e-5 relative (1e-4 for contractions of >= 256 terms), float16 / bfloat16 1e-2.
Skipped without a GPU (conftest's `dev` fixture and `gpu` marker).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deepseek_r1 as r1
from helpers.gpu_kernels import run

pytestmark = pytest.mark.gpu

BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES = [np.dtype(np.float32), np.dtype(np.float16), BF16]
TOL = {np.dtype(np.float32): (1e-5, 1e-5), np.dtype(np.float16): (1e-2, 1e-2), BF16: (1e-2, 1e-2)}
seeds = st.integers(0, 2**31 - 1)
dtypes = st.sampled_from(DTYPES)


def assert_close(got, want, dtype, rtol=None, atol=None):
    r, a = TOL[np.dtype(dtype)]
    rtol = r if rtol is None else rtol
    atol = a if atol is None else atol
    assert got.dtype == np.dtype(dtype), (got.dtype, dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got.astype(np.float64), np.asarray(want, np.float64), rtol=rtol, atol=atol)


# ---- RNN / GRU / LSTM ------------------------------------------------------------------------

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
NUM_ACTS = {"RNN": 1, "GRU": 2, "LSTM": 3}
NUM_OUT = {"RNN": 2, "GRU": 2, "LSTM": 3}
# Activations with their alpha / beta counts (the CPU's set); bounded ones keep the recurrence tame.
ACTS = {
    "Sigmoid": (0, 0),
    "Tanh": (0, 0),
    "Relu": (0, 0),
    "HardSigmoid": (1, 1),
    "Affine": (1, 1),
    "LeakyRelu": (1, 0),
    "ThresholdedRelu": (1, 0),
    "ScaledTanh": (1, 1),
    "Elu": (1, 0),
    "Softsign": (0, 0),
    "Softplus": (0, 0),
}


def rnn_inputs(rng, op, dtype, seq, batch, isz, hid, dirs, layout, with_b, with_lens, with_h0, with_c0, with_p):
    G = GATES[op]
    x_shape = (batch, seq, isz) if layout else (seq, batch, isz)
    st_shape = (batch, dirs, hid) if layout else (dirs, batch, hid)
    scale = 1.0 / np.sqrt(max(isz, hid))
    X = rng.uniform(-1, 1, x_shape).astype(dtype)
    W = (rng.uniform(-1, 1, (dirs, G * hid, isz)) * scale).astype(dtype)
    R = (rng.uniform(-1, 1, (dirs, G * hid, hid)) * scale).astype(dtype)
    ins = [X, W, R]
    ins.append(rng.uniform(-0.5, 0.5, (dirs, 2 * G * hid)).astype(dtype) if with_b else None)
    ins.append(rng.integers(0, seq + 1, batch).astype(np.int32) if with_lens else None)
    ins.append(rng.uniform(-1, 1, st_shape).astype(dtype) if with_h0 else None)
    if op == "LSTM":
        ins.append(rng.uniform(-1, 1, st_shape).astype(dtype) if with_c0 else None)
        ins.append(rng.uniform(-0.5, 0.5, (dirs, 3 * hid)).astype(dtype) if with_p else None)
    while ins and ins[-1] is None:
        ins.pop()
    return ins


def compare_with_cpu(dev, op, ins, attrs, dtype, opset=17):
    want = run("cpu", op, ins, attrs, opset, NUM_OUT[op])
    got = run(dev, op, ins, attrs, opset, NUM_OUT[op])
    for g, w in zip(got, want):
        assert_close(g, w, dtype)


@given(
    op=st.sampled_from(["RNN", "GRU", "LSTM"]),
    dtype=dtypes,
    seed=seeds,
    seq=st.integers(1, 6),
    batch=st.integers(1, 5),
    isz=st.integers(1, 9),
    hid=st.integers(1, 9),
    direction=st.sampled_from(["forward", "reverse", "bidirectional"]),
    layout=st.sampled_from([0, 1]),
    flags=st.lists(st.booleans(), min_size=5, max_size=5),
    clip=st.sampled_from([None, 0.5, 3.0]),
    lbr=st.sampled_from([0, 1]),
    input_forget=st.sampled_from([0, 1]),
)
def test_recurrent_default_activations(
    dev, op, dtype, seed, seq, batch, isz, hid, direction, layout, flags, clip, lbr, input_forget
):
    rng = np.random.default_rng(seed)
    dirs = 2 if direction == "bidirectional" else 1
    ins = rnn_inputs(rng, op, dtype, seq, batch, isz, hid, dirs, layout, *flags)
    attrs = {"direction": ("string", direction), "hidden_size": ("int", hid), "layout": ("int", layout)}
    if clip is not None:
        attrs["clip"] = ("float", clip)
    if op == "GRU":
        attrs["linear_before_reset"] = ("int", lbr)
    if op == "LSTM":
        attrs["input_forget"] = ("int", input_forget)
    compare_with_cpu(dev, op, ins, attrs, dtype)


@given(
    op=st.sampled_from(["RNN", "GRU", "LSTM"]),
    dtype=dtypes,
    seed=seeds,
    direction=st.sampled_from(["forward", "reverse", "bidirectional"]),
    data=st.data(),
)
def test_recurrent_activations(dev, op, dtype, seed, direction, data):
    rng = np.random.default_rng(seed)
    dirs = 2 if direction == "bidirectional" else 1
    per_dir = NUM_ACTS[op]
    count = data.draw(st.sampled_from([per_dir, per_dir * dirs]))
    names = data.draw(st.lists(st.sampled_from(sorted(ACTS)), min_size=count, max_size=count))
    n_alpha = sum(ACTS[n][0] for n in names)
    n_beta = sum(ACTS[n][1] for n in names)
    # Some alpha / beta lists shorter than needed: the rest take the op defaults.
    alphas = [float(v) for v in rng.uniform(0.1, 0.9, data.draw(st.integers(0, n_alpha)))]
    betas = [float(v) for v in rng.uniform(0.1, 0.9, data.draw(st.integers(0, n_beta)))]
    attrs = {"direction": ("string", direction), "activations": ("strings", names)}
    if alphas:
        attrs["activation_alpha"] = ("floats", alphas)
    if betas:
        attrs["activation_beta"] = ("floats", betas)
    ins = rnn_inputs(rng, op, dtype, 4, 3, 5, 6, dirs, 0, True, True, True, True, True)
    compare_with_cpu(dev, op, ins, attrs, dtype)


def test_rnn_numpy_reference(dev, rng):
    """A forward RNN against a float64 numpy loop, independent of the CPU kernel."""
    seq, batch, isz, hid = 5, 3, 4, 6
    X = rng.uniform(-1, 1, (seq, batch, isz)).astype(np.float32)
    W = rng.uniform(-0.5, 0.5, (1, hid, isz)).astype(np.float32)
    R = rng.uniform(-0.5, 0.5, (1, hid, hid)).astype(np.float32)
    B = rng.uniform(-0.5, 0.5, (1, 2 * hid)).astype(np.float32)
    lens = np.array([5, 2, 0], np.int32)
    y, yh = run(dev, "RNN", [X, W, R, B, lens], {}, 17, 2)
    h = np.zeros((batch, hid))
    want_y = np.zeros((seq, 1, batch, hid))
    for t in range(seq):
        hn = np.tanh(X[t].astype(np.float64) @ W[0].T + h @ R[0].T + B[0, :hid] + B[0, hid:])
        active = (t < lens)[:, None]
        h = np.where(active, hn, h)
        want_y[t, 0] = np.where(active, hn, 0.0)
    want_h = np.where((lens > 0)[:, None], h, 0.0)[None]
    assert_close(y, want_y, np.float32)
    assert_close(yh, want_h, np.float32)


def test_lstm_outputs_subset(dev, rng):
    """Opset 7 (no layout attribute), no sequence_lens, every optional LSTM input."""
    ins = rnn_inputs(rng, "LSTM", np.float32, 3, 2, 3, 4, 1, 0, True, False, True, True, True)
    want = run("cpu", "LSTM", ins, {}, 7, 3)
    got = run(dev, "LSTM", ins, {}, 7, 3)
    for g, w in zip(got, want):
        assert_close(g, w, np.float32)


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
def test_recurrent_errors(dev, rng, op):
    G = GATES[op]
    X = rng.uniform(-1, 1, (3, 2, 4)).astype(np.float32)
    W = rng.uniform(-1, 1, (1, G * 5, 4)).astype(np.float32)
    R = rng.uniform(-1, 1, (1, G * 5, 5)).astype(np.float32)
    with pytest.raises((r1.InputError, r1.ModelError)):  # W's input size does not match X
        run(dev, op, [X, W[:, :, :3].copy(), R])
    with pytest.raises(r1.InputError, match="sequence_lens"):
        run(dev, op, [X, W, R, None, np.array([1, 4], np.int32)])
    with pytest.raises(r1.InputError, match="sequence_lens"):
        run(dev, op, [X, W, R, None, np.array([1, 2, 3], np.int32)])
    with pytest.raises(r1.InputError, match="initial_h"):
        run(dev, op, [X, W, R, None, None, np.zeros((1, 3, 5), np.float32)])
    with pytest.raises(r1.InputError, match="B has shape"):
        run(dev, op, [X, W, R, np.zeros((1, G * 5), np.float32)])
    with pytest.raises(r1.ModelError, match="activation"):
        run(dev, op, [X, W, R], {"activations": ("strings", ["Bogus"] * NUM_ACTS[op])})
    with pytest.raises(r1.ModelError, match="direction"):
        run(dev, op, [X, W, R], {"direction": ("string", "sideways")})


# ---- Einsum ----------------------------------------------------------------------------------

# Equations with the letters whose sizes are drawn; "E" marks ellipsis dims (drawn separately).
EINSUM_CASES = [
    "ij,jk->ik",
    "ij,jk",
    "bij,bjk->bik",
    "ij->ji",
    "ij->",
    "ii->i",
    "ii",
    "iij->ji",
    "i,i",
    "i,j->ij",
    "i,i->i",
    "ijk->kji",
    "abc,cd,de->abe",
    "ab,bc,cd,da->",
    "bhqd,bhkd->bhqk",
    "ij,ij->ij",
    "...ij,...jk->...ik",
    "...ij,...jk",
    "...ii->...i",
    "i...->...",
    "...,...->...",
    "ij...,jk...->ik...",
    "a...b,b...->a...",
    ",ij->ij",
]


def einsum_shapes(eq, sizes, ell, rng):
    """Operand shapes for eq: letters from sizes, each ellipsis a suffix of ell with random 1s (broadcast)."""
    lhs = eq.split("->")[0]
    shapes = []
    for term in lhs.split(","):
        shape = []
        i = 0
        while i < len(term):
            if term.startswith("...", i):
                k = int(rng.integers(0, len(ell) + 1))
                sub = list(ell[len(ell) - k :])
                shape += [1 if rng.random() < 0.3 else d for d in sub]
                i += 3
            else:
                shape.append(sizes[term[i]])
                i += 1
        shapes.append(tuple(shape))
    return shapes


@given(
    eq=st.sampled_from(EINSUM_CASES),
    dtype=dtypes,
    seed=seeds,
    sizes=st.lists(st.integers(1, 5), min_size=10, max_size=10),
    ell=st.lists(st.integers(1, 4), min_size=0, max_size=3),
)
def test_einsum(dev, eq, dtype, seed, sizes, ell):
    rng = np.random.default_rng(seed)
    size_of = dict(zip("abcdehijkq", sizes))
    shapes = einsum_shapes(eq, size_of, ell, rng)
    ins = [np.asarray(rng.uniform(-2, 2, s)).astype(dtype) for s in shapes]
    want = np.asarray(np.einsum(eq, *[x.astype(np.float64) for x in ins]))
    (got,) = run(dev, "Einsum", ins, {"equation": ("string", eq)})
    assert got.dtype == dtype and got.shape == want.shape, (got.dtype, got.shape, want.shape)
    # fp32 accumulation: the error scales with the sum of |terms|, not with a cancelled result.
    scale = np.asarray(np.einsum(eq, *[np.abs(x.astype(np.float64)) for x in ins]))
    rtol, atol = TOL[dtype]
    err = np.abs(got.astype(np.float64) - want)
    assert np.all(err <= rtol * np.abs(want) + atol + 1e-5 * scale), (eq, float(err.max()))


def test_einsum_long_contraction(dev, rng):
    a = rng.uniform(-1, 1, (7, 300)).astype(np.float32)
    b = rng.uniform(-1, 1, (300, 5)).astype(np.float32)
    (got,) = run(dev, "Einsum", [a, b], {"equation": ("string", "ik,kj->ij")})
    assert_close(got, a.astype(np.float64) @ b, np.float32, rtol=1e-4, atol=1e-4)


def test_einsum_empty(dev, rng):
    a = rng.uniform(-1, 1, (3, 0)).astype(np.float32)
    b = rng.uniform(-1, 1, (0, 4)).astype(np.float32)
    (got,) = run(dev, "Einsum", [a, b], {"equation": ("string", "ik,kj->ij")})
    assert_close(got, np.zeros((3, 4)), np.float32)


def test_einsum_errors(dev, rng):
    a = rng.uniform(-1, 1, (3, 4)).astype(np.float32)
    b = rng.uniform(-1, 1, (5, 2)).astype(np.float32)
    with pytest.raises(r1.InputError):  # j: 4 vs 5
        run(dev, "Einsum", [a, b], {"equation": ("string", "ij,jk->ik")})
    with pytest.raises(r1.ModelError, match="operand terms"):
        run(dev, "Einsum", [a], {"equation": ("string", "ij,jk->ik")})
    with pytest.raises(r1.ModelError, match="invalid character"):
        run(dev, "Einsum", [a], {"equation": ("string", "i1->i")})
    with pytest.raises(r1.InputError, match="rank"):
        run(dev, "Einsum", [a], {"equation": ("string", "ijk->i")})
    with pytest.raises(r1.ModelError, match="not in any input"):
        run(dev, "Einsum", [a], {"equation": ("string", "ij->z")})
    with pytest.raises(r1.InputError):  # a diagonal of a non-square matrix
        run(dev, "Einsum", [a], {"equation": ("string", "ii->i")})


# ---- MatMulInteger ---------------------------------------------------------------------------

INT8 = [np.dtype(np.int8), np.dtype(np.uint8)]


def rand_int(rng, shape, dtype):
    info = np.iinfo(dtype)
    return rng.integers(info.min, int(info.max) + 1, size=shape).astype(dtype)


def zp_shape(kind, x_shape, per_row, rng):
    """A zero-point shape of `kind` for an operand of x_shape (None: omitted)."""
    if kind == "none":
        return None
    if kind == "scalar":
        return ()
    if kind == "one":
        return (1,)
    xs = (1,) + tuple(x_shape) if len(x_shape) == 1 else tuple(x_shape)
    if kind == "vector":  # per row of A ([M]) or per column of B ([N])
        return (xs[-2],) if per_row else (xs[-1],)
    # "full": a random numpy-broadcastable shape against xs
    k = int(rng.integers(2, len(xs) + 1))  # rank >= 2: a 1-D zero point of A would mean per row
    return tuple(1 if rng.random() < 0.4 else d for d in xs[len(xs) - k :])


def zp_broadcast(zp, x_shape, per_row):
    """The zero point as int64, broadcast to x_shape the way MatMulInteger reads it."""
    z = zp.astype(np.int64)
    if z.size == 1:
        return z.reshape(())
    if per_row and z.ndim == 1:
        z = z[:, None]  # one value per row of A
    xs = (1,) + tuple(x_shape) if len(x_shape) == 1 else tuple(x_shape)
    return np.broadcast_to(z, xs).reshape(x_shape)


batch_dims = st.lists(st.integers(1, 3), min_size=0, max_size=3)


@given(
    ta=st.sampled_from(INT8),
    tb=st.sampled_from(INT8),
    seed=seeds,
    m=st.integers(1, 80),
    k=st.integers(1, 70),
    n=st.integers(1, 80),
    ba=batch_dims,
    bb=batch_dims,
    a_vec=st.booleans(),
    b_vec=st.booleans(),
    za=st.sampled_from(["none", "scalar", "one", "vector", "full"]),
    zb=st.sampled_from(["none", "scalar", "one", "vector", "full"]),
    data=st.data(),
)
def test_matmul_integer(dev, ta, tb, seed, m, k, n, ba, bb, a_vec, b_vec, za, zb, data):
    rng = np.random.default_rng(seed)
    # Broadcast-compatible batch dims: suffixes of common dims, some set to 1.
    common = ba if len(ba) >= len(bb) else bb
    ba = [1 if rng.random() < 0.3 else d for d in common[len(common) - len(ba) :]]
    bb = [1 if rng.random() < 0.3 else d for d in common[len(common) - len(bb) :]]
    a_shape = (k,) if a_vec else tuple(ba) + (m, k)
    b_shape = (k,) if b_vec else tuple(bb) + (k, n)
    A, B = rand_int(rng, a_shape, ta), rand_int(rng, b_shape, tb)
    zas, zbs = zp_shape(za, a_shape, True, rng), zp_shape(zb, b_shape, False, rng)
    ZA = rand_int(rng, zas, ta) if zas is not None else None
    ZB = rand_int(rng, zbs, tb) if zbs is not None else None
    a64 = A.astype(np.int64) - (zp_broadcast(ZA, a_shape, True) if ZA is not None else 0)
    b64 = B.astype(np.int64) - (zp_broadcast(ZB, b_shape, False) if ZB is not None else 0)
    want = np.matmul(a64, b64)
    ins = [A, B, ZA, ZB]
    while ins[-1] is None:
        ins.pop()
    (got,) = run(dev, "MatMulInteger", ins)
    assert got.dtype == np.int32
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_array_equal(got.astype(np.int64), want)


def test_matmul_integer_large_k(dev, rng):
    A = rand_int(rng, (2, 33, 1000), np.uint8)
    B = rand_int(rng, (1000, 65), np.int8)
    ZA = rand_int(rng, (33,), np.uint8)
    (got,) = run(dev, "MatMulInteger", [A, B, ZA])
    want = np.matmul(A.astype(np.int64) - ZA.astype(np.int64)[:, None], B.astype(np.int64))
    np.testing.assert_array_equal(got.astype(np.int64), want)


def test_matmul_integer_matches_cpu(dev, rng):
    A = rand_int(rng, (3, 1, 17, 9), np.int8)
    B = rand_int(rng, (4, 9, 21), np.uint8)
    ZA = rand_int(rng, (3, 1, 17, 1), np.int8)
    ZB = rand_int(rng, (21,), np.uint8)
    (want,) = run("cpu", "MatMulInteger", [A, B, ZA, ZB])
    (got,) = run(dev, "MatMulInteger", [A, B, ZA, ZB])
    np.testing.assert_array_equal(got, want)


def test_matmul_integer_errors(dev, rng):
    A = rand_int(rng, (4, 5), np.int8)
    B = rand_int(rng, (5, 3), np.uint8)
    with pytest.raises(r1.InputError, match="zero point|broadcast"):
        run(dev, "MatMulInteger", [A, B, rand_int(rng, (3,), np.int8)])  # per row needs M = 4 values
    with pytest.raises(r1.InputError, match="zero point|broadcast"):
        run(dev, "MatMulInteger", [A, B, None, rand_int(rng, (4,), np.uint8)])  # per column needs N = 3
    with pytest.raises(r1.InputError):
        run(dev, "MatMulInteger", [A, rand_int(rng, (4, 3), np.uint8)])  # inner dims 5 vs 4
    with pytest.raises((r1.InputError, r1.ModelError)):
        run(dev, "MatMulInteger", [A.astype(np.int16), B])
