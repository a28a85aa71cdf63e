r"""The configuration of one generated neuromorphic core: the parameters the RTL is built for.

A core holds ``neurons`` LIF/IF neurons fed by ``axons`` input lines through a dense synapse
matrix stored row by row (one row per axon, ``lanes`` weights per memory word). Structural
parameters (sizes, widths, lanes, leak/reset/spike rule) fix the hardware; weights and per-neuron
parameters are loaded at run time through the configuration port, so one build serves many
weight sets and traces.

The per-timestep behaviour is the engine's fixed-point core spec (``neurosim.targets.neuromorphic.model.kernel``):

* integrate: for each input event (axon ``a``), 1 cycle to accept it, then ``ceil(n/lanes)``
  cycles reading row ``a`` ``lanes`` weights at a time and adding them into the accumulators,
  where ``n`` is the row length: ``neurons`` with dense rows, the row's nonzero synapses with
  sparse (CSR) rows; one drain cycle after the last event (``integrate_pipeline_cycles = 1``)
  when there was one;
* fire: ``ceil(neurons/lanes)`` cycles, each updating ``lanes`` neurons
  (``v <- sat(v + acc + bias)``, compare, reset, ``v <- v - (v >> leak_shift)``), then one drain
  cycle (``fire_pipeline_cycles = 1``).

``reset_timing="delayed"`` (snnTorch's default) changes the update, not the cycles: the core
stores the un-reset leaked membrane ``v = L(v1)`` and each neuron's previous spike ``s'`` (one
bit per neuron: a ``chunks x lanes`` bit memory read and written beside the membranes in the same
fire cycle), and applies last step's reset at this step's integrate, with one saturation:

.. math::

    \text{subtract: } v_1 = \mathrm{sat}(v - \theta s' + acc + b), \qquad
    \text{zero: } v_1 = \mathrm{sat}((L(v_{reset}) \text{ if } s' \text{ else } v) + acc + b),

    s = \mathrm{fire}(v_1), \qquad v \leftarrow L(v_1), \qquad s' \leftarrow s

(``L(v) = v - (v >> leak_shift)``; the subtracted threshold is not leaked, as in snnTorch's
``beta * mem - reset * threshold``). With ``reset="none"`` the two timings are the same core.

Cycles in which the core waits (no input event offered yet, or the spike output full) are not
counted: the cycle count is a function of the event trace alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neurosim.errors import HDLError

EVENT_OVERHEAD_CYCLES = 1
INTEGRATE_PIPELINE_CYCLES = 1
FIRE_PIPELINE_CYCLES = 1


@dataclass(frozen=True)
class CoreConfig:
    neurons: int
    axons: int
    lanes: int = 4
    weight_bits: int = 8
    membrane_bits: int = 16
    acc_bits: int = 24
    leak_shift: int = 0  # 0 = no leak
    reset: str = "subtract"  # "subtract" | "zero" | "none"
    reset_timing: str = "immediate"  # "immediate" | "delayed" (snnTorch's: last step's spike resets now)
    spike_rule: str = "gt"  # "gt" | "ge"
    storage: str = "dense"  # "dense" rows, or "sparse" (CSR) rows of (neuron, weight) entries
    sparse_words: int = 0  # sparse: capacity of the row memory in words of `lanes` entries (0: axons * chunks)

    def __post_init__(self) -> None:
        def bad(field, value, want):
            raise HDLError(f"CoreConfig.{field} must be {want}, found {value!r}")

        # widths follow the engine's formats: FixedPoint (signed, 2..62 bits) for weights and membranes,
        # NeuronFixedPoint.acc_width (state width..62) for the accumulator
        for field, lo, hi in (("neurons", 1, 4096), ("axons", 1, 4096), ("lanes", 1, 64), ("weight_bits", 2, 62),
                              ("membrane_bits", 2, 62)):
            v = getattr(self, field)
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                bad(field, v, f"an int in {lo}..{hi}")
        if (not isinstance(self.acc_bits, int) or isinstance(self.acc_bits, bool)
                or not self.membrane_bits <= self.acc_bits <= 62):
            # the engine's rule (NeuronFixedPoint.acc_width in state width..62): a build outside it
            # could never be verified against the engine
            bad("acc_bits", self.acc_bits, f"an int in {self.membrane_bits}..62 (at least membrane_bits, as the "
                                           f"engine's accumulator)")
        if (not isinstance(self.leak_shift, int) or isinstance(self.leak_shift, bool)
                or not 0 <= self.leak_shift < self.membrane_bits):
            # the engine's leak="shift" takes 1..width-1; 0 is leak="none"
            bad("leak_shift", self.leak_shift, f"an int in 0..{self.membrane_bits - 1} (0 = no leak)")
        if self.reset not in ("subtract", "zero", "none"):
            bad("reset", self.reset, "'subtract', 'zero' or 'none'")
        if self.reset_timing not in ("immediate", "delayed"):
            bad("reset_timing", self.reset_timing, "'immediate' or 'delayed'")
        if self.spike_rule not in ("gt", "ge"):
            bad("spike_rule", self.spike_rule, "'gt' or 'ge' (multi-spike needs a divider the core does not have)")
        if self.storage not in ("dense", "sparse"):
            bad("storage", self.storage, "'dense' or 'sparse'")
        if not isinstance(self.sparse_words, int) or isinstance(self.sparse_words, bool) or self.sparse_words < 0:
            bad("sparse_words", self.sparse_words, "an int >= 0 (0 = axons x chunks)")
        if self.storage == "sparse" and self.neurons > 256:
            bad("neurons", self.neurons, "at most 256 with sparse rows (their accumulators are registers)")

    @property
    def stores_prev_spike(self) -> bool:
        """Whether the core keeps each neuron's previous spike (a delayed subtract or zero reset)."""
        return self.reset_timing == "delayed" and self.reset != "none"

    @property
    def state_bits(self) -> int:
        """Bits of per-neuron state memory: the membrane words, plus one previous-spike bit per
        lane and chunk for a delayed reset (``chunks * lanes`` bits more)."""
        per_lane = self.membrane_bits + (1 if self.stores_prev_spike else 0)
        return self.chunks * self.lanes * per_lane

    @property
    def chunks(self) -> int:
        """Memory words per row: ``ceil(neurons / lanes)``."""
        return math.ceil(self.neurons / self.lanes)

    @property
    def row_words(self) -> int:
        """Sparse: words of the row memory (``sparse_words``, or room for a dense matrix)."""
        return self.sparse_words or self.axons * self.chunks

    @property
    def v_min(self) -> int:
        return -(1 << (self.membrane_bits - 1))

    @property
    def v_max(self) -> int:
        return (1 << (self.membrane_bits - 1)) - 1

    def step_cycles(self, events: int) -> int:
        """Cycles of one timestep with ``events`` input events (the core spec above)."""
        integrate = events * (EVENT_OVERHEAD_CYCLES + self.chunks) + (INTEGRATE_PIPELINE_CYCLES if events else 0)
        return integrate + self.chunks + FIRE_PIPELINE_CYCLES

    def name(self) -> str:
        return (f"core_n{self.neurons}_a{self.axons}_p{self.lanes}_w{self.weight_bits}_v{self.membrane_bits}"
                f"_acc{self.acc_bits}_k{self.leak_shift}_{self.reset}_{self.spike_rule}"
                + ("_delayed" if self.reset_timing == "delayed" else ""))


