"""IR nodes of the recurrent family: what SpikeGPT (RWKV with spiking activations) needs beyond the core node set."""

from __future__ import annotations
