"""deepseek_r1: an inference engine that compiles ONNX / PyTorch models to a native graph.

    import deepseek_r1 as r1
    path = r1.ModelConverter(input_model="model.onnx", framework="onnx").convert()   # -> model.r1
    engine = r1.InferenceEngine(path)
    outputs = engine.run({"input_ids": ids, "attention_mask": mask})
"""
from ._core import (  # noqa: F401
    DeviceError,
    InputError,
    InternalError,
    ModelError,
    R1Error,
    supported_ops,
)
from .compiler import OptimizeReport, optimize, pass_names  # noqa: F401
from .convert import ModelConverter, load_onnx  # noqa: F401
from .engine import InferenceEngine, TensorInfo  # noqa: F401
from .gpu import devices  # noqa: F401  (imports _cuda / _hip when present)
from .hardware import hardware_info, install_at_import as _install_hardware_profile  # noqa: F401
from .model import Model, load_model, save_model  # noqa: F401
from .profiler import ProfileReport, profile  # noqa: F401

_install_hardware_profile()  # CPU tile sizes for this machine (R1_CPU_PROFILE overrides)

__version__ = "0.1.0"


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
    "InferenceEngine",
    "InferenceServer",
    "Client",
    "AsyncClient",
    "ModelConverter",
    "Model",
    "TensorInfo",
    "load_model",
    "save_model",
    "load_onnx",
    "optimize",
    "pass_names",
    "OptimizeReport",
    "profile",
    "ProfileReport",
    "devices",
    "supported_ops",
    "hardware_info",
    "R1Error",
    "ModelError",
    "InputError",
    "DeviceError",
    "InternalError",
]
