"""Property tests of DeformConv (against onnxruntime; zero offsets against a plain convolution) and
TfIdfVectorizer over integer pools (against onnxruntime)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from helpers.dtype_arrays import seeds
from helpers.op_harness import run_onnxruntime, run_op


@given(seeds(), st.integers(1, 2), st.integers(1, 2), st.data())
def test_deform_conv(seed, n, group, data):
    rng = np.random.default_rng(seed)
    og = data.draw(st.sampled_from([1, 2]))
    c = group * og * data.draw(st.integers(1, 2))
    oc = group * data.draw(st.integers(1, 2))
    kh, kw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    h, w = data.draw(st.integers(kh, 6)), data.draw(st.integers(kw, 6))
    stride, pad = data.draw(st.integers(1, 2)), data.draw(st.integers(0, 1))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = rng.standard_normal((oc, c // group, kh, kw)).astype(np.float32)
    zero = data.draw(st.booleans())
    off = (
        np.zeros((n, og * 2 * kh * kw, oh, ow), np.float32)
        if zero
        else rng.uniform(-2, 2, (n, og * 2 * kh * kw, oh, ow)).astype(np.float32)
    )
    b = rng.standard_normal(oc).astype(np.float32)
    mask = rng.uniform(0, 1, (n, og * kh * kw, oh, ow)).astype(np.float32) if data.draw(st.booleans()) else None
    attrs = {
        "group": group,
        "offset_group": og,
        "strides": [stride, stride],
        "pads": [pad] * 4,
        "kernel_shape": [kh, kw],
    }
    ins = [x, wt, off, b] + ([mask] if mask is not None else [])
    (got,) = run_op("DeformConv", ins, attrs=attrs, opset=19)
    (want,) = run_onnxruntime("DeformConv", ins, attrs=attrs, opset=19)
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * scale)
    if zero and mask is None:
        conv_attrs = {k: v for k, v in attrs.items() if k != "offset_group"}
        (conv,) = run_op("Conv", [x, wt, b], attrs=conv_attrs)
        np.testing.assert_allclose(got, conv, rtol=0, atol=1e-5 * scale)


@given(seeds(), st.integers(1, 3), st.integers(0, 2), st.sampled_from(["TF", "IDF", "TFIDF"]), st.data())
def test_tfidf_vectorizer(seed, max_n, max_skip, mode, data):
    rng = np.random.default_rng(seed)
    vocab = 6
    pool, counts = [], []
    for n in range(1, max_n + 1):
        counts.append(len(pool))
        grams = {tuple(rng.integers(0, vocab, n)) for _ in range(4)}
        for g in sorted(grams):
            pool.extend(int(v) for v in g)
    total = sum(len(range(counts[i], counts[i + 1] if i + 1 < len(counts) else len(pool), i + 1)) for i in range(max_n))
    indexes = rng.permutation(total).astype(np.int64)
    attrs = {
        "mode": mode,
        "min_gram_length": data.draw(st.integers(1, max_n)),
        "max_gram_length": max_n,
        "max_skip_count": max_skip,
        "ngram_counts": counts,
        "ngram_indexes": indexes.tolist(),
        "pool_int64s": pool,
    }
    if mode != "TF":
        attrs["weights"] = rng.uniform(0.5, 2, total).astype(np.float32).tolist()
    batched = data.draw(st.booleans())
    x = rng.integers(0, vocab, (2, 9) if batched else (9,)).astype(data.draw(st.sampled_from([np.int32, np.int64])))
    (got,) = run_op("TfIdfVectorizer", [x], attrs=attrs, opset=9)
    (want,) = run_onnxruntime("TfIdfVectorizer", [x], attrs=attrs, opset=9)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6)
