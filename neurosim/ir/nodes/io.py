"""Graph inputs and outputs.

An :class:`Input` node's output at step ``t`` is the user's input array ``x[t]`` (spikes or real
currents); an :class:`Output` node passes its input through and marks what ``run`` reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from neurosim.ir.nodes.base import Node, Shape, check_shape, register, require_input_shape, set_field


@dataclass(frozen=True, eq=False, kw_only=True)
class IONode(Node):
    family: ClassVar[str] = "io"

    shape: Shape

    def __post_init__(self) -> None:
        set_field(self, "shape", check_shape(self, "shape", self.shape))

    def fixed_input_shape(self) -> Shape:
        return self.shape

    def output_shape(self, input_shape: Shape) -> Shape:
        require_input_shape(self, input_shape, self.shape)
        return self.shape


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class Input(IONode):
    """A graph input of the given (unbatched) shape."""


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class Output(IONode):
    """A graph output of the given (unbatched) shape."""
