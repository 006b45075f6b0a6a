"""Property tests of r1::FusedMatMul (cpp/r1/cpu/kernels/fused_matmul.cc, cpp/r1/cpu/gemm/) against a
float64 numpy reference: every activation, bias/residual, trans_b, packed and plain B, fp32 and bf16,
and each GEMM path (AVX-512 bf16, AVX-512 fp32, OpenBLAS baseline) forced with _core.set_gemm_isa_limit."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from scipy.special import erfc

import deepseek_r1 as r1
from deepseek_r1 import _core
from helpers.op_harness import make_op_model

ACTS = ["", "Relu", "Gelu", "GeluTanh", "Sigmoid", "Silu", "Tanh", "HardSigmoid", "HardSwish", "Clip", "LeakyRelu"]
ISAS = ["auto", "avx512", "baseline"]


@pytest.fixture(autouse=True)
def _reset_isa():
    yield
    _core.set_gemm_isa_limit("auto")


def act_ref(x, act, pa, pb):
    if act == "Relu":
        return np.maximum(x, 0)
    # 1 + erf(z) = erfc(-z) and 1 + tanh(u) = 2 / (1 + exp(-2u)) without float64's own cancellation
    if act == "Gelu":
        return 0.5 * x * erfc(-x / np.sqrt(2))
    if act == "GeluTanh":
        with np.errstate(over="ignore"):
            return x / (1 + np.exp(-2 * np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    if act == "Sigmoid":
        return 1 / (1 + np.exp(-x))
    if act == "Silu":
        return x / (1 + np.exp(-x))
    if act == "Tanh":
        return np.tanh(x)
    if act == "HardSigmoid":
        return np.clip(pa * x + pb, 0, 1)
    if act == "HardSwish":
        return x * np.clip(x / 6 + 0.5, 0, 1)
    if act == "Clip":
        return np.clip(x, pa, pb)
    if act == "LeakyRelu":
        return np.where(x < 0, pa * x, x)
    return x


ACT_PARAMS = {"HardSigmoid": (0.25, 0.4), "Clip": (-0.5, 0.75), "LeakyRelu": (0.1, 0.0)}


def reference(a, b, trans_b, bias, res, alpha, act):
    """Y and the bound |alpha| |A| |B| + |bias| + |res| that scales the rounding error of Y."""
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    b64 = b64.T if trans_b else b64
    y = alpha * (a64 @ b64)
    scale = abs(alpha) * (np.abs(a64) @ np.abs(b64))
    for t in (bias, res):
        if t is not None:
            y = y + np.asarray(t, np.float64)
            scale = scale + np.abs(np.asarray(t, np.float64))
    pa, pb = ACT_PARAMS.get(act, (0.0, 0.0))
    return act_ref(y, act, pa, pb), np.broadcast_to(scale, y.shape)


def run_fused(a, b, bias=None, res=None, threads=1, level=3, **attrs):
    """One FusedMatMul node: A (and the residual) are graph inputs, B and bias initializers. Level 3 lets
    the weight_prepack pass pack B first (as every engine does); level 0 hands the kernel B as given."""
    act = attrs.get("activation", "")
    if act in ACT_PARAMS and "act_alpha" not in attrs:
        attrs["act_alpha"], attrs["act_beta"] = ACT_PARAMS[act]
    model = make_op_model("FusedMatMul", [a, None, None, res], attrs, opset=1, domain="r1")
    node = model.graph.node[0]
    del node.input[:]
    node.input.extend(["in0", "w", "bias" if bias is not None else "", "in3" if res is not None else ""])
    model.graph.initializer.append(numpy_helper.from_array(np.asarray(b), "w"))
    if bias is not None:
        model.graph.initializer.append(numpy_helper.from_array(np.asarray(bias), "bias"))
    eng = r1.InferenceEngine(r1.Model(r1.load_onnx(model)), num_threads=threads, optimization_level=level)
    return eng.run([x for x in (a, res) if x is not None])["out0"]


def check_close(y, ref, scale, tol):
    assert y.shape == ref.shape, f"shape {y.shape} != {ref.shape}"
    err = np.abs(y.astype(np.float64) - ref)
    bound = tol * (scale + np.abs(ref)) + 1e-30
    worst = np.unravel_index(np.argmax(err / bound), err.shape)
    assert np.all(err <= bound), f"error {err[worst]:.3e} > {bound[worst]:.3e} at {worst}"


def make_case(seed, lead, m, k, n, trans_b, with_bias, res_kind, dtype=np.float32):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((*lead, m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    bias = rng.standard_normal(n).astype(dtype) if with_bias else None
    yshape = (*lead, m, n)
    res = {"none": None, "full": yshape, "row": (n,), "col": (m, 1)}[res_kind]
    res = rng.standard_normal(res).astype(dtype) if res is not None else None
    return a, b, bias, res


case = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**31 - 1),
        "lead": st.sampled_from([(), (2,), (3, 1), (1, 2)]),
        "m": st.sampled_from([1, 2, 5, 7, 8, 9, 16, 33, 100]),
        "k": st.sampled_from([1, 3, 16, 31, 64, 100, 257]),
        "n": st.sampled_from([1, 5, 16, 17, 47, 48, 49, 96, 130]),
        "trans_b": st.booleans(),
        "with_bias": st.booleans(),
        "res_kind": st.sampled_from(["none", "full", "row", "col"]),
    }
)


@given(
    c=case,
    act=st.sampled_from(ACTS),
    packed=st.booleans(),
    alpha=st.sampled_from([1.0, 0.5]),
    isa=st.sampled_from(ISAS),
    threads=st.sampled_from([1, 2]),
)
def test_fp32_matches_float64(c, act, packed, alpha, isa, threads):
    a, b, bias, res = make_case(**c)
    _core.set_gemm_isa_limit(isa)
    k, n = a.shape[-1], b.shape[0] if c["trans_b"] else b.shape[1]
    attrs = {"activation": act, "alpha": alpha, "trans_b": int(c["trans_b"])}
    if packed:
        b_in = _core.pack_weights(b, c["trans_b"], "fp32")
        attrs.update(packed_b=1, k=k, n=n)
    else:
        b_in = b
    y = run_fused(a, b_in, bias, res, threads, **attrs)
    ref, scale = reference(a, b, c["trans_b"], bias, res, alpha, act)
    check_close(y, ref, scale, 1e-5)


@given(c=case, act=st.sampled_from(["", "Gelu", "Relu", "Silu"]), packed=st.booleans(), isa=st.sampled_from(ISAS))
def test_bf16_within_bf16_tolerance(c, act, packed, isa):
    a, b, bias, res = make_case(**c)
    _core.set_gemm_isa_limit(isa)
    k, n = a.shape[-1], b.shape[0] if c["trans_b"] else b.shape[1]
    attrs = {"activation": act, "trans_b": int(c["trans_b"]), "precision": "bf16"}
    if packed:
        b_in = _core.pack_weights(b, c["trans_b"], "bf16")
        attrs.update(packed_b=1, k=k, n=n)
    else:
        b_in = b
    y = run_fused(a, b_in, bias, res, 2, **attrs)
    ref, scale = reference(a, b, c["trans_b"], bias, res, 1.0, act)
    # two bf16 roundings (8-bit mantissa) per product, summed with random signs
    check_close(y, ref, scale, 1e-2)
    if _core.gemm_path("bf16") == "avx512-bf16":
        # the kernel multiplies exactly the bf16-rounded operands and accumulates in fp32
        bf = lambda x: np.asarray(x).astype(ml_dtypes.bfloat16).astype(np.float64)
        ref16, scale16 = reference(bf(a), bf(b), c["trans_b"], bias, res, 1.0, act)
        check_close(y, ref16, scale16, 2e-5)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("m,k,n", [(128, 768, 768), (300, 200, 500), (130, 96, 2304), (16, 5000, 50), (5, 8193, 20)])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_large_shapes_parallel_and_deep(isa, m, k, n, precision):
    """Shapes big enough for the parallel split and, with K > 4096, several passes over K."""
    a, b, bias, res = make_case(7, (), m, k, n, False, True, "full")
    _core.set_gemm_isa_limit(isa)
    blob = _core.pack_weights(b, False, precision)
    y = run_fused(a, blob, bias, res, 2, activation="Gelu", packed_b=1, k=k, n=n, precision=precision)
    ref, scale = reference(a, b, False, bias, res, 1.0, "Gelu")
    check_close(y, ref, scale, 1e-5 if precision == "fp32" else 1e-2)
    y_plain = run_fused(a, b, bias, res, 2, activation="Gelu", precision=precision)
    np.testing.assert_allclose(y_plain, y, rtol=0, atol=1e-5 * np.abs(y).max() if precision == "fp32" else 0.02)


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16])
def test_16bit_inputs_staged(dtype):
    a, b, bias, res = make_case(3, (2,), 9, 40, 33, True, True, "full", dtype)
    y = run_fused(a, b, bias, res, 1, activation="Relu", trans_b=1)
    assert y.dtype == np.dtype(dtype)
    ref, scale = reference(a, b, True, bias, res, 1.0, "Relu")
    check_close(y.astype(np.float32), ref, scale, 1e-2)


def test_k_zero_is_epilogue_of_zero():
    a = np.zeros((3, 0), np.float32)
    b = np.zeros((0, 4), np.float32)
    bias = np.array([1, -2, 3, -4], np.float32)
    y = run_fused(a, b, bias, None, 1, activation="Relu")
    np.testing.assert_array_equal(y, np.tile(np.maximum(bias, 0), (3, 1)))


def test_activation_defaults_follow_onnx():
    """Without act_alpha/act_beta the parameters are ONNX's defaults (HardSigmoid 0.2/0.5, LeakyRelu 0.01)."""
    a, b, _, _ = make_case(5, (), 4, 8, 16, False, False, "none")
    x = a.astype(np.float64) @ b
    model = make_op_model("FusedMatMul", [a], {"activation": "HardSigmoid"}, [b], opset=1, domain="r1")
    y = r1.InferenceEngine(r1.Model(r1.load_onnx(model))).run([a])["out0"]
    np.testing.assert_allclose(y, np.clip(0.2 * x + 0.5, 0, 1), atol=1e-5)
    model = make_op_model("FusedMatMul", [a], {"activation": "LeakyRelu"}, [b], opset=1, domain="r1")
    y = r1.InferenceEngine(r1.Model(r1.load_onnx(model))).run([a])["out0"]
    np.testing.assert_allclose(y, np.where(x < 0, 0.01 * x, x), atol=1e-5)


