"""Graph-to-graph passes. ``quantize``: a float graph -> the fixed-point graph the hardware runs."""

from neurosim.passes.quantize import LayerReport, QuantizedGraph, best_shift, fold_avgpool, quantize

__all__ = ["LayerReport", "QuantizedGraph", "best_shift", "fold_avgpool", "quantize"]
