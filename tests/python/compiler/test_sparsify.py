"""r1.sparsify: magnitude pruning to 2:4 (each aligned group of four along K keeps its two largest), the layers
it selects, the file it writes (2:4 compressed at int8, smaller than dense int8; round trip), the accuracy it
reports (checked by running both models here) and its guard, and clear errors for bad arguments."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import deepseek_r1 as r1
from deepseek_r1.quantize.sparsify import is_2to4, prune_2to4

D, H, C = 64, 256, 10


def ffn_model(seed=0):
    """x -> FFN (up + Relu, down) + residual -> head: two 'ffn' products and one plain 'matmul'."""
    rng = np.random.default_rng(seed)
    inits = {
        "w1": rng.standard_normal((D, H)) / 8,
        "b1": rng.standard_normal(H) / 10,
        "w2": rng.standard_normal((H, D)) / 16,
        "b2": rng.standard_normal(D) / 10,
        "w3": rng.standard_normal((D, C)) / 8,
    }
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"], name="up"),
        helper.make_node("Add", ["h0", "b1"], ["h1"], name="up_bias"),
        helper.make_node("Relu", ["h1"], ["h2"], name="act"),
        helper.make_node("MatMul", ["h2", "w2"], ["h3"], name="down"),
        helper.make_node("Add", ["h3", "b2"], ["h4"], name="down_bias"),
        helper.make_node("Add", ["h4", "x"], ["h5"], name="residual"),
        helper.make_node("MatMul", ["h5", "w3"], ["y"], name="head"),
    ]
    g = helper.make_graph(
        nodes,
        "ffn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16, D])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), inits


def samples(n=6, seed=1):
    rng = np.random.default_rng(seed)
    return [{"x": rng.standard_normal((int(rng.integers(1, 3)), 16, D)).astype(np.float32)} for _ in range(n)]


def cosine(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@given(
    seed=st.integers(0, 2**31 - 1),
    shape=st.sampled_from([(1, 1), (3, 5), (4, 7), (9, 4), (16, 3), (33, 2)]),
    axis=st.sampled_from([0, 1]),
    ties=st.booleans(),
)
def test_prune_keeps_the_two_largest_of_every_group(seed, shape, axis, ties):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape).astype(np.float32)
    if ties:
        w = np.round(w)  # equal magnitudes: the earlier position wins
    p = prune_2to4(w, axis)
    assert p.dtype == w.dtype and p.shape == w.shape and is_2to4(p, axis)
    x = np.moveaxis(w, axis, -1)
    got = np.moveaxis(p, axis, -1)
    for idx in np.ndindex(x.shape[:-1]):
        for g0 in range(0, x.shape[-1], 4):
            grp, out = x[idx][g0 : g0 + 4], got[idx][g0 : g0 + 4]
            keep = sorted(range(len(grp)), key=lambda i: (-abs(grp[i]), i))[:2]
            want = np.array([grp[i] if i in keep else 0 for i in range(len(grp))], np.float32)
            np.testing.assert_array_equal(out, want)


def test_is_2to4_finds_a_group_of_three():
    w = prune_2to4(np.random.default_rng(0).standard_normal((8, 6)).astype(np.float32), 0)
    assert is_2to4(w, 0)
    w[0:3, 2] = 1.0
    assert not is_2to4(w, 0)


def test_sparsify_prunes_the_ffn_products_and_stores_them_compressed(tmp_path):
    model, inits = ffn_model()
    onnx_path = tmp_path / "ffn.onnx"
    onnx_path.write_bytes(model.SerializeToString())
    rep = r1.sparsify(onnx_path, tmp_path / "ffn.sparse.r1", calibration_data=samples())
    assert rep.pattern == "2:4" and rep.precision == "int8"
    assert sorted(layer.kind for layer in rep.layers) == ["ffn", "ffn"]  # the head is not an ffn layer
    assert {layer.shape for layer in rep.layers} == {(D, H), (H, D)}
    assert all(layer.zeros_before == 0 and layer.zeros_after == 0.5 for layer in rep.layers)
    dense = r1.quantize(onnx_path, tmp_path / "ffn.int8.r1")
    assert rep.size_after < dense.size_after  # the two FFN weights at 5/8 of their int8 bytes
    assert rep.size_before == dense.size_after
    # The file runs the pruned weights at int8: equal to the int8 engine over weights pruned here.
    sparse_engine = r1.InferenceEngine(rep.path)
    assert sparse_engine.model.metadata.get("sparsity") == "2:4"
    pruned = {k: v.copy() for k, v in inits.items()}
    pruned["w1"], pruned["w2"] = prune_2to4(inits["w1"], 0), prune_2to4(inits["w2"], 0)
    worst = 1.0
    for s in samples():
        x = s["x"].astype(np.float64)
        h = np.maximum(x @ pruned["w1"] + pruned["b1"], 0) @ pruned["w2"] + pruned["b2"] + x
        worst = min(worst, cosine(sparse_engine.run(s)["y"], h @ pruned["w3"]))
    assert worst > 0.999
    # The cosine it reports is the dense int8 model's against the sparse one, recomputed here.
    dense_engine = r1.InferenceEngine(dense.path)
    mine = min(cosine(dense_engine.run(s)["y"], sparse_engine.run(s)["y"]) for s in samples())
    assert rep.cosine == pytest.approx(mine, abs=1e-6) and rep.cosine < 0.9999
    assert "2:4 sparsity at int8" in str(rep)


def test_layers_by_kind_and_glob_and_fp32(tmp_path):
    model, _ = ffn_model()
    m = r1.Model(r1.load_onnx(model))
    rep = r1.sparsify(m, tmp_path / "a.r1", layers=["matmul"], precision="fp32")
    assert len(rep.layers) == 3 and rep.precision == "fp32"
    # fp32 stores the pruned weights dense: no smaller, but the zeros are there
    assert rep.size_after == rep.size_before
    rep = r1.sparsify(m, tmp_path / "b.r1", layers="*head*")
    assert [layer.kind for layer in rep.layers] == ["matmul"]


def test_the_accuracy_guard_keeps_the_costliest_layers_dense(tmp_path):
    model, _ = ffn_model()
    m = r1.Model(r1.load_onnx(model))
    free = r1.sparsify(m, tmp_path / "free.r1", layers=["matmul"], calibration_data=samples())
    target = 1.0 - (1.0 - free.cosine) / 4  # out of reach with all three pruned
    rep = r1.sparsify(
        m,
        tmp_path / "g.r1",
        layers=["matmul"],
        calibration_data=samples(),
        accuracy={"metric": "cosine", "min": target},
    )
    assert rep.cosine >= target and rep.target == target
    kept = [layer for layer in rep.layers if layer.kept_dense]
    assert kept and all(layer.zeros_after == layer.zeros_before for layer in kept)
    # the layers kept dense are the ones whose pruning alone cost the most
    costs = sorted((layer.error for layer in rep.layers), reverse=True)
    assert sorted(layer.error for layer in kept) == sorted(costs[: len(kept)])
    assert "kept dense (accuracy guard)" in str(rep)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"pattern": "1:4"}, ValueError, "pattern"),
        ({"layers": []}, ValueError, "layers is empty"),
        ({"layers": ["*nothing*"]}, ValueError, "no product"),
        ({"layers": [3]}, TypeError, "strings"),
        ({"precision": "int4"}, ValueError, "precision"),
        ({"accuracy": {"min": 0.9}}, ValueError, "calibration_data"),
        ({"accuracy": {"metric": "max_abs", "max": 1}, "calibration_data": samples(1)}, ValueError, "cosine"),
        ({"calibration_data": []}, ValueError, "empty"),
        ({"calibration_data": [{"x": np.zeros((1, 3), np.float32)}]}, r1.InputError, "sample 0"),
    ],
)
def test_bad_arguments_are_named(tmp_path, kwargs, error, match):
    model, _ = ffn_model()
    with pytest.raises(error, match=match):
        r1.sparsify(r1.Model(r1.load_onnx(model)), tmp_path / "x.r1", **kwargs)
