"""DynamicBatcher against a real tiny engine (onnx.helper -> load_onnx -> InferenceEngine).

`Gated` wraps engine.run: it records every batch the engine sees and can block on a threading.Event so
queues fill deterministically while the engine is busy (blocking releases the GIL like a long native run).
No test asserts wall-clock thresholds: only orders, counts, shapes and values.
"""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import deepseek_r1 as r1
from deepseek_r1.serve.batcher import BatcherConfig, DynamicBatcher, PriorityPolicy
from deepseek_r1.serve.errors import BadRequest, ClientGone, QueueFull, RequestTimeout, ServeError, Unavailable


def _engine(nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "tiny", inputs, outputs, initializer=list(inits))
    return r1.InferenceEngine(r1.Model(r1.load_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))))


@pytest.fixture(scope="module")
def engine():
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


@pytest.fixture(scope="module")
def gather_engine():
    """idx int64 [N,S] -> table[idx]: an out-of-range index is a real engine InputError."""
    table = numpy_helper.from_array(np.arange(40, dtype=np.float32).reshape(10, 4), "table")
    return _engine(
        [helper.make_node("Gather", ["table", "idx"], ["out"], axis=0)],
        [helper.make_tensor_value_info("idx", TensorProto.INT64, ["N", "S"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", "S", 4])],
        [table],
    )


@pytest.fixture(scope="module")
def pool():
    with ThreadPoolExecutor(2) as p:
        yield p


class Gated:
    """engine.run that records batches and, while `gate` is clear, blocks (GIL released) after entering."""

    def __init__(self, engine, blocked=False):
        self.engine = engine
        self.gate = threading.Event()
        if not blocked:
            self.gate.set()
        self.entered = threading.Event()
        self.batches: list[dict] = []
        self.active = 0
        self.max_active = 0
        self.lock = threading.Lock()

    def __call__(self, inputs):
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.batches.append({k: v.copy() for k, v in inputs.items()})
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


def make(engine, run=None, pool=None, **cfg):
    return DynamicBatcher(run or engine.run, engine.inputs, engine.outputs, BatcherConfig(**cfg), pool)


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


# ---------- results ----------

request = st.tuples(st.integers(1, 3), st.integers(1, 9), st.integers(0, 2**31 - 1))


@settings(max_examples=25)
@given(reqs=st.lists(request, min_size=1, max_size=10), max_bs=st.integers(3, 8), pad=st.booleans())
def test_results_equal_per_request_runs(engine, pool, reqs, max_bs, pad):
    inputs = [{"x": np.random.default_rng(seed).standard_normal((n, s, 4)).astype(np.float32)} for n, s, seed in reqs]
    gated = Gated(engine)
    cfg = dict(max_batch_size=max_bs, pad_values={"x": 0.0}, seq_buckets=(4, 8)) if pad else dict(max_batch_size=max_bs)
    b = make(engine, gated, pool, **cfg)

    async def go():
        out = await asyncio.gather(*(b.submit(i) for i in inputs))
        await b.close()
        return out

    for got, i in zip(asyncio.run(go()), inputs):
        check_same(got, engine.run(i))
    assert max(gated.sizes) <= max_bs
    assert b.inferences == sum(n for n, _, _ in reqs)


def test_batches_form_under_load_and_respect_max(engine, pool):
    gated = Gated(engine, blocked=True)
    seen = []

    class Obs:
        def on_batch(self, size, queue_s, compute_s):
            seen.append((size, len(queue_s)))

    b = DynamicBatcher(gated, engine.inputs, engine.outputs, BatcherConfig(max_batch_size=4), pool, Obs())

    async def go():
        first = asyncio.ensure_future(b.submit(x_of(v=100)))
        await until(gated.entered.is_set)
        rest = [asyncio.ensure_future(b.submit(x_of(v=i))) for i in range(9)]
        await until(lambda: b.queue_depths()["standard"] == 9)
        gated.gate.set()
        outs = await asyncio.gather(first, *rest)
        await b.close()
        return outs

    outs = asyncio.run(go())
    assert gated.sizes == [1, 4, 4, 1]
    assert seen == [(1, 1), (4, 4), (4, 4), (1, 1)]
    assert (b.executions, b.inferences) == (4, 10)
    for i, o in enumerate(outs[1:]):
        np.testing.assert_allclose(o["y"], np.full((1, 3, 4), 2 * i + 1))


def test_multi_sample_requests_are_never_split(engine, pool):
    gated = Gated(engine, blocked=True)
    b = make(engine, gated, pool, max_batch_size=4)

    async def go():
        first = asyncio.ensure_future(b.submit(x_of(v=-1)))
        await until(gated.entered.is_set)
        rest = [asyncio.ensure_future(b.submit(x_of(n=n, v=i))) for i, n in enumerate((3, 3, 1, 2))]
        await until(lambda: b.queue_depths()["standard"] == 4)
        gated.gate.set()
        return await asyncio.gather(first, *rest)

    outs = asyncio.run(go())
    # 3+1 (the second 3 and the 2 do not fit after the first 3; the 1 does) | 3 | 2
    assert gated.sizes == [1, 4, 3, 2]
    assert [o["y"].shape[0] for o in outs[1:]] == [3, 3, 1, 2]


def test_lone_request_runs_alone_at_once(engine, pool):
    gated = Gated(engine)
    b = make(engine, gated, pool, max_batch_size=64)

    async def go():
        for v in range(3):  # one at a time: nothing else queued, so each is a batch of 1 with no hold
            await b.submit(x_of(v=v))
        await b.close()

    asyncio.run(go())
    assert gated.sizes == [1, 1, 1]


@pytest.mark.parametrize("slow", [False, True])
def test_cheap_batches_run_on_the_loop_thread_and_costly_ones_in_the_pool(engine, pool, slow):
    """Once a model's batches are known to cost under the thread hop (~50 us), they skip the executor; a model
    whose batches take milliseconds always runs in the pool, off the event loop."""
    threads = []

    def run(inputs):
        threads.append(threading.current_thread())
        if slow:
            threading.Event().wait(0.002)  # a 2 ms native run (GIL released)
        return engine.run(inputs)

    engine.run(x_of())  # warm: the first run of a shape also plans it
    b = make(engine, run, pool, max_batch_size=8)

    async def go():
        for v in range(40):
            await b.submit(x_of(v=v))
        await b.close()

    asyncio.run(go())
    loop_thread = threading.main_thread()
    assert threads[0] is not loop_thread  # no compute estimate yet: the first batch takes the hop
    on_loop = sum(t is loop_thread for t in threads[20:])  # after the estimate (an EWMA) has settled
    if slow:
        assert on_loop == 0
    else:
        assert on_loop >= 15, f"only {on_loop} of the last 20 cheap batches ran on the loop thread"


def test_fixed_delay_prefers_preferred_sizes(engine, pool):
    gated = Gated(engine, blocked=True)
    b = make(engine, gated, pool, max_batch_size=8, preferred_batch_sizes=(2, 4), max_queue_delay_ms=1)

    async def go():
        first = asyncio.ensure_future(b.submit(x_of()))
        await until(gated.entered.is_set)
        rest = [asyncio.ensure_future(b.submit(x_of())) for _ in range(7)]
        await until(lambda: b.queue_depths()["standard"] == 7)
        gated.gate.set()
        await asyncio.gather(first, *rest)

    asyncio.run(go())
    assert gated.sizes == [1, 4, 2, 1]


def test_batching_off_runs_each_request_alone_one_at_a_time(engine, pool):
    gated = Gated(engine, blocked=True)
    b = make(engine, gated, pool, dynamic_batching=False, max_batch_size=8)

    async def go():
        first = asyncio.ensure_future(b.submit(x_of()))
        await until(gated.entered.is_set)
        rest = [asyncio.ensure_future(b.submit(x_of(), priority=p)) for p in ("standard", "critical", "premium")]
        await until(lambda: sum(b.queue_depths().values()) == 3)
        gated.gate.set()
        await asyncio.gather(first, *rest)

    asyncio.run(go())
    assert gated.sizes == [1, 1, 1, 1] and gated.max_active == 1


# ---------- padding ----------


def test_padding_shares_batches_and_trims(engine, pool):
    gated = Gated(engine, blocked=True)
    b = make(engine, gated, pool, max_batch_size=8, pad_values={"x": -7.0}, seq_buckets=(4, 8))
    rng = np.random.default_rng(0)
    inputs = [{"x": rng.standard_normal((1, s, 4)).astype(np.float32)} for s in (2, 3, 4, 6, 9, 3)]

    async def go():
        first = asyncio.ensure_future(b.submit(x_of(s=1)))
        await until(gated.entered.is_set)
        rest = [asyncio.ensure_future(b.submit(i)) for i in inputs]
        await until(lambda: b.queue_depths()["standard"] == 6)
        gated.gate.set()
        return await asyncio.gather(first, *rest)

    outs = asyncio.run(go())
    shapes = [bt["x"].shape for bt in gated.batches]
    # bucket 4 holds 2, 3, 4, 3 (padded to the longest: 4); 6 runs unpadded alone; 9 > largest bucket: exact
    assert shapes == [(1, 1, 4), (4, 4, 4), (1, 6, 4), (1, 9, 4)]
    assert np.all(gated.batches[1]["x"][0, 2:] == -7.0)  # the length-2 request was padded with its pad value
    assert np.all(gated.batches[1]["x"][1, 3:] == -7.0)
    for got, i in zip(outs[1:], inputs):
        check_same(got, engine.run(i))


def test_padding_bucket_caps_the_batch_length(engine, pool):
    gated = Gated(engine, blocked=True)
    b = make(engine, gated, pool, max_batch_size=8, pad_values={"x": 0.0}, seq_buckets=(4, 8))

    async def go():
        first = asyncio.ensure_future(b.submit(x_of(s=1)))
        await until(gated.entered.is_set)
        rest = [asyncio.ensure_future(b.submit(x_of(s=s, v=s))) for s in (5, 7, 2)]
        await until(lambda: b.queue_depths()["standard"] == 3)
        gated.gate.set()
        return await asyncio.gather(first, *rest)

    outs = asyncio.run(go())
    assert [bt["x"].shape for bt in gated.batches] == [(1, 1, 4), (2, 7, 4), (1, 2, 4)]
    assert [o["z"].shape for o in outs[1:]] == [(1, 5), (1, 7), (1, 2)]


def test_padding_config_is_checked(engine):
    with pytest.raises(ValueError, match="unknown input"):
        make(engine, pad_values={"nope": 0})


# ---------- priorities and queue policy ----------


def test_priority_order_critical_premium_standard(engine, pool):
    gated = Gated(engine, blocked=True)
    b = make(engine, gated, pool, max_batch_size=1)

    async def go():
        first = asyncio.ensure_future(b.submit(x_of(v=0)))
        await until(gated.entered.is_set)
        rest = [
            asyncio.ensure_future(b.submit(x_of(v=v), priority=p))
            for v, p in ((1, "standard"), (2, "premium"), (3, "critical"), (4, "standard"), (5, "critical"))
        ]
        await until(lambda: sum(b.queue_depths().values()) == 5)
        assert b.queue_depths() == {"critical": 2, "premium": 1, "standard": 2}
        gated.gate.set()
        await asyncio.gather(first, *rest)

    asyncio.run(go())
    assert [float(bt["x"].flat[0]) for bt in gated.batches] == [0, 3, 5, 2, 1, 4]


def test_full_queue_rejects_at_once(engine, pool):
    gated = Gated(engine, blocked=True)
    b = make(
        engine,
        gated,
        pool,
        priorities={
            "standard": PriorityPolicy(max_queue_size=2),
            "premium": PriorityPolicy(max_queue_size=1, on_full="unavailable"),
            "critical": PriorityPolicy(max_queue_size=1, on_full="delay"),
        },
    )

    async def go():
        first = asyncio.ensure_future(b.submit(x_of(v=0)))
        await until(gated.entered.is_set)
        queued = [asyncio.ensure_future(b.submit(x_of(v=1))) for _ in range(2)]
        queued.append(asyncio.ensure_future(b.submit(x_of(v=2), priority="premium")))
        queued.append(asyncio.ensure_future(b.submit(x_of(v=3), priority="critical")))
        await until(lambda: sum(b.queue_depths().values()) == 4)
        with pytest.raises(QueueFull) as e429:
            await b.submit(x_of(v=9))
        with pytest.raises(QueueFull) as e503:
            await b.submit(x_of(v=9), priority="premium")
        # "delay": waits for room instead of failing; with a short timeout it ends in 504
        with pytest.raises(RequestTimeout):
            await b.submit(x_of(v=9), priority="critical", timeout_s=0.02)
        delayed = asyncio.ensure_future(b.submit(x_of(v=4), priority="critical"))
        await asyncio.sleep(0.01)
        assert not delayed.done()
        gated.gate.set()
        await asyncio.gather(first, delayed, *queued)
        return e429.value, e503.value

    e429, e503 = asyncio.run(go())
    assert e429.status == 429 and "standard" in e429.message
    assert e503.status == 503
    assert not gated.saw(9)
    assert gated.saw(4)


def test_timeout_in_queue_never_runs_and_while_running_is_504(engine, pool):
    gated = Gated(engine, blocked=True)
    b = make(engine, gated, pool, priorities={"premium": PriorityPolicy(default_timeout_s=0.02)})

    async def go():
        running = asyncio.ensure_future(b.submit(x_of(v=0), timeout_s=0.03))
        await until(gated.entered.is_set)
        queued = asyncio.ensure_future(b.submit(x_of(v=1), timeout_s=0.02))
        by_level = asyncio.ensure_future(b.submit(x_of(v=2), priority="premium"))
        survivor = asyncio.ensure_future(b.submit(x_of(v=3)))
        for f in (queued, by_level, running):
            with pytest.raises(RequestTimeout) as e:
                await f
            assert e.value.status == 504
        assert b.queue_depths()["standard"] == 1  # expired requests left the queue
        gated.gate.set()
        await survivor
        await b.close()

    asyncio.run(go())
    assert gated.saw(0) and gated.saw(3) and not gated.saw(1) and not gated.saw(2)


def test_disconnected_client_is_dropped_before_run(engine, pool):
    gated = Gated(engine, blocked=True)
    b = make(engine, gated, pool)
    checks = []

    def client(gone):
        async def disconnected():
            checks.append(gone)
            return gone

        return disconnected

    async def go():
        first = asyncio.ensure_future(b.submit(x_of(v=0)))
        await until(gated.entered.is_set)
        gone = asyncio.ensure_future(b.submit(x_of(v=1), disconnected=client(True)))
        here = asyncio.ensure_future(b.submit(x_of(v=2), disconnected=client(False)))
        await until(lambda: b.queue_depths()["standard"] == 2)
        gated.gate.set()
        with pytest.raises(ClientGone):
            await gone
        await asyncio.gather(first, here)

    asyncio.run(go())
    assert not gated.saw(1) and gated.saw(2)
    assert sorted(checks) == [False, True]  # each checked once, when its batch formed


# ---------- errors ----------


def test_bad_inputs_are_400_naming_the_input(engine, pool):
    b = make(engine, pool=pool, max_batch_size=4)

    async def go():
        cases = [
            ({"x": np.zeros((1, 3, 4), np.float64)}, "float32"),
            ({"x": np.zeros((1, 3), np.float32)}, "rank"),
            ({"x": np.zeros((1, 3, 5), np.float32)}, "dim 2 must be 4"),
            ({}, "missing"),
            ({"x": np.zeros((1, 3, 4), np.float32), "w": np.zeros(1)}, "unknown"),
            ({"x": np.zeros((5, 3, 4), np.float32)}, "max_batch_size"),
        ]
        for inputs, words in cases:
            with pytest.raises(BadRequest, match=words):
                await b.submit(inputs)
        with pytest.raises(BadRequest, match="priority"):
            await b.submit(x_of(), priority="gold")

    asyncio.run(go())


def test_engine_error_fails_only_the_bad_request(gather_engine, pool):
    gated = Gated(gather_engine, blocked=True)
    b = DynamicBatcher(gated, gather_engine.inputs, gather_engine.outputs, BatcherConfig(max_batch_size=8), pool)

    async def go():
        first = asyncio.ensure_future(b.submit({"idx": np.array([[0, 0]])}))
        await until(gated.entered.is_set)
        futs = [asyncio.ensure_future(b.submit({"idx": np.array([[i, 20 if i == 2 else i]])})) for i in range(4)]
        await until(lambda: b.queue_depths()["standard"] == 4)
        gated.gate.set()
        await first
        return await asyncio.gather(*futs, return_exceptions=True)

    outs = asyncio.run(go())
    assert isinstance(outs[2], BadRequest) and "out of range" in outs[2].message
    for i in (0, 1, 3):
        np.testing.assert_array_equal(outs[i]["out"], gather_engine.run({"idx": np.array([[i, i]])})["out"])
    assert gated.sizes[:2] == [1, 4]  # the batch of 4 failed, then each request was retried alone


def test_non_input_engine_errors_are_500_and_serving_continues(engine, pool):
    calls = []

    def run(inputs):  # a run function whose first call fails inside, like a broken native kernel would
        calls.append(1)
        if len(calls) == 1:
            raise r1.ModelError("kernel exploded")
        return engine.run(inputs)

    b = make(engine, run, pool)

    async def go():
        with pytest.raises(ServeError) as e:
            await b.submit(x_of())
        assert e.value.status == 500 and "kernel exploded" in e.value.message
        await b.submit(x_of())

    asyncio.run(go())


# ---------- close ----------


@pytest.mark.parametrize("drain", [True, False])
def test_close(engine, pool, drain):
    gated = Gated(engine, blocked=True)
    b = make(engine, gated, pool, max_batch_size=1)

    async def go():
        first = asyncio.ensure_future(b.submit(x_of(v=0)))
        await until(gated.entered.is_set)
        queued = [asyncio.ensure_future(b.submit(x_of(v=v))) for v in (1, 2)]
        await until(lambda: b.queue_depths()["standard"] == 2)
        closing = asyncio.ensure_future(b.close(drain=drain))
        await asyncio.sleep(0)
        with pytest.raises(Unavailable):
            await b.submit(x_of(v=9))
        gated.gate.set()
        await closing
        await first  # the running batch always finishes
        return await asyncio.gather(*queued, return_exceptions=True)

    outs = asyncio.run(go())
    if drain:
        assert all(isinstance(o, dict) for o in outs) and gated.sizes == [1, 1, 1]
    else:
        assert all(isinstance(o, Unavailable) for o in outs) and gated.sizes == [1]
    assert not gated.saw(9)


def test_cancelled_caller_leaves_the_queue(engine, pool):
    gated = Gated(engine, blocked=True)
    b = make(engine, gated, pool)

    async def go():
        first = asyncio.ensure_future(b.submit(x_of(v=0)))
        await until(gated.entered.is_set)
        doomed = asyncio.ensure_future(b.submit(x_of(v=1)))
        await until(lambda: b.queue_depths()["standard"] == 1)
        doomed.cancel()
        await asyncio.gather(doomed, return_exceptions=True)
        assert b.queue_depths()["standard"] == 0
        gated.gate.set()
        await first

    asyncio.run(go())
    assert not gated.saw(1)


def test_adaptive_hold_decision(engine):
    """The adaptive rule: no hold for a lone request or slow arrivals; a short bounded hold for a backlog
    that grows faster than a batch computes."""
    b = make(engine, max_batch_size=8)

    class Head:
        enqueued = 100.0

    assert b._hold_s(Head, 1, 100.0) == 0  # no history: never hold
    b._ia_ewma, b._compute_ewma = 0.0001, 0.004  # arrivals every 0.1 ms, batches take 4 ms
    assert b._hold_s(Head, 1, 100.0) == 0  # a lone request is not held back
    assert b._hold_s(Head, 3, 100.0) == pytest.approx(0.001)  # min(compute/4, 2 ms)
    assert b._hold_s(Head, 8, 100.0) == 0  # full batch: go
    assert b._hold_s(Head, 3, 100.01) == 0  # the head already waited longer than the hold
    b._ia_ewma = 0.01  # arrivals slower than compute: waiting would not grow the batch
    assert b._hold_s(Head, 3, 100.0) == 0
