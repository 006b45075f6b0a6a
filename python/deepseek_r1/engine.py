"""InferenceEngine: runs a compiled model on a device.

engine = InferenceEngine("model.r1", device="cpu", num_threads=2)
out = engine.run({"input_ids": ids, "attention_mask": mask})       # dict name -> np.ndarray
outs = engine.batch_infer([{"x": a}, {"x": b}, ...], batch_size=64)  # list of dicts

engine = InferenceEngine("big.r1", memory_budget={"cpu": "2GiB"})   # weights stream from disk (tiering.py)
engine.tiering_report()
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import gpu, tiering
from ._core import DeviceError, Executor, InputError, ModelError
from .compiler import DEFAULT_LEVEL, _check_level, optimize_graph, pass_names
from .convert.targets import target_mismatch
from .dtypes import R1_TO_NUMPY
from .failover import Failover
from .input_check import arrange
from .model import CompileInfo, Model, load_model


def _c_contiguous(a: np.ndarray) -> np.ndarray:
    """C-contiguous without changing the rank (np.ascontiguousarray turns 0-d arrays into 1-d)."""
    a = np.asarray(a)
    return a if a.flags.c_contiguous else np.array(a, order="C")


PRECISIONS = ("fp32", "bf16", "int8")  # int8: dynamic quantization of the products with constant weights
# On a GPU, fp16 / bf16 convert the whole graph (float32 inputs and outputs are cast at the edges).
GPU_PRECISIONS = ("fp32", "fp16", "bf16")
MAX_THREADS = 1024  # ThreadPool::kMaxThreads


@dataclass(frozen=True)
class TensorInfo:
    """A model input or output: name, dtype name, and shape (ints, symbolic names, or None)."""

    name: str
    dtype: str
    shape: tuple | None
    kind: str = "tensor"  # or "sequence", "optional", "optional sequence" (ONNX's sequence and optional types)

    @property
    def numpy_dtype(self) -> np.dtype:
        return R1_TO_NUMPY[self.dtype]


Inputs = Mapping[str, np.ndarray] | Sequence[np.ndarray]


class CompileTargetWarning(UserWarning):
    """A .r1 file compiled for another CPU profile or device: it runs, after redoing the device passes."""


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, CompileTargetWarning, stacklevel=3)


def _check_precision(precision: str | None, info: CompileInfo | None, device: str) -> str:
    """The precision to run at: the one asked for, else the file's. A file whose weights were packed in
    bf16 cannot give fp32 results back: that is an error naming both."""
    compiled = info.precision if info is not None else "fp32"
    if precision is None:
        precision = compiled if device != "cpu" or compiled in PRECISIONS else "fp32"
    precisions = PRECISIONS if device == "cpu" else GPU_PRECISIONS
    if precision not in precisions:
        raise ValueError(f"precision '{precision}' is not available on {device}; supported: {', '.join(precisions)}")
    # Weights stored in a lossy form cannot give the higher precision back.
    lossy = {"bf16": ("fp32",), "int8": ("fp32", "bf16")}
    if info is not None and "weight_prepack" in info.device_passes and precision in lossy.get(compiled, ()):
        stored = "bf16" if compiled == "bf16" else "int8 (quantized)"
        raise ModelError(
            f"this .r1 file was compiled for {info.target} with precision {compiled} (its weights are stored in "
            f"{stored}), so it cannot run at {precision}; convert the model again with precision='{precision}'"
        )
    return precision


def _check_disabled(disabled: Sequence[str]) -> None:
    graph_only = set(disabled) - set(pass_names(3, "device"))
    if graph_only:
        raise ValueError(
            f"disabled_passes {sorted(graph_only)} are graph passes, which ran when this .r1 file was compiled; "
            "pass disabled_passes to ModelConverter instead"
        )


def _as_model(model: str | os.PathLike | Model, mmap: bool = True) -> Model:
    if isinstance(model, Model):
        return model
    path = Path(model)
    if path.suffix.lower() == ".onnx":
        from .convert.onnx_import import load_onnx

        return Model(load_onnx(path), {"source": str(path)})
    return load_model(path, mmap=mmap)


class InferenceEngine:
    def __init__(
        self,
        model_path: str | os.PathLike | Model,
        device: str = "cpu",
        precision: str | None = None,
        num_threads: int | None = None,
        optimization_level: int = DEFAULT_LEVEL,
        disabled_passes: Sequence[str] = (),
        inter_op: bool = True,
        cuda_graphs: bool = False,
        mmap: bool = True,
        memory_budget: Mapping[str, str | int] | str | None = None,
        offload_dir: str | os.PathLike | None = None,
        prefetch: str | int = "auto",
        shared_memory_pool: bool = False,
        fallback_device: str | None = None,
        fallback_cooldown_s: float = 30.0,
    ):
        """precision: None for the precision the .r1 file was compiled with (fp32 for a graph as imported).
        mmap: map a .r1 file's weights (shared page cache, millisecond start) or, False, read them into
        private memory so that changing the file in place cannot affect this engine (load_model).
        optimization_level applies to the passes that run here: every pass for an .onnx file or a graph as
        imported, only the device passes for a file ModelConverter compiled (its graph passes ran then).

        memory_budget: {"cpu": "2GiB"} on the CPU, {"cuda:0": "8GiB", "cpu": "32GiB"} on a GPU (or "cpu=2GiB"):
        everything the engine holds on the device's tier (resident weights, the weights streaming through,
        activations, read buffers) stays within it; the weights that do not fit stream from the .r1 file on disk
        ahead of the step that reads them (O_DIRECT reads, prefetch: "auto" reads as far ahead as the budget
        allows, a number caps it in steps, "off" reads each on demand). Weights with no home on disk (an .onnx
        model) are first written to an unlinked file in offload_dir (default: the system temp dir). On the CPU,
        when an input's activations do not fit beside the largest step's weights, long-lived ones (skip
        connections) are written to an unlinked file in offload_dir between their reads and read back ahead of
        use. A budget too small for one step's weights is an InputError naming the smallest that works. shared_memory_pool: draw
        the budget from one pool per tier for the whole process (several models in one budget; the models used
        most recently keep their weights resident).

        fallback_device: e.g. "cpu" for a GPU engine: a run that fails with a device error reruns there
        (failover.py); the device is then unhealthy (device_health) for fallback_cooldown_s."""
        if num_threads is not None and (not isinstance(num_threads, int) or not 1 <= num_threads <= MAX_THREADS):
            raise ValueError(f"num_threads must be an int from 1 to {MAX_THREADS}, or None; got {num_threads!r}")
        _check_level(optimization_level)
        if device != "cpu":
            gpu.load_backends()  # registers cuda:N / hip:N when their module is present
            if device not in gpu.devices():
                raise DeviceError(f"device '{device}' is not available; available devices: {', '.join(gpu.devices())}")
        self._budget: dict[str, int] | None = None
        if memory_budget is not None:
            if not mmap:
                raise ValueError("memory_budget streams weights from the mapped .r1 file: it needs mmap=True")
            self._offload_dir = tiering.check_offload_dir(offload_dir)
            self._prefetch = tiering.parse_prefetch(prefetch)
            self._budget = tiering.engine_budget(memory_budget, device)  # checked before the model loads
        self.model = _as_model(model_path, mmap)
        info = self.model.compile_info
        precision = _check_precision(precision, info, device)
        self.device = device
        self.precision = precision
        self.optimization_level = optimization_level
        stages = "all"
        if info is not None:
            # Compiled by ModelConverter: its graph passes ran then; only the device passes run here.
            stages = "device"
            _check_disabled(disabled_passes)
            why = target_mismatch(info.target, device)
            if why is not None:
                where = os.fspath(model_path) if isinstance(model_path, (str, os.PathLike)) else "this model"
                _warn_once(
                    f"{where}: {why}; redoing the device passes "
                    f"({', '.join(pass_names(optimization_level, 'device'))}) for this {device}"
                )
        # The compiler rewrites a copy: the loaded model stays as it was (it may be shared or saved).
        if self._budget is not None and (info is None or target_mismatch(info.target, device) is not None):
            # Packing weights for this CPU at load would make an in-memory copy of every weight: under a budget
            # they stream as stored (convert with target_hardware="native" to store them packed).
            disabled_passes = tuple(disabled_passes) + ("weight_prepack",)
        graph = self.model.graph.clone() if optimization_level > 0 or precision != "fp32" else self.model.graph
        # The file's own layer policy (r1.quantize's) applies when it runs at the precision it was made for.
        overrides = info.precision_overrides if info is not None and precision == info.precision else ()
        self.optimize_report = optimize_graph(
            graph,
            optimization_level,
            precision,
            disabled_passes,
            device=device,
            stages=stages,
            precision_overrides=overrides,
        )
        if self._budget is not None:
            graph = tiering.spill_unhomed(graph, self.model.metadata, self._offload_dir)
        self.graph = graph
        self._num_threads = num_threads or 0
        self._executor = self._make_executor(self._budget, shared=shared_memory_pool)
        self._failover: Failover | None = None
        if fallback_device is not None:
            if fallback_device == device:
                raise ValueError(f"fallback_device must differ from device ('{device}')")
            if fallback_device != "cpu" and fallback_device not in gpu.devices():
                raise DeviceError(f"fallback_device '{fallback_device}' is not available")
            fb_budget = {"cpu": self._budget["cpu"]} if self._budget and "cpu" in self._budget else None
            fb_precision = precision if fallback_device != "cpu" or precision in PRECISIONS else "fp32"

            def make_fallback() -> InferenceEngine:
                return InferenceEngine(
                    self.model, device=fallback_device, precision=fb_precision, num_threads=num_threads,
                    optimization_level=optimization_level, memory_budget=fb_budget,
                )  # fmt: skip

            self._failover = Failover(device, fallback_device, make_fallback, fallback_cooldown_s)
        # Independent GEMMs/convs (Q/K/V projections, parallel branches) run side by side, one per
        # thread, when the schedule has them next to each other (level 3's branch_scheduling).
        self._executor.inter_op = bool(inter_op)
        # GPUs: the second run of each input shape records the kernels into a CUDA / HIP graph and later
        # runs of that shape replay it (where the graph allows: see graph_capture_status).
        self._executor.graph_capture = bool(cuda_graphs)
        g = self.model.graph
        self.inputs = [TensorInfo(n, d, s, k) for (n, d, s), k in zip(g.inputs, g.input_kinds)]
        self.outputs = [TensorInfo(n, d, s, k) for (n, d, s), k in zip(g.outputs, g.output_kinds)]

    def _make_executor(self, budget: dict[str, int] | None, shared: bool) -> Executor:
        if budget is None:
            return Executor(self.graph, self.device, self._num_threads)
        pool, host = tiering.budget_pools(budget, self.device, shared)
        return Executor(
            self.graph, self.device, self._num_threads, memory_pool=pool, host_pool=host, prefetch=self._prefetch,
            offload_dir=self._offload_dir,
        )  # fmt: skip

    def set_memory_pool(self, size: int, shared: bool = True) -> None:
        """Runs this engine within `size` MiB on its device's tier from now on; shared=True draws on one pool
        for every engine of the process on that tier (the most recent size wins), so several models share one
        budget. Weights that do not fit stream from disk, as with memory_budget."""
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ValueError(f"size is MiB as a positive int, got {size!r}")
        budget = dict(self._budget or {})
        budget[self.device] = size << 20
        if self._budget is None:
            self._offload_dir = tiering.check_offload_dir(None)
            self._prefetch = -1
            self.graph = tiering.spill_unhomed(self.graph, self.model.metadata, self._offload_dir)
        executor = self._make_executor(budget, shared)
        executor.inter_op = self._executor.inter_op
        self._executor, self._budget = executor, budget

    def tiering_report(self) -> dict:
        """What memory tiering did: {'enabled': False} without a budget; else the budget per tier, bytes
        resident, weights resident and streamed, bytes streamed in the last run and in all, the read GB/s
        achieved, stall_ms (the compute waiting for weights), hidden_fraction (of the transfer time, the share
        the compute did not wait for), the activation bytes and the pool's use and peak, activations spilled to
        offload_dir (spilled_activations, spilled_bytes_last_run: written + read back, spill_wait_ms_last_run) and
        prefetch_steps_needed (the read-ahead the measured read and compute speeds call for)."""
        if self._budget is None:
            return {"enabled": False}
        return tiering.report(self._executor, self._budget, self.device)

    @property
    def graph_capture_status(self) -> dict:
        """{'enabled', 'capturable', 'reason' (why not, '' when it can be), 'graphs' (captured input shapes),
        'replays'}."""
        ok, why = self._executor.capturable()
        return {
            "enabled": self._executor.graph_capture,
            "capturable": ok,
            "reason": why,
            "graphs": self._executor.captured_graphs,
            "replays": self._executor.graph_replays,
        }

    @property
    def placement(self) -> dict:
        """Where the nodes run: {'device': n, 'cpu': m, 'cpu_ops': {op: count}} (all on 'device' for a CPU
        engine; on a GPU, 'cpu' counts the nodes that fall back to the CPU) and the bytes of weights
        uploaded to the device."""
        dev = self._executor.device_steps
        cpu_ops: dict[str, int] = {}
        for _, op, domain, on_device in self._executor.step_devices():
            if not on_device:
                key = f"{domain}::{op}" if domain else op
                cpu_ops[key] = cpu_ops.get(key, 0) + 1
        return {
            "device": dev,
            "cpu": self._executor.num_steps - dev,
            "cpu_ops": cpu_ops,
            "device_constant_bytes": self._executor.device_constant_bytes,
        }

    @property
    def num_threads(self) -> int:
        return self._executor.num_threads

    @property
    def inter_op(self) -> bool:
        return self._executor.inter_op

    @inter_op.setter
    def inter_op(self, on: bool) -> None:
        self._executor.inter_op = bool(on)

    @property
    def parallel_groups(self) -> int:
        """Groups of independent heavy ops that run side by side (0 at 1 thread)."""
        return self._executor.parallel_groups

    def _arrange(self, inputs: Inputs) -> list:
        # Names and dtypes here (input_check, shared with the server); shapes in the executor, on every run.
        return [a if isinstance(a, tuple) else _c_contiguous(a) for a in arrange(self.inputs, inputs)]

    def _run_arrays(self, arrays: list) -> list:
        if self._failover is not None:
            return self._failover.run(self._executor.run, arrays)
        return self._executor.run(arrays)

    def run(self, inputs: Inputs) -> dict[str, np.ndarray]:
        """Runs the model once; returns a dict output name -> array. The GIL is released while it runs."""
        outs = self._run_arrays(self._arrange(inputs))
        return {info.name: arr for info, arr in zip(self.outputs, outs)}

    @property
    def device_health(self) -> dict:
        """{'device', 'healthy', 'failures', 'last_error', 'fallback_device', 'fallback_runs'}: runs that failed on
        the device and reran on the fallback (failures and fallback_runs stay 0 without a fallback_device)."""
        if self._failover is None:
            return {"device": self.device, "healthy": True, "failures": 0, "last_error": "", "fallback_device": None,
                    "fallback_runs": 0}  # fmt: skip
        return self._failover.health()

    def profile(self, inputs: Inputs, runs: int = 20, warmup: int = 3):
        """Kernel time per op type and per node over `runs` runs (deepseek_r1.profiler)."""
        from .profiler import profile

        return profile(self, inputs, runs=runs, warmup=warmup)

    def memory_report(self) -> dict:
        """The executor's static memory plan: arena_bytes (the planned peak of the plan used last)
        against sum_intermediate_bytes (what allocating every intermediate would take), plus the plan
        cache's plans_cached, plan_hits and plan_misses (and keys_cached, bucket_reuses, replans,
        arenas, total_arena_bytes)."""
        return dict(self._executor.memory_report())

    def batch_infer(self, list_of_inputs: Sequence[Inputs], batch_size: int = 64) -> list[dict[str, np.ndarray]]:
        """Runs many samples, stacking up to `batch_size` along axis 0 per run.

        Each sample holds its inputs with a leading batch dim of 1 (or none: one is added). Samples
        whose other dims differ are grouped by shape, so each run has one shape. Results come back
        in the order given, one dict per sample.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        samples = [self._arrange(s) for s in list_of_inputs]
        results: list[dict | None] = [None] * len(samples)
        groups: dict[tuple, list[int]] = {}
        for i, arrays in enumerate(samples):
            key = tuple(a.shape[1:] if self._has_batch(a, k) else a.shape for k, a in enumerate(arrays))
            groups.setdefault(key, []).append(i)
        for idxs in groups.values():
            for start in range(0, len(idxs), batch_size):
                chunk = idxs[start : start + batch_size]
                stacked = [
                    np.concatenate([self._with_batch(samples[i][k], k) for i in chunk], axis=0)
                    for k in range(len(self.inputs))
                ]
                outs = self._run_arrays(stacked)
                for info, o in zip(self.outputs, outs):
                    if o.ndim == 0 or o.shape[0] != len(chunk):
                        raise InputError(
                            f"batch_infer needs outputs with a leading batch dim; output '{info.name}' "
                            f"has shape {o.shape} for a batch of {len(chunk)} (use run() per sample)"
                        )
                for j, i in enumerate(chunk):
                    results[i] = {info.name: o[j : j + 1] for info, o in zip(self.outputs, outs)}
        return results  # type: ignore[return-value]

    def _has_batch(self, a: np.ndarray, k: int) -> bool:
        shape = self.inputs[k].shape
        if shape is not None and len(shape) == 0:
            raise InputError(
                f"batch_infer cannot batch the scalar input '{self.inputs[k].name}' (use run() per sample)"
            )
        return shape is not None and a.ndim == len(shape)

    def _with_batch(self, a: np.ndarray, k: int) -> np.ndarray:
        if self._has_batch(a, k):
            if a.shape[0] != 1:
                raise InputError(
                    f"batch_infer takes one sample per item; input '{self.inputs[k].name}' has a "
                    f"leading dim of {a.shape[0]}"
                )
            return a
        return a[None, ...]

    def __repr__(self) -> str:
        ins = ", ".join(f"{t.name}: {t.dtype}{list(t.shape or [])}" for t in self.inputs)
        return f"InferenceEngine(device={self.device!r}, inputs=[{ins}])"
