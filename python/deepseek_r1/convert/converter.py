"""ModelConverter: ONNX files or PyTorch modules -> a compiled `.r1` file.

ModelConverter(input_model="model.onnx", framework="onnx").convert()            # -> "model.r1"
ModelConverter(input_model=net, framework="pytorch", example_inputs=(x,),
               output_path="net.r1").convert()
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._core import ModelError
from ..model import Model, save_model
from .onnx_import import load_onnx

FRAMEWORKS = ("onnx", "pytorch")
TARGETS = ("cpu",)


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
    ):
        if framework not in FRAMEWORKS:
            raise ValueError(f"framework must be one of {FRAMEWORKS}, got {framework!r}")
        if target_hardware not in TARGETS:
            raise ValueError(f"target_hardware must be one of {TARGETS}, got {target_hardware!r}")
        self.input_model = input_model
        self.framework = framework
        self.target_hardware = target_hardware
        self.output_path = output_path
        self.example_inputs = example_inputs
        self.input_names = input_names
        self.output_names = output_names
        self.dynamic_axes = dynamic_axes
        self.opset = opset
        self.dynamo = dynamo

    def _default_output(self) -> Path:
        if self.framework == "onnx" and isinstance(self.input_model, (str, os.PathLike)):
            return Path(self.input_model).with_suffix(".r1")
        return Path(f"{type(self.input_model).__name__.lower()}.r1")

    def compile(self) -> Model:
        """Builds the compiled model in memory without writing it."""
        if self.framework == "onnx":
            graph = load_onnx(self.input_model)
            source = os.fspath(self.input_model) if isinstance(self.input_model, (str, os.PathLike)) else "<onnx>"
        else:
            graph = self._from_pytorch()
            source = f"pytorch:{type(self.input_model).__name__}"
        return Model(graph, {"source": source, "framework": self.framework, "target": self.target_hardware})

    def convert(self) -> str:
        """Compiles and writes the `.r1` file; returns its path."""
        out = Path(self.output_path) if self.output_path else self._default_output()
        save_model(self.compile(), out)
        return str(out)

    def _from_pytorch(self):
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
