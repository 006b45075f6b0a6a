"""The GPU backend (deepseek_r1._cuda, or _hip from the same sources) against numpy.

GPU tests run each kernel through _core.run_kernel (host arrays in, host arrays out) on the first
GPU device and skip where there is none (conftest). The tests without the gpu marker check that
the package imports and lists its devices on a machine without a GPU or a driver.
Tolerances: float32 1e-5 relative; float16 / bfloat16 1e-2 (references are computed in float64
from the already-rounded inputs, so only the kernel's own error is measured).
"""

from __future__ import annotations

import importlib.util

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import deepseek_r1 as r1
from deepseek_r1 import _core, gpu
from helpers.gpu_kernels import rand, run

BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES = [np.dtype(np.float32), np.dtype(np.float16), BF16]
TOL = {np.dtype(np.float32): (1e-5, 1e-6), np.dtype(np.float16): (1e-2, 1e-2), BF16: (1e-2, 1e-2)}
dtypes = st.sampled_from(DTYPES)
seeds = st.integers(0, 2**31 - 1)
shapes = array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=9)


def assert_close(got, want, dtype):
    rtol, atol = TOL[np.dtype(dtype)]
    assert got.dtype == np.dtype(dtype), (got.dtype, dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got.astype(np.float64), np.asarray(want, np.float64), rtol=rtol, atol=atol)


def softplus(x):
    return np.logaddexp(0.0, x)


def erf(x):
    from math import erf as e

    return np.vectorize(e, otypes=[np.float64])(x)


SELU_A, SELU_G = 1.67326319217681884765625, 1.05070102214813232421875
# name, float64 reference, input range, attributes
UNARY = [
    ("Exp", np.exp, (-10, 10), {}),
    ("Log", np.log, (0.01, 100), {}),
    ("Sqrt", np.sqrt, (0, 100), {}),
    ("Reciprocal", lambda x: 1 / x, (0.1, 10), {}),
    ("Floor", np.floor, (-10, 10), {}),
    ("Ceil", np.ceil, (-10, 10), {}),
    ("Round", np.round, (-10, 10), {}),
    ("Sin", np.sin, (-3, 3), {}),
    ("Cos", np.cos, (-3, 3), {}),
    ("Tan", np.tan, (-1.2, 1.2), {}),
    ("Asin", np.arcsin, (-0.99, 0.99), {}),
    ("Acos", np.arccos, (-0.99, 0.99), {}),
    ("Atan", np.arctan, (-10, 10), {}),
    ("Sinh", np.sinh, (-8, 8), {}),
    ("Cosh", np.cosh, (-8, 8), {}),
    ("Asinh", np.arcsinh, (-10, 10), {}),
    ("Acosh", np.arccosh, (1.01, 10), {}),
    ("Atanh", np.arctanh, (-0.95, 0.95), {}),
    ("Tanh", np.tanh, (-5, 5), {}),
    ("Sigmoid", lambda x: 1 / (1 + np.exp(-x)), (-10, 10), {}),
    ("Erf", erf, (-3, 3), {}),
    ("Softsign", lambda x: x / (1 + np.abs(x)), (-10, 10), {}),
    ("Softplus", softplus, (-10, 10), {}),
    ("Mish", lambda x: x * np.tanh(softplus(x)), (-10, 10), {}),
    ("LeakyRelu", lambda x: np.where(x < 0, 0.1 * x, x), (-5, 5), {"alpha": ("float", 0.1)}),
    ("Elu", lambda x: np.where(x < 0, 0.5 * np.expm1(x), x), (-5, 5), {"alpha": ("float", 0.5)}),
    ("Selu", lambda x: np.where(x <= 0, SELU_G * SELU_A * np.expm1(x), SELU_G * x), (-5, 5), {}),
    ("Celu", lambda x: np.maximum(x, 0) + np.minimum(0, 2.0 * np.expm1(x / 2.0)), (-5, 5), {"alpha": ("float", 2.0)}),
    ("HardSigmoid", lambda x: np.clip(0.2 * x + 0.5, 0, 1), (-5, 5), {}),
    ("HardSwish", lambda x: x * np.clip(x / 6 + 0.5, 0, 1), (-5, 5), {}),
    ("ThresholdedRelu", lambda x: np.where(x > 1.0, x, 0), (-5, 5), {}),
    ("Gelu", lambda x: 0.5 * x * (1 + erf(x / np.sqrt(2))), (-5, 5), {}),
    ("Relu", lambda x: np.maximum(x, 0), (-5, 5), {}),
    ("Abs", np.abs, (-5, 5), {}),
    ("Neg", np.negative, (-5, 5), {}),
    ("Sign", np.sign, (-5, 5), {}),
]
UNARY_OPSET = {"Gelu": 20}


