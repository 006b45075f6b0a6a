"""Memory budgets: sizes as people write them, and a budget per tier.

parse_size("2GiB") == 2 << 30; parse_size("1.5 GB") == 1_500_000_000; parse_size(4096) == 4096
parse_budget("cpu=2GiB,cuda:0=8GiB") == {"cpu": 2 << 30, "cuda:0": 8 << 30}
parse_budget({"cpu": "2GiB"}) == {"cpu": 2 << 30}
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3, "t": 1000**4, "tb": 1000**4,
    "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}  # fmt: skip
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-zA-Z]*)\s*$")
_TIER = re.compile(r"^(cpu|(cuda|hip|sim):[0-9]+)$")


def parse_size(value: str | int) -> int:
    """Bytes from an int or a string such as "512MiB", "2GiB", "1.5GB", "4096"."""
    if isinstance(value, bool):
        raise ValueError(f"a memory size must be bytes (int) or a string such as '2GiB', got {value!r}")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"a memory size must be positive, got {value}")
        return value
    if not isinstance(value, str):
        raise ValueError(f"a memory size must be bytes (int) or a string such as '2GiB', got {value!r}")
    m = _SIZE.match(value)
    unit = m.group(2).lower() if m else None
    if not m or unit not in _UNITS:
        raise ValueError(f"cannot read memory size {value!r}: write a number and a unit, such as '512MiB' or '2GiB'")
    n = int(float(m.group(1)) * _UNITS[unit])
    if n <= 0:
        raise ValueError(f"a memory size must be positive, got {value!r}")
    return n


def parse_budget(budget: Mapping[str, str | int] | str) -> dict[str, int]:
    """{tier: bytes} from a mapping or "tier=size[,tier=size]" (tiers: cpu, cuda:N, hip:N, sim:N)."""
    items: list[tuple[str, str | int]] = []
    if isinstance(budget, str):
        for part in budget.split(","):
            tier, sep, size_text = part.partition("=")
            if not sep:
                raise ValueError(f"memory budget {budget!r}: write tier=size, such as 'cpu=2GiB' or 'cuda:0=8GiB'")
            items.append((tier.strip(), size_text.strip()))
    elif isinstance(budget, Mapping):
        items = list(budget.items())
    else:
        raise ValueError(f"memory_budget must be a dict such as {{'cpu': '2GiB'}} or a string, got {budget!r}")
    out: dict[str, int] = {}
    for tier, size in items:
        if not isinstance(tier, str) or not _TIER.match(tier):
            raise ValueError(f"memory budget tier {tier!r} is not one of cpu, cuda:N, hip:N, sim:N")
        out[tier] = parse_size(size)
    if not out:
        raise ValueError("memory budget is empty: give at least one tier, such as {'cpu': '2GiB'}")
    return out
