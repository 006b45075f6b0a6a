"""The KServe v2 HTTP app (Starlette): routes, API keys, body limits, and the error shape `{"error": "..."}`.

    state = ServerState(repository, metrics, limits, api_keys, allowed_origins=allowed_origins(()))
    app = build_app(state)          # an ASGI app: uvicorn (server.py) or Ray Serve (ray.py) serve it

No middleware: each handler does its own auth check, so a request costs only what it uses (Starlette's
BaseHTTPMiddleware alone adds tens of microseconds). Every ServeError becomes its status, message and headers
(Retry-After); anything else is a 500 whose message names the exception, and the server keeps serving. The
routes that change the server refuse cross-site requests (same_site.py), and load / unload need an admin key
when keys are on (auth.py). JSON answers never hold NaN or Infinity, which JSON does not have: they say null.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .. import __version__
from ..kserve import Limits, error_body
from .auth import check_api_key, require_admin
from .errors import BadRequest, Forbidden, NotFound, ServeError, Unauthorized, to_serve_error
from .infer_handler import InferHandler
from .infer_route import InferRoute, read_body
from .metrics import ServerMetrics
from .repository import ModelRepository, check_name
from .same_site import Origin, check_host, check_same_site
from .status_page import STATUS_HTML

log = logging.getLogger("deepseek_r1.serve")
EXTENSIONS = ["binary_tensor_data", "model_repository", "statistics_metrics", "priority", "timeout"]


@dataclass
class ServerState:
    repository: ModelRepository
    metrics: ServerMetrics
    limits: Limits
    api_keys: dict[str, dict] | None = None  # key -> {"priority": default and highest level, "admin": bool}
    allowed_origins: tuple[Origin | str, ...] = ()  # same_site.allowed_origins(): cross-site origins let in
    allowed_hosts: frozenset[str] | None = None  # same_site.host_rule(): Host names answered (None: any)
    public_paths: tuple[str, ...] = ("/v2/health/live", "/v2/health/ready")
    started: float = field(default_factory=time.time)


def _error(e: ServeError) -> Response:
    return Response(error_body(e.message), status_code=e.status, headers=e.headers(), media_type="application/json")


def _finite(v):
    """`v` with every NaN / Infinity float replaced by None (JSON has no such numbers; clients choke on them)."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v


def _json(content) -> Response:
    try:
        body = json.dumps(content, allow_nan=False, separators=(",", ":"))
    except ValueError:  # a non-finite float somewhere (the rare case: only then walk the content)
        body = json.dumps(_finite(content), allow_nan=False, separators=(",", ":"))
    return Response(body, media_type="application/json")


