r"""A chip's neuron arithmetic (the ``[arithmetic]`` table of a preset) and what quantizing to it changes.

Schema. The table is one sub-table per value, each a sourced constant like every other preset
entry (``value``, ``unit``, ``source``, optional ``note``; ``value = "unknown"`` or ``"none"`` load as
None)::

    [arithmetic.leak]              # membrane leak: "shift" | "mult" | "linear"     (required)
    value = "mult"
    source = "Davies et al., IEEE Micro 38(1) 2018, Neuron Model; ..."

    [arithmetic.leak_bits]         # mult: k of d/2**k; linear: magnitude bits of lambda; shift: "none"
    value = 12
    unit = "bits"
    source = "..."

    [arithmetic.syn_leak]          # the synaptic current's leak, same choices; "none": no current state
    [arithmetic.syn_leak_bits]     # as leak_bits, for the current                   (unit "bits")
    [arithmetic.input_shift_min]   # left shifts the chip applies to the synaptic sum (a weight
    [arithmetic.input_shift_max]   #   exponent; Loihi act_shift 6 + weight exponent)  (unit "bits", required)
    [arithmetic.current_bits]      # the current's width where published            (unit "bits")
    [arithmetic.rounding]          # how the chip rounds the leak: "floor" (shift), "zero" (mult),
                                   #   "exact" (linear); must match the leak          (required)

Keys may not be omitted except ``syn_leak``, ``syn_leak_bits`` and ``current_bits`` (which then load
as None); a preset with no ``[arithmetic]`` table at all gets :func:`default_arithmetic` (the
historic shift leak, input shift 0), so user presets keep loading. The membrane width and the
weight mantissa width stay the preset's ``membrane_bits`` and ``weight_bits``.

Dynamics (see :mod:`neurosim.ir.nodes.neurons`): with the stored membrane :math:`v`, the leak
applied at the end of a step is

.. math::

    \text{shift: } v - \lfloor v/2^k \rfloor,\qquad
    \text{mult: } \mathrm{sign}(vd)\lfloor |vd| / 2^k \rfloor,\qquad
    \text{linear: } v - \mathrm{sign}(v)\min(|v|, \lambda)

and the synaptic input is added as ``acc << input_shift``.

:func:`quantization_effect` runs a float graph and its quantized form on the same input and
counts, per spiking population, what changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurosim.errors import ChipError, FixedPointError
from neurosim.passes.quantize import ARITH_LEAKS, LEAK_ROUNDING, Arithmetic

#: key -> (kind, unit, required, choices) of the ``[arithmetic]`` table
SCHEMA: dict[str, tuple[str, str, bool, tuple[str, ...]]] = {
    "leak": ("choice", "", True, ARITH_LEAKS[:3]),
    "leak_bits": ("int", "bits", True, ()),
    "syn_leak": ("choice", "", False, ARITH_LEAKS[:3]),
    "syn_leak_bits": ("int", "bits", False, ()),
    "input_shift_min": ("int0", "bits", True, ()),
    "input_shift_max": ("int0", "bits", True, ()),
    "current_bits": ("int", "bits", False, ()),
    "rounding": ("choice", "", True, tuple(sorted(set(LEAK_ROUNDING.values())))),
}


@dataclass(frozen=True)
class ChipArithmetic(Arithmetic):
    """A preset's :class:`~neurosim.passes.quantize.Arithmetic` with the source of every value
    (``sources[key]``, ``notes[key]``; keys of :data:`SCHEMA`). Pass it to the quantize pass as
    ``quantize(graph, ..., arithmetic=chip.arithmetic)``."""

    sources: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in SCHEMA:
            src = self.sources.get(key)
            if not isinstance(src, str) or not src.strip():
                raise ChipError(f"ChipArithmetic.{key} has no source, found {src!r}; add the paper and table or "
                                f"'estimate: <how derived>'")
        object.__setattr__(self, "sources", dict(self.sources))
        object.__setattr__(self, "notes", dict(self.notes))

    def __hash__(self) -> int:
        return hash((self.leak, self.leak_bits, self.syn_leak, self.syn_leak_bits, self.input_shift_min,
                     self.input_shift_max, self.current_bits, self.rounding))

    def constants(self) -> dict[str, Any]:
        """Every value as a :class:`~neurosim.targets.neuromorphic.config.Constant`, keyed ``arithmetic.<key>``."""
        from neurosim.targets.neuromorphic.config import Constant

        return {f"arithmetic.{k}": Constant(getattr(self, k), SCHEMA[k][1], self.sources[k], self.notes.get(k, ""))
                for k in SCHEMA}


def default_arithmetic() -> ChipArithmetic:
    """The arithmetic of a preset without an ``[arithmetic]`` table: neurosim's historic shift leak."""
    src = "estimate: the preset has no [arithmetic] table; neurosim's historic shift leak, no input shift"
    return ChipArithmetic(leak="shift", leak_bits=None, syn_leak=None, input_shift_min=0, input_shift_max=0,
                          rounding="floor", sources={k: src for k in SCHEMA})


