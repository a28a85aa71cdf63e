"""Converters for the torch.nn layers the spiking IR nodes express.

Weighted layers (``Linear``, ``Conv1d``/``Conv2d``, also SpikingJelly's stepped copies) become
Dense/Conv nodes with their weights copied as float64 and N:M patterns recorded; ``AvgPool2d``,
sinabs' ``SumPool2d`` and ``Flatten`` become their IR nodes; ``Identity``/``Dropout`` are skipped.
Each converter takes ``(module, Layer)`` and returns a :class:`~.base.Lowered`.
"""

from __future__ import annotations

from typing import Any, Callable

from neurosim.errors import UnsupportedError
from neurosim.frontends.torch.base import Layer, Lowered, _f64, _is_meta, _projection
from neurosim.ir.nodes import AvgPool2d, Dense, Flatten, Node, SumPool2d


def _linear(mod, layer: Layer) -> Lowered:
    bias = None if mod.bias is None else _f64(mod.bias)
    return _projection(Dense, layer, _f64(mod.weight), bias, meta=_is_meta(mod.weight))


def _conv(cls: type[Node], d: int) -> Callable[[Any, Layer], Lowered]:
    def convert(mod, layer: Layer) -> Lowered:
        if mod.padding_mode != "zeros":
            raise layer.error(
                UnsupportedError,
                f"has padding_mode={mod.padding_mode!r}; neurosim convolutions pad with zeros only: "
                f"use padding_mode='zeros'",
            )
        k, dil = tuple(mod.kernel_size), tuple(mod.dilation)
        pad = mod.padding
        if pad == "valid":
            pad = (0,) * d
        elif pad == "same":
            totals = [dl * (kk - 1) for kk, dl in zip(k, dil)]
            if any(t % 2 for t in totals):
                raise layer.error(
                    UnsupportedError,
                    f"has padding='same' with kernel {k!r} and dilation {dil!r}, which torch pads "
                    f"asymmetrically; neurosim pads symmetrically: use an odd kernel or integer padding",
                )
            pad = tuple(t // 2 for t in totals)
        elif isinstance(pad, str):
            raise layer.error(UnsupportedError, f"has padding={pad!r}; use integers, 'same' or 'valid'")
        bias = None if mod.bias is None else _f64(mod.bias)
        return _projection(cls, layer, _f64(mod.weight), bias, meta=_is_meta(mod.weight), stride=tuple(mod.stride),
                           padding=tuple(pad), dilation=dil, groups=int(mod.groups))
    return convert


def _avgpool2d(mod, layer: Layer) -> Lowered:
    if mod.ceil_mode:
        raise layer.error(UnsupportedError, "has ceil_mode=True; neurosim pools in floor mode: use ceil_mode=False")
    if not mod.count_include_pad:
        raise layer.error(
            UnsupportedError,
            "has count_include_pad=False; neurosim divides by the full kernel area: use count_include_pad=True "
            "(or padding=0)",
        )
    if getattr(mod, "divisor_override", None) is not None:
        raise layer.error(
            UnsupportedError,
            f"has divisor_override={mod.divisor_override!r}; neurosim divides by the kernel area: remove it",
        )
    stride = mod.stride if mod.stride is not None else mod.kernel_size
    return Lowered(AvgPool2d(kernel_size=mod.kernel_size, stride=stride, padding=mod.padding))


def _sumpool2d(mod, layer: Layer) -> Lowered:
    if float(mod.norm_type) != 1.0:
        raise layer.error(UnsupportedError, f"has norm_type={mod.norm_type!r}; only 1 (a sum) is supported")
    if mod.ceil_mode:
        raise layer.error(UnsupportedError, "has ceil_mode=True; neurosim pools in floor mode: use ceil_mode=False")
    stride = mod.stride if mod.stride is not None else mod.kernel_size
    return Lowered(SumPool2d(kernel_size=mod.kernel_size, stride=stride))


def _flatten_dims(layer: Layer, start: int, end: int) -> Lowered:
    """Flatten(start, end) of the batched tensor -> IR Flatten of the unbatched shape."""
    lead, n = layer.lead_dims, len(layer.in_shape)
    total = lead + n
    what = "the batch axis" if lead == 1 else "the batch or time axis (sinabs layers take [B, T, ...])"

    def shift(v: int, name: str) -> int:
        pos = v + total if v < 0 else v
        if not lead <= pos < total:
            raise layer.error(
                UnsupportedError,
                f"has {name}={v!r}, which reaches {what} of its {total}-d input; neurosim models one sample "
                f"per timestep: use {name} >= {lead}",
            )
        return v if v < 0 else v - lead

    return Lowered(Flatten(start_dim=shift(start, "start_dim"), end_dim=shift(end, "end_dim")))


def _flatten(mod, layer: Layer) -> Lowered:
    return _flatten_dims(layer, int(mod.start_dim), int(mod.end_dim))


def _skip(mod, layer: Layer) -> Lowered:
    name = layer.display.rsplit(".", 1)[-1]
    note = f"{layer.display} layers skipped (the identity at inference)" if "Dropout" in name else ()
    return Lowered(None, notes=(note,) if note else ())