def build_app(state: ServerState, lifespan=None) -> InferRoute:
    repo, metrics = state.repository, state.metrics

    def guarded(handler):
        async def endpoint(request: Request) -> Response:
            try:
                if request.url.path not in state.public_paths:
                    check_host(request.headers.get("host"), state.allowed_hosts)
                    request.state.key = check_api_key(state.api_keys, request.headers.get("authorization"))
            except (Unauthorized, Forbidden) as e:
                return _error(e)
            try:
                return await handler(request)
            except ServeError as e:
                return _error(e)
            except Exception as e:  # a bug must not take the server down; say what happened
                log.exception("unhandled error on %s", request.url.path)
                return _error(to_serve_error(e))

        return endpoint

    async def server_metadata(request):
        return _json({"name": "deepseek_r1", "version": __version__, "extensions": EXTENSIONS})

    async def live(request):
        return Response(status_code=200)

    async def ready(request):
        ok = bool(repo.entries) and all(e.versions for e in repo.entries.values() if e.reason != "unloaded")
        # KServe reads the status; the body says which devices failed runs lately (they failed over: still ready).
        devices: dict = {}
        for row in repo.live_stats():
            h = row.get("device_health")
            if h and h["fallback_device"]:
                d = devices.setdefault(
                    h["device"], {"healthy": True, "failures": 0, "fallback_device": h["fallback_device"]}
                )
                d["healthy"] = d["healthy"] and h["healthy"]
                d["failures"] += h["failures"]
        body = json.dumps({"ready": ok, "devices": devices}, separators=(",", ":"))
        return Response(body, status_code=200 if ok else 503, media_type="application/json")

    def _lookup(request):
        name = request.path_params["model"]
        version = request.path_params.get("version")
        return repo.get(name, version)

    async def model_metadata(request):
        mv = _lookup(request)
        versions = sorted(repo.entries[mv.name].versions, key=int)
        return _json(mv.metadata(versions))

    async def model_ready(request):
        try:
            _lookup(request)
        except NotFound:
            raise
        except ServeError:
            return Response(status_code=400)
        return Response(status_code=200)

    async def model_config(request):
        mv = _lookup(request)
        c = mv.config
        return _json(
            {
                "name": mv.name,
                "max_batch_size": c.max_batch_size,
                "platform": "deepseek_r1",
                "dynamic_batching": {
                    "enabled": c.dynamic_batching,
                    "preferred_batch_size": list(c.preferred_batch_sizes),
                    "max_queue_delay_ms": c.max_queue_delay_ms,
                },
                "precision": mv.precision,  # the primary engine's (config, else the .r1 file's)
                "variants": sorted(mv.engines),
            }
        )

    async def _same_site_body(request) -> bytes:
        """The body of a request that changes the server, once it is known not to come from another site."""
        body = await read_body(request.scope, request.receive, 64 * 1024)
        check_same_site(request.headers, state.allowed_origins, body)
        return body

    async def repo_index(request):
        await _same_site_body(request)  # a POST: a page elsewhere must not learn the repository either
        return _json(repo.index())

    async def _parameters(request) -> dict:
        body = await _same_site_body(request)
        if not body:
            return {}
        try:
            data = json.loads(body)
        except ValueError as e:
            raise BadRequest(f"request body is not valid JSON: {e}") from None
        params = data.get("parameters", {}) if isinstance(data, dict) else None
        if not isinstance(params, dict):
            raise BadRequest("'parameters' must be a JSON object")
        return params

    async def repo_load(request):
        require_admin(request.state.key, state.api_keys)
        name = check_name(request.path_params["model"])
        params = await _parameters(request)
        config = params.get("config")
        if isinstance(config, str):
            try:
                config = json.loads(config)  # Triton sends the config as a JSON string
            except ValueError as e:
                raise BadRequest(f"parameters.config is not valid JSON: {e}") from None
        if config is not None and not isinstance(config, dict):
            raise BadRequest("parameters.config must be a JSON object")
        if name not in repo.model_names():
            raise NotFound(f"model '{name}' is not in the repository")
        await repo.load(name, overrides=config, force=True)
        return Response(status_code=200)

    async def repo_unload(request):
        require_admin(request.state.key, state.api_keys)
        await _same_site_body(request)
        await repo.unload(check_name(request.path_params["model"]))
        return Response(status_code=200)

    async def prometheus(request):
        body, content_type = metrics.exposition(request.headers.get("accept"))
        return Response(body, media_type=content_type)

    async def status_json(request):
        return _json(
            {
                "server": "deepseek_r1",
                "version": __version__,
                "uptime_s": round(time.time() - state.started, 1),
                "models": repo.live_stats(),
                "index": repo.index(),
            }
        )

    async def status_page(request):
        return HTMLResponse(STATUS_HTML)

    g = guarded
    routes = [
        Route("/", g(status_page), methods=["GET"]),
        Route("/status.json", g(status_json), methods=["GET"]),
        Route("/metrics", g(prometheus), methods=["GET"]),
        Route("/v2", g(server_metadata), methods=["GET"]),
        Route("/v2/health/live", g(live), methods=["GET"]),
        Route("/v2/health/ready", g(ready), methods=["GET"]),
        Route("/v2/repository/index", g(repo_index), methods=["POST"]),
        Route("/v2/repository/models/{model}/load", g(repo_load), methods=["POST"]),
        Route("/v2/repository/models/{model}/unload", g(repo_unload), methods=["POST"]),
    ]
    for prefix in ("/v2/models/{model}", "/v2/models/{model}/versions/{version}"):
        routes += [
            Route(prefix, g(model_metadata), methods=["GET"]),
            Route(prefix + "/ready", g(model_ready), methods=["GET"]),
            Route(prefix + "/config", g(model_config), methods=["GET"]),
        ]
    # POST .../infer is served by InferRoute in front of these routes (infer_route.py).
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_exception_handler(404, lambda request, exc: _error(NotFound(f"no route for {request.url.path[:200]}")))
    app.add_exception_handler(
        405,
        lambda request, exc: _error(
            ServeError(f"method {request.method} is not allowed on {request.url.path[:200]}", status=405)
        ),
    )
    app.state.r1 = state
    return InferRoute(app, state, InferHandler(repo, metrics))


__all__ = ["ServerState", "build_app"]
