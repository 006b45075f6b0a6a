"""ONNX node conformance, measured against onnxruntime: every case of onnx's backend test suite in the default
domain.

Cases are generated in memory by onnx (load_model_tests(kind="node")). Each runs through onnxruntime (CPU) and
through our engine; both are checked against the case's expected outputs with the same tolerance. Then:

- we pass: the test passes (and must not be listed in the baseline);
- we do not pass (we reject the model with our own "not supported" error, or give other outputs, or raise) and the
  case is listed in node_case_baseline.txt: the test skips with the reason. The baseline says, per case, whether
  onnxruntime passes it ("gap": work left for us) or not ("both": onnxruntime fails it too);
- anything else fails: a new failure, or a baseline entry whose status no longer holds (a gap we closed, a case
  onnxruntime now passes), so the file changes with the code.

`python tests/python/kernels/test_onnx_node_cases.py --write-baseline` rewrites the baseline from a run; the
counts it prints are the README's.
"""

from __future__ import annotations

import functools
import sys
import warnings
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from onnx.backend.test.loader import load_model_tests

import deepseek_r1 as r1

BF16 = np.dtype(ml_dtypes.bfloat16)
BASELINE = Path(__file__).with_name("node_case_baseline.txt")
# Phrases the engine uses when a model asks for something it does not implement.
UNSUPPORTED_MARKERS = ("does not support", "not supported", "is not a tensor", "unsupported op")


def _ops(graph) -> set[str]:
    """Op types of a graph and of its subgraphs (If's branches, Loop's and Scan's bodies)."""
    ops = set()
    for n in graph.node:
        if n.domain not in ("", "ai.onnx"):
            ops.add(f"{n.domain}::{n.op_type}")
        ops.add(n.op_type)
        for a in n.attribute:
            if a.type == a.GRAPH:
                ops |= _ops(a.g)
            for g in a.graphs:
                ops |= _ops(g)
    return ops


@functools.cache
def _cases() -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = load_model_tests(kind="node")
    return {c.name: c for c in cases if not any("::" in op for op in _ops(c.model.graph))}


def _check(outputs: list, expected: list, names: list[str], rtol: float, atol: float) -> None:
    """Raises AssertionError when outputs differ from the expected ones (shape, dtype class, values)."""
    assert len(outputs) >= len(expected), f"{len(outputs)} outputs, expected {len(expected)}"
    for name, have, want in zip(names, outputs, expected):
        if isinstance(want, list) or isinstance(have, list):  # sequences
            assert isinstance(have, list) and isinstance(want, list) and len(have) == len(want), name
            _check(have, want, [f"{name}[{i}]" for i in range(len(want))], rtol, atol)
            continue
        if want is None or have is None:  # optional without a value
            assert want is None and have is None, name
            continue
        want, have = np.asarray(want), np.asarray(have)
        assert have.shape == want.shape, f"{name}: shape {have.shape} != {want.shape}"
        if want.dtype.kind in "fc" or want.dtype == BF16:
            # 16-bit floats: fp16 at 1e-2 as for every kernel; bf16 keeps only 8 significant bits and the expanded
            # cases round after every op, so 2 ulp (2e-2) is its honest bound.
            rtol = {np.dtype(np.float16): 1e-2, BF16: 2e-2}.get(want.dtype, max(rtol, 1e-4))
            np.testing.assert_allclose(
                have.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=max(atol, 1e-6), err_msg=name
            )
        else:
            assert have.dtype == want.dtype or want.dtype.kind in "OUS", f"{name}: dtype {have.dtype} != {want.dtype}"
            np.testing.assert_array_equal(have, want, err_msg=name)


@functools.cache
def onnxruntime_passes(name: str) -> bool:
    import onnxruntime as ort

    case = _cases()[name]
    so = ort.SessionOptions()
    so.log_severity_level = 4  # its errors are our data here, not output
    try:
        sess = ort.InferenceSession(case.model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        names = [o.name for o in sess.get_outputs()]
        for inputs, expected in case.data_sets:
            feeds = {i.name: a for i, a in zip(sess.get_inputs(), inputs)}
            _check(sess.run(None, feeds), list(expected), names, case.rtol, case.atol)
        return True
    except Exception:
        return False


def ours(name: str) -> tuple[str, str]:
    """("pass" | "unsupported" | "fail", detail) for our engine on a case."""
    case = _cases()[name]
    try:
        engine = r1.InferenceEngine(r1.Model(r1.load_onnx(case.model)))
    except r1.R1Error as e:
        kind = "unsupported" if any(m in str(e) for m in UNSUPPORTED_MARKERS) else "fail"
        return kind, str(e).splitlines()[0][:200]
    names = [o.name for o in engine.outputs]
    try:
        for inputs, expected in case.data_sets:
            feeds = {}
            for info, a in zip(engine.inputs, inputs):
                if info.kind == "tensor":  # sequences (lists) and optionals (None) go as they are
                    a = np.asarray(a)
                    if a.dtype != info.numpy_dtype:
                        return "unsupported", f"input '{info.name}' of dtype {a.dtype}"
                feeds[info.name] = a
            got = engine.run(feeds)
            _check([got[n] for n in names], list(expected), names, case.rtol, case.atol)
    except AssertionError as e:
        return "fail", "wrong output: " + str(e).strip().splitlines()[0][:200]
    except r1.R1Error as e:
        return "fail", str(e).splitlines()[0][:200]
    return "pass", ""


def read_baseline() -> dict[str, str]:
    out = {}
    for line in BASELINE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, status = line.split()[:2]
            out[name] = status
    return out


@pytest.mark.parametrize("name", sorted(_cases()))
def test_node_case(name):
    baseline = read_baseline()
    result, detail = ours(name)
    listed = baseline.get(name)
    if result == "pass":
        assert listed is None, f"{name} passes now: remove it from {BASELINE.name}"
        return
    ort_ok = onnxruntime_passes(name)
    want = "gap" if ort_ok else "both"
    assert listed is not None, f"{name}: we {result} ({detail}) and it is not in {BASELINE.name}" + (
        " (onnxruntime passes it)" if ort_ok else ""
    )
    assert listed == want, f"{name}: listed as '{listed}' but onnxruntime {'passes' if ort_ok else 'fails'} it now"
    pytest.skip(f"{listed}: {result}: {detail}")


def test_baseline_names_exist():
    missing = sorted(set(read_baseline()) - set(_cases()))
    assert not missing, f"{BASELINE.name} lists cases onnx no longer has: {missing[:10]}"


def _write_baseline() -> None:
    rows, counts = [], {"pass": 0, "gap": 0, "both": 0, "ort_pass": 0}
    for name in sorted(_cases()):
        result, detail = ours(name)
        ort_ok = onnxruntime_passes(name)
        counts["ort_pass"] += ort_ok
        if result == "pass":
            counts["pass"] += 1
            continue
        status = "gap" if ort_ok else "both"
        counts[status] += 1
        rows.append(f"{name} {status} {result}: {detail}")
    header = [
        "# Node conformance cases we do not pass (tests/python/kernels/test_onnx_node_cases.py).",
        "# gap: onnxruntime passes the case (work left); both: onnxruntime fails it too.",
        f"# {len(_cases())} cases: we pass {counts['pass']}, onnxruntime passes {counts['ort_pass']};"
        f" gaps {counts['gap']}, both fail {counts['both']}.",
    ]
    BASELINE.write_text("\n".join(header + rows) + "\n")
    print(header[-1][2:])


if __name__ == "__main__" and "--write-baseline" in sys.argv:
    _write_baseline()
