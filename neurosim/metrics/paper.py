r"""Estimate level (a): the spiking-network papers' own energy method.

.. math::

    E = E_{MAC} \cdot FL_{MAC} + E_{AC} \cdot \sum_l SOP_l, \qquad SOP_l = fr_l \cdot T \cdot FLOPs_l

as in Spike-driven Transformer / Meta-SpikeFormer (Yao et al., NeurIPS 2023, ICLR 2024) and
E-3DSNN: ``FLOPs_l`` is layer ``l``'s dense MAC count per step (the textbook count, padding taps
included: :func:`neurosim.metrics.ops.OpCounter.flops`), ``fr_l`` the firing rate of its input
spikes (spikes per input element and step, a multi-spike count of 2 counting twice) and ``T``
the timesteps. ``FL_MAC`` is the papers' ``FL_first``: the MACs of every layer whose input is
not spikes -- normally only the first (encoding) layer, fed the image -- counted on each step
its input is real-valued (``mac_steps x FLOPs``), as a direct-coded image is fed every step.

Per-operation energies, 45 nm CMOS at 0.9 V: M. Horowitz, "1.1 Computing's energy problem (and
what we can do about it)", IEEE ISSCC 2014, pp. 10-14, Fig. 1.1.9: ``E_MAC = 4.6 pJ`` = a 32-bit
floating-point multiply (3.7 pJ) + add (0.9 pJ); ``E_AC = 0.9 pJ`` is a **32-bit floating-point
add** -- an integer accumulator is far cheaper (32-bit int add 0.1 pJ), so the method prices a
spike's accumulate as float arithmetic and charges no memory access at all (level (b) adds it).
"""

from __future__ import annotations

from dataclasses import dataclass

from neurosim.metrics.counts import Counts

#: Horowitz ISSCC 2014, Fig. 1.1.9 (45 nm, 0.9 V): 32-bit float multiply 3.7 pJ + add 0.9 pJ.
E_MAC_PJ = 4.6
#: Horowitz ISSCC 2014, Fig. 1.1.9 (45 nm, 0.9 V): a 32-bit floating-point add.
E_AC_PJ = 0.9
SOURCE = ("Horowitz, ISSCC 2014, Fig. 1.1.9 (45 nm, 0.9 V): E_MAC 4.6 pJ = 32-bit float multiply 3.7 pJ + add "
          "0.9 pJ; E_AC 0.9 pJ = a 32-bit float add (an int32 add is 0.1 pJ)")


@dataclass(frozen=True)
class PaperLayer:
    """One projection under level (a): ``fl_mac`` MACs, ``sop`` ACs, ``energy_pj`` (per sample)."""

    name: str
    flops: int
    firing_rate: float
    fl_mac: float
    sop: float
    energy_pj: float


@dataclass(frozen=True)
class PaperEstimate:
    layers: tuple[PaperLayer, ...]
    e_mac_pj: float
    e_ac_pj: float

    @property
    def fl_mac(self) -> float:
        return sum(layer.fl_mac for layer in self.layers)

    @property
    def sop(self) -> float:
        return sum(layer.sop for layer in self.layers)

    @property
    def energy_pj(self) -> float:
        return sum(layer.energy_pj for layer in self.layers)

    def as_dict(self) -> dict:
        return {"method": "E = E_MAC * FL_first + E_AC * sum(SOP), SOP = fr * T * FLOPs",
                "e_mac_pj": self.e_mac_pj, "e_ac_pj": self.e_ac_pj, "source": SOURCE,
                "note": "0.9 pJ is a 32-bit floating-point add; no memory access is charged",
                "fl_mac": self.fl_mac, "sop": self.sop, "energy_pj": self.energy_pj,
                "layers": {la.name: {"flops": la.flops, "firing_rate": la.firing_rate, "fl_mac": la.fl_mac,
                                     "sop": la.sop, "energy_pj": la.energy_pj} for la in self.layers}}


def paper_estimate(counts: Counts, *, e_mac_pj: float = E_MAC_PJ, e_ac_pj: float = E_AC_PJ) -> PaperEstimate:
    """Level (a) of ``counts`` (per sample)."""
    layers = []
    for p in counts.projections:
        fl_mac = p.mac_steps * p.flops
        layers.append(PaperLayer(name=p.name, flops=p.flops, firing_rate=p.firing_rate, fl_mac=fl_mac, sop=p.sop,
                                 energy_pj=e_mac_pj * fl_mac + e_ac_pj * p.sop))
    return PaperEstimate(layers=tuple(layers), e_mac_pj=e_mac_pj, e_ac_pj=e_ac_pj)
