"""Quantization: r1.quantize (api.py), its layer policy (policy.py) and accuracy guard (guard.py)."""

from .api import LayerReport, QuantizationReport, quantize
from .sparsify import SparseLayer, SparsityReport, sparsify

__all__ = ["LayerReport", "QuantizationReport", "SparseLayer", "SparsityReport", "quantize", "sparsify"]
