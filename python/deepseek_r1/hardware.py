"""The hardware profile table (data/hardware_profiles.json) and the CPU tile sizes chosen from it.

    import deepseek_r1 as r1
    r1.hardware_info()                  # cpu features, chosen profile row, tiles in use, known GPU rows
    from deepseek_r1 import hardware
    hardware.select_cpu_row({"avx2": True, "fma": True})["name"]    # -> "avx2"
    hardware.gpu_profile("NVIDIA A100-SXM4-80GB")["compute_units"]    # -> 108

At import the package calls install_cpu_profile(): it picks the most specific CPU row whose
`requires` flags are all present in _core.cpu_features() and hands its `tiles` to
_core.set_cpu_tiles, which the C++ kernels read (r1::cpu_tiles()). R1_CPU_PROFILE=<row name>
overrides the choice (for experiments and tests): the tiles are only block sizes, so any row is
safe on any CPU; which ISA kernels run is still decided by the CPU's own flags.
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import _core

PROFILE_ENV = "R1_CPU_PROFILE"
TABLE_FILE = "hardware_profiles.json"
TILE_FIELDS = (
    "gemm_mc",
    "gemm_kc",
    "gemm_nc",
    "gemm_small_m",
    "attn_block_q",
    "attn_block_k",
    "conv_direct_max_k",
    "parallel_grain",
)
# Flags a CPU row may require: the boolean keys of _core.cpu_features().
CPU_FLAGS = (
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512dq",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_vbmi",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
)

_table: dict | None = None
_installed: dict[str, Any] = {}  # what install_cpu_profile chose last: row name, source, missing flags


def load_table() -> dict:
    """The parsed table (read once; callers get a copy they may change)."""
    global _table
    if _table is None:
        text = (Path(__file__).parent / "data" / TABLE_FILE).read_text(encoding="utf-8")  # in the wheel next to us
        table = json.loads(text)
        problems = validate_table(table)
        if problems:
            raise ValueError(f"{TABLE_FILE} is invalid: " + "; ".join(problems))
        _table = table
    return copy.deepcopy(_table)


def validate_table(table: Mapping) -> list[str]:
    """Schema problems of a table (empty when it is valid). The tests hold the real table to this."""
    problems = []
    if list(table.get("cpu_tile_fields", [])) != list(TILE_FIELDS):
        problems.append(f"cpu_tile_fields must be {list(TILE_FIELDS)}")
    names = set()
    for i, row in enumerate(table.get("cpu") or []):
        name = row.get("name", f"cpu[{i}]")
        if name in names:
            problems.append(f"duplicate cpu row '{name}'")
        names.add(name)
        unknown = [f for f in row.get("requires", []) if f not in CPU_FLAGS]
        if unknown:
            problems.append(f"cpu row '{name}' requires unknown flag(s) {unknown}")
        tiles = row.get("tiles") or {}
        for f in TILE_FIELDS:
            v = tiles.get(f)
            if not (isinstance(v, int) and not isinstance(v, bool) and v > 0):
                problems.append(f"cpu row '{name}' tiles.{f} must be a positive int, got {v!r}")
        extra = sorted(set(tiles) - set(TILE_FIELDS))
        if extra:
            problems.append(f"cpu row '{name}' has unknown tile field(s) {extra}")
        if not row.get("sources"):
            problems.append(f"cpu row '{name}' has no sources")
    if not table.get("cpu"):
        problems.append("no cpu rows")
    elif not any(not r.get("requires") for r in table["cpu"]):
        problems.append("no cpu row without requirements (every CPU must match one)")
    for i, row in enumerate(table.get("gpu") or []):
        if not row.get("sources"):
            problems.append(f"gpu row '{row.get('name', i)}' has no sources")
    return problems


def cpu_rows() -> list[dict]:
    return load_table()["cpu"]


def gpu_rows() -> list[dict]:
    return load_table()["gpu"]


def cpu_row(name: str) -> dict:
    """The CPU row called `name`; ValueError naming the known rows when there is none."""
    rows = cpu_rows()
    for row in rows:
        if row["name"] == name:
            return row
    raise ValueError(f"unknown CPU profile '{name}'; the table has: {', '.join(r['name'] for r in rows)}")


def select_cpu_row(features: Mapping[str, Any], rows: list[dict] | None = None) -> dict:
    """The most specific row whose required flags are all true in `features`.

    Most specific = most required flags; a tie goes to the row listed later in the table.
    """
    rows = cpu_rows() if rows is None else rows
    fitting = [
        (len(r.get("requires", [])), i, r)
        for i, r in enumerate(rows)
        if all(bool(features.get(f)) for f in r.get("requires", []))
    ]
    if not fitting:
        raise ValueError("no CPU profile row fits these features (the table needs a row with no requirements)")
    return max(fitting, key=lambda t: (t[0], t[1]))[2]


def gpu_profile(device_name: str) -> dict | None:
    """The GPU row for a device name as the driver reports it ("NVIDIA H100 80GB HBM3", "AMD Instinct
    MI250X", "gfx90a"), or None. Rows are tried in order of their longest matching pattern."""
    name = device_name.lower()
    best = None
    for row in gpu_rows():
        for pat in row.get("match", []):
            if pat.lower() in name and (best is None or len(pat) > best[0]):
                best = (len(pat), row)
    return best[1] if best else None


def install_cpu_profile(name: str | None = None) -> dict:
    """Installs a CPU row's tiles into the engine and returns the row.

    `name` None: the row named by $R1_CPU_PROFILE if set, else the one that fits this CPU. An unknown
    name raises ValueError.
    """
    features = _core.cpu_features()
    source = "argument"
    if name is None:
        env = os.environ.get(PROFILE_ENV, "").strip()
        name, source = (env, f"env {PROFILE_ENV}") if env else (None, "detected")
    row = cpu_row(name) if name is not None else select_cpu_row(features)
    tiles = {k: row["tiles"][k] for k in TILE_FIELDS}
    _core.set_cpu_tiles({"profile": row["name"], **tiles})
    _installed.clear()
    _installed.update(
        name=row["name"], source=source, missing_flags=[f for f in row.get("requires", []) if not features.get(f)]
    )
    return row


def install_at_import() -> None:
    """install_cpu_profile() for the package import: a bad $R1_CPU_PROFILE or a broken table warns and
    falls back (detected row, else the built-in avx512 tiles) instead of making the package unimportable."""
    env = os.environ.get(PROFILE_ENV, "").strip()
    try:
        install_cpu_profile()
        return
    except (OSError, ValueError) as e:
        if not env or not isinstance(e, ValueError) or _table is None:
            warnings.warn(f"hardware profile not installed ({e}); using built-in tiles", RuntimeWarning, stacklevel=2)
            return
        warnings.warn(f"{PROFILE_ENV}={env!r}: {e}; using the detected profile", RuntimeWarning, stacklevel=2)
    install_cpu_profile(select_cpu_row(_core.cpu_features())["name"])
    _installed["source"] = f"detected; {PROFILE_ENV} ignored"


def hardware_info() -> dict:
    """What the engine sees and uses: CPU features, the chosen profile row, the tiles in use, GPU rows."""
    features = _core.cpu_features()
    tiles = _core.cpu_tiles()
    info: dict[str, Any] = {
        "cpu": features,
        "cpu_profile": tiles["profile"],
        "cpu_profile_source": _installed.get("source", "built-in"),
        "cpu_profile_missing_flags": list(_installed.get("missing_flags", [])),
        "tiles": tiles,
        "devices": list(_core.devices()),
    }
    try:
        row = cpu_row(tiles["profile"])
        info["cpu_profile_row"] = {k: v for k, v in row.items() if k != "tiles"}
        info["detected_profile"] = select_cpu_row(features)["name"]
        info["gpu_profiles"] = [r["name"] for r in gpu_rows()]
    except (OSError, ValueError):
        info["cpu_profile_row"] = None
    return info


def format_info(info: dict | None = None) -> str:
    """hardware_info() as readable text (`r1 hw`)."""
    info = hardware_info() if info is None else info
    cpu = info["cpu"]
    on = [f for f in CPU_FLAGS if cpu.get(f)]
    off = [f for f in CPU_FLAGS if not cpu.get(f)]
    lines = [
        f"CPU:      {cpu.get('brand') or '?'} ({cpu.get('vendor') or '?'})",
        f"ISA:      {cpu.get('isa_family')}  caches: L1d {cpu.get('l1d_kb')} KiB, L2 {cpu.get('l2_kb')} KiB, "
        f"L3 {cpu.get('l3_kb')} KiB",
        f"flags:    {' '.join(on) or '-'}",
        f"absent:   {' '.join(off) or '-'}",
        f"profile:  {info['cpu_profile']} ({info['cpu_profile_source']})",
    ]
    row = info.get("cpu_profile_row")
    if row:
        lines.append(f"          {row.get('description', '')}")
        lines.append(
            f"          {row.get('vector_bits')}-bit vectors, "
            f"{row.get('fp32_flop_per_cycle_per_core')} fp32 / "
            f"{row.get('bf16_flop_per_cycle_per_core')} bf16 FLOP/cycle/core, matrix unit: "
            f"{row.get('matrix_unit')}"
        )
    if info.get("detected_profile") and info["detected_profile"] != info["cpu_profile"]:
        lines.append(f"          (this CPU's own row is '{info['detected_profile']}')")
    if info.get("cpu_profile_missing_flags"):
        lines.append(
            f"          this CPU lacks {info['cpu_profile_missing_flags']} (tiles only; kernels follow the flags)"
        )
    t = info["tiles"]
    lines.append("tiles:    " + ", ".join(f"{k}={t[k]}" for k in TILE_FIELDS))
    lines.append(f"devices:  {', '.join(info.get('devices') or []) or '-'}")
    if info.get("gpu_profiles"):
        lines.append(f"GPU rows: {', '.join(info['gpu_profiles'])}")
    return "\n".join(lines)
