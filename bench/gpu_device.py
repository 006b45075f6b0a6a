"""Is there a CUDA device, and which driver? ctypes against the driver library (no torch import on machines
without one), pynvml / nvidia-smi for the driver version, torch for the device properties.
"""

from __future__ import annotations

import ctypes
import subprocess

# --------------------------------------------------------------------------------------------------
# Is there a CUDA device? (ctypes against the driver: no torch import on machines without one)


def probe_cuda() -> tuple[int, str]:
    """(number of CUDA devices the driver reports, why none when 0). Honours CUDA_VISIBLE_DEVICES."""
    lib = None
    for name in ("libcuda.so.1", "libcuda.so", "libcuda.dylib", "nvcuda.dll"):
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    if lib is None:
        return 0, "the CUDA driver library (libcuda.so.1) is not installed"
    rc = lib.cuInit(0)
    if rc != 0:
        why = {
            100: "no CUDA-capable device is visible",
            999: "unknown driver error",
            3: "driver not initialized",
            35: "the driver is older than the runtime",
        }.get(rc, "")
        return 0, f"cuInit failed with CUresult {rc}" + (f" ({why})" if why else "")
    n = ctypes.c_int(0)
    rc = lib.cuDeviceGetCount(ctypes.byref(n))
    if rc != 0:
        return 0, f"cuDeviceGetCount failed with CUresult {rc}"
    return (n.value, "") if n.value > 0 else (0, "the driver reports 0 devices")


def cuda_driver_api_version() -> str:
    try:
        lib = ctypes.CDLL("libcuda.so.1")
        v = ctypes.c_int(0)
        if lib.cuDriverGetVersion(ctypes.byref(v)) == 0:
            return f"{v.value // 1000}.{(v.value % 1000) // 10}"
    except (OSError, AttributeError):
        pass
    return "?"


def driver_version() -> str:
    try:
        import pynvml

        pynvml.nvmlInit()
        v = pynvml.nvmlSystemGetDriverVersion()
        return v.decode() if isinstance(v, bytes) else str(v)
    except Exception:
        pass
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError):
        pass
    return "?"


def device_info() -> dict:
    import torch

    p = torch.cuda.get_device_properties(0)
    return {
        "name": torch.cuda.get_device_name(0),
        "capability": f"{p.major}.{p.minor}",
        "multiprocessors": p.multi_processor_count,
        "memory_gib": round(p.total_memory / 2**30, 1),
        "driver": driver_version(),
        "cuda_driver_api": cuda_driver_api_version(),
    }