def test_pack_weights_blob_header():
    b = np.arange(5 * 50, dtype=np.float32).reshape(5, 50)
    for prec, elem, rows in (("fp32", 4, 5), ("bf16", 2, 6)):
        blob = _core.pack_weights(b, False, prec)
        assert blob.dtype == np.uint8 and blob.ndim == 1
        assert blob[:8].tobytes() == b"R1PACKB\0"
        assert blob.size == 64 + 2 * rows * 48 * elem  # 2 panels of 48 columns, K (pairs) rows
    np.testing.assert_array_equal(_core.pack_weights(b, False, "fp32"), _core.pack_weights(b.T.copy(), True, "fp32"))


def test_symbolic_shapes_infer():
    k, n = 16, 24
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", k])
    node = helper.make_node("FusedMatMul", ["x", "w", "b"], ["y"], domain="r1", activation="Gelu")
    w = np.ones((k, n), np.float32)
    g = helper.make_graph(
        [node],
        "g",
        [x],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.zeros(n, np.float32), "b")],
    )
    graph = r1.load_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("r1", 1)]))
    assert graph.outputs[0][1:] == ("float32", ("batch", "seq", n))
    eng = r1.InferenceEngine(r1.Model(graph))
    for shape in [(1, 3, k), (2, 5, k)]:
        xv = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        y = eng.run([xv])["y"]
        check_close(y, *reference(xv, w, False, None, None, 1.0, "Gelu"), 1e-5)


