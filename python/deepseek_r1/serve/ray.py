"""Scale-out: the same KServe v2 app as a Ray Serve deployment, with replicas and autoscaling (`[ray]` extra).

    from deepseek_r1.serve import ray as r1_ray
    r1_ray.run("model.r1", num_replicas=4, port=8000)                # 4 replicas behind Ray's HTTP proxy
    r1_ray.run(repository="repo/", num_replicas="auto",             # 1..8 replicas, ~32 requests in flight each
               autoscaling_config={"max_replicas": 8}, batch_size=32)
    app = r1_ray.deployment("model.r1", num_replicas=2)             # or: a ray.serve.Application to compose

Each replica is an InferenceServer (same routes, auth, batcher, metrics) whose Starlette app Ray's proxy
calls directly over ASGI, so tritonclient and deepseek_r1.Client work against the proxy unchanged. Ray runs
the app's lifespan inside each replica (uvicorn's LifespanOn, in ray.serve's ASGI wrapper): each replica loads
its models before it reports ready, and polls its repository for hot reload on its own. /metrics and the
status page describe whichever replica answered; scrape replicas through Ray's metrics for a cluster view.
"""

from __future__ import annotations

import os
from typing import Any, cast

try:
    from ray import serve
except ImportError as e:  # name the extra: "No module named 'ray'" alone does not say what to install
    raise ImportError("deepseek_r1.serve.ray needs Ray Serve: pip install 'deepseek_r1[ray]'") from e

from .server import InferenceServer

DEFAULT_NAME = "deepseek_r1"
# Arguments of InferenceServer that belong to its own uvicorn/gRPC listeners, which a replica does not open:
# Ray's proxy owns the HTTP port (run(host=, port=)), and a gRPC port per replica would collide on one node.
_NOT_IN_RAY = {
    "host": "pass host= and port= to run() (Ray's HTTP proxy owns the listening socket)",
    "grpc_port": "the gRPC endpoint is not served by Ray replicas; use InferenceServer for gRPC",
}

# The server a replica's constructor built, for _build_app below. Ray runs each replica in its own actor
# process, so there is exactly one. (serve.ingress takes a builder *function* called right after the
# constructor; it cannot see `self`. Ray >= 2.5x has a late-bound hook for this, the declared range does not.)
_replica_server: InferenceServer | None = None


def _build_app():
    if _replica_server is None:
        raise RuntimeError("the deepseek_r1 replica built no InferenceServer before Ray asked for its app")
    return _replica_server.app


@serve.ingress(_build_app)
class InferenceReplica:
    """One Ray Serve replica: an InferenceServer whose ASGI app (and lifespan) Ray runs."""

    def __init__(self, server_kwargs: dict[str, Any]):
        global _replica_server
        self.server = _replica_server = InferenceServer(**server_kwargs)


def _threads(ray_actor_options: dict) -> int:
    # The engine defaults to every core of the machine; replicas sharing a node would oversubscribe it. A
    # replica gets the CPUs Ray reserved for it (Ray's own default is 1 CPU per replica).
    cpus = ray_actor_options.get("num_cpus", 1)
    return max(1, int(cpus))


