"""The event-driven IR: nodes, graph, fixed-point formats, N:M patterns, native format."""

from neurosim.ir.fixedpoint import FixedPoint
from neurosim.ir.graph import Graph, Semantics
from neurosim.ir.nodes import *  # noqa: F401,F403
from neurosim.ir.nodes import __all__ as _node_names
from neurosim.ir.serialize import load, save

__all__ = ["FixedPoint", "Graph", "Semantics", "load", "save", *_node_names]
