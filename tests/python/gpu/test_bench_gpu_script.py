"""bench/gpu.py (issue 5's GPU benchmark): its clean exit where no CUDA device exists, and its pure helpers.

The benchmark itself needs an NVIDIA GPU; here it runs only as far as its device probe, which must end
with rc 0, one message, and no heavy import. CUDA_VISIBLE_DEVICES="" makes that path the one taken on a
GPU machine too.
"""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "bench" / "gpu.py"
NO_GPU_ENV = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}


def _load():
    spec = importlib.util.spec_from_file_location("bench_gpu", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_gpu"] = mod  # dataclasses look their module up while the class is made
    spec.loader.exec_module(mod)
    return mod


g = _load()


def _run(*args, env=NO_GPU_ENV, timeout=120):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


# --------------------------------------------------------------------------------------------------
# No CUDA device: a message and rc 0


def test_quick_without_cuda_device_exits_cleanly():
    p = _run("--quick")
    assert p.returncode == 0, p.stderr
    assert "no CUDA device: nothing to benchmark" in p.stdout
    assert "Traceback" not in p.stderr


def test_without_cuda_device_every_flag_still_exits_cleanly(tmp_path):
    out = tmp_path / "gpu.md"
    p = _run(
        "--models",
        "gpt2",
        "--batch",
        "1",
        "--precisions",
        "fp16",
        "--iters",
        "3",
        "--warmup",
        "0",
        "--skip-peers",
        "--no-micro",
        "--out",
        str(out),
        "--json",
        str(tmp_path / "gpu.json"),
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(g.NO_DEVICE_MESSAGE)
    assert not out.exists()  # nothing was measured, so nothing is written


def test_without_cuda_device_nothing_heavy_is_imported():
    code = (
        "import runpy, sys\n"
        f"sys.argv = [{str(SCRIPT)!r}, '--quick']\n"
        "try:\n"
        f"    runpy.run_path({str(SCRIPT)!r}, run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    print('rc', e.code)\n"
        "heavy = ('torch', 'numpy', 'onnx', 'onnxruntime', 'transformers', 'torchvision', 'deepseek_r1')\n"
        "print('heavy', sorted(m for m in heavy if m in sys.modules))\n"
    )
    p = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=NO_GPU_ENV, capture_output=True, text=True, timeout=120
    )
    assert p.returncode == 0, p.stderr
    assert "rc 0" in p.stdout
    assert "heavy []" in p.stdout, p.stdout


@pytest.mark.parametrize(
    "args, msg",
    [
        (["--precisions", "fp8"], "unknown precision"),
        (["--models", "bert-large"], "unknown model"),
        (["--peers", "tensorrt"], "unknown peer"),
        (["--chain", "1"], "--chain >= 2"),
        (["--iters", "0"], "--iters >= 1"),
        (["--batch", "0"], "batch sizes >= 1"),
        (["--json", "x.json"], "--json needs --out"),
    ],
)
def test_bad_arguments_are_refused_before_the_probe(args, msg):
    p = _run(*args)
    assert p.returncode == 2
    assert msg in p.stderr


def test_probe_honours_cuda_visible_devices():
    code = f"import sys; sys.path.insert(0, {str(SCRIPT.parent)!r}); import gpu; print(gpu.probe_cuda())"
    p = subprocess.run([sys.executable, "-c", code], env=NO_GPU_ENV, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("(0, '") and p.stdout.strip() != "(0, '')"  # no device, and it says why


# --------------------------------------------------------------------------------------------------
# Arguments


def test_quick_sets_tiny_counts_unless_given():
    a = g.parse_args(["--quick"])
    assert (a.iters, a.warmup, a.rounds, a.chain) == (
        g.QUICK["iters"],
        g.QUICK["warmup"],
        g.QUICK["rounds"],
        g.QUICK["chain"],
    )
    a = g.parse_args(["--quick", "--iters", "7"])
    assert a.iters == 7 and a.warmup == g.QUICK["warmup"]
    a = g.parse_args([])
    keys = ("iters", "warmup", "rounds", "chain")
    assert tuple(getattr(a, k) for k in keys) == tuple(g.DEFAULTS[k] for k in keys)
    assert a.models == ["bert-base", "resnet50", "gpt2"] and a.precisions == ["fp16", "bf16"]
    assert a.peers == ["eager", "compile", "ort"] and a.batch is None and a.compile_mode == "default"


def test_model_list_and_batches():
    a = g.parse_args(["--models", "gpt2, resnet50", "--batch", "4,8", "--precisions", "bf16"])
    assert a.models == ["gpt2", "resnet50"] and a.batch == [4, 8] and a.precisions == ["bf16"]
    assert g.parse_args(["--models", "none"]).models == []
    assert g.batches_for("bert-base", None) == [1, 32]
    assert g.batches_for("resnet50", None) == [1, 32]
    assert g.batches_for("gpt2", None) == [1]
    assert g.batches_for("gpt2", [2, 3]) == [2, 3]


def test_parse_list():
    assert g.parse_list(None, ["a", "b"], "x") == ["a", "b"]
    assert g.parse_list("b,a", ["a", "b"], "x") == ["b", "a"]
    assert g.parse_list("none", ["a"], "x") == []
    with pytest.raises(ValueError, match="unknown x"):
        g.parse_list("a,c", ["a", "b"], "x")


def test_command_line_records_the_invocation():
    cmd = g.command_line(
        ["--models", "bert-base", "--out", "my results.md"],
        env={"PYTHONPATH": "python", "HOME": "/root", "R1_BENCH_CACHE": "/tmp/c"},
    )
    assert cmd == "PYTHONPATH=python R1_BENCH_CACHE=/tmp/c python bench/gpu.py --models bert-base --out 'my results.md'"
    assert g.command_line([], env={}) == "python bench/gpu.py"


# --------------------------------------------------------------------------------------------------
# Arithmetic


def test_flop_formulas():
    assert g.matmul_flops(8192, 8192, 8192) == 2 * 8192**3
    assert g.matmul_flops(2, 3, 4) == 48
    assert g.attention_flops(1, 1, 3, 5, 7) == 4 * 3 * 5 * 7
    b, h, s, d = 16, 16, 1024, 64
    assert g.attention_flops(b, h, s, s, d) == 2 * g.matmul_flops(s, s, d) * b * h  # Q.K^T and P.V
    assert g.attention_flops(b, h, s, s, d, causal=True) == g.attention_flops(b, h, s, s, d) / 2


def test_tflops():
    assert g.tflops(2 * 8192**3, 1.0) == pytest.approx(2 * 8192**3 / 1e-3 / 1e12)
    assert g.tflops(1e12, 1000.0) == pytest.approx(1.0)
    assert g.tflops(1e12, 0.0) is None and g.tflops(1e12, None) is None and g.tflops(1e12, -1.0) is None


def test_chain_per_op():
    assert g.chain_per_op_ms(5.0, 12.0, 8) == pytest.approx(1.0)
    assert g.chain_per_op_ms(5.0, 4.0, 8) is None  # noise larger than the ops: no number, not a negative one
    assert g.chain_per_op_ms(None, 4.0, 8) is None
    assert g.chain_per_op_ms(1.0, 4.0, 1) is None


@pytest.mark.parametrize("n", [1, 2, 3, 10, 101])
def test_percentile_and_summary_match_numpy(n):
    xs = list(np.random.default_rng(n).exponential(size=n))
    for q in (0, 10, 50, 90, 100):
        assert g.percentile(xs, q) == pytest.approx(float(np.percentile(xs, q)))
    st = g.summarize(xs)
    assert st["runs"] == n
    assert st["median_ms"] == pytest.approx(float(np.median(xs)))
    assert st["p90_ms"] == pytest.approx(float(np.percentile(xs, 90)))
    assert st["mean_ms"] == pytest.approx(float(np.mean(xs))) and st["min_ms"] == min(xs)


def test_summary_of_nothing():
    assert g.summarize([]) == {"runs": 0}
    with pytest.raises(ValueError):
        g.percentile([], 50)


def test_throughput_and_ratio():
    assert g.throughput(32, 8.0) == pytest.approx(4000.0)
    assert g.throughput(1, None) is None and g.throughput(1, 0.0) is None
    assert g.ratio({"median_ms": 2.0}, {"median_ms": 4.0}) == pytest.approx(0.5)
    assert g.ratio({"median_ms": 2.0}, {"error": "x"}) is None
    assert g.ratio(None, {"median_ms": 1.0}) is None


def test_max_rel_err():
    ref = {"a": np.array([1.0, -4.0]), "b": np.array([[2.0]])}
    assert g.max_rel_err({"a": np.array([1.0, -4.0]), "b": np.array([[2.0]])}, ref) == 0.0
    err = g.max_rel_err({"a": np.array([1.0, -3.9], np.float16), "b": np.array([[2.0]])}, ref)
    assert err == pytest.approx(abs(np.float16(-3.9) + 4.0) / 4.0)
    assert g.max_rel_err({"a": np.array([1.0, -4.0])}, ref) == math.inf  # an output missing
    assert g.max_rel_err({"a": np.zeros(3), "b": np.array([[2.0]])}, ref) == math.inf  # shape differs
    assert math.isnan(g.max_rel_err({"a": np.array([np.nan, 0.0]), "b": np.array([[2.0]])}, ref))
    assert g.fmt_err(math.inf) == "mismatch" and g.fmt_err(float("nan")) == "NaN" and g.fmt_err(None) == "-"
    assert g.fmt_err(3.2e-3) == "3.2e-03"


def test_rotate():
    assert [g.rotate(["a", "b", "c"], r) for r in range(4)] == [
        ["a", "b", "c"],
        ["b", "c", "a"],
        ["c", "a", "b"],
        ["a", "b", "c"],
    ]
    assert g.rotate([], 3) == []


def test_time_host_splits_runs_into_rounds_and_isolates_failures():
    calls = []
    ok = g.Engine("ok", run=lambda: calls.append("ok"))

    def boom():
        if len([c for c in calls if c == "ok"]) > 4:
            raise RuntimeError("device lost")
        calls.append("bad")

    bad = g.Engine("bad", run=boom)
    g.time_host([ok, bad], iters=10, warmup=2, rounds=3, sync=lambda: None)
    assert len(ok.times) == 10 and ok.error is None
    assert bad.error and "device lost" in bad.error
    st = g.result(ok)
    assert st["runs"] == 10 and "median_ms" in st
    assert "error" in g.result(bad) and "median_ms" not in g.result(bad)
    assert g.result(g.Engine("ort-cuda", skipped="no CUDA provider")) == {
        "engine": "ort-cuda",
        "note": "",
        "skipped": "no CUDA provider",
    }


# --------------------------------------------------------------------------------------------------
# Formatting


def test_md_table():
    t = g.md_table(["name", "ms", "ratio"], [["a|b", 1.5, "0.91"], ["c", None, "-"], ["short"]])
    lines = t.splitlines()
    assert lines[0] == "| name | ms | ratio |"
    assert lines[1] == "|---|---:|---:|"  # numbers right-aligned
    assert lines[2] == "| a/b | 1.5 | 0.91 |"  # a '|' inside a cell would break the row
    assert lines[3] == "| c | - | - |"
    assert lines[4] == "| short | - | - |"  # short rows padded
    assert all(ln.count("|") == 4 for ln in lines)


def test_cells():
    assert g.latency_cell({"median_ms": 1.23456, "p90_ms": 2.0}) == "1.235 / 2.000"
    assert g.latency_cell({"error": "DeviceError: line one\nline | two"}) == "error: DeviceError: line one line / two"
    assert g.latency_cell({"skipped": "why"}) == "skipped"
    assert g.latency_cell(None) == "-"
    assert g.short("x" * 500, 20) == "x" * 17 + "..."
    assert g.fmt(None) == "-" and g.fmt(1.234) == "1.23" and g.fmt(3, "d") == "3"


def _fake_report():
    a = g.parse_args(["--quick", "--precisions", "fp16"])
    ctx = {
        "command": "python bench/gpu.py --quick --precisions fp16",
        "date": "2026-01-01 00:00 UTC",
        "device": {
            "name": "NVIDIA H100 80GB HBM3",
            "capability": "9.0",
            "multiprocessors": 132,
            "memory_gib": 79.1,
            "driver": "580.159.04",
            "cuda_driver_api": "13.0",
        },
        "versions": {"python": "3.12.3", "torch": "2.11.0"},
        "skips": ["ort-cuda skipped: onnxruntime 1.30.0 has no CUDAExecutionProvider"],
    }
    stats = lambda m: {"median_ms": m, "p90_ms": m * 1.1, "runs": 5}
    rows = [
        {
            "model": "bert-base",
            "batch": 32,
            "precision": "fp16",
            "reference": "r1 fp32 CPU",
            "r1_attention_nodes": 12,
            "r1_cpu_nodes": 0,
            "engines": {
                "r1": stats(4.0),
                "torch-eager": stats(8.0),
                "torch-compile": stats(5.0),
                "ort-cuda": {"skipped": "no CUDA provider"},
            },
            "device_only": {"torch-eager": stats(6.0)},
            "max_rel_err": {"r1": 3e-3, "torch-eager": 2e-3},
        },
        {"model": "gpt2", "batch": 1, "precision": "fp16", "setup_error": "ONNX export failed: x"},
    ]
    micro = [
        {
            "what": "torch matmul (measured peak)",
            "shape": "8192^3",
            "precision": "fp16",
            "ms": 1.4,
            "tflops": 785.4,
            "frac": 1.0,
            "how": "device, CUDA events",
        },
        {"what": "r1 attention", "shape": "b16 h16 s1024 d64", "precision": "fp16", "error": "DeviceError: not built"},
    ]
    return g.build_report(a, ctx, rows, micro, ["bert-base: random weights"])


def test_report_names_device_command_and_ratios():
    md = _fake_report()
    assert "NVIDIA H100 80GB HBM3" in md and "driver 580.159.04" in md
    assert "`python bench/gpu.py --quick --precisions fp16`" in md
    assert "Smoke run" in md
    assert "onnxruntime 1.30.0 has no CUDAExecutionProvider" in md
    row = next(ln for ln in md.splitlines() if ln.startswith("| BERT-base s128 | 32 | fp16 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    # r1, eager, compile, ort latency; r1 samples/s; r1/eager, r1/compile, r1/ort
    assert cells[3:] == ["4.000 / 4.400", "8.000 / 8.800", "5.000 / 5.500", "skipped", "8000.0", "0.50", "0.80", "-"]
    acc = next(ln for ln in md.splitlines() if ln.startswith("| BERT-base s128 | 32 | fp16 | 3.0e-03"))
    assert "| yes |" in acc and "| 12 | 0 |" in acc and "| 6.000 |" in acc
    assert any(ln.startswith("| GPT-2 small s128 | 1 | fp16 | error: ONNX export failed") for ln in md.splitlines())
    assert "| torch matmul (measured peak) | 8192^3 | fp16 | 1.400 | 785.4 | 1.00 |" in md
    assert "error: DeviceError: not built" in md


def test_report_marks_missed_fp16_target():
    a = g.parse_args([])
    ctx = {
        "command": "c",
        "date": "d",
        "device": {
            "name": "n",
            "capability": "9.0",
            "multiprocessors": 1,
            "memory_gib": 1,
            "driver": "?",
            "cuda_driver_api": "?",
        },
        "versions": {},
        "skips": [],
    }
    row = {
        "model": "resnet50",
        "batch": 1,
        "precision": "fp16",
        "reference": "r1 fp32 CPU",
        "r1_attention_nodes": 0,
        "engines": {"r1": {"median_ms": 1.0, "p90_ms": 1.0}},
        "device_only": {},
        "max_rel_err": {"r1": 0.05},
    }
    md = g.build_report(a, ctx, [row], [], [])
    assert "| NO |" in md and "Smoke run" not in md


# --------------------------------------------------------------------------------------------------
# The micro graphs: valid ONNX that our compiler turns into one fused op per block (checked on the CPU here;
# on the GPU the script warns when the fusion does not fire there)


@pytest.mark.parametrize("chain", [1, 3])
def test_micro_graphs_fuse_on_cpu(chain):
    onnx = pytest.importorskip("onnx")
    import deepseek_r1 as r1

    rng = np.random.default_rng(0)
    proto, kt, v = g.attention_model(2, 2, 32, 16, chain, rng)
    onnx.checker.check_model(proto)
    eng = r1.InferenceEngine(r1.Model(r1.load_onnx(proto)))
    assert list(eng.graph.op_types()).count("Attention") == chain
    q = rng.standard_normal((2, 2, 32, 16)).astype(np.float32)
    ref = q.astype(np.float64)
    for _ in range(chain):
        s = ref @ kt / 4.0
        p = np.exp(s - s.max(-1, keepdims=True))
        ref = (p / p.sum(-1, keepdims=True)) @ v
    assert g.max_rel_err(eng.run({"q": q}), {"o": ref}) < 1e-4

    proto, w = g.gemm_model(64, chain, rng)
    onnx.checker.check_model(proto)
    eng = r1.InferenceEngine(r1.Model(r1.load_onnx(proto)))
    x = rng.standard_normal((64, 64)).astype(np.float32)
    ref = x.astype(np.float64)
    for _ in range(chain):
        ref = ref @ w
    assert g.max_rel_err(eng.run({"x": x}), {"y": ref}) < 1e-4
