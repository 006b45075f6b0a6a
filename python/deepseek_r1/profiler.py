"""Where a model's time goes: kernel time per node and per op type (`r1 profile`).

    report = deepseek_r1.profile(engine, feeds, runs=20)
    print(report)                   # op types by time, then the slowest nodes
    report.by_op["FusedMatMul"]     # ms per run spent in that op type

Kernel times are measured inside the executor around each kernel call, so they exclude Python and the
executor's own bookkeeping; `wall_ms` is the median time of a whole `engine.run` for comparison.
With more than one thread, steps of an inter-op group overlap, so kernel times may add up to more
than the wall time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np


@dataclass
class NodeTime:
    name: str
    op: str
    ms: float  # per run


@dataclass
class ProfileReport:
    runs: int
    threads: int
    wall_ms: float  # median of the profiled runs
    kernel_ms: float  # sum of kernel time per run
    by_op: dict[str, float] = field(default_factory=dict)  # op type -> ms per run, slowest first
    op_nodes: dict[str, int] = field(default_factory=dict)  # op type -> nodes of that type
    nodes: list[NodeTime] = field(default_factory=list)  # slowest first

    def __str__(self) -> str:
        lines = [
            f"{self.runs} runs, {self.threads} thread(s): median wall {self.wall_ms:.3f} ms, "
            f"kernels {self.kernel_ms:.3f} ms per run",
            "",
            f"{'op type':<28}{'nodes':>7}{'ms/run':>10}{'share':>8}",
        ]
        total = self.kernel_ms or 1.0
        for op, ms in self.by_op.items():
            lines.append(f"{op:<28}{self.op_nodes[op]:>7}{ms:>10.3f}{100 * ms / total:>7.1f}%")
        lines += ["", f"{'slowest nodes':<60}{'op':<20}{'ms/run':>10}"]
        for n in self.nodes[:15]:
            lines.append(f"{n.name[:59]:<60}{n.op[:19]:<20}{n.ms:>10.3f}")
        return "\n".join(lines)


def profile(engine, inputs, runs: int = 20, warmup: int = 3) -> ProfileReport:
    if runs < 1 or warmup < 0:
        raise ValueError(f"runs must be >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")
    ex = engine._executor
    for _ in range(warmup):
        engine.run(inputs)
    ex.reset_profile()
    ex.profiling = True
    walls = []
    try:
        for _ in range(runs):
            t0 = time.perf_counter()
            engine.run(inputs)
            walls.append((time.perf_counter() - t0) * 1e3)
    finally:
        ex.profiling = False
    steps = ex.step_profile()
    by_op: dict[str, float] = {}
    op_nodes: dict[str, int] = {}
    nodes = []
    for name, op, domain, ns, _calls in steps:
        key = f"{domain}::{op}" if domain and domain != "ai.onnx" else op
        ms = ns / 1e6 / runs
        by_op[key] = by_op.get(key, 0.0) + ms
        op_nodes[key] = op_nodes.get(key, 0) + 1
        nodes.append(NodeTime(name, key, ms))
    by_op = dict(sorted(by_op.items(), key=lambda kv: -kv[1]))
    nodes.sort(key=lambda n: -n.ms)
    return ProfileReport(
        runs=runs,
        threads=engine.num_threads,
        wall_ms=float(np.median(walls)),
        kernel_ms=sum(by_op.values()),
        by_op=by_op,
        op_nodes=op_nodes,
        nodes=nodes,
    )
