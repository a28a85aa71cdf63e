r"""Estimate level (b): level (a) plus the data movement on a stated memory hierarchy.

The critique of the papers' method (e.g. Dampfhoffer et al., "Are SNNs really more energy-
efficient than ANNs? An in-depth hardware-aware study", IEEE TETCI 2023; Lemaire et al., "An
analytical estimation of spiking neural networks energy efficiency", ICONIP 2022) is that it
prices arithmetic only, while moving weights and membranes costs more. Level (b) adds, per
sample, with every access priced by the level that holds the data (``memory.toml``):

* **weights**: every operation of level (a) (``FL_MAC + SOP``) reads its weight once
  (``weight_bits``; no reuse in registers -- an event-driven core reads a synapse row per event);
* **membranes**: every operation reads and writes its target's accumulator (``membrane_bits``),
  and every neuron is read and written once per step to leak and fire;
* **activations**: each step every population writes its output (``spike_bits`` per spiking
  neuron, ``membrane_bits`` per non-spiking one) and every projection reads its input
  (``spike_bits`` per element on binary steps, ``input_bits`` on real-valued ones).

Placement: weights, membranes and one step's activations each sit in the smallest level whose
capacity holds all of that kind (so a large model's weights go to DRAM). An access of ``b`` bits
costs ``pj_per_64bit * b / 64``. These rules are the model; change them in a copy of
``memory.toml`` (``--memory FILE``) rather than in code.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from neurosim.errors import EnergyError
from neurosim.metrics.counts import Counts
from neurosim.metrics.paper import PaperEstimate

DEFAULT_FILE = Path(__file__).with_name("memory.toml")
_LEVEL_KEYS = {"name", "capacity_bytes", "pj_per_64bit", "source"}
_PRECISION_KEYS = ("weight_bits", "membrane_bits", "spike_bits", "input_bits")


@dataclass(frozen=True)
class MemoryLevel:
    name: str
    capacity_bytes: float
    pj_per_64bit: float
    source: str

    def pj(self, bits: float) -> float:
        """Energy of one access of ``bits`` bits."""
        return self.pj_per_64bit * bits / 64.0


@dataclass(frozen=True)
class MemoryModel:
    """A memory hierarchy (levels from small to large) and the stored precisions."""

    levels: tuple[MemoryLevel, ...]
    weight_bits: int
    membrane_bits: int
    spike_bits: int
    input_bits: int
    path: str

    def level_for(self, nbytes: float) -> MemoryLevel:
        """The smallest level that holds ``nbytes``."""
        for lv in self.levels:
            if nbytes <= lv.capacity_bytes:
                return lv
        raise EnergyError(f"memory file {self.path!r}: no level holds {nbytes:.4g} bytes; give the last level "
                          f"capacity_bytes = inf")


def _fail(path, what: str, value, fix: str) -> EnergyError:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return EnergyError(f"memory file {str(path)!r}: {what} is {text}; {fix}")


def load_memory(path=None) -> MemoryModel:
    """Read and check a memory-hierarchy TOML file (default: the bundled ``memory.toml``)."""
    p = Path(DEFAULT_FILE if path is None else path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise EnergyError(f"cannot read memory file {str(p)!r}: {exc}; give a UTF-8 TOML file like "
                          f"neurosim/metrics/memory.toml") from None
    unknown = set(doc) - {"level", "precision"}
    if unknown:
        raise _fail(p, "an unknown table", sorted(unknown)[0], "use only [[level]] and [precision]")
    raw = doc.get("level")
    if not isinstance(raw, list) or not raw:
        raise _fail(p, "[[level]]", raw, "give at least one [[level]] table")
    levels = []
    for i, lv in enumerate(raw):
        where = f"level {i + 1}"
        if not isinstance(lv, dict) or set(lv) != _LEVEL_KEYS:
            got = sorted(lv) if isinstance(lv, dict) else lv
            raise _fail(p, f"{where} keys", got, f"give exactly {sorted(_LEVEL_KEYS)!r}")
        for key in ("capacity_bytes", "pj_per_64bit"):
            v = lv[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v) or v <= 0 or (
                    key == "pj_per_64bit" and not math.isfinite(v)) or (key == "pj_per_64bit" and v > 1e6):
                raise _fail(p, f"{where} {key}", v, "give a positive number (pJ at most 1e6; capacity may be inf)")
        for key in ("name", "source"):
            if not isinstance(lv[key], str) or not lv[key].strip():
                raise _fail(p, f"{where} {key}", lv[key], "give a non-empty string (cite the source of the energy)")
        levels.append(MemoryLevel(lv["name"], float(lv["capacity_bytes"]), float(lv["pj_per_64bit"]), lv["source"]))
    caps = [lv.capacity_bytes for lv in levels]
    if caps != sorted(caps) or len(set(caps)) != len(caps):
        raise _fail(p, "the level capacities", caps, "list the levels from the smallest to the largest")
    if math.isfinite(caps[-1]):
        raise _fail(p, "the last level's capacity_bytes", caps[-1], "make the last level hold anything (inf)")
    prec = doc.get("precision")
    if not isinstance(prec, dict) or set(prec) != set(_PRECISION_KEYS):
        got = sorted(prec) if isinstance(prec, dict) else prec
        raise _fail(p, "[precision] keys", got, f"give exactly {list(_PRECISION_KEYS)!r}")
    for key in _PRECISION_KEYS:
        v = prec[key]
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 64:
            raise _fail(p, f"precision.{key}", v, "give an integer number of bits in 1..64")
    return MemoryModel(levels=tuple(levels), path=str(p), **{k: prec[k] for k in _PRECISION_KEYS})


@dataclass(frozen=True)
class MemoryLayer:
    """One layer under level (b): its level-(a) energy and the traffic energies (pJ per sample)."""

    name: str
    compute_pj: float
    weight_pj: float
    membrane_pj: float
    activation_pj: float

    @property
    def energy_pj(self) -> float:
        return self.compute_pj + self.weight_pj + self.membrane_pj + self.activation_pj


@dataclass(frozen=True)
class MemoryEstimate:
    layers: tuple[MemoryLayer, ...]
    placement: dict[str, str]
    model: MemoryModel

    @property
    def energy_pj(self) -> float:
        return sum(la.energy_pj for la in self.layers)

    def total(self, part: str) -> float:
        return sum(getattr(la, part) for la in self.layers)

    def as_dict(self) -> dict:
        m = self.model
        return {"method": "level (a) + weight, membrane and activation traffic (neurosim.metrics.memory)",
                "memory_file": m.path, "placement": self.placement,
                "levels": [{"name": lv.name, "capacity_bytes": lv.capacity_bytes, "pj_per_64bit": lv.pj_per_64bit,
                            "source": lv.source} for lv in m.levels],
                "precision": {k: getattr(m, k) for k in _PRECISION_KEYS},
                "energy_pj": self.energy_pj,
                **{f"{part}_pj": self.total(f"{part}_pj") for part in ("compute", "weight", "membrane", "activation")},
                "layers": {la.name: {"compute_pj": la.compute_pj, "weight_pj": la.weight_pj,
                                     "membrane_pj": la.membrane_pj, "activation_pj": la.activation_pj,
                                     "energy_pj": la.energy_pj} for la in self.layers}}


def memory_estimate(counts: Counts, paper: PaperEstimate, model: MemoryModel | None = None) -> MemoryEstimate:
    """Level (b) of ``counts`` on ``model`` (default: the bundled hierarchy), per sample."""
    m = load_memory() if model is None else model
    weight_bytes = sum(p.params for p in counts.projections) * m.weight_bits / 8
    membrane_bytes = sum(p.neurons for p in counts.populations) * m.membrane_bits / 8
    act_bits = sum(p.neurons * (m.spike_bits if p.spiking else m.membrane_bits) for p in counts.populations)
    act_bits += sum(p.in_elements * m.input_bits for p in counts.projections if p.mac_steps)
    w_lv, v_lv, a_lv = m.level_for(weight_bytes), m.level_for(membrane_bytes), m.level_for(act_bits / 8)
    paper_by_name = {la.name: la for la in paper.layers}
    layers = []
    for p in counts.projections:
        a = paper_by_name[p.name]
        ops = a.fl_mac + a.sop
        reads = p.in_elements * (p.ac_steps * m.spike_bits + p.mac_steps * m.input_bits)
        layers.append(MemoryLayer(name=p.name, compute_pj=a.energy_pj, weight_pj=ops * w_lv.pj(m.weight_bits),
                                  membrane_pj=ops * 2 * v_lv.pj(m.membrane_bits), activation_pj=a_lv.pj(reads)))
    for p in counts.populations:
        updates = p.neurons * counts.steps
        out_bits = m.spike_bits if p.spiking else m.membrane_bits
        layers.append(MemoryLayer(name=p.name, compute_pj=0.0, weight_pj=0.0,
                                  membrane_pj=updates * 2 * v_lv.pj(m.membrane_bits),
                                  activation_pj=updates * a_lv.pj(out_bits)))
    placement = {"weights": w_lv.name, "membranes": v_lv.name, "activations": a_lv.name,
                 "weight_bytes": weight_bytes, "membrane_bytes": membrane_bytes, "activation_bytes": act_bits / 8}
    return MemoryEstimate(layers=tuple(layers), placement=placement, model=m)
