"""What `ModelConverter(target_hardware=...)` compiles for, and how a loaded file's target compares.

    t = resolve_target("avx512_bf16")     # CompileTarget(name="avx512_bf16", kind="cpu", flags={...})
    resolve_target("cpu").kind            # "portable": graph passes only, any device redoes the rest
    resolve_target("native").name         # this machine's CPU row, e.g. "avx512_bf16"
    resolve_target("nvidia-h100-sxm5-80gb").kind   # "gpu"

A CPU row (hardware_profiles.json) is compiled for completely: its weights are packed for that CPU's
GEMM kernels and stored in the file, so an engine on such a CPU packs nothing at load. A GPU row
records the target; the GPU's device passes (float conversion) still run at load.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import _core, hardware

PORTABLE = "cpu"
NATIVE = "native"


@dataclass(frozen=True)
class CompileTarget:
    name: str  # "cpu", a CPU row's name, or a GPU row's name
    kind: str  # "portable" | "cpu" | "gpu"
    flags: dict[str, bool] | None = None  # a CPU row's required feature flags (all true)


def this_cpu_row() -> str:
    """The CPU row that describes this machine's CPU (its flags, not $R1_CPU_PROFILE's tile override)."""
    return hardware.select_cpu_row(_core.cpu_features())["name"]


def resolve_target(name: str) -> CompileTarget:
    """ValueError naming every valid target when `name` is none of them."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"target_hardware must be a non-empty string, got {name!r}")
    if name == PORTABLE:
        return CompileTarget(PORTABLE, "portable")
    if name == NATIVE:
        name = this_cpu_row()
    for row in hardware.cpu_rows():
        if row["name"] == name:
            return CompileTarget(name, "cpu", {f: True for f in row.get("requires", [])})
    for row in hardware.gpu_rows():
        if row["name"] == name:
            return CompileTarget(name, "gpu")
    cpus = [r["name"] for r in hardware.cpu_rows()]
    gpus = [r["name"] for r in hardware.gpu_rows()]
    raise ValueError(
        f"unknown target_hardware {name!r}; use {PORTABLE!r} (portable), {NATIVE!r} (this CPU), a CPU profile "
        f"({', '.join(cpus)}) or a GPU profile ({', '.join(gpus)})"
    )


def target_mismatch(target: str, device: str) -> str | None:
    """Why a file compiled for `target` does not fit an engine opening `device` here (None when it fits).

    A portable file fits everything. A CPU row fits a CPU engine on a CPU of that row; a GPU row fits
    a GPU engine. The reason names both sides."""
    if target == PORTABLE:
        return None
    kinds = {r["name"]: "cpu" for r in hardware.cpu_rows()} | {r["name"]: "gpu" for r in hardware.gpu_rows()}
    kind = kinds.get(target)
    if device == "cpu":
        here = this_cpu_row()
        if target == here:
            return None
        what = "CPU profile" if kind == "cpu" else "GPU profile" if kind == "gpu" else "target"
        return f"compiled for {what} '{target}', but this CPU is profile '{here}'"
    if kind == "gpu":
        return None
    return f"compiled for CPU profile '{target}', but the engine runs on {device}"
