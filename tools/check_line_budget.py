#!/usr/bin/env python3
"""Source files stay small: every tracked .py/.cc/.h/.cu/.cuh file has at most 500 lines.

    python tools/check_line_budget.py            # exit 1 and the files over budget, or "line budget ok"
    python tools/check_line_budget.py --max 400  # a stricter look

Generated files are exempt: they say so with "@generated" in their first five lines.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUFFIXES = (".py", ".cc", ".h", ".cu", ".cuh")
BUDGET = 500


def tracked_sources(root: Path = ROOT) -> list[Path]:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    return [root / n for n in names.decode().split("\0") if n.endswith(SUFFIXES)]


def over_budget(files: list[Path], budget: int = BUDGET) -> list[tuple[Path, int]]:
    out = []
    for path in files:
        if not path.is_file():  # deleted in the work tree, still tracked
            continue
        lines = path.read_text(errors="replace").splitlines()
        if any("@generated" in ln for ln in lines[:5]):
            continue
        if len(lines) > budget:
            out.append((path, len(lines)))
    return sorted(out, key=lambda t: -t[1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--max", type=int, default=BUDGET)
    a = p.parse_args(argv)
    bad = over_budget(tracked_sources(), a.max)
    for path, n in bad:
        print(f"{path.relative_to(ROOT)}: {n} lines (budget {a.max}): split it by job")
    if bad:
        return 1
    print("line budget ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
