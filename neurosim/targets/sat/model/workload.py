r"""A training workload: the GEMMs and vector operations of one training step, derived from the IR.

Every weighted layer is a GEMM :math:`Y = X W` with ``X`` of ``[B*m, k]`` (``m`` rows per sample:
output pixels of a convolution, tokens of a sequence, 1 for a plain linear layer) and ``W`` of
``[k, n]``; ``count`` independent copies of it run side by side (convolution groups, attention
heads). A training step runs three GEMMs per layer (BDWP, Fang et al. 2023, Sec. III):

=====================  ===========================  ===================  =======================
phase                  GEMM                         shape                N:M sparse (BDWP)
=====================  ===========================  ===================  =======================
forward (``fwd``)      :math:`Y = X W`              ``[B m, k] [k, n]``  yes, groups along ``k``
backward-data (``bwd``) :math:`dX = dY W^\top`      ``[B m, n] [n, k]``  yes, groups along ``n``
weight-grad (``wg``)   :math:`dW = X^\top dY`       ``[k, B m] [B m, n]`` no (dense)
=====================  ===========================  ===================  =======================

A layer fed directly by the network input computes no ``dX``. An activation-activation product
(:class:`~neurosim.ir.nodes.dnn.MatMul`, attention) has no weight: all three of its GEMMs are
dense; its ``bwd`` row is :math:`dA = dY B^\top` and its ``wg`` row :math:`dB = A^\top dY`.

Non-GEMM layers (norms, activations, pooling, residual adds, softmax) are vector work: ``elements``
per sample and an operation count per element in the forward and the backward pass (estimates from
the textbook formulas, listed in :data:`VECTOR_OPS`). :class:`Rearrange` costs nothing.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from neurosim.errors import FormatError, SATConfigError
from neurosim.fileio import write_text_atomic
from neurosim.ir.graph import Graph
from neurosim.ir.nodes.attention import SpikeMatMul
from neurosim.ir.nodes import (
    GELU,
    Add,
    AvgPool2d,
    BatchNorm,
    Conv1d,
    Conv2d,
    Dense,
    GlobalAvgPool,
    Input,
    LayerNorm,
    MatMul,
    MaxPool2d,
    NMSparse,
    Output,
    Population,
    ReLU,
    Softmax,
    SumPool2d,
)

NETWORK_DIR = Path(__file__).with_name("networks")
FORMAT = "neurosim-sat-workload"
VERSION = 1

#: Vector operation kind -> (operations per element forward, backward). Estimates: the operation
#: count of the textbook formula, e.g. batch norm forward = mean, variance, subtract, scale, shift;
#: backward = the two reductions of the gradient plus the elementwise formula. Pools count per
#: *output* element (kernel area comparisons / adds), everything else per element of the tensor.
VECTOR_OPS: dict[str, tuple[int, int]] = {
    "relu": (1, 1),
    "gelu": (8, 10),
    "batchnorm": (5, 8),
    "layernorm": (5, 8),
    "softmax": (5, 4),
    "add": (1, 0),
    "maxpool": (1, 1),  # x kernel area, per output element
    "avgpool": (1, 1),  # x kernel area, per output element
    "global_avgpool": (1, 1),
    "scale": (1, 1),  # a constant factor, e.g. attention's 1/sqrt(d) on the scores
    "neuron": (4, 6),  # spiking neuron (BPTT with a surrogate gradient): decay, add, compare, reset
}


@dataclass(frozen=True)
class GemmLayer:
    """One weighted layer (or activation product) as GEMM dimensions per sample."""

    name: str
    kind: str  # conv, linear, matmul
    m: int  # rows per sample
    k: int
    n: int
    count: int = 1  # groups or heads
    weighted: bool = True  # N:M applies (forward and backward-data)
    needs_dx: bool = True  # False for a layer fed by the network input

    def __post_init__(self) -> None:
        for f in ("m", "k", "n", "count"):
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise SATConfigError(f"layer {self.name!r}: {f} must be a positive integer, found {v!r}")
        if self.kind not in ("conv", "linear", "matmul"):
            raise SATConfigError(f"layer {self.name!r}: kind must be conv, linear or matmul, found {self.kind!r}")

    def macs(self, batch: int) -> int:
        """Dense multiply-accumulates of the forward GEMM."""
        return batch * self.m * self.k * self.n * self.count


@dataclass(frozen=True)
class VectorLayer:
    """One non-GEMM layer: ``elements`` per sample, ``fwd_ops``/``bwd_ops`` operations per element."""

    name: str
    kind: str
    elements: int
    fwd_ops: int
    bwd_ops: int

    def __post_init__(self) -> None:
        if self.kind not in VECTOR_OPS:
            raise SATConfigError(f"layer {self.name!r}: vector kind must be one of {sorted(VECTOR_OPS)!r}, "
                                 f"found {self.kind!r}")
        for f in ("elements", "fwd_ops", "bwd_ops"):
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise SATConfigError(f"layer {self.name!r}: {f} must be an integer >= 0, found {v!r}")


@dataclass(frozen=True)
class Workload:
    """A network's training workload, in layer order."""

    name: str
    source: str
    input_shape: tuple[int, ...]
    gemms: tuple[GemmLayer, ...]
    vectors: tuple[VectorLayer, ...]

    def macs(self, batch: int = 1) -> int:
        return sum(g.macs(batch) for g in self.gemms)

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "version": VERSION, "name": self.name, "source": self.source,
                           "input_shape": list(self.input_shape),
                           "gemms": [asdict(g) for g in self.gemms],
                           "vectors": [asdict(v) for v in self.vectors]}, indent=1)

    def save(self, path) -> Path:
        write_text_atomic(path, self.to_json() + "\n")
        return Path(path)

    @classmethod
    def from_json(cls, text: str, where: str = "workload") -> Workload:
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FormatError(f"{where} is not valid JSON ({exc}); regenerate it") from None
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise FormatError(f"{where} is not a neurosim SAT workload (format {FORMAT!r}); regenerate it with "
                              f"models/extract_sat_networks.py")
        if d.get("version") != VERSION:
            raise FormatError(f"{where} has workload version {d.get('version')!r}, this neurosim reads {VERSION}")
        try:
            return cls(str(d["name"]), str(d["source"]), tuple(d["input_shape"]),
                       tuple(GemmLayer(**g) for g in d["gemms"]), tuple(VectorLayer(**v) for v in d["vectors"]))
        except (KeyError, TypeError) as exc:
            raise FormatError(f"{where} is missing or has a malformed field ({exc}); regenerate it") from None


