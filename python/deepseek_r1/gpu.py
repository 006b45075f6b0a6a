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

R1_DISABLE_GPU=1 keeps every GPU module unloaded (CPU only).
"""
from __future__ import annotations

import importlib
import os
from types import ModuleType

from . import _core

_BACKENDS = {"cuda": "_cuda", "hip": "_hip"}
_loaded: dict[str, ModuleType] = {}
_errors: dict[str, str] = {}
_tried = False


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
    return dict(_loaded)


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
