"""Optional GPU backends. deepseek_r1._cuda and deepseek_r1._hip are separate extension modules
(built only where nvcc / hipcc were found); importing one registers its devices into _core.
They are imported on first need, never required: a missing module, a missing runtime library
(libamdhip64) or a missing driver all mean "no GPU devices", not an error.

    import deepseek_r1 as r1
    r1.devices()                     # ['cpu'] here; ['cpu', 'cuda:0', ...] on a GPU machine
    from deepseek_r1 import gpu
    gpu.modules()                    # {'cuda': <module deepseek_r1._cuda>} for those that loaded
    gpu.load_errors()                # {'hip': "libamdhip64.so.5: cannot open ..."} for those that failed
    gpu.module("cuda:0").memory_stats(0)
    gpu.cublas_active()              # True when deepseek_r1._cublas runs the CUDA GEMMs (cuBLASLt)

deepseek_r1._cublas (built where the nvidia-cublas wheel was found; `pip install deepseek_r1[cuda]`
brings the library) is imported after _cuda and replaces its MatMul / Gemm / FusedMatMul kernels
with cuBLASLt ones; a failure to load it is recorded under 'cublas' and the own kernels stay.
deepseek_r1._cusparselt (built where the nvidia-cusparselt-cu13 wheel was found, also in the [cuda] extra) is
imported next and wraps FusedMatMul: products whose constant fp16 / bf16 weight is 2:4 sparse run on cuSPARSELt.
R1_DISABLE_GPU=1 keeps every GPU module unloaded (CPU only); R1_DISABLE_CUBLAS=1 keeps _cublas out and
R1_DISABLE_CUSPARSELT=1 _cusparselt.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType

from . import _core

_BACKENDS = {"cuda": "_cuda", "hip": "_hip"}
_loaded: dict[str, ModuleType] = {}
_errors: dict[str, str] = {}
_tried = False
_cublas: ModuleType | None = None
_cusparselt: ModuleType | None = None
_CUBLASLT = ("nvidia", "cu13", "lib", "libcublasLt.so.13")  # where the nvidia-cublas 13 wheel puts it
_CUSPARSELT = ("nvidia", "cu13", "lib", "libcusparseLt.so.0")  # and nvidia-cusparselt-cu13


def load_backends() -> dict[str, ModuleType]:
    """Imports the GPU modules that exist (once) and returns those that loaded."""
    global _tried
    if _tried or os.environ.get("R1_DISABLE_GPU", "") not in ("", "0"):
        return dict(_loaded)
    _tried = True
    for backend, name in _BACKENDS.items():
        try:
            _loaded[backend] = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__package__}.{name}":  # the module is there but needs something missing
                _errors[backend] = str(e)
        except (ImportError, _core.R1Error) as e:  # e.g. libamdhip64.so.5 absent, or a stale build
            _errors[backend] = str(e)
    if "cuda" in _loaded:
        _load_cublas()
        _load_cusparselt()  # after _cublas: it wraps whichever FusedMatMul kernel is registered
    return dict(_loaded)


def _preload_cublaslt(lib: tuple[str, ...] = _CUBLASLT) -> bool:
    """Loads libcublasLt.so.13 (or another wheel library) from an nvidia wheel on sys.path with RTLD_GLOBAL, so
    that _cublas's dependency resolves by its soname where the RPATH ($ORIGIN/../nvidia/cu13/lib) does not
    reach (the package and the wheel in different site-packages, a source tree on PYTHONPATH)."""
    import ctypes

    for base in sys.path:
        path = os.path.join(base or os.curdir, *lib)
        if os.path.isfile(path):
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            return True
    return False


def _load_cublas() -> None:
    global _cublas
    if os.environ.get("R1_DISABLE_CUBLAS", "") not in ("", "0"):
        return
    name = f"{__package__}._cublas"
    try:
        if importlib.util.find_spec(name) is None:  # not built (no nvidia-cublas at build time)
            return
        try:
            _cublas = importlib.import_module(name)
        except ImportError as e:
            if "libcublasLt" not in str(e):
                raise
            if not _preload_cublaslt():
                raise ImportError(f"{e} (pip install 'nvidia-cublas>=13,<14', the deepseek_r1[cuda] extra)") from e
            _cublas = importlib.import_module(name)
    except Exception as e:  # never breaks the import: the CUDA backend keeps its own GEMM kernels
        _errors["cublas"] = str(e)


def _load_cusparselt() -> None:
    global _cusparselt
    if os.environ.get("R1_DISABLE_CUSPARSELT", "") not in ("", "0"):
        return
    name = f"{__package__}._cusparselt"
    try:
        if importlib.util.find_spec(name) is None:  # not built (no nvidia-cusparselt-cu13 at build time)
            return
        try:
            _cusparselt = importlib.import_module(name)
        except ImportError as e:
            if "libcusparseLt" not in str(e):
                raise
            if not _preload_cublaslt(_CUSPARSELT):
                raise ImportError(f"{e} (pip install 'nvidia-cusparselt-cu13>=0.10,<1', the [cuda] extra)") from e
            _cusparselt = importlib.import_module(name)
    except Exception as e:  # never breaks the import: FusedMatMul keeps its dense kernels
        _errors["cusparselt"] = str(e)


def cusparselt_active() -> bool:
    """Whether deepseek_r1._cusparselt loaded: 2:4 sparse fp16 / bf16 products run on cuSPARSELt."""
    load_backends()
    return _cusparselt is not None


def cublas_active() -> bool:
    """Whether deepseek_r1._cublas loaded and replaced the CUDA backend's MatMul / Gemm / FusedMatMul
    kernels with cuBLASLt ones (on every CUDA device; there may be none)."""
    load_backends()
    return _cublas is not None


def modules() -> dict[str, ModuleType]:
    return load_backends()


def load_errors() -> dict[str, str]:
    """Why GPU modules that exist could not be imported (empty when none failed)."""
    load_backends()
    return dict(_errors)


def module(device: str) -> ModuleType:
    """The module behind a device name ("cuda:0" -> deepseek_r1._cuda); KeyError when not loaded."""
    backend = device.split(":", 1)[0]
    mods = load_backends()
    if backend not in mods:
        raise KeyError(f"no GPU module is loaded for '{device}' (loaded: {sorted(mods) or 'none'})")
    return mods[backend]


def devices() -> list[str]:
    """Devices present: 'cpu', then 'cuda:N' / 'hip:N' for each GPU of a loaded module."""
    load_backends()
    return _core.devices()
