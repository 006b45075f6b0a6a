"""Property tests of the detector post-processing ops (NonMaxSuppression, RoiAlign, MaxRoiPool): NonMaxSuppression
against a numpy greedy reference and onnxruntime, the pooling ops against onnxruntime (numpy has none)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deepseek_r1 as r1
from helpers.dtype_arrays import seeds
from helpers.op_harness import run_onnxruntime, run_op


def _corners(b, center):
    if center:
        xc, yc, w, h = b
        return yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2
    return min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3])


def _iou(a, b):
    ih = min(a[2], b[2]) - max(a[0], b[0])
    iw = min(a[3], b[3]) - max(a[1], b[1])
    if ih <= 0 or iw <= 0:
        return 0.0
    inter = np.float32(ih) * np.float32(iw)
    ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / ua if ua > 0 else 0.0


def nms_ref(boxes, scores, max_out, iou, score_th, center):
    rows = []
    for b in range(boxes.shape[0]):
        bx = [_corners(boxes[b, i], center) for i in range(boxes.shape[1])]
        for c in range(scores.shape[1]):
            s = scores[b, c]
            cand = [i for i in np.argsort(-s, kind="stable") if score_th is None or s[i] > score_th]
            kept: list[int] = []
            for i in cand:
                if len(kept) >= max_out:
                    break
                if all(_iou(bx[k], bx[i]) <= iou for k in kept):
                    kept.append(i)
                    rows.append((b, c, i))
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


def _boxes(rng, b, n, center):
    if center:
        xy = rng.uniform(0, 10, size=(b, n, 2))
        wh = rng.uniform(0.5, 4, size=(b, n, 2))
        return np.concatenate([xy, wh], axis=-1).astype(np.float32)
    p = rng.uniform(0, 10, size=(b, n, 2))
    q = p + rng.uniform(-4, 4, size=(b, n, 2))  # either diagonal
    return np.concatenate([p, q], axis=-1).astype(np.float32)


@settings(max_examples=40)
@given(seeds(), st.integers(1, 2), st.integers(1, 3), st.integers(1, 24), st.booleans(), st.booleans(), st.data())
def test_non_max_suppression(seed, b, c, n, center, ties, data):
    rng = np.random.default_rng(seed)
    boxes = _boxes(rng, b, n, center)
    # Quantized scores make equal scores, whose order (lower box index first) must match too.
    scores = (rng.integers(0, 5, size=(b, c, n)) / 4 if ties else rng.uniform(size=(b, c, n))).astype(np.float32)
    max_out = data.draw(st.integers(0, n + 1))
    iou = np.float32(data.draw(st.sampled_from([0.0, 0.3, 0.5, 0.9])))
    score_th = data.draw(st.sampled_from([None, 0.25, 0.5]))
    consts = [np.array([max_out], np.int64), np.array([iou], np.float32)]
    consts.append(None if score_th is None else np.array([score_th], np.float32))
    attrs = {"center_point_box": int(center)}
    (got,) = run_op("NonMaxSuppression", [boxes, scores], attrs=attrs, constants=consts, opset=11)
    want = nms_ref(boxes, scores, max_out, iou, score_th, center)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)
    (ort,) = run_onnxruntime("NonMaxSuppression", [boxes, scores], attrs=attrs, constants=consts, opset=11)
    np.testing.assert_array_equal(got, ort)


def test_non_max_suppression_bad_boxes():
    boxes = np.zeros((1, 3, 5), np.float32)
    with pytest.raises(r1.ModelError, match="last dim must be 4"):
        run_op("NonMaxSuppression", [boxes, np.zeros((1, 1, 3), np.float32)], opset=11)
    with pytest.raises(r1.ModelError, match="boxes hold 3 boxes and scores 4"):
        run_op("NonMaxSuppression", [np.zeros((1, 3, 4), np.float32), np.zeros((1, 1, 4), np.float32)], opset=11)


def _rois(rng, r, h, w, batch):
    x1 = rng.uniform(-2, w, size=r)
    y1 = rng.uniform(-2, h, size=r)
    x2 = x1 + rng.uniform(-1, w, size=r)  # some malformed (x2 < x1), some past the map
    y2 = y1 + rng.uniform(-1, h, size=r)
    rois = np.stack([x1, y1, x2, y2], axis=1).astype(np.float32)
    return rois, rng.integers(0, batch, size=r).astype(np.int64)


@settings(max_examples=40)
@given(
    seeds(), st.integers(1, 2), st.integers(1, 3), st.integers(2, 9), st.integers(2, 9), st.integers(1, 5), st.data()
)
def test_roi_align(seed, n, c, h, w, r, data):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    scale = data.draw(st.sampled_from([1.0, 0.5, 0.25]))
    rois, batch = _rois(rng, r, h / scale, w / scale, n)
    attrs = {
        "mode": data.draw(st.sampled_from(["avg", "max"])),
        "output_height": data.draw(st.integers(1, 4)),
        "output_width": data.draw(st.integers(1, 4)),
        "sampling_ratio": data.draw(st.integers(0, 3)),
        "spatial_scale": scale,
        "coordinate_transformation_mode": data.draw(st.sampled_from(["half_pixel", "output_half_pixel"])),
    }
    (got,) = run_op("RoiAlign", [x, rois, batch], attrs=attrs, opset=16)
    (want,) = run_onnxruntime("RoiAlign", [x, rois, batch], attrs=attrs, opset=16)
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(x).max())))


def test_roi_align_bad_batch_index():
    x = np.ones((1, 1, 4, 4), np.float32)
    rois = np.array([[0, 0, 2, 2]], np.float32)
    with pytest.raises(r1.InputError, match="batch index 3 out of range"):
        run_op("RoiAlign", [x, rois, np.array([3], np.int64)], opset=16)


@settings(max_examples=30)
@given(
    seeds(), st.integers(1, 2), st.integers(1, 3), st.integers(2, 9), st.integers(2, 9), st.integers(1, 4), st.data()
)
def test_max_roi_pool(seed, n, c, h, w, r, data):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    scale = data.draw(st.sampled_from([1.0, 0.5]))
    rois, batch = _rois(rng, r, h / scale, w / scale, n)
    rois = np.concatenate([batch[:, None].astype(np.float32), rois], axis=1)
    attrs = {"pooled_shape": [data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))], "spatial_scale": scale}
    (got,) = run_op("MaxRoiPool", [x, rois], attrs=attrs)
    (want,) = run_onnxruntime("MaxRoiPool", [x, rois], attrs=attrs)
    np.testing.assert_array_equal(got, want)
