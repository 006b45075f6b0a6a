"""r1.quantize: a model to a .r1 file whose products with constant weights run in int8, with a per-layer
policy and an accuracy guard.

    rep = r1.quantize("model.onnx", "model.int8.r1")                              # every product int8
    rep = r1.quantize("model.onnx", policy={"attention": "bf16", "ffn": "int8", "default": "fp32"})
    rep = r1.quantize("model.onnx", calibration_data=samples, accuracy={"metric": "cosine", "min": 0.99})
    print(rep)            # per layer: precision, why, the error it adds alone; sizes before and after
    r1.InferenceEngine(rep.path).run(feeds)

mode="dynamic": weights int8 per output channel, stored that way in the file; activations quantized per row
(products) or per image (convs) on every call, their range measured, not calibrated. mode="weights_only": what
shrinks is the weights of products (bits=4: group-wise int4, 128 weights per scale along K, half of int8's bytes;
bits=8: int8 per output channel) and of embedding tables (int8 per row), for models whose speed is their
weights' bytes (a language model's decode step); convs and the attention core stay fp32 (the products' own input
rows are still quantized to uint8 inside the kernel, as llama.cpp's int4 x int8 dot does). mode="static": each int8
layer's input range is calibrated once on calibration_data (method "minmax", "percentile" or "entropy",
calibrate.py) and stored as the layer's scale and zero point. Calibration data, when given, also measures each
layer's error and drives the accuracy guard: layers are ranked by the error they add alone, and the worst go
back to fp32 one at a time until the target holds (as Intel Neural Compressor does).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from .._core import ModelError
from ..compiler import DEFAULT_LEVEL, optimize_graph, pass_names
from ..model import COMPILE_KEYS, CompileInfo, Model, load_model, save_model
from ..tools.progress import Progress
from .calibrate import METHODS, apply_static, collect_ranges
from .guard import Guard, Outputs
from .policy import Choice, as_overrides, decide

MODES = ("dynamic", "static", "weights_only")


@dataclass
class LayerReport:
    name: str
    kind: str  # attention | ffn | conv | matmul (quantize.policy)
    precision: str
    reason: str
    error: float | None = None  # the error this layer adds alone (calibration data given), else None


@dataclass
class QuantizationReport:
    path: str
    mode: str
    layers: list[LayerReport]
    size_before: int  # bytes of weights, fp32 as compiled
    size_after: int  # bytes of weights as stored in the output
    metric: str | None = None
    score: float | None = None  # the metric of the written model over the calibration data
    target: float | None = None
    fallbacks: list[str] = field(default_factory=list)  # layers the guard put back to fp32, in order

    def count(self, precision: str) -> int:
        return sum(1 for layer in self.layers if layer.precision == precision)

    def __str__(self) -> str:
        lines = [
            f"{self.path}: {self.mode} quantization, {len(self.layers)} layers "
            f"({self.count('int4')} int4, {self.count('int8')} int8, {self.count('bf16')} bf16, "
            f"{self.count('fp32')} fp32)",
            f"weights {self.size_before / 2**20:.1f} MiB -> {self.size_after / 2**20:.1f} MiB "
            f"({100 * (1 - self.size_after / max(self.size_before, 1)):.0f}% smaller)",
        ]
        if self.metric is not None:
            lines.append(f"{self.metric} {self.score:.5f} (target {self.target}); {len(self.fallbacks)} fallbacks")
        w = max([len(layer.name) for layer in self.layers] + [5])
        lines.append(f"{'layer':<{w}}  {'kind':<9} {'prec':<5} {'error':>9}  why")
        for layer in self.layers:
            err = f"{layer.error:9.2e}" if layer.error is not None else f"{'-':>9}"
            lines.append(f"{layer.name:<{w}}  {layer.kind:<9} {layer.precision:<5} {err}  {layer.reason}")
        return "\n".join(lines)


def _compiled_fp32(model: Any) -> tuple[Model, str]:
    """The model after the graph passes (names final, fp32), and where it came from."""
    from ..convert import ModelConverter

    if isinstance(model, Model):
        base, source = model, model.metadata.get("source", "<model>")
    elif isinstance(model, (str, os.PathLike)):
        path = Path(model)
        if not path.exists():
            raise FileNotFoundError(f"quantize: no model at {path}")
        if path.suffix.lower() == ".onnx":
            return ModelConverter(path, target_hardware="cpu").compile(), str(path)
        base, source = load_model(path), str(path)
    else:
        raise TypeError(f"quantize: model must be a .onnx or .r1 path or a Model, got {type(model).__name__}")
    info = base.compile_info
    if info is not None and info.precision == "int8":
        raise ModelError(f"{source} is quantized already (precision int8): quantize its fp32 model instead")
    if info is not None and info.precision == "bf16" and info.device_passes:
        raise ModelError(f"{source} stores bf16 weights: quantize its fp32 model instead")
    graph = base.graph.clone()
    passes: tuple[str, ...] = info.graph_passes if info is not None else ()
    if info is None:
        rep = optimize_graph(graph, DEFAULT_LEVEL, "fp32", stages="graph")
        passes = tuple(p["name"] for p in rep.passes if p["stage"] == "graph")
    level = info.level if info is not None else DEFAULT_LEVEL
    meta = {k: v for k, v in base.metadata.items() if k not in COMPILE_KEYS}
    meta.update(CompileInfo(f"deepseek_r1 {__version__}", level, passes, (), "cpu", "fp32").metadata())
    return Model(graph, meta), source


def _with_choices(base: Model, choices: Mapping[str, Choice]) -> Model:
    info = base.compile_info
    assert info is not None
    meta = dict(base.metadata)
    meta.update(
        CompileInfo(
            info.compiler, info.level, info.graph_passes, (), "cpu", "int8", tuple(as_overrides(choices))
        ).metadata()
    )
    return Model(base.graph, meta)


def _samples(calibration_data: Iterable[Mapping[str, np.ndarray]] | None, progress: bool | None) -> list[dict] | None:
    if calibration_data is None:
        return None
    if isinstance(calibration_data, Mapping):
        raise TypeError("calibration_data must be an iterable of input dicts (one dict per sample), not one dict")
    out = []
    with Progress(None, "reading calibration data", progress) as bar:
        for i, s in enumerate(calibration_data):
            if not isinstance(s, Mapping):
                raise TypeError(f"calibration sample {i} must be a dict of input name -> array, got {type(s).__name__}")
            out.append(dict(s))
            bar.advance()
    if not out:
        raise ValueError("calibration_data is empty: give at least one sample (a dict of model inputs)")
    return out


def _run_all(model: Model, samples: list[dict], label: str, progress: bool | None, threads: int | None) -> Outputs:
    from ..engine import InferenceEngine

    engine = InferenceEngine(model, precision=model.compile_info.precision if model.compile_info else None,
                             num_threads=threads)  # fmt: skip
    outs = []
    with Progress(len(samples), label, progress) as bar:
        for i, s in enumerate(samples):
            try:
                outs.append(engine.run(s))
            except Exception as e:
                raise type(e)(f"calibration sample {i}: {e}") from e
            bar.advance()
    return outs


def quantize(
    model: Any,
    output_path: str | os.PathLike | None = None,
    mode: str = "dynamic",
    calibration_data: Iterable[Mapping[str, np.ndarray]] | None = None,
    method: str = "minmax",
    per_channel: bool = True,
    policy: Mapping[str, str] | None = None,
    exclude: Iterable[str] | None = None,
    accuracy: Mapping[str, Any] | None = None,
    target_hardware: str = "native",
    num_threads: int | None = None,
    progress: bool | None = None,
    bits: int = 4,
) -> QuantizationReport:
    """Quantizes `model` (a .onnx or .r1 path, or a Model) and writes a .r1 file; returns the report.

    policy: {kind or node-name glob: "fp32" | "bf16" | "int8" | "int4"} (kinds: attention, ffn, conv, matmul; plus
    "default", int8 when absent). exclude: kinds or globs kept at fp32. accuracy: {"metric": "cosine",
    "min": 0.99} (or "max_abs" with "max", or a callable with "min") turns on the guard; it needs
    calibration_data (an iterable of input dicts). target_hardware: the CPU profile row the weights are
    packed for ("native", or "cpu" to store them unpacked and quantize at load). progress: a progress bar on
    stderr (None: when stderr is a terminal). bits: for mode="weights_only", 4 (group-wise int4, 128 weights per
    scale) or 8 (int8 per output channel)."""
    from ..convert.targets import resolve_target

    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not available; supported: {', '.join(MODES)}")
    if mode == "weights_only" and bits not in (4, 8):
        raise ValueError(f"bits must be 4 or 8 for mode 'weights_only', got {bits!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if mode != "static" and method != "minmax":
        raise ValueError(
            f"method {method!r} calibrates static activation ranges; mode {mode!r} measures them on every "
            "call and takes method='minmax' only"
        )
    if mode == "static" and calibration_data is None:
        raise ValueError("mode 'static' needs calibration_data: the activation ranges are measured on it")
    if not per_channel:
        raise ValueError(
            "per_channel=False is not supported: per-output-channel weight scales cost nothing at run time "
            "in this engine's int8 GEMM and are more accurate than one scale per tensor"
        )
    if accuracy is not None and calibration_data is None:
        raise ValueError("accuracy needs calibration_data: the guard measures the error on it")
    target = resolve_target(target_hardware)
    if target.kind == "gpu":
        raise ValueError(f"int8 runs on the CPU; target_hardware {target.name!r} is a GPU row")
    base, _ = _compiled_fp32(model)
    if mode == "weights_only":
        # Weight-only: the products' (and tables') weights shrink; convs keep fp32 unless the policy names them.
        choices = decide(base.graph.nodes(), {"conv": "fp32", **(policy or {})}, exclude or (), f"int{bits}")
    else:
        choices = decide(base.graph.nodes(), policy, exclude or ())
    if not any(c.precision != "fp32" for c in choices.values()):
        raise ValueError("the policy keeps every layer at fp32: nothing to quantize")
    samples = _samples(calibration_data, progress)
    fp32_base = base
    if mode == "static":
        assert samples is not None
        lowered = [n for n, c in choices.items() if c.precision == "int8"]  # int4 products quantize rows anyway
        base = apply_static(base, collect_ranges(base, lowered, samples, method, num_threads, progress))
    errors: dict[str, float] = {}
    guard = None
    fallbacks: list[str] = []
    score = None
    if samples is not None:
        reference = _run_all(fp32_base, samples, "fp32 reference", progress, num_threads)
        guard = Guard(accuracy if accuracy is not None else {"metric": "cosine", "min": -1.0}, reference)
        fp32 = {n: Choice("fp32", c.reason, c.kind) for n, c in choices.items()}
        lowered = [n for n, c in choices.items() if c.precision != "fp32"]
        with Progress(len(lowered), "measuring each layer's error", progress) as bar:
            for name in lowered:
                alone = dict(fp32)
                alone[name] = choices[name]
                errors[name] = guard.error(
                    guard.score(_run_all(_with_choices(base, alone), samples, "", False, num_threads))
                )
                bar.advance()
        score = guard.score(_run_all(_with_choices(base, choices), samples, "quantized", progress, num_threads))
        if accuracy is not None:
            # Worst layers first, back to fp32 one at a time until the target holds.
            for name in sorted(lowered, key=lambda n: -errors[n]):
                if guard.holds(score):
                    break
                choices[name] = Choice(
                    "fp32",
                    f"accuracy guard: its error ranked {len(fallbacks) + 1} of {len(lowered)}",
                    choices[name].kind,
                )
                fallbacks.append(name)
                score = guard.score(_run_all(_with_choices(base, choices), samples, "", False, num_threads))
            if not guard.holds(score):
                raise ModelError(
                    f"the accuracy target ({guard.name} {'>=' if guard.higher else '<='} {guard.target}) does not "
                    f"hold even with every layer at fp32 (score {score:.5f}): check the metric"
                )
    out_model = _with_choices(base, choices)
    if target.kind == "cpu":
        graph = base.graph.clone()
        info = out_model.compile_info
        assert info is not None
        dev = optimize_graph(graph, info.level, "int8", stages="device", cpu_target=target.flags,
                             precision_overrides=info.precision_overrides)  # fmt: skip
        meta = dict(out_model.metadata)
        meta.update(
            CompileInfo(info.compiler, info.level, info.graph_passes, tuple(dev.pass_names), target.name, "int8",
                        info.precision_overrides).metadata()
        )  # fmt: skip
        meta["quantization"] = mode
        out_model = Model(graph, meta)
    suffix = f"int{bits}" if mode == "weights_only" else "int8"
    out = Path(output_path) if output_path else _default_output(model, suffix)
    save_model(out_model, out)
    layers = [LayerReport(n, c.kind, c.precision, c.reason, errors.get(n)) for n, c in choices.items()]
    _what_runs(out_model, layers)
    return QuantizationReport(
        str(out),
        mode,
        layers,
        int(base.graph.constant_bytes),
        int(out_model.graph.constant_bytes),
        guard.name if guard is not None and accuracy is not None else ("cosine" if guard is not None else None),
        score,
        guard.target if guard is not None and accuracy is not None else None,
        fallbacks,
    )


def _what_runs(model: Model, layers: list[LayerReport]) -> None:
    """Corrects each layer's precision to what the compiled graph runs (the precision pass has the last word:
    a depthwise conv, say, keeps fp32 under an int8 policy) and says why."""
    graph = model.graph
    info = model.compile_info
    if info is not None and not info.device_passes:  # portable file: run the precision pass alone on a copy
        graph = graph.clone()
        skip = [p for p in pass_names(3, "device") if p != "precision"]
        optimize_graph(graph, info.level, info.precision, skip, stages="device",
                       precision_overrides=info.precision_overrides)  # fmt: skip
    actual = {n["name"]: n["precision"] or "fp32" for n in graph.nodes()}
    for layer in layers:
        got = actual.get(layer.name, actual.get(layer.name + "_int8"))  # a quantized table: r1::GatherDequant
        if got is not None and got != layer.precision:
            layer.reason += f"; {layer.precision} not available for this layer here, runs {got}"
            layer.precision = got


def _default_output(model: Any, suffix: str) -> Path:
    if isinstance(model, (str, os.PathLike)):
        p = Path(model)
        return p.with_name(f"{p.stem}.{suffix}.r1")
    return Path(f"model.{suffix}.r1")
