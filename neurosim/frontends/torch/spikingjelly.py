r"""SpikingJelly multi-step models (``step_mode="m"``, tensors ``[T, B, ...]``) lowered to the IR.

A multi-step model runs all ``T`` timesteps in one forward call: its neurons
(``spikingjelly.activation_based.neuron.LIFNode``/``IFNode`` with ``step_mode="m"``) scan the leading
time axis, and every stateless layer runs on ``x.flatten(0, 1)`` (time folded into the batch, the
``SeqToANNContainer`` idiom) and is reshaped back with ``.reshape(T, B, ...)``. The IR runs one
timestep at a time, so each of those is the per-step layer itself: the flatten/reshape pair is the
identity per step and disappears. The rest of the mapping:

* ``x.unsqueeze(0).repeat(T, 1, 1, 1, 1)`` (direct coding): the IR input is one image ``(C, H, W)``;
  feed it ``T`` times (``numpy.repeat(img[None], T, 0)``) -- recorded in the graph's notes;
* Conv/Linear followed by BatchNorm (one or several): one Conv2d/Dense with the BNs folded in
  (:mod:`neurosim.passes.fold_bn`); a 1x1 ``Conv1d`` over the flattened tokens ``x.flatten(3)`` is
  the same 1x1 ``Conv2d`` on the ``(C, H, W)`` map (no reshape);
* ``a + b`` of the residual stream: several edges into each consumer (the IR sums a node's inputs);
* ``x.flatten(3).mean(3)`` (mean over the tokens): AvgPool2d over the whole map, then Flatten;
* ``head(x).mean(0)`` (mean over T): the readout -- the IR output is the per-step logits, their mean
  over the ``T`` steps is the model's output (recorded in the notes).

Supported containers: ``nn.Sequential`` and ``spikingjelly.activation_based.layer.SeqToANNContainer``
of Conv1d/Conv2d/Linear (+ BatchNorm1d/2d), AvgPool2d, Flatten, Identity/Dropout and multi-step
LIF/IF nodes; and the blocks of Spike-driven Transformer V2 / Meta-SpikeFormer (BICLab
``classification/models.py``, and :mod:`neurosim.zoo` which re-implements it), recognised by their class
name and checked attribute by attribute: ``Spiking_vit_MetaFormer``/``MetaSpikeFormer``,
``MS_DownSampling``, ``MS_ConvBlock``, ``SepConv``, ``MS_Block``, ``MS_MLP``,
``MS_Attention_RepConv_qkv_id`` and ``RepConv`` (with ``BNAndPadLayer``). In the attention, the Q, K and
V branches (same input, identical LIF layers) become one convolution to ``3C`` channels and one LIF
population feeding a :class:`~neurosim.ir.nodes.attention.SpikeMatMul` (``Q (K^T V) * scale``), whose
output feeds the attention LIF (threshold 0.5).

``repconv="chain"`` (default) keeps RepConv as three convolutions (1x1 with zero padding 1 -- exact for
BNAndPadLayer's value padding -- depthwise 3x3, 1x1) so that the IR's parameter count is the torch
model's minus the folded BatchNorm parameters plus the biases the folding creates; ``"merged"``
makes each RepConv+BN+BN one 3x3 convolution with bias (exact, more weights). Both counts are in the
graph's notes (``neurosim info`` prints them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurosim.errors import FrontendError, UnsupportedError
from neurosim.frontends.torch.base import Layer, Lowered, _projection
from neurosim.frontends.torch.builder import _Builder
from neurosim.frontends.torch.snn import _sj_node
from neurosim.ir.nodes import LIF, AvgPool2d, Conv2d, Dense, Flatten, IF
from neurosim.ir.nodes.attention import SpikeMatMul
from neurosim.passes import fold_bn

REPCONV_MODES = ("chain", "merged")
_SJ_NEURON = "spikingjelly.activation_based.neuron"
_NEURONS = {"LIFNode": LIF, "IFNode": IF}
#: SDT-V2 top-level classes (the original's name and neurosim.zoo's)
_TOP = ("Spiking_vit_MetaFormer", "MetaSpikeFormer")


def _sj_neuron_class(mod) -> str | None:
    """``LIFNode``/``IFNode`` for a SpikingJelly activation-based neuron module, else None."""
    cls = type(mod)
    if cls.__module__.startswith(_SJ_NEURON) and cls.__name__ in _NEURONS:
        return cls.__name__
    return None


def is_multistep(module) -> bool:
    """True when ``module`` holds a SpikingJelly neuron with ``step_mode="m"`` (a ``[T, B, ...]`` model)."""
    return any(_sj_neuron_class(m) and getattr(m, "step_mode", "s") == "m" for m in module.modules())


@dataclass
class _Lowering:
    """One multi-step import into the builder ``b``: the parameter bookkeeping and the block handlers."""

    b: _Builder
    repconv: str
    folded_bn: int = 0  # BatchNorm parameters folded away
    added_bias: int = 0  # bias entries created by folding into bias-free layers
    extra: int = 0  # parameters added by merging (merged RepConv: IR minus torch, excluding the above)
    notes: list[str] = field(default_factory=list)

    # -- nodes -----------------------------------------------------------------------------------
    def shape(self, src: tuple[str, ...], path: str, display: str) -> tuple[int, ...]:
        return self.b.shape_of(src, path, display)

    def node(self, node_or_lowered, path: str, display: str, src: tuple[str, ...]) -> tuple[str, ...]:
        lowered = node_or_lowered if isinstance(node_or_lowered, Lowered) else Lowered(node_or_lowered)
        layer = Layer(path, display, self.shape(src, path, display), 1)
        return self.b.add_lowered(lowered, layer, src)

    def conv(self, w, bias, path: str, display: str, src, *, stride=(1, 1), padding=(0, 0), groups=1):
        layer = Layer(path, display, self.shape(src, path, display), 1)
        lowered = _projection(Conv2d, layer, np.ascontiguousarray(w), None if bias is None else np.asarray(bias),
                              stride=tuple(stride), padding=tuple(padding), dilation=(1, 1), groups=int(groups))
        return self.b.add_lowered(lowered, layer, src)

    def neuron(self, mods, path: str, src: tuple[str, ...]) -> tuple[str, ...]:
        """One IR population for the multi-step neuron ``mods`` (several identical ones: fused, concatenated)."""
        mods = mods if isinstance(mods, (list, tuple)) else [mods]
        kinds = {_sj_neuron_class(m) for m in mods}
        first = mods[0]
        display = f"{_SJ_NEURON}.{_sj_neuron_class(first)}"
        if None in kinds or len(kinds) != 1:
            raise UnsupportedError(f"layer {path!r} is a {type(first).__name__} where a SpikingJelly LIFNode/IFNode "
                                   f"is expected; neurosim lowers multi-step models built of those neurons")
        for m in mods:
            if getattr(m, "step_mode", "s") != "m":
                raise UnsupportedError(
                    f"layer {path!r} ({display}) has step_mode={m.step_mode!r} inside a multi-step model; "
                    f"set step_mode='m' on every neuron (functional.set_step_mode(model, 'm'))")
        key = [(float(m.v_threshold), m.v_reset, float(getattr(m, "tau", 0.0)), bool(getattr(m, "decay_input", 1)))
               for m in mods]
        if len(set(key)) != 1:
            raise UnsupportedError(f"layer {path!r}: the Q, K and V neurons differ ({key!r}); neurosim fuses them "
                                   f"into one population and needs the same tau, threshold and reset")
        shape = self.shape(src, path, display)
        lowered = _sj_node(_NEURONS[_sj_neuron_class(first)])(first, Layer(path, display, shape, 1))
        if "spikingjelly" not in self.b.profiles:
            self.b.profiles.append("spikingjelly")
        return self.b.add_lowered(lowered, Layer(path, display, shape, 1), src)

    # -- folding ---------------------------------------------------------------------------------
    def bns(self, bns, path: str):
        """The composed affine map of the BatchNorms ``bns`` (applied in order)."""
        affine = None
        for i, bn in enumerate(bns):
            a = fold_bn.bn_of(bn, f"layer {path!r} (BatchNorm {i})")
            affine = a if affine is None else fold_bn.compose(affine, a)
            self.folded_bn += fold_bn.bn_parameters(bn)
        return affine

    def folded(self, conv, bns, path: str):
        """``(weight, bias)`` of ``conv`` (Conv1d k=1 / Conv2d) with the BatchNorms ``bns`` folded in, as a 2-D conv."""
        w = conv.weight.detach().cpu().double().numpy()
        b = None if conv.bias is None else conv.bias.detach().cpu().double().numpy()
        if w.ndim == 3:  # Conv1d over flattened tokens: a 1x1 Conv2d on the (C, H, W) map
            if w.shape[2] != 1 or tuple(conv.stride) != (1,) or tuple(conv.padding) != (0,):
                raise UnsupportedError(f"layer {path!r} is a Conv1d with kernel {tuple(conv.kernel_size)!r}, stride "
                                       f"{tuple(conv.stride)!r}, padding {conv.padding!r} over flattened tokens; "
                                       f"neurosim lowers 1x1 token convolutions (kernel 1, stride 1, no padding) only")
            w = w[..., None]
        if not bns:
            return w, b
        if b is None:
            self.added_bias += w.shape[0]
        return fold_bn.fold(w, b, self.bns(bns, path))

    def conv_bn(self, conv, bns, path: str, src, display="torch.nn.Conv2d"):
        if getattr(conv, "padding_mode", "zeros") != "zeros" or isinstance(conv.padding, str) or \
                any(int(d) != 1 for d in conv.dilation):
            raise UnsupportedError(f"layer {path!r} ({display}) has padding {conv.padding!r}, padding_mode "
                                   f"{conv.padding_mode!r}, dilation {tuple(conv.dilation)!r}; neurosim lowers integer "
                                   f"zero padding without dilation here")
        w, b = self.folded(conv, bns, path)
        if conv.weight.ndim == 3:  # a 1x1 Conv1d (checked in folded): 1x1 Conv2d
            stride, padding = (1, 1), (0, 0)
        else:
            stride, padding = tuple(conv.stride), tuple(conv.padding)
        return self.conv(w, b, path, display + (" + BatchNorm (folded)" if bns else ""), src, stride=stride,
                         padding=padding, groups=conv.groups)

    # -- RepConv ---------------------------------------------------------------------------------
    def repconv_parts(self, seq, path: str):
        """The folded convs of ``nn.Sequential(RepConv, BatchNorm2d)`` as ``[(w, b, padding, groups)]``."""
        rep, outer = _unpack_repconv(seq, path)
        conv1, bnpad, dw, conv3, bn3 = rep.body[0], rep.body[1], rep.body[2][0], rep.body[2][1], rep.body[2][2]
        p = int(bnpad.pad_pixels)
        w1, t1 = self.folded(conv1, [bnpad.bn], f"{path}.0.body.0")
        w2 = dw.weight.detach().cpu().double().numpy()
        b2 = None if dw.bias is None else dw.bias.detach().cpu().double().numpy()
        w3, b3 = self.folded(conv3, [bn3, outer], f"{path}.0.body.2.1")
        if self.repconv == "chain":
            return [(w1, t1, (p, p), 1), (w2, b2, (0, 0), int(dw.groups)), (w3, b3, (0, 0), 1)]
        if int(dw.groups) != w2.shape[0] or w2.shape[1] != 1:
            raise UnsupportedError(f"layer {path!r}: RepConv's middle conv has groups={dw.groups!r}; merging it "
                                   f"needs a depthwise conv: use repconv='chain'")
        k, bias = fold_bn.merge_repconv(w1, t1, w2, w3, b3 if b2 is None else b3 + w3[:, :, 0, 0] @ b2)
        before = w1.size + t1.size + w2.size + (0 if b2 is None else b2.size) + w3.size + b3.size
        self.extra += k.size + bias.size - before
        return [(k, bias, (p, p), 1)]

    def repconv_branches(self, seqs, path: str, src, display: str) -> tuple[str, ...]:
        """One or several RepConv+BN branches of the same input, fused on the output channels."""
        parts = [self.repconv_parts(s, f"{path}" if len(seqs) == 1 else f"{path}[{i}]") for i, s in enumerate(seqs)]
        out = src
        for j, stage in enumerate(zip(*parts)):
            n = len(stage)
            w = np.concatenate([s[0] for s in stage], axis=0)
            biases = [s[1] for s in stage]
            b = None if all(x is None for x in biases) else np.concatenate(
                [np.zeros(s[0].shape[0]) if x is None else x for s, x in zip(stage, biases)])
            # stage 0 reads the shared input (groups 1); later stages read their own branch: n x the groups
            groups = stage[0][3] * n if j > 0 else stage[0][3]
            out = self.conv(w, b, f"{path}.{j}", display, out, padding=stage[0][2], groups=groups)
        return out


def _join(path: str, name: str) -> str:
    """The module path of child ``name`` of the module at ``path`` (``""`` is the root)."""
    return f"{path}.{name}" if path else name


def _unpack_repconv(seq, path: str):
    import torch.nn as nn

    ok = isinstance(seq, nn.Sequential) and len(seq) == 2 and type(seq[0]).__name__ == "RepConv" and \
        isinstance(seq[1], nn.BatchNorm2d)
    if ok:
        body = getattr(seq[0], "body", None)
        ok = isinstance(body, nn.Sequential) and len(body) == 3 and isinstance(body[0], nn.Conv2d) and \
            type(body[1]).__name__ == "BNAndPadLayer" and isinstance(body[2], nn.Sequential) and len(body[2]) == 3 \
            and isinstance(body[2][0], nn.Conv2d) and isinstance(body[2][1], nn.Conv2d) and \
            isinstance(body[2][2], nn.BatchNorm2d) and body[0].kernel_size == (1, 1) and \
            body[2][1].kernel_size == (1, 1) and body[2][0].padding == (0, 0) and body[0].bias is None
    if not ok:
        raise UnsupportedError(f"layer {path!r} is not Sequential(RepConv(1x1, BNAndPadLayer, Sequential(depthwise, "
                               f"1x1, BatchNorm2d)), BatchNorm2d) as in Spike-driven Transformer V2; neurosim lowers "
                               f"that structure only")
    return seq[0], seq[1]


# -- blocks ----------------------------------------------------------------------------------------


def _downsampling(lw: _Lowering, mod, path: str, src):
    if hasattr(mod, "encode_lif"):
        src = lw.neuron(mod.encode_lif, _join(path, "encode_lif"), src)
    return lw.conv_bn(mod.encode_conv, [mod.encode_bn], _join(path, "encode_conv"), src)


def _sepconv(lw: _Lowering, mod, path: str, src):
    x = lw.neuron(mod.lif1, _join(path, "lif1"), src)
    x = lw.conv_bn(mod.pwconv1, [mod.bn1], _join(path, "pwconv1"), x)
    x = lw.neuron(mod.lif2, _join(path, "lif2"), x)
    x = lw.conv_bn(mod.dwconv, [], _join(path, "dwconv"), x)
    return lw.conv_bn(mod.pwconv2, [mod.bn2], _join(path, "pwconv2"), x)


def _convblock(lw: _Lowering, mod, path: str, src):
    x = _sepconv(lw, mod.Conv, _join(path, "Conv"), src) + src  # x = SepConv(x) + x: both edges feed the consumers
    y = lw.neuron(mod.lif1, _join(path, "lif1"), x)
    y = lw.conv_bn(mod.conv1, [mod.bn1], _join(path, "conv1"), y)
    y = lw.neuron(mod.lif2, _join(path, "lif2"), y)
    return lw.conv_bn(mod.conv2, [mod.bn2], _join(path, "conv2"), y) + x


def _mlp(lw: _Lowering, mod, path: str, src):
    x = lw.neuron(mod.fc1_lif, _join(path, "fc1_lif"), src)
    x = lw.conv_bn(mod.fc1_conv, [mod.fc1_bn], _join(path, "fc1_conv"), x, display="torch.nn.Conv1d (as 1x1 Conv2d)")
    x = lw.neuron(mod.fc2_lif, _join(path, "fc2_lif"), x)
    return lw.conv_bn(mod.fc2_conv, [mod.fc2_bn], _join(path, "fc2_conv"), x, display="torch.nn.Conv1d (as 1x1 Conv2d)")


def _attention(lw: _Lowering, mod, path: str, src):
    dim, heads = int(mod.dim), int(mod.num_heads)
    if dim % heads:
        raise UnsupportedError(f"layer {path!r}: dim {dim!r} is not a multiple of num_heads {heads!r}")
    x = lw.neuron(mod.head_lif, _join(path, "head_lif"), src)
    qkv = lw.repconv_branches([mod.q_conv, mod.k_conv, mod.v_conv], _join(path, "qkv_conv"), x,
                     "RepConv + BatchNorm (folded; Q, K, V fused)")
    qkv = lw.neuron([mod.q_lif, mod.k_lif, mod.v_lif], _join(path, "qkv_lif"), qkv)
    y = lw.node(SpikeMatMul(heads=heads, scale=float(mod.scale)), _join(path, "kv"), "Q (K^T V) * scale", qkv)
    y = lw.neuron(mod.attn_lif, _join(path, "attn_lif"), y)
    return lw.repconv_branches([mod.proj_conv], _join(path, "proj_conv"), y, "RepConv + BatchNorm (folded)")


def _block(lw: _Lowering, mod, path: str, src):
    x = _attention(lw, mod.attn, _join(path, "attn"), src) + src
    return _mlp(lw, mod.mlp, _join(path, "mlp"), x) + x


def _top(lw: _Lowering, mod, path: str, src):
    import torch.nn as nn

    T = int(getattr(mod, "T", 1))
    x = src
    for name, child in mod.named_children():
        if name in ("lif", "head"):
            continue
        x = _lower(lw, child, f"{path}.{name}" if path else name, x)
    c, h, w = lw.shape(x, "head", "mean over tokens")
    x = lw.node(AvgPool2d(kernel_size=(h, w)), "tokens_mean", "mean over tokens (x.flatten(3).mean(3))", x)
    x = lw.node(Flatten(start_dim=0, end_dim=-1), "tokens_mean.flatten", "flatten", x)
    x = lw.neuron(mod.lif, "lif", x)
    head = mod.head
    if isinstance(head, nn.Linear):
        layer = Layer("head", "torch.nn.Linear", lw.shape(x, "head", "torch.nn.Linear"), 1)
        bias = None if head.bias is None else head.bias.detach().cpu().double().numpy()
        x = lw.b.add_lowered(_projection(Dense, layer, head.weight.detach().cpu().double().numpy(), bias), layer, x)
    lw.notes.append(f"direct coding: the model repeats its input image T={T} times (x.unsqueeze(0).repeat(T, ...)); "
                    f"feed the IR input the same image at each of the {T} steps")
    lw.notes.append(f"readout: the model's output is the mean over the T={T} steps of the IR output (head(x).mean(0))")
    return x


def _sequential(lw: _Lowering, mod, path: str, src):
    """A Sequential / SeqToANNContainer / ModuleList of supported layers, Conv/Linear + BN folded."""
    import torch.nn as nn

    children = list(mod._modules.items())
    x, i = src, 0
    while i < len(children):
        key, child = children[i]
        cpath = f"{path}.{key}" if path else key
        bns = []
        while isinstance(child, (nn.Conv1d, nn.Conv2d, nn.Linear)) and i + 1 + len(bns) < len(children) and \
                isinstance(children[i + 1 + len(bns)][1], (nn.BatchNorm1d, nn.BatchNorm2d)):
            bns.append(children[i + 1 + len(bns)][1])
        if isinstance(child, nn.Linear):
            w, b = child.weight.detach().cpu().double().numpy(), None if child.bias is None else \
                child.bias.detach().cpu().double().numpy()
            if bns:
                if b is None:
                    lw.added_bias += w.shape[0]
                w, b = fold_bn.fold(w, b, lw.bns(bns, cpath))
            layer = Layer(cpath, "torch.nn.Linear", lw.shape(x, cpath, "torch.nn.Linear"), 1)
            x = lw.b.add_lowered(_projection(Dense, layer, w, b), layer, x)
        elif isinstance(child, (nn.Conv1d, nn.Conv2d)):
            x = lw.conv_bn(child, bns, cpath, x, display=f"torch.nn.{type(child).__name__}")
        elif isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
            raise UnsupportedError(f"layer {cpath!r} ({type(child).__name__}) does not follow a convolution or linear "
                                   f"layer; neurosim folds BatchNorm into the layer before it: put it after a "
                                   f"Conv/Linear")
        else:
            x = _lower(lw, child, cpath, x)
        i += 1 + len(bns)
    return x


def _pool(lw: _Lowering, mod, path: str, src):
    from neurosim.frontends.torch.layers import _avgpool2d

    layer = Layer(path, "torch.nn.AvgPool2d", lw.shape(src, path, "torch.nn.AvgPool2d"), 1)
    return lw.b.add_lowered(_avgpool2d(mod, layer), layer, src)


def _flatten(lw: _Lowering, mod, path: str, src):
    # in a multi-step model Flatten runs on [T*B, ...] (SeqToANNContainer) -- start_dim 1 is the first per-step axis
    start, end = int(mod.start_dim), int(mod.end_dim)
    per = (start - 1 if start > 0 else start), (end - 1 if end > 0 else end)
    return lw.node(Flatten(start_dim=per[0], end_dim=per[1]), path, "torch.nn.Flatten", src)


#: SDT-V2 block classes, by class name
_BLOCKS = {"MS_DownSampling": _downsampling, "MS_ConvBlock": _convblock, "SepConv": _sepconv, "MS_Block": _block,
           "MS_MLP": _mlp, "MS_Attention_RepConv_qkv_id": _attention, **{n: _top for n in _TOP}}


def _lower(lw: _Lowering, mod, path: str, src) -> tuple[str, ...]:
    import torch.nn as nn

    name = type(mod).__name__
    if name in _BLOCKS:
        return _BLOCKS[name](lw, mod, path, src)
    if _sj_neuron_class(mod):
        return lw.neuron(mod, path, src)
    if isinstance(mod, (nn.Sequential, nn.ModuleList)) or name == "SeqToANNContainer":
        return _sequential(lw, mod, path, src)
    if isinstance(mod, (nn.Identity, nn.Dropout)):
        return src
    if isinstance(mod, nn.AvgPool2d):
        return _pool(lw, mod, path, src)
    if isinstance(mod, nn.Flatten):
        return _flatten(lw, mod, path, src)
    if isinstance(mod, (nn.Conv1d, nn.Conv2d, nn.Linear)):
        return _sequential(lw, nn.Sequential(mod), path.rsplit(".", 1)[0] if "." in path else "", src)
    raise UnsupportedError(
        f"layer {path!r} is a {type(mod).__module__}.{name} in a SpikingJelly multi-step model, which neurosim cannot "
        f"lower; supported: nn.Sequential, SeqToANNContainer, Conv1d/Conv2d/Linear (+ BatchNorm), AvgPool2d, Flatten, "
        f"Identity, Dropout, multi-step LIFNode/IFNode and the Spike-driven Transformer V2 blocks "
        f"{sorted(_BLOCKS)!r}")


def lower_multistep(b: _Builder, module, *, repconv: str = "chain") -> tuple[str, ...]:
    """Lower the multi-step ``module`` into the builder ``b`` (fed by its input); returns the output sources.

    Adds the parameter bookkeeping (source count, folded BatchNorm, created biases) to the notes.
    """
    if repconv not in REPCONV_MODES:
        raise FrontendError(f"repconv must be one of {REPCONV_MODES!r}, found {repconv!r}")
    if module.training:
        raise FrontendError(f"the multi-step model {type(module).__name__} is in training mode (BatchNorm uses batch "
                            f"statistics); call model.eval() before importing it")
    lw = _Lowering(b, repconv)
    out = _lower(lw, module, "", ("input",))
    source = sum(int(p.numel()) for p in module.parameters())
    ir = source - lw.folded_bn + lw.added_bias + lw.extra
    merged = f" + {lw.extra:,} from merging each RepConv into one 3x3 conv" if lw.extra else ""
    b.note(*lw.notes,
           f"source_params={source} (the torch model's parameters, sum of p.numel(): the model's parameter count)",
           f"ir_params={ir}: source_params - {lw.folded_bn:,} BatchNorm parameters folded into the preceding "
           f"convolutions + {lw.added_bias:,} biases those folds created{merged}",
           "SpikingJelly multi-step model: each layer run on x.flatten(0, 1) is lowered as the per-step layer; the "
           "IR steps the T timesteps one at a time")
    return out


def from_spikingjelly(module, input_shape, *, repconv: str = "chain", name_prefix: str = ""):
    """Import a SpikingJelly multi-step ``module`` (``[T, B, ...]`` in, see the module docstring) into an IR graph.

    ``input_shape``: one timestep of one sample, e.g. ``(3, 224, 224)``. ``repconv``: ``"chain"`` or
    ``"merged"`` (module docstring). :func:`neurosim.frontends.torch.from_torch` calls this with the
    default for any model that :func:`is_multistep`.
    """
    from neurosim.frontends.torch.convert import _input_shape
    from neurosim.frontends.torch.registry import _registry

    shape = _input_shape(input_shape)
    b = _Builder(shape, name_prefix, _registry(), 1)
    b.dnn_adds = False
    out = lower_multistep(b, module, repconv=repconv)
    return b.finish(out, "spikingjelly")
