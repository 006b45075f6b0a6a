"""The accuracy guard of r1.quantize: a metric over calibration outputs, each layer's error, and the fallback.

    g = Guard({"metric": "cosine", "min": 0.99}, reference_outputs)
    g.score(outputs)        # the metric over every calibration sample (the worst sample counts)
    g.holds(outputs)        # score meets the target

Metrics compare the quantized model's float outputs with the fp32 model's, sample by sample:
  "cosine"   cosine similarity of all float outputs of a sample together; the score is the lowest over
             samples; target {"min": x}
  "max_abs"  the largest absolute difference anywhere; target {"max": x}
  callable   f(reference_outputs, outputs) -> float, higher is better (e.g. a task accuracy); target {"min": x}
where each *_outputs is a list (one per sample) of {output name: array}.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

Outputs = list[dict[str, np.ndarray]]


def _cosine(ref: Outputs, out: Outputs) -> float:
    worst = 1.0
    for r, o in zip(ref, out):
        names = [k for k in r if np.asarray(r[k]).dtype.kind == "f"]
        a = np.concatenate([np.asarray(r[k], np.float64).ravel() for k in names]) if names else np.zeros(0)
        b = np.concatenate([np.asarray(o[k], np.float64).ravel() for k in names]) if names else np.zeros(0)
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        c = 1.0 if na == 0 and nb == 0 else float(a @ b / (na * nb)) if na > 0 and nb > 0 else 0.0
        worst = min(worst, c if np.isfinite(c) else 0.0)
    return worst


def _max_abs(ref: Outputs, out: Outputs) -> float:
    worst = 0.0
    for r, o in zip(ref, out):
        for k in r:
            if np.asarray(r[k]).dtype.kind == "f":
                d = np.abs(np.asarray(r[k], np.float64) - np.asarray(o[k], np.float64))
                worst = max(worst, float(d.max()) if d.size else 0.0)
                if not np.all(np.isfinite(d)):
                    return float("inf")
    return worst


class Guard:
    def __init__(self, accuracy: Mapping[str, Any], reference: Outputs):
        if not isinstance(accuracy, Mapping):
            raise ValueError(f"accuracy must be a dict like {{'metric': 'cosine', 'min': 0.99}}, got {accuracy!r}")
        metric = accuracy.get("metric", "cosine")
        self.reference = reference
        self.fn: Callable[[Outputs, Outputs], float]
        if metric == "max_abs":
            if "max" not in accuracy:
                raise ValueError("accuracy with metric 'max_abs' needs a 'max' (the largest error allowed)")
            self.fn, self.higher, self.target, self.name = _max_abs, False, float(accuracy["max"]), "max_abs"
        elif metric == "cosine" or callable(metric):
            if "min" not in accuracy:
                raise ValueError(f"accuracy with metric {metric!r} needs a 'min' (the lowest score allowed)")
            self.fn = _cosine if metric == "cosine" else metric
            self.higher, self.target = True, float(accuracy["min"])
            self.name = "cosine" if metric == "cosine" else getattr(metric, "__name__", "custom")
        else:
            raise ValueError(f"accuracy['metric'] must be 'cosine', 'max_abs' or a callable, got {metric!r}")
        unknown = set(accuracy) - {"metric", "min", "max"}
        if unknown:
            raise ValueError(f"unknown accuracy keys {sorted(unknown)}; expected metric and min (or max)")
        self.perfect = self.score(reference)  # the fp32 model against itself

    def score(self, outputs: Outputs) -> float:
        return float(self.fn(self.reference, outputs))

    def holds(self, score: float) -> bool:
        return score >= self.target if self.higher else score <= self.target

    def error(self, score: float) -> float:
        """How much worse a score is than the fp32 model's own (0 for identical outputs)."""
        return self.perfect - score if self.higher else score - self.perfect
