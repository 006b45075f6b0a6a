"""int8 end to end on real models (exported by the legacy exporter, trained weights for MiniLM; ResNet-50 and a
MobileNet-style CNN: int8 convs, depthwise ones stay fp32):
precision="int8" keeps cosine >= 0.99 to our fp32 outputs on every one of 64 varied inputs; on MiniLM it is at
least as close to fp32 as onnxruntime's own quantize_dynamic (per-channel); and r1.quantize classifies the
layers of a real model (Q/K/V/output projections as attention, the feed-forward pair as ffn)."""

from __future__ import annotations

import numpy as np
import pytest

import deepseek_r1 as r1
from helpers.models import SPECS, export_for_test

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

MODELS = ["minilm", "bert-base", "gpt2", "resnet50", "mobilenet"]


def varied_feeds(spec, count):
    rng = np.random.default_rng(11)
    if spec.name in ("resnet50", "mobilenet"):  # images of varied sizes
        return [
            spec.feeds(rng, batch=1, height=int(rng.integers(32, 97)), width=int(rng.integers(32, 97)))
            for _ in range(count)
        ]
    return [spec.feeds(rng, batch=int(rng.integers(1, 3)), seq=int(rng.integers(4, 48))) for _ in range(count)]


def cosine(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("model", MODELS)
def test_int8_close_to_fp32_on_64_inputs(model):
    spec = SPECS[model]
    path = export_for_test(model, "legacy")
    fp32 = r1.InferenceEngine(path, num_threads=2)
    int8 = r1.InferenceEngine(path, precision="int8", num_threads=2)
    assert any(n["precision"] == "int8" for n in int8.graph.nodes())
    worst = 1.0
    for feeds in varied_feeds(spec, 64):
        a, b = fp32.run(feeds), int8.run(feeds)
        for name in a:
            if a[name].dtype.kind == "f":
                assert b[name].dtype == a[name].dtype and b[name].shape == a[name].shape
                worst = min(worst, cosine(a[name], b[name]))
    assert worst >= 0.99, f"{model}: worst cosine {worst:.5f} < 0.99"


def test_minilm_int8_at_least_as_accurate_as_onnxruntime_dynamic(tmp_path):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    spec = SPECS["minilm"]
    path = export_for_test("minilm", "legacy")
    qpath = tmp_path / "minilm.qdyn.onnx"
    quantize_dynamic(str(path), str(qpath), weight_type=QuantType.QInt8, per_channel=True)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(qpath), so, providers=["CPUExecutionProvider"])
    fp32 = r1.InferenceEngine(path, num_threads=2)
    int8 = r1.InferenceEngine(path, precision="int8", num_threads=2)
    ours, theirs = [], []
    out = spec.output_names[0]
    for feeds in varied_feeds(spec, 16):
        ref = fp32.run(feeds)[out]
        ours.append(cosine(int8.run(feeds)[out], ref))
        theirs.append(cosine(sess.run([out], feeds)[0], ref))
    assert np.mean(ours) >= np.mean(theirs), f"ours {np.mean(ours):.5f} < onnxruntime {np.mean(theirs):.5f}"


def test_quantize_classifies_a_real_transformer_and_its_guard_holds(tmp_path):
    spec = SPECS["minilm"]
    path = export_for_test("minilm", "legacy")
    samples = varied_feeds(spec, 8)
    rep = r1.quantize(path, tmp_path / "m.r1", calibration_data=samples, accuracy={"metric": "cosine", "min": 0.998})
    kinds = [layer.kind for layer in rep.layers]
    # 6 layers: Q, K, V, the attention core and the output projection; the FFN pair
    assert kinds.count("attention") == 6 * 5 and kinds.count("ffn") == 6 * 2, kinds
    assert rep.score >= 0.998 and rep.size_after < rep.size_before
    assert all(layer.error is not None for layer in rep.layers if layer.precision == "int8")
    e = r1.InferenceEngine(rep.path)
    ref = r1.InferenceEngine(path)
    worst = min(cosine(e.run(f)[spec.output_names[0]], ref.run(f)[spec.output_names[0]]) for f in samples)
    assert worst >= 0.998 - 1e-9


def test_quantize_reports_what_a_cnn_runs(tmp_path):
    """MobileNet under the default int8 policy: its pointwise and full convs run int8; its depthwise convs stay fp32
    (memory-bound), and the report says so instead of claiming int8."""
    path = export_for_test("mobilenet", "legacy")
    rep = r1.quantize(path, tmp_path / "m.r1", target_hardware="cpu")
    convs = [layer for layer in rep.layers if layer.kind == "conv"]
    assert convs and {layer.precision for layer in convs} == {"int8", "fp32"}
    kept = [layer for layer in convs if layer.precision == "fp32"]
    assert all("not available for this layer here" in layer.reason for layer in kept)
    e = r1.InferenceEngine(rep.path)
    ran = {n["name"]: n["precision"] or "fp32" for n in e.graph.nodes()}
    for layer in convs:
        if layer.name in ran:
            assert ran[layer.name] == layer.precision, layer


def test_sparsify_a_trained_transformer(tmp_path):
    """MiniLM's feed-forward products pruned to 2:4 by magnitude (no fine-tuning): the file holds them compressed
    (smaller than the dense int8 file), the cosine it reports is the one measured here between the dense and the
    sparse int8 models, and its guard keeps the costliest layers dense to meet a target."""
    spec = SPECS["minilm"]
    path = export_for_test("minilm", "legacy")
    samples = varied_feeds(spec, 8)
    rep = r1.sparsify(path, tmp_path / "s.r1", calibration_data=samples)
    assert len(rep.layers) == 12 and all(layer.zeros_after == 0.5 for layer in rep.layers)
    dense = r1.quantize(path, tmp_path / "d.r1")
    assert rep.size_after < dense.size_after
    d, s = r1.InferenceEngine(dense.path), r1.InferenceEngine(rep.path)

    def flat(outs):  # every float output of a sample together, as the report's cosine takes them
        return np.concatenate([np.ravel(outs[k]) for k in sorted(outs) if outs[k].dtype.kind == "f"])

    mine = min(cosine(flat(d.run(f)), flat(s.run(f))) for f in samples)
    assert abs(rep.cosine - mine) < 1e-6
    guarded = r1.sparsify(path, tmp_path / "g.r1", calibration_data=samples, accuracy={"min": 0.97})
    assert guarded.cosine >= 0.97 and any(layer.kept_dense for layer in guarded.layers)
    assert any(not layer.kept_dense for layer in guarded.layers)  # some pruning survives the target