def _raises(match, a, b, bias=None, res=None, level=0, **attrs):
    with pytest.raises((r1.ModelError, r1.InputError), match=match):
        run_fused(a, b, bias, res, 1, level=level, **attrs)


def test_mismatched_packed_blob_is_rejected():
    """The kernel itself (level 0: no pass touches B) refuses a blob that does not fit the node."""
    a, b, _, _ = make_case(1, (), 4, 32, 20, False, False, "none")
    blob = _core.pack_weights(b, False, "fp32")
    _raises("precision is bf16", a, blob, packed_b=1, k=32, n=20, precision="bf16")
    _raises("k=32, n=21", a, blob, packed_b=1, k=32, n=21)
    bad = blob.copy()
    bad[0] ^= 0xFF
    _raises("not a packed weight blob", a, bad, packed_b=1, k=32, n=20)
    _raises("truncated|too short", a, blob[:100].copy(), packed_b=1, k=32, n=20)
    _raises("uint8", a, b, packed_b=1, k=32, n=20)


def test_the_compiler_repacks_a_blob_of_another_precision_and_rejects_a_broken_one():
    """Level 3: weight_prepack packs an fp32 blob again for a bf16 node (a .r1 compiled at fp32 opened at
    bf16); a blob whose header is no packed blob is a ModelError at load, naming the problem."""
    a, b, _, _ = make_case(1, (), 4, 32, 20, False, False, "none")
    blob = _core.pack_weights(b, False, "fp32")
    repacked = run_fused(a, blob, packed_b=1, k=32, n=20, precision="bf16")
    want = run_fused(a, b, precision="bf16")
    np.testing.assert_array_equal(repacked, want)
    bad = blob.copy()
    bad[0] ^= 0xFF
    _raises("not a packed weight blob", a, bad, level=3, packed_b=1, k=32, n=20)
    _raises("uint8", a, b, level=3, packed_b=1, k=32, n=20)


