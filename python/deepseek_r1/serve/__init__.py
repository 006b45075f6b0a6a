"""Serving: the KServe v2 InferenceServer (server.py), its app, batcher, repository and metrics.

from deepseek_r1.serve import InferenceServer
"""


def __getattr__(name):
    # Lazy: the serving pieces (errors, batcher, ...) import without pulling in uvicorn and starlette.
    if name == "InferenceServer":
        from .server import InferenceServer

        return InferenceServer
    raise AttributeError(f"module 'deepseek_r1.serve' has no attribute {name!r}")


__all__ = ["InferenceServer"]
