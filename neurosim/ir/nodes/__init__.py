"""IR node types, one module per family; every type is registered in :data:`NODE_TYPES`."""

from neurosim.ir.nodes.base import NODE_TYPES, Node, node_context
from neurosim.ir.nodes.connections import Conv1d, Conv2d, Dense, NMSparse, Projection, SparseCSR
from neurosim.ir.nodes.delay import Delay
from neurosim.ir.nodes.dnn import (
    GELU,
    Add,
    BatchNorm,
    DNNNode,
    GlobalAvgPool,
    LayerNorm,
    MatMul,
    MaxPool2d,
    Rearrange,
    ReLU,
    Softmax,
)
from neurosim.ir.nodes.elementwise import Scale, Threshold
from neurosim.ir.nodes.io import Input, Output
from neurosim.ir.nodes.neurons import (
    IF,
    LI,
    LIF,
    CubaLIF,
    Integrator,
    NeuronFixedPoint,
    Population,
    SpikingPopulation,
)
from neurosim.ir.nodes.shaping import AvgPool2d, Flatten, SumPool2d

# node families beyond the core set, one module each (their types register in NODE_TYPES on import)
from neurosim.ir.nodes import attention, recurrent, sparse  # noqa: E402,F401  isort: skip
from neurosim.ir.nodes.recurrent import WKV, Mul, SquaredReLU  # noqa: E402  isort: skip
from neurosim.ir.nodes.attention import SpikeMatMul  # noqa: E402  isort: skip
from neurosim.ir.nodes.sparse import Conv3d, SiteMean, SparseConv3d, SubMConv3d  # noqa: E402  isort: skip

__all__ = [
    "NODE_TYPES", "Node", "node_context", "Conv1d", "Conv2d", "Dense", "NMSparse", "Projection", "SparseCSR",
    "Delay", "Scale", "Threshold", "Input", "Output", "IF", "LI", "LIF", "CubaLIF", "Integrator",
    "NeuronFixedPoint", "Population", "SpikingPopulation", "AvgPool2d", "Flatten", "SumPool2d",
    "GELU", "Add", "BatchNorm", "DNNNode", "GlobalAvgPool", "LayerNorm", "MatMul", "MaxPool2d", "Rearrange",
    "ReLU", "Softmax", "WKV", "Mul", "SquaredReLU", "SpikeMatMul",
    "Conv3d", "SiteMean", "SparseConv3d", "SubMConv3d",
]
