#!/usr/bin/env python3
"""int8 against the peers: our fp32 / bf16 / int8 (dynamic) and onnxruntime's fp32, quantize_dynamic
(per-channel, MatMulInteger) and quantize_static (QDQ, s8s8, per-channel), plus OpenVINO running the same QDQ
model (its CPU plugin executes QDQ in int8; NNCF itself is not installed here), and our engine running
onnxruntime's two quantized models (r1-ort-dynamic, r1-ort-static: the import passes) and our own static int8
(r1-int8-static: r1.quantize(mode="static"), minmax over 8 calibration samples), and r1-2:4-int8: the
feed-forward products pruned to 2:4 by magnitude (r1.sparsify, no fine-tuning, no accuracy guard: the cosine
shows what pruning a trained model costs) on top of dynamic int8. Weight-only int4: r1-int4 (r1.quantize
mode="weights_only") against onnxruntime's MatMulNBits (ort-int4: 4 bits, blocks of 128, symmetric,
accuracy_level 4; GPT-2's Gemm layers rewritten as MatMul + Add first, which its quantizer needs); the gpt2-s1
rows (one token, batch 1) have the matrix-vector shapes of decoding. One run, interleaved: each
timed round calls every engine twice (an untimed call, then the timed one: threads of the engine before may
still spin on the cores), so machine noise hits all of them alike; medians over --runs rounds.

    python bench/quantization.py                                   # every model, 1 and 2 threads
    python bench/quantization.py --models minilm --threads 1 --runs 30

Beside each latency: cosine to onnxruntime's fp32 output (the first output), and the weights' size as the
engine holds them (ours: the constants of the compiled graph; the peers: the .onnx file). Exported models
come from the test cache (tests/python/helpers/model_export.py); the peers' quantized models are written
next to them once.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _paths import use_test_helpers

use_test_helpers()
import deepseek_r1 as r1  # noqa: E402
from helpers.model_export import export_model  # noqa: E402
from helpers.model_specs import SPECS  # noqa: E402

# label -> (spec, feed size)
MODELS = {
    "minilm": ("minilm", dict(batch=1, seq=128)),
    "bert-base": ("bert-base", dict(batch=1, seq=128)),
    "bert-base-b32": ("bert-base", dict(batch=32, seq=128)),
    "gpt2": ("gpt2", dict(batch=1, seq=128)),
    "gpt2-s1": ("gpt2", dict(batch=1, seq=1)),  # one token, no KV cache: the matrix-vector shapes of decoding
    "resnet50": ("resnet50", None),  # the spec's bench size (b1 224)
}


def ort_quantized(path, spec, kind):
    """onnxruntime's quantized twin of `path` (written once beside it)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    out = path.with_name(f"model.ort-{kind}.onnx")
    if out.exists():
        return out
    if kind == "int4":
        return ort_int4(path, out)
    if kind == "dynamic":
        quantize_dynamic(str(path), str(out), weight_type=QuantType.QInt8, per_channel=True)
        return out
    samples = [spec.feeds(np.random.default_rng(i), **spec.bench_size) for i in range(8)]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(samples)

        def get_next(self):
            return next(self.it, None)

    quantize_static(
        str(path), str(out), Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8, per_channel=True,
    )  # fmt: skip
    return out


def r1_engine(path, precision, threads, out):
    e = r1.InferenceEngine(path, precision=precision, num_threads=threads)
    return (lambda f: e.run(f)[out]), e.graph.constant_bytes


def ort_engine(path, threads, out):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads, so.log_severity_level = threads, 1, 3
    s = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return (lambda f: s.run([out], f)[0]), os.path.getsize(path)


def ov_engine(path, threads, out):
    import openvino as ov

    c = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1})
    req, port = c.create_infer_request(), c.output(out)
    return (lambda f: req.infer(f)[port].copy()), os.path.getsize(path)


def r1_static(path, spec):
    """Our static int8 (r1.quantize mode="static", minmax over 8 samples), written beside the model once."""
    out = path.with_name("model.r1-static.r1")
    if not out.exists():
        samples = [spec.feeds(np.random.default_rng(i), **spec.bench_size) for i in range(8)]
        r1.quantize(path, out, mode="static", calibration_data=samples)
    return out


def r1_sparse(path):
    """r1.sparsify's FFN 2:4 + int8 file, written beside the model once; None for a model without FFN products."""
    out = path.with_name("model.r1-sparse.r1")
    if not out.exists():
        try:
            r1.sparsify(path, out, layers=["ffn"])
        except ValueError:
            return None
    return out


