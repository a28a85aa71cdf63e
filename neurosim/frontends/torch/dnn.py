"""Converters for conventional (non-spiking) DNN layers: modules and their functional forms.

Activations, BatchNorm, LayerNorm, MaxPool2d, AdaptiveAvgPool2d, Softmax and a MultiheadAttention
found outside a ``forward()`` (an error) lower to the IR's DNN nodes (:mod:`neurosim.ir.nodes.dnn`).
:func:`_functional_layers` maps the torch functions and tensor methods that are the same layers
(``F.relu``, ``torch.softmax``, ``x.relu()``, ...) to converters the fx trace calls.
"""

from __future__ import annotations

from typing import Any, Callable

from neurosim.errors import ShapeError, UnsupportedError
from neurosim.frontends.torch.base import Layer, Lowered
from neurosim.ir.nodes import (
    GELU,
    BatchNorm,
    GlobalAvgPool,
    LayerNorm,
    MaxPool2d,
    Node,
    ReLU,
    Softmax,
)


def _activation(cls: type[Node], kind: str) -> Callable[[Any, Layer], Lowered]:
    def convert(mod, layer: Layer) -> Lowered:
        return Lowered(cls(kind=kind))
    return convert


def _batchnorm(mod, layer: Layer) -> Lowered:
    return Lowered(BatchNorm(features=int(mod.num_features), eps=float(mod.eps)))


def _layernorm(mod, layer: Layer) -> Lowered:
    shape = tuple(int(d) for d in mod.normalized_shape)
    if len(shape) != 1:
        raise layer.error(
            UnsupportedError,
            f"has normalized_shape={shape!r}, which normalises over {len(shape)} axes; neurosim's LayerNorm "
            f"normalises the last axis only: use normalized_shape=({shape[-1]},) or reshape first",
        )
    return Lowered(LayerNorm(features=shape[0], eps=float(mod.eps)))


def _maxpool2d(mod, layer: Layer) -> Lowered:
    for name, bad, fix in (("ceil_mode", bool(mod.ceil_mode), "ceil_mode=False"),
                           ("return_indices", bool(mod.return_indices), "return_indices=False"),
                           ("dilation", mod.dilation not in (1, (1, 1)), "dilation=1")):
        if bad:
            raise layer.error(UnsupportedError, f"has {name}={getattr(mod, name)!r}, which the IR's MaxPool2d "
                                                f"(floor mode, no dilation) cannot express; use {fix}")
    stride = mod.stride if mod.stride is not None else mod.kernel_size
    return Lowered(MaxPool2d(kernel_size=mod.kernel_size, stride=stride, padding=mod.padding))


def _adaptive_avgpool(layer: Layer, output_size) -> Lowered:
    """AdaptiveAvgPool2d(output_size): global average (1x1), the identity (output = input size), else an error."""
    size = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    if len(layer.in_shape) != 3 or len(size) != 2:
        raise layer.error(ShapeError, f"expects a (C, H, W) input and a 2-d output_size, found input shape "
                                      f"{layer.in_shape!r} and output_size={output_size!r}")
    hw = layer.in_shape[1:]
    size = tuple(int(hw[i]) if s is None else int(s) for i, s in enumerate(size))
    if size == (1, 1):
        return Lowered(GlobalAvgPool())
    if size == tuple(hw):
        note = f"{layer.where}: output size {size!r} equals its input size: the identity, skipped"
        return Lowered(None, notes=(note,))
    raise layer.error(
        UnsupportedError,
        f"has output_size={output_size!r} on a {hw!r} input; neurosim lowers adaptive average pooling to a "
        f"global average (output_size=1) or, where the input already has the output size, the identity: use "
        f"AdaptiveAvgPool2d(1) or an AvgPool2d with a fixed kernel",
    )


def _adaptive_avgpool2d(mod, layer: Layer) -> Lowered:
    return _adaptive_avgpool(layer, mod.output_size)


def _softmax_dim(layer: Layer, dim) -> Lowered:
    total = layer.lead_dims + len(layer.in_shape)
    if dim is None or not isinstance(dim, int) or dim not in (-1, total - 1):
        raise layer.error(
            UnsupportedError,
            f"has dim={dim!r}; neurosim's Softmax normalises the last axis of its {total}-d input: use dim=-1",
        )
    return Lowered(Softmax())


def _softmax(mod, layer: Layer) -> Lowered:
    return _softmax_dim(layer, mod.dim)


def _mha_alone(mod, layer: Layer) -> Lowered:
    raise layer.error(
        UnsupportedError,
        "is called with one input (inside an nn.Sequential?); neurosim lowers self-attention called as "
        "attn(x, x, x) in a module's forward(): wrap it in a module whose forward() does that",
    )


# ------------------------------------------------------------------- functional forms


def _functional_layers() -> tuple[dict, dict]:
    """``(functions, methods)``: torch functions and tensor methods (by name) that are DNN layers,
    each mapped to ``(display, convert(layer, args, kwargs) -> Lowered)``."""
    import torch
    import torch.nn.functional as F

    def act(cls, kind):
        return lambda layer, args, kwargs: Lowered(cls(kind=kind))

    def softmax(layer, args, kwargs):
        return _softmax_dim(layer, args[0] if args else kwargs.get("dim"))

    def pool(layer, args, kwargs):
        return _adaptive_avgpool(layer, args[0] if args else kwargs.get("output_size"))

    layers = {
        torch.relu: ("torch.relu", act(ReLU, "relu")), torch.relu_: ("torch.relu_", act(ReLU, "relu")),
        F.relu: ("torch.nn.functional.relu", act(ReLU, "relu")),
        F.relu6: ("torch.nn.functional.relu6", act(ReLU, "relu6")),
        F.leaky_relu: ("torch.nn.functional.leaky_relu", act(ReLU, "leaky_relu")),
        F.gelu: ("torch.nn.functional.gelu", act(GELU, "gelu")),
        F.silu: ("torch.nn.functional.silu", act(GELU, "silu")),
        F.hardswish: ("torch.nn.functional.hardswish", act(GELU, "hardswish")),
        torch.sigmoid: ("torch.sigmoid", act(GELU, "sigmoid")), F.sigmoid: ("torch.sigmoid", act(GELU, "sigmoid")),
        torch.tanh: ("torch.tanh", act(GELU, "tanh")), F.tanh: ("torch.tanh", act(GELU, "tanh")),
        torch.softmax: ("torch.softmax", softmax), F.softmax: ("torch.nn.functional.softmax", softmax),
        F.adaptive_avg_pool2d: ("torch.nn.functional.adaptive_avg_pool2d", pool),
    }
    methods = {
        "relu": ("Tensor.relu", act(ReLU, "relu")), "relu_": ("Tensor.relu_", act(ReLU, "relu")),
        "sigmoid": ("Tensor.sigmoid", act(GELU, "sigmoid")), "tanh": ("Tensor.tanh", act(GELU, "tanh")),
        "softmax": ("Tensor.softmax", softmax),
    }
    return layers, methods
