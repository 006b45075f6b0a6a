"""A compiled model: an r1 graph plus metadata, saved to and loaded from `.r1` files."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from . import _core


@dataclass
class Model:
    graph: _core.Graph
    metadata: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return str(self.graph)


def save_model(model: Model, path: str | os.PathLike) -> str:
    """Writes `model` as a single .r1 file (atomically: a reader never sees half a file)."""
    path = os.fspath(path)
    _core.save_r1(model.graph, {str(k): str(v) for k, v in model.metadata.items()}, path)
    return path


def load_model(path: str | os.PathLike, verify_checksum: bool = True) -> Model:
    """Maps a .r1 file; weights stay in the page cache and are not copied.

    Raises ModelError for a file that is missing, truncated, corrupt or of another format version.
    """
    graph, meta = _core.load_r1(os.fspath(path), verify_checksum)
    return Model(graph, dict(meta))