def parse_arithmetic(where: str, table: Any) -> ChipArithmetic:
    """The ``[arithmetic]`` table of the preset file ``where`` as a :class:`ChipArithmetic` (ChipError if invalid)."""
    from neurosim.targets.neuromorphic.config import Constant

    if table is None:
        return default_arithmetic()
    if not isinstance(table, dict):
        raise ChipError(f"{where}: [arithmetic] must be a table of constants, found {table!r}")
    unknown = sorted(set(table) - set(SCHEMA))
    if unknown:
        raise ChipError(f"{where}: [arithmetic] key {unknown[0]!r} is not part of the schema; expected "
                        f"{list(SCHEMA)!r}")
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    notes: dict[str, str] = {}
    for key, (kind, unit, required, choices) in SCHEMA.items():
        entry = table.get(key)
        if entry is None and not required:
            values[key] = None
            sources[key] = "not declared in the preset"
            continue
        const = Constant.from_table(where, f"arithmetic.{key}", entry, unit=unit, kind=kind, choices=choices,
                                    must_know=required and key != "leak_bits")
        if kind == "choice" and const.value is not None and const.value not in choices:
            raise ChipError(f"{where}: [arithmetic.{key}] must be one of {choices!r}, found {const.value!r}")
        values[key] = const.value
        sources[key] = const.source
        if const.note:
            notes[key] = const.note
    try:
        return ChipArithmetic(**values, sources=sources, notes=notes)
    except FixedPointError as exc:
        raise ChipError(f"{where}: [arithmetic]: {exc}") from None


def quantization_effect(float_graph, fixed_graph, inputs, *, chip=None, fixed_spikes=None) -> dict:
    """What quantization changed: per spiking population of ``fixed_graph`` (that ``float_graph``
    has too), the spike counts of the float and the fixed run on the same ``inputs`` (``[T, *shape]``)
    and the neurons whose spike count over the run differs.

    Returns ``{"layers": {name: {neurons, float_spikes, fixed_spikes, neurons_changed,
    changed_fraction}}, "total": {the same summed, spike_ratio = fixed / float}}``.

    ``chip=None`` runs both graphs in the reference simulator
    (:func:`neurosim.targets.neuromorphic.model.reference.run`, modes ``float`` and ``fixed``): no
    mapping, fine up to ~10^5 synaptic events per step. With a chip (a ChipPreset) both run in the
    engine (:func:`neurosim.targets.neuromorphic.model.simulate.simulate`), which is bit-identical
    to the reference and much faster at scale, but maps the graph onto that chip first. The float
    run is only a reference for the spike counts, so its mapping may exceed the chip's limits
    (``allow_overcapacity``: weights that quantize to zero can make the fixed graph fit where the
    float one does not). ``fixed_spikes``: the fixed run's spikes per population when the caller
    already has them (an estimate's own run), so the fixed graph is not run twice.
    """
    x = np.asarray(inputs)
    if chip is None:
        from neurosim.targets.neuromorphic.model.reference import run

        fl_out = run(float_graph, x, mode="float").outputs
        fx_out = run(fixed_graph, x, mode="fixed").outputs
    else:
        from neurosim.targets.neuromorphic.model.compile import compile_graph
        from neurosim.targets.neuromorphic.model.simulate import simulate
        from neurosim.targets.neuromorphic.partition import partition

        net = compile_graph(float_graph, "float")
        placed = partition(net, chip, allow_overcapacity=True)
        fl_out = simulate(float_graph, chip, x, mode="float", net=net, mapping=placed).spikes
        fx_out = fixed_spikes if fixed_spikes is not None else simulate(fixed_graph, chip, x, mode="fixed").spikes
    layers = {}
    for p in fixed_graph.spiking_populations():
        if p not in fl_out or p not in fx_out or p not in float_graph.nodes:
            continue
        steps = x.shape[0]
        fl = np.asarray(fl_out[p]).reshape(steps, -1).sum(axis=0)
        fx = np.asarray(fx_out[p]).reshape(steps, -1).sum(axis=0)
        changed = int(np.count_nonzero(fl != fx))
        layers[p] = {"neurons": int(fl.size), "float_spikes": int(fl.sum()), "fixed_spikes": int(fx.sum()),
                     "neurons_changed": changed, "changed_fraction": changed / max(1, fl.size)}
    n = sum(r["neurons"] for r in layers.values())
    fl_total = sum(r["float_spikes"] for r in layers.values())
    fx_total = sum(r["fixed_spikes"] for r in layers.values())
    changed = sum(r["neurons_changed"] for r in layers.values())
    total = {"neurons": n, "float_spikes": fl_total, "fixed_spikes": fx_total, "neurons_changed": changed,
             "changed_fraction": changed / max(1, n),
             "spike_ratio": (fx_total / fl_total) if fl_total else None}
    return {"layers": layers, "total": total}