@pytest.mark.gpu
@pytest.mark.parametrize("name,ref,rng_range,attrs", UNARY, ids=[u[0] for u in UNARY])
@settings(max_examples=8)
@given(shape=shapes, dtype=dtypes, seed=seeds)
def test_unary(dev, name, ref, rng_range, attrs, shape, dtype, seed):
    x = rand(np.random.default_rng(seed), shape, dtype, *rng_range)
    (y,) = run(dev, name, [x], attrs, opset=UNARY_OPSET.get(name, 17))
    assert_close(y, np.asarray(ref(x.astype(np.float64))).astype(dtype), dtype)


@pytest.mark.gpu
@settings(max_examples=10)
@given(shape=shapes, dtype=dtypes, seed=seeds)
def test_gelu_tanh_and_predicates(dev, shape, dtype, seed):
    x = rand(np.random.default_rng(seed), shape, dtype, -5, 5)
    (y,) = run(dev, "Gelu", [x], {"approximate": ("string", "tanh")}, opset=20)
    xd = x.astype(np.float64)
    want = 0.5 * xd * (1 + np.tanh(np.sqrt(2 / np.pi) * (xd + 0.044715 * xd**3)))
    assert_close(y, want.astype(dtype), dtype)
    z = x.copy().reshape(-1)
    z[::3] = np.nan
    z[1::3] = np.inf
    z = z.reshape(x.shape)
    (nan,) = run(dev, "IsNaN", [z])
    (inf,) = run(dev, "IsInf", [z], {"detect_negative": ("int", 0)})
    np.testing.assert_array_equal(nan, np.isnan(z.astype(np.float32)))
    np.testing.assert_array_equal(inf, np.isposinf(z.astype(np.float32)))


BINARY = [
    ("Add", np.add, (-5, 5), (-5, 5), {}),
    ("Sub", np.subtract, (-5, 5), (-5, 5), {}),
    ("Mul", np.multiply, (-5, 5), (-5, 5), {}),
    ("Div", np.divide, (-5, 5), (0.5, 5), {}),
    ("Pow", np.power, (0.1, 4), (-2, 2), {}),
    ("PRelu", lambda a, b: np.where(a < 0, a * b, a), (-5, 5), (-1, 1), {}),
    ("Mod", np.fmod, (-20, 20), (1, 5), {"fmod": ("int", 1)}),
    ("Mod", np.mod, (-20, 20), (1, 5), {}),
]


@pytest.mark.gpu
@pytest.mark.parametrize("name,ref,ra,rb,attrs", BINARY, ids=[f"{b[0]}{i}" for i, b in enumerate(BINARY)])
@settings(max_examples=10)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=5, max_side=6), dtype=dtypes, seed=seeds)
def test_binary_broadcast(dev, name, ref, ra, rb, attrs, shapes, dtype, seed):
    rng = np.random.default_rng(seed)
    a, b = rand(rng, shapes.input_shapes[0], dtype, *ra), rand(rng, shapes.input_shapes[1], dtype, *rb)
    if name == "PRelu":  # the slope broadcasts to the input, not the other way round
        b = rand(rng, shapes.input_shapes[1][-1:] if a.ndim else (), dtype, *rb)
        if a.ndim and b.shape[0] != a.shape[-1]:
            b = b[:1]
    (y,) = run(dev, name, [a, b], attrs)
    # Mod is exact in float32: compare with the float32 result rather than a float64 one.
    wt = np.float32 if name == "Mod" else np.float64
    assert_close(y, np.asarray(ref(a.astype(wt), b.astype(wt))).astype(dtype), dtype)


