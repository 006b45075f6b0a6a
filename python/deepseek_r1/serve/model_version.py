"""One loaded model version: its engine(s), its batcher, its metrics, and its lifetime while serving.

    mv = await loop.run_in_executor(loader, ModelVersion.load, "bert", "3", path, config, ...)
    with mv.admit():                      # counts the request in flight
        outputs = await mv.infer(inputs, priority="standard", timeout_s=None, disconnected=None)
    mv.retire()                           # hot reload: no new requests; closes when the last one leaves

A retired version keeps its batcher open until its in-flight count reaches zero, so requests admitted before a
reload finish on the version they started on; only then are its engines dropped (their arenas freed).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import numpy as np

from ..dtypes import KSERVE_TO_NUMPY, R1_TO_KSERVE
from ..engine import PRECISIONS, InferenceEngine, TensorInfo
from ..model import load_model
from .batcher import BatcherConfig, DynamicBatcher, PriorityPolicy
from .config import ModelConfig
from .errors import BadRequest, Unavailable
from .metrics import VersionMetrics
from .text_inputs import TextInput


def tensor_metadata(t: TensorInfo) -> dict:
    shape = [d if isinstance(d, int) else -1 for d in (t.shape or ())]
    return {"name": t.name, "datatype": R1_TO_KSERVE.get(t.dtype, t.dtype.upper()), "shape": shape}


class ModelVersion:
    def __init__(
        self,
        name: str,
        version: str,
        path: Path,
        config: ModelConfig,
        engines: dict[str, InferenceEngine],
        metrics: VersionMetrics,
    ):
        self.name, self.version, self.path, self.config = name, version, path, config
        self.engines = engines  # precision -> engine; the first is the primary (config.precision or the file's)
        self.precision = next(iter(engines))
        # The primary's signature (every variant has the same): what requests are checked against and described by.
        self.inputs, self.outputs = engines[self.precision].inputs, engines[self.precision].outputs
        # The variant auto precision switches to: bf16 under an fp32 primary (the only lower precision we build).
        self.low = "bf16" if self.precision == "fp32" and "bf16" in engines else None
        # name -> (KServe datatype, dims with -1 where dynamic; None for an unknown rank): check_request_tensor
        self._wire_inputs = {
            t.name: (
                R1_TO_KSERVE.get(t.dtype, t.dtype.upper()),
                tensor_metadata(t)["shape"] if t.shape is not None else None,
            )
            for t in self.inputs
        }
        self.metrics = metrics
        self.state = "READY"
        self.inflight = 0
        self.retired = False
        self.auto_threshold: float | None = None  # queue pressure (queued / max batch) that routes to a variant
        self.auto_active = False
        self.batcher: DynamicBatcher | None = None
        self.text: TextInput | None = None  # a BYTES text input tokenized here (config "tokenizer")
        self._closed: asyncio.Event | None = None

    # ---- construction (runs in the loader thread: compiling may take seconds) -------------------------
    @classmethod
    def load(cls, name: str, version: str, path: Path, config: ModelConfig, metrics: VersionMetrics) -> ModelVersion:
        # Private copies of the weights, not mappings: an operator copying a new model over this file in
        # place must not change what this version serves (the repository reloads it once it changes).
        # Under a memory budget the weights stream from the mapped file (a private copy would hold them all): the
        # files must then be replaced atomically, and an in-place copy fails runs until the reload.
        tiered = config.memory_budget is not None
        model = load_model(path, mmap=tiered) if path.suffix != ".onnx" else path
        kw: dict[str, Any] = {
            "num_threads": config.num_threads,
            "device": config.device,
            "fallback_device": config.fallback_device,
            # One pool per tier for the whole server: the models used most recently keep their weights resident.
            "memory_budget": config.memory_budget,
            "shared_memory_pool": tiered,
        }
        primary = InferenceEngine(model, precision=config.precision, **kw)
        engines = {primary.precision: primary}
        for p in config.variants:
            if p not in engines:
                engines[p] = InferenceEngine(model, precision=p, **kw)
        for f in sorted(path.parent.glob(f"{path.stem}.*.r1")):  # model.bf16.r1: a prebuilt variant
            p = f.name[len(path.stem) + 1 : -3]
            if p not in engines and p in PRECISIONS:
                engines[p] = InferenceEngine(f, precision=p, mmap=tiered, **kw)
        mv = cls(name, version, path, config, engines, metrics)
        if config.tokenizer is not None:
            # repo/<model>/<version>/model.r1 -> repo/<model>; a single model file -> its directory
            model_dir = path.parent.parent if path.parent.name == version else path.parent
            mv.text = TextInput(config.tokenizer, model_dir, mv.inputs)
        return mv

    def start(self, executor: Executor, priorities: dict[str, PriorityPolicy]) -> None:
        """Creates the batcher; must run on the event loop thread."""
        c = self.config
        pad_values = c.pad_values
        if pad_values is None and self.text is not None:  # token tensors pad with 0 (masked out)
            pad_values = {n: 0 for n in self.text.feeds}
        bc = BatcherConfig(
            max_batch_size=c.max_batch_size,
            preferred_batch_sizes=tuple(c.preferred_batch_sizes),
            max_queue_delay_ms=c.max_queue_delay_ms,
            dynamic_batching=c.dynamic_batching,
            priorities=dict(priorities),
            pad_values=pad_values,
        )
        self.batcher = DynamicBatcher(self.run_batch, self.inputs, self.outputs, bc, executor, observer=self.metrics)
        self._closed = asyncio.Event()

    # ---- serving --------------------------------------------------------------------------------------
    def check_request_tensor(self, name: str, datatype: str, shape: list) -> None:
        """A request tensor's header against this model's declared inputs, before its data is decoded: a
        tensor the model cannot take (unknown name, another datatype or rank, a fixed dim that differs, more
        rows than max_batch_size) is refused at the cost of reading its header. It also bounds what decoding
        may make: BYTES elements, a Python object each, exist only where the model declares them."""
        limit = self.batcher.batch_limit if self.batcher is not None else None
        if self.text is not None and name == self.text.name:
            want_type, dims = "BYTES", None
            if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
                raise BadRequest(f"input '{name}' must be a BYTES tensor of shape [n] or [n, 1], got {shape}")
        else:
            spec = self._wire_inputs.get(name)
            if spec is None:
                raise BadRequest(f"unknown input '{name[:80]}'; the model's inputs are {self._input_names()}")
            want_type, dims = spec
        if datatype != want_type:
            numpy_name = KSERVE_TO_NUMPY[want_type] if want_type in KSERVE_TO_NUMPY else want_type
            raise BadRequest(f"input '{name}' must be {want_type} ({numpy_name}), got {str(datatype)[:20]}")
        if dims is not None:
            if len(shape) != len(dims):
                raise BadRequest(f"input '{name}' must have rank {len(dims)} (shape {dims}), got shape {shape}")
            for i, (d, got) in enumerate(zip(dims, shape)):
                if d >= 0 and d != got:
                    raise BadRequest(f"input '{name}' must have shape {dims}, got {shape} (dim {i} must be {d})")
        if limit is not None and shape and shape[0] > limit:
            raise BadRequest(f"input '{name}' has {shape[0]} rows; this model takes at most max_batch_size {limit}")

    def _input_names(self) -> list[str]:
        return [t.name for t in self.inputs] + ([self.text.name] if self.text is not None else [])

    def run_batch(self, inputs: dict[str, np.ndarray], queued: int) -> dict[str, np.ndarray]:
        """One batch, in the executor thread (the engine releases the GIL). `queued`: requests the batcher still
        held when it took this batch; under pressure (queued / max batch >= auto_threshold) the batch runs on the
        lower-precision variant."""
        precision = self.precision
        if self.auto_threshold is not None and self.low is not None:
            pressure = queued / self.config.max_batch_size
            self.auto_active = pressure >= self.auto_threshold
            if self.auto_active:
                precision = self.low
        self.metrics.on_precision(precision)
        return self.engines[precision].run(inputs)

    @contextlib.contextmanager
    def admit(self):
        if self.retired or self.batcher is None:
            raise Unavailable(f"model '{self.name}' version {self.version} is being unloaded")
        self.inflight += 1
        try:
            yield self
        finally:
            self.inflight -= 1
            if self.retired and self.inflight == 0:
                asyncio.get_running_loop().create_task(self._close())

    async def infer(self, inputs, priority: str, timeout_s: float | None, disconnected=None):
        # Inside admit(): the batcher is dropped only once the last admitted request has left.
        assert self.batcher is not None, "infer() runs inside admit()"
        if self.text is not None:
            inputs = self.text(inputs)
        return await self.batcher.submit(inputs, priority=priority, timeout_s=timeout_s, disconnected=disconnected)

    def retire(self) -> None:
        """No new requests; the batcher closes once the requests already admitted have finished."""
        if self.retired:
            return
        self.retired = True
        self.state = "UNLOADING"
        if self.inflight == 0:
            asyncio.get_running_loop().create_task(self._close())

    async def _close(self) -> None:
        if self.batcher is not None:
            await self.batcher.close(drain=True)
        self.batcher = None
        self.engines.clear()  # the last references: arenas and mapped weights go with them
        self.state = "UNAVAILABLE"
        if self._closed is not None:
            self._closed.set()

    async def wait_closed(self, timeout_s: float = 30.0) -> None:
        if self._closed is not None:
            await asyncio.wait_for(self._closed.wait(), timeout_s)

    # ---- descriptions ---------------------------------------------------------------------------------
    def metadata(self, versions: list[str]) -> dict:
        return {
            "name": self.name,
            "versions": versions,
            "platform": "deepseek_r1",
            "inputs": [tensor_metadata(t) for t in self.inputs]
            + ([self.text.metadata()] if self.text is not None else []),
            "outputs": [tensor_metadata(t) for t in self.outputs],
        }

    def live(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "state": self.state,
            "inflight": self.inflight,
            "queue": self.batcher.queue_depths() if self.batcher is not None else {},
            "auto_precision_active": self.auto_active,
            "precisions": sorted(self.engines),
            "successes": self.metrics.successes,
            "failures": self.metrics.failures,
            "batches": self.metrics.batches,
            "samples": self.metrics.samples,
            "last_batch_size": self.metrics.last_batch_size,
            "uptime_s": round(time.monotonic() - self.metrics.started, 1),
            "device_health": self.engines[self.precision].device_health,
            "tiering": self.engines[self.precision].tiering_report(),
        }
