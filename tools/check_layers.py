#!/usr/bin/env python3
"""Dependencies point one way: checks every `#include "r1/<layer>/..."` in the C++ and CUDA sources.

    python tools/check_layers.py          # exit 1 and one line per violation, or "layers ok"

The layers (ARCHITECTURE.md): ir <- passes, ir <- backend <- runtime. core is below everything; planners
(memory/) are pure; the CPU backend (cpu/) and the GPU backends (cuda/) implement backend/ and know
nothing of the compiler or the runtime; the .r1 format reads and writes the IR.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("*.cc", "*.h", "*.cu", "*.cuh")

# Layer -> the layers its files may include (itself included).
ALLOWED: dict[str, set[str]] = {
    "core": {"core"},
    "ir": {"core", "ir"},
    "memory": {"core", "memory"},
    "passes": {"core", "ir", "backend", "passes"},
    "backend": {"core", "ir", "backend"},
    "cpu": {"core", "ir", "backend", "cpu"},
    "runtime": {"core", "ir", "memory", "backend", "io", "runtime"},  # io: the stream pipeline's disk reads
    "format": {"core", "ir", "format"},
    "wire": {"wire"},  # the serving wire format: plain text in, numbers out
    "io": {"core", "io"},  # the NVMe tier's reads
    "cuda": {"core", "ir", "backend"},
}
# The one place a layer reaches up, and why.
EXCEPTIONS = {("cpp/r1/backend/registry.cc", "cpu"): "the registry's explicit list of built-in backends names the CPU"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"r1/([a-z_]+)/', re.M)


def layer_of(rel: str) -> str | None:
    parts = Path(rel).parts
    if parts[:2] == ("cpp", "r1") and len(parts) > 3:
        return parts[2]
    if parts[0] == "cuda":
        return "cuda"
    return None


def violations(root: Path = ROOT) -> list[str]:
    out = []
    files = [p for d in ("cpp/r1", "cuda") for pat in SOURCES for p in (root / d).rglob(pat)]
    for path in sorted(files):
        rel = path.relative_to(root).as_posix()
        layer = layer_of(rel)
        if layer is None:
            continue
        if layer not in ALLOWED:
            out.append(f"{rel}: layer '{layer}' has no rule in tools/check_layers.py (add one)")
            continue
        for dep in sorted(set(INCLUDE.findall(path.read_text(errors="replace")))):
            if dep not in ALLOWED[layer] and (rel, dep) not in EXCEPTIONS:
                out.append(f"{rel}: includes r1/{dep}/ but {layer}/ may only include {sorted(ALLOWED[layer])}")
    return out


def main() -> int:
    bad = violations()
    for line in bad:
        print(line)
    if bad:
        print(f"{len(bad)} include(s) against the layering (see ARCHITECTURE.md, 'Dependencies point one way')")
        return 1
    print("layers ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
