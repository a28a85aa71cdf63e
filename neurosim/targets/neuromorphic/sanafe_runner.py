"""Run a neurosim network in SANA-FE (used by ``neurosim bench sanafe --sanafe-python``).

SANA-FE (SLAM-Lab/SANA-FE, PyPI ``sanafe``, GPL-3.0) is never imported by neurosim: this file is
two halves. The **writer** (:func:`write_network`, run by neurosim) turns a compiled network, its
input raster and a :class:`~neurosim.targets.neuromorphic.partition.Mapping` into SANA-FE's YAML
network description (``network: {groups, edges}`` + ``mappings``, the format of SANA-FE's
``sanafe/examples/example_snn.yaml``); the **runner** (:func:`main`, run by another interpreter that
has ``sanafe``) simulates it on SANA-FE's Loihi architecture and writes per-step results as JSON::

    python sanafe_runner.py NETWORK.yaml OUT.json STEPS [ARCH.yaml]

The architecture is the wheel's own ``sanafe/examples/loihi.yaml`` (or ARCH), unchanged but for
one **host core** (tile 0, core 0) that holds the input neurons and generates their messages at
zero cost: neurosim's host inputs enter the mesh at router (0, 0) and generate no ``packet_out``.

Same dynamics in both tools (SANA-FE ``leaky_integrate_fire``, ``models.cpp``): per step
``v <- trunc_64(decay v) + bias + I``, spike when ``v > threshold``, soft reset ``v -= threshold``
(or hard ``v = reset``), with ``I`` the synaptic input of messages sent the step before
(SANA-FE processes a step's messages into the next step's buffer: every neurosim edge must have
delay 1). ``trunc_64`` is SANA-FE's truncation of the potential to multiples of 1/64; weights,
thresholds, biases and resets are written scaled by ``scale`` (default 2**16) so that it is below
one part in 2**22 of the threshold and cannot change a spike except at exact ties.
"""

from __future__ import annotations

import copy
import json
import sys

import numpy as np

#: The synapse unit of SANA-FE's Loihi architecture the writer maps every connection to (the
#: loihi-sanafe preset prices its synaptic_op with this unit's constants).
SYNAPSE_HW = "loihi_sparse_synapse"
SOMA_HW = "loihi_lif"
HOST_CORE = "0.0"  # tile 0, core 0: the input neurons


def sanafe_core(xy, core: int, cores_per_tile: int, mesh_y: int) -> str:
    """SANA-FE's ``tile.core`` address of a neurosim core at router ``xy``: SANA-FE numbers tiles
    column-major (``arch.cpp``: ``x = tile / height``, ``y = tile % height``)."""
    x, y = int(xy[0]), int(xy[1])
    return f"{x * mesh_y + y}.{int(core) % cores_per_tile}"


def _group_names(net) -> list[str]:
    return [f"p{i}" for i in range(len(net.populations))]


