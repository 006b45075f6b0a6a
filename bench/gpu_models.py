"""The models bench/gpu.py benchmarks: deepseek_r1's import, the torch modules (random seeded weights from configs),
their numpy inputs, and their ONNX export cached on disk.
"""

from __future__ import annotations

import importlib.machinery
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

from gpu_config import FIXTURE_VERSION, LEGACY_OPSET, MODELS, ROOT
from gpu_helpers import maybe_traceback, short


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
        maybe_traceback()
        return None, (
            f"import deepseek_r1 failed ({short(e, 100)}); build it for this Python "
            f"({platform.python_version()}): tools/dev_build.sh or pip install ."
        )


def _seed(seed: int = 0) -> None:
    _fixture_helpers()._seed(seed)


def _randomize_batchnorm(module, seed: int = 1) -> None:
    _fixture_helpers()._randomize_batchnorm(module, seed)


def _fixture_helpers():
    """tests/python/helpers/model_builders.py: the seeding and BatchNorm statistics the test fixtures use (one copy)."""
    tests = str(ROOT / "tests" / "python")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from helpers import model_builders

    return model_builders


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
            maybe_traceback()
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
                maybe_traceback()
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
