"""Property tests of CenterCropPad, Col2Im, MaxUnpool, LRN, GridSample and AffineGrid: against numpy where it has the
operation (crop/pad, LRN, MaxUnpool's scatter), against onnx's reference implementation (GridSample) and
onnxruntime otherwise."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx.reference import ReferenceEvaluator

import deepseek_r1 as r1
from helpers.dtype_arrays import num_dtypes, rand, same, seeds, shapes
from helpers.op_harness import make_op_model, run_onnxruntime, run_op


def _close(got, want, tol=1e-5):
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * max(1.0, float(np.abs(want).max(initial=0))))


@given(shapes(1, 3, 1, 6), num_dtypes, seeds(), st.data())
def test_center_crop_pad(shape, dt, seed, data):
    x = rand(np.random.default_rng(seed), shape, dt)
    r = len(shape)
    axes = data.draw(
        st.one_of(st.none(), st.lists(st.integers(-r, r - 1), min_size=1, max_size=r, unique_by=lambda a: a % r))
    )
    ax = list(range(r)) if axes is None else [a % r for a in axes]
    sizes = [data.draw(st.integers(0, 8)) for _ in ax]
    want = x
    for a, n in zip(ax, sizes):
        d = want.shape[a]
        if n < d:
            want = np.take(want, range((d - n) // 2, (d - n) // 2 + n), axis=a)
        elif n > d:
            pad = [(0, 0)] * r
            pad[a] = ((n - d) // 2, n - d - (n - d) // 2)
            want = np.pad(want, pad)
    attrs = {} if axes is None else {"axes": axes}
    (y,) = run_op("CenterCropPad", [x], attrs=attrs, constants=[np.array(sizes, np.int64)], opset=18)
    same(y, want)


@settings(max_examples=30)
@given(seeds(), st.integers(1, 2), st.integers(1, 3), st.data())
def test_col2im(seed, n, c, data):
    rng = np.random.default_rng(seed)
    image = [data.draw(st.integers(3, 7)) for _ in range(2)]
    block = [data.draw(st.integers(1, 3)) for _ in range(2)]
    dil = [data.draw(st.integers(1, 2)) for _ in range(2)]
    st_ = [data.draw(st.integers(1, 2)) for _ in range(2)]
    pads = [data.draw(st.integers(0, 1)) for _ in range(4)]
    blocks = [(image[d] + pads[d] + pads[d + 2] - dil[d] * (block[d] - 1) - 1) // st_[d] + 1 for d in range(2)]
    if min(blocks) < 1:
        return
    x = rng.standard_normal((n, c * block[0] * block[1], blocks[0] * blocks[1])).astype(np.float32)
    attrs = {"dilations": dil, "strides": st_, "pads": pads}
    consts = [np.array(image, np.int64), np.array(block, np.int64)]
    (y,) = run_op("Col2Im", [x], attrs=attrs, constants=consts, opset=18)
    (want,) = run_onnxruntime("Col2Im", [x], attrs=attrs, constants=consts, opset=18)
    _close(y, want)


@given(seeds(), st.integers(1, 2), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.data())
def test_max_unpool(seed, n, c, h, w, data):
    rng = np.random.default_rng(seed)
    k, s = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    oh, ow = (h - 1) * s + k, (w - 1) * s + k
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    # Distinct flat positions in the unpooled tensor, as MaxPool's Indices are for non-overlapping windows.
    idx = rng.choice(n * c * oh * ow, size=x.size, replace=False).reshape(x.shape).astype(np.int64)
    want = np.zeros(n * c * oh * ow, np.float32)
    want[idx.ravel()] = x.ravel()
    attrs = {"kernel_shape": [k, k], "strides": [s, s]}
    (y,) = run_op("MaxUnpool", [x, idx], attrs=attrs, opset=11)
    same(y, want.reshape(n, c, oh, ow))


@given(seeds(), shapes(2, 4, 1, 6), st.integers(1, 5), st.data())
def test_lrn(seed, shape, size, data):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    alpha, beta, bias = data.draw(st.sampled_from([(1e-4, 0.75, 1.0), (0.5, 0.5, 2.0), (1.0, 1.0, 0.5)]))
    c = shape[1]
    sq = np.zeros_like(x, dtype=np.float64)
    for i in range(c):
        lo, hi = max(0, i - (size - 1) // 2), min(c - 1, i + (size - 1) - (size - 1) // 2)
        sq[:, i] = (x[:, lo : hi + 1].astype(np.float64) ** 2).sum(axis=1)
    want = (x / (bias + alpha / size * sq) ** beta).astype(np.float32)
    (y,) = run_op("LRN", [x], attrs={"alpha": alpha, "beta": beta, "bias": bias, "size": size})
    _close(y, want)


@settings(max_examples=60)
@given(seeds(), st.integers(1, 2), st.integers(1, 2), st.data())
def test_grid_sample(seed, n, c, data):
    rng = np.random.default_rng(seed)
    three_d = data.draw(st.booleans())
    mode = data.draw(st.sampled_from(["nearest", "linear"] if three_d else ["nearest", "linear", "cubic"]))
    spatial = [data.draw(st.integers(1, 5)) for _ in range(3 if three_d else 2)]
    out = [data.draw(st.integers(1, 4)) for _ in range(3 if three_d else 2)]
    x = rng.standard_normal((n, c, *spatial)).astype(np.float32)
    grid = rng.uniform(-1.6, 1.6, size=(n, *out, len(spatial))).astype(np.float32)  # some outside [-1, 1]
    attrs = {
        "mode": mode,
        "padding_mode": data.draw(st.sampled_from(["zeros", "border", "reflection"])),
        "align_corners": int(data.draw(st.booleans())),
    }
    (y,) = run_op("GridSample", [x, grid], attrs=attrs, opset=20)
    assert np.isfinite(y).all()
    if attrs["align_corners"] and attrs["padding_mode"] == "reflection" and min(spatial) == 1:
        return  # onnx's reference divides by zero there (a 1-pixel dim has no reflection range)
    model = make_op_model("GridSample", [x, grid], attrs, (), 1, 20)
    (want,) = ReferenceEvaluator(model).run(None, {"in0": x, "in1": grid})
    _close(y, want, 1e-4)
    if mode != "cubic":
        # onnxruntime agrees with the reference except in cubic mode next to a border of a map narrower than the
        # 4-tap kernel (e.g. a 1-pixel dim with border padding), where it differs by ~1e-3; we follow the reference.
        (ort,) = run_onnxruntime("GridSample", [x, grid], attrs=attrs, opset=20)
        _close(y, ort, 1e-4)


def test_grid_sample_opset16_names():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    grid = np.random.default_rng(0).uniform(-1, 1, (1, 3, 3, 2)).astype(np.float32)
    for mode in ("bilinear", "bicubic", "nearest"):
        (y,) = run_op("GridSample", [x, grid], attrs={"mode": mode}, opset=16)
        (want,) = run_onnxruntime("GridSample", [x, grid], attrs={"mode": mode}, opset=16)
        _close(y, want, 1e-4)


def test_grid_sample_cubic_3d_is_a_model_error():
    x, grid = np.ones((1, 1, 2, 2, 2), np.float32), np.zeros((1, 1, 1, 1, 3), np.float32)
    with pytest.raises(r1.ModelError, match="cubic mode takes 4-D input only"):
        run_op("GridSample", [x, grid], attrs={"mode": "cubic"}, opset=20)


@given(seeds(), st.integers(1, 3), st.booleans(), st.booleans(), st.data())
def test_affine_grid(seed, n, three_d, align, data):
    rng = np.random.default_rng(seed)
    nd = 3 if three_d else 2
    theta = rng.standard_normal((n, nd, nd + 1)).astype(np.float32)
    size = [n, 1] + [data.draw(st.integers(2 if align else 1, 5)) for _ in range(nd)]
    attrs = {"align_corners": int(align)}
    consts = [np.array(size, np.int64)]
    (y,) = run_op("AffineGrid", [theta], attrs=attrs, constants=consts, opset=20)
    (want,) = run_onnxruntime("AffineGrid", [theta], attrs=attrs, constants=consts, opset=20)
    _close(y, want)


def test_affine_grid_single_pixel_align_corners():
    """One pixel with align_corners: the centre, 0, as PyTorch's affine_grid gives (onnx's reference says -1 and
    onnxruntime 1; the implementations disagree)."""
    theta = np.array([[[1, 0, 0], [0, 1, 0]]], np.float32)
    (y,) = run_op(
        "AffineGrid", [theta], attrs={"align_corners": 1}, constants=[np.array([1, 1, 1, 3], np.int64)], opset=20
    )
    np.testing.assert_array_equal(y.reshape(-1, 2), [[-1, 0], [0, 0], [1, 0]])
