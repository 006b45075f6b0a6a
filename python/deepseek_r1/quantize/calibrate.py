"""Static calibration: the activation range each int8 layer's input takes on calibration data, and the uint8
scale and zero point that range gives (r1.quantize(mode="static")).

    ranges = collect_ranges(model, ["/l0/dense/MatMul_fused", ...], samples, method="entropy")
    scale, zero = ranges["/l0/dense/MatMul_fused"].quant_params()

The fp32 model runs once per sample with each layer's input exposed as an extra output (on a copy of the
graph). Methods:
  minmax      the lowest and highest value seen (0 included)
  percentile  the 0.01st and 99.99th percentiles of a 2048-bin histogram over all samples (0 included)
  entropy     the clipping of that histogram whose 255-level quantization loses the least information
              (KL divergence, as TensorRT's entropy calibrator), searched over shrinking the range
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..model import Model
from ..tools.progress import Progress

METHODS = ("minmax", "percentile", "entropy")
_BINS = 2048


@dataclass
class Range:
    lo: float = 0.0
    hi: float = 0.0
    hist: np.ndarray = field(default_factory=lambda: np.zeros(_BINS))

    def quant_params(self) -> tuple[float, int]:
        """uint8 (scale, zero point) of [lo, hi] with 0 inside, as DynamicQuantizeLinear computes them."""
        lo, hi = min(self.lo, 0.0), max(self.hi, 0.0)
        scale = float(np.float32((hi - lo) / 255.0))
        if not scale > 0:
            return 1.0, 0
        return scale, int(np.clip(np.rint(-lo / scale), 0, 255))


def _edges(r: Range) -> np.ndarray:
    return np.linspace(min(r.lo, 0.0), max(r.hi, 0.0), _BINS + 1)


def _percentile(r: Range, p: float = 1e-4) -> tuple[float, float]:
    cdf = np.cumsum(r.hist) / max(r.hist.sum(), 1)
    e = _edges(r)
    lo = e[int(np.searchsorted(cdf, p))]
    hi = e[min(_BINS, int(np.searchsorted(cdf, 1 - p)) + 1)]
    return min(lo, 0.0), max(hi, 0.0)


def _kl_of_clip(hist: np.ndarray, a: int, b: int) -> float:
    """KL(P || Q), as TensorRT's entropy calibrator: P the histogram clipped to bins [a, b) with the outliers
    folded into the edge bins; Q the clipped histogram without them, merged into 255 levels and spread evenly
    back over each level's non-empty bins. Clipping too much leaves the outlier mass in P alone: a large KL."""
    inside = hist[a:b].astype(np.float64)
    p = inside.copy()
    p[0] += hist[:a].sum()
    p[-1] += hist[b:].sum()
    if p.sum() == 0 or inside.sum() == 0:
        return 0.0 if p.sum() == 0 else np.inf
    q = np.zeros_like(p)
    for chunk in np.array_split(np.arange(len(p)), min(255, len(p))):
        nz = chunk[inside[chunk] > 0]
        if len(nz):
            q[nz] = inside[chunk].sum() / len(nz)
    p, q = p / p.sum(), q / q.sum()
    m = p > 0
    return float(np.sum(p[m] * np.log(p[m] / np.maximum(q[m], 1e-12))))


def _entropy(r: Range) -> tuple[float, float]:
    e = _edges(r)
    zero_bin = int(np.clip(np.searchsorted(e, 0.0) - 1, 0, _BINS - 1))
    best, best_kl = (min(r.lo, 0.0), max(r.hi, 0.0)), np.inf
    for f in np.linspace(0.2, 1.0, 33):  # shrink both sides toward 0 by the same fraction
        a = int(zero_bin - f * zero_bin)
        b = int(zero_bin + 1 + f * (_BINS - 1 - zero_bin))
        if b - a < 255:
            continue
        kl = _kl_of_clip(r.hist, a, b)
        if kl < best_kl:
            best_kl, best = kl, (min(e[a], 0.0), max(e[b], 0.0))
    return best


def collect_ranges(
    model: Model,
    nodes: list[str],
    samples: list[dict],
    method: str = "minmax",
    num_threads: int | None = None,
    progress: bool | None = None,
) -> dict[str, Range]:
    """The calibrated input range of each named node (its first input), over every sample."""
    from ..engine import InferenceEngine

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    graph = model.graph.clone()
    by_name = {n["name"]: n for n in graph.nodes()}
    value_of = {name: by_name[name]["inputs"][0] for name in nodes}
    for v in set(value_of.values()):
        graph.add_output(v)
    engine = InferenceEngine(Model(graph, dict(model.metadata)), precision="fp32", num_threads=num_threads)
    ranges = {v: Range(np.inf, -np.inf) for v in set(value_of.values())}
    passes = 1 if method == "minmax" else 2
    with Progress(passes * len(samples), f"calibrating ({method})", progress) as bar:
        for i in range(passes):
            for s in samples:
                out = engine.run(s)
                for v, r in ranges.items():
                    x = np.asarray(out[v], np.float32)
                    if i == 0:
                        r.lo, r.hi = min(r.lo, float(x.min(initial=0.0))), max(r.hi, float(x.max(initial=0.0)))
                    else:
                        r.hist += np.histogram(x, bins=_edges(r))[0]
                bar.advance()
    for r in ranges.values():
        if method == "percentile":
            r.lo, r.hi = _percentile(r)
        elif method == "entropy":
            r.lo, r.hi = _entropy(r)
    return {name: ranges[v] for name, v in value_of.items()}


def apply_static(model: Model, ranges: dict[str, Range]) -> Model:
    """A copy of `model` whose named nodes quantize their input with the calibrated scale and zero point."""
    graph = model.graph.clone()
    for name, r in ranges.items():
        scale, zero = r.quant_params()
        graph.set_node_attr(name, "act_quant", ("string", "static"))
        graph.set_node_attr(name, "a_scale", ("float", scale))
        graph.set_node_attr(name, "a_zero_point", ("int", zero))
    return Model(graph, dict(model.metadata))
