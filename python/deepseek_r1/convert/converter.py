"""ModelConverter: ONNX files, PyTorch modules or TensorFlow models -> a compiled `.r1` file.

    ModelConverter(input_model="model.onnx", framework="onnx").convert()            # -> "model.r1"
    ModelConverter(input_model=net, framework="pytorch", example_inputs=(x,),
                   output_path="net.r1").convert()
    ModelConverter(input_model="saved_model_dir", framework="tensorflow").convert()  # or a Keras model / .keras / .h5
    ModelConverter("model.onnx", target_hardware="native").convert()   # packed for this CPU too

Compiling happens here, once: the graph passes (folding, fusions, layout: levels 1-3, see
compiler.py) run and the optimized graph is written, with the level, the passes and the compiler
version in the file's metadata. An engine loading the file runs only the device passes. For a CPU
profile row as target_hardware the device passes run here too, so the GEMM weights are stored packed
for that CPU and loading packs nothing (see targets.py).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from .._core import ModelError
from ..compiler import DEFAULT_LEVEL, OptimizeReport, _check_level, optimize_graph
from ..model import CompileInfo, Model, save_model
from .targets import resolve_target

FRAMEWORKS = ("onnx", "pytorch", "tensorflow")
CPU_PRECISIONS = ("fp32", "bf16", "int8")
GPU_PRECISIONS = ("fp32", "fp16", "bf16")


class ModelConverter:
    def __init__(
        self,
        input_model: Any,
        framework: str = "onnx",
        target_hardware: str = "cpu",
        output_path: str | os.PathLike | None = None,
        example_inputs: Sequence[Any] | None = None,
        input_names: Sequence[str] | None = None,
        output_names: Sequence[str] | None = None,
        dynamic_axes: dict | None = None,
        opset: int = 17,
        dynamo: bool = False,
        optimization_level: int = DEFAULT_LEVEL,
        precision: str = "fp32",
        disabled_passes: Sequence[str] = (),
        precision_overrides: Sequence[tuple[str, str]] = (),
    ):
        """target_hardware: "cpu" (portable: the graph passes only), "native" (this machine's CPU profile
        row), a CPU profile row ("avx512_bf16", ...: weights stored packed for it) or a GPU profile row.
        precision: what engines open the file with by default ("bf16" on a CPU row also packs bf16
        weights; "int8" quantizes the weights of products with constant weights, per output channel;
        "fp16" needs a GPU row). optimization_level 0-3 as in InferenceEngine. precision_overrides:
        (glob over node names, precision) pairs, first match wins (r1.quantize's layer policy); stored
        in the file and applied again by engines that open it at its precision."""
        if framework not in FRAMEWORKS:
            raise ValueError(f"framework must be one of {FRAMEWORKS}, got {framework!r}")
        self.target = resolve_target(target_hardware)
        precisions = GPU_PRECISIONS if self.target.kind == "gpu" else CPU_PRECISIONS
        if precision not in precisions:
            raise ValueError(
                f"precision {precision!r} is not available for target_hardware {self.target.name!r}; "
                f"supported: {', '.join(precisions)}"
            )
        _check_level(optimization_level)
        self.input_model = input_model
        self.framework = framework
        self.target_hardware = self.target.name
        self.optimization_level = optimization_level
        self.precision = precision
        self.disabled_passes = tuple(disabled_passes)
        self.precision_overrides = tuple((str(p), str(q)) for p, q in precision_overrides)
        self.report: OptimizeReport | None = None  # what the passes did, after compile()
        self.output_path = output_path
        self.example_inputs = example_inputs
        self.input_names = input_names
        self.output_names = output_names
        self.dynamic_axes = dynamic_axes
        self.opset = opset
        self.dynamo = dynamo

    def _default_output(self) -> Path:
        if self.framework in ("onnx", "tensorflow") and isinstance(self.input_model, (str, os.PathLike)):
            p = Path(self.input_model)
            return p.with_suffix(".r1") if p.suffix else p.with_name(p.name + ".r1")
        return Path(f"{type(self.input_model).__name__.lower()}.r1")

    def compile(self) -> Model:
        """Builds the compiled model in memory without writing it."""
        from .onnx_import import load_onnx  # the onnx package: imported when a model is converted, not at import

        if self.framework == "onnx":
            graph = load_onnx(self.input_model)
            source = os.fspath(self.input_model) if isinstance(self.input_model, (str, os.PathLike)) else "<onnx>"
        elif self.framework == "tensorflow":
            from .tensorflow_export import export_to_onnx

            graph = load_onnx(export_to_onnx(self.input_model, self.input_names, self.opset))
            source = (
                os.fspath(self.input_model)
                if isinstance(self.input_model, (str, os.PathLike))
                else f"tensorflow:{type(self.input_model).__name__}"
            )
        else:
            graph = self._from_pytorch()
            source = f"pytorch:{type(self.input_model).__name__}"
        level, precision, disabled = self.optimization_level, self.precision, self.disabled_passes
        # The graph passes do not depend on the precision (a device choice: precision marking, float conversion).
        report = optimize_graph(graph, level, "fp32", disabled, stages="graph")
        device_passes: tuple[str, ...] = ()
        if self.target.kind == "cpu":
            dev = optimize_graph(
                graph,
                level,
                precision,
                disabled,
                stages="device",
                cpu_target=self.target.flags,
                precision_overrides=self.precision_overrides,
            )
            device_passes = tuple(dev.pass_names)
            report = OptimizeReport(level, report.nodes_before, dev.nodes_after, report.passes + dev.passes)
        self.report = report
        info = CompileInfo(
            f"deepseek_r1 {__version__}",
            level,
            tuple(p["name"] for p in report.passes if p["stage"] == "graph"),
            device_passes,
            self.target.name,
            precision,
            self.precision_overrides,
        )
        return Model(graph, {"source": source, "framework": self.framework, **info.metadata()})

    def convert(self) -> str:
        """Compiles and writes the `.r1` file; returns its path."""
        out = Path(self.output_path) if self.output_path else self._default_output()
        save_model(self.compile(), out)
        return str(out)

    def _from_pytorch(self):
        from .onnx_import import load_onnx
        from .pytorch_export import export_to_onnx

        if self.example_inputs is None:
            raise ModelError("framework='pytorch' needs example_inputs (a tuple of tensors to trace with)")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.onnx"
            export_to_onnx(
                self.input_model,
                tuple(self.example_inputs),
                path,
                input_names=self.input_names,
                output_names=self.output_names,
                dynamic_axes=self.dynamic_axes,
                opset=self.opset,
                dynamo=self.dynamo,
            )
            # Weights are views of the parsed protobuf (or an mmap of its external data, which
            # stays valid after the temporary directory is removed), so the graph outlives it.
            return load_onnx(path)
