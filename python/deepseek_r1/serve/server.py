"""InferenceServer: a KServe v2 server (what tritonclient and KServe speak) for one model or a repository.

    import deepseek_r1 as r1
    r1.InferenceServer(model_path="model.r1", batch_size=32, dynamic_batching=True).run(port=8080)
    r1.InferenceServer(repository="repo/", api_keys={"k1": "premium", "k2": "standard"},
                       priorities={"standard": {"max_queue_size": 256, "timeout_ms": 2000}}).run(port=8080)

    server = r1.InferenceServer(model_path="model.r1").start(port=0)   # in a background thread
    print(server.url); ...; server.stop()

Transport bounds (http_protocol.py): a request target over `max_url_bytes` gets 414, headers over
`max_header_bytes` or `max_headers` fields 431; a head must arrive within `header_timeout_s` and a body must
progress every `body_timeout_s` (408); past `max_connections` (None: from RLIMIT_NOFILE, whose soft limit is
raised to the hard one at start) the oldest idle connection is closed, or the new one refused with 503. The
gRPC endpoint (grpc_port) takes the same bounds where they map (grpc_server.py); with it on, each endpoint's
default connection cap is half of what RLIMIT_NOFILE leaves.

Rights and origins (auth.py, same_site.py): api_keys={"k": {"priority": "premium", "admin": True}} (a level is
a ceiling; repository changes need admin); `allowed_origins` lets other sites' pages in; a loopback-bound
server answers only localhost Host names unless `allowed_hosts` names more (DNS rebinding).

Starlette on uvicorn with uvloop and httptools (ARCHITECTURE.md: ~80 us of CPU a request). Binds 127.0.0.1
unless told otherwise: exposing a model server is a decision, not a default.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import uvicorn

from ..kserve import Limits
from ..memory_budget import parse_budget
from .app import ServerState, build_app
from .batcher import LEVELS, PriorityPolicy
from .config import ModelConfig
from .http_protocol import TransportLimits, bounded_protocol, raise_open_file_limit
from .memory_hygiene import MemoryHygiene
from .metrics import ServerMetrics
from .repository import ModelRepository
from .same_site import allowed_origins as allowed_origins_of
from .same_site import host_rule

log = logging.getLogger("deepseek_r1.serve")


def _policies(priorities: Mapping | None) -> dict[str, PriorityPolicy]:
    out = {level: PriorityPolicy() for level in LEVELS}
    for level, p in (priorities or {}).items():
        if level not in LEVELS:
            raise ValueError(f"unknown priority level '{level}'; levels: {list(LEVELS)}")
        if isinstance(p, PriorityPolicy):
            out[level] = p
            continue
        p = dict(p)
        if "timeout_ms" in p:
            t = p.pop("timeout_ms")
            p["default_timeout_s"] = None if t is None else t / 1000
        try:
            out[level] = PriorityPolicy(**p)
        except TypeError as e:
            raise ValueError(f"priority '{level}': {e}; keys: max_queue_size, timeout_ms, on_full") from None
    return out


def _keys(api_keys) -> dict[str, dict] | None:
    """None (no auth) | ["k1", ...] | {"k1": "premium"} | {"k1": {"priority": "premium", "admin": True}}.

    Each key comes out as {"priority": level, "admin": bool} (auth.py): the list and string forms are inference
    keys at "standard" / the level named, never admin; the priority is a ceiling as well as the default."""
    if api_keys is None:
        return None
    if isinstance(api_keys, str):
        raise ValueError("api_keys must be a list or dict of keys, not one string")
    items = api_keys.items() if isinstance(api_keys, Mapping) else ((k, {}) for k in api_keys)
    out = {}
    for key, settings in items:
        if not isinstance(key, str) or len(key) < 8:
            raise ValueError("API keys must be strings of at least 8 characters")
        settings = {"priority": settings} if isinstance(settings, str) else dict(settings or {})
        unknown = sorted(set(settings) - {"priority", "admin"})
        if unknown:  # a typo ("admn") must not silently give a key fewer or more rights than meant
            raise ValueError(f"unknown API key setting(s) {unknown}; settings: 'priority', 'admin'")
        settings.setdefault("priority", "standard")
        settings.setdefault("admin", False)
        if settings["priority"] not in LEVELS:
            raise ValueError(f"API key priority must be one of {list(LEVELS)}, got {settings['priority']!r}")
        if not isinstance(settings["admin"], bool):
            raise ValueError(f"API key 'admin' must be True or False, got {settings['admin']!r}")
        out[key] = settings
    if not out:
        raise ValueError("api_keys is empty: pass None to turn authentication off")
    return out


class InferenceServer:
    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        *,
        repository: str | os.PathLike | None = None,
        batch_size: int = 32,
        dynamic_batching: bool = True,
        max_queue_delay_ms: float | None = None,
        preferred_batch_sizes: tuple[int, ...] = (),
        priorities: Mapping | None = None,
        api_keys=None,
        host: str = "127.0.0.1",
        precision: str | None = None,
        variants: tuple[str, ...] = (),
        num_threads: int | None = None,
        pad_values: dict | None = None,
        max_request_bytes: int = 64 << 20,
        poll_interval_s: float | None = 2.0,
        versions: int = 1,
        grpc_port: int | None = None,
        tokenizer: dict | None = None,
        max_connections: int | None = None,
        header_timeout_s: float = 10.0,
        body_timeout_s: float = 30.0,
        max_url_bytes: int = 16 << 10,
        max_header_bytes: int = 64 << 10,
        max_headers: int = 128,
        allowed_origins: tuple[str, ...] | str = (),
        allowed_hosts: tuple[str, ...] | str | None = None,
        device: str = "cpu",
        fallback_device: str | None = None,
        memory_budget: Mapping | str | None = None,
    ):
        self.host = host
        self._hygiene = MemoryHygiene()  # allocator settings first: before the server's threads make arenas
        self.transport_limits = TransportLimits(
            max_url_bytes=max_url_bytes,
            max_header_bytes=max_header_bytes,
            max_headers=max_headers,
            header_timeout_s=header_timeout_s,
            body_timeout_s=body_timeout_s,
            max_connections=max_connections,
        )
        self.defaults = ModelConfig(
            max_batch_size=batch_size,
            preferred_batch_sizes=tuple(preferred_batch_sizes),
            max_queue_delay_ms=max_queue_delay_ms,
            dynamic_batching=dynamic_batching,
            pad_values=pad_values,
            precision=precision,
            variants=tuple(variants),
            num_threads=num_threads,
            versions=versions,
            tokenizer=tokenizer,
            device=device,
            fallback_device=fallback_device,
            # One budget for every model: their engines draw on one shared pool per tier (memory_budget.py).
            memory_budget=parse_budget(memory_budget) if memory_budget is not None else None,
        )
        self.poll_interval_s = poll_interval_s
        self.grpc_port = grpc_port  # None: no gRPC; 0: any free port (read .grpc_port after start)
        self._grpc_transport = self.transport_limits  # _config sets the connection cap
        # Batches of one model run one at a time (the engine uses every core); a few workers let other
        # models' batches and the GIL-free copies overlap.
        self._executor = ThreadPoolExecutor(4, thread_name_prefix="r1-infer")
        self.metrics = ServerMetrics(live=lambda: self.repository.live_stats())
        self.repository = ModelRepository(
            repository,
            model_path,
            defaults=self.defaults,
            metrics=self.metrics,
            executor=self._executor,
            priorities=_policies(priorities),
        )
        self._single = model_path is not None
        self.state = ServerState(
            self.repository,
            self.metrics,
            Limits(max_body_bytes=max_request_bytes),
            _keys(api_keys),
            # pages on these origins may POST repository changes ("*": any); this host's own origin always may
            allowed_origins=allowed_origins_of(allowed_origins),
            # bound to loopback: only localhost Host names (DNS rebinding), plus these ("*": any)
            allowed_hosts=host_rule(host, allowed_hosts),
        )
        self.app = build_app(self.state, lifespan=self._lifespan)
        self._uvicorn: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    def set_auto_precision(self, threshold: float | None) -> None:
        """Route batches to a lower-precision variant (config `variants`, or model.<precision>.r1) while the
        queue holds more than `threshold` x max_batch_size requests; None turns it off."""
        if threshold is not None and not threshold > 0:
            raise ValueError(f"threshold must be > 0 (queued requests per max batch), got {threshold!r}")
        self.repository.set_auto_precision(threshold)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app):
        await self.repository.load_all()
        if self._single:
            name = self.repository.model_names()[0]
            if not self.repository.entries[name].versions:
                raise RuntimeError(f"cannot serve {self.repository.model_path}: {self.repository.entries[name].reason}")
        poller = asyncio.create_task(self._poll_loop(self.poll_interval_s)) if self.poll_interval_s else None
        hygiene = asyncio.create_task(self._hygiene.run())  # memory back to the OS after bursts
        grpc_server = None
        if self.grpc_port is not None:
            from .grpc_server import start_grpc_server  # the [grpc] extra: imported only when asked for

            grpc_server, self.grpc_port = await start_grpc_server(
                self.state, self.host, self.grpc_port, self._grpc_transport
            )
        try:
            yield
        finally:
            if grpc_server is not None:
                await grpc_server.stop(grace=5)
            hygiene.cancel()
            if poller is not None:
                poller.cancel()
            await self.repository.close()

    async def _poll_loop(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.repository.poll()
            except Exception:  # a scan must never stop the watcher
                log.exception("repository scan failed")

    def _config(self, port: int, log_level: str) -> uvicorn.Config:
        # Each connection is a descriptor: raise the soft limit first, then leave room under it for the rest.
        soft = raise_open_file_limit()
        if self.grpc_port is not None and soft is not None:
            soft = 64 + (soft - 64) // 2  # gRPC connections are descriptors too: each endpoint caps at half
        limits = self.transport_limits.with_default_cap(soft)
        self._grpc_transport = limits  # the gRPC endpoint's bounds too (grpc_server.grpc_options)
        log.info("serving at most %d connections", limits.max_connections)
        return uvicorn.Config(
            self.app,
            host=self.host,
            port=port,
            loop="uvloop",
            http=bounded_protocol(limits),  # uvicorn's httptools protocol with size, time and connection bounds
            lifespan="on",
            access_log=False,
            log_level=log_level,
            backlog=2048,
            proxy_headers=False,
            timeout_keep_alive=30,
            timeout_graceful_shutdown=30,
        )

    def run(self, port: int = 8080, log_level: str = "warning") -> None:
        """Serves until interrupted (Ctrl-C / SIGTERM drain in-flight requests, then exit)."""
        print(f"deepseek_r1 serving on http://{self.host}:{port} (KServe v2; status page at /)", flush=True)
        uvicorn.Server(self._config(port, log_level)).run()

    def start(self, port: int = 0, log_level: str = "warning", timeout_s: float = 120.0) -> InferenceServer:
        """Serves in a background thread; returns once models are loaded and the port is bound."""
        self._uvicorn = uvicorn.Server(self._config(port, log_level))
        self._thread = threading.Thread(target=self._uvicorn.run, name="r1-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._uvicorn.started:
            if not self._thread.is_alive():
                raise RuntimeError("the server failed to start (see the log above)")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the server did not start within {timeout_s} s")
            time.sleep(0.01)
        self.port = self._uvicorn.servers[0].sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout_s: float = 30.0) -> None:
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._thread is not None:  # start() sets both; run() neither
            self._thread.join(timeout_s)
        self._uvicorn = self._thread = None

    def __enter__(self):
        return self if self._uvicorn is not None else self.start()

    def __exit__(self, *exc):
        self.stop()


__all__ = ["InferenceServer"]
