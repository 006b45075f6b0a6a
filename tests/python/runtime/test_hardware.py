"""Hardware profile table: schema, CPU row selection, R1_CPU_PROFILE, _core tile get/set, `r1 hw`."""

import itertools
import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

import deepseek_r1 as r1
from deepseek_r1 import _core, hardware
from deepseek_r1.cli import main as cli_main

TABLE = json.loads(resources.files("deepseek_r1").joinpath("data", "hardware_profiles.json").read_text())
CPU_ROWS = {r["name"]: r for r in TABLE["cpu"]}
GPU_ROWS = {r["name"]: r for r in TABLE["gpu"]}

CPU_DESCRIPTIVE = [
    "name",
    "description",
    "requires",
    "examples",
    "vector_bits",
    "fp32_lanes",
    "fp32_flop_per_cycle_per_core",
    "bf16_flop_per_cycle_per_core",
    "matrix_unit",
    "bf16_path",
    "int8_dot",
    "tiles",
    "tile_notes",
    "sources",
]
GPU_FIELDS = [
    "name",
    "display_name",
    "vendor",
    "architecture",
    "target",
    "match",
    "unit_name",
    "compute_units",
    "warp_size",
    "max_threads_per_block",
    "max_warps_per_unit",
    "shared_mem_per_unit_kb",
    "shared_mem_per_block_kb",
    "registers_per_unit",
    "max_registers_per_thread",
    "l2_cache_mb",
    "memory_gb",
    "memory_type",
    "memory_bandwidth_gbs",
    "boost_clock_mhz",
    "peak_tflops",
    "matrix_unit",
    "tiles",
    "tile_notes",
    "notes",
    "sources",
]
GPU_NUMERIC = [
    "compute_units",
    "warp_size",
    "max_threads_per_block",
    "max_warps_per_unit",
    "shared_mem_per_unit_kb",
    "shared_mem_per_block_kb",
    "registers_per_unit",
    "max_registers_per_thread",
    "l2_cache_mb",
    "memory_gb",
    "memory_bandwidth_gbs",
    "boost_clock_mhz",
]
PEAKS = ["fp64", "fp64_matrix", "fp32", "fp32_matrix", "tf32", "fp16", "bf16", "fp8", "int8"]
GPU_TILES = [
    "gemm_block_m",
    "gemm_block_n",
    "gemm_block_k",
    "gemm_stages",
    "gemm_warps",
    "attn_block_q",
    "attn_block_k",
    "attn_head_dim",
]
ALL_FLAGS = {f: True for f in hardware.CPU_FLAGS}


@pytest.fixture
def restore_tiles():
    """Put back the tiles the package installed at import, whatever a test did to them."""
    before = _core.cpu_tiles()
    yield
    _core.set_cpu_tiles(before)


def _positive_int(v):
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _positive_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0


# --------------------------------------------------------------------------------------------------
# Schema


def test_table_is_valid_by_the_loader():
    assert hardware.validate_table(TABLE) == []
    assert TABLE["cpu_tile_fields"] == list(hardware.TILE_FIELDS)
    assert set(CPU_ROWS) == {"baseline", "avx2", "avx512", "avx512_bf16", "amx"}
    assert set(GPU_ROWS) == {"nvidia-a100-sxm4-80gb", "nvidia-h100-sxm5-80gb", "amd-mi250x-gcd"}


def test_tile_fields_match_the_cpp_struct():
    assert set(_core.cpu_tiles()) == {"profile", *hardware.TILE_FIELDS}


@pytest.mark.parametrize("name", sorted(CPU_ROWS))
def test_cpu_row_schema(name):
    row = CPU_ROWS[name]
    assert set(CPU_DESCRIPTIVE) <= set(row), f"missing {set(CPU_DESCRIPTIVE) - set(row)}"
    assert set(row["tiles"]) == set(hardware.TILE_FIELDS)
    for f in hardware.TILE_FIELDS:
        assert _positive_int(row["tiles"][f]), (f, row["tiles"][f])
    for f in ["vector_bits", "fp32_lanes", "fp32_flop_per_cycle_per_core", "bf16_flop_per_cycle_per_core"]:
        assert _positive_number(row[f]), (f, row[f])
    assert row["vector_bits"] == 32 * row["fp32_lanes"]
    assert set(row["requires"]) <= set(hardware.CPU_FLAGS)
    assert row["sources"] and all(s.startswith("https://") for s in row["sources"])
    t = row["tiles"]
    assert t["gemm_small_m"] <= t["gemm_mc"] and t["gemm_kc"] % 2 == 0


