#!/usr/bin/env python3
"""deepseek_r1 on an NVIDIA GPU vs PyTorch eager, torch.compile and onnxruntime-gpu (issue 5).

    python bench/gpu.py                                # everything, fp16 and bf16
    python bench/gpu.py --quick                        # smoke test: few iterations
    python bench/gpu.py --models bert-base --batch 32 --precisions fp16 --iters 200 --out x.md
    python bench/gpu.py --models none                  # the micro section alone

Models (random, seeded weights built from architecture configs: nothing is downloaded):
  bert-base  transformers BertModel(BertConfig()) -> (last_hidden_state, pooler_output), seq 128, batch 1 and 32
  resnet50   torchvision resnet50(weights=None) (transformers ResNetModel if torchvision is missing),
             3x224x224, batch 1 and 32; BatchNorm running statistics randomised (a fresh BN is identity)
  gpt2       transformers GPT2Model(GPT2Config(use_cache=False)) -> last_hidden_state, seq 128, batch 1,
             one forward pass
Each is exported once to ONNX (fp32, torch.onnx legacy exporter, opset 17, dynamic batch) into the cache
($R1_BENCH_CACHE, default ~/.cache/deepseek_r1/bench), loaded with deepseek_r1.load_onnx and compiled by
deepseek_r1.InferenceEngine(model, device="cuda:0", precision="fp16" | "bf16").

Engines, all on the same card in the same process, timed in rotating rounds:
  r1            deepseek_r1 on cuda:0 (its run() takes and returns numpy arrays)
  torch-eager   the same torch module, .half() / .to(bfloat16) on cuda, torch.inference_mode()
  torch-compile torch.compile(module, mode=--compile-mode, dynamic=False); a failure is reported, not fatal
  ort-cuda      onnxruntime CUDAExecutionProvider (ORT_ENABLE_ALL) on the same fp32 export made fp16 as
                onnxruntime's docs do it (onnxruntime.transformers optimize_model fusions for BERT / GPT-2, then
                convert_float_to_float16 with fp32 inputs and outputs); fp16 only (onnxruntime has no bf16
                converter); skipped, with the reason, when onnxruntime has no CUDA provider
Latency is host to host for every engine, so the ratios compare the same work: numpy inputs copied to the
card, the forward pass, fp32 numpy outputs copied back (the ONNX outputs are fp32), wall clock after
torch.cuda.synchronize(). The
torch peers are also timed device-resident (inputs already on the card, no copy back; CUDA events) and
shown in their own columns. Reported: median and p90 ms, samples/s, r1 median / peer median (below 1:
ours is faster), and per model the max relative error (max|out - ref| / max|ref|) of each engine's
fp16 / bf16 output against deepseek_r1's fp32 CPU output (issue target for fp16: <= 1e-2).

Micro section (--no-micro skips it): dense matmul TFLOP/s through torch at 8192^3 (the card's measured
peak, the denominator of every fraction), our GEMM through a one-node MatMul ONNX model at 4096^3, and
our fused attention at seq 1024 / 2048 / 4096 (16384 tokens per batch, 16 heads, head dim 64) through a
standard MatMul -> Mul(scale) -> Softmax -> MatMul ONNX subgraph that the compiler should fuse into
r1::Attention (a warning is printed when the compiled graph has no Attention node). Like the exported models,
the micro graphs are typed fp32 and compiled with precision fp16 / bf16 (the attention fusion matches
fp32-typed graphs); the one-op models' outputs are checked against fp32 torch on the card. Because run() copies
inputs and outputs over PCIe, each is also built as a chain of --chain identical ops and the per-op time is
(t(chain) - t(1)) / (chain - 1): device time without the copies. torch.nn.functional.scaled_dot_product_attention
at the same shapes is the peer line.

Time: torch.compile compiles once per (model, precision, batch size), so it dominates a full run; where a
command has a time limit, split the run (--models, --precisions, --peers) and give each part its own --out.
A partial report is rewritten after every case, so a run cut short still leaves its finished rows.

Without a CUDA device the script prints "no CUDA device: nothing to benchmark" and exits 0, having imported
nothing but the standard library. R1_BENCH_TRACEBACK=1 prints tracebacks of engine failures.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
from pathlib import Path

# The gpu_*.py modules next to this script: importable however it is loaded (as a script, `import gpu`, or by
# path with importlib, as tests/python/gpu/test_bench_gpu_script.py does).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_config import DEFAULTS, MODELS, NO_DEVICE_MESSAGE, PEERS, PRECISIONS, QUICK
from gpu_device import device_info, probe_cuda
from gpu_engines import Engine, ort_status, result, time_host
from gpu_helpers import (
    attention_flops,
    batches_for,
    chain_per_op_ms,
    command_line,
    fmt,
    fmt_err,
    latency_cell,
    log,
    matmul_flops,
    max_rel_err,
    md_table,
    parse_list,
    percentile,
    ratio,
    rotate,
    short,
    summarize,
    tflops,
    throughput,
)
from gpu_micro import attention_model, bench_micro, gemm_model
from gpu_model_bench import bench_model
from gpu_models import cache_dir, import_r1
from gpu_report import build_report, versions, write_report

# main and parse_args, and the helpers tests/python/gpu/test_bench_gpu_script.py reaches through this script
__all__ = [
    "DEFAULTS",
    "NO_DEVICE_MESSAGE",
    "QUICK",
    "Engine",
    "attention_flops",
    "attention_model",
    "batches_for",
    "build_report",
    "chain_per_op_ms",
    "command_line",
    "fmt",
    "fmt_err",
    "gemm_model",
    "latency_cell",
    "main",
    "matmul_flops",
    "max_rel_err",
    "md_table",
    "parse_args",
    "parse_list",
    "percentile",
    "probe_cuda",
    "ratio",
    "result",
    "rotate",
    "short",
    "summarize",
    "tflops",
    "throughput",
    "time_host",
]


# --------------------------------------------------------------------------------------------------


def parse_args(argv):
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    p.add_argument(
        "--models",
        default=",".join(MODELS),
        help=f"comma list from {','.join(MODELS)}, or 'none' for the micro section alone",
    )
    p.add_argument(
        "--batch",
        default=None,
        help="comma list of batch sizes for every model (default: BERT-base and ResNet-50 1,32; GPT-2 1)",
    )
    p.add_argument("--precisions", default=",".join(PRECISIONS), help="comma list from fp16,bf16")
    p.add_argument("--iters", type=int, default=None, help=f"timed runs per engine (default {DEFAULTS['iters']})")
    p.add_argument("--warmup", type=int, default=None, help=f"untimed runs first (default {DEFAULTS['warmup']})")
    p.add_argument("--rounds", type=int, default=None, help=f"rotating rounds (default {DEFAULTS['rounds']})")
    p.add_argument(
        "--chain", type=int, default=None, help=f"ops in the micro chain models (default {DEFAULTS['chain']}; >= 2)"
    )
    p.add_argument("--quick", action="store_true", help=f"smoke test: {QUICK} unless given explicitly")
    p.add_argument("--skip-peers", action="store_true", help="time deepseek_r1 alone")
    p.add_argument("--peers", default=",".join(PEERS), help="comma list from eager,compile,ort")
    p.add_argument(
        "--compile-mode",
        default="default",
        choices=["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"],
    )
    p.add_argument("--no-micro", action="store_true", help="skip the matmul / GEMM / attention micro section")
    p.add_argument("--device", default="cuda:0", help="deepseek_r1 device (torch peers use cuda:0)")
    p.add_argument(
        "--cache", default=None, help="ONNX export cache (default $R1_BENCH_CACHE or ~/.cache/deepseek_r1/bench)"
    )
    p.add_argument("--out", default=None, help="write the markdown report here (rewritten after every case)")
    p.add_argument("--json", default=None, help="write every timing here (needs --out)")
    a = p.parse_args(argv)
    try:
        a.models = parse_list(a.models, list(MODELS), "model")
        a.precisions = parse_list(a.precisions, list(PRECISIONS), "precision")
        a.peers = parse_list(a.peers, list(PEERS), "peer")
        a.batch = [int(x) for x in a.batch.split(",") if x.strip()] if a.batch else None
    except ValueError as e:
        p.error(str(e))
    for k, val in (QUICK if a.quick else DEFAULTS).items():
        if getattr(a, k) is None:
            setattr(a, k, val)
    if a.iters < 1 or a.warmup < 0 or a.rounds < 1 or a.chain < 2 or (a.batch and min(a.batch) < 1):
        p.error("need --iters >= 1, --warmup >= 0, --rounds >= 1, --chain >= 2, batch sizes >= 1")
    if not a.precisions:
        p.error("--precisions names none")
    if a.json and not a.out:
        p.error("--json needs --out")
    return a


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    a = parse_args(argv)
    n, why = probe_cuda()
    if n == 0:
        log(f"{NO_DEVICE_MESSAGE} ({why})")
        return 0
    try:
        import numpy  # noqa: F401
        import torch
    except ImportError as e:
        log(
            f"a CUDA device is present but {e.name or e} does not import: the peers, the exports and the timing "
            f"all need torch (pip install torch)"
        )
        return 1
    if not torch.cuda.is_available():
        log(
            f"{NO_DEVICE_MESSAGE} (the driver reports {n} device(s) but torch {torch.__version__} sees none: "
            f"a CPU-only build of torch?)"
        )
        return 0
    r1, r1_error = import_r1()
    ctx = {
        "r1": r1,
        "r1_error": r1_error,
        "command": command_line(argv),
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cache": cache_dir(a.cache),
        "skips": [],
    }
    ctx["device"] = device_info()
    ctx["versions"] = versions(r1)
    if r1_error:
        ctx["skips"].append(f"deepseek_r1: {r1_error}")
    else:
        try:
            from deepseek_r1 import gpu as r1_gpu

            devs = r1_gpu.devices()
            if a.device not in devs:
                errs = r1_gpu.load_errors()
                ctx["skips"].append(
                    f"deepseek_r1 lists devices {devs}, not {a.device}"
                    + (f"; GPU module load errors: {errs}" if errs else "")
                )
        except Exception as e:
            ctx["skips"].append(f"deepseek_r1 device listing failed: {short(e)}")
    ctx["ort"] = ort_status() if ("ort" in a.peers and not a.skip_peers) else (None, "not asked for")
    if ctx["ort"][0] is None and "ort" in a.peers and not a.skip_peers:
        ctx["skips"].append(f"ort-cuda skipped: {ctx['ort'][1]}")
    if a.skip_peers:
        ctx["skips"].append("peers skipped (--skip-peers)")
    log(
        f"device: {ctx['device']['name']}, driver {ctx['device']['driver']}; torch {torch.__version__}; "
        f"deepseek_r1: {'ok' if r1 else r1_error}"
    )
    for s in ctx["skips"]:
        log(f"note: {s}")

    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 stays fp32 wherever it appears (the references)
    model_rows, micro_rows, notes = [], [], []
    ctx["micro_rows"] = micro_rows
    for name in a.models:
        bench_model(name, a, ctx, model_rows, notes)
    if not a.no_micro:
        bench_micro(a, ctx, micro_rows, notes)
    report = build_report(a, ctx, model_rows, micro_rows, notes)
    print("\n" + report, flush=True)
    if a.out:
        write_report(a, ctx, model_rows, micro_rows, notes)
        log(f"wrote {a.out}" + (f" and {a.json}" if a.json else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
