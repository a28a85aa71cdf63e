r"""Neuron populations: stateful nodes updated once per timestep.

All neuron nodes are **discrete time**: their fields are the per-step coefficients the hardware
implements, not continuous time constants. Frontends convert a framework's or NIR's parameters
with a documented ``dt`` (see ``docs/frontends.md``); the conversion is recorded in the graph's
``semantics``.

One timestep of a spiking population with input ``x[t]`` (the sum of everything projected onto
it this step) and state ``v`` (membrane), in order:

.. math::

    \text{integrate:}\quad v \leftarrow \beta \odot \tilde v + g \odot x[t] + b

    \text{fire:}\quad s[t] = \begin{cases} [v > \theta] & \text{spike\_rule = gt} \\
                                            [v \ge \theta] & \text{spike\_rule = ge} \\
                                            \lfloor v / \theta \rfloor\,[v \ge \theta] & \text{spike\_rule = multi}
                              \end{cases}

    \text{reset (immediate):}\quad v \leftarrow v - s\,\theta \ (\text{subtract}) \quad|\quad
                                   v \leftarrow v_{reset} \text{ where } s>0 \ (\text{zero})

where :math:`\tilde v = v` for ``reset_timing="immediate"``. With ``reset_timing="delayed"``
(snnTorch's default) the membrane is stored un-reset and the reset of step ``t-1`` is applied
inside step ``t``: ``subtract`` gives :math:`v \leftarrow \beta v - \theta s[t-1] + g x + b`
(the subtracted threshold is *not* decayed), ``zero`` gives :math:`\tilde v = v_{reset}` where
``s[t-1] > 0``. Spikes of ``zero`` are identical in both timings; ``subtract`` differs.

A neuron with ``refractory_steps = k > 0`` that spiked at step ``t`` ignores input and cannot
fire during steps ``t+1 .. t+k`` (its membrane stays at the post-reset value).

**Fixed point** (``fixed`` set): membrane, threshold, bias and reset value are integer codes of
``fixed.state``. The synaptic input of a step is summed exactly in an accumulator of
``fixed.acc_width`` bits (an overflow there is an error, never silent), then added to the
membrane once, saturating; the leak is ``v - (v >> k)`` (``leak="shift"``, so ``decay`` must
equal ``1 - 2**-k``) or absent (``leak="none"``, ``decay`` must be 1); ``gain`` must be 1.
Because the accumulation is exact, the result does not depend on the order in which events
arrive -- the engine and the RTL may process them in any order, P at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from neurosim.errors import FixedPointError, IRError
from neurosim.ir.fixedpoint import FixedPoint
from neurosim.ir.nodes.base import (
    Node,
    Shape,
    check_array,
    check_choice,
    check_shape,
    register,
    require_input_shape,
    set_field,
)

RESET_MODES = ("zero", "subtract", "none")
RESET_TIMINGS = ("immediate", "delayed")
SPIKE_RULES = ("gt", "ge", "multi")
LEAK_MODES = ("shift", "none")


@dataclass(frozen=True)
class NeuronFixedPoint:
    """Fixed-point realisation of a neuron population (see the module docstring)."""

    state: FixedPoint
    leak: str = "shift"
    leak_shift: int = 0
    acc_width: int = 32

    def __post_init__(self) -> None:
        if not isinstance(self.state, FixedPoint):
            raise FixedPointError(f"NeuronFixedPoint.state must be a FixedPoint, found {self.state!r}")
        if not isinstance(self.acc_width, int) or not self.state.width <= self.acc_width <= 62:
            raise FixedPointError(
                f"NeuronFixedPoint.acc_width must be an int in {self.state.width}..62 (at least the state width), "
                f"found {self.acc_width!r}"
            )
        if self.leak not in LEAK_MODES:
            raise FixedPointError(f"NeuronFixedPoint.leak must be one of {LEAK_MODES!r}, found {self.leak!r}")
        if self.leak == "shift" and not (isinstance(self.leak_shift, int) and 1 <= self.leak_shift < self.state.width):
            raise FixedPointError(
                f"NeuronFixedPoint.leak_shift must be an int in 1..{self.state.width - 1} for leak='shift', "
                f"found {self.leak_shift!r}"
            )

    @property
    def decay(self) -> float:
        """The real decay factor this leak approximates."""
        return 1.0 - 2.0 ** -self.leak_shift if self.leak == "shift" else 1.0

    def describe(self) -> str:
        leak = f"v-(v>>{self.leak_shift})" if self.leak == "shift" else "no leak"
        return f"{self.state.describe()} {leak}"


@dataclass(frozen=True, eq=False, kw_only=True)
class Population(Node):
    """Base of nodes that hold one state value per neuron."""

    family: ClassVar[str] = "population"
    stateful: ClassVar[bool] = True

    shape: Shape

    def __post_init__(self) -> None:
        set_field(self, "shape", check_shape(self, "shape", self.shape))

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def fixed_input_shape(self) -> Shape:
        return self.shape

    def output_shape(self, input_shape: Shape) -> Shape:
        require_input_shape(self, input_shape, self.shape)
        return self.shape

    def _param(self, name: str) -> None:
        set_field(self, name, check_array(self, name, getattr(self, name), shape=self.shape, broadcast=True))


@dataclass(frozen=True, eq=False, kw_only=True)
class SpikingPopulation(Population):
    """Fields shared by every spiking neuron type: threshold, reset, spike rule, fixed point."""

    spiking: ClassVar[bool] = True
    #: per-neuron array fields, checked and broadcast to ``shape``
    membrane_params: ClassVar[tuple[str, ...]] = ("gain", "bias", "threshold", "v_reset")
    #: the subset of those that are per-step decay factors and must lie in [0, 1]
    decay_params: ClassVar[tuple[str, ...]] = ()

    gain: np.ndarray = 1.0
    bias: np.ndarray = 0.0
    threshold: np.ndarray = 1.0
    v_reset: np.ndarray = 0.0
    reset: str = "subtract"
    reset_timing: str = "immediate"
    spike_rule: str = "gt"
    refractory_steps: int = 0
    fixed: NeuronFixedPoint | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in self.membrane_params:
            self._param(name)
        for name in self.decay_params:
            _check_unit_interval(self, name, getattr(self, name))
        check_choice(self, "reset", self.reset, RESET_MODES)
        check_choice(self, "reset_timing", self.reset_timing, RESET_TIMINGS)
        check_choice(self, "spike_rule", self.spike_rule, SPIKE_RULES)
        if not isinstance(self.refractory_steps, (int, np.integer)) or self.refractory_steps < 0:
            raise IRError(
                f"{type(self).__name__}.refractory_steps must be an int >= 0, found {self.refractory_steps!r}"
            )
        set_field(self, "refractory_steps", int(self.refractory_steps))
        if self.spike_rule == "multi" and np.any(self.threshold <= 0):
            raise IRError(
                f"{type(self).__name__}.threshold must be > 0 with spike_rule='multi', found "
                f"{float(self.threshold.min())!r}"
            )
        if self.fixed is not None:
            self._check_fixed()

    @property
    def decay_values(self) -> np.ndarray:
        """Per-neuron membrane decay (1 for non-leaky types)."""
        return np.ones(self.shape)

    def _check_fixed(self) -> None:
        fx = self.fixed
        if not isinstance(fx, NeuronFixedPoint):
            raise FixedPointError(f"{type(self).__name__}.fixed must be a NeuronFixedPoint, found {fx!r}")
        if not np.all(self.decay_values == fx.decay):
            raise FixedPointError(
                f"{type(self).__name__}.decay must equal {fx.decay!r} for fixed leak {fx.describe()!r}, "
                f"found {np.unique(self.decay_values)[:4]!r}; quantize the decay first"
            )
        if not np.all(self.gain == 1.0):
            raise FixedPointError(
                f"{type(self).__name__}.gain must be 1 in fixed point, found {np.unique(self.gain)[:4]!r}; "
                "fold the gain into the incoming weights"
            )
        for name in ("bias", "threshold", "v_reset"):
            representable(fx.state, getattr(self, name), f"{type(self).__name__}.{name}")


def representable(fmt: FixedPoint, values: np.ndarray, what: str) -> np.ndarray:
    """Integer codes of ``values`` in ``fmt``; raise if any value is not exactly representable."""
    scaled = np.asarray(values, dtype=np.float64) * 2.0 ** fmt.frac_bits
    codes = np.rint(scaled)
    off = scaled != codes
    if np.any(off):
        bad = float(np.asarray(values)[off].flat[0])
        raise FixedPointError(
            f"{what} value {bad!r} is not a multiple of the LSB {fmt.lsb!r} of {fmt.describe()}; quantize it first"
        )
    out = (codes < fmt.min_int) | (codes > fmt.max_int)
    if np.any(out):
        bad = float(np.asarray(values)[out].flat[0])
        raise FixedPointError(
            f"{what} value {bad!r} is outside the range of {fmt.describe()} "
            f"({fmt.min_int * fmt.lsb!r}..{fmt.max_int * fmt.lsb!r}); widen the format"
        )
    return codes.astype(np.int64)


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class LIF(SpikingPopulation):
    r"""Leaky integrate-and-fire: :math:`v \leftarrow \beta v + g x + b`, then fire and reset.

    ``decay`` (:math:`\beta`, in [0, 1]) is the per-step membrane decay, e.g. ``1 - dt/tau_mem``
    (NIR, forward Euler), ``beta`` (snnTorch), ``exp(-dt/tau_mem)`` (Sinabs, Rockpool).
    """

    membrane_params: ClassVar[tuple[str, ...]] = SpikingPopulation.membrane_params + ("decay",)
    decay_params: ClassVar[tuple[str, ...]] = ("decay",)

    decay: np.ndarray = 0.9

    @property
    def decay_values(self) -> np.ndarray:
        return self.decay


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class IF(SpikingPopulation):
    r"""Integrate-and-fire (no leak): :math:`v \leftarrow v + g x + b`, then fire and reset."""


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class CubaLIF(SpikingPopulation):
    r"""Current-based LIF: a leaky synaptic current feeds a leaky membrane.

    .. math::

        i[t] = \alpha \odot i[t-1] + g_{syn} \odot x[t]

        v \leftarrow \beta \odot \tilde v + g \odot i_{in} + b,\qquad
        i_{in} = i[t] \ (\text{current\_lag}=0) \ \text{or}\ i[t-1] \ (\text{current\_lag}=1)

    then fire and reset as for :class:`LIF`. ``current_lag=0`` is snnTorch's ``Synaptic``;
    ``current_lag=1`` is forward Euler of NIR's CubaLIF (the membrane sees the current of the
    previous step, as in Norse). In fixed point the current uses ``fixed.state`` too and decays
    by ``i - (i >> syn_shift)``.
    """

    decay: np.ndarray = 0.9
    syn_decay: np.ndarray = 0.8
    syn_gain: np.ndarray = 1.0
    current_lag: int = 0
    syn_shift: int = 0

    membrane_params: ClassVar[tuple[str, ...]] = SpikingPopulation.membrane_params + (
        "decay", "syn_decay", "syn_gain")
    decay_params: ClassVar[tuple[str, ...]] = ("decay", "syn_decay")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.current_lag not in (0, 1):
            raise IRError(f"CubaLIF.current_lag must be 0 or 1, found {self.current_lag!r}")
        if self.fixed is not None:
            want = 1.0 - 2.0 ** -self.syn_shift if self.syn_shift > 0 else 1.0
            if not np.all(self.syn_decay == want) or not np.all(self.syn_gain == 1.0):
                raise FixedPointError(
                    f"CubaLIF.syn_decay must equal {want!r} (syn_shift={self.syn_shift!r}) and syn_gain 1 in "
                    f"fixed point, found syn_decay {np.unique(self.syn_decay)[:4]!r}"
                )

    @property
    def decay_values(self) -> np.ndarray:
        return self.decay


@dataclass(frozen=True, eq=False, kw_only=True)
class Integrating(Population):
    """Base of non-spiking integrators: the output is the state itself."""

    gain: np.ndarray = 1.0
    bias: np.ndarray = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self._param("gain")
        self._param("bias")


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class LI(Integrating):
    r"""Leaky integrator (non-spiking readout): :math:`v \leftarrow \beta v + g x + b`, output :math:`v`."""

    decay: np.ndarray = 0.9

    def __post_init__(self) -> None:
        super().__post_init__()
        self._param("decay")
        _check_unit_interval(self, "decay", self.decay)


@register
@dataclass(frozen=True, eq=False, kw_only=True)
class Integrator(Integrating):
    r"""Perfect integrator (NIR ``I``): :math:`v \leftarrow v + g x + b`, output :math:`v`."""


def _check_unit_interval(node: Node, name: str, arr: np.ndarray) -> None:
    if np.any(arr < 0) or np.any(arr > 1):
        bad = float(arr[(arr < 0) | (arr > 1)].flat[0])
        raise IRError(
            f"{type(node).__name__}.{name} must be in [0, 1] (a per-step decay factor), found {bad!r}; "
            f"a time constant shorter than dt gives a negative decay: use a smaller dt"
        )
