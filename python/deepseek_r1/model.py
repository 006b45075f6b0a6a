"""A compiled model: an r1 graph plus metadata, saved to and loaded from `.r1` files.

model = load_model("model.r1")
model.compile_info         # CompileInfo(level=3, graph_passes=(...), target='avx512_bf16', ...) or None
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from . import _core

# Metadata keys ModelConverter writes (a file without them holds the graph as imported: engines run
# every pass at load).
COMPILE_KEYS = (
    "compiler",
    "optimization_level",
    "graph_passes",
    "device_passes",
    "target",
    "precision",
    "precision_overrides",
)


@dataclass(frozen=True)
class CompileInfo:
    """What ModelConverter did to a .r1 file's graph."""

    compiler: str  # "deepseek_r1 0.1.0"
    level: int  # the optimization level of the graph passes
    graph_passes: tuple[str, ...]  # the graph passes that ran, in order
    device_passes: tuple[str, ...]  # device passes already run for `target` (empty for a portable file)
    target: str  # "cpu" (portable), a CPU profile row or a GPU profile row
    precision: str  # the precision engines open the file with by default
    # Per-node exceptions to `precision` ((glob over node names, precision), first match wins): the
    # layer policy r1.quantize chose; engines opening the file at its own precision apply them again.
    precision_overrides: tuple[tuple[str, str], ...] = ()

    def metadata(self) -> dict[str, str]:
        meta = {
            "compiler": self.compiler,
            "optimization_level": str(self.level),
            "graph_passes": ",".join(self.graph_passes),
            "device_passes": ",".join(self.device_passes),
            "target": self.target,
            "precision": self.precision,
        }
        if self.precision_overrides:
            meta["precision_overrides"] = json.dumps([list(o) for o in self.precision_overrides])
        return meta

    @staticmethod
    def from_metadata(meta: dict[str, str]) -> CompileInfo | None:
        if "graph_passes" not in meta:
            return None
        try:
            level = int(meta.get("optimization_level", "3"))
        except ValueError:
            raise _core.ModelError(
                f"bad optimization_level {meta['optimization_level']!r} in the model's metadata"
            ) from None
        names = lambda key: tuple(p for p in meta.get(key, "").split(",") if p)
        return CompileInfo(
            meta.get("compiler", "?"),
            level,
            names("graph_passes"),
            names("device_passes"),
            meta.get("target", "cpu"),
            meta.get("precision", "fp32"),
            _overrides(meta.get("precision_overrides", "[]")),
        )


def _overrides(text: str) -> tuple[tuple[str, str], ...]:
    try:
        pairs = json.loads(text)
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in pairs
        ):
            raise ValueError("not a list of [pattern, precision] pairs")
    except ValueError as e:
        raise _core.ModelError(f"bad precision_overrides in the model's metadata: {e}") from None
    return tuple((p, q) for p, q in pairs)


@dataclass
class Model:
    graph: _core.Graph
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def compile_info(self) -> CompileInfo | None:
        """What ModelConverter compiled into the graph, or None for a graph as imported."""
        return CompileInfo.from_metadata(self.metadata)

    def __str__(self) -> str:
        return str(self.graph)


def save_model(model: Model, path: str | os.PathLike) -> str:
    """Writes `model` as a single .r1 file (atomically: a reader never sees half a file)."""
    path = os.fspath(path)
    _core.save_r1(model.graph, {str(k): str(v) for k, v in model.metadata.items()}, path)
    return path


def load_model(path: str | os.PathLike, verify_checksum: bool = True, mmap: bool = True) -> Model:
    """Maps a .r1 file; weights stay in the page cache and are not copied.

    mmap=False reads the file into private memory instead (one read, at page-cache speed): the model is
    then immune to the file being changed afterwards. A mapped model whose file is overwritten in place
    (`cp new.r1 model.r1`) fails its next run with ModelError naming the file, never crashes; replace
    files atomically (write elsewhere, then rename) to update a model in use.
    Raises ModelError for a file that is missing, truncated, corrupt or of another format version.
    """
    graph, meta = _core.load_r1(os.fspath(path), verify_checksum, mmap)
    return Model(graph, dict(meta))
