"""DynamicBatcher test pieces: two tiny real engines, a run function that can hold a batch, and small helpers.

    engine = build_elementwise_engine()                    # x [N,S,4] -> y = x*2+1, z = ReduceSum(x, axis 2)
    gated = Gated(engine, blocked=True)              # the batch run blocks until gated.gate.set()
    b = make(engine, gated, pool, max_batch_size=4)  # DynamicBatcher over it
    await until(lambda: b.queue_depths()["standard"] == 3)

`Gated` records every batch the engine sees (and the queue depth the batcher handed it) and can block on a
threading.Event, so queues fill deterministically while the engine is busy (blocking releases the GIL like a long
native run). No test asserts wall-clock thresholds: only orders, counts, shapes and values.
"""

from __future__ import annotations

import asyncio
import threading

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import deepseek_r1 as r1
from deepseek_r1.serve.batcher import BatcherConfig, DynamicBatcher


def _engine(nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "tiny", inputs, outputs, initializer=list(inits))
    return r1.InferenceEngine(r1.Model(r1.load_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))))


def build_elementwise_engine() -> r1.InferenceEngine:
    """x [N,S,4] -> y = x*2+1 [N,S,4] (elementwise: padding-safe), z = ReduceSum(x, axis 2) [N,S]."""
    f = TensorProto.FLOAT
    return _engine(
        [
            helper.make_node("Mul", ["x", "two"], ["t"]),
            helper.make_node("Add", ["t", "one"], ["y"]),
            helper.make_node("ReduceSum", ["x", "axes"], ["z"], keepdims=0),
        ],
        [helper.make_tensor_value_info("x", f, ["N", "S", 4])],
        [helper.make_tensor_value_info("y", f, ["N", "S", 4]), helper.make_tensor_value_info("z", f, ["N", "S"])],
        [
            helper.make_tensor("two", f, [], [2.0]),
            helper.make_tensor("one", f, [], [1.0]),
            helper.make_tensor("axes", TensorProto.INT64, [1], [2]),
        ],
    )


def build_gather_engine() -> r1.InferenceEngine:
    """idx int64 [N,S] -> table[idx]: an out-of-range index is a real engine InputError."""
    table = numpy_helper.from_array(np.arange(40, dtype=np.float32).reshape(10, 4), "table")
    return _engine(
        [helper.make_node("Gather", ["table", "idx"], ["out"], axis=0)],
        [helper.make_tensor_value_info("idx", TensorProto.INT64, ["N", "S"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", "S", 4])],
        [table],
    )


class Gated:
    """A batcher run function over engine.run that records batches (and the queue depth each was handed) and,
    while `gate` is clear, blocks (GIL released) after entering."""

    def __init__(self, engine, blocked=False):
        self.engine = engine
        self.gate = threading.Event()
        if not blocked:
            self.gate.set()
        self.entered = threading.Event()
        self.batches: list[dict] = []
        self.queued: list[int] = []
        self.active = 0
        self.max_active = 0
        self.lock = threading.Lock()

    def __call__(self, inputs, queued):
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.batches.append({k: v.copy() for k, v in inputs.items()})
            self.queued.append(queued)
        self.entered.set()
        self.gate.wait(10)
        try:
            return self.engine.run(inputs)
        finally:
            with self.lock:
                self.active -= 1

    @property
    def sizes(self):
        return [next(iter(b.values())).shape[0] for b in self.batches]

    def saw(self, marker):
        return any(np.any(b["x"] == marker) for b in self.batches)


def make(engine, run=None, pool=None, **cfg) -> DynamicBatcher:
    """A DynamicBatcher over `run` (default: engine.run, ignoring the queue depth) with BatcherConfig(**cfg)."""
    run = run or (lambda inputs, queued: engine.run(inputs))
    return DynamicBatcher(run, engine.inputs, engine.outputs, BatcherConfig(**cfg), pool)


async def until(cond):
    for _ in range(5000):
        if cond():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition never became true")


def x_of(n=1, s=3, v=0.0):
    return {"x": np.full((n, s, 4), v, np.float32)}


def check_same(got, want):
    assert got.keys() == want.keys()
    for k in want:
        assert got[k].shape == want[k].shape, k
        np.testing.assert_allclose(got[k], want[k], rtol=1e-6)
