"""Reference-simulator kernels of the recurrent node family (:mod:`neurosim.ir.nodes.recurrent`), registered in
:data:`neurosim.targets.neuromorphic.model.reference.KERNELS`.

Also the kernels SpikeGPT needs of core DNN nodes that the spiking reference did not run: LayerNorm
(no affine part: the IR puts it in a Scale and an Add), Add (input sum plus ``constant``) and GELU
(every ``kind``; SpikeGPT uses ``sigmoid``). All are float-only: fixed mode refuses them with the node
named. A kernel of a node with ``operands > 1`` receives a tuple of its operands, in the graph's
edge order.
"""

from __future__ import annotations

import math

import numpy as np

from neurosim.errors import SimulationError
from neurosim.ir.nodes import GELU, Add, LayerNorm
from neurosim.ir.nodes.recurrent import WKV, Mul, SquaredReLU
from neurosim.targets.neuromorphic.model.reference import KERNELS, Kernel


class FloatKernel(Kernel):
    """A kernel without fixed-point semantics: refuses ``mode="fixed"`` at setup."""

    why = "it computes in real arithmetic"

    def setup(self) -> None:
        if self.mode == "fixed":
            self.unsupported_fixed(self.why)
        self.setup_float()

    def setup_float(self) -> None:
        pass


def _operands(kernel: Kernel, x) -> tuple[np.ndarray, np.ndarray]:
    """The two ordered operands a 2-operand node receives (a simulator that sums them is refused)."""
    if not (isinstance(x, tuple) and len(x) == 2):
        raise SimulationError(
            f"node {kernel.name!r} ({type(kernel.node).__name__}) takes two ordered operands but the simulator passed "
            f"{type(x).__name__}; this simulator does not support ordered operands yet")
    return x


class WKVKernel(FloatKernel):
    why = "the WKV recurrence uses exp and division"

    def setup_float(self) -> None:
        node = self.node
        self.w = -np.exp(self.param(node.time_decay))
        self.u = self.param(node.time_first)
        self.state["p"] = None
        self.state["q"] = None
        self.state["o"] = None

    def step(self, x):
        k, v = _operands(self, x)
        k = np.asarray(k, dtype=self.dtype)
        v = np.asarray(v, dtype=self.dtype)
        st = self.state
        if st["p"] is None:
            st["p"] = np.zeros(k.shape, dtype=self.dtype)
            st["q"] = np.zeros(k.shape, dtype=self.dtype)
            st["o"] = np.full(k.shape, WKV.O_INIT, dtype=self.dtype)
        p, q, o = st["p"], st["q"], st["o"]
        uk = self.u + k
        no = np.maximum(o, uk)
        a = np.exp(o - no)
        b = np.exp(uk - no)
        y = (a * p + b * v) / (a * q + b)
        wo = self.w + o
        no = np.maximum(wo, k)
        a = np.exp(wo - no)
        b = np.exp(k - no)
        st["p"] = a * p + b * v
        st["q"] = a * q + b
        st["o"] = no
        return y


class MulKernel(FloatKernel):
    why = "a product of two activations has no declared format"

    def step(self, x):
        a, b = _operands(self, x)
        return a * b


class SquaredReLUKernel(FloatKernel):
    def step(self, x):
        r = np.maximum(x, 0)
        return r * r


class LayerNormKernel(FloatKernel):
    """torch's ``layer_norm`` without affine: biased variance, ``(x - mean) * (1 / sqrt(var + eps))``."""

    why = "normalisation divides by a square root"

    def step(self, x):
        x = np.asarray(x, dtype=self.dtype)
        mean = x.mean(axis=-1, keepdims=True)
        d = x - mean
        var = (d * d).mean(axis=-1, keepdims=True)
        return d * (1.0 / np.sqrt(var + self.node.eps))  # torch multiplies by rstd


class AddKernel(FloatKernel):
    """The summed inputs plus ``constant`` (the graph already summed the incoming edges)."""

    why = "a real-valued constant; fold it into the neighbouring bias"

    def setup_float(self) -> None:
        c = self.node.constant
        self.c = None if c is None else self.param(c)

    def step(self, x):
        return x if self.c is None else x + self.c


_ERF = np.vectorize(math.erf, otypes=[np.float64])


class GELUKernel(FloatKernel):
    """torch's ``gelu`` (exact, erf), ``silu``, ``sigmoid``, ``tanh`` and ``hardswish``."""

    why = "a transcendental activation"

    def step(self, x):
        x = np.asarray(x, dtype=self.dtype)
        kind = self.node.kind
        if kind == "sigmoid":
            return 1.0 / (1.0 + np.exp(-x))
        if kind == "tanh":
            return np.tanh(x)
        if kind == "silu":
            return x / (1.0 + np.exp(-x))
        if kind == "hardswish":
            return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0
        return (0.5 * x * (1.0 + _ERF(x / math.sqrt(2.0)))).astype(self.dtype)


KERNELS[WKV] = WKVKernel
KERNELS[Mul] = MulKernel
KERNELS[SquaredReLU] = SquaredReLUKernel
KERNELS[LayerNorm] = LayerNormKernel
KERNELS.setdefault(Add, AddKernel)
KERNELS.setdefault(GELU, GELUKernel)