def test_cpu_rows_form_a_chain():
    # Each row's requirements strictly include the previous row's: "most specific" is unambiguous.
    order = ["baseline", "avx2", "avx512", "avx512_bf16", "amx"]
    for a, b in itertools.pairwise(order):
        assert set(CPU_ROWS[a]["requires"]) < set(CPU_ROWS[b]["requires"]), (a, b)
    # The avx512 row needs what r1::CpuFeatures::has_avx512_kernels() checks (and avx2: the *_avx512.cc
    # files are compiled with -mavx2 too).
    assert {"avx512f", "avx512bw", "avx512vl", "avx512dq", "fma", "avx2"} == set(CPU_ROWS["avx512"]["requires"])


def test_cpp_defaults_are_the_avx512_row():
    # cpp/r1/core/hw_profile.h documents its defaults as the avx512 row. Load the extension alone (the
    # package import would install this machine's row) and compare.
    code = (
        "import importlib.util, json, sys\n"
        "spec = importlib.util.spec_from_file_location('_core', sys.argv[1])\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "print(json.dumps(m.cpu_tiles()))"
    )
    proc = subprocess.run([sys.executable, "-c", code, _core.__file__], capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout) == {"profile": "avx512", **CPU_ROWS["avx512"]["tiles"]}


@pytest.mark.parametrize("name", sorted(GPU_ROWS))
def test_gpu_row_schema(name):
    row = GPU_ROWS[name]
    assert set(GPU_FIELDS) <= set(row), f"missing {set(GPU_FIELDS) - set(row)}"
    for f in GPU_NUMERIC:
        assert _positive_number(row[f]), (f, row[f])
    assert set(row["peak_tflops"]) == set(PEAKS)
    for k, v in row["peak_tflops"].items():
        assert v is None or _positive_number(v), (k, v)
    for k in ["fp32", "fp16", "bf16", "int8"]:
        assert row["peak_tflops"][k] is not None, k
    assert set(row["tiles"]) == set(GPU_TILES)
    for k, v in row["tiles"].items():
        assert _positive_int(v), (k, v)
    mu = row["matrix_unit"]
    assert mu["name"] and _positive_int(mu["generation"]) and mu["total"] == mu["per_unit"] * row["compute_units"]
    assert row["shared_mem_per_block_kb"] <= row["shared_mem_per_unit_kb"]
    assert row["match"] and all(m == m.lower() for m in row["match"])
    assert row["sources"] and all(s.startswith("https://") for s in row["sources"])


@pytest.mark.parametrize("name", sorted(GPU_ROWS))
def test_gpu_suggested_tiles_fit_shared_memory(name):
    row = GPU_ROWS[name]
    t, limit = row["tiles"], row["shared_mem_per_block_kb"] * 1024
    gemm = (t["gemm_block_m"] * t["gemm_block_k"] + t["gemm_block_k"] * t["gemm_block_n"]) * 2 * t["gemm_stages"]
    attn = (t["attn_block_q"] + 2 * t["attn_block_k"]) * t["attn_head_dim"] * 2
    assert gemm <= limit and attn <= limit, (gemm, attn, limit)
    assert t["gemm_warps"] * row["warp_size"] <= row["max_threads_per_block"]


def test_gpu_peaks_agree_with_unit_counts_and_clocks():
    # Vector fp32 = units x lanes x 2 (FMA) x clock: 64 lanes per A100 SM and MI250X CU, 128 per H100 SM.
    lanes = {"nvidia-a100-sxm4-80gb": 64, "nvidia-h100-sxm5-80gb": 128, "amd-mi250x-gcd": 64}
    for name, row in GPU_ROWS.items():
        est = row["compute_units"] * lanes[name] * 2 * row["boost_clock_mhz"] * 1e6 / 1e12
        assert est == pytest.approx(row["peak_tflops"]["fp32"], rel=0.01), name