def deployment_options(
    *,
    num_replicas: int | str | None = None,
    autoscaling_config: dict | None = None,
    ray_actor_options: dict | None = None,
    max_ongoing_requests: int | None = None,
    batch_size: int = 32,
    name: str = DEFAULT_NAME,
) -> dict[str, Any]:
    """The keyword arguments of serve.deployment() for these settings (see deployment())."""
    if (
        num_replicas is not None
        and num_replicas != "auto"
        and (isinstance(num_replicas, bool) or not isinstance(num_replicas, int) or num_replicas < 1)
    ):
        raise ValueError(f"num_replicas must be an int >= 1 or 'auto', got {num_replicas!r}")
    if autoscaling_config is not None:
        if num_replicas not in (None, "auto"):
            raise ValueError(
                f"num_replicas={num_replicas!r} and autoscaling_config are exclusive: "
                "autoscaling chooses the replica count (use its min_replicas / max_replicas)"
            )
        if not isinstance(autoscaling_config, dict):
            raise ValueError(f"autoscaling_config must be a dict, got {type(autoscaling_config).__name__}")
    opts: dict[str, Any] = {"name": name, "ray_actor_options": dict(ray_actor_options or {})}
    # Ray's default of 5 requests per replica would cap every dynamic batch at 5. Let a replica hold enough
    # requests to fill the batch running now and the next few; beyond that Ray's router queues (back-pressure).
    opts["max_ongoing_requests"] = max_ongoing_requests or 4 * batch_size
    if num_replicas == "auto" or autoscaling_config is not None:
        # One full batch per replica is the load a replica is built for: scale out when replicas hold more.
        # Fields the caller gives override these; Ray fills the rest (min 1, max 100, its delays).
        opts["autoscaling_config"] = {
            "target_ongoing_requests": batch_size,
            "min_replicas": 1,
            **(autoscaling_config or {}),
        }
        opts["num_replicas"] = "auto"
    else:
        opts["num_replicas"] = num_replicas or 1
    return opts


def deployment(
    model_path: str | os.PathLike | None = None,
    *,
    repository: str | os.PathLike | None = None,
    num_replicas: int | str | None = None,
    autoscaling_config: dict | None = None,
    ray_actor_options: dict | None = None,
    max_ongoing_requests: int | None = None,
    name: str = DEFAULT_NAME,
    **server_kwargs,
) -> serve.Application:
    """A Ray Serve application running InferenceServer(model_path, repository=..., **server_kwargs) per replica.

    num_replicas: an int (fixed), "auto" (autoscaling), or None (1, or autoscaling when autoscaling_config is
    given). autoscaling_config: Ray's AutoscalingConfig fields; defaults here: target_ongoing_requests =
    batch_size, min_replicas = 1. ray_actor_options: Ray's (num_cpus, memory, runtime_env, ...); num_threads
    of each replica's engine defaults to its num_cpus. max_ongoing_requests: per replica, default 4 x
    batch_size. Paths must be readable from every node that runs a replica (shared or copied storage).
    """
    for key, why in _NOT_IN_RAY.items():
        if key in server_kwargs:
            raise ValueError(f"{key}= is not an option of the Ray deployment: {why}")
    if (model_path is None) == (repository is None):
        raise ValueError("pass exactly one of model_path or repository=")
    opts = deployment_options(
        num_replicas=num_replicas,
        autoscaling_config=autoscaling_config,
        ray_actor_options=ray_actor_options,
        max_ongoing_requests=max_ongoing_requests,
        batch_size=server_kwargs.get("batch_size", 32),
        name=name,
    )
    if server_kwargs.get("num_threads") is None:
        server_kwargs["num_threads"] = _threads(opts["ray_actor_options"])
    # Absolute paths: replicas' working directories are not the driver's.
    server_kwargs["model_path"] = None if model_path is None else os.path.abspath(model_path)
    server_kwargs["repository"] = None if repository is None else os.path.abspath(repository)
    # serve.deployment(cls, **options) is a Deployment; its overloads cannot tell from a dict of options.
    replica = cast(serve.Deployment, serve.deployment(InferenceReplica, **opts))
    return replica.bind(server_kwargs)


def run(
    model_path: str | os.PathLike | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    route_prefix: str = "/",
    app_name: str = DEFAULT_NAME,
    blocking: bool = False,
    **deployment_kwargs,
):
    """Deploys deployment(model_path, **deployment_kwargs) and returns its DeploymentHandle once every replica
    has loaded its models; blocking=True serves until interrupted. Starts Ray (ray.init()) and Serve when they
    are not running; host/port configure Serve's HTTP proxy, which is cluster-wide and set by whoever starts
    Serve first. Binds 127.0.0.1 unless told otherwise, like InferenceServer."""
    app = deployment(model_path, **deployment_kwargs)
    serve.start(http_options={"host": host, "port": port})
    return serve.run(app, name=app_name, route_prefix=route_prefix, blocking=blocking)


__all__ = ["InferenceReplica", "deployment", "deployment_options", "run"]
