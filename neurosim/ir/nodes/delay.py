r"""Axonal delay: :math:`y[t] = x[t - d]` per element, ``d`` in whole timesteps (``y = 0`` before).

NIR's ``Delay`` gives delays in seconds; the frontend divides by ``dt`` and requires whole steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from neurosim.errors import IRError
from neurosim.ir.nodes.base import Node, Shape, check_array, check_shape, register, require_input_shape, set_field


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class Delay(Node):
    family: ClassVar[str] = "delay"
    stateful: ClassVar[bool] = True

    shape: Shape
    delay_steps: np.ndarray = 1

    def __post_init__(self) -> None:
        set_field(self, "shape", check_shape(self, "shape", self.shape))
        d = check_array(self, "delay_steps", self.delay_steps, shape=self.shape, broadcast=True, dtype=np.int64)
        if np.any(d < 0):
            raise IRError(f"Delay.delay_steps must be >= 0, found {int(d.min())!r}")
        set_field(self, "delay_steps", d)

    @property
    def max_delay(self) -> int:
        return int(self.delay_steps.max()) if self.delay_steps.size else 0

    def fixed_input_shape(self) -> Shape:
        return self.shape

    def output_shape(self, input_shape: Shape) -> Shape:
        require_input_shape(self, input_shape, self.shape)
        return self.shape