def write_network(net, mapping, inputs, path, *, core_ids=None, scale: float = 2.0 ** 16) -> dict:
    """Write ``net`` (a float :class:`~neurosim.targets.neuromorphic.model.compile.CompiledNetwork`
    of LIF populations), its input raster ``[T, n_inputs]`` (0/1) and ``mapping`` as SANA-FE's
    network YAML to ``path``; returns the group names (SANA-FE group -> neurosim population).
    ``core_ids``: the physical core (0-based, ``cores_per_tile`` per tile) of every mapped core
    (default ``mapping.host``); core 0 of tile 0 is the host core of the inputs and must stay free.

    Raises :class:`~neurosim.errors.SimulationError` for what SANA-FE's LIF cannot express (CubaLIF,
    gain != 1, refractory, other spike rules, delays other than 1, non-binary inputs)."""
    from neurosim.errors import SimulationError

    x = np.asarray(inputs)
    if x.ndim != 2 or x.shape[1] != net.n_inputs:
        raise SimulationError(f"inputs must be [T, {net.n_inputs}] (one column per input neuron), found shape {x.shape!r}")
    if not np.isin(x, (0.0, 1.0)).all():
        raise SimulationError("SANA-FE input neurons spike or not: the input raster must hold only 0 and 1; "
                              "binarize the input")
    if net.n_inputs > 1024:
        raise SimulationError(f"the host core holds at most 1024 input neurons, found {net.n_inputs!r}; use fewer inputs")
    lo, hi = net.n_inputs, net.n_total
    # gain is per neuron; the codes (model.compile._parameters) are per population
    for field, ok, why, sl in (("is_cuba", 0, "CubaLIF", slice(None)), ("gain", 1.0, "gain != 1", slice(lo, hi)),
                               ("refractory", 0, "refractory steps", slice(None)),
                               ("current_lag", 0, "current lag", slice(None)), ("rule", 0, "spike rule but 'gt'", slice(None)),
                               ("timing", 0, "delayed reset", slice(None))):
        vals = np.asarray(getattr(net, field))[sl]
        if not np.all(vals == ok):
            raise SimulationError(f"field {field!r} = {vals[vals != ok][0]!r}: SANA-FE's LIF has no {why}; "
                                  f"use plain LIF populations")
    syn = net.synapse_list()
    if syn.delay.size and not np.all(syn.delay == 1):
        bad = int(syn.delay[syn.delay != 1][0])
        raise SimulationError(f"a synapse has delay {bad!r}: SANA-FE delivers every message one step later; "
                              f"build the network with delay=1 on every projection")
    names = _group_names(net)
    pop_of = np.searchsorted(np.asarray(net.pop_offset), np.arange(net.n_total), side="right") - 1

    def ref(n: int) -> str:
        if n < net.n_inputs:
            return f"in.{n}"
        p = int(pop_of[n])
        return f"{names[p]}.{n - int(net.pop_offset[p])}"

    reset_kind = np.asarray(net.reset)
    lines = ["network:", "  name: neurosim", "  groups:", "    - name: in", "      attributes: [log_spikes: false]",
             "      neurons:"]
    for j in range(net.n_inputs):
        lines.append(f"        - {j}: [spikes: [{', '.join(str(int(v)) for v in x[:, j])}]]")
    for p, name in enumerate(names):
        a, b = int(net.pop_offset[p]), int(net.pop_offset[p + 1])
        thr, decay = float(net.threshold[a]), float(net.decay[a])
        bias = (np.asarray(net.bias)[a:b] + np.asarray(net.const_in)[a:b]) * scale
        if not (np.all(net.threshold[a:b] == thr) and np.all(net.decay[a:b] == decay)):
            raise SimulationError(f"population {net.populations[p]!r} has per-neuron thresholds or decays; "
                                  f"the writer needs them uniform per population")
        code = int(reset_kind[p])  # model.compile.RESET_CODES: zero 0, subtract 1, none 2
        mode = {0: "hard", 1: "soft", 2: "none"}[code]
        soma = (f"threshold: {thr * scale!r}, leak_decay: {decay!r}, input_decay: 0.0, reset_mode: {mode}, "
                f"reset: {float(net.v_reset[a]) * scale!r}")
        lines += [f"    - name: {name}", f"      attributes: [log_spikes: true, soma: {{{soma}}}]", "      neurons:"]
        if np.all(bias == bias[0]):
            lines.append(f"        - 0..{b - a - 1}: [soma: {{bias: {float(bias[0])!r}}}]")
        else:
            lines += [f"        - {i}: [soma: {{bias: {float(v)!r}}}]" for i, v in enumerate(bias)]
    lines.append("  edges:")
    src = np.repeat(np.arange(net.n_total), np.diff(syn.ptr))
    for s, t, w in zip(src.tolist(), syn.target.tolist(), (syn.weight * scale).tolist()):
        lines.append(f"    - {ref(s)} -> {ref(t)}: [weight: {w!r}]")
    lines.append("mappings:")
    for j in range(net.n_inputs):
        lines.append(f'  - in.{j}: [core: {HOST_CORE}, soma: "loihi_inputs[{j}]"]')
    chip = mapping.chip
    ids = np.asarray(mapping.host if core_ids is None else core_ids, dtype=np.int64)
    for c, (a, b) in enumerate(np.asarray(mapping.core_range).tolist()):
        core = sanafe_core(mapping.core_xy[c], int(ids[c]), chip.cores_per_tile, chip.mesh_y)
        if core == HOST_CORE:
            raise SimulationError(f"mapped core {c} sits on SANA-FE core {HOST_CORE}, the host core of the inputs; "
                                  f"leave physical core 0 free (start the mapping at core 1)")
        p = int(pop_of[a])
        off = a - int(net.pop_offset[p])
        lines.append(f"  - {names[p]}.{off}..{off + b - a - 1}: [core: {core}, soma: {SOMA_HW}, synapse: {SYNAPSE_HW}]")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return {"groups": dict(zip(names, net.populations)), "scale": scale}


