"""PyTorch -> ONNX through torch.onnx.export (torch is an optional, pinned extra)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._core import ModelError


def export_to_onnx(
    module: Any,
    example_inputs: tuple,
    path: Path,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dynamic_axes: dict | None = None,
    opset: int = 17,
    dynamo: bool = False,
) -> Path:
    try:
        import torch
    except ImportError:
        raise ModelError("framework='pytorch' needs torch: pip install 'deepseek_r1[export]'") from None
    if not isinstance(module, torch.nn.Module):
        raise ModelError(f"framework='pytorch' expects a torch.nn.Module, got {type(module).__name__}")
    module = module.eval()
    names = list(input_names) if input_names else [f"input_{i}" for i in range(len(example_inputs))]
    if dynamic_axes is None:
        # Batch is dynamic by default, as users expect from a served model.
        dynamic_axes = {n: {0: "batch"} for n in names}
    kwargs: dict = dict(input_names=names, opset_version=opset, dynamo=dynamo)
    if output_names:
        kwargs["output_names"] = list(output_names)
    if dynamo:
        kwargs["dynamic_shapes"] = None
    else:
        kwargs["dynamic_axes"] = dynamic_axes
    with torch.no_grad():
        try:
            torch.onnx.export(module, example_inputs, str(path), **kwargs)
        except Exception as e:
            raise ModelError(f"torch.onnx.export failed: {type(e).__name__}: {e}") from None
    return path
