"""DynamicBatcher: priority queues + one scheduler task that forms batches and runs them in an executor.

    run = lambda inputs, queued: engine.run(inputs)     # `queued`: requests still waiting when the batch was taken
    batcher = DynamicBatcher(run, engine.inputs, engine.outputs, BatcherConfig(max_batch_size=64), pool)
    out = await batcher.submit({"x": x}, priority="premium", timeout_s=2.0, disconnected=request.is_disconnected)

Why it looks like this:
  * The native engine already uses every core for one run, so at most `max_inflight` (default 1) batches
    run at a time, and each batch is exactly one `run_in_executor` hop (stack + run + split in the worker,
    GIL released inside the engine) so the event loop stays free to accept requests.
  * Adaptive delay (max_queue_delay_ms=None): a lone request runs at once; under load the queue builds up
    while the engine computes batch k, and batch k+1 takes everything queued (continuous batching). When
    several requests are already waiting and arrivals (EWMA inter-arrival) are faster than a batch's compute
    time (EWMA), the scheduler holds a little longer: at most min(compute/4, 2 ms) or until the batch is full.
  * Priorities are strict: the head of the highest non-empty level picks the bucket; remaining slots are
    filled with same-bucket requests of that level, then of lower levels (they ride along, never delay it).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import itertools
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .._core import InputError
from ..input_check import InputSpec
from .batch_assembly import Assembler, Prepared, RunFn
from .errors import BadRequest, ClientGone, QueueFull, RequestTimeout, ServeError, Unavailable, to_serve_error

LEVELS = ("critical", "premium", "standard")  # served strictly in this order
ON_FULL = ("reject", "unavailable", "delay")
_ADAPTIVE_MAX_WAIT_S = 0.002
_EWMA_ALPHA = 0.2
_INLINE_BELOW_S = 50e-6  # batches whose compute EWMA is below this run on the event loop thread


@dataclass
class PriorityPolicy:
    """Queue policy of one priority level.

    on_full: "reject" -> QueueFull 429 at once; "unavailable" -> QueueFull with status 503 at once;
    "delay" -> the caller waits for room (bounded by its timeout, else 504).
    """

    max_queue_size: int = 1024
    default_timeout_s: float | None = None
    on_full: str = "reject"

    def __post_init__(self):
        if self.on_full not in ON_FULL:
            raise ValueError(f"on_full must be one of {ON_FULL}, got {self.on_full!r}")
        if self.max_queue_size < 1:
            raise ValueError(f"max_queue_size must be >= 1, got {self.max_queue_size}")


@dataclass
class BatcherConfig:
    max_batch_size: int = 32
    preferred_batch_sizes: Sequence[int] = ()
    max_queue_delay_ms: float | None = None  # None = adaptive (see module docstring)
    dynamic_batching: bool = True  # False: each request runs alone, same queues/priorities
    priorities: dict[str, PriorityPolicy] = field(default_factory=dict)  # missing levels get the defaults
    pad_values: dict[str, float | int] | None = None  # input -> pad value; enables padding to seq_buckets
    seq_buckets: Sequence[int] = (16, 32, 64, 128, 256, 512)
    max_inflight: int = 1  # batches running at once (the engine uses all cores per run)

    def __post_init__(self):
        if self.max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {self.max_batch_size}")
        bad = [p for p in self.preferred_batch_sizes if not 1 <= p <= self.max_batch_size]
        if bad:
            raise ValueError(f"preferred_batch_sizes {bad} must be from 1 to max_batch_size {self.max_batch_size}")
        unknown = [k for k in self.priorities if k not in LEVELS]
        if unknown:
            raise ValueError(f"unknown priority level(s) {unknown}; levels are {list(LEVELS)}")
        if self.max_inflight < 1:
            raise ValueError(f"max_inflight must be >= 1, got {self.max_inflight}")


class BatchObserver(Protocol):
    def on_batch(self, size: int, queue_s: list[float], compute_s: float) -> None: ...


class _Request:
    __slots__ = ("disconnected", "enqueued", "fut", "level", "prep", "seq", "timer")

    def __init__(self, prep: Prepared, level: str, fut: asyncio.Future, disconnected, seq: int):
        self.prep, self.level, self.fut, self.disconnected, self.seq = prep, level, fut, disconnected, seq
        self.enqueued = time.monotonic()
        self.timer: asyncio.TimerHandle | None = None


def _fail(fut: asyncio.Future, exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)


class DynamicBatcher:
    def __init__(
        self,
        run: RunFn,
        input_specs: Sequence[InputSpec],
        output_names: Sequence,
        config: BatcherConfig | None = None,
        executor: concurrent.futures.Executor | None = None,
        observer: BatchObserver | None = None,
    ):
        """run(inputs, queued): engine.run-like (dict -> dict), called in `executor` once per batch with the number
        of requests still queued when the batch was taken.
        output_names: output names or TensorInfo (their symbolic shapes make trimming of padded dims exact)."""
        self.config = config or BatcherConfig()
        self._run = run
        self._executor = executor
        self._observer = observer
        self._asm = Assembler(
            input_specs, output_names, self.config.max_batch_size, self.config.pad_values, self.config.seq_buckets
        )
        self._policies = {lv: self.config.priorities.get(lv, PriorityPolicy()) for lv in LEVELS}
        self._queues: dict[str, collections.deque[_Request]] = {lv: collections.deque() for lv in LEVELS}
        self._seq = itertools.count()
        # Binds to the running loop at its first wait (Python >= 3.10), so it can be made before there is one.
        self._wakeup = asyncio.Event()
        self._room_waiters: dict[str, collections.deque[asyncio.Future]] = {lv: collections.deque() for lv in LEVELS}
        self._task: asyncio.Task | None = None
        self._inflight: set[asyncio.Task] = set()
        self._closing = False
        self._ia_ewma: float | None = None  # seconds between arrivals
        self._compute_ewma: float | None = None  # seconds per batch
        self._last_arrival: float | None = None
        self.executions = 0  # batches run
        self.inferences = 0  # batch slots run (a request of batch n counts n)

    # ---- public ----

    @property
    def batch_limit(self) -> int | None:
        """The largest leading dim a request may have (max_batch_size), or None when this model's inputs have
        no batch dim to stack along."""
        return self.config.max_batch_size if self._asm.can_batch else None

    def queue_depths(self) -> dict[str, int]:
        return {lv: len(q) for lv, q in self._queues.items()}

    async def submit(
        self,
        inputs: Mapping[str, np.ndarray],
        priority: str = "standard",
        timeout_s: float | None = None,
        disconnected: Callable[[], Awaitable[bool]] | None = None,
    ) -> dict[str, np.ndarray]:
        if self._closing:
            raise Unavailable("the model is shutting down; retry on another instance or version")
        if priority not in LEVELS:
            raise BadRequest(f"priority must be one of {list(LEVELS)}, got {priority!r}")
        if timeout_s is not None and timeout_s <= 0:
            raise BadRequest(f"timeout must be > 0 seconds, got {timeout_s}")
        try:
            prep = self._asm.prepare(inputs)
        except InputError as e:
            raise to_serve_error(e) from None
        self._start()
        loop = asyncio.get_running_loop()
        policy = self._policies[priority]
        timeout = timeout_s if timeout_s is not None else policy.default_timeout_s
        deadline = None if timeout is None else loop.time() + timeout
        queue = self._queues[priority]
        if len(queue) >= policy.max_queue_size:
            if policy.on_full != "delay":
                status = 503 if policy.on_full == "unavailable" else 429
                raise QueueFull(f"the '{priority}' queue is full ({policy.max_queue_size} requests)", status)
            await self._wait_for_room(priority, deadline)
        req = _Request(prep, priority, loop.create_future(), disconnected, next(self._seq))
        if timeout is not None:
            assert deadline is not None  # set with timeout above: the wait for room counts against it too
            req.timer = loop.call_at(deadline, self._expire, req, timeout)
        self._note_arrival(req.enqueued)
        queue.append(req)
        self._wakeup.set()
        try:
            return await req.fut
        except asyncio.CancelledError:  # the caller went away (e.g. its HTTP task was cancelled)
            self._remove(req)
            _fail(req.fut, ClientGone("the request was cancelled"))
            raise
        finally:
            if req.timer is not None:
                req.timer.cancel()

    async def close(self, drain: bool = True) -> None:
        """Stops accepting (submit -> 503). drain=True finishes queued work; False fails it with Unavailable.
        Returns when no batch is running any more."""
        self._closing = True
        if not drain:
            for lv in LEVELS:
                while self._queues[lv]:
                    _fail(self._queues[lv].popleft().fut, Unavailable("the model was unloaded before the request ran"))
        for lv in LEVELS:
            self._notify_room(lv)
        if self._task is not None:
            self._wakeup.set()
            await asyncio.shield(self._task)
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)

    # ---- queue bookkeeping ----

    def _start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._schedule(), name="r1-batcher")

    def _note_arrival(self, now: float) -> None:
        if self._last_arrival is not None:
            gap = now - self._last_arrival
            self._ia_ewma = gap if self._ia_ewma is None else (1 - _EWMA_ALPHA) * self._ia_ewma + _EWMA_ALPHA * gap
        self._last_arrival = now

    async def _wait_for_room(self, level: str, deadline: float | None) -> None:
        """ "delay" policy: park until the level has room, the deadline passes (504) or we close (503)."""
        loop = asyncio.get_running_loop()
        while len(self._queues[level]) >= self._policies[level].max_queue_size:
            if self._closing:
                raise Unavailable("the model is shutting down; retry on another instance or version")
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                raise RequestTimeout(f"timed out waiting for room in the full '{level}' queue")
            waiter = loop.create_future()
            self._room_waiters[level].append(waiter)
            try:
                await asyncio.wait_for(waiter, left)
            except (asyncio.TimeoutError, TimeoutError):
                raise RequestTimeout(f"timed out waiting for room in the full '{level}' queue") from None
            finally:
                if waiter in self._room_waiters[level]:
                    self._room_waiters[level].remove(waiter)

    def _notify_room(self, level: str) -> None:
        # Wake every parked caller; each re-checks the size, losers park again (queues are short).
        waiters = self._room_waiters[level]
        while waiters:
            w = waiters.popleft()
            if not w.done():
                w.set_result(None)

    def _remove(self, req: _Request) -> None:
        try:
            self._queues[req.level].remove(req)
        except ValueError:
            return  # already taken into a batch
        self._notify_room(req.level)

    def _expire(self, req: _Request, timeout: float) -> None:
        # Queued: removed, never runs. Running: its result is discarded when the batch ends.
        self._remove(req)
        _fail(req.fut, RequestTimeout(f"the request did not complete within its {timeout:g} s timeout"))

    # ---- scheduling ----

    def _candidates(self, key: tuple):
        for lv in LEVELS:
            for r in self._queues[lv]:
                if r.prep.key == key:
                    yield r

    def _target_slots(self, available: int) -> int:
        """How many slots to take: the largest preferred size reachable, else everything up to the max."""
        cfg = self.config
        fitting = [p for p in cfg.preferred_batch_sizes if p <= available]
        return max(fitting) if fitting else min(available, cfg.max_batch_size)

    def _hold_s(self, head: _Request, available: int, now: float) -> float:
        """Seconds to keep waiting for more requests before dispatching `head`'s bucket (0 = go now)."""
        cfg = self.config
        if available >= cfg.max_batch_size:
            return 0.0
        if cfg.max_queue_delay_ms is not None:
            if cfg.preferred_batch_sizes and available >= max(cfg.preferred_batch_sizes):
                return 0.0
            return max(0.0, head.enqueued + cfg.max_queue_delay_ms / 1000.0 - now)
        # Adaptive: a lone request never waits; a backlog waits briefly if more arrive faster than we compute.
        if available <= 1 or self._ia_ewma is None or self._compute_ewma is None:
            return 0.0
        if self._ia_ewma >= self._compute_ewma:
            return 0.0
        hold = min(self._compute_ewma / 4, _ADAPTIVE_MAX_WAIT_S)
        return max(0.0, head.enqueued + hold - now)

    async def _schedule(self) -> None:
        while True:
            try:
                if await self._step():
                    return
            except Exception as e:
                head = self._head()
                if head is not None:
                    self._remove(head)
                    _fail(head.fut, ServeError(f"the batcher failed to schedule the request: {e!r}"))

    def _head(self) -> _Request | None:
        return next((q[0] for q in self._queues.values() if q), None)

    async def _step(self) -> bool:
        """One scheduling decision; True when closed and drained."""
        self._wakeup.clear()
        if len(self._inflight) >= self.config.max_inflight:
            await self._wakeup.wait()
            return False
        head = self._head()
        if head is None:
            if self._closing:
                return True
            await self._wakeup.wait()
            return False
        batching = self.config.dynamic_batching and self._asm.can_batch
        if batching:
            available = sum(r.prep.n for r in self._candidates(head.prep.key))
            hold = self._hold_s(head, available, time.monotonic())
            if hold > 0 and not self._closing:
                try:
                    await asyncio.wait_for(self._wakeup.wait(), hold)
                except (asyncio.TimeoutError, TimeoutError):
                    pass
                return False  # re-evaluate (the head may have expired); once the hold ran out it is 0
            limit = self._target_slots(available)
        else:
            limit = head.prep.n
        batch = await self._take(head.prep.key, limit, batching)
        if batch:
            task = asyncio.get_running_loop().create_task(self._run_batch(batch))
            self._inflight.add(task)
        return False

    async def _take(self, key: tuple, limit: int, batching: bool) -> list[_Request]:
        """Moves up to `limit` slots of same-bucket requests out of the queues, checking disconnects."""
        batch: list[_Request] = []
        used = 0
        for r in list(self._candidates(key)):
            if used + r.prep.n > limit and batch:
                continue  # never split a request across batches; a smaller one may still fit
            if r.fut.done():
                self._remove(r)
                continue
            self._remove(r)
            if r.disconnected is not None:
                try:
                    gone = await r.disconnected()
                except Exception:
                    gone = True
                if gone:
                    _fail(r.fut, ClientGone("the client disconnected before the request ran"))
                    continue
            if r.fut.done():  # expired while we awaited the disconnect check
                continue
            batch.append(r)
            used += r.prep.n
            if not batching or used >= limit:
                break
        return batch

    async def _run_batch(self, batch: list[_Request]) -> None:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        # Read here, on the loop thread that owns the queues, and handed to the run (which may be in a worker).
        queued = sum(len(q) for q in self._queues.values())
        try:
            preps = [r.prep for r in batch]
            if self._compute_ewma is not None and self._compute_ewma < _INLINE_BELOW_S:
                # A batch this cheap costs less than the thread hop itself (waking a worker and the loop
                # again: ~100-250 us of CPU): run it on the loop thread.
                results, compute_s = self._asm.execute(self._run, preps, queued)
            else:
                results, compute_s = await loop.run_in_executor(
                    self._executor, self._asm.execute, self._run, preps, queued
                )
        except Exception as e:
            results, compute_s = [ServeError(f"the batch could not run: {e!r}") for _ in batch], 0.0
        finally:
            self._inflight.discard(asyncio.current_task())
            self._wakeup.set()
        slots = sum(r.prep.n for r in batch)
        self.executions += 1
        self.inferences += slots
        prev = self._compute_ewma
        self._compute_ewma = compute_s if prev is None else (1 - _EWMA_ALPHA) * prev + _EWMA_ALPHA * compute_s
        for r, res in zip(batch, results):
            if r.fut.done():
                continue  # timed out or cancelled while running: result discarded
            if isinstance(res, BaseException):
                r.fut.set_exception(res)
            else:
                r.fut.set_result(res)
        if self._observer is not None:
            try:
                self._observer.on_batch(slots, [started - r.enqueued for r in batch], compute_s)
            except Exception:
                pass
