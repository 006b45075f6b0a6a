"""Property tests of Resize and Upsample against onnx's numpy reference evaluator (Resize's many coordinate modes) and
onnxruntime.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deepseek_r1 as r1
from helpers.conv_pool_refs import FLOATS, arr, check, f64
from helpers.op_harness import make_op_model, run_op


# ------------------------------------------------------------------------------------- Resize
def reference_run(op, inputs, attrs, constants, opset):
    from onnx.reference import ReferenceEvaluator

    model = make_op_model(op, inputs, attrs, constants, 1, opset)
    feeds = {f"in{i}": a for i, a in enumerate(inputs) if a is not None}
    return ReferenceEvaluator(model).run(None, feeds)[0]


CTMS = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "half_pixel_symmetric", "tf_crop_and_resize"]


@st.composite
def resize_case(draw):
    rank = draw(st.integers(2, 4))
    shape = tuple(draw(st.integers(1, 6)) for _ in range(rank))
    mode = draw(st.sampled_from(["nearest", "linear", "cubic"]))
    ctm = draw(st.sampled_from(CTMS))
    if ctm == "tf_crop_and_resize" and mode == "nearest":
        ctm = "half_pixel"
    # interpolate the last one or two axes (like images), or all axes for nearest/linear
    naxes = draw(st.sampled_from([1, 2] + ([rank] if mode != "cubic" else [])))
    naxes = min(naxes, rank)
    axes = list(range(rank - naxes, rank))
    use_sizes = draw(st.booleans())
    attrs = dict(mode=mode, coordinate_transformation_mode=ctm)
    if mode == "nearest":
        attrs["nearest_mode"] = draw(st.sampled_from(["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]))
    if mode == "cubic":
        attrs["cubic_coeff_a"] = draw(st.sampled_from([-0.75, -0.5]))
        attrs["exclude_outside"] = draw(st.sampled_from([0, 1]))
    if mode != "nearest" and draw(st.integers(0, 4)) == 0:
        attrs["antialias"] = 1
    if use_sizes:
        sizes = [draw(st.integers(1, 9)) for _ in axes]
        full = [shape[i] if i not in axes else sizes[axes.index(i)] for i in range(rank)]
        scales = None
        if draw(st.booleans()):
            attrs["keep_aspect_ratio_policy"] = draw(st.sampled_from(["not_larger", "not_smaller"]))
    else:
        scales = [draw(st.sampled_from([0.5, 0.6, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0])) for _ in axes]
        full = None
    if naxes != rank and draw(st.booleans()):
        attrs["axes"] = axes
        sv = scales
        zv = sizes if use_sizes else None
    else:
        sv = None if scales is None else [1.0] * (rank - naxes) + scales
        zv = None if not use_sizes else full
    roi = None
    if ctm == "tf_crop_and_resize":
        nroi = len(attrs.get("axes", range(rank)))
        # Dyadic roi values: with 0.1 or -0.2 a sample can land within one rounding of the crop edge,
        # where float32 (ours) and float64 (the reference) legitimately disagree on extrapolating.
        lo = [draw(st.sampled_from([0.0, 0.125, 0.25, -0.25])) for _ in range(nroi)]
        hi = [draw(st.sampled_from([1.0, 0.875, 0.625, 1.25])) for _ in range(nroi)]
        roi = np.array(lo + hi, np.float32)
        attrs["extrapolation_value"] = draw(st.sampled_from([0.0, 5.0]))
    sv = None if sv is None else np.array(sv, np.float32)
    zv = None if zv is None else np.array(zv, np.int64)
    return shape, attrs, roi, sv, zv, draw(st.integers(0, 2**16))


@given(resize_case(), st.sampled_from(FLOATS))
def test_resize(case, dt):
    shape, attrs, roi, sv, zv, seed = case
    x = arr(seed, shape, np.float32)
    consts = [roi, sv, zv]
    while consts and consts[-1] is None:
        consts.pop()
    xd = x.astype(dt)
    (y,) = run_op("Resize", [xd], attrs=attrs, constants=consts, opset=19)
    x32 = f64(xd).astype(np.float32)
    want = reference_run("Resize", [x32], attrs, consts, 19)
    try:
        if dt == np.float32:
            check(y, want, dt, rtol32=1e-4, atol32=1e-4)
        else:
            check(y, want, dt)
    except AssertionError:
        # onnx's reference evaluator picks the wrong neighbours when a sample lands exactly on an
        # input pixel with antialias on (it sets ratio = 1 there); onnxruntime, the engine users
        # compare us with, does not. Where the two references disagree, onnxruntime decides.
        want_ort = ort_run("Resize", [x32], attrs, consts, 19)
        if dt == np.float32:
            check(y, want_ort, dt, rtol32=1e-4, atol32=1e-4)
        else:
            check(y, want_ort, dt)


def ort_run(op, inputs, attrs, constants, opset):
    import onnxruntime as ort

    model = make_op_model(op, inputs, attrs, constants, 1, opset)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {f"in{i}": a for i, a in enumerate(inputs) if a is not None})[0]


@given(
    st.sampled_from([np.dtype(np.uint8), np.dtype(np.int8), np.dtype(np.int32), np.dtype(np.float32)]),
    st.sampled_from(["round_prefer_floor", "floor", "ceil"]),
    st.integers(0, 2**16),
)
def test_resize_nearest_dtypes(dt, nearest_mode, seed):
    x = arr(seed, (1, 2, 3, 5), dt)
    scales = np.array([1, 1, 2.0, 0.6], np.float32)
    attrs = dict(mode="nearest", nearest_mode=nearest_mode, coordinate_transformation_mode="asymmetric")
    (y,) = run_op("Resize", [x], attrs=attrs, constants=[None, scales], opset=13)
    want = reference_run("Resize", [x.astype(np.float32)], attrs, [None, scales], 13)
    np.testing.assert_array_equal(y, want.astype(dt))


def test_resize_opset11_empty_scales_with_sizes():
    x = arr(2, (1, 1, 3, 4), np.float32)
    roi = np.array([], np.float32)
    scales = np.array([], np.float32)
    sizes = np.array([1, 1, 6, 2], np.int64)
    attrs = dict(mode="linear")
    (y,) = run_op("Resize", [x], attrs=attrs, constants=[roi, scales, sizes], opset=11)
    want = reference_run("Resize", [x], attrs, [roi, scales, sizes], 11)
    check(y, want, np.float32)


def test_resize_scales_as_input():
    # scales not constant: the output shape is only known at run time
    x = arr(3, (1, 2, 4, 4), np.float32)
    scales = np.array([1, 1, 2, 2], np.float32)
    (y,) = run_op("Resize", [x, None, scales], attrs=dict(mode="nearest"), opset=13)
    np.testing.assert_array_equal(y, x.repeat(2, axis=2).repeat(2, axis=3))


def test_resize_bad_mode():
    x = arr(3, (1, 2, 4, 4), np.float32)
    with pytest.raises(r1.ModelError, match="not supported"):
        run_op("Resize", [x], attrs=dict(mode="bogus"), constants=[None, np.array([1, 1, 2, 2], np.float32)], opset=13)


@given(
    st.sampled_from([7, 9]),
    st.sampled_from(["nearest", "linear"]),
    st.sampled_from(FLOATS + [np.dtype(np.uint8)]),
    st.integers(0, 2**16),
    st.data(),
)
def test_upsample(opset, mode, dt, seed, data):
    if dt == np.uint8 and mode == "linear":
        mode = "nearest"
    shape = (1, data.draw(st.integers(1, 3)), data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5)))
    scales = [1.0, 1.0, data.draw(st.sampled_from([1.0, 2.0, 3.0])), data.draw(st.sampled_from([1.0, 2.0, 1.5]))]
    x = arr(seed, shape, dt)
    if opset == 7:
        (y,) = run_op("Upsample", [x], attrs=dict(mode=mode, scales=scales), opset=7)
    else:
        (y,) = run_op("Upsample", [x], attrs=dict(mode=mode), constants=[np.array(scales, np.float32)], opset=9)
    # Upsample == Resize(opset 10): asymmetric coordinates, floor for nearest.
    xf = f64(x)
    oh, ow = int(shape[2] * scales[2]), int(shape[3] * scales[3])
    hi = np.arange(oh) / scales[2]
    wi = np.arange(ow) / scales[3]
    if mode == "nearest":
        want = xf[:, :, np.minimum(np.floor(hi).astype(int), shape[2] - 1)][
            ..., np.minimum(np.floor(wi).astype(int), shape[3] - 1)
        ]
    else:

        def lin(a, pos, axis, n):
            i0 = np.minimum(np.floor(pos).astype(int), n - 1)
            i1 = np.minimum(i0 + 1, n - 1)
            f = pos - np.floor(pos)
            sh = [1] * a.ndim
            sh[axis] = -1
            return np.take(a, i0, axis) * (1 - f).reshape(sh) + np.take(a, i1, axis) * f.reshape(sh)

        want = lin(lin(xf, hi, 2, shape[2]), wi, 3, shape[3])
    check(y, want.astype(dt) if dt.kind in "iu" else want, dt)
