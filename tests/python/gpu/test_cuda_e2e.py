"""Whole models on the GPU (InferenceEngine(device="cuda:0" | "hip:0")), against onnxruntime's CPU outputs.

- fp32 on the GPU within 1e-4 relative of onnxruntime (CPUExecutionProvider), at two input sizes on one
  engine (dynamic shapes, plan reuse);
- precision="fp16" within 1e-2 relative of our fp32 CPU outputs (the issue's target), bf16 with cosine
  similarity >= 0.999;
- the device memory pool returns to its baseline after 1,000 runs (no leak per run).
The same executor paths (placement, constant upload, copies, device arena) run without a GPU in
test_device_placement.py on the sim device; these tests skip where no GPU is present.
"""

from __future__ import annotations

import numpy as np
import pytest

import deepseek_r1 as r1
from deepseek_r1 import gpu

pytestmark = pytest.mark.gpu
ort = pytest.importorskip("onnxruntime")


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(float(np.abs(b).max()), 1e-6)) if a.size else 0.0


def _export(name):
    pytest.importorskip("torch")
    from helpers.models import export_for_test

    return export_for_test(name, "legacy")


MODELS = ["minilm", "mobilenet", "lstm", "bert-base", "gpt2", "resnet50"]


@pytest.mark.parametrize("name", MODELS)
def test_model_on_gpu_matches_onnxruntime(dev, name):
    from helpers.models import SPECS

    spec = SPECS[name]
    path = _export(name)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    cpu = r1.InferenceEngine(path)
    engines = {p: r1.InferenceEngine(path, device=dev, precision=p) for p in ("fp32", "fp16", "bf16")}
    assert engines["fp32"].placement["device"] > engines["fp32"].placement["cpu"], engines["fp32"].placement
    problems = []
    for k, size in enumerate(spec.test_sizes):
        feeds = spec.feeds(np.random.default_rng(200 + k), **size)
        ref = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
        ours_cpu = cpu.run(feeds)
        for prec, e in engines.items():
            out = e.run(feeds)
            for o, want in ref.items():
                got = out[o]
                if got.shape != want.shape or got.dtype != want.dtype:
                    problems.append(f"{prec} {size} {o}: {got.dtype}{got.shape} != {want.dtype}{want.shape}")
                    continue
                if prec == "fp32" and rel_err(got, want) > 1e-4:
                    problems.append(f"fp32 {size} {o}: rel err {rel_err(got, want):.3g} vs onnxruntime")
                if prec == "fp16" and rel_err(got, ours_cpu[o]) > 1e-2:
                    problems.append(f"fp16 {size} {o}: rel err {rel_err(got, ours_cpu[o]):.3g} vs fp32 CPU")
                if prec == "bf16":
                    a, b = got.ravel().astype(np.float64), ours_cpu[o].ravel().astype(np.float64)
                    cos = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-30))
                    if cos < 0.999:
                        problems.append(f"bf16 {size} {o}: cosine {cos:.5f}")
    assert not problems, "\n".join(problems)


def test_memory_pool_returns_to_baseline_after_1000_runs(dev):
    path = _export("minilm")
    from helpers.models import SPECS

    spec = SPECS["minilm"]
    mod, index = gpu.module(dev), int(dev.split(":")[1])
    e = r1.InferenceEngine(path, device=dev, precision="fp16")
    sizes = [dict(batch=1 + i % 3, seq=8 + 4 * (i % 4)) for i in range(12)]
    feeds = [spec.feeds(np.random.default_rng(i), **s) for i, s in enumerate(sizes)]
    for f in feeds:  # every shape key planned once: its arena exists from here on
        e.run(f)
    base = mod.memory_stats(index)
    first = e.run(feeds[0])
    for i in range(1000):
        e.run(feeds[i % len(feeds)])
    after = mod.memory_stats(index)
    assert after["used_bytes"] == base["used_bytes"], (base, after)
    assert after["live_buffers"] == base["live_buffers"], (base, after)
    for o, v in e.run(feeds[0]).items():
        np.testing.assert_array_equal(v, first[o])  # the arena's reuse never changes a result


@pytest.mark.parametrize("name,precision", [("minilm", "fp16"), ("minilm", "fp32"), ("bert-base", "fp16")])
def test_cuda_graph_replay_equals_eager(dev, name, precision):
    """A captured graph gives the eager run's outputs bit for bit, for every input of the same shape."""
    from helpers.models import SPECS

    spec = SPECS[name]
    path = _export(name)
    eager = r1.InferenceEngine(path, device=dev, precision=precision)
    graphs = r1.InferenceEngine(path, device=dev, precision=precision, cuda_graphs=True)
    st = graphs.graph_capture_status
    if not st["capturable"]:
        pytest.fail(f"{name} cannot be captured: {st['reason']}")
    size = spec.test_sizes[0]
    for i in range(6):  # 1st run plans, 2nd captures, later ones replay; new contents every time
        feeds = spec.feeds(np.random.default_rng(300 + i), **size)
        want, got = eager.run(feeds), graphs.run(feeds)
        for o in want:
            np.testing.assert_array_equal(got[o], want[o])
    st = graphs.graph_capture_status
    assert st["graphs"] == 1 and st["replays"] >= 4, st
