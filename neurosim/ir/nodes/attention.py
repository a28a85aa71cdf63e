"""IR nodes of the attention family: what Meta-SpikeFormer / Spike-driven Transformer V2 needs beyond the core node set."""

from __future__ import annotations
