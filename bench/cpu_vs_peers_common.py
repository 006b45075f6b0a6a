"""What the parts of bench/cpu_vs_peers.py share: the benchmarked cases, the engines, and the one-line error text of
a table cell.
"""

from __future__ import annotations

CASES = {  # name -> (model in tests/python/helpers/model_specs.py, feed size, label)
    "minilm-b1": ("minilm", dict(batch=1, seq=128), "MiniLM b1 s128"),
    "minilm-b32": ("minilm", dict(batch=32, seq=128), "MiniLM b32 s128"),
    "bert-base": ("bert-base", dict(batch=1, seq=128), "BERT-base b1 s128"),
    "gpt2": ("gpt2", dict(batch=1, seq=128), "GPT-2 b1 s128"),
    "resnet50": ("resnet50", dict(batch=1, size=224), "ResNet-50 b1 224"),
    "vit-base": ("vit-base", dict(batch=1, size=224), "ViT-base b1 224"),
}
ENGINES = ["r1-fp32", "r1-bf16", "ort", "ov-f32", "ov-default"]


def short(e, limit=140) -> str:
    msg = (e if isinstance(e, str) else f"{type(e).__name__}: {e}").replace("\n", " ").replace("|", "/")
    return msg if len(msg) <= limit else msg[: limit - 3] + "..."
