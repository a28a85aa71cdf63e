r"""Stateless element-wise maps.

.. math::

    \text{Scale:}\ y = a \odot x \qquad
    \text{Threshold:}\ y = [x > \theta] \ (\text{or } [x \ge \theta] \text{ with spike\_rule=ge})
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from neurosim.ir.nodes.base import Node, Shape, check_array, check_choice, check_shape, register, require_input_shape, set_field


@dataclass(frozen=True, eq=False, kw_only=True)
class Elementwise(Node):
    family: ClassVar[str] = "elementwise"

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
class Scale(Elementwise):
    """Multiply each element by a constant."""

    scale: np.ndarray = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        set_field(self, "scale", check_array(self, "scale", self.scale, shape=self.shape, broadcast=True))


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class Threshold(Elementwise):
    """Emit a spike where the input exceeds the threshold (no state)."""

    spiking: ClassVar[bool] = True

    threshold: np.ndarray = 0.0
    spike_rule: str = "gt"

    def __post_init__(self) -> None:
        super().__post_init__()
        set_field(self, "threshold", check_array(self, "threshold", self.threshold, shape=self.shape, broadcast=True))
        check_choice(self, "spike_rule", self.spike_rule, ("gt", "ge"))