@pytest.mark.gpu
@pytest.mark.parametrize(
    "name,ref",
    [
        ("Equal", np.equal),
        ("Less", np.less),
        ("Greater", np.greater),
        ("LessOrEqual", np.less_equal),
        ("GreaterOrEqual", np.greater_equal),
    ],
)
@settings(max_examples=10)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=6), dtype=dtypes, seed=seeds)
def test_compare(dev, name, ref, shapes, dtype, seed):
    rng = np.random.default_rng(seed)
    # Small integers make ties (Equal, <=) common.
    a = rng.integers(-3, 4, size=shapes.input_shapes[0]).astype(dtype)
    b = rng.integers(-3, 4, size=shapes.input_shapes[1]).astype(dtype)
    (y,) = run(dev, name, [a, b])
    assert y.dtype == np.bool_
    np.testing.assert_array_equal(y, ref(a.astype(np.float32), b.astype(np.float32)))


@pytest.mark.gpu
@pytest.mark.parametrize(
    "name,ref",
    [
        ("Sum", lambda xs: sum(xs)),
        ("Mean", lambda xs: sum(xs) / len(xs)),
        ("Max", lambda xs: np.maximum.reduce(np.broadcast_arrays(*xs))),
        ("Min", lambda xs: np.minimum.reduce(np.broadcast_arrays(*xs))),
    ],
)
@settings(max_examples=10)
@given(n=st.integers(1, 4), data=st.data(), dtype=dtypes, seed=seeds)
def test_variadic(dev, name, ref, n, data, dtype, seed):
    shapes = data.draw(mutually_broadcastable_shapes(num_shapes=n, min_dims=0, max_dims=4, max_side=5))
    rng = np.random.default_rng(seed)
    xs = [rand(rng, s, dtype) for s in shapes.input_shapes]
    (y,) = run(dev, name, xs)
    want = ref([x.astype(np.float64) for x in xs])
    assert_close(y, np.asarray(want).astype(dtype), dtype)


@pytest.mark.gpu
@settings(max_examples=15)
@given(shape=shapes, dtype=dtypes, seed=seeds, lo=st.floats(-2, 0), hi=st.floats(0, 2))
def test_clip(dev, shape, dtype, seed, lo, hi):
    x = rand(np.random.default_rng(seed), shape, dtype)
    lo_t, hi_t = np.array(lo, dtype), np.array(hi, dtype)
    (y,) = run(dev, "Clip", [x, lo_t, hi_t], opset=13)
    assert_close(
        y, np.clip(x.astype(np.float64), lo_t.astype(np.float64), hi_t.astype(np.float64)).astype(dtype), dtype
    )
    (y,) = run(dev, "Clip", [x, None, hi_t], opset=13)
    assert_close(y, np.minimum(x.astype(np.float64), hi_t.astype(np.float64)).astype(dtype), dtype)
    (y,) = run(dev, "Clip", [x], {"min": ("float", lo), "max": ("float", hi)}, opset=6)
    assert_close(y, np.clip(x.astype(np.float64), np.float32(lo), np.float32(hi)).astype(dtype), dtype)


def np_softmax(x, axes, log):
    m = x.max(axis=axes, keepdims=True)
    e = np.exp(x - m)
    s = e.sum(axis=axes, keepdims=True)
    return (x - m - np.log(s)) if log else e / s


