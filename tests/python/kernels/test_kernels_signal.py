"""Property tests of the signal ops (DFT, STFT, the window generators, MelWeightMatrix) against numpy's FFT and the
textbook window formulas, and against onnxruntime where numpy has no equivalent (MelWeightMatrix)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto

import deepseek_r1 as r1
from helpers.dtype_arrays import BF16, seeds
from helpers.op_harness import run_onnxruntime, run_op

# Lengths hitting each FFT path: powers of two (radix-2), small prime factors (mixed radix, with 4s, 2, 3, 5, 11,
# 31), large primes (37, 101 in 202: Bluestein); even and odd (the real transform through a half-length one).
LENGTHS = st.sampled_from([1, 2, 3, 5, 8, 12, 16, 31, 33, 37, 64, 100, 128, 400, 202])
TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float16): 1e-2, BF16: 2e-2}


def _complex(a):
    return a[..., 0] + 1j * a[..., 1] if a.shape[-1] == 2 else a[..., 0].astype(np.complex128)


def _pack(c):
    return np.stack([c.real, c.imag], axis=-1)


def _close(got, want, dt):
    """Per element, scaled by the transform's magnitude: an FFT's error is relative to the whole signal."""
    assert got.dtype == np.dtype(dt) and got.shape == want.shape, (got.dtype, got.shape, want.shape)
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=0, atol=TOL[np.dtype(dt)] * scale * 4)


@settings(max_examples=60)
@given(seeds(), LENGTHS, st.sampled_from([1, 2]), st.sampled_from([np.float32, np.float16, BF16]), st.data())
def test_dft(seed, length, comp, dt, data):
    rng = np.random.default_rng(seed)
    batch = data.draw(st.integers(1, 3))
    x = rng.standard_normal((batch, length, comp)).astype(np.float32).astype(dt)
    inverse = data.draw(st.booleans())
    onesided = data.draw(st.booleans()) and (comp == 1 or inverse)
    n = data.draw(st.sampled_from([None, max(1, length - 1), length + 3]))
    opset = data.draw(st.sampled_from([17, 20]))
    xc = _complex(x.astype(np.float64))
    if inverse and onesided:
        nn = n if n is not None else 2 * (length - 1)
        if nn < 1:
            return
        want = np.fft.irfft(xc, n=nn, axis=1)[..., None]
    elif inverse:
        want = _pack(np.fft.ifft(xc, n=n, axis=1))
    else:
        spec = np.fft.fft(xc, n=n, axis=1)
        want = _pack(spec[:, : spec.shape[1] // 2 + 1] if onesided else spec)
    consts = [None if n is None else np.array(n, np.int64)]
    if opset == 20:
        consts.append(np.array(1, np.int64))
        attrs = {"inverse": int(inverse), "onesided": int(onesided)}
    else:
        attrs = {"inverse": int(inverse), "onesided": int(onesided), "axis": 1}
    (got,) = run_op("DFT", [x], attrs=attrs, constants=consts, opset=opset)
    _close(got, want, dt)


@settings(max_examples=30)
@given(seeds(), st.sampled_from([4, 6, 16, 20]), st.data())
def test_dft_inner_axis(seed, length, data):
    """The transform along an axis with dims after it (the lanes are strided)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, length, 3, 2)).astype(np.float32)
    axis = data.draw(st.sampled_from([1, -3]))
    (got,) = run_op("DFT", [x], constants=[None, np.array(axis, np.int64)], opset=20)
    _close(got, _pack(np.fft.fft(_complex(x.astype(np.float64)), axis=1)), np.float32)


def test_dft_bad_axis():
    x = np.ones((1, 4, 2), np.float32)
    with pytest.raises(r1.ModelError, match="axis 2 out of range"):
        run_op("DFT", [x], constants=[None, np.array(2, np.int64)], opset=20)


def _frames(sig, n, step):
    count = 1 + (sig.shape[1] - n) // step
    return np.stack([sig[:, f * step : f * step + n] for f in range(count)], axis=1)


@settings(max_examples=40)
@given(seeds(), st.sampled_from([8, 12, 16, 25, 64]), st.integers(1, 9), st.booleans(), st.data())
def test_stft(seed, n, step, use_window, data):
    rng = np.random.default_rng(seed)
    batch = data.draw(st.integers(1, 2))
    comp = data.draw(st.sampled_from([1, 2]))
    length = n + data.draw(st.integers(0, 40))
    sig = rng.standard_normal((batch, length, comp)).astype(np.float32)
    onesided = comp == 1 and data.draw(st.booleans())
    window = rng.uniform(0.1, 1, size=n).astype(np.float32) if use_window else None
    frame_len = np.array(n, np.int64) if (not use_window or data.draw(st.booleans())) else None
    frames = _frames(_complex(sig.astype(np.float64)), n, step)
    if window is not None:
        frames = frames * window
    spec = np.fft.fft(frames, axis=-1)
    want = _pack(spec[..., : n // 2 + 1] if onesided else spec)
    (got,) = run_op(
        "STFT", [sig], attrs={"onesided": int(onesided)}, constants=[np.array(step, np.int64), window, frame_len]
    )
    _close(got, want, np.float32)


def test_stft_errors():
    sig = np.ones((1, 10, 1), np.float32)
    with pytest.raises(r1.ModelError, match="frame_length 16 must be positive and at most the signal length 10"):
        run_op("STFT", [sig], constants=[np.array(2, np.int64), None, np.array(16, np.int64)])
    with pytest.raises(r1.ModelError, match="frame_step must be positive"):
        run_op("STFT", [sig], constants=[np.array(0, np.int64), None, np.array(4, np.int64)])


def _window_ref(op, size, periodic):
    n = size if periodic else size - 1
    k = np.arange(size)
    t = 2 * np.pi * k / n if n > 0 else np.zeros(size)
    if op == "HannWindow":
        return 0.5 - 0.5 * np.cos(t)
    if op == "HammingWindow":
        return 25 / 46 - 21 / 46 * np.cos(t)
    return 0.42 - 0.5 * np.cos(t) + 0.08 * np.cos(2 * t)


@given(st.sampled_from(["HannWindow", "HammingWindow", "BlackmanWindow"]), st.integers(1, 600), st.booleans())
def test_windows(op, size, periodic):
    (got,) = run_op(op, [], constants=[np.array(size, np.int64)], attrs={"periodic": int(periodic)})
    want = _window_ref(op, size, periodic)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    if op == "HannWindow" and not periodic and size > 1:
        np.testing.assert_allclose(got, np.hanning(size), atol=1e-6)
    (f16,) = run_op(op, [], constants=[np.array(size, np.int64)], attrs={"output_datatype": TensorProto.FLOAT16})
    assert f16.dtype == np.float16


@settings(max_examples=30)
@given(st.integers(1, 40), st.sampled_from([64, 256, 400, 512]), st.sampled_from([8000, 16000, 22050]), st.data())
def test_mel_weight_matrix(mels, dft, rate, data):
    lo = np.float32(data.draw(st.sampled_from([0.0, 20.0, 300.0])))
    hi = np.float32(data.draw(st.sampled_from([rate / 2, rate / 4, 3000.0])))
    consts = [np.array(v, np.int64) for v in (mels, dft, rate)] + [np.array(lo), np.array(hi)]
    (got,) = run_op("MelWeightMatrix", [], constants=consts)
    (want,) = run_onnxruntime("MelWeightMatrix", [], constants=consts)
    assert got.dtype == want.dtype and got.shape == (dft // 2 + 1, mels)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert got.any()
