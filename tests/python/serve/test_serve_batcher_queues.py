"""DynamicBatcher queues: priorities, queue policy, timeouts, disconnects, errors, closing, the adaptive hold,
and the queue depth each batch run is handed (helpers/batcher_fixtures.py has the engines and the gated run)."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import deepseek_r1 as r1
from deepseek_r1.serve.batcher import BatcherConfig, DynamicBatcher, PriorityPolicy
from deepseek_r1.serve.errors import BadRequest, ClientGone, QueueFull, RequestTimeout, ServeError, Unavailable
from helpers.batcher_fixtures import Gated, build_elementwise_engine, build_gather_engine, make, until, x_of


@pytest.fixture(scope="module")
def engine():
    return build_elementwise_engine()


@pytest.fixture(scope="module")
def gather_engine():
    return build_gather_engine()


@pytest.fixture(scope="module")
def pool():
    with ThreadPoolExecutor(2) as p:
        yield p


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

    def run(inputs, queued):  # a run function whose first call fails inside, like a broken native kernel would
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


# ---------- the queue depth handed to each run ----------


def test_each_run_is_handed_the_requests_still_queued(engine, pool):
    gated = Gated(engine, blocked=True)
    b = make(engine, gated, pool, max_batch_size=2)

    async def go():
        first = asyncio.ensure_future(b.submit(x_of(v=0)))
        await until(gated.entered.is_set)
        rest = [asyncio.ensure_future(b.submit(x_of(v=v))) for v in range(1, 6)]
        await until(lambda: b.queue_depths()["standard"] == 5)
        gated.gate.set()
        await asyncio.gather(first, *rest)

    asyncio.run(go())
    # a lone first request; then 5 queued, taken two at a time: 3 left, then 1, then none
    assert gated.sizes == [1, 2, 2, 1]
    assert gated.queued == [0, 3, 1, 0]
