"""The graph compiler's Python face: optimization levels and IR dumps.

    from deepseek_r1 import optimize, load
    report = optimize(model, level=3)                     # rewrites a copy; returns (model, report)
    optimize(model, print_ir_after="all")                 # prints the IR after every pass
    optimize(model, print_ir_after=["attention_fusion"])  # ... or after the passes named

Levels follow onnxruntime's graph_optimization_level: 0 none, 1 basic (folding, dead code, CSE),
2 extended (fusions), 3 all (layout, weight packing, precision).

Stages: the "graph" passes depend on the graph alone (ModelConverter runs them once and stores the
result in the .r1 file); the "device" passes depend on the device, CPU and precision an engine opens
(precision marking, weight packing, float conversion, scheduling) and run at load.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from . import _core
from .model import Model

LEVELS = (0, 1, 2, 3)
DEFAULT_LEVEL = 3
STAGES = ("all", "graph", "device")


@dataclass
class OptimizeReport:
    level: int
    nodes_before: int
    nodes_after: int
    passes: list = field(default_factory=list)  # dicts: name, stage, changed, nodes_before, nodes_after, ms

    def __str__(self) -> str:
        lines = [f"optimization level {self.level}: {self.nodes_before} -> {self.nodes_after} nodes"]
        for p in self.passes:
            mark = "*" if p["changed"] else " "
            lines.append(
                f"  {mark} {p['name']:<24} {p['stage']:<6} {p['nodes_before']:>6} -> {p['nodes_after']:<6} "
                f"{p['ms']:8.2f} ms"
            )
        return "\n".join(lines)

    @property
    def pass_names(self) -> list[str]:
        return [p["name"] for p in self.passes]


def pass_names(level: int = DEFAULT_LEVEL, stage: str = "all") -> list[str]:
    """The passes of `level` in the order they run: every stage, or only "graph" or "device"."""
    _check_level(level)
    _check_stage(stage)
    return list(_core.pass_names(level, stage))


def _check_stage(stage) -> None:
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")


def _check_level(level) -> None:
    if not isinstance(level, int) or isinstance(level, bool) or level not in LEVELS:
        raise ValueError(f"optimization level must be one of {LEVELS}, got {level!r}")


def optimize_graph(
    graph: _core.Graph,
    level: int = DEFAULT_LEVEL,
    precision: str = "fp32",
    disabled: Iterable[str] = (),
    print_ir_after: str | Iterable[str] | Callable[[str, str], None] | None = None,
    stream: TextIO | None = None,
    device: str = "cpu",
    stages: str = "all",
    cpu_target: dict[str, bool] | None = None,
    precision_overrides: Sequence[tuple[str, str]] = (),
) -> OptimizeReport:
    """Rewrites `graph` in place and returns what each pass did.

    stages: "all", or only the "graph" or the "device" passes. cpu_target: the CPU feature flags the
    device passes compile for (a hardware profile row's); None for this machine's CPU.
    precision_overrides: (glob over node names, precision) pairs, first match wins: per-node exceptions
    to `precision` on the CPU (what r1.quantize's policy compiles to).
    """
    _check_level(level)
    _check_stage(stages)
    disabled = set(disabled)
    known = set(_core.pass_names(3))
    unknown = disabled - known
    if unknown:
        raise ValueError(f"unknown pass name(s) {sorted(unknown)}; passes: {sorted(known)}")
    callback = None
    if callable(print_ir_after):
        callback = print_ir_after
    elif print_ir_after is not None:
        wanted = (
            None
            if print_ir_after == "all"
            else {print_ir_after}
            if isinstance(print_ir_after, str)
            else set(print_ir_after)
        )
        if wanted is not None and wanted - known:
            raise ValueError(f"unknown pass name(s) {sorted(wanted - known)}; passes: {sorted(known)}")
        out = stream or sys.stdout

        def callback(name: str, text: str) -> None:
            if wanted is None or name in wanted:
                out.write(f"// ----- IR after {name} -----\n{text}\n")

    overrides = [(str(p), str(q)) for p, q in precision_overrides]
    rep = _core.optimize(graph, level, precision, disabled, callback, device, stages, cpu_target, overrides)
    return OptimizeReport(level, rep["nodes_before"], rep["nodes_after"], list(rep["passes"]))


def optimize(
    model: Model,
    level: int = DEFAULT_LEVEL,
    precision: str = "fp32",
    disabled: Iterable[str] = (),
    print_ir_after=None,
    stream: TextIO | None = None,
) -> tuple[Model, OptimizeReport]:
    """Optimizes a copy of `model` (the original is left as it was)."""
    graph = model.graph.clone()
    rep = optimize_graph(graph, level, precision, disabled, print_ir_after, stream)
    meta = dict(model.metadata)
    meta["optimization_level"] = str(level)
    return Model(graph, meta), rep