@pytest.mark.gpu
@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("opset", [11, 13])
@settings(max_examples=15)
@given(shape=array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=40), data=st.data(), dtype=dtypes, seed=seeds)
def test_softmax(dev, op, opset, shape, data, dtype, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = rand(np.random.default_rng(seed), shape, dtype, -8, 8)
    (y,) = run(dev, op, [x], {"axis": ("int", axis)}, opset=opset)
    a = axis % len(shape)
    axes = tuple(range(a, len(shape))) if opset < 13 else (a,)
    assert_close(y, np_softmax(x.astype(np.float64), axes, op == "LogSoftmax").astype(dtype), dtype)


@pytest.mark.gpu
@pytest.mark.parametrize("n", [1, 7, 64, 65, 1000, 4099])  # around both warp widths and block sizes
def test_softmax_long_rows(dev, n):
    x = rand(np.random.default_rng(n), (3, n), np.float32, -20, 20)
    (y,) = run(dev, "Softmax", [x], {"axis": ("int", -1)}, opset=13)
    assert_close(y, np_softmax(x.astype(np.float64), (1,), False).astype(np.float32), np.float32)


@pytest.mark.gpu
@settings(max_examples=20)
@given(
    shape=array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=30),
    data=st.data(),
    dtype=dtypes,
    seed=seeds,
    with_bias=st.booleans(),
    stats=st.booleans(),
)
def test_layernorm(dev, shape, data, dtype, seed, with_bias, stats):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    a = axis % len(shape)
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dtype, -4, 4) + np.asarray(rng.uniform(-50, 50), dtype)  # a large mean
    scale = rand(rng, shape[a:], dtype, 0.5, 2)
    bias = rand(rng, shape[a:], dtype) if with_bias else None
    outs = run(
        dev,
        "LayerNormalization",
        [x, scale, bias],
        {"axis": ("int", axis), "epsilon": ("float", 1e-5)},
        opset=17,
        num_outputs=3 if stats else 1,
    )
    xd = x.astype(np.float64)
    axes = tuple(range(a, len(shape)))
    mean = xd.mean(axis=axes, keepdims=True)
    rstd = 1 / np.sqrt(((xd - mean) ** 2).mean(axis=axes, keepdims=True) + 1e-5)
    want = (xd - mean) * rstd * scale.astype(np.float64) + (bias.astype(np.float64) if with_bias else 0)
    rtol, atol = TOL[np.dtype(dtype)]
    np.testing.assert_allclose(
        outs[0].astype(np.float64),
        want.astype(dtype).astype(np.float64),
        rtol=rtol,
        atol=max(atol, 1e-4 if dtype == np.float32 else atol),
    )
    if stats:
        np.testing.assert_allclose(outs[1], mean, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(outs[2], rstd, rtol=1e-4)


@pytest.mark.gpu
def test_errors_are_typed(dev):
    with pytest.raises(r1.InputError, match="float32, float16 and bfloat16"):
        run(dev, "Exp", [np.arange(4, dtype=np.int64)])
    with pytest.raises(r1.ModelError, match="no kernel"):
        run(dev, "NonZero", [np.ones(3, np.float32)])


@pytest.mark.gpu
def test_pool_returns_to_baseline(dev):
    mod, index = gpu.module(dev), int(dev.split(":")[1])
    rng = np.random.default_rng(0)
    a, b = rand(rng, (64, 256), np.float32), rand(rng, (256,), np.float32)
    run(dev, "Add", [a, b])  # warm up: the pool reserves its first block here
    base = mod.memory_stats(index)
    for _ in range(1000):
        run(dev, "Add", [a, b])
    after = mod.memory_stats(index)
    assert after["used_bytes"] == base["used_bytes"], (base, after)
    assert after["live_buffers"] == base["live_buffers"], (base, after)
    mod.trim(index, 0)
    assert mod.memory_stats(index)["reserved_bytes"] <= base["reserved_bytes"]


# ---- no GPU needed


def test_devices_without_driver():
    devs = r1.devices()
    assert devs[0] == "cpu"
    # (sim:0 is the test-only device test_device_placement.py registers in this process)
    assert all(d == "cpu" or d.split(":")[0] in ("cuda", "hip", "sim") for d in devs)
    assert gpu.load_errors() == {} or all(isinstance(v, str) for v in gpu.load_errors().values())


@pytest.mark.parametrize("name,backend,warp", [("_cuda", "cuda", 32), ("_hip", "hip", 64)])
def test_gpu_module_imports_or_is_absent(name, backend, warp):
    if importlib.util.find_spec(f"deepseek_r1.{name}") is None:
        assert backend not in gpu.modules()
        return
    if backend in gpu.load_errors():  # present but its runtime library is missing on this machine
        pytest.skip(gpu.load_errors()[backend])
    mod = gpu.module(backend)
    assert mod.backend == backend and mod.warp_size == warp
    n = mod.device_count()  # 0 without a driver: no exception
    assert n >= 0
    assert len([d for d in r1.devices() if d.startswith(backend + ":")]) == n
    ops = set(mod.kernel_ops())
    assert {"Add", "Exp", "Gelu", "Softmax", "LayerNormalization", "Max"} <= ops
    assert ops <= set(_core.supported_ops())
    if n == 0:
        with pytest.raises(r1.DeviceError, match="not available"):
            _core.open_device(f"{backend}:0")


def test_registry_capsule_and_run_kernel_on_cpu():
    assert "backend_hook" in repr(_core._registry_capsule)
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    (y,) = _core.run_kernel("cpu", "Softmax", [x], {"axis": ("int", -1)})
    np.testing.assert_allclose(y, np_softmax(x.astype(np.float64), (1,), False), rtol=1e-5)
    with pytest.raises(r1.DeviceError, match="not available"):
        _core.run_kernel("cuda:7", "Relu", [x])
