"""Quantization: r1.quantize (api.py), its layer policy (policy.py) and accuracy guard (guard.py)."""

from .api import LayerReport, QuantizationReport, quantize

__all__ = ["LayerReport", "QuantizationReport", "quantize"]
