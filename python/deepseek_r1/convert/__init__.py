"""Model conversion: ONNX (parsed by the onnx package), PyTorch (through torch.onnx), into r1 graphs.

The onnx package (~50 ms to import) is imported when a model is parsed, not with deepseek_r1: serving a
compiled .r1 never needs it.
"""

from .converter import ModelConverter


def load_onnx(source):
    """Parses an ONNX model (path, bytes or onnx.ModelProto) into a verified r1 graph (onnx_import.py)."""
    from .onnx_import import load_onnx as _load

    return _load(source)


__all__ = ["ModelConverter", "load_onnx"]
