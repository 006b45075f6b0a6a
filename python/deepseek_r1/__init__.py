"""deepseek_r1: an inference engine that compiles ONNX / PyTorch models to a native graph.

import deepseek_r1 as r1
path = r1.ModelConverter(input_model="model.onnx", framework="onnx").convert()   # -> model.r1
engine = r1.InferenceEngine(path)
outputs = engine.run({"input_ids": ids, "attention_mask": mask})
"""

__version__ = "0.1.0"  # before the imports: the converter stamps it into .r1 files


import os as _os

import numpy as _np  # noqa: F401  (first: its own OpenBLAS must start with the caller's environment)

# Our bundled OpenBLAS runs single-threaded (the engine's pool does the threading: cpu/gemm/blas.cc), yet at
# load it would start a thread per core and spin them up: ~10-20 ms of every `import deepseek_r1`.
# Saying so in the environment while _core loads skips that; the caller's setting is restored after.
_blas_env = _os.environ.get("OPENBLAS_NUM_THREADS")
_os.environ["OPENBLAS_NUM_THREADS"] = "1"
try:
    from ._core import DeviceError, InputError, InternalError, ModelError, R1Error, supported_ops
finally:
    if _blas_env is None:
        del _os.environ["OPENBLAS_NUM_THREADS"]
    else:
        _os.environ["OPENBLAS_NUM_THREADS"] = _blas_env
from .compiler import OptimizeReport, optimize, pass_names
from .convert import ModelConverter, load_onnx
from .engine import CompileTargetWarning, InferenceEngine, TensorInfo
from .gpu import devices
from .hardware import hardware_info
from .hardware import install_at_import as _install_hardware_profile
from .model import CompileInfo, Model, load_model, save_model
from .profiler import ProfileReport, profile
from .quantize import QuantizationReport, SparsityReport, quantize, sparsify

_install_hardware_profile()  # CPU tile sizes for this machine (R1_CPU_PROFILE overrides)


def __getattr__(name):
    # The server and client pull in starlette / uvicorn / httpx: load them on first use, not at import.
    if name == "InferenceServer":
        from .serve import InferenceServer

        return InferenceServer
    if name in ("Client", "AsyncClient", "ServerError"):
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module 'deepseek_r1' has no attribute {name!r}")


__all__ = [
    "AsyncClient",
    "Client",
    "CompileInfo",
    "CompileTargetWarning",
    "DeviceError",
    "InferenceEngine",
    "InferenceServer",
    "InputError",
    "InternalError",
    "Model",
    "ModelConverter",
    "ModelError",
    "OptimizeReport",
    "ProfileReport",
    "QuantizationReport",
    "R1Error",
    "SparsityReport",
    "TensorInfo",
    "devices",
    "hardware_info",
    "load_model",
    "load_onnx",
    "optimize",
    "pass_names",
    "profile",
    "quantize",
    "save_model",
    "sparsify",
    "supported_ops",
]
