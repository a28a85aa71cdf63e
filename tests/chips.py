"""A small synthetic chip for engine tests (the real presets live in neurosim/targets/neuromorphic/presets)."""

from types import SimpleNamespace


def tiny_chip(**overrides):
    base = dict(
        name="tiny", neurons_per_core=8, axons_per_core=64, synapse_memory_bytes=1 << 20, max_fanout_cores=None,
        weight_bits=8, membrane_bits=16, lanes=4, synapse_storage="sparse", integrate_pipeline_cycles=3,
        fire_pipeline_cycles=2, event_overhead_cycles=1, mesh_x=4, mesh_y=4, cores_per_chip=16, cores_per_tile=1,
        max_chips=4, board_x=2, board_y=2, clock_hz=1e8, timing="cycles", hop_latency_cycles=1, barrier_cycles=10,
        latency_ns={}, energy_pj={}, timestep_s=None,
    )
    base.update(overrides)
    return SimpleNamespace(**base)
