#!/usr/bin/env python3
"""deepseek_r1 on an NVIDIA GPU vs PyTorch eager, torch.compile and onnxruntime-gpu (issue 5).

    PYTHONPATH=python python bench/gpu.py                                # everything, fp16 and bf16
    PYTHONPATH=python python bench/gpu.py --quick                        # smoke test: few iterations
    PYTHONPATH=python python bench/gpu.py --models bert-base --batch 32 --precisions fp16 --iters 200 --out x.md
    PYTHONPATH=python python bench/gpu.py --models none                  # the micro section alone

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
import copy
import ctypes
import datetime as _dt
import functools
import importlib.machinery
import json
import math
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NO_DEVICE_MESSAGE = "no CUDA device: nothing to benchmark"
PRECISIONS = ("fp16", "bf16")
PEERS = ("eager", "compile", "ort")
FIXTURE_VERSION = "v1"  # bump when a model definition or an export setting changes
LEGACY_OPSET = 17
QUICK = dict(iters=5, warmup=2, rounds=1, chain=3)
DEFAULTS = dict(iters=100, warmup=10, rounds=5, chain=8)
MATMUL_PEAK_N = 8192
GEMM_N = 4096
ATTN_SEQS = (1024, 2048, 4096)
ATTN_TOKENS, ATTN_HEADS, ATTN_HEAD_DIM = 16384, 16, 64
FP16_TARGET = 1e-2
TORCH_DEVICE = "cuda:0"  # where the torch peers and references run


@dataclass(frozen=True)
class ModelDef:
    label: str
    batches: tuple
    inputs: tuple
    outputs: tuple
    seq: int = 128
    size: int = 224


MODELS = {
    "bert-base": ModelDef(
        "BERT-base s128",
        (1, 32),
        ("input_ids", "attention_mask", "token_type_ids"),
        ("last_hidden_state", "pooler_output"),
    ),
    "resnet50": ModelDef("ResNet-50 224", (1, 32), ("pixel_values",), ("output",)),
    "gpt2": ModelDef("GPT-2 small s128", (1,), ("input_ids", "attention_mask"), ("last_hidden_state",)),
}


# --------------------------------------------------------------------------------------------------
# Pure helpers (unit-tested in tests/python/gpu/test_bench_gpu_script.py without a GPU)


def matmul_flops(m: int, n: int, k: int) -> float:
    """Floating-point operations of an [m, k] x [k, n] product (a multiply and an add per term)."""
    return 2.0 * m * n * k


def attention_flops(batch: int, heads: int, seq_q: int, seq_k: int, head_dim: int, causal: bool = False) -> float:
    """Q.K^T and P.V (2 * 2 * b * h * sq * sk * d), softmax not counted, as FlashAttention counts; half when causal."""
    f = 4.0 * batch * heads * seq_q * seq_k * head_dim
    return f / 2 if causal else f


def tflops(flops: float, ms: float | None) -> float | None:
    """TFLOP/s of `flops` done in `ms` milliseconds (None when there is no positive time)."""
    if ms is None or not ms > 0:
        return None
    return flops / (ms * 1e-3) / 1e12


def chain_per_op_ms(t_one_ms: float | None, t_chain_ms: float | None, chain: int) -> float | None:
    """Per-op device time from a 1-op and a `chain`-op model that copy the same bytes in and out."""
    if t_one_ms is None or t_chain_ms is None or chain < 2:
        return None
    per = (t_chain_ms - t_one_ms) / (chain - 1)
    return per if per > 0 else None


def percentile(xs, q: float) -> float:
    """The q-th percentile with linear interpolation (numpy's default method)."""
    s = sorted(float(x) for x in xs)
    if not s:
        raise ValueError("percentile of no values")
    pos = (len(s) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summarize(times_ms) -> dict:
    times = [float(t) for t in times_ms]
    if not times:
        return {"runs": 0}
    return {
        "runs": len(times),
        "median_ms": percentile(times, 50),
        "p90_ms": percentile(times, 90),
        "mean_ms": sum(times) / len(times),
        "min_ms": min(times),
    }


def throughput(batch: int, median_ms: float | None) -> float | None:
    """Samples per second at `median_ms` per batch."""
    return None if not median_ms or median_ms <= 0 else batch * 1000.0 / median_ms


def ratio(ours: dict | None, peer: dict | None) -> float | None:
    """Our median over the peer's (below 1: ours is faster); None when either has no median."""
    a = (ours or {}).get("median_ms")
    b = (peer or {}).get("median_ms")
    return a / b if a and b else None


def max_rel_err(out: dict, ref: dict) -> float:
    """max over outputs of max|out - ref| / max|ref| (inf when an output is missing or its shape differs)."""
    import numpy as np

    worst = 0.0
    for name, y in ref.items():
        x = out.get(name)
        y = np.asarray(y, dtype=np.float64)
        if x is None or np.shape(x) != y.shape:
            return float("inf")
        if y.size == 0:
            continue
        x = np.asarray(x, dtype=np.float64)
        if not np.all(np.isfinite(x)):
            return float("nan")
        worst = max(worst, float(np.max(np.abs(x - y))) / max(float(np.max(np.abs(y))), 1e-30))
    return worst


def short(e, limit: int = 160) -> str:
    """One line for a table cell: no newlines, no '|'."""
    msg = e if isinstance(e, str) else f"{type(e).__name__}: {e}"
    msg = " ".join(msg.split()).replace("|", "/")
    return msg if len(msg) <= limit else msg[: limit - 3] + "..."


def fmt(x, spec: str = ".2f", none: str = "-") -> str:
    return none if x is None else format(x, spec)


def fmt_err(x) -> str:
    if x is None:
        return "-"
    if x != x:
        return "NaN"
    if x == float("inf"):
        return "mismatch"
    return f"{x:.1e}"


def latency_cell(r: dict | None) -> str:
    """'median / p90' in ms, or why there is none."""
    if not r:
        return "-"
    if r.get("error"):
        return "error: " + short(r["error"], 80)
    if r.get("skipped"):
        return "skipped"
    if r.get("median_ms") is None:
        return "-"
    return f"{r['median_ms']:.3f} / {r['p90_ms']:.3f}"


def md_table(headers, rows) -> str:
    """A markdown table; numbers right-aligned, cells made safe (no '|' or newlines inside)."""

    def cell(c):
        return short(str(c), 10_000) if c is not None else "-"

    def numeric(col):
        vals = [r[col] for r in rows if col < len(r) and r[col] not in (None, "-", "")]
        return bool(vals) and all(isinstance(v, (int, float)) or _is_number(str(v)) for v in vals)

    lines = [
        "| " + " | ".join(cell(h) for h in headers) + " |",
        "|" + "|".join("---:" if numeric(i) else "---" for i in range(len(headers))) + "|",
    ]
    for r in rows:
        r = list(r) + ["-"] * (len(headers) - len(r))
        lines.append("| " + " | ".join(cell(c) for c in r) + " |")
    return "\n".join(lines)


def _is_number(s: str) -> bool:
    try:
        float(s.rstrip("x%"))
        return True
    except ValueError:
        return False


def command_line(argv, env=None) -> str:
    """The command as typed to reproduce this run, with the environment variables that change it."""
    env = os.environ if env is None else env
    pre = [f"{k}={shlex.quote(env[k])}" for k in ("PYTHONPATH", "R1_BENCH_CACHE", "CUDA_VISIBLE_DEVICES") if k in env]
    return " ".join(pre + ["python", shlex.join(["bench/gpu.py"] + list(argv))])


def parse_list(text: str | None, allowed, what: str) -> list:
    """A comma list checked against `allowed`; 'none' or '' gives an empty list."""
    if text is None:
        return list(allowed)
    items = [x.strip() for x in text.split(",") if x.strip() and x.strip() != "none"]
    bad = [x for x in items if x not in allowed]
    if bad:
        raise ValueError(f"unknown {what} {bad}; choose from {', '.join(allowed)}")
    return items


def batches_for(model: str, override: list[int] | None) -> list[int]:
    return list(override) if override else list(MODELS[model].batches)


def rotate(items: list, r: int) -> list:
    if not items:
        return []
    k = r % len(items)
    return items[k:] + items[:k]


# --------------------------------------------------------------------------------------------------
# Is there a CUDA device? (ctypes against the driver: no torch import on machines without one)


def probe_cuda() -> tuple[int, str]:
    """(number of CUDA devices the driver reports, why none when 0). Honours CUDA_VISIBLE_DEVICES."""
    lib = None
    for name in ("libcuda.so.1", "libcuda.so", "libcuda.dylib", "nvcuda.dll"):
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    if lib is None:
        return 0, "the CUDA driver library (libcuda.so.1) is not installed"
    rc = lib.cuInit(0)
    if rc != 0:
        why = {
            100: "no CUDA-capable device is visible",
            999: "unknown driver error",
            3: "driver not initialized",
            35: "the driver is older than the runtime",
        }.get(rc, "")
        return 0, f"cuInit failed with CUresult {rc}" + (f" ({why})" if why else "")
    n = ctypes.c_int(0)
    rc = lib.cuDeviceGetCount(ctypes.byref(n))
    if rc != 0:
        return 0, f"cuDeviceGetCount failed with CUresult {rc}"
    return (n.value, "") if n.value > 0 else (0, "the driver reports 0 devices")


def cuda_driver_api_version() -> str:
    try:
        lib = ctypes.CDLL("libcuda.so.1")
        v = ctypes.c_int(0)
        if lib.cuDriverGetVersion(ctypes.byref(v)) == 0:
            return f"{v.value // 1000}.{(v.value % 1000) // 10}"
    except (OSError, AttributeError):
        pass
    return "?"


def driver_version() -> str:
    try:
        import pynvml

        pynvml.nvmlInit()
        v = pynvml.nvmlSystemGetDriverVersion()
        return v.decode() if isinstance(v, bytes) else str(v)
    except Exception:
        pass
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError):
        pass
    return "?"


# --------------------------------------------------------------------------------------------------
# Everything below runs only where a CUDA device exists.


def _tb():
    if os.environ.get("R1_BENCH_TRACEBACK"):
        traceback.print_exc()


def log(msg: str) -> None:
    print(msg, flush=True)


def cache_dir(arg: str | None) -> Path:
    d = Path(arg or os.environ.get("R1_BENCH_CACHE") or Path.home() / ".cache" / "deepseek_r1" / "bench").expanduser()
    d.mkdir(parents=True, exist_ok=True)
    return d


def import_r1():
    """(deepseek_r1 module or None, why not). The in-tree package is used when it has a build for this Python."""
    in_tree = ROOT / "python" / "deepseek_r1"
    if any((in_tree / f"_core{s}").exists() for s in importlib.machinery.EXTENSION_SUFFIXES):
        if str(ROOT / "python") not in sys.path:
            sys.path.insert(0, str(ROOT / "python"))
    try:
        import deepseek_r1 as r1

        return r1, None
    except Exception as e:
        _tb()
        return None, (
            f"import deepseek_r1 failed ({short(e, 100)}); build it for this Python "
            f"({platform.python_version()}): tools/dev_build.sh or pip install ."
        )


def _seed(seed: int = 0) -> None:
    _fixture_helpers()._seed(seed)


def _randomize_batchnorm(module, seed: int = 1) -> None:
    _fixture_helpers()._randomize_batchnorm(module, seed)


def _fixture_helpers():
    """tests/python/helpers/models.py: the seeding and BatchNorm statistics the test fixtures use (one copy)."""
    tests = str(ROOT / "tests" / "python")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from helpers import models

    return models


def build_model(name: str):
    """(fp32 CPU torch module in eval mode, source description); random seeded weights from configs."""
    import torch

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    _seed(0)
    if name == "bert-base":
        import transformers
        from transformers import BertConfig, BertModel

        class Bert(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = BertModel(BertConfig())

            def forward(self, input_ids, attention_mask, token_type_ids):
                out = self.model(
                    input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, return_dict=True
                )
                return out.last_hidden_state, out.pooler_output

        return Bert().eval(), f"transformers {transformers.__version__} BertModel(BertConfig()), random weights"
    if name == "gpt2":
        import transformers
        from transformers import GPT2Config, GPT2Model

        class GPT2(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = GPT2Model(GPT2Config(use_cache=False))

            def forward(self, input_ids, attention_mask):
                return self.model(
                    input_ids=input_ids, attention_mask=attention_mask, use_cache=False, return_dict=True
                ).last_hidden_state

        return GPT2().eval(), f"transformers {transformers.__version__} GPT2Model(GPT2Config()), random weights"
    if name == "resnet50":
        try:
            import torchvision

            net = torchvision.models.resnet50(weights=None)
            src = f"torchvision {torchvision.__version__} resnet50(weights=None) -> logits"
        except ImportError as e:
            import transformers
            from transformers import ResNetConfig, ResNetModel

            hf = ResNetModel(
                ResNetConfig(layer_type="bottleneck", depths=[3, 4, 6, 3], hidden_sizes=[256, 512, 1024, 2048])
            )

            class HFResNet(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.model = hf

                def forward(self, pixel_values):
                    return self.model(pixel_values=pixel_values, return_dict=True).pooler_output

            net = HFResNet()
            src = (
                f"transformers {transformers.__version__} ResNetModel(resnet-50 config) -> pooler_output "
                f"(torchvision unavailable: {short(e, 60)})"
            )
        _randomize_batchnorm(net)

        class Image(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.net = net

            def forward(self, pixel_values):
                return self.net(pixel_values)

        return Image().eval(), src + ", random weights, BatchNorm statistics randomised"
    raise KeyError(name)


def make_feeds(name: str, batch: int, seed: int = 0, padded: bool = False) -> dict:
    """numpy inputs: token ids drawn uniformly, masks all ones (with `padded`, row i > 0 ends in 3 i padding
    positions), token types half 0 half 1; images N(0, 1)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    d = MODELS[name]
    if name == "resnet50":
        return {"pixel_values": rng.standard_normal((batch, 3, d.size, d.size)).astype(np.float32)}
    vocab = 50257 if name == "gpt2" else 30522
    feeds = {
        "input_ids": rng.integers(0, vocab, size=(batch, d.seq), dtype=np.int64),
        "attention_mask": np.ones((batch, d.seq), dtype=np.int64),
    }
    if padded:
        for i in range(1, batch):
            feeds["attention_mask"][i, max(1, d.seq - 3 * i) :] = 0
    if "token_type_ids" in d.inputs:
        tt = np.zeros((batch, d.seq), dtype=np.int64)
        tt[:, d.seq // 2 :] = 1
        feeds["token_type_ids"] = tt
    return feeds


def export_onnx(name: str, module, src: str, tag: str, example: dict, cache: Path) -> tuple[Path, str]:
    """Exports `module` once into the cache; returns (path, how it was exported). `example` holds torch tensors."""
    import torch

    d = MODELS[name]
    src_tag = "tv" if src.startswith("torchvision") else "hf"
    key = f"{name}-{src_tag}-{tag}-torch{torch.__version__.split('+')[0]}-{FIXTURE_VERSION}"
    final = cache / key
    path = final / "model.onnx"
    how_file = final / "exporter.txt"
    if path.is_file():
        return path, (how_file.read_text().strip() if how_file.is_file() else "cached")
    tmp = Path(tempfile.mkdtemp(prefix=key + ".", dir=cache))
    args = tuple(example[n] for n in d.inputs)
    axes = {n: ({0: "batch"} if n == "pixel_values" else {0: "batch", 1: "seq"}) for n in d.inputs}
    axes.update({n: {0: "batch"} for n in d.outputs})
    errors = []
    how = None
    with torch.no_grad():
        try:
            torch.onnx.export(
                module,
                args,
                str(tmp / "model.onnx"),
                dynamo=False,
                opset_version=LEGACY_OPSET,
                input_names=list(d.inputs),
                output_names=list(d.outputs),
                dynamic_axes=axes,
                do_constant_folding=True,
            )
            how = f"torch.onnx legacy exporter, opset {LEGACY_OPSET}"
        except Exception as e:
            _tb()
            errors.append(f"legacy: {short(e, 200)}")
        if how is None:
            try:
                batch = torch.export.Dim("batch", min=1, max=64)
                shapes = tuple({0: batch} for _ in d.inputs)
                prog = torch.onnx.export(
                    module,
                    args,
                    None,
                    dynamo=True,
                    input_names=list(d.inputs),
                    output_names=list(d.outputs),
                    dynamic_shapes=shapes,
                    optimize=True,
                )
                prog.save(str(tmp / "model.onnx"), external_data=True)
                how = "torch.onnx dynamo exporter"
            except Exception as e:
                _tb()
                errors.append(f"dynamo: {short(e, 200)}")
    if how is None:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError("ONNX export failed: " + "; ".join(errors))
    (tmp / "exporter.txt").write_text(how + "\n")
    try:
        tmp.rename(final)
    except OSError:  # another run got there first: use its export if it is complete, else ours
        if not path.is_file():
            return tmp / "model.onnx", how
    return path, how


# --------------------------------------------------------------------------------------------------
# Engines: each gives run() -> {name: np.ndarray} (host to host) and optionally device() (inputs on the card)


@dataclass
class Engine:
    name: str
    run: object = None  # () -> dict of numpy outputs, host to host, synchronous
    device: object = None  # () -> None, device-resident forward (torch peers only)
    error: str | None = None
    skipped: str | None = None
    setup_s: float | None = None
    note: str = ""
    first_out: dict | None = None
    times: list = field(default_factory=list)


def torch_dtype(precision: str):
    import torch

    return {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[precision]


def torch_callables(module, feeds: dict, precision: str, output_names, device: str | None = None):
    """(host-to-host run, device-resident run) around a torch module already on `device`."""
    import torch

    dt = torch_dtype(precision)
    dev = torch.device(device or TORCH_DEVICE)

    def to_dev(v):
        t = torch.from_numpy(v).to(dev)
        return t.to(dt) if t.is_floating_point() else t

    def as_tuple(o):
        return o if isinstance(o, (tuple, list)) else (o,)

    resident = {k: to_dev(v) for k, v in feeds.items()}

    def run():
        with torch.inference_mode():
            outs = as_tuple(module(**{k: to_dev(v) for k, v in feeds.items()}))
            host = [o.float().cpu().numpy() for o in outs]
        return dict(zip(output_names, host))

    def device():
        with torch.inference_mode():
            module(**resident)

    return run, device


def ort_status():
    """(onnxruntime module or None, why it is skipped)."""
    try:
        import onnxruntime as ort
    except Exception as e:
        return None, f"onnxruntime does not import ({short(e, 80)})"
    provs = ort.get_available_providers()
    if "CUDAExecutionProvider" not in provs:
        return None, (
            f"onnxruntime {ort.__version__} has no CUDAExecutionProvider (providers: {', '.join(provs)}); "
            f"it needs the onnxruntime-gpu package"
        )
    return ort, None


def ort_fp16_model(name: str, fp32_path: Path) -> tuple[Path, str]:
    """The fp32 export made fp16 the way onnxruntime's docs do it (its transformers optimizer's fusions for
    BERT / GPT-2, then float16 conversion with fp32 inputs and outputs kept); cached next to the fp32 file."""
    out = fp32_path.with_name("model.ort-fp16.onnx")
    how_file = fp32_path.with_name("ort-fp16.txt")
    if out.is_file() and how_file.is_file():
        return out, how_file.read_text().strip()
    model_type = {"bert-base": "bert", "gpt2": "gpt2"}.get(name)
    how, failed = None, ""
    if model_type:
        try:
            from onnxruntime.transformers import optimizer

            m = optimizer.optimize_model(str(fp32_path), model_type=model_type, opt_level=0, use_gpu=True)
            fused = {k: v for k, v in m.get_fused_operator_statistics().items() if v}
            m.convert_float_to_float16(keep_io_types=True)
            m.save_model_to_file(str(out))
            how = (
                f"onnxruntime.transformers optimize_model(model_type={model_type!r}, opt_level=0, use_gpu=True) "
                f"(fused: {fused or 'none'}), then convert_float_to_float16(keep_io_types=True)"
            )
        except Exception as e:
            _tb()
            failed = f"optimize_model failed ({short(e, 80)}); "
    if how is None:
        import onnx
        from onnxruntime.transformers.float16 import convert_float_to_float16

        model = convert_float_to_float16(onnx.load(str(fp32_path)), keep_io_types=True)
        onnx.save(model, str(out))
        how = failed + "onnxruntime.transformers.float16.convert_float_to_float16(keep_io_types=True)"
    how_file.write_text(how + "\n")
    return out, how


def ort_engine(ort, path: Path, feeds: dict, precision: str) -> Engine:
    import numpy as np

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    sess = ort.InferenceSession(
        str(path), so, providers=[("CUDAExecutionProvider", {"device_id": 0}), "CPUExecutionProvider"]
    )
    if sess.get_providers()[0] != "CUDAExecutionProvider":
        raise RuntimeError(
            f"onnxruntime fell back to {sess.get_providers()}: the CUDA provider did not load "
            f"(its CUDA / cuDNN libraries?)"
        )
    casts = {"tensor(float16)": np.float16, "tensor(float)": np.float32}
    ins = {}
    for i in sess.get_inputs():
        v = feeds[i.name]
        if v.dtype.kind == "f":
            if i.type not in casts:
                raise RuntimeError(f"input {i.name} is {i.type}: onnxruntime's numpy API cannot feed it")
            v = v.astype(casts[i.type])
        ins[i.name] = v
    names = [o.name for o in sess.get_outputs()]

    def run():
        return dict(zip(names, sess.run(None, ins)))

    return Engine("ort-cuda", run=run, note=f"{precision} conversion of the fp32 export")


def placement(eng) -> dict | None:
    """Where the engine runs its nodes ({'device': n, 'cpu': m, 'cpu_ops': {...}}), when the engine says."""
    try:
        return dict(eng.placement)
    except Exception:
        return None


def r1_engine(r1, model, feeds: dict, device: str, precision: str) -> tuple[Engine, object]:
    eng = r1.InferenceEngine(model, device=device, precision=precision)
    ins = {t.name: feeds[t.name] for t in eng.inputs}

    def run():  # the arrays view the engine's memory: copied only where they are kept (first_out)
        return eng.run(ins)

    return Engine("r1", run=run), eng


# --------------------------------------------------------------------------------------------------
# Timing


def time_host(engines: list[Engine], iters: int, warmup: int, rounds: int, sync) -> None:
    """Wall-clock ms per run of each engine's run(), after warm-up; rounds rotate the engine order so that
    a drift of the card's clocks falls on every engine alike. A failing engine gets .error and drops out."""
    live = [e for e in engines if e.run and not e.error and not e.skipped]
    for e in live:
        try:
            for _ in range(warmup):
                e.run()
            sync()
        except Exception as ex:
            _tb()
            e.error = f"warm-up: {short(ex)}"
    rounds = max(1, min(rounds, iters))
    per = -(-iters // rounds)
    for r in range(rounds):
        n = min(per, iters - r * per)
        if n <= 0:
            break
        for e in rotate([e for e in live if not e.error], r):
            try:
                e.run()  # one untimed run per round
                sync()
                for _ in range(n):
                    t0 = time.perf_counter()
                    e.run()
                    sync()
                    e.times.append((time.perf_counter() - t0) * 1e3)
            except Exception as ex:
                _tb()
                e.error = f"run: {short(ex)}"


def time_device(fn, iters: int, warmup: int) -> list[float]:
    """ms per call from CUDA events around each call (work already on the card)."""
    import torch

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    ev = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(iters)]
    for a, b in ev:
        a.record()
        fn()
        b.record()
    torch.cuda.synchronize()
    return [a.elapsed_time(b) for a, b in ev]


def result(e: Engine) -> dict:
    r = {"engine": e.name, "note": e.note}
    if e.setup_s is not None:
        r["setup_s"] = e.setup_s
    if e.skipped:
        r["skipped"] = e.skipped
    elif e.error:
        r["error"] = e.error
    else:
        r.update(summarize(e.times))
        r["times_ms"] = [round(t, 4) for t in e.times]
    return r


# --------------------------------------------------------------------------------------------------
# Models


def bench_model(name: str, a, ctx: dict, out_rows: list, notes: list) -> None:
    import numpy as np
    import torch

    r1, r1_why = ctx["r1"], ctx["r1_error"]
    d = MODELS[name]
    log(f"== {name}: building and exporting")
    try:
        module, src = build_model(name)
        # a padded example, so that the exported graph keeps the mask path a deployed model needs
        example = {k: torch.from_numpy(v) for k, v in make_feeds(name, 2, padded=True).items()}
        onnx_path, how = export_onnx(name, module, src, "fp32", example, ctx["cache"])
        notes.append(f"{name}: {src}; ONNX: {how} ({onnx_path})")
    except Exception as e:
        _tb()
        for b in batches_for(name, a.batch):
            for p in a.precisions:
                out_rows.append({"model": name, "batch": b, "precision": p, "setup_error": short(e)})
        return

    r1_model, r1_model_err = None, r1_why
    if r1 is not None:
        try:
            r1_model = r1.Model(r1.load_onnx(str(onnx_path)))
        except Exception as e:
            _tb()
            r1_model_err = f"load_onnx: {short(e)}"

    # The fp32 CPU reference: deepseek_r1's own, else torch's (said so in the row).
    refs = {}
    for b in batches_for(name, a.batch):
        feeds = make_feeds(name, b, seed=b)
        ref, ref_src = None, None
        if r1_model is not None:
            try:
                eng = r1.InferenceEngine(r1_model, device="cpu", precision="fp32")
                ref = {
                    k: np.array(v, dtype=np.float32)
                    for k, v in eng.run({t.name: feeds[t.name] for t in eng.inputs}).items()
                }
                ref_src = "r1 fp32 CPU"
                del eng
            except Exception as e:
                _tb()
                ref_src = f"torch fp32 CPU (r1 fp32 CPU failed: {short(e, 80)})"
        if ref is None:
            with torch.inference_mode():
                outs = module(**{k: torch.from_numpy(v) for k, v in feeds.items()})
            outs = outs if isinstance(outs, (tuple, list)) else (outs,)
            ref = {n: o.float().numpy() for n, o in zip(d.outputs, outs)}
            ref_src = ref_src or f"torch fp32 CPU ({r1_model_err})"
        refs[b] = (feeds, ref, ref_src)

    ort, ort_why = ctx["ort"] if "ort" in a.peers and not a.skip_peers else (None, "not asked for")
    ort_hows: list[str] = []
    for p in a.precisions:
        dt = torch_dtype(p)
        gpu_module = None
        compiled = None
        compile_err = None
        ort_path, ort_err = None, None
        if not a.skip_peers:
            gpu_module = copy.deepcopy(module).to(TORCH_DEVICE, dt).eval()
            if "compile" in a.peers:
                try:
                    kw = {} if a.compile_mode == "default" else {"mode": a.compile_mode}
                    compiled = torch.compile(gpu_module, dynamic=False, **kw)
                except Exception as e:
                    _tb()
                    compile_err = f"torch.compile: {short(e)}"
            if ort is not None and p == "fp16":
                try:
                    ort_path, how = ort_fp16_model(name, onnx_path)
                    if how not in ort_hows:
                        ort_hows.append(how)
                        notes.append(f"{name} ort-cuda: {how}")
                except Exception as e:
                    _tb()
                    ort_err = f"fp16 conversion: {short(e)}"
        for b in batches_for(name, a.batch):
            feeds, ref, ref_src = refs[b]
            engines: list[Engine] = []
            eng = None
            r1_graph_attn = r1_place = None
            # ours
            if r1_model is None:
                engines.append(Engine("r1", error=r1_model_err))
            else:
                t0 = time.perf_counter()
                try:
                    e, eng = r1_engine(r1, r1_model, feeds, a.device, p)
                    e.setup_s = time.perf_counter() - t0
                    try:
                        r1_graph_attn = list(eng.graph.op_types()).count("Attention")
                    except Exception:
                        r1_graph_attn = None
                    r1_place = placement(eng)
                    if r1_place and r1_place.get("cpu"):
                        total = r1_place["cpu"] + r1_place.get("device", 0)
                        msg = (
                            f"{name} b{b} {p}: r1 runs {r1_place['cpu']} of {total} nodes on the CPU: "
                            f"{r1_place.get('cpu_ops')}"
                        )
                        log("   " + msg)
                        notes.append(msg)
                    engines.append(e)
                except Exception as ex:
                    _tb()
                    engines.append(Engine("r1", error=f"InferenceEngine({a.device}, {p}): {short(ex)}"))
            # peers
            dev_fns = {}
            if a.skip_peers:
                pass
            else:
                if "eager" in a.peers:
                    run, dev = torch_callables(gpu_module, feeds, p, d.outputs)
                    engines.append(Engine("torch-eager", run=run))
                    dev_fns["torch-eager"] = dev
                if "compile" in a.peers:
                    if compiled is None:
                        engines.append(Engine("torch-compile", error=compile_err or "not compiled"))
                    else:
                        run, dev = torch_callables(compiled, feeds, p, d.outputs)
                        e = Engine("torch-compile", run=run, note=f"mode={a.compile_mode}")
                        t0 = time.perf_counter()
                        try:
                            run()  # compiles for this shape
                            torch.cuda.synchronize()
                            e.setup_s = time.perf_counter() - t0
                            dev_fns["torch-compile"] = dev
                        except Exception as ex:
                            _tb()
                            e.error = f"torch.compile: {short(ex)}"
                        engines.append(e)
                if "ort" in a.peers:
                    if ort is None:
                        engines.append(Engine("ort-cuda", skipped=ort_why))
                    elif p != "fp16":
                        why = (
                            f"ort-cuda runs fp16 only: onnxruntime has no {p} converter for ONNX models "
                            f"(its transformers tools convert to fp16)"
                        )
                        if why not in ctx["skips"]:
                            ctx["skips"].append(why)
                        engines.append(Engine("ort-cuda", skipped=why))
                    elif ort_err or ort_path is None:
                        engines.append(Engine("ort-cuda", error=ort_err or "no export"))
                    else:
                        t0 = time.perf_counter()
                        try:
                            e = ort_engine(ort, ort_path, feeds, p)
                            e.setup_s = time.perf_counter() - t0
                            engines.append(e)
                        except Exception as ex:
                            _tb()
                            engines.append(Engine("ort-cuda", error=short(ex)))
            # one run each for the accuracy check (outputs kept), then the timed rounds
            for e in engines:
                if e.run and not e.error:
                    try:
                        e.first_out = {k: np.array(v, copy=True) for k, v in e.run().items()}
                    except Exception as ex:
                        _tb()
                        e.error = f"first run: {short(ex)}"
            time_host(engines, a.iters, a.warmup, a.rounds, torch.cuda.synchronize)
            row = {
                "model": name,
                "batch": b,
                "precision": p,
                "reference": ref_src,
                "r1_attention_nodes": r1_graph_attn,
                "r1_cpu_nodes": (r1_place or {}).get("cpu"),
                "engines": {},
                "device_only": {},
                "max_rel_err": {},
            }
            for e in engines:
                row["engines"][e.name] = result(e)
                if e.first_out is not None:
                    row["max_rel_err"][e.name] = max_rel_err(e.first_out, ref)
            for en, fn in dev_fns.items():
                if row["engines"].get(en, {}).get("error"):
                    continue
                try:
                    st = summarize(time_device(fn, a.iters, a.warmup))
                    row["device_only"][en] = st
                except Exception as ex:
                    _tb()
                    row["device_only"][en] = {"error": short(ex)}
            out_rows.append(row)
            _print_row(row)
            del engines, eng, dev_fns
            e = run = dev = None
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            if a.out:
                write_report(a, ctx, out_rows, ctx.get("micro_rows", []), notes, partial=True)
        del gpu_module, compiled
        torch.cuda.empty_cache()


def _print_row(row: dict) -> None:
    for en, r in row["engines"].items():
        err = row["max_rel_err"].get(en)
        dev = row["device_only"].get(en, {})
        log(
            f"   {row['model']:<10} b{row['batch']:<3} {row['precision']:<5} {en:<14} {latency_cell(r):>24} ms"
            + (f"   device-only {dev['median_ms']:.3f} ms" if dev.get("median_ms") else "")
            + (f"   max rel err {fmt_err(err)}" if err is not None else "")
            + (f"   setup {r['setup_s']:.1f} s" if r.get("setup_s") is not None else "")
        )


# --------------------------------------------------------------------------------------------------
# Micro: matmul peak, our GEMM, our fused attention


def gemm_model(n: int, chain: int, rng):
    """x [n, n] -> `chain` MatMuls with one shared fp32 initializer W (scaled so that values stay O(1)).
    Typed fp32 like the exported models: the engine's `precision` picks the arithmetic. Returns (model, W)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    f = TensorProto.FLOAT
    w = (rng.standard_normal((n, n)) / math.sqrt(n)).astype(np.float32)
    nodes, prev = [], "x"
    for i in range(chain):
        out = "y" if i == chain - 1 else f"h{i}"
        nodes.append(helper.make_node("MatMul", [prev, "w"], [out], name=f"matmul{i}"))
        prev = out
    g = helper.make_graph(
        nodes,
        f"gemm{chain}",
        [helper.make_tensor_value_info("x", f, [n, n])],
        [helper.make_tensor_value_info("y", f, [n, n])],
        [numpy_helper.from_array(w, "w")],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), w


def attention_model(batch: int, heads: int, seq: int, dim: int, chain: int, rng):
    """q [b, h, s, d] -> `chain` x (MatMul(q, Kt) -> Mul(1/sqrt(d)) -> Softmax -> MatMul(V)): the subgraph
    the exporters write for scaled dot-product attention, K given transposed as BERT's export has it; Kt and
    V are fp32 initializers; each block's output is the next block's q. Returns (model, Kt, V)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    f = TensorProto.FLOAT
    kt = rng.standard_normal((batch, heads, dim, seq)).astype(np.float32)
    v = rng.standard_normal((batch, heads, seq, dim)).astype(np.float32)
    nodes, prev = [], "q"
    for i in range(chain):
        out = "o" if i == chain - 1 else f"o{i}"
        nodes += [
            helper.make_node("MatMul", [prev, "kt"], [f"s{i}"], name=f"qk{i}"),
            helper.make_node("Mul", [f"s{i}", "scale"], [f"ss{i}"], name=f"scale{i}"),
            helper.make_node("Softmax", [f"ss{i}"], [f"p{i}"], axis=-1, name=f"softmax{i}"),
            helper.make_node("MatMul", [f"p{i}", "v"], [out], name=f"pv{i}"),
        ]
        prev = out
    shape = [batch, heads, seq, dim]
    inits = [
        numpy_helper.from_array(kt, "kt"),
        numpy_helper.from_array(v, "v"),
        helper.make_tensor("scale", f, [], [1.0 / math.sqrt(dim)]),
    ]
    g = helper.make_graph(
        nodes,
        f"attention{chain}",
        [helper.make_tensor_value_info("q", f, shape)],
        [helper.make_tensor_value_info("o", f, shape)],
        inits,
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), kt, v


def _time_r1(eng, feeds, a) -> dict:
    import torch

    e = Engine("r1", run=lambda: eng.run(feeds))
    time_host([e], a.iters, a.warmup, a.rounds, torch.cuda.synchronize)
    return result(e)


def _r1_chain(r1, build, feeds: dict, a, p: str, check=None) -> dict:
    """Times the 1-op and the a.chain-op models; {t: {chain: median ms}, ops: {chain: op types}, err: ...}."""
    import numpy as np

    out = {"t": {}, "ops": {}, "err": None}
    for c in (1, a.chain):
        proto = build(c)
        eng = r1.InferenceEngine(r1.Model(r1.load_onnx(proto)), device=a.device, precision=p)
        out["ops"][c] = list(eng.graph.op_types())
        where = placement(eng)
        if where and where.get("cpu"):
            out.setdefault("cpu", {})[c] = where.get("cpu_ops")
        if c == 1 and check is not None:
            got = {k: np.array(v, dtype=np.float32) for k, v in eng.run(feeds).items()}
            out["err"] = max_rel_err(got, check(proto))
        st = _time_r1(eng, feeds, a)
        if st.get("error"):
            raise RuntimeError(st["error"])
        out["t"][c] = st["median_ms"]
        del eng
    return out


def _warn_cpu_fallback(res: dict, what: str, notes: list) -> None:
    for c, ops in (res.get("cpu") or {}).items():
        msg = f"WARNING: {what}, chain {c}: r1 ran nodes on the CPU ({ops}); its times include that"
        log(msg)
        notes.append(msg)


def bench_micro(a, ctx: dict, rows: list, notes: list) -> None:
    import numpy as np
    import torch
    import torch.nn.functional as F

    r1 = ctx["r1"]
    rng = np.random.default_rng(0)
    peaks = {}
    log("== micro")
    for p in a.precisions:
        dt = torch_dtype(p)
        # the card's measured dense peak (random data, never zeros), and torch at our GEMM's size
        for n, what in ((MATMUL_PEAK_N, "torch matmul (measured peak)"), (GEMM_N, "torch matmul")):
            try:
                x = torch.randn(n, n, device=TORCH_DEVICE, dtype=dt)
                y = torch.randn(n, n, device=TORCH_DEVICE, dtype=dt)
                z = torch.empty(n, n, device=TORCH_DEVICE, dtype=dt)
                st = summarize(
                    time_device(functools.partial(torch.matmul, x, y, out=z), max(a.iters, 10), max(a.warmup, 3))
                )
                tf = tflops(matmul_flops(n, n, n), st["median_ms"])
                if n == MATMUL_PEAK_N:
                    peaks[p] = tf
                rows.append(
                    dict(
                        what=what,
                        shape=f"{n}^3",
                        precision=p,
                        ms=st["median_ms"],
                        tflops=tf,
                        frac=(tf / peaks[p]) if peaks.get(p) and tf else None,
                        how="device, CUDA events",
                    )
                )
                del x, y, z
            except Exception as e:
                _tb()
                rows.append(dict(what=what, shape=f"{n}^3", precision=p, error=short(e)))
        torch.cuda.empty_cache()
        peak = peaks.get(p)

        def frac(tf, peak=peak):
            return tf / peak if tf and peak else None

        # our GEMM: one node (host to host) and a chain (per-GEMM device time by difference)
        n = GEMM_N
        if r1 is None:
            rows.append(dict(what="r1 MatMul", shape=f"{n}^3", precision=p, error=ctx["r1_error"]))
        else:
            try:
                x = rng.standard_normal((n, n)).astype(np.float32)
                wseed = int(rng.integers(1 << 31))

                def check(proto, x=x):  # fp32 on the card, TF32 off
                    from onnx import numpy_helper

                    w = numpy_helper.to_array(proto.graph.initializer[0])
                    y = torch.from_numpy(x).to(TORCH_DEVICE) @ torch.from_numpy(w).to(TORCH_DEVICE)
                    return {"y": y.cpu().numpy()}

                def build(c, n=n, seed=wseed):  # the same W for both chain lengths
                    return gemm_model(n, c, np.random.default_rng(seed))[0]

                res = _r1_chain(r1, build, {"x": x}, a, p, check)
                _warn_cpu_fallback(res, f"r1 MatMul {n}^3 {p}", notes)
                t = res["t"]
                tf1 = tflops(matmul_flops(n, n, n), t[1])
                rows.append(
                    dict(
                        what="r1 MatMul, one node",
                        shape=f"{n}^3",
                        precision=p,
                        ms=t[1],
                        tflops=tf1,
                        frac=frac(tf1),
                        err=res["err"],
                        how="host to host (fp32 copies in and out included)",
                    )
                )
                per = chain_per_op_ms(t[1], t[a.chain], a.chain)
                tfc = tflops(matmul_flops(n, n, n), per)
                rows.append(
                    dict(
                        what="r1 MatMul, per GEMM",
                        shape=f"{n}^3",
                        precision=p,
                        ms=per,
                        tflops=tfc,
                        frac=frac(tfc),
                        how=f"(t(chain of {a.chain}) - t(1)) / {a.chain - 1}",
                    )
                )
                notes.append(f"micro r1 MatMul {p}: compiled ops {sorted(set(res['ops'][1]))}")
            except Exception as e:
                _tb()
                rows.append(dict(what="r1 MatMul", shape=f"{n}^3", precision=p, error=short(e)))

        # attention: torch SDPA (the peer) and ours through the MatMul-Softmax-MatMul subgraph it should fuse
        for s in ATTN_SEQS:
            b, h, dd = max(1, ATTN_TOKENS // s), ATTN_HEADS, ATTN_HEAD_DIM
            shape = f"b{b} h{h} s{s} d{dd}"
            fl = attention_flops(b, h, s, s, dd)
            try:
                q, k, v = (torch.randn(b, h, s, dd, device=TORCH_DEVICE, dtype=dt) for _ in range(3))
                st = summarize(
                    time_device(
                        functools.partial(F.scaled_dot_product_attention, q, k, v), max(a.iters, 10), max(a.warmup, 3)
                    )
                )
                tf = tflops(fl, st["median_ms"])
                rows.append(
                    dict(
                        what="torch SDPA",
                        shape=shape,
                        precision=p,
                        ms=st["median_ms"],
                        tflops=tf,
                        frac=frac(tf),
                        how="device, CUDA events",
                    )
                )
                del q, k, v
                torch.cuda.empty_cache()
            except Exception as e:
                _tb()
                rows.append(dict(what="torch SDPA", shape=shape, precision=p, error=short(e)))
            if r1 is None:
                rows.append(dict(what="r1 attention", shape=shape, precision=p, error=ctx["r1_error"]))
                continue
            try:
                qn = rng.standard_normal((b, h, s, dd)).astype(np.float32)
                aseed = int(rng.integers(1 << 31))

                def check(proto, qn=qn):  # fp32 SDPA on the card
                    from onnx import numpy_helper

                    init = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
                    kt, vv = (torch.from_numpy(init[n]).to(TORCH_DEVICE) for n in ("kt", "v"))
                    o = F.scaled_dot_product_attention(torch.from_numpy(qn).to(TORCH_DEVICE), kt.transpose(-1, -2), vv)
                    return {"o": o.cpu().numpy()}

                def build(c, dims=(b, h, s, dd), seed=aseed):  # the same Kt, V for both chain lengths
                    return attention_model(*dims, c, np.random.default_rng(seed))[0]

                res = _r1_chain(r1, build, {"q": qn}, a, p, check)
                _warn_cpu_fallback(res, f"r1 attention {shape} {p}", notes)
                for c, ops in res["ops"].items():
                    if ops.count("Attention") != c:
                        msg = (
                            f"WARNING: r1 attention {shape} {p}, chain {c}: the compiled graph has "
                            f"{ops.count('Attention')} Attention node(s) for {c} block(s) "
                            f"(ops: {sorted(set(ops))}); the attention fusion did not fire, so these numbers "
                            f"time the unfused graph"
                        )
                        log(msg)
                        notes.append(msg)
                tag = "" if res["ops"][1].count("Attention") == 1 else " (NOT fused)"
                t = res["t"]
                tf1 = tflops(fl, t[1])
                rows.append(
                    dict(
                        what="r1 attention, one block" + tag,
                        shape=shape,
                        precision=p,
                        ms=t[1],
                        tflops=tf1,
                        frac=frac(tf1),
                        err=res["err"],
                        how="host to host (fp32 copies in and out included)",
                    )
                )
                per = chain_per_op_ms(t[1], t[a.chain], a.chain)
                tfc = tflops(fl, per)
                rows.append(
                    dict(
                        what="r1 attention, per block" + tag,
                        shape=shape,
                        precision=p,
                        ms=per,
                        tflops=tfc,
                        frac=frac(tfc),
                        how=f"(t(chain of {a.chain}) - t(1)) / {a.chain - 1}",
                    )
                )
            except Exception as e:
                _tb()
                rows.append(dict(what="r1 attention", shape=shape, precision=p, error=short(e)))
        for r in rows:
            if r.get("precision") != p:
                continue
            if r.get("error"):
                log(f"   {r['what']:<34} {r['shape']:<20} {p:<5} error: {r['error']}")
            else:
                log(
                    f"   {r['what']:<34} {r['shape']:<20} {p:<5} {fmt(r.get('ms'), '.3f'):>9} ms "
                    f"{fmt(r.get('tflops'), '.1f'):>7} TFLOP/s  {fmt(r.get('frac'), '.2f')} of peak"
                    + (f"  max rel err {fmt_err(r['err'])}" if r.get("err") is not None else "")
                )


# --------------------------------------------------------------------------------------------------
# Report


def versions(r1) -> dict:
    v = {"python": platform.python_version()}
    for mod in ("numpy", "torch", "triton", "transformers", "torchvision", "onnx", "onnxruntime"):
        try:
            m = __import__(mod)
            v[mod] = getattr(m, "__version__", "?")
        except Exception as e:
            v[mod] = f"unavailable ({type(e).__name__})"
    try:
        import torch

        v["torch CUDA"] = str(torch.version.cuda)
        v["cuDNN"] = str(torch.backends.cudnn.version())
    except Exception:
        pass
    if r1 is not None:
        v["deepseek_r1"] = f"{getattr(r1, '__version__', '?')} ({Path(r1.__file__).parent})"
    else:
        v["deepseek_r1"] = "unavailable"
    return v


def device_info() -> dict:
    import torch

    p = torch.cuda.get_device_properties(0)
    return {
        "name": torch.cuda.get_device_name(0),
        "capability": f"{p.major}.{p.minor}",
        "multiprocessors": p.multi_processor_count,
        "memory_gib": round(p.total_memory / 2**30, 1),
        "driver": driver_version(),
        "cuda_driver_api": cuda_driver_api_version(),
    }


def model_tables(rows: list, peers_present: list) -> list[str]:
    """Latency table (host to host), then device-resident peers and accuracy."""
    engines = ["r1"] + peers_present
    head = (
        ["model", "batch", "precision"]
        + [f"{e} ms (median / p90)" for e in engines]
        + ["r1 samples/s"]
        + [f"r1 / {e}" for e in peers_present]
    )
    lat, acc = [], []
    for row in rows:
        label = MODELS[row["model"]].label
        if row.get("setup_error"):
            lat.append([label, row["batch"], row["precision"], "error: " + short(row["setup_error"], 100)])
            continue
        en = row["engines"]
        r1r = en.get("r1")
        lat.append(
            [label, row["batch"], row["precision"]]
            + [latency_cell(en.get(e)) for e in engines]
            + [fmt(throughput(row["batch"], (r1r or {}).get("median_ms")), ".1f")]
            + [fmt(ratio(r1r, en.get(e))) for e in peers_present]
        )
        err = row["max_rel_err"].get("r1")
        target = "-"
        if row["precision"] == "fp16" and err is not None:
            target = "yes" if err <= FP16_TARGET else "NO"
        dev = row["device_only"]
        acc.append(
            [
                label,
                row["batch"],
                row["precision"],
                fmt_err(err),
                target,
                fmt_err(row["max_rel_err"].get("torch-eager")),
                fmt_err(row["max_rel_err"].get("ort-cuda")),
                fmt(row.get("r1_attention_nodes"), "d"),
                fmt(row.get("r1_cpu_nodes"), "d"),
                fmt(dev.get("torch-eager", {}).get("median_ms"), ".3f"),
                fmt(dev.get("torch-compile", {}).get("median_ms"), ".3f"),
                row.get("reference", "-"),
            ]
        )
    out = [
        "Latency, host to host (numpy in, fp32 numpy out), ms median / p90; ratios are medians (below 1: "
        "deepseek_r1 is faster).",
        "",
        md_table(head, lat),
        "",
        f"Accuracy: max|out - ref| / max|ref| over all outputs against the reference (issue target for fp16: "
        f"<= {FP16_TARGET:g}); r1 Attention nodes = fused r1::Attention nodes in our compiled graph; r1 nodes on "
        f"CPU = nodes our GPU engine left to the CPU (see the notes for which); "
        f"device-only = torch peers with inputs already on the card and no copy back (CUDA events, median ms).",
        "",
        md_table(
            [
                "model",
                "batch",
                "precision",
                "r1 max rel err",
                f"fp16 <= {FP16_TARGET:g}",
                "torch-eager max rel err",
                "ort-cuda max rel err",
                "r1 Attention nodes",
                "r1 nodes on CPU",
                "torch-eager device-only ms",
                "torch-compile device-only ms",
                "reference",
            ],
            acc,
        ),
    ]
    return out


def micro_table(rows: list) -> str:
    body = []
    for r in rows:
        if r.get("error"):
            body.append([r["what"], r["shape"], r["precision"], "error: " + short(r["error"], 100), "-", "-", "-", "-"])
        else:
            body.append(
                [
                    r["what"],
                    r["shape"],
                    r["precision"],
                    fmt(r.get("ms"), ".3f"),
                    fmt(r.get("tflops"), ".1f"),
                    fmt(r.get("frac"), ".2f"),
                    fmt_err(r.get("err")),
                    r.get("how", ""),
                ]
            )
    return md_table(
        ["what", "shape", "precision", "ms (median)", "TFLOP/s", "of measured peak", "max rel err vs fp32", "how"], body
    )


def build_report(a, ctx: dict, model_rows: list, micro_rows: list, notes: list, partial: bool = False) -> str:
    info, v = ctx["device"], ctx["versions"]
    L = ["## GPU: deepseek_r1 vs PyTorch eager, torch.compile, onnxruntime-gpu", ""]
    if partial:
        L += ["**Partial: the run is still going (or stopped early).**", ""]
    if a.quick:
        L += ["**Smoke run (`--quick`, few iterations): checks the script, not a measurement.**", ""]
    L += [
        f"- command: `{ctx['command']}`",
        f"- date: {ctx['date']}",
        f"- device: {info['name']} (compute capability {info['capability']}, {info['multiprocessors']} SMs, "
        f"{info['memory_gib']} GiB); driver {info['driver']} (CUDA driver API {info['cuda_driver_api']}); "
        f"r1 device `{a.device}`",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- timing: {a.warmup} warm-up runs, then {a.iters} timed runs per engine in {a.rounds} rotating rounds "
        f"(1 untimed run per round); host-to-host wall clock after torch.cuda.synchronize(); torch.compile "
        f"mode={a.compile_mode}, dynamic=False",
        "- inputs: token ids uniform, attention masks all ones (the ONNX exports were traced with a padded mask, "
        "so their graphs keep the mask path), images N(0, 1); every engine hands back fp32 numpy outputs",
    ]
    for why in ctx.get("skips", []):
        L.append(f"- {why}")
    L.append("")
    if model_rows:
        peers_present = [
            p
            for p in ("torch-eager", "torch-compile", "ort-cuda")
            if any(p in (r.get("engines") or {}) for r in model_rows)
        ]
        L += model_tables(model_rows, peers_present) + [""]
    if micro_rows:
        L += [
            f"Micro: TFLOP/s against the measured torch matmul peak at {MATMUL_PEAK_N}^3 of the same precision; "
            f"attention FLOPs = 4 b h s^2 d (Q.K^T and P.V), non-causal.",
            "",
            micro_table(micro_rows),
            "",
        ]
    if notes:
        L += ["Notes:", ""] + [f"- {short(n, 400)}" for n in notes] + [""]
    return "\n".join(L)


def write_report(a, ctx, model_rows, micro_rows, notes, partial=False) -> None:
    text = build_report(a, ctx, model_rows, micro_rows, notes, partial)
    Path(a.out).write_text(text)
    if a.json:
        Path(a.json).write_text(
            json.dumps(
                {
                    "command": ctx["command"],
                    "date": ctx["date"],
                    "device": ctx["device"],
                    "versions": ctx["versions"],
                    "models": model_rows,
                    "micro": micro_rows,
                    "notes": notes,
                    "partial": partial,
                },
                indent=1,
                default=str,
            )
            + "\n"
        )


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
