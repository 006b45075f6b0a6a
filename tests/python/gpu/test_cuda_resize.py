"""GPU kernels of cuda/kernels/resize.cu against numpy (and the CPU kernel).

Resize and Upsample, in float32 / float16 / bfloat16, through _core.run_kernel on the first GPU (skipped without
one). References are float64 numpy from the inputs already rounded to the dtype; tolerances
(helpers/cuda_norm_resize_harness.py): float32 1e-5 relative, float16 / bfloat16 1e-2 (of the output's magnitude or of
the sum of absolute terms for sums). Where a numpy reference is impractical (cubic / antialias / roi Resize) the CPU
kernel (cpp/r1/cpu/kernels/) is the reference.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deepseek_r1 as r1
from helpers.cuda_norm_resize_harness import F32, assert_close, dtypes, f64, rand, run, seeds

pytestmark = pytest.mark.gpu

# ---------------------------------------------------------------- Resize, Upsample


def coord(ctm, i, scale, in_len, out_len, r0=0.0, r1=1.0):
    out_w = scale * in_len
    if ctm == "align_corners":
        return 0.0 if out_w == 1 else i * (in_len - 1) / (out_w - 1)
    if ctm == "asymmetric":
        return i / scale
    if ctm == "pytorch_half_pixel":
        return -0.5 if out_w == 1 else (i + 0.5) / scale - 0.5
    if ctm == "half_pixel_symmetric":
        adj = out_len / out_w
        return in_len / 2 * (1 - adj) + (i + 0.5) / scale - 0.5
    return (i + 0.5) / scale - 0.5  # half_pixel


def axis_matrix(mode, ctm, nearest_mode, scale, in_len, out_len, legacy=False):
    """(out_len, in_len) float64 weights of one axis: nearest picks one input, linear two (clamped)."""
    m = np.zeros((out_len, in_len))
    for i in range(out_len):
        x = coord(ctm, i, scale, in_len, out_len)
        fl = np.floor(x)
        if mode == "nearest":
            if legacy:
                k = int(np.ceil(x)) if scale < 1 else int(x)
            elif x == fl:
                k = int(x)
            else:
                frac = x - fl
                up = {"round_prefer_floor": frac > 0.5, "round_prefer_ceil": frac >= 0.5, "floor": False, "ceil": True}[
                    nearest_mode
                ]
                k = int(fl) + int(up)
            m[i, min(max(k, 0), in_len - 1)] = 1.0
        else:
            r = x - fl
            m[i, min(max(int(fl), 0), in_len - 1)] += 1 - r
            m[i, min(max(int(fl) + 1, 0), in_len - 1)] += r
    return m


def resize_ref(x, mode, ctm, nearest_mode, scales, out_shape, legacy=False):
    y = f64(x)
    for a in range(x.ndim):
        m = axis_matrix(mode, ctm, nearest_mode, scales[a], x.shape[a], out_shape[a], legacy)
        y = np.moveaxis(np.tensordot(m, y, axes=([1], [a])), 0, a)
    return y


@st.composite
def simple_resize_case(draw):
    rank = draw(st.integers(1, 4))
    shape = tuple(draw(st.integers(1, 6)) for _ in range(rank))
    mode = draw(st.sampled_from(["nearest", "linear"]))
    ctm = draw(
        st.sampled_from(["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "half_pixel_symmetric"])
    )
    nearest_mode = draw(st.sampled_from(["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]))
    nres = draw(st.integers(1, min(rank, 3)))  # resize the trailing axes (bilinear / trilinear)
    if draw(st.booleans()):
        sizes = list(shape[: rank - nres]) + [draw(st.integers(1, 9)) for _ in range(nres)]
        scales = None
    else:
        scales = [1.0] * (rank - nres) + [
            draw(st.sampled_from([0.5, 0.6, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0])) for _ in range(nres)
        ]
        sizes = None
    return shape, mode, ctm, nearest_mode, scales, sizes


@given(simple_resize_case(), dtypes, seeds)
def test_resize_numpy(dev, case, dt, seed):
    shape, mode, ctm, nearest_mode, scales, sizes = case
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dt)
    attrs = {"mode": mode, "coordinate_transformation_mode": ctm, "nearest_mode": nearest_mode}
    if sizes is not None:
        inputs = [x, None, None, np.array(sizes, np.int64)]
        out = sizes
        sc = [sizes[i] / shape[i] for i in range(len(shape))]
    else:
        inputs = [x, None, np.array(scales, np.float32)]
        out = [int(np.floor(float(np.float32(s)) * d)) for s, d in zip(scales, shape)]
        sc = [float(np.float32(s)) for s in scales]
    if 0 in out:
        return
    (y,) = run(dev, "Resize", inputs, attrs, 19)
    want = resize_ref(x, mode, ctm, nearest_mode, sc, out)
    if mode == "nearest":
        np.testing.assert_array_equal(f64(y), want)
    else:
        assert_close(y, want, dt, scale=np.abs(f64(x)).max())
    (cpu,) = run("cpu", "Resize", inputs, attrs, 19)
    if mode == "nearest":
        np.testing.assert_array_equal(y.view(np.uint8), cpu.view(np.uint8))


@st.composite
def resize_case(draw):
    """Every attribute the CPU kernel takes; the CPU kernel is the reference."""
    rank = draw(st.integers(1, 4))
    shape = tuple(draw(st.integers(1, 6)) for _ in range(rank))
    mode = draw(st.sampled_from(["nearest", "linear", "cubic"]))
    ctm = draw(
        st.sampled_from(
            [
                "half_pixel",
                "half_pixel_symmetric",
                "pytorch_half_pixel",
                "align_corners",
                "asymmetric",
                "tf_half_pixel_for_nn",
                "tf_crop_and_resize",
            ]
        )
    )
    attrs = {"mode": mode, "coordinate_transformation_mode": ctm}
    attrs["nearest_mode"] = draw(st.sampled_from(["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]))
    if mode == "cubic":
        attrs["cubic_coeff_a"] = draw(st.sampled_from([-0.75, -0.5]))
        attrs["exclude_outside"] = draw(st.sampled_from([0, 1]))
    if mode != "nearest" and draw(st.integers(0, 3)) == 0:
        attrs["antialias"] = 1
    naxes = draw(st.integers(1, rank))
    axes = list(range(rank - naxes, rank))
    use_axes = naxes != rank and draw(st.booleans())
    if use_axes:
        attrs["axes"] = axes
    listed = axes if use_axes else list(range(rank))
    roi = None
    if ctm == "tf_crop_and_resize":
        lo = [draw(st.sampled_from([0.0, 0.125, 0.25, -0.25])) for _ in listed]
        hi = [draw(st.sampled_from([1.0, 0.875, 0.625, 1.25])) for _ in listed]
        roi = np.array(lo + hi, np.float32)
        attrs["extrapolation_value"] = draw(st.sampled_from([0.0, 5.0]))
    if draw(st.booleans()):
        sizes = [shape[i] if i not in axes else draw(st.integers(1, 9)) for i in listed]
        if draw(st.booleans()):
            attrs["keep_aspect_ratio_policy"] = draw(st.sampled_from(["stretch", "not_larger", "not_smaller"]))
        consts = [roi, None, np.array(sizes, np.int64)]
    else:
        scales = [1.0 if i not in axes else draw(st.sampled_from([0.5, 0.6, 0.75, 1.0, 1.5, 2.0, 3.0])) for i in listed]
        consts = [roi, np.array(scales, np.float32)]
    return shape, attrs, consts


@given(resize_case(), dtypes, seeds)
def test_resize_vs_cpu(dev, case, dt, seed):
    shape, attrs, consts = case
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dt)
    (cpu,) = run("cpu", "Resize", [x] + consts, attrs, 19)
    (y,) = run(dev, "Resize", [x] + consts, attrs, 19)
    if attrs["mode"] == "nearest":
        np.testing.assert_array_equal(y.view(np.uint8), cpu.view(np.uint8))
    else:
        scale = max(np.abs(f64(x)).max(), abs(attrs.get("extrapolation_value", 0.0)))
        assert_close(y, f64(cpu), dt, scale=scale)


@pytest.mark.parametrize("opset", [10, 11, 13])
@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
def test_resize_older_opsets(dev, opset, mode):
    if opset == 10 and mode == "cubic":
        pytest.skip("opset 10 Resize has no cubic mode")
    rng = np.random.default_rng(opset)
    x = rand(rng, (1, 2, 4, 5), np.float32)
    scales = np.array([1, 1, 1.5, 0.6], np.float32)
    inputs = [x, scales] if opset == 10 else [x, np.array([], np.float32), scales]
    (cpu,) = run("cpu", "Resize", inputs, {"mode": mode}, opset)
    (y,) = run(dev, "Resize", inputs, {"mode": mode}, opset)
    assert_close(y, f64(cpu), F32, scale=np.abs(x).max())
    if opset == 10 and mode == "nearest":  # asymmetric, legacy rounding
        want = resize_ref(x, "nearest", "asymmetric", None, [float(s) for s in scales], y.shape, legacy=True)
        np.testing.assert_array_equal(f64(y), want)


@pytest.mark.parametrize("dt", [np.uint8, np.int8, np.int32, np.int64, np.float16])
def test_resize_nearest_any_dtype(dev, dt):
    rng = np.random.default_rng(7)
    x = rng.integers(0, 100, size=(2, 3, 4, 5)).astype(dt)
    scales = np.array([1, 1, 2.0, 0.6], np.float32)
    attrs = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
    (y,) = run(dev, "Resize", [x, None, scales], attrs, 13)
    want = resize_ref(x, "nearest", "asymmetric", "floor", [1.0, 1.0, 2.0, float(np.float32(0.6))], y.shape)
    np.testing.assert_array_equal(y, want.astype(dt))


@given(st.sampled_from([7, 9]), st.sampled_from(["nearest", "linear", "bilinear"]), dtypes, seeds, st.data())
def test_upsample(dev, opset, mode, dt, seed, data):
    rng = np.random.default_rng(seed)
    shape = (1, data.draw(st.integers(1, 3)), data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5)))
    scales = [1.0, 1.0, data.draw(st.sampled_from([1.0, 2.0, 3.0])), data.draw(st.sampled_from([1.0, 2.0, 1.5]))]
    x = rand(rng, shape, dt)
    if opset == 7:
        inputs, attrs = [x], {"mode": mode, "scales": scales}
    else:
        inputs, attrs = [x, np.array(scales, np.float32)], {"mode": mode}
    (y,) = run(dev, "Upsample", inputs, attrs, opset)
    (cpu,) = run("cpu", "Upsample", inputs, attrs, opset)
    out = [int(np.floor(s * d)) for s, d in zip(scales, shape)]
    want = resize_ref(x, "nearest" if mode == "nearest" else "linear", "asymmetric", None, scales, out, legacy=True)
    if mode == "nearest":
        np.testing.assert_array_equal(f64(y), want)
    else:
        assert_close(y, want, dt, scale=np.abs(f64(x)).max())
    assert_close(y, f64(cpu), dt, scale=np.abs(f64(x)).max())


def test_resize_linear_int_refused_on_gpu(dev):
    # Linear / cubic are float-only on the GPU (its predicate leaves such nodes to the CPU, which refuses them too).
    x = np.arange(16, dtype=np.int32).reshape(1, 1, 4, 4)
    with pytest.raises(r1.InputError, match="float32"):
        run(dev, "Resize", [x, None, np.array([1, 1, 2, 2], np.float32)], {"mode": "linear"}, 13)
