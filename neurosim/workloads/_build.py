"""Shared machinery of the workload builders: seeded random weights calibrated to a firing rate.

Why calibrate: random weights give a network whose activity either dies out or saturates after a
few layers, and the engine's speed depends on the number of spikes. Each spiking layer is set to
fire a stated fraction ``rate`` of its neurons per step.

How (a cheap numpy forward pass of ``calib_steps`` steps, default 4, layer by layer, in graph order):

1. the input is Bernoulli(``input_rate``) spikes (seeded), ``calib_steps`` frames;
2. a projection draws weights ``N(0, 1) / sqrt(fan_in)`` (seeded) and computes the synaptic input
   ``I[t]`` of every calibration step from its predecessors' outputs (pooling and shortcut sums
   included, with :func:`neurosim.ir.ops.conv_nd` for convolutions);
3. the spiking population after it (threshold 1, ``v = 0`` at the start, its decay and reset) is
   run for those steps in numpy with the weights scaled by ``g``; ``g`` is found by bisection so
   that the mean firing rate over the steps is ``rate`` (one step alone is not enough: with
   ``g`` set so that a fraction ``rate`` fires on the first step, leaked membrane makes later steps
   fire more, and the excess compounds over depth -- 7 % became 30 % in a SEW-ResNet);
4. those spikes (not a fresh Bernoulli sample) feed the next layer, so the calibration sees the
   real correlations of pooling and shortcuts.

Batch norm of the source networks is folded: its scale is absorbed by the calibrated gain, its
shift is zero. The rate is exact over the calibration steps only; the engine runs longer, so its
measured firing rate (reported by ``neurosim bench engine``) differs somewhat.
"""

from __future__ import annotations

import numpy as np

from neurosim.errors import IRError
from neurosim.ir import LIF, AvgPool2d, Conv2d, Dense, Flatten, Graph, Input, Output, SumPool2d
from neurosim.ir.ops import conv_nd

POOLS = ("avg", "sum")


def check_rate(name: str, rate) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 < rate < 0.5:
        raise IRError(f"{name} must be a firing probability per step in (0, 0.5), found {rate!r}")
    return float(rate)


def check_pool(pool) -> str:
    if pool not in POOLS:
        raise IRError(f"pool must be one of {POOLS!r}, found {pool!r}; 'avg' for the float engine, 'sum' for fixed point")
    return pool


