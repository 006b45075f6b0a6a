"""End to end: real models exported by both torch exporters, run by r1 and by onnxruntime.

For every model x exporter (see models.py): the engine's outputs match onnxruntime's
(CPUExecutionProvider) to a max relative error of 1e-4 on every output, at two different input
sizes on one engine (dynamic shapes, no re-conversion); and a ModelConverter round trip through a
.r1 file gives bit-identical outputs. An exporter that cannot export a model is a failure carrying the
exporter's error. An op the engine lacks is a failure carrying the engine's "unsupported op" error.
Exports are cached (models.py: $R1_TEST_CACHE), so only the first run pays for them.
"""

from __future__ import annotations

import numpy as np
import pytest

import deepseek_r1 as r1
from helpers.models import EXPORTERS, SPECS, export_for_test, minilm_dir

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

RTOL = 1e-4
CASES = [pytest.param(m, e, id=f"{m}-{e}") for m in SPECS for e in EXPORTERS]
NUM_THREADS = 2


def max_rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """max|a - b| / max(max|b|, 1e-6), with b the reference."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-6))


@pytest.fixture(scope="session")
def exported():
    """Exports on demand, once per session: exported(model, exporter) -> path (a failed export fails)."""
    done: dict = {}

    def get(model: str, exporter: str):
        key = (model, exporter)
        if key not in done:
            done[key] = export_for_test(model, exporter)
        return done[key]

    return get


@pytest.fixture(scope="session")
def ort_sessions():
    cache: dict = {}

    def get(path):
        if path not in cache:
            so = ort.SessionOptions()
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
            so.intra_op_num_threads = NUM_THREADS
            so.log_severity_level = 3
            cache[path] = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        return cache[path]

    return get


def _engine(source, level=3, precision="fp32"):
    """An InferenceEngine; an engine ModelError (e.g. "unsupported op") fails the test with its message."""
    try:
        return r1.InferenceEngine(source, num_threads=NUM_THREADS, optimization_level=level, precision=precision)
    except r1.ModelError as e:
        msg = f"r1 could not compile the model: {e}"
    pytest.fail(msg, pytrace=False)


def _run(engine, feeds, what=""):
    try:
        return engine.run(feeds)
    except r1.R1Error as e:
        shapes = {k: v.shape for k, v in feeds.items()}
        msg = f"r1 failed to run{what} on {shapes}: {type(e).__name__}: {e}"
    pytest.fail(msg, pytrace=False)


def _compare(ours: dict, ref: dict, label: str) -> list[str]:
    problems = []
    for name, b in ref.items():
        if name not in ours:
            problems.append(f"{label}: output '{name}' missing (r1 gave {sorted(ours)})")
            continue
        a = ours[name]
        if a.shape != b.shape:
            problems.append(f"{label}: output '{name}' shape {a.shape} != onnxruntime {b.shape}")
            continue
        if a.dtype != b.dtype:
            problems.append(f"{label}: output '{name}' dtype {a.dtype} != onnxruntime {b.dtype}")
            continue
        if a.dtype.kind == "f" and not np.array_equal(np.isnan(a), np.isnan(b)):
            problems.append(
                f"{label}: output '{name}' NaN pattern differs (r1 has {int(np.isnan(a).sum())} NaNs, "
                f"onnxruntime {int(np.isnan(b).sum())})"
            )
            continue
        ok = ~np.isnan(b) if b.dtype.kind == "f" else np.ones(b.shape, bool)
        err = max_rel_err(a[ok], b[ok])
        if not err <= RTOL:
            problems.append(f"{label}: output '{name}' max rel err {err:.3g} > {RTOL:g}")
    return problems


@pytest.mark.parametrize("level", [0, 1, 2, 3])
@pytest.mark.parametrize("model,exporter", CASES)
def test_matches_onnxruntime(model, exporter, level, exported, ort_sessions):
    """Every optimization level keeps every model within tolerance of onnxruntime."""
    spec = SPECS[model]
    path = exported(model, exporter)
    sess = ort_sessions(path)
    engine = _engine(path, level)
    assert [t.name for t in engine.inputs] == [i.name for i in sess.get_inputs()]
    assert [t.name for t in engine.outputs] == [o.name for o in sess.get_outputs()]
    problems = []
    # One engine, two different input sizes: dynamic shapes work without re-converting.
    for k, size in enumerate(spec.test_sizes):
        feeds = spec.feeds(np.random.default_rng(100 + k), **size)
        ref = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
        ours = _run(engine, feeds, f" size {size}")
        problems += _compare(ours, ref, f"size {size}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("model,exporter", CASES)
def test_bf16_close_to_fp32(model, exporter, exported):
    """precision="bf16" keeps cosine similarity >= 0.999 with our fp32 outputs on every float output."""
    spec = SPECS[model]
    path = exported(model, exporter)
    fp32, bf16 = _engine(path), _engine(path, precision="bf16")
    feeds = spec.feeds(np.random.default_rng(5), **spec.test_sizes[0])
    a, b = _run(fp32, feeds), _run(bf16, feeds, " in bf16")
    for name in a:
        if a[name].dtype.kind != "f":
            continue
        x, y = a[name].ravel().astype(np.float64), b[name].ravel().astype(np.float64)
        cos = float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-30))
        assert cos >= 0.999, f"output '{name}': cosine similarity {cos:.5f} < 0.999"


@pytest.mark.parametrize("model,exporter", CASES)
def test_r1_file_round_trip(model, exporter, exported, tmp_path):
    spec = SPECS[model]
    path = exported(model, exporter)
    msg = None
    try:
        out = r1.ModelConverter(
            input_model=str(path), framework="onnx", output_path=tmp_path / f"{model}-{exporter}.r1"
        ).convert()
    except r1.ModelError as e:
        msg = f"r1 could not convert the model: {e}"
    if msg:
        pytest.fail(msg, pytrace=False)
    direct = _engine(path)
    loaded = _engine(out)
    assert [(t.name, t.dtype) for t in loaded.inputs] == [(t.name, t.dtype) for t in direct.inputs]
    assert [(t.name, t.dtype) for t in loaded.outputs] == [(t.name, t.dtype) for t in direct.outputs]
    feeds = spec.feeds(np.random.default_rng(7), **spec.test_sizes[-1])
    a = _run(direct, feeds, " (from .onnx)")
    b = _run(loaded, feeds, " (from .r1)")
    assert sorted(a) == sorted(b)
    for name in a:
        np.testing.assert_array_equal(b[name], a[name], err_msg=f"output '{name}' differs after the .r1 round trip")


def test_minilm_real_sentences_match_pytorch(exported):
    """The trained MiniLM on real tokenized text: r1's sentence embeddings match PyTorch's, and
    similar sentences are closer than unrelated ones."""
    import torch
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    sentences = [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The stock market fell sharply on Tuesday amid inflation fears.",
    ]
    enc = tok.encode_batch(sentences)
    feeds = {
        "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
    }
    path = exported("minilm", "legacy")
    ours = _run(_engine(path), feeds)["sentence_embedding"]
    module = SPECS["minilm"].build()
    with torch.no_grad():
        ref = module(*[torch.from_numpy(feeds[n]) for n in SPECS["minilm"].input_names])[1].numpy()
    assert max_rel_err(ours, ref) <= RTOL
    sims = ours @ ours.T
    assert sims[0, 1] > 0.5 > sims[0, 2]
