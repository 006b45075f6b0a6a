"""deepseek_r1._cusparselt: r1::FusedMatMul products whose constant fp16 / bf16 weight is 2:4 sparse run on
cuSPARSELt (cuda/cusparselt/), the rest on the kernel it wraps. Whole small models on the first CUDA device at
precision fp16 / bf16 (the weights become constants of the fused product), against float64 numpy from the
dtype-rounded operands (1e-2 of the magnitude), and _cusparselt.stats() for which path each product took. Skips
where there is no GPU or the module did not load."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import deepseek_r1 as r1
from deepseek_r1 import gpu
from deepseek_r1.quantize.sparsify import prune_2to4
from helpers.ffn_model import ffn_model

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def sp():
    if not gpu.cusparselt_active():
        pytest.skip("deepseek_r1._cusparselt is not loaded (not built, or no nvidia-cusparselt-cu13)")
    return importlib.import_module("deepseek_r1._cusparselt")


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
@pytest.mark.parametrize("m", [1, 16, 128])
def test_2to4_weights_run_on_cusparselt(dev, sp, precision, m):
    if not dev.startswith("cuda"):
        pytest.skip("cuSPARSELt is CUDA only")
    rng = np.random.default_rng(m)
    k, n = 256, 512
    w = prune_2to4((rng.standard_normal((k, n)) / 16).astype(np.float32), 0)
    b = rng.standard_normal(n).astype(np.float32)
    x = rng.standard_normal((m, k)).astype(np.float32)
    eng = r1.InferenceEngine(ffn_model(w, b), device=dev, precision=precision)
    sp.reset_stats()
    y = eng.run({"x": x})["y"]
    stats = sp.stats()
    assert stats["sparse_calls"] >= 1 and stats["sparse_weights"] >= 1, stats
    want = x.astype(np.float64) @ w + b
    assert y.shape == (m, n) and y.dtype == np.float32
    assert np.abs(y - want).max() <= 1e-2 * (np.abs(x) @ np.abs(w) + np.abs(b)).max()


def test_dense_weights_take_the_wrapped_kernel(dev, sp):
    if not dev.startswith("cuda"):
        pytest.skip("cuSPARSELt is CUDA only")
    rng = np.random.default_rng(1)
    w = (rng.standard_normal((256, 512)) / 16).astype(np.float32)  # not 2:4
    b = rng.standard_normal(512).astype(np.float32)
    x = rng.standard_normal((8, 256)).astype(np.float32)
    before = sp.stats()["dense_weights"]
    sp.reset_stats()
    y = r1.InferenceEngine(ffn_model(w, b), device=dev, precision="fp16").run({"x": x})["y"]
    stats = sp.stats()
    assert stats["sparse_calls"] == 0 and stats["fallback_calls"] >= 1 and stats["dense_weights"] > before
    want = x.astype(np.float64) @ w + b
    assert np.abs(y - want).max() <= 1e-2 * (np.abs(x) @ np.abs(w) + np.abs(b)).max()