class Builder:
    """Accumulates nodes and edges and the one-step calibration activations (module docstring).

    A *handle* is a tuple of node names whose outputs sum (the IR sums a node's predecessors), so a
    residual ``a + b`` is the handle ``(a, b)``.
    """

    def __init__(self, seed: int, rate: float, input_rate: float, decay: float, reset: str = "subtract",
                 calib_steps: int = 4):
        if isinstance(calib_steps, bool) or not isinstance(calib_steps, int) or calib_steps < 1:
            raise IRError(f"calib_steps must be a positive integer, found {calib_steps!r}")
        self.steps = calib_steps
        self.rng = np.random.default_rng(seed)
        self.rate = check_rate("rate", rate)
        self.input_rate = check_rate("input_rate", input_rate)
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 <= decay <= 1.0:
            raise IRError(f"decay must be a per-step membrane decay in [0, 1], found {decay!r}")
        self.decay = float(decay)
        self.reset = reset
        self.nodes: dict = {}
        self.edges: list[tuple[str, str]] = []
        self.act: dict[str, np.ndarray] = {}

    def _add(self, name: str, node, srcs) -> str:
        self.nodes[name] = node
        self.edges.extend((s, name) for s in srcs)
        return name

    def _x(self, srcs) -> np.ndarray:
        return sum(self.act[s] for s in srcs)

    def input(self, shape) -> tuple[str, ...]:
        self._add("input", Input(shape=tuple(shape)), ())
        self.act["input"] = (self.rng.random((self.steps, *shape)) < self.input_rate).astype(np.float64)
        return ("input",)

    def _run_lif(self, current: np.ndarray, g: float) -> np.ndarray:
        """Spikes ``[steps, ...]`` of a LIF (threshold 1, this builder's decay and reset) on ``g * current``."""
        v = np.zeros(current.shape[1:])
        out = np.empty(current.shape)
        for t in range(current.shape[0]):
            v = self.decay * v + g * current[t]
            s = v > 1.0
            v = v - s if self.reset == "subtract" else np.where(s, 0.0, v)
            out[t] = s
        return out

    def _spiking(self, name: str, proj_name: str, current: np.ndarray, make) -> tuple[str, ...]:
        """Calibrate ``proj_name``'s weights on ``current`` ``[steps, ...]`` (step 3) and add the LIF ``name``."""
        q = float(np.quantile(current, 1.0 - self.rate))  # start: the one-shot rate over all steps
        if not q > 0:
            q = float(np.abs(current).max())
        if not q > 0:
            raise IRError(f"calibration of {proj_name!r}: its input is silent for all {self.steps} calibration "
                          f"steps; raise calib_steps or input_rate")
        lo, hi = np.log(1.0 / q) - 6.0, np.log(1.0 / q) + 4.0
        for _ in range(14):  # the rate rises with g: bisect log g (to 0.1 % of g)
            mid = 0.5 * (lo + hi)
            if self._run_lif(current, float(np.exp(mid))).mean() > self.rate:
                hi = mid
            else:
                lo = mid
        g = float(np.exp(0.5 * (lo + hi)))
        self.nodes[proj_name] = make(g)
        self._add(name, LIF(shape=current.shape[1:], decay=self.decay, threshold=1.0, reset=self.reset), (proj_name,))
        self.act[name] = self._run_lif(current, g)
        return (name,)

    def conv_lif(self, name: str, srcs, cout: int, k: int, stride: int = 1, pad: int = 0) -> tuple[str, ...]:
        """Conv2d (no bias, batch norm folded) + LIF, calibrated; returns the LIF's handle."""
        x = self._x(srcs)
        cin = x.shape[1]
        w0 = self.rng.standard_normal((cout, cin, k, k)) / np.sqrt(cin * k * k)
        cur = conv_nd(x, w0, (stride, stride), (pad, pad), (1, 1), 1)
        proj = f"{name}.conv"
        self._add(proj, None, srcs)
        return self._spiking(f"{name}.lif", proj, cur, lambda g: Conv2d(weight=w0 * g, stride=stride, padding=pad))

    def dense_lif(self, name: str, srcs, out: int) -> tuple[str, ...]:
        x = self._x(srcs)
        x = x.reshape(self.steps, -1)
        w0 = self.rng.standard_normal((out, x.shape[1])) / np.sqrt(x.shape[1])
        cur = x @ w0.T
        proj = f"{name}.fc"
        self._add(proj, None, srcs)
        return self._spiking(f"{name}.lif", proj, cur, lambda g: Dense(weight=w0 * g))

    def pool(self, name: str, srcs, kind: str, k: int, stride: int | None = None, pad: int = 0) -> tuple[str, ...]:
        stride = k if stride is None else stride
        cls = AvgPool2d if kind == "avg" else SumPool2d
        self._add(name, cls(kernel_size=k, stride=stride, padding=pad), srcs)
        x = np.pad(self._x(srcs), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]
        y = win.sum(axis=(-2, -1))
        self.act[name] = y / (k * k) if kind == "avg" else y
        return (name,)

    def flatten(self, name: str, srcs) -> tuple[str, ...]:
        self._add(name, Flatten(), srcs)
        self.act[name] = self._x(srcs).reshape(self.steps, -1)
        return (name,)

    def graph(self, srcs) -> Graph:
        shape = self._x(srcs).shape[1:]
        self._add("output", Output(shape=shape), srcs)
        return Graph(self.nodes, tuple(self.edges))


def random_input(graph: Graph, steps: int, rate: float, seed: int = 0) -> np.ndarray:
    """Bernoulli(``rate``) spikes ``[steps, *input_shape]`` (int64, seeded) for ``graph``'s single Input:
    the discrete-time Poisson input the benchmarks feed every workload."""
    if len(graph.inputs) != 1:
        raise IRError(f"random_input needs a graph with one Input node, found {graph.inputs!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise IRError(f"steps must be a positive integer, found {steps!r}")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
        raise IRError(f"rate must be a spike probability per step in [0, 1], found {rate!r}")
    shape = graph.nodes[graph.inputs[0]].shape
    rng = np.random.default_rng(seed)
    return (rng.random((int(steps), *shape)) < rate).astype(np.int64)


def size_of(graph: Graph) -> dict[str, int]:
    """Neurons (spiking populations), stored weights (conv kernels once) and layers of ``graph``."""
    from neurosim.ir.nodes import Projection, SpikingPopulation

    neurons = sum(graph.nodes[n].size for n in graph.nodes if isinstance(graph.nodes[n], SpikingPopulation))
    weights = sum(graph.nodes[n].weight.size for n in graph.nodes if isinstance(graph.nodes[n], Projection))
    layers = sum(1 for n in graph.nodes if isinstance(graph.nodes[n], SpikingPopulation))
    return {"neurons": int(neurons), "weights": int(weights), "spiking_layers": int(layers)}
