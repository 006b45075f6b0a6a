"""A Chrome trace of one run (r1 profile --trace out.json; open in chrome://tracing or ui.perfetto.dev): a compute
lane with every step, and for an engine under a memory budget an I/O lane with the disk reads of the weights and a
stall lane with the times the compute waited for one. Overlap of the two lanes is the stream pipeline at work.

    n = write_trace(engine, feeds, "run.json")
"""

from __future__ import annotations

import json
import os

LANES = {0: "compute", 1: "disk reads", 2: "compute waits for a weight"}


def write_trace(engine, feeds, path: str | os.PathLike, warmup: int = 1) -> int:
    """Runs `feeds` once more (after `warmup` runs) with tracing on; writes the trace; returns the event count."""
    ex = engine._executor
    for _ in range(warmup):
        engine.run(feeds)
    ex.take_trace()
    ex.tracing = True
    try:
        engine.run(feeds)
    finally:
        ex.tracing = False
    events = ex.take_trace()
    t0 = min((e[2] for e in events), default=0)
    out = [
        {"name": "process_name", "ph": "M", "pid": 1, "args": {"name": f"deepseek_r1 {engine.device}"}},
        *({"name": "thread_name", "ph": "M", "pid": 1, "tid": lane, "args": {"name": n}} for lane, n in LANES.items()),
        *(
            {"name": name, "ph": "X", "pid": 1, "tid": lane, "ts": (s - t0) / 1e3, "dur": max(e - s, 0) / 1e3}
            for lane, name, s, e in events
        ),
    ]
    with open(path, "w") as f:
        json.dump({"traceEvents": out, "displayTimeUnit": "ms"}, f)
    return len(events)
