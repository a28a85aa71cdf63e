"""A per-layer summary of an IR graph: what ``neurosim info`` prints."""

from __future__ import annotations

from dataclasses import dataclass


from neurosim.ir.graph import Graph
from neurosim.ir.nodes import Population, Projection, SpikingPopulation


@dataclass(frozen=True)
class LayerRow:
    name: str
    type: str
    shape: tuple[int, ...]
    neurons: int
    synapses: int
    params: int
    sparsity: float | None
    nm: str
    fixed_point: str
    details: str


def summarize(graph: Graph) -> list[LayerRow]:
    """One row per node, in schedule order."""
    rows = []
    for name in graph.order:
        node = graph.nodes[name]
        neurons = node.size if isinstance(node, Population) else 0
        synapses = node.n_synapses() if isinstance(node, Projection) else 0
        sparsity = node.sparsity() if isinstance(node, Projection) else None
        nm = f"{node.nm[0]}:{node.nm[1]}" if isinstance(node, Projection) and node.nm else ""
        if isinstance(node, Projection):
            fx = node.weight_format.describe() if node.weight_format else "float"
        elif isinstance(node, SpikingPopulation):
            fx = node.fixed.describe() if node.fixed else "float"
        else:
            fx = ""
        details = node.describe() if isinstance(node, SpikingPopulation) else ""
        rec = [a for a, b in graph.recurrent_edges if b == name]
        if rec:
            details = (details + "; " if details else "") + f"recurrent from {', '.join(rec)}"
        rows.append(LayerRow(name, type(node).__name__, graph.shapes[name], neurons, synapses,
                             0 if isinstance(node, Population) else node.n_params(),
                             sparsity, nm, fx, details))
    return rows


def totals(rows: list[LayerRow]) -> dict[str, int]:
    return {"neurons": sum(r.neurons for r in rows), "synapses": sum(r.synapses for r in rows),
            "params": sum(r.params for r in rows)}
