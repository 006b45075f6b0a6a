"""Memory tiering for InferenceEngine: the budgets, the offload directory, and the report.

    eng = InferenceEngine("big.r1", memory_budget={"cpu": "2GiB"}, offload_dir="/nvme/tmp")
    eng.run(feeds); eng.tiering_report()   # bytes resident, bytes streamed a run, read GB/s, stall, ...

The stream pipeline itself is C++ (cpp/r1/runtime/weight_streamer.h): weights stream from their home on disk,
the mapped .r1 file, with O_DIRECT reads ahead of the step that reads them. Weights with no home on disk (an
.onnx model, or weights a pass rewrote at load) are first written to an unlinked file in `offload_dir`.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

from . import _core
from .memory_budget import parse_budget

MIN_STREAM_BYTES = 64 << 10  # smaller constants stay in memory (WeightStreamer's default)


def check_offload_dir(offload_dir: str | os.PathLike | None) -> str:
    """The directory spilled weights go to (default: the system temp dir); ValueError when it cannot be written."""
    path = Path(offload_dir) if offload_dir is not None else Path(tempfile.gettempdir())
    if not path.is_dir():
        raise ValueError(f"offload_dir '{path}' is not a directory")
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise ValueError(f"offload_dir '{path}' is not writable: {e.strerror or e}") from None
    return os.fspath(path)


def engine_budget(memory_budget, device: str) -> dict[str, int]:
    """{tier: bytes} for an engine on `device`: it must name the device's tier, and may name the host's ("cpu")."""
    budget = parse_budget(memory_budget)
    if device not in budget:
        have = ", ".join(budget)
        raise ValueError(
            f"memory_budget has no entry for the engine's device '{device}' (it has {have}); "
            f"the weights stream into {device}'s memory, so give e.g. {{'{device}': '8GiB'}}"
        )
    extra = set(budget) - {device, "cpu"}
    if extra:
        raise ValueError(f"memory_budget names {sorted(extra)}, which this engine on {device} does not use")
    return budget


def budget_pools(
    budget: dict[str, int], device: str, shared: bool = False
) -> tuple[_core.MemoryPool, _core.MemoryPool | None]:
    """(the device tier's pool, the host tier's pool on a GPU or None) for a budget engine_budget checked."""

    def pool(tier: str) -> _core.MemoryPool:
        return _core.MemoryPool.shared(tier, budget[tier]) if shared else _core.MemoryPool(tier, budget[tier])

    host = pool("cpu") if device != "cpu" and "cpu" in budget else None
    return pool(device), host


def spill_unhomed(graph: _core.Graph, metadata: dict, offload_dir: str) -> _core.Graph:
    """The graph with every weight on disk: written as an .r1 file in offload_dir, mapped, and unlinked (the
    engine keeps the open file; nothing is left behind when it goes). Returns `graph` when nothing needs it."""
    if _core.unhomed_weight_bytes(graph, MIN_STREAM_BYTES) == 0:
        return graph
    fd, name = tempfile.mkstemp(prefix="r1-offload-", suffix=".r1", dir=offload_dir)
    os.close(fd)
    try:
        _core.save_r1(graph, {str(k): str(v) for k, v in metadata.items()}, name)
        spilled, _ = _core.load_r1(name, False, True)  # just written: no checksum pass over it
    finally:
        os.unlink(name)
    return spilled


def parse_prefetch(prefetch: str | int) -> int:
    """ "auto" -> -1 (as far ahead as the budget allows), "off" -> 0, or a number of steps >= 0."""
    if prefetch == "auto":
        return -1
    if prefetch == "off":
        return 0
    if isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 0:
        raise ValueError(f"prefetch must be 'auto', 'off' or a number of steps >= 0, got {prefetch!r}")
    return prefetch


def prefetch_needed(s: dict) -> int | None:
    """The read-ahead, in steps, that the last run's measurements call for: the time to read one weight over the
    compute time of one weight-reading step, plus the step being read for, in the run's steps. prefetch="auto"
    reads as far ahead as the budget allows, never less than this; on a shared pool, prefetch=<this> holds less
    memory that other engines could keep resident. None before a run that read weights."""
    loads, wsteps, steps = s.get("last_loads"), s.get("weight_steps"), s.get("num_steps")
    compute_s = s["last_run_s"] - s["last_stall_s"]
    if not loads or not wsteps or compute_s <= 0 or s["last_read_s"] <= 0:
        return None
    per_read, per_step = s["last_read_s"] / loads, compute_s / wsteps
    return min(steps, math.ceil((math.ceil(per_read / per_step) + 1) * steps / wsteps))


def report(executor: _core.Executor, budget: dict[str, int], device: str) -> dict:
    """What the tiering did: see InferenceEngine.tiering_report."""
    s = executor.tiering_stats()
    read_s, stall_s = s["last_read_s"], s["last_stall_s"]
    return {
        "enabled": True,
        "budget_bytes": dict(budget),
        "resident_bytes": {device: s["resident_bytes"] + s["fixed_bytes"]},
        "weights": s["weights"],
        "weight_bytes": s["weight_bytes"],
        "resident_weights": s["resident"],
        "resident_weight_bytes": s["resident_bytes"],
        "loaded_weight_bytes": s["loaded_bytes"],
        "streamed_weights": s["weights"] - s["resident"],
        "min_budget_bytes": s["min_budget"],
        "activation_bytes": s["activation_bytes"],
        "pool_used_bytes": s["pool_used"],
        "pool_peak_bytes": s["pool_peak"],
        "runs": s["runs"],
        "streamed_bytes_last_run": s["last_bytes_read"],
        "streamed_bytes_total": s["bytes_read"],
        "read_s_total": s["read_s"],
        "stall_s_total": s["stall_s"],
        "read_s_last_run": read_s,
        "read_gbps": (s["last_bytes_read"] / read_s / 1e9) if read_s > 0 else 0.0,
        "stall_ms_last_run": stall_s * 1e3,
        "run_ms_last_run": s["last_run_s"] * 1e3,
        # The share of the run's transfer time the compute did not wait for.
        "hidden_fraction": max(0.0, min(1.0, 1.0 - stall_s / read_s)) if read_s > 0 else 1.0,
        "buffer_reuses": s["reused_buffers"],
        "prefetch_steps_needed": prefetch_needed(s),
        # Activations written to offload_dir between their reads (CPU, when the arena does not fit beside the
        # largest step's weights): storages spilled by the last spilling plan, bytes written + read back.
        "spilled_activations": s["spills"],
        "spilled_bytes_last_run": s["last_spill_bytes"],
        "spilled_bytes_total": s["spill_bytes"],
        "spill_wait_ms_last_run": s["last_spill_wait_s"] * 1e3,
    }
