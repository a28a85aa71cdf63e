"""The class registry: every torch/SNN class :func:`~neurosim.frontends.torch.from_torch` converts.

:data:`_ENTRIES` is the one registry of this frontend, ``public dotted path -> converter`` (plus,
for neuron classes, the framework whose semantics apply). Classes are resolved lazily through
``sys.modules``: an optional framework is never imported here, and a class is looked up only when
its package is already loaded (which it is whenever a model holds one of its modules).
:data:`_HINTS` names classes that exist but cannot be imported, with the fix.
"""

from __future__ import annotations

import sys

from neurosim.frontends.torch.base import _Entry
from neurosim.frontends.torch.dnn import (
    _activation,
    _adaptive_avgpool2d,
    _batchnorm,
    _layernorm,
    _maxpool2d,
    _mha_alone,
    _softmax,
)
from neurosim.frontends.torch.layers import (
    _avgpool2d,
    _conv,
    _flatten,
    _linear,
    _skip,
    _sumpool2d,
)
from neurosim.frontends.torch.snn import (
    _neurosim_lif,
    _sinabs_neuron,
    _sj_node,
    _snn_leaky,
    _snn_returns_tuple,
    _snn_rleaky,
    _snn_synaptic,
)
from neurosim.ir.nodes import GELU, IF, LIF, Conv1d, Conv2d, ReLU

_TORCH_NN = "torch.nn"
_SJ_LAYER = "spikingjelly.activation_based.layer"

#: Every supported class, by public path (resolved lazily, see :func:`_registry`).
_ENTRIES: tuple[_Entry, ...] = (
    _Entry(f"{_TORCH_NN}.Linear", _linear),
    _Entry(f"{_TORCH_NN}.Conv1d", _conv(Conv1d, 1)),
    _Entry(f"{_TORCH_NN}.Conv2d", _conv(Conv2d, 2)),
    _Entry(f"{_TORCH_NN}.AvgPool2d", _avgpool2d),
    _Entry(f"{_TORCH_NN}.Flatten", _flatten),
    _Entry(f"{_TORCH_NN}.Identity", _skip),
    _Entry(f"{_TORCH_NN}.Dropout", _skip),
    _Entry(f"{_TORCH_NN}.Dropout1d", _skip),
    _Entry(f"{_TORCH_NN}.Dropout2d", _skip),
    _Entry(f"{_TORCH_NN}.ReLU", _activation(ReLU, "relu")),
    _Entry(f"{_TORCH_NN}.ReLU6", _activation(ReLU, "relu6")),
    _Entry(f"{_TORCH_NN}.LeakyReLU", _activation(ReLU, "leaky_relu")),
    _Entry(f"{_TORCH_NN}.Hardtanh", _activation(ReLU, "hardtanh")),
    _Entry(f"{_TORCH_NN}.GELU", _activation(GELU, "gelu")),
    _Entry(f"{_TORCH_NN}.SiLU", _activation(GELU, "silu")),
    _Entry(f"{_TORCH_NN}.Sigmoid", _activation(GELU, "sigmoid")),
    _Entry(f"{_TORCH_NN}.Tanh", _activation(GELU, "tanh")),
    _Entry(f"{_TORCH_NN}.Hardswish", _activation(GELU, "hardswish")),
    _Entry(f"{_TORCH_NN}.BatchNorm1d", _batchnorm),
    _Entry(f"{_TORCH_NN}.BatchNorm2d", _batchnorm),
    _Entry(f"{_TORCH_NN}.LayerNorm", _layernorm),
    _Entry(f"{_TORCH_NN}.MaxPool2d", _maxpool2d),
    _Entry(f"{_TORCH_NN}.AdaptiveAvgPool2d", _adaptive_avgpool2d),
    _Entry(f"{_TORCH_NN}.Softmax", _softmax),
    _Entry(f"{_TORCH_NN}.MultiheadAttention", _mha_alone, returns_tuple=lambda mod: True),
    _Entry("neurosim.torch.LIF", _neurosim_lif, profile="neurosim"),
    _Entry("snntorch.Leaky", _snn_leaky, profile="snntorch", returns_tuple=_snn_returns_tuple),
    _Entry("snntorch.Synaptic", _snn_synaptic, profile="snntorch", returns_tuple=_snn_returns_tuple),
    _Entry("snntorch.RLeaky", _snn_rleaky, profile="snntorch", returns_tuple=_snn_returns_tuple),
    _Entry("spikingjelly.activation_based.neuron.LIFNode", _sj_node(LIF), profile="spikingjelly"),
    _Entry("spikingjelly.activation_based.neuron.IFNode", _sj_node(IF), profile="spikingjelly"),
    _Entry(f"{_SJ_LAYER}.Linear", _linear),
    _Entry(f"{_SJ_LAYER}.Conv1d", _conv(Conv1d, 1)),
    _Entry(f"{_SJ_LAYER}.Conv2d", _conv(Conv2d, 2)),
    _Entry(f"{_SJ_LAYER}.AvgPool2d", _avgpool2d),
    _Entry(f"{_SJ_LAYER}.Flatten", _flatten),
    _Entry(f"{_SJ_LAYER}.Dropout", _skip),
    _Entry("sinabs.layers.LIF", _sinabs_neuron(iaf=False), profile="sinabs", lead_dims=2),
    _Entry("sinabs.layers.IAF", _sinabs_neuron(iaf=True), profile="sinabs", lead_dims=2),
    _Entry("sinabs.layers.LIFSqueeze", _sinabs_neuron(iaf=False), profile="sinabs"),
    _Entry("sinabs.layers.IAFSqueeze", _sinabs_neuron(iaf=True), profile="sinabs"),
    _Entry("sinabs.layers.SumPool2d", _sumpool2d),
)

#: Classes that exist but cannot be imported, with the reason and the fix.
_HINTS: dict[str, str] = {
    f"{_TORCH_NN}.MaxPool1d": "1-d max pooling has no IR node; use MaxPool2d on a (C, 1, L) view or average "
                              "pooling",
    f"{_SJ_LAYER}.MaxPool2d": "SpikingJelly's stepped max pooling has no IR node (max pooling of spikes is not a "
                              "sum of events); replace it with layer.AvgPool2d and retrain",
}


def supported_layers() -> list[str]:
    """Public paths of every class :func:`from_torch` converts."""
    return sorted(e.path for e in _ENTRIES)


def _resolve(path: str):
    mod_name, cls_name = path.rsplit(".", 1)
    mod = sys.modules.get(mod_name)
    if mod is None:
        return None
    return getattr(mod, cls_name, None)


def _registry() -> dict[type, _Entry]:
    """``{class: entry}`` for every entry whose package is already imported."""
    out: dict[type, _Entry] = {}
    for e in _ENTRIES:
        cls = _resolve(e.path)
        if isinstance(cls, type):
            out.setdefault(cls, e)
    return out


def _hint_of(cls: type) -> tuple[str, str] | None:
    for path, hint in _HINTS.items():
        if _resolve(path) is cls:
            return path, hint
    return None


def _display(cls: type, registry: dict[type, _Entry]) -> str:
    """The shortest public dotted name of ``cls`` (``torch.nn.GELU``, ``snntorch.Leaky``)."""
    if cls in registry:
        return registry[cls].path
    parts = cls.__module__.split(".")
    for i in range(1, len(parts) + 1):
        prefix = ".".join(parts[:i])
        mod = sys.modules.get(prefix)
        if mod is not None and getattr(mod, cls.__name__, None) is cls:
            return f"{prefix}.{cls.__name__}"
    return f"{cls.__module__}.{cls.__qualname__}"
