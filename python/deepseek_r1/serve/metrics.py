"""Prometheus metrics of a server, in its own registry (several servers in one process stay apart).

    m = ServerMetrics(live=repository.live_stats)
    vm = m.for_version("bert", "1")          # children bound once per loaded version: cheap per request
    vm.on_request_done(seconds)              # the app, per request
    vm.on_batch(size, queue_waits, compute_s)  # the batcher, per batch
    body, content_type = m.exposition(request.headers.get("accept"))

Label values are only names the server chose (loaded model names, versions, priority levels, failure reasons
from errors.REASONS): a client asking for an unknown model is counted under model="" so clients cannot grow
the label set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class VersionMetrics:
    """The metric children of one model version, plus plain counters the status page reads."""

    def __init__(self, owner: ServerMetrics, model: str, version: str):
        self.model, self.version = model, version
        self._owner = owner
        self._success = owner.success.labels(model, version)
        self._inferences = owner.inferences.labels(model, version)
        self._executions = owner.executions.labels(model, version)
        self._request_s = owner.request_seconds.labels(model)
        self._queue_s = owner.queue_seconds.labels(model)
        self._compute_s = owner.compute_seconds.labels(model)
        self._batch = owner.batch_size.labels(model)
        self.successes = self.failures = self.batches = self.samples = 0
        self.last_batch_size = 0
        self.started = time.monotonic()

    def on_request_done(self, seconds: float) -> None:
        self._success.inc()
        self._request_s.observe(seconds)
        self.successes += 1

    def on_request_failed(self, reason: str) -> None:
        self._owner.failure.labels(self.model, self.version, reason).inc()
        self.failures += 1

    def on_batch(self, size: int, queue_waits: Iterable[float], compute_s: float) -> None:
        self._executions.inc()
        self._inferences.inc(size)
        self._batch.observe(size)
        self._compute_s.observe(compute_s)
        for w in queue_waits:
            self._queue_s.observe(w)
        self.batches += 1
        self.samples += size
        self.last_batch_size = size

    def on_precision(self, precision: str) -> None:
        self._owner.precision_batches.labels(self.model, precision).inc()


class _LiveCollector:
    """Gauges read at scrape time from the repository: queue depth per priority, model state, in-flight, device
    health and failovers, and what memory tiering holds and streams."""

    def __init__(self, live: Callable[[], list[dict]]):
        self._live = live

    def collect(self):
        depth = GaugeMetricFamily(
            "r1_queue_depth", "Requests waiting, per model and priority level", labels=["model", "priority"]
        )
        state = GaugeMetricFamily(
            "r1_model_state", "1 for the state each model version is in", labels=["model", "version", "state"]
        )
        inflight = GaugeMetricFamily(
            "r1_inflight_requests", "Requests admitted and not yet answered", labels=["model", "version"]
        )
        auto = GaugeMetricFamily(
            "r1_auto_precision_active",
            "1 while queue pressure routes batches to a lower-precision variant",
            labels=["model", "version"],
        )
        mv = ["model", "version"]
        healthy = GaugeMetricFamily(
            "r1_device_healthy", "0 while the model's device failed a run recently (runs go to the fallback)",
            labels=[*mv, "device"],
        )  # fmt: skip
        failovers = CounterMetricFamily(
            "r1_device_failovers",
            "Runs that failed on the device and reran on the fallback device",
            labels=[*mv, "device"],
        )
        resident = GaugeMetricFamily("r1_tiering_resident_bytes", "Weight bytes kept in memory between runs", labels=mv)
        budget = GaugeMetricFamily("r1_tiering_budget_bytes", "Memory budget of the model's tier", labels=[*mv, "tier"])
        streamed = CounterMetricFamily("r1_tiering_streamed_bytes", "Weight bytes read from disk by runs", labels=mv)
        read_s = CounterMetricFamily("r1_tiering_read_seconds", "Time spent reading weights from disk", labels=mv)
        stall_s = CounterMetricFamily("r1_tiering_stall_seconds", "Time runs waited for a weight to arrive", labels=mv)
        for row in self._live():
            key = [row["name"], row["version"]]
            for level, n in row.get("queue", {}).items():
                depth.add_metric([row["name"], level], n)
            state.add_metric([row["name"], row["version"], row["state"]], 1)
            inflight.add_metric(key, row.get("inflight", 0))
            auto.add_metric(key, 1 if row.get("auto_precision_active") else 0)
            health = row.get("device_health")
            if health:
                healthy.add_metric([*key, health["device"]], 1 if health["healthy"] else 0)
                failovers.add_metric([*key, health["device"]], health["failures"])
            t = row.get("tiering") or {}
            if t.get("enabled"):
                resident.add_metric(key, t["resident_weight_bytes"])
                for tier, b in t["budget_bytes"].items():
                    budget.add_metric([*key, tier], b)
                streamed.add_metric(key, t["streamed_bytes_total"])
                read_s.add_metric(key, t["read_s_total"])
                stall_s.add_metric(key, t["stall_s_total"])
        yield from (depth, state, inflight, auto, healthy, failovers, resident, budget, streamed, read_s, stall_s)


class ServerMetrics:
    def __init__(self, live: Callable[[], list[dict]] = list):
        r = self.registry = CollectorRegistry()
        ProcessCollector(registry=r)  # process_resident_memory_bytes, cpu seconds, open fds
        PlatformCollector(registry=r)
        self.success = Counter("r1_request_success", "Inference requests answered", ["model", "version"], registry=r)
        self.failure = Counter(
            "r1_request_failure", "Inference requests failed, by reason", ["model", "version", "reason"], registry=r
        )
        self.inferences = Counter(
            "r1_inference_count", "Samples inferred (a batch of n counts n)", ["model", "version"], registry=r
        )
        self.executions = Counter("r1_execution_count", "Engine runs (one per batch)", ["model", "version"], registry=r)
        self.request_seconds = Histogram(
            "r1_request_duration_seconds", "Request time in the server", ["model"], buckets=LATENCY_BUCKETS, registry=r
        )
        self.queue_seconds = Histogram(
            "r1_queue_duration_seconds",
            "Time a request waited in the queue",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.compute_seconds = Histogram(
            "r1_compute_duration_seconds", "Engine time per batch", ["model"], buckets=LATENCY_BUCKETS, registry=r
        )
        self.batch_size = Histogram(
            "r1_batch_size", "Requests per executed batch", ["model"], buckets=BATCH_BUCKETS, registry=r
        )
        self.precision_batches = Counter(
            "r1_batches_by_precision",
            "Batches per precision (auto precision routes under pressure)",
            ["model", "precision"],
            registry=r,
        )
        self.load_failures = Counter(
            "r1_model_load_failures",
            "Model (re)loads that failed (the reason is in the repository index)",
            ["model"],
            registry=r,
        )
        r.register(_LiveCollector(live))

    def for_version(self, model: str, version: str) -> VersionMetrics:
        return VersionMetrics(self, model, version)

    def request_failed_unknown(self, reason: str) -> None:
        """A failure before any loaded model was resolved (unknown model, bad auth, oversized body)."""
        self.failure.labels("", "", reason).inc()

    def load_failed(self, model: str) -> None:
        """A load or reload of `model` (a name from the repository's directory, not from a client) failed."""
        self.load_failures.labels(model).inc()

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type