# -- the runner (SANA-FE's interpreter) --------------------------------------------------------------

def host_arch(arch: dict) -> dict:
    """SANA-FE's architecture dict with core 0 of tile 0 turned into the zero-cost host core: its
    ``axon_out`` generates messages with ``energy_message_out = latency_message_out = 0``."""
    arch = copy.deepcopy(arch)
    tiles = arch["architecture"]["tile"]
    first = tiles[0]
    name = first["name"]
    base, rng = name.split("[")
    lo, hi = (int(v) for v in rng.rstrip("]").split(".."))
    tile0 = copy.deepcopy(first)
    tile0["name"] = f"{base}[{lo}]"
    core = tile0["core"][0]
    cbase, crng = core["name"].split("[")
    clo, chi = (int(v) for v in crng.rstrip("]").split(".."))
    host = copy.deepcopy(core)
    host["name"] = f"{cbase}[{clo}]"
    for unit in host["axon_out"]:
        unit["attributes"]["energy_message_out"] = 0.0
        unit["attributes"]["latency_message_out"] = 0.0
    rest = copy.deepcopy(core)
    rest["name"] = f"{cbase}[{clo + 1}..{chi}]"
    tile0["core"] = [host, rest] + tile0["core"][1:]
    others = copy.deepcopy(first)
    others["name"] = f"{base}[{lo + 1}..{hi}]"
    arch["architecture"]["tile"] = [tile0, others] + tiles[1:]
    return arch


def main(argv) -> int:
    import os
    import tempfile
    from importlib.resources import files

    import sanafe
    import yaml

    net_path, out_path, steps = argv[1], argv[2], int(argv[3])
    arch_path = argv[4] if len(argv) > 4 else str(files("sanafe.examples").joinpath("loihi.yaml"))
    with open(arch_path) as fh:
        arch_doc = yaml.safe_load(fh)
    fd, derived = tempfile.mkstemp(suffix=".yaml", prefix="neurosim_sanafe_arch_")
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(host_arch(arch_doc), fh, sort_keys=False)
    try:
        arch = sanafe.load_arch(derived)
        net = sanafe.load_net(net_path, arch)
        chip = sanafe.SpikingChip(arch)
        chip.load(net)
        res = chip.sim(steps, spike_trace=True, perf_trace=True, processing_threads=1)
    finally:
        os.unlink(derived)
    spikes: dict[str, list[int]] = {}
    for t, fired in enumerate(res["spike_trace"]):
        for addr in fired:
            row = spikes.setdefault(addr.group_name, [0] * steps)
            row[t] += 1
    perf = {k: [float(v) for v in vals] for k, vals in res["perf_trace"].items()}
    from importlib.metadata import version

    out = {"sanafe_version": version("sanafe"), "arch": arch_path, "perf": perf, "spikes": spikes,
           "packets_sent": int(res.get("packets_sent", 0)), "energy": res["energy"], "sim_time": res["sim_time"],
           "neurons_updated": int(res.get("neurons_updated", 0)), "neurons_fired": int(res.get("neurons_fired", 0))}
    with open(out_path, "w") as fh:
        json.dump(out, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