@dataclass(frozen=True)
class CoreProgram:
    """What is loaded into a core: integer codes, shapes ``weights[axons, neurons]``, others ``[neurons]``."""

    weights: np.ndarray
    bias: np.ndarray
    threshold: np.ndarray
    v_reset: np.ndarray

    def check(self, cfg: CoreConfig) -> None:
        """Raise :class:`HDLError` unless every code has its shape and fits its width in ``cfg``:
        weights signed ``weight_bits`` codes, bias/threshold/v_reset signed ``membrane_bits`` codes
        (the engine's ``representable`` rule for the same formats)."""
        for field, shape, bits, width in (("weights", (cfg.axons, cfg.neurons), cfg.weight_bits, "weight_bits"),
                                          ("bias", (cfg.neurons,), cfg.membrane_bits, "membrane_bits"),
                                          ("threshold", (cfg.neurons,), cfg.membrane_bits, "membrane_bits"),
                                          ("v_reset", (cfg.neurons,), cfg.membrane_bits, "membrane_bits")):
            values = np.asarray(getattr(self, field))
            if values.shape != shape:
                raise HDLError(f"CoreProgram.{field} must have shape {shape!r} for this CoreConfig, "
                               f"found {values.shape!r}")
            if values.size and not np.issubdtype(values.dtype, np.integer):
                raise HDLError(f"CoreProgram.{field} must hold integer codes, found dtype {str(values.dtype)!r}; "
                               f"quantize first")
            lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
            off = np.argwhere((values < lo) | (values > hi))
            if off.size:
                index = tuple(int(i) for i in off[0])
                raise HDLError(f"CoreProgram.{field}[{', '.join(map(str, index))}] must fit {width} = {bits} "
                               f"(a code in {lo}..{hi}), found {int(values[index])!r}; widen {width} or requantize")
