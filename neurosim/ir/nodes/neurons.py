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
                                            \min(\lfloor v / \theta \rfloor, m)\,[v \ge \theta] & \text{spike\_rule = multi}
                              \end{cases}

    \text{reset (immediate):}\quad v \leftarrow v - s\,\theta \ (\text{subtract}) \quad|\quad
                                   v \leftarrow v_{reset} \text{ where } s>0 \ (\text{zero})

with :math:`m` = ``max_spikes`` (None: no cap, :math:`m = \infty`; a cap applies to ``multi`` only, and the
reset subtracts the capped count :math:`s\theta`), and
:math:`\tilde v = v` for ``reset_timing="immediate"``. E-3DSNN's stateless "multispike" neuron
:math:`\lfloor \mathrm{clamp}(x, 0, 4) + 1/2 \rfloor` is exactly ``LIF(decay=0, bias=0.5, threshold=1,
spike_rule="multi", max_spikes=4)``. With ``reset_timing="delayed"``
(snnTorch's default) the membrane is stored un-reset and the reset of step ``t-1`` is applied
inside step ``t``: ``subtract`` gives :math:`v \leftarrow \beta v - \theta s[t-1] + g x + b`
(the subtracted threshold is *not* decayed), ``zero`` gives :math:`\tilde v = v_{reset}` where
``s[t-1] > 0``. Spikes of ``zero`` are identical in both timings; ``subtract`` differs.

A neuron with ``refractory_steps = k > 0`` that spiked at step ``t`` ignores input and cannot
fire during steps ``t+1 .. t+k`` (its membrane stays at the post-reset value).

**Fixed point** (``fixed`` set): membrane, threshold, bias and reset value are integer codes of
``fixed.state``; ``gain`` must be 1. The synaptic input of a step is summed exactly in an
accumulator ``a`` of ``fixed.acc_width`` bits (an overflow there is an error, never silent),
shifted left by ``fixed.input_shift`` (:math:`x = a \cdot 2^{s_{in}}`: a weight exponent, Loihi's
``act_shift``) and added to the membrane once, saturating (``sat`` clips to the state range):

.. math::

    \text{immediate:}\quad v_1 = \mathrm{sat}(v + x + b),\ s = \mathrm{fire}(v_1),\
        v_2 = \mathrm{reset}(v_1, s),\ v \leftarrow L(v_2)

    \text{delayed, subtract:}\quad v_1 = \mathrm{sat}(v - \theta s' + x + b),\ s = \mathrm{fire}(v_1),\
        v \leftarrow L(v_1)

    \text{delayed, zero:}\quad v_1 = \mathrm{sat}(\tilde v + x + b),\
        \tilde v = L(v_{reset}) \text{ where } s' > 0 \text{ else } v,\ v \leftarrow L(v_1)

with :math:`s'` the previous step's spike (one saturation per step, on the exact sum). A refractory
neuron keeps :math:`v_1 = \mathrm{sat}(v)` (immediate), :math:`\mathrm{sat}(v - \theta s')` or
:math:`\tilde v` (delayed), and still leaks. The leak :math:`L` (``fixed.leak``) is applied at the end
of the step, so the stored membrane is the next step's starting value:

* ``"shift"``: :math:`L(v) = v - \lfloor v / 2^k \rfloor` (arithmetic shift, ``k = leak_shift``);
  the decay must equal :math:`1 - 2^{-k}`;
* ``"none"``: :math:`L(v) = v`; the decay must be 1;
* ``"mult"`` (Loihi's k-bit multiplicative decay): :math:`L(v) = \mathrm{sign}(vd)\,\lfloor |vd| / 2^k
  \rfloor` (the product truncated toward zero, as lava-nc's ``PyLifModelFixed``), ``d = leak_code``
  in ``0..2**k``, ``k = leak_bits``; the decay must equal :math:`d / 2^k`;
* ``"linear"`` (TrueNorth's leak toward zero): :math:`L(v) = v - \mathrm{sign}(v) \min(|v|, \lambda)`,
  :math:`\lambda` = ``leak_code`` codes per step. It has no multiplicative factor, so the
  population's float ``decay`` is not constrained: it records the exponential decay the linear
  leak approximates (see the quantize pass for how :math:`\lambda` is derived).

CubaLIF's current: :math:`i \leftarrow \mathrm{sat}(i + x)` (held while refractory), the membrane
sees the new :math:`i`, and :math:`i \leftarrow L_{syn}(i)` at the end of the step with
``fixed.syn_leak``: ``"shift"`` uses the node's ``syn_shift`` (0 = no leak; the historic field),
``"none"``/``"mult"``/``"linear"`` use ``syn_leak_bits``/``syn_leak_code`` as above (``syn_shift``
must then be 0).

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
    is_int,
    register,
    require_input_shape,
    set_field,
    short_repr,
)

RESET_MODES = ("zero", "subtract", "none")
RESET_TIMINGS = ("immediate", "delayed")
SPIKE_RULES = ("gt", "ge", "multi")
LEAK_MODES = ("shift", "none", "mult", "linear")
#: the largest ``leak_bits`` of a multiplicative leak (Loihi: 12); with the state width it must keep
#: ``|v * d| < 2**53`` so the engine's float64 holds the product exactly
MAX_PRODUCT_BITS = 53


def leak_factor(leak: str, shift: int, bits: int, code: int) -> float | None:
    """The multiplicative factor a leak realises: ``1 - 2**-shift`` (shift; 1 when ``shift`` is 0),
    1 (none), ``code / 2**bits`` (mult); None for ``linear``, which subtracts instead of scaling."""
    if leak == "shift":
        return 1.0 - 2.0 ** -shift if shift else 1.0
    if leak == "mult":
        return code / 2.0 ** bits
    if leak == "linear":
        return None
    return 1.0


def _check_leak(where: str, leak: str, bits, code, state: FixedPoint) -> None:
    """Validate the ``bits``/``code`` of a ``mult`` or ``linear`` leak (``where`` names the fields' prefix)."""
    if leak == "mult":
        top = MAX_PRODUCT_BITS - state.width
        if not (isinstance(bits, int) and not isinstance(bits, bool) and 1 <= bits <= min(24, top)):
            raise FixedPointError(
                f"NeuronFixedPoint.{where}leak_bits must be an int in 1..{min(24, top)} for {where}leak='mult' with a "
                f"{state.width}-bit state (|v*d| must stay below 2**{MAX_PRODUCT_BITS}), found {bits!r}"
            )
        if not (isinstance(code, int) and not isinstance(code, bool) and 0 <= code <= 1 << bits):
            raise FixedPointError(
                f"NeuronFixedPoint.{where}leak_code must be an int in 0..{1 << bits} (the decay numerator d of "
                f"d/2**{bits}) for {where}leak='mult', found {code!r}"
            )
    elif leak == "linear":
        if not (isinstance(code, int) and not isinstance(code, bool) and 0 <= code <= state.max_int):
            raise FixedPointError(
                f"NeuronFixedPoint.{where}leak_code must be an int in 0..{state.max_int} (codes removed per step) for "
                f"{where}leak='linear', found {code!r}"
            )


def _describe_leak(var: str, leak: str, shift: int, bits: int, code: int) -> str:
    if leak == "shift":
        return f"{var}-({var}>>{shift})" if shift else f"{var}: no leak"
    if leak == "mult":
        return f"{var}*{code}/2**{bits} (toward 0)"
    if leak == "linear":
        return f"{var}-sign({var})*min(|{var}|,{code})"
    return f"{var}: no leak" if var == "i" else "no leak"


@dataclass(frozen=True)
class NeuronFixedPoint:
    """Fixed-point realisation of a neuron population (see the module docstring for the dynamics).

    ``leak`` / ``leak_shift`` (shift) / ``leak_bits``, ``leak_code`` (mult: ``d/2**bits``; linear:
    ``code`` = lambda) give the membrane leak; ``syn_leak`` / ``syn_leak_bits`` / ``syn_leak_code`` the
    CubaLIF current's (``syn_leak="shift"`` takes the shift from ``CubaLIF.syn_shift``);
    ``input_shift`` (0..62-``acc_width``) shifts the accumulated input left before it is added.
    The defaults are the historic shift-leak spec, so older files load unchanged.
    """

    state: FixedPoint
    leak: str = "shift"
    leak_shift: int = 0
    acc_width: int = 32
    leak_bits: int = 0
    leak_code: int = 0
    input_shift: int = 0
    syn_leak: str = "shift"
    syn_leak_bits: int = 0
    syn_leak_code: int = 0

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
        _check_leak("", self.leak, self.leak_bits, self.leak_code, self.state)
        if self.syn_leak not in LEAK_MODES:
            raise FixedPointError(
                f"NeuronFixedPoint.syn_leak must be one of {LEAK_MODES!r}, found {self.syn_leak!r}"
            )
        _check_leak("syn_", self.syn_leak, self.syn_leak_bits, self.syn_leak_code, self.state)
        top = 62 - self.acc_width
        if not (isinstance(self.input_shift, int) and not isinstance(self.input_shift, bool)
                and 0 <= self.input_shift <= top):
            raise FixedPointError(
                f"NeuronFixedPoint.input_shift must be an int in 0..{top} (acc_width {self.acc_width} + shift <= 62), "
                f"found {self.input_shift!r}"
            )

    @property
    def decay(self) -> float | None:
        """The real decay factor the membrane leak realises (None for ``linear``: no factor)."""
        return leak_factor(self.leak, self.leak_shift if self.leak == "shift" else 0, self.leak_bits, self.leak_code)

    def syn_decay(self, syn_shift: int) -> float | None:
        """The real factor of the current's leak, given the node's ``syn_shift`` (None for ``linear``)."""
        return leak_factor(self.syn_leak, syn_shift, self.syn_leak_bits, self.syn_leak_code)

    def describe(self) -> str:
        out = f"{self.state.describe()} {_describe_leak('v', self.leak, self.leak_shift, self.leak_bits, self.leak_code)}"
        if self.syn_leak != "shift":
            out += ", " + _describe_leak("i", self.syn_leak, 0, self.syn_leak_bits, self.syn_leak_code)
        return out + (f", input<<{self.input_shift}" if self.input_shift else "")


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
    #: the most spikes one neuron emits per step under ``spike_rule="multi"`` (None: no cap)
    max_spikes: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in self.membrane_params:
            self._param(name)
        for name in self.decay_params:
            _check_unit_interval(self, name, getattr(self, name))
        check_choice(self, "reset", self.reset, RESET_MODES)
        check_choice(self, "reset_timing", self.reset_timing, RESET_TIMINGS)
        check_choice(self, "spike_rule", self.spike_rule, SPIKE_RULES)
        if not is_int(self.refractory_steps) or self.refractory_steps < 0:
            raise IRError(
                f"{type(self).__name__}.refractory_steps must be an int >= 0, found {self.refractory_steps!r}"
            )
        set_field(self, "refractory_steps", int(self.refractory_steps))
        if self.max_spikes is not None:
            if not is_int(self.max_spikes) or not 1 <= self.max_spikes <= 2**31 - 1:
                raise IRError(f"{type(self).__name__}.max_spikes must be None (no cap) or an int in 1..{2**31 - 1}, "
                              f"found {short_repr(self.max_spikes)}")
            if self.spike_rule != "multi":
                raise IRError(f"{type(self).__name__}.max_spikes={int(self.max_spikes)!r} caps multi-spikes, but "
                              f"spike_rule is {self.spike_rule!r}; set spike_rule='multi' or max_spikes=None")
            set_field(self, "max_spikes", int(self.max_spikes))
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
        if fx.syn_leak != "shift" and not isinstance(self, CubaLIF):
            raise FixedPointError(
                f"{type(self).__name__}.fixed.syn_leak must be 'shift' (the default) for a population without a "
                f"synaptic current, found {fx.syn_leak!r}"
            )
        # a linear leak subtracts: the float decay only records what it approximates
        if fx.decay is not None and not np.all(self.decay_values == fx.decay):
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
    by ``i - (i >> syn_shift)`` (``fixed.syn_leak="shift"``) or by ``fixed.syn_leak``'s mode (module docstring).
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
        if not is_int(self.current_lag) or self.current_lag not in (0, 1):
            raise IRError(f"CubaLIF.current_lag must be 0 or 1, found {self.current_lag!r}")
        if not is_int(self.syn_shift) or not 0 <= self.syn_shift <= 62:
            raise IRError(f"CubaLIF.syn_shift must be an int in 0..62, found {self.syn_shift!r}")
        set_field(self, "current_lag", int(self.current_lag))
        set_field(self, "syn_shift", int(self.syn_shift))
        if self.fixed is not None:
            if self.fixed.syn_leak != "shift" and self.syn_shift != 0:
                raise FixedPointError(
                    f"CubaLIF.syn_shift must be 0 with fixed.syn_leak={self.fixed.syn_leak!r} (the shift belongs to "
                    f"syn_leak='shift'), found {self.syn_shift!r}"
                )
            want = self.fixed.syn_decay(self.syn_shift)
            if (want is not None and not np.all(self.syn_decay == want)) or not np.all(self.syn_gain == 1.0):
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