def networks() -> list[str]:
    """Names of the shipped network layer tables (``resnet50`` ...)."""
    return sorted(p.stem for p in NETWORK_DIR.glob("*.json"))


def load_network(name: str) -> Workload:
    path = NETWORK_DIR / f"{name}.json"
    if not path.exists():
        raise SATConfigError(f"unknown network {name!r}; shipped: {', '.join(networks())} (or give a model file)")
    return Workload.from_json(path.read_text(), where=f"network table {str(path)!r}")


# ---------------------------------------------------------------------------------- from the IR


def _rows(shape: tuple[int, ...], channel_last: bool) -> int:
    """Positions per sample at which a layer applies its weight."""
    return int(math.prod(shape[:-1] if channel_last else shape[1:])) or 1


def from_graph(graph: Graph, name: str, source: str = "") -> Workload:
    """The training workload of an IR graph (see the module docstring)."""
    gemms: list[GemmLayer] = []
    vectors: list[VectorLayer] = []
    shapes = graph.shapes
    for node_name in graph.order:
        node = graph.nodes[node_name]
        in_shape = graph.input_shape_of(node_name)
        out_shape = shapes[node_name]
        fed_by_input = all(isinstance(graph.nodes[p], Input) for p in graph.predecessors(node_name))
        if isinstance(node, (Dense, NMSparse)):
            w = node.dense_weight() if isinstance(node, NMSparse) else node.weight
            gemms.append(GemmLayer(node_name, "linear", _rows(out_shape, True), int(w.shape[1]), int(w.shape[0]),
                                   needs_dx=not fed_by_input))
        elif isinstance(node, (Conv1d, Conv2d)):
            w = node.weight
            g = node.groups
            gemms.append(GemmLayer(node_name, "conv", _rows(out_shape, False), int(math.prod(w.shape[1:])),
                                   int(w.shape[0]) // g, count=g, needs_dx=not fed_by_input))
        elif isinstance(node, MatMul):
            h, m, k, n = node.gemm(in_shape)
            gemms.append(GemmLayer(node_name, "matmul", m, k, n, count=h, weighted=False))
            if node.scale != 1.0:
                vectors.append(_vector(node_name + ".scale", "scale", h * m * n))
        elif isinstance(node, SpikeMatMul):
            # spike-driven self-attention per head: KV = K^T V (d x N by N x d), then Q (KV) (N x d by d x d)
            c, d, n_tok = node.split(in_shape)
            gemms.append(GemmLayer(node_name + ".kv", "matmul", d, n_tok, d, count=node.heads, weighted=False))
            gemms.append(GemmLayer(node_name + ".qkv", "matmul", n_tok, d, d, count=node.heads, weighted=False))
            vectors.append(_vector(node_name + ".scale", "scale", c * n_tok))
        elif isinstance(node, (BatchNorm, LayerNorm)):
            vectors.append(_vector(node_name, "batchnorm" if isinstance(node, BatchNorm) else "layernorm",
                                   math.prod(out_shape)))
        elif isinstance(node, ReLU):
            vectors.append(_vector(node_name, "relu", math.prod(out_shape)))
        elif isinstance(node, GELU):
            vectors.append(_vector(node_name, "gelu", math.prod(out_shape)))
        elif isinstance(node, Softmax):
            vectors.append(_vector(node_name, "softmax", math.prod(out_shape)))
        elif isinstance(node, Add):
            extra = len(graph.predecessors(node_name)) - 1 + (node.constant is not None)
            if extra > 0:
                vectors.append(_vector(node_name, "add", math.prod(out_shape) * extra))
        elif isinstance(node, (MaxPool2d, AvgPool2d, SumPool2d)):
            area = node.kernel_size[0] * node.kernel_size[1]
            vectors.append(_vector(node_name, "maxpool" if isinstance(node, MaxPool2d) else "avgpool",
                                   math.prod(out_shape) * area))
        elif isinstance(node, GlobalAvgPool):
            vectors.append(_vector(node_name, "global_avgpool", math.prod(in_shape)))
        elif isinstance(node, Population):
            vectors.append(_vector(node_name, "neuron", math.prod(out_shape)))
        elif isinstance(node, (Input, Output)) or node.family in ("dnn", "shape"):
            continue  # Rearrange, Flatten: data movement only
        else:
            raise SATConfigError(
                f"node {node_name!r} ({type(node).__name__}) has no training-cost model; the SAT model takes DNN "
                f"layers (conv, linear, matmul, norms, activations, pooling, add, neurons); remove or replace it"
            )
    if not gemms:
        raise SATConfigError(f"model {name!r} has no convolution, linear or matmul layer; there is nothing to "
                             f"run on the PE array")
    return Workload(name, source, tuple(graph.nodes[graph.inputs[0]].shape), tuple(gemms), tuple(vectors))


def _vector(name: str, kind: str, elements: int) -> VectorLayer:
    fwd, bwd = VECTOR_OPS[kind]
    return VectorLayer(name, kind, int(elements), fwd, bwd)


def load_workload(model: str, *, input_shape: tuple[int, ...] | None = None, **frontend_options) -> Workload:
    """A shipped network by name (``resnet50``), or a model file read through the frontends
    (``.nir``, ``.nsim``; ``.pt``/``.pth`` with the torch extra and ``input_shape``)."""
    text = str(model)
    if text in networks():
        return load_network(text)
    path = Path(text)
    if not path.exists():
        raise SATConfigError(
            f"model {text!r} is neither a shipped network ({', '.join(networks())}) nor an existing file; check the "
            f"name or path"
        )
    from neurosim.frontends import load_model

    graph = load_model(path, input_shape=input_shape, **frontend_options)
    return from_graph(graph, path.stem, source=str(path))