def test_broken_tables_are_reported():
    bad = json.loads(json.dumps(TABLE))
    bad["cpu"][1]["tiles"]["gemm_kc"] = 0
    bad["cpu"][2]["requires"].append("sse9")
    del bad["cpu"][3]["tiles"]["parallel_grain"]
    bad["cpu"][0]["requires"] = ["avx2"]
    problems = " | ".join(hardware.validate_table(bad))
    assert "'avx2' tiles.gemm_kc" in problems
    assert "sse9" in problems
    assert "'avx512_bf16' tiles.parallel_grain" in problems
    assert "no cpu row without requirements" in problems


# --------------------------------------------------------------------------------------------------
# Row selection


@pytest.mark.parametrize(
    "features, expected",
    [
        ({}, "baseline"),
        ({"avx2": True}, "baseline"),  # AVX2 without FMA: no avx2 kernels
        ({"avx2": True, "fma": True, "f16c": True}, "avx2"),
        ({"avx2": True, "fma": True, "avx512f": True}, "avx2"),  # AVX-512F alone (Knights Landing-like)
        ({"avx2": True, "fma": True, "avx512f": True, "avx512bw": True, "avx512vl": True, "avx512dq": True}, "avx512"),
        (
            {
                "avx2": True,
                "fma": True,
                "avx512f": True,
                "avx512bw": True,
                "avx512vl": True,
                "avx512dq": True,
                "avx512_vnni": True,
            },
            "avx512",
        ),
        (
            {
                "avx2": True,
                "fma": True,
                "avx512f": True,
                "avx512bw": True,
                "avx512vl": True,
                "avx512dq": True,
                "avx512_vnni": True,
                "avx512_bf16": True,
            },
            "avx512_bf16",
        ),
        (ALL_FLAGS, "amx"),
        ({**ALL_FLAGS, "amx_bf16": False}, "avx512_bf16"),  # AMX tiles without BF16 support
        ({**ALL_FLAGS, "avx512_bf16": False}, "avx512"),
        ({**ALL_FLAGS, "avx512dq": False}, "avx2"),
    ],
)
def test_select_cpu_row(features, expected):
    assert hardware.select_cpu_row(features)["name"] == expected


def test_select_prefers_more_requirements_then_later_rows():
    rows = [{"name": "a", "requires": []}, {"name": "b", "requires": ["avx2"]}, {"name": "c", "requires": ["fma"]}]
    assert hardware.select_cpu_row({"avx2": True, "fma": True}, rows)["name"] == "c"
    assert hardware.select_cpu_row({"avx2": True}, rows)["name"] == "b"
    with pytest.raises(ValueError, match="no CPU profile row"):
        hardware.select_cpu_row({}, [{"name": "x", "requires": ["avx2"]}])


def test_this_machine_gets_its_own_row():
    info = r1.hardware_info()
    if os.environ.get(hardware.PROFILE_ENV):
        pytest.skip("R1_CPU_PROFILE is set for this run")
    expected = hardware.select_cpu_row(_core.cpu_features())["name"]
    assert info["cpu_profile"] == expected == info["detected_profile"]
    assert info["cpu_profile_source"] == "detected"
    assert info["tiles"] == {"profile": expected, **CPU_ROWS[expected]["tiles"]}
    assert info["cpu"]["isa_family"] in ("baseline", "avx2", "avx512")


@pytest.mark.parametrize(
    "device, row",
    [
        ("NVIDIA A100-SXM4-80GB", "nvidia-a100-sxm4-80gb"),
        ("NVIDIA A100-SXM4-40GB", "nvidia-a100-sxm4-80gb"),
        ("NVIDIA H100 80GB HBM3", "nvidia-h100-sxm5-80gb"),
        ("AMD Instinct MI250X", "amd-mi250x-gcd"),
        ("gfx90a:sramecc+:xnack-", "amd-mi250x-gcd"),
        ("NVIDIA GeForce RTX 4090", None),
    ],
)
def test_gpu_profile_lookup(device, row):
    got = hardware.gpu_profile(device)
    assert (got and got["name"]) == row


# --------------------------------------------------------------------------------------------------
# Install, override, set/get


def test_install_named_row_and_round_trip(restore_tiles):
    for name in CPU_ROWS:
        row = hardware.install_cpu_profile(name)
        assert row["name"] == name
        assert _core.cpu_tiles() == {"profile": name, **CPU_ROWS[name]["tiles"]}
        assert r1.hardware_info()["cpu_profile"] == name