def test_invalid_nodes_are_rejected():
    a, b, _bias, _ = make_case(1, (), 4, 32, 20, False, True, "none")
    _raises("unknown activation", a, b, activation="Swish")
    _raises("precision", a, b, precision="fp8")
    _raises("inner dimension", a, b.T.copy())
    _raises("bias", a, b, np.ones(19, np.float32))
    _raises("residual", a, b, None, np.ones((3, 20), np.float32))


@pytest.mark.parametrize("isa", ["auto", "baseline"])
@pytest.mark.parametrize("act", ACTS[1:])
def test_activation_accuracy(isa, act):
    """With K = 1 and B = 1 the product is exact, so Y = act(x): each activation within 1e-5 relative of
    float64 over [-30, 30], or 1e-7 |x| absolute: GELU's far tail (|GELU(-6)| = 6e-9) is only as
    accurate as erf's fp32 minimax form allows; onnxruntime and PyTorch, computing 1 + erf, lose it entirely."""
    _core.set_gemm_isa_limit(isa)
    x = np.concatenate([np.linspace(-30, 30, 4001), [-1e-3, 1e-6, -1e-30, 0.0, 88.0, -88.0]]).astype(np.float32)
    y = run_fused(x[:, None], np.ones((1, 48), np.float32), activation=act)
    pa, pb = ACT_PARAMS.get(act, (0.0, 0.0))
    x64 = x.astype(np.float64)
    ref = act_ref(x64, act, pa, pb)
    err = np.abs(y[:, 0] - ref)
    bad = err > 1e-5 * np.abs(ref) + 1e-7 * np.abs(x64) + 1e-37
    assert not bad.any(), f"x={x[bad][:5]} y={y[bad, 0][:5]} ref={ref[bad][:5]}"
    assert np.all(y == y[:, :1])


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("shape_a,n", [((1, 64), 50), ((2, 3, 100), 97), ((128, 768), 768), ((4, 33, 200), 48)])
def test_matmul_and_gemm_route_through_fast_gemm(isa, shape_a, n):
    """Plain MatMul with a 2-D B and Gemm with a bias-row C take the same GEMM (where faster)."""
    from helpers.op_harness import run_op

    _core.set_gemm_isa_limit(isa)
    rng = np.random.default_rng(11)
    a = rng.standard_normal(shape_a).astype(np.float32)
    b = rng.standard_normal((shape_a[-1], n)).astype(np.float32)
    (y,) = run_op("MatMul", [a], constants=[b], num_threads=2)
    ref, scale = reference(a, b, False, None, None, 1.0, "")
    check_close(y, ref, scale, 1e-5)
    a2 = a.reshape(-1, shape_a[-1])
    c = rng.standard_normal(n).astype(np.float32)
    (y,) = run_op("Gemm", [a2], {"transB": 1, "alpha": 0.5, "beta": 2.0}, constants=[b.T.copy(), c], num_threads=2)
    ref, scale = reference(a2, b, False, 2.0 * c, None, 0.5, "")
    check_close(y, ref, scale, 1e-5)