def _gemm_as_matmul(model):
    """Gemm(A, B const, C) with alpha = beta = 1 and transA = 0 rewritten as MatMul + Add (the same math):
    onnxruntime's int4 quantizer takes MatMul nodes only, and GPT-2's Conv1D layers export as Gemm."""
    import onnx
    from onnx import helper, numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    nodes = []
    for n in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        if n.op_type != "Gemm" or n.input[1] not in inits or attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0:
            nodes.append(n)
            continue
        if attrs.get("transB", 0):
            w = numpy_helper.to_array(inits[n.input[1]]).T.copy()
            inits[n.input[1]].CopyFrom(numpy_helper.from_array(w, n.input[1]))
        mm = n.output[0] + "_mm"
        nodes.append(helper.make_node("MatMul", [n.input[0], n.input[1]], [mm], name=n.name + "_matmul"))
        nodes.append(helper.make_node("Add", [mm, n.input[2]], [n.output[0]], name=n.name + "_add"))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    onnx.checker.check_model(model)
    return model


def ort_int4(path, out):
    """onnxruntime's weight-only int4 (MatMulNBits: symmetric, 128 weights a block, accuracy_level 4 = int8
    activations inside the kernel, as ours)."""
    import logging

    import onnx
    from onnxruntime.quantization import matmul_nbits_quantizer as mq

    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)
    model = _gemm_as_matmul(onnx.load(str(path)))
    cfg = mq.DefaultWeightOnlyQuantConfig(block_size=128, is_symmetric=True, accuracy_level=4)
    q = mq.MatMulNBitsQuantizer(model, algo_config=cfg)
    q.process()
    q.model.save_model_to_file(str(out), use_external_data_format=False)
    return out


def r1_int4(path):
    """Our weight-only int4 (r1.quantize mode="weights_only"), written beside the model once."""
    out = path.with_name("model.r1-int4.r1")
    if not out.exists():
        r1.quantize(path, out, mode="weights_only", bits=4)
    return out


def make_engines(path, spec, threads, names):
    """name -> (run(feeds) -> first output, weight bytes). r1-<precision> runs our compile of the fp32 model;
    r1-ort-dynamic / r1-ort-static run onnxruntime's quantized models through our importer."""
    out = spec.output_names[0]
    engines = {}
    for name in names:
        if name == "r1-int8-static":
            engines[name] = r1_engine(r1_static(path, spec), None, threads, out)
        elif name == "r1-int4":
            engines[name] = r1_engine(r1_int4(path), None, threads, out)
        elif name == "r1-2:4-int8":
            sparse = r1_sparse(path)
            if sparse is not None:
                engines[name] = r1_engine(sparse, None, threads, out)
        elif name.startswith("r1-ort-"):
            engines[name] = r1_engine(ort_quantized(path, spec, name[7:]), None, threads, out)
        elif name.startswith("r1-"):
            engines[name] = r1_engine(path, name[3:], threads, out)
        elif name.startswith("ort-"):
            engines[name] = ort_engine(
                path if name == "ort-fp32" else ort_quantized(path, spec, name[4:]), threads, out
            )
        elif name == "ov-int8":
            engines[name] = ov_engine(ort_quantized(path, spec, "static"), threads, out)
        else:
            raise SystemExit(f"unknown engine {name}")
    return engines


def cosine(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument(
        "--engines",
        default="r1-fp32,r1-bf16,r1-int8,r1-int8-static,r1-2:4-int8,r1-ort-dynamic,r1-ort-static,ort-fp32,ort-dynamic,"
        "ort-static,ov-int8",
    )
    ap.add_argument("--runs", type=int, default=15)
    a = ap.parse_args()
    names = a.engines.split(",")
    print(f"int8 GEMM path: {r1._core.gemm_path('int8')}; {a.runs} interleaved rounds, medians")
    print("| model | threads | engine | ms | / ort-dynamic | cosine to fp32 | weights MB |")
    print("|---|---|---|---|---|---|---|")
    for label in a.models.split(","):
        spec_name, size = MODELS[label]
        spec = SPECS[spec_name]
        path = export_model(spec_name, "legacy")
        feeds = spec.feeds(np.random.default_rng(0), **(size or spec.bench_size))
        for th in [int(t) for t in a.threads.split(",")]:
            engines = make_engines(path, spec, th, names)
            ref = engines["ort-fp32"][0](feeds) if "ort-fp32" in engines else None
            cos = {n: cosine(fn(feeds), ref) if ref is not None else float("nan") for n, (fn, _) in engines.items()}
            times: dict[str, list[float]] = {n: [] for n in engines}
            for fn, _ in engines.values():  # warm-up
                fn(feeds)
            for _ in range(a.runs):
                for n, (fn, _) in engines.items():
                    # One untimed call first: the engine before this one may still have threads spinning on
                    # the cores (onnxruntime's spin by default), and the hand-over is not this engine's time.
                    fn(feeds)
                    t0 = time.perf_counter()
                    fn(feeds)
                    times[n].append(time.perf_counter() - t0)
            med = {n: 1e3 * float(np.median(t)) for n, t in times.items()}
            for n in engines:
                ratio = f"{med[n] / med['ort-dynamic']:.2f}x" if "ort-dynamic" in med else "-"
                print(
                    f"| {label} | {th} | {n} | {med[n]:.2f} | {ratio} | {cos[n]:.5f} | {engines[n][1] / 1e6:.1f} |",
                    flush=True,
                )
            del engines


if __name__ == "__main__":
    main()
