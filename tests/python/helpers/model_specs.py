"""The real-model fixtures' specs: inputs, outputs, dynamic axes, feeds and the sizes tests and benchmarks run.

from helpers.model_specs import SPECS
feeds = SPECS["bert-base"].feeds(np.random.default_rng(0), batch=2, seq=16)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from helpers.model_builders import (
    build_bert_base,
    build_gpt2,
    build_lstm,
    build_minilm,
    build_mobilenet,
    build_resnet50,
    build_vit_base,
)

# --------------------------------------------------------------------------------------------------
# Specs: inputs, dynamic axes, feeds


def _text_feeds(names, vocab, with_types=True):
    def feeds(rng: np.random.Generator, batch: int = 2, seq: int = 16, **_):
        ids = rng.integers(0, vocab, size=(batch, seq), dtype=np.int64)
        mask = np.ones((batch, seq), dtype=np.int64)
        for b in range(1, batch):  # later rows are padded at the end
            mask[b, max(1, seq - 3 * b) :] = 0
        out = {"input_ids": ids, "attention_mask": mask}
        if with_types:
            tt = np.zeros((batch, seq), dtype=np.int64)
            tt[:, seq // 2 :] = 1
            out["token_type_ids"] = tt
        return {n: out[n] for n in names}

    return feeds


def _image_feeds(
    rng: np.random.Generator, batch: int = 2, size: int = 224, height: int | None = None, width: int | None = None, **_
):
    h, w = height or size, width or size
    return {"pixel_values": rng.standard_normal((batch, 3, h, w)).astype(np.float32)}


def _lstm_feeds(rng: np.random.Generator, batch: int = 2, seq: int = 16, **_):
    return {"x": rng.standard_normal((batch, seq, 32)).astype(np.float32)}


def _mobilenet_feeds(rng, batch=2, size=64, height=None, width=None, **_):
    h, w = height or size, width or size
    return {"image": rng.standard_normal((batch, 3, h, w)).astype(np.float32)}


@dataclass
class ModelSpec:
    name: str
    build: Callable
    input_names: list[str]
    output_names: list[str]
    dynamic_axes: dict[str, dict[int, str]]  # input name -> {axis: dim name}
    dim_ranges: dict[str, tuple[int, int]]  # dim name -> (min, max) for torch.export.Dim
    feeds: Callable  # (rng, **size) -> {name: np.ndarray}
    export_size: dict  # example-input size for the export
    test_sizes: list[dict]  # sizes the e2e tests run (the 2nd differs from the 1st)
    bench_size: dict  # size the benchmark runs
    heavy: bool = False
    notes: str = ""
    extra: dict = field(default_factory=dict)

    def example_inputs(self):
        import torch

        f = self.feeds(np.random.default_rng(0), **self.export_size)
        return tuple(torch.from_numpy(f[n]) for n in self.input_names)


_TEXT_DIMS = {"batch": (1, 64), "seq": (1, 512)}
_BERT_IN = ["input_ids", "attention_mask", "token_type_ids"]
_TEXT_AXES = {n: {0: "batch", 1: "seq"} for n in _BERT_IN}

SPECS: dict[str, ModelSpec] = {
    s.name: s
    for s in [
        ModelSpec(
            "minilm",
            build_minilm,
            _BERT_IN,
            ["last_hidden_state", "sentence_embedding"],
            _TEXT_AXES,
            _TEXT_DIMS,
            _text_feeds(_BERT_IN, 30522),
            dict(batch=2, seq=16),
            [dict(batch=2, seq=16), dict(batch=3, seq=9)],
            dict(batch=1, seq=128),
            notes="all-MiniLM-L6-v2, trained weights",
        ),
        ModelSpec(
            "bert-base",
            build_bert_base,
            _BERT_IN,
            ["last_hidden_state", "pooler_output"],
            _TEXT_AXES,
            _TEXT_DIMS,
            _text_feeds(_BERT_IN, 30522),
            dict(batch=2, seq=16),
            [dict(batch=2, seq=16), dict(batch=1, seq=11)],
            dict(batch=1, seq=128),
            heavy=True,
        ),
        ModelSpec(
            "gpt2",
            build_gpt2,
            ["input_ids", "attention_mask"],
            ["last_hidden_state"],
            {n: {0: "batch", 1: "seq"} for n in ["input_ids", "attention_mask"]},
            {"batch": (1, 64), "seq": (1, 1024)},
            _text_feeds(["input_ids", "attention_mask"], 50257, False),
            dict(batch=2, seq=16),
            [dict(batch=2, seq=16), dict(batch=1, seq=11)],
            dict(batch=1, seq=128),
            heavy=True,
        ),
        ModelSpec(
            "vit-base",
            build_vit_base,
            ["pixel_values"],
            ["last_hidden_state", "pooler_output"],
            {"pixel_values": {0: "batch"}},
            {"batch": (1, 64)},
            _image_feeds,
            dict(batch=2, size=224),
            [dict(batch=1, size=224), dict(batch=2, size=224)],
            dict(batch=1, size=224),
            heavy=True,
        ),
        ModelSpec(
            "resnet50",
            build_resnet50,
            ["pixel_values"],
            ["last_hidden_state", "pooler_output"],
            {"pixel_values": {0: "batch", 2: "height", 3: "width"}},
            {"batch": (1, 64), "height": (32, 1024), "width": (32, 1024)},
            _image_feeds,
            dict(batch=2, size=64),
            [dict(batch=2, size=64), dict(batch=1, height=96, width=64)],
            dict(batch=1, size=224),
            heavy=True,
        ),
        ModelSpec(
            "lstm",
            build_lstm,
            ["x"],
            ["y"],
            {"x": {0: "batch", 1: "seq"}},
            {"batch": (1, 64), "seq": (1, 4096)},
            _lstm_feeds,
            dict(batch=2, seq=16),
            [dict(batch=2, seq=16), dict(batch=3, seq=7)],
            dict(batch=1, seq=128),
        ),
        ModelSpec(
            "mobilenet",
            build_mobilenet,
            ["image"],
            ["logits", "seg"],
            {"image": {0: "batch", 2: "height", 3: "width"}},
            {"batch": (1, 64), "height": (32, 2048), "width": (32, 2048)},
            _mobilenet_feeds,
            dict(batch=2, size=64),
            [dict(batch=2, size=64), dict(batch=1, height=96, width=64)],
            dict(batch=1, size=224),
        ),
    ]
}
