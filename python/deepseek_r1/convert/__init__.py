"""Model conversion: ONNX (parsed by the onnx package), PyTorch (through torch.onnx), into r1 graphs."""
from .converter import ModelConverter  # noqa: F401
from .onnx_import import load_onnx  # noqa: F401
