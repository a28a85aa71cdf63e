"""Chip presets (data files with a cited source per constant) and the energy model.

>>> from neurosim.targets.neuromorphic import load_preset, energy_breakdown
>>> loihi = load_preset("loihi")
>>> energy_breakdown({"synaptic_op": 1000}, loihi, time_s=0.0).total_pj
23600.0
"""

from neurosim.targets.neuromorphic.config import ChipError, ChipPreset, Constant, PRESET_DIR, load_preset, preset_names, presets
from neurosim.targets.neuromorphic.energy import EnergyBreakdown, EnergyError, LatencyBreakdown, energy_breakdown, latency_breakdown
from neurosim.targets.neuromorphic.events import EVENT_DESCRIPTIONS, EVENT_INDEX, EVENTS

__all__ = [
    "EVENTS", "EVENT_INDEX", "EVENT_DESCRIPTIONS",
    "Constant", "ChipPreset", "ChipError", "PRESET_DIR", "load_preset", "presets", "preset_names",
    "EnergyBreakdown", "LatencyBreakdown", "EnergyError", "energy_breakdown", "latency_breakdown",
]
