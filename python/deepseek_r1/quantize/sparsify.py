"""r1.sparsify: 2:4 structured sparsity for the products with constant weights, pruned by magnitude.

    rep = r1.sparsify("model.onnx", "model.sparse.r1")                         # FFN products, 2:4, int8
    rep = r1.sparsify("model.onnx", layers=["ffn", "*layer.1*"], calibration_data=samples)
    print(rep)       # the layers pruned, the share of weights zeroed, the accuracy it cost
    r1.InferenceEngine(rep.path).run(feeds)

In every aligned group of four weights along a product's reduction dimension (K), per output column, the two
of smallest magnitude become zero: the 2:4 pattern of NVIDIA's sparse tensor cores and cuSPARSELt. There is
no fine-tuning here (a model pruned during training keeps more accuracy; its weights pass through unchanged
when they are 2:4 already), so the accuracy it costs is measured and reported: cosine of the outputs to the
dense model's over calibration_data. With precision="int8" (the default) the file stores the pruned weights
2:4 compressed (5/8 of dense int8's bytes: values plus 2-bit positions) and they run on the sparse int8
kernel where it is faster, chosen per shape by measurement with the dense kernel as fallback
(cpp/r1/cpu/gemm/sparse_choice.h). At fp32 or bf16 the pruned weights are stored and run dense.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..model import CompileInfo, Model, save_model
from .api import _compiled_fp32, _run_all, _samples
from .guard import Guard
from .policy import KINDS, classify

PATTERNS = ("2:4",)


@dataclass
class SparseLayer:
    name: str
    kind: str
    shape: tuple[int, int]  # K x N of the product
    zeros_before: float  # share of weights that were zero already
    zeros_after: float  # as written (zeros_before when the accuracy guard kept the layer dense)
    error: float | None = None  # the cosine this layer costs alone (calibration data given), else None
    kept_dense: bool = False  # the accuracy guard put it back


@dataclass
class SparsityReport:
    path: str
    pattern: str
    precision: str
    layers: list[SparseLayer]
    size_before: int  # bytes of weights, dense, at the output's precision
    size_after: int  # bytes of weights as stored in the output
    cosine: float | None = None  # lowest cosine to the dense model over calibration_data, if given
    target: float | None = None  # the accuracy guard's minimum cosine, if given

    def __str__(self) -> str:
        pruned = sum(k * n for layer in self.layers for k, n in [layer.shape])
        lines = [
            f"{self.path}: {self.pattern} sparsity at {self.precision}, {len(self.layers)} layers "
            f"({pruned / 1e6:.1f}M weights)",
            f"weights {self.size_before / 2**20:.1f} MiB -> {self.size_after / 2**20:.1f} MiB",
        ]
        if self.cosine is not None:
            target = f" (target {self.target})" if self.target is not None else ""
            kept = sum(layer.kept_dense for layer in self.layers)
            lines.append(
                f"cosine to the dense model {self.cosine:.5f}{target}, lowest over the calibration samples; "
                f"{kept} layers kept dense"
            )
        w = max([len(layer.name) for layer in self.layers] + [5])
        lines.append(f"{'layer':<{w}}  {'kind':<9} {'K x N':>11}  {'zeros before -> after':>21}  {'error':>9}")
        for layer in self.layers:
            shape = f"{layer.shape[0]}x{layer.shape[1]}"
            err = f"{layer.error:9.2e}" if layer.error is not None else f"{'-':>9}"
            note = "  kept dense (accuracy guard)" if layer.kept_dense else ""
            lines.append(
                f"{layer.name:<{w}}  {layer.kind:<9} {shape:>11}  {layer.zeros_before:9.1%} -> {layer.zeros_after:6.1%}"
                f"  {err}{note}"
            )
        return "\n".join(lines)


def prune_2to4(w: np.ndarray, axis: int) -> np.ndarray:
    """w with the two smallest |values| of every aligned group of four along `axis` set to zero (a last partial
    group keeps its two largest too). Ties go to the earlier position, so the result is deterministic."""
    x = np.moveaxis(np.asarray(w), axis, -1)
    k = x.shape[-1]
    pad = (-k) % 4
    xp = np.concatenate([x, np.zeros((*x.shape[:-1], pad), x.dtype)], axis=-1) if pad else x
    groups = xp.reshape(*xp.shape[:-1], xp.shape[-1] // 4, 4)
    order = np.argsort(-np.abs(groups.astype(np.float32)), axis=-1, kind="stable")
    keep = np.zeros(groups.shape, bool)
    np.put_along_axis(keep, order[..., :2], True, axis=-1)
    out = np.where(keep, groups, np.zeros((), x.dtype)).reshape(xp.shape)[..., :k]
    return np.ascontiguousarray(np.moveaxis(out, -1, axis))


def is_2to4(w: np.ndarray, axis: int) -> bool:
    """Whether every aligned group of four along `axis` holds at most two nonzeros."""
    x = np.moveaxis(np.asarray(w), axis, -1)
    pad = (-x.shape[-1]) % 4
    if pad:
        x = np.concatenate([x, np.zeros((*x.shape[:-1], pad), x.dtype)], axis=-1)
    return bool(((x.reshape(*x.shape[:-1], -1, 4) != 0).sum(axis=-1) <= 2).all())


def _matches(key: str, name: str, kind: str) -> bool:
    if key == "matmul":
        return True  # every product with a constant weight
    return key == kind if key in KINDS else fnmatch.fnmatchcase(name, key)


def _selected(nodes: list[dict], keys: list[str]) -> dict[str, str]:
    """The products (FusedMatMul with a constant float weight) `keys` name, by kind or glob -> their kind."""
    for key in keys:
        if not isinstance(key, str):
            raise TypeError(f"layers must be kinds or node-name globs (strings), got {key!r}")
    kinds = classify(nodes)
    out = {}
    for n in nodes:
        if n["domain"] != "r1" or n["op"] != "FusedMatMul" or len(n["constant"]) < 2 or not n["constant"][1]:
            continue
        if not n["float_elems"][1]:
            continue  # an int8 weight (an imported quantized model): not this tool's to prune
        kind = kinds.get(n["name"], "matmul")
        if any(_matches(k, n["name"], kind) for k in keys):
            out[n["name"]] = kind
    return out


def sparsify(
    model: Any,
    output_path: str | os.PathLike | None = None,
    pattern: str = "2:4",
    layers: Iterable[str] | None = None,
    precision: str = "int8",
    calibration_data: Iterable[Mapping[str, np.ndarray]] | None = None,
    accuracy: Mapping[str, Any] | None = None,
    target_hardware: str = "native",
    num_threads: int | None = None,
    progress: bool | None = None,
) -> SparsityReport:
    """Prunes `model` (a .onnx or .r1 path, or a Model) to 2:4 and writes a .r1 file; returns the report.

    layers: kinds ("ffn", "attention", "matmul" for every product with a constant weight) or node-name globs;
    default ["ffn"], the feed-forward products (the largest, and the least sensitive). precision: "int8"
    (stored 2:4 compressed, sparse kernel), "bf16" or "fp32" (stored and run dense). calibration_data: input
    dicts the accuracy is measured on (cosine to the dense model at the same precision). accuracy: {"min": 0.99}
    (cosine) turns on the guard: each layer's cost is measured alone, and the costliest go back to dense one at a
    time until the target holds."""
    from ..compiler import optimize_graph
    from ..convert.targets import resolve_target

    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {PATTERNS}, got {pattern!r}")
    if precision not in ("int8", "bf16", "fp32"):
        raise ValueError(f"precision must be 'int8', 'bf16' or 'fp32', got {precision!r}")
    keys = ["ffn"] if layers is None else ([layers] if isinstance(layers, str) else list(layers))
    if not keys:
        raise ValueError("layers is empty: name kinds (ffn, attention, matmul) or node-name globs to prune")
    if accuracy is not None and calibration_data is None:
        raise ValueError("accuracy needs calibration_data: the guard measures the cosine on it")
    if accuracy is not None and (not isinstance(accuracy, Mapping) or accuracy.get("metric", "cosine") != "cosine"):
        raise ValueError(f"accuracy must be {{'metric': 'cosine', 'min': x}} for sparsify, got {accuracy!r}")
    target = resolve_target(target_hardware)
    if target.kind == "gpu":
        raise ValueError(f"sparsify writes a CPU model; target_hardware {target.name!r} is a GPU row")
    base, source = _compiled_fp32(model)
    nodes = base.graph.nodes()
    chosen = _selected(nodes, keys)
    if not chosen:
        raise ValueError(f"no product with a constant weight matches layers={keys} in {source}")
    samples = _samples(calibration_data, progress)
    by_name = {n["name"]: n for n in nodes}
    pruned: dict[str, tuple[str, np.ndarray]] = {}  # layer -> (weight value, pruned weight)
    report: dict[str, SparseLayer] = {}
    for name, kind in chosen.items():
        value = by_name[name]["inputs"][1]
        w = np.array(base.graph.constant(value))
        if w.ndim != 2:
            continue
        trans_b = by_name[name]["trans_b"]
        axis = 1 if trans_b else 0  # K: the reduction dimension of op(B)
        p = w if is_2to4(w, axis) else prune_2to4(w, axis)
        pruned[name] = (value, p)
        k, n = (w.shape[1], w.shape[0]) if trans_b else w.shape
        report[name] = SparseLayer(name, kind, (int(k), int(n)), float((w == 0).mean()), float((p == 0).mean()))
    meta = dict(base.metadata)
    info = base.compile_info
    assert info is not None
    meta.update(CompileInfo(info.compiler, info.level, info.graph_passes, (), "cpu", precision).metadata())

    def with_pruned(names: Iterable[str]) -> Model:
        g = base.graph.clone()
        for name in names:
            g.set_constant(*pruned[name])
        return Model(g, meta)

    active = list(pruned)
    cosine = None
    guard = None
    if samples is not None:
        dense = _run_all(Model(base.graph, meta), samples, "dense reference", progress, num_threads)
        guard = Guard({"metric": "cosine", "min": accuracy["min"] if accuracy else -1.0}, dense)
        if accuracy is not None:
            for name in active:
                alone = guard.score(_run_all(with_pruned([name]), samples, "", False, num_threads))
                report[name].error = guard.error(alone)
        cosine = guard.score(_run_all(with_pruned(active), samples, "sparse", progress, num_threads))
        if accuracy is not None:
            for name in sorted(active, key=lambda n: -(report[n].error or 0.0)):
                if guard.holds(cosine):
                    break
                active.remove(name)
                report[name].kept_dense = True
                report[name].zeros_after = report[name].zeros_before
                cosine = guard.score(_run_all(with_pruned(active), samples, "", False, num_threads))
    out_model = with_pruned(active)
    size_before = _compiled_bytes(base.graph, precision, target, optimize_graph, info.level)
    if target.kind == "cpu":
        g = out_model.graph.clone()
        dev = optimize_graph(g, info.level, precision, stages="device", cpu_target=target.flags)
        meta = dict(meta)
        meta.update(
            CompileInfo(info.compiler, info.level, info.graph_passes, tuple(dev.pass_names), target.name, precision)
            .metadata()
        )  # fmt: skip
        out_model = Model(g, meta)
    meta = dict(out_model.metadata)
    meta["sparsity"] = pattern
    out_model = Model(out_model.graph, meta)
    out = Path(output_path) if output_path else _default_output(model)
    save_model(out_model, out)
    return SparsityReport(
        str(out), pattern, precision, list(report.values()), size_before, int(out_model.graph.constant_bytes), cosine,
        guard.target if guard is not None and accuracy is not None else None,
    )  # fmt: skip


def _compiled_bytes(graph: Any, precision: str, target: Any, optimize_graph: Any, level: int) -> int:
    """Bytes of the dense model's weights packed at `precision` (what the file would hold without pruning)."""
    if target.kind != "cpu":
        return int(graph.constant_bytes)
    g = graph.clone()
    optimize_graph(g, level, precision, stages="device", cpu_target=target.flags)
    return int(g.constant_bytes)


def _default_output(model: Any) -> Path:
    if isinstance(model, (str, os.PathLike)):
        p = Path(model)
        return p.with_name(p.stem + ".sparse.r1")
    return Path("model.sparse.r1")
