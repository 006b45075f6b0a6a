"""The settings of bench/gpu.py: iteration counts, micro shapes, the fp16 accuracy target and the benchmarked
models (their inputs, outputs and batch sizes).
"""

from __future__ import annotations

from dataclasses import dataclass
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
