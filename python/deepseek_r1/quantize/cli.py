"""`r1 quantize`: the command-line face of r1.quantize.

    r1 quantize model.onnx -o model.int8.r1
    r1 quantize model.onnx --policy attention=bf16 --policy ffn=int8 --policy default=fp32
    r1 quantize model.onnx --calibration samples.npz --min-cosine 0.99     # the accuracy guard
    r1 quantize model.onnx --calibration-random 16 --dim seq=128 --min-cosine 0.99 --json
    r1 quantize model.onnx --mode static --method entropy --calibration samples.npz

Calibration data: a .npz whose arrays hold one sample per index of their first axis (one array per model
input), or a directory of .npz files, one sample each.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np


def _npz_samples(path: Path) -> list[dict[str, np.ndarray]]:
    if path.is_dir():
        files = sorted(path.glob("*.npz"))
        if not files:
            raise ValueError(f"--calibration {path}: the directory holds no .npz files")
        return [dict(np.load(f)) for f in files]
    data = dict(np.load(path))
    if not data:
        raise ValueError(f"--calibration {path}: the file holds no arrays")
    counts = {k: v.shape[0] if v.ndim else 0 for k, v in data.items()}
    n = set(counts.values())
    if len(n) != 1 or 0 in n:
        raise ValueError(f"--calibration {path}: every array needs the same leading sample axis, got {counts}")
    return [{k: v[i] for k, v in data.items()} for i in range(n.pop())]


def _random_samples(model: str, count: int, dims: dict[str, int]) -> list[dict[str, np.ndarray]]:
    from ..cli import _random_inputs
    from ..engine import InferenceEngine

    engine = InferenceEngine(model, optimization_level=0)
    return [
        {
            k: np.random.default_rng(i).permutation(v.ravel()).reshape(v.shape)
            for k, v in _random_inputs(engine, dims).items()
        }
        for i in range(count)
    ]


def cmd_quantize(a) -> int:
    from ..cli import _parse_dims
    from .api import quantize

    policy = {}
    for item in a.policy or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--policy {item!r}: expected KIND_OR_GLOB=PRECISION, e.g. ffn=int8")
        policy[key] = value
    samples = None
    if a.calibration:
        samples = _npz_samples(Path(a.calibration))
    elif a.calibration_random:
        samples = _random_samples(a.model, a.calibration_random, _parse_dims(a.dim))
    accuracy = None
    if a.min_cosine is not None:
        accuracy = {"metric": "cosine", "min": a.min_cosine}
    elif a.max_abs is not None:
        accuracy = {"metric": "max_abs", "max": a.max_abs}
    rep = quantize(
        a.model,
        a.output,
        mode=a.mode,
        method=a.method,
        calibration_data=samples,
        policy=policy or None,
        exclude=a.exclude or (),
        accuracy=accuracy,
        target_hardware=a.target,
        num_threads=a.threads,
        progress=None if not a.json else False,
        bits=a.bits,
    )
    print(json.dumps(asdict(rep), indent=1) if a.json else rep)
    return 0


def cmd_sparsify(a) -> int:
    from ..cli import _parse_dims
    from .sparsify import sparsify

    samples = None
    if a.calibration:
        samples = _npz_samples(Path(a.calibration))
    elif a.calibration_random:
        samples = _random_samples(a.model, a.calibration_random, _parse_dims(a.dim))
    rep = sparsify(
        a.model,
        a.output,
        layers=a.layers or None,
        precision=a.precision,
        calibration_data=samples,
        accuracy={"metric": "cosine", "min": a.min_cosine} if a.min_cosine is not None else None,
        target_hardware=a.target,
        num_threads=a.threads,
        progress=None if not a.json else False,
    )
    print(json.dumps(asdict(rep), indent=1) if a.json else rep)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    q = sub.add_parser("quantize", help="quantize a model to int8 (per-layer policy, accuracy guard)")
    q.add_argument("model", help="a .onnx or .r1 file")
    q.add_argument("-o", "--output", help="default: MODEL.int8.r1 beside the input")
    q.add_argument(
        "--mode", default="dynamic", choices=["dynamic", "static", "weights_only"],
        help="static: calibrated input ranges; weights_only: int4 (or --bits 8) weights of products",
    )  # fmt: skip
    q.add_argument("--bits", type=int, default=4, choices=[4, 8], help="weights_only: 4 (group-wise) or 8")
    q.add_argument("--method", default="minmax", choices=["minmax", "percentile", "entropy"], help="static calibration")
    q.add_argument("--policy", action="append", metavar="KIND=PREC", help="attention|ffn|conv|matmul|default|GLOB")
    q.add_argument("--exclude", action="append", metavar="KIND_OR_GLOB", help="keep these layers at fp32")
    q.add_argument("--calibration", metavar="NPZ_OR_DIR", help="calibration samples (see r1 quantize --help)")
    q.add_argument("--calibration-random", type=int, metavar="N", help="N random samples (a smoke test)")
    q.add_argument("--dim", action="append", help="symbolic dim for random samples, e.g. seq=128")
    q.add_argument("--min-cosine", type=float, help="accuracy guard: cosine to fp32 outputs at least this")
    q.add_argument("--max-abs", type=float, help="accuracy guard: largest absolute error at most this")
    q.add_argument("--target", default="native", help="CPU profile row the weights are packed for (default native)")
    q.add_argument("--threads", type=int, default=None)
    q.add_argument("--json", action="store_true", help="print the report as JSON")
    q.set_defaults(fn=cmd_quantize)

    s = sub.add_parser("sparsify", help="prune products to 2:4 sparsity by magnitude (int8, compressed)")
    s.add_argument("model", help="a .onnx or .r1 file")
    s.add_argument("-o", "--output", help="default: MODEL.sparse.r1 beside the input")
    s.add_argument("--layers", action="append", metavar="KIND_OR_GLOB", help="ffn (default)|attention|matmul|GLOB")
    s.add_argument("--precision", default="int8", choices=["int8", "bf16", "fp32"])
    s.add_argument("--calibration", metavar="NPZ_OR_DIR", help="samples the accuracy is measured on")
    s.add_argument("--calibration-random", type=int, metavar="N", help="N random samples (a smoke test)")
    s.add_argument("--dim", action="append", help="symbolic dim for random samples, e.g. seq=128")
    s.add_argument("--min-cosine", type=float, help="accuracy guard: cosine to the dense model at least this")
    s.add_argument("--target", default="native", help="CPU profile row the weights are packed for (default native)")
    s.add_argument("--threads", type=int, default=None)
    s.add_argument("--json", action="store_true", help="print the report as JSON")
    s.set_defaults(fn=cmd_sparsify)
