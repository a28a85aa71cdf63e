"""Import ``torch.nn.Module`` networks (spiking, and conventional DNNs) into the IR.

:func:`from_torch` reads an ``nn.Sequential`` (nested Sequentials are flattened) or any module
``torch.fx`` can trace, one timestep at a time: ``input_shape`` is the shape of one step of one
sample (no batch, no time axis). IR node names are the module paths (``0``, ``1``, ``net.2``;
a path the IR would not accept as a name gets ``layer`` in front). Errors name the module path and class, e.g. ``layer '3' (snntorch.Leaky)``.

One registry, :data:`.registry._ENTRIES`, maps each supported class to a converter; optional
frameworks are never imported here (a class is looked up only when its package is already loaded,
which it is whenever a model contains one of its modules). torch itself is imported inside functions.

Layer mapping (weights are copied as float64 of the torch values; every Dense/Conv weight goes
through :func:`neurosim.ir.nm.detect_nm` and a found N:M pattern is recorded as ``nm``):

=================================  ==========================================================
torch.nn.Linear                    Dense (bias kept)
torch.nn.Conv1d / Conv2d           Conv1d / Conv2d (padding 'same'/'valid' resolved to ints)
torch.nn.AvgPool2d                 AvgPool2d (count_include_pad=True, ceil_mode=False only)
torch.nn.Flatten                   Flatten, dims shifted past the batch (and sinabs' time) axis
torch.nn.Identity / Dropout        skipped (identity at inference)
neurosim.torch.LIF                 LIF(decay, threshold, reset, immediate, spike_rule='gt')
snntorch.Leaky                     LIF(beta clamped to [0, 1]); reset_delay -> 'delayed'
snntorch.Synaptic                  CubaLIF(syn_decay=alpha, syn_gain=1, current_lag=0)
snntorch.RLeaky                    LIF + projection ``<name>.rec`` on a one-step-delayed edge
spikingjelly LIFNode / IFNode      LIF / IF, spike_rule='ge', membrane relative to v_reset
sinabs LIF / IAF (and *Squeeze)    LIF / IF, or CubaLIF with tau_syn; MultiSpike -> 'multi'
sinabs SumPool2d                   SumPool2d
=================================  ==========================================================

Conventional (non-spiking) DNN layers lower to the IR's DNN nodes (:mod:`neurosim.ir.nodes.dnn`),
which the SAT training model reads and the neuromorphic engine refuses:

* ``ReLU``, ``ReLU6``, ``LeakyReLU``, ``Hardtanh`` -> ReLU(kind=...); also ``torch.relu``, ``F.relu``,
  ``F.relu6``, ``F.leaky_relu``, ``x.relu()``
* ``GELU``, ``SiLU``, ``Sigmoid``, ``Tanh``, ``Hardswish`` -> GELU(kind=...); also ``F.gelu``, ``F.silu``,
  ``torch.sigmoid``, ``torch.tanh``
* ``BatchNorm1d``/``BatchNorm2d`` -> BatchNorm(features, eps); ``LayerNorm`` -> LayerNorm (last axis
  only); the IR keeps no norm values (the SAT model needs none)
* ``MaxPool2d`` -> MaxPool2d (floor mode, no dilation)
* ``AdaptiveAvgPool2d(1)`` and ``F.adaptive_avg_pool2d(x, 1)`` -> GlobalAvgPool; an output size equal
  to the input size (VGG's (7, 7) on a 7x7 map) is the identity and is skipped
* ``Softmax(dim=-1)``, ``torch.softmax``/``F.softmax`` -> Softmax
* ``MultiheadAttention`` (self-attention, ``batch_first=True``, called ``attn(x, x, x)``) -> Dense
  ``<path>.q``/``.k``/``.v`` (rows of ``in_proj_weight`` split) -> MatMul ``.scores`` (heads,
  q k^T / sqrt(d)) -> Softmax ``.softmax`` -> MatMul ``.context`` (probs then v, heads
  merged) -> Dense ``.out_proj``; only item 0 of its ``(output, weights)`` may be used

Models built on torch's meta device have shapes but no values: their weights become
:func:`~neurosim.ir.nodes.base.shape_only` arrays (no memory) and N:M detection is skipped.

In an ``fx``-traced module, ``a + b`` (``operator.add``/``torch.add``/``+=``) of two branches is an
:class:`~neurosim.ir.nodes.Add` node when the model has no spiking neurons or either branch ends in a
DNN node; in spiking models it stays several edges into the next node (IR nodes sum their inputs).
``x + parameter`` is ``Add(constant=...)``. ``torch.flatten``/``x.flatten`` become Flatten;
``spk, mem = lif(x)`` with only ``spk`` used is accepted. Data movement without arithmetic
(reshape, view, permute, transpose, expand, squeeze/unsqueeze, slicing ``x[:, 0]``, ``torch.cat``
of a layer output with a parameter such as ViT's class token) becomes one
:class:`~neurosim.ir.nodes.Rearrange` per op; its shape comes from running the op on meta tensors
of a batch of one (so ``x.shape``/``x.size()`` arithmetic and ``torch._assert`` work and nothing
is computed on real data); ``contiguous`` and shape-keeping reshapes are skipped. The batch axis
must stay axis 0.

The package, by concern (this module only re-exports the public API):

=================  ===========================================================================
:mod:`.convert`    :func:`from_torch`: argument checks, walk, graph finish; :data:`PROFILES`
:mod:`.load`       :func:`load_torch_file`: reading ``.pt``/``.pth`` files (and refusing state dicts)
:mod:`.registry`   the class registry :data:`_ENTRIES`, hints, :func:`supported_layers`, names
:mod:`.base`       :class:`Layer`, :class:`Lowered`, registry rows, tensor-to-numpy helpers
:mod:`.layers`     weighted layers (Linear, Conv), average/sum pooling, Flatten, skipped layers
:mod:`.dnn`        DNN layers (activations, norms, max/adaptive pooling, Softmax) and functional forms
:mod:`.snn`        spiking neurons: neurosim.torch, snnTorch, SpikingJelly, Sinabs
:mod:`.builder`    the builder accumulating IR nodes, edges and notes
:mod:`.trace`      walking Sequentials and tracing other modules with torch.fx (node-kind registry)
:mod:`.context`    the state of one fx trace and the helpers its node handlers share
:mod:`.add`        ``a + b``: residual Add, summed edges, Add(constant)
:mod:`.attention`  self-attention (``nn.MultiheadAttention``) lowered to Dense/MatMul/Softmax
:mod:`.glue`       data movement (Rearrange) and shape code evaluated on meta tensors
=================  ===========================================================================
"""

from __future__ import annotations

from neurosim.frontends.torch.base import Layer, Lowered
from neurosim.frontends.torch.convert import PROFILES, from_torch
from neurosim.frontends.torch.load import load_torch_file
from neurosim.frontends.torch.registry import supported_layers

__all__ = ["PROFILES", "Layer", "Lowered", "from_torch", "load_torch_file", "supported_layers"]
