"""Compile once: ModelConverter runs the graph passes (and, for a CPU profile row, the device passes) and
stores the result; an engine loading the file runs only the device passes, and packs nothing when the
file was compiled for this CPU."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import deepseek_r1 as r1
from deepseek_r1 import hardware
from deepseek_r1.cli import main as cli_main
from deepseek_r1.convert.targets import this_cpu_row
from helpers.r1_files import read_header, rewrite_as_version_1

HERE = this_cpu_row()
# A CPU row other than this machine's: compiled for it, the file must still load here.
OTHER = "avx2" if HERE != "avx2" else "avx512"
AVX512_HERE = r1._core.cpu_features()["has_avx512_kernels"]


def mlp_model(width: int = 64, hidden: int = 96, seed: int = 0):
    """y = relu(x W1 + b1) W2 + b2 and z = (-x) W1 + b1, behind an Identity.

    Exercises folding (Identity), the MatMul fusion and a weight read by two MatMuls (packed once)."""
    rng = np.random.default_rng(seed)
    w1 = (rng.standard_normal((width, hidden)) / np.sqrt(width)).astype(np.float32)
    b1 = rng.standard_normal(hidden).astype(np.float32)
    w2 = (rng.standard_normal((hidden, width)) / np.sqrt(hidden)).astype(np.float32)
    b2 = rng.standard_normal(width).astype(np.float32)
    n = helper.make_node
    nodes = [
        n("Identity", ["x"], ["xi"]),
        n("MatMul", ["xi", "W1"], ["m1"]),
        n("Add", ["m1", "b1"], ["a1"]),
        n("Relu", ["a1"], ["h"]),
        n("MatMul", ["h", "W2"], ["m2"]),
        n("Add", ["m2", "b2"], ["y"]),
        n("Neg", ["xi"], ["xn"]),
        n("MatMul", ["xn", "W1"], ["t1"]),  # the same weight again (tied)
        n("Add", ["t1", "b1"], ["z"]),
    ]
    g = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, ["batch", w]) for o, w in (("y", width), ("z", hidden))],
        [numpy_helper.from_array(a, k) for k, a in (("W1", w1), ("b1", b1), ("W2", w2), ("b2", b2))],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def reference(model, feeds):
    """The graph as imported, no pass at all: the numeric reference."""
    return r1.InferenceEngine(r1.Model(r1.load_onnx(model)), optimization_level=0).run(feeds)


def convert(model, tmp_path, name="m.r1", **kw):
    return r1.ModelConverter(model, output_path=tmp_path / name, **kw).convert()


def fused_lines(graph) -> list[str]:
    return [ln for ln in str(graph).splitlines() if "r1::FusedMatMul" in ln]


def assert_close(got: dict, want: dict, rtol=1e-5):
    assert got.keys() == want.keys()
    for k in want:
        assert got[k].dtype == want[k].dtype, k
        scale = max(float(np.max(np.abs(want[k]))), 1e-6)
        assert float(np.max(np.abs(got[k] - want[k]))) <= rtol * scale, k


def test_convert_stores_the_graph_passes_and_the_compile_metadata(tmp_path):
    path = convert(mlp_model(), tmp_path)
    info = r1.load_model(path).compile_info
    assert info is not None
    assert info.level == 3 and info.target == "cpu" and info.precision == "fp32"
    assert info.compiler == f"deepseek_r1 {r1.__version__}"
    assert list(info.graph_passes) == r1.pass_names(3, "graph")
    assert info.device_passes == ()  # portable: the device passes run at load
    ops = r1.load_model(path).graph.op_types()
    assert "Identity" not in ops and "FusedMatMul" in ops  # folded and fused in the file itself
    assert read_header(path)["version"] == r1._core.R1_FORMAT_VERSION == 5


def test_loading_a_compiled_file_runs_only_the_device_passes(tmp_path):
    feeds = {"x": np.random.default_rng(1).standard_normal((3, 64)).astype(np.float32)}
    for target in ("cpu", "native"):
        path = convert(mlp_model(), tmp_path, f"{target}.r1", target_hardware=target)
        e = r1.InferenceEngine(path)
        names = [p["name"] for p in e.optimize_report.passes]
        assert names == r1.pass_names(3, "device")
        assert {p["stage"] for p in e.optimize_report.passes} == {"device"}
        assert_close(e.run(feeds), reference(mlp_model(), feeds))


def test_a_graph_as_imported_runs_every_pass_at_load(tmp_path):
    path = tmp_path / "plain.r1"
    r1.save_model(r1.Model(r1.load_onnx(mlp_model())), path)
    assert r1.load_model(path).compile_info is None
    e = r1.InferenceEngine(path)
    assert [p["name"] for p in e.optimize_report.passes] == r1.pass_names(3)


@pytest.mark.skipif(not AVX512_HERE, reason="weights are packed only for CPUs with AVX-512 GEMM kernels")
def test_native_target_stores_packed_weights_and_loading_packs_nothing(tmp_path):
    path = convert(mlp_model(), tmp_path, target_hardware="native")
    info = r1.load_model(path).compile_info
    assert info.target == HERE and list(info.device_passes) == r1.pass_names(3, "device")
    lines = fused_lines(r1.load_model(path).graph)
    assert len(lines) == 3 and all("packed_b=1" in ln for ln in lines)
    # The tied weight is packed once: two FusedMatMuls read the same blob.
    blobs = [re.search(r"FusedMatMul\(%[^,]+, %([^,]+),", ln).group(1) for ln in lines]
    assert len(set(blobs)) == 2
    e = r1.InferenceEngine(path)
    prepack = next(p for p in e.optimize_report.passes if p["name"] == "weight_prepack")
    assert prepack["changed"] is False  # loading packs nothing
    # A portable file packs at load instead.
    portable = r1.InferenceEngine(convert(mlp_model(), tmp_path, "p.r1"))
    assert next(p for p in portable.optimize_report.passes if p["name"] == "weight_prepack")["changed"] is True


def test_a_file_compiled_for_another_cpu_warns_once_naming_both_and_runs(tmp_path):
    feeds = {"x": np.random.default_rng(2).standard_normal((2, 64)).astype(np.float32)}
    path = convert(mlp_model(), tmp_path, "other.r1", target_hardware=OTHER)
    with pytest.warns(r1.CompileTargetWarning) as rec:
        e = r1.InferenceEngine(path)
    assert len(rec) == 1
    msg = str(rec[0].message)
    assert f"'{OTHER}'" in msg and f"'{HERE}'" in msg and str(path) in msg
    assert_close(e.run(feeds), reference(mlp_model(), feeds))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process: the second load is silent
        r1.InferenceEngine(path)


@pytest.mark.skipif(not AVX512_HERE, reason="needs packed weights, which only AVX-512 CPUs compile")
def test_packed_weights_go_back_to_plain_for_a_cpu_without_avx512(tmp_path):
    feeds = {"x": np.random.default_rng(3).standard_normal((5, 64)).astype(np.float32)}
    model = r1.load_model(convert(mlp_model(), tmp_path, target_hardware="native"))
    graph = model.graph.clone()
    avx2 = {f: True for f in hardware.cpu_row("avx2")["requires"]}
    rep = r1.compiler.optimize_graph(graph, stages="device", cpu_target=avx2)
    assert next(p for p in rep.passes if p["name"] == "weight_prepack")["changed"]
    lines = fused_lines(graph)
    assert lines and all("packed_b=0" in ln for ln in lines)
    out = r1.InferenceEngine(r1.Model(graph), optimization_level=0).run(feeds)
    assert_close(out, reference(mlp_model(), feeds))


@pytest.mark.skipif(not AVX512_HERE, reason="bf16 packing needs an AVX-512 CPU row")
def test_precision_follows_the_file_and_bf16_weights_cannot_give_fp32(tmp_path):
    feeds = {"x": np.random.default_rng(4).standard_normal((4, 64)).astype(np.float32)}
    path = convert(mlp_model(), tmp_path, "bf16.r1", target_hardware="native", precision="bf16")
    e = r1.InferenceEngine(path)
    assert e.precision == "bf16"
    assert all('precision="bf16"' in ln for ln in fused_lines(e.graph))
    want = reference(mlp_model(), feeds)
    got = e.run(feeds)
    for k in want:  # bf16 products: cosine, not 1e-5
        a, b = got[k].ravel(), want[k].ravel()
        assert float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))) > 0.999
    with pytest.raises(r1.ModelError, match="bf16.*precision='fp32'"):
        r1.InferenceEngine(path, precision="fp32")
    # An fp32 file opened at bf16 repacks its weights in bf16 at load.
    fp32 = r1.InferenceEngine(convert(mlp_model(), tmp_path, "fp32.r1", target_hardware="native"), precision="bf16")
    assert all('precision="bf16"' in ln for ln in fused_lines(fp32.graph))
    np.testing.assert_allclose(fp32.run(feeds)["y"], got["y"], rtol=0, atol=0)


def test_graph_passes_cannot_be_disabled_at_load_of_a_compiled_file(tmp_path):
    path = convert(mlp_model(), tmp_path)
    with pytest.raises(ValueError, match="matmul_fusion.*ModelConverter"):
        r1.InferenceEngine(path, disabled_passes=["matmul_fusion"])
    # ... but at convert time they can.
    kept = r1.load_model(convert(mlp_model(), tmp_path, "nf.r1", disabled_passes=["matmul_fusion"]))
    assert "FusedMatMul" not in kept.graph.op_types() and "matmul_fusion" not in kept.compile_info.graph_passes


def test_bad_targets_and_precisions_are_named(tmp_path):
    with pytest.raises(ValueError, match="unknown target_hardware 'sparc'.*avx512_bf16"):
        r1.ModelConverter(mlp_model(), target_hardware="sparc")
    with pytest.raises(ValueError, match="precision 'fp16' is not available for target_hardware 'cpu'"):
        r1.ModelConverter(mlp_model(), precision="fp16")
    with pytest.raises(ValueError, match="optimization level"):
        r1.ModelConverter(mlp_model(), optimization_level=7)


def test_old_files_still_load(tmp_path):
    """Files the previous release wrote: format version 1, no compile metadata."""
    feeds = {"x": np.random.default_rng(5).standard_normal((2, 64)).astype(np.float32)}
    v2 = tmp_path / "v2.r1"
    r1.save_model(r1.Model(r1.load_onnx(mlp_model()), {"source": "old"}), v2)
    v1 = rewrite_as_version_1(v2, tmp_path / "v1.r1")
    assert read_header(v1)["version"] == 1
    e = r1.InferenceEngine(v1)
    assert e.model.compile_info is None and e.model.metadata["source"] == "old"
    assert_close(e.run(feeds), reference(mlp_model(), feeds))
    # ... and their checksum is still verified.
    data = bytearray(v1.read_bytes())
    data[-5] ^= 0x40
    v1.write_bytes(bytes(data))
    with pytest.raises(r1.ModelError, match="checksum mismatch"):
        r1.load_model(v1)


def test_r1_info_shows_level_passes_and_target(tmp_path, capsys):
    path = convert(mlp_model(), tmp_path, target_hardware=OTHER)
    assert cli_main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"optimization level 3, target {OTHER}, precision fp32" in out
    assert "graph passes (ran at convert time): " + ", ".join(r1.pass_names(3, "graph")) in out
    assert "device passes (ran at convert time): " + ", ".join(r1.pass_names(3, "device")) in out
    onnx_path = tmp_path / "m.onnx"
    onnx_path.write_bytes(mlp_model().SerializeToString())
    assert cli_main(["convert", str(onnx_path), "-o", str(tmp_path / "c.r1"), "--target", "native"]) == 0
    assert f"target {HERE}" in capsys.readouterr().out


@given(
    width=st.integers(1, 80),
    hidden=st.integers(1, 120),
    batch=st.integers(1, 6),
    target=st.sampled_from(["cpu", "native", OTHER]),
    seed=st.integers(0, 2**16),
)
def test_compiled_files_match_the_graph_as_imported(tmp_path_factory, width, hidden, batch, target, seed):
    model = mlp_model(width, hidden, seed)
    rng = np.random.default_rng(seed)
    feeds = {"x": (rng.standard_normal((batch, width)) * rng.uniform(0.1, 10)).astype(np.float32)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", r1.CompileTargetWarning)
        e = r1.InferenceEngine(convert(model, tmp_path_factory.mktemp("c"), target_hardware=target))
    assert_close(e.run(feeds), reference(model, feeds))


def test_a_gpu_target_records_the_row_and_runs_on_the_cpu_with_a_warning(tmp_path):
    feeds = {"x": np.random.default_rng(6).standard_normal((2, 64)).astype(np.float32)}
    gpu_row = hardware.gpu_rows()[0]["name"]
    path = convert(mlp_model(), tmp_path, target_hardware=gpu_row, precision="fp16")
    info = r1.load_model(path).compile_info
    assert info.target == gpu_row and info.precision == "fp16" and info.device_passes == ()
    with pytest.warns(r1.CompileTargetWarning, match=f"GPU profile '{gpu_row}'.*'{HERE}'"):
        e = r1.InferenceEngine(path)
    assert e.precision == "fp32"  # fp16 is a GPU precision: the CPU runs the file at fp32
    assert_close(e.run(feeds), reference(mlp_model(), feeds))


@pytest.mark.skipif(not AVX512_HERE, reason="needs packed weights, which only AVX-512 CPUs compile")
def test_weights_packed_for_a_cpu_go_back_to_plain_on_a_device_that_reads_them_plain(tmp_path):
    """sim:0 plays a GPU: its FusedMatMul declares no packing, so a file packed for this CPU is unpacked
    at load and the node runs on the device instead of falling back to the CPU."""
    r1._core._register_sim_device()
    feeds = {"x": np.random.default_rng(7).standard_normal((3, 64)).astype(np.float32)}
    path = convert(mlp_model(), tmp_path, target_hardware="native")
    with pytest.warns(r1.CompileTargetWarning, match=f"CPU profile '{HERE}'.*sim:0"):
        e = r1.InferenceEngine(path, device="sim:0")
    lines = fused_lines(e.graph)
    assert lines and all("packed_b=0" in ln for ln in lines)
    assert "r1::FusedMatMul" not in e.placement["cpu_ops"]
    assert_close(e.run(feeds), reference(mlp_model(), feeds))
