"""Model conversion: ONNX (parsed by the onnx package), PyTorch (through torch.onnx), into r1 graphs."""

from .converter import ModelConverter
from .onnx_import import load_onnx

__all__ = ["ModelConverter", "load_onnx"]