def test_set_get_round_trip_and_partial_update(restore_tiles):
    want = {
        "profile": "custom",
        "gemm_mc": 7,
        "gemm_kc": 9,
        "gemm_nc": 11,
        "gemm_small_m": 1,
        "attn_block_q": 3,
        "attn_block_k": 5,
        "conv_direct_max_k": 1,
        "parallel_grain": 1 << 30,
    }
    _core.set_cpu_tiles(want)
    assert _core.cpu_tiles() == want
    _core.set_cpu_tiles({"gemm_kc": 64})
    assert _core.cpu_tiles() == {**want, "gemm_kc": 64}
    _core.set_cpu_tiles({})
    assert _core.cpu_tiles() == {**want, "gemm_kc": 64}


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"gemm_mc": 0}, "gemm_mc"),
        ({"gemm_kc": -5}, "gemm_kc"),
        ({"gemm_nc": 1.5}, "gemm_nc"),
        ({"gemm_nc": 256.0}, "gemm_nc"),
        ({"attn_block_q": "64"}, "attn_block_q"),
        ({"attn_block_k": None}, "attn_block_k"),
        ({"conv_direct_max_k": True}, "conv_direct_max_k"),
        ({"parallel_grain": 2**31}, "parallel_grain"),
        ({"gemm_small_m": 2**70}, "gemm_small_m"),
        ({"gemm_mc": 1 << 17}, "gemm_mc"),
        ({"gemm_blocksize": 8}, "gemm_blocksize"),
        ({"profile": ""}, "profile"),
        ({"profile": 3}, "profile"),
    ],
)
def test_bad_values_are_rejected_and_change_nothing(restore_tiles, bad, field):
    before = _core.cpu_tiles()
    with pytest.raises(ValueError, match=f"'{field}'"):
        _core.set_cpu_tiles({"gemm_mc": 100, **bad} if field != "gemm_mc" else bad)
    assert _core.cpu_tiles() == before


def test_non_string_key_rejected(restore_tiles):
    with pytest.raises(ValueError, match="keys must be field names"):
        _core.set_cpu_tiles({1: 2})
    with pytest.raises(TypeError):
        _core.set_cpu_tiles([("gemm_mc", 2)])


def test_unknown_named_row_raises():
    with pytest.raises(ValueError, match="unknown CPU profile 'nope'.*baseline"):
        hardware.install_cpu_profile("nope")


def _import_in_subprocess(env_value):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop(hardware.PROFILE_ENV, None)
    if env_value is not None:
        env[hardware.PROFILE_ENV] = env_value
    code = (
        "import json, warnings; warnings.simplefilter('always')\n"
        "import deepseek_r1 as r1\n"
        "i = r1.hardware_info(); print(json.dumps([i['cpu_profile'], i['cpu_profile_source'], i['tiles']]))"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1]), p.stderr


@pytest.mark.parametrize("name", ["baseline", "amx"])
def test_env_override_at_import(name):
    (profile, source, tiles), _ = _import_in_subprocess(name)
    assert profile == name and source == f"env {hardware.PROFILE_ENV}"
    assert tiles == {"profile": name, **CPU_ROWS[name]["tiles"]}


def test_env_override_unknown_row_warns_and_falls_back():
    (profile, source, _), err = _import_in_subprocess("no-such-row")
    assert profile == hardware.select_cpu_row(_core.cpu_features())["name"]
    assert "ignored" in source
    assert "R1_CPU_PROFILE='no-such-row'" in err and "RuntimeWarning" in err


# --------------------------------------------------------------------------------------------------
# CLI


def test_cli_hw(capsys):
    assert cli_main(["hw"]) == 0
    out = capsys.readouterr().out
    assert "profile:" in out and "tiles:" in out and "gemm_mc=" in out and "GPU rows:" in out
    assert cli_main(["hw", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["cpu_profile"] == _core.cpu_tiles()["profile"]


def test_table_ships_inside_the_package():
    # The wheel copies python/deepseek_r1 whole; the json must sit under the package, not elsewhere.
    path = Path(hardware.__file__).parent / "data" / "hardware_profiles.json"
    assert path.is_file()
