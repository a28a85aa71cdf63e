"""torch modules of SpikeGPT (Zhu et al., TMLR 2024), RWKV-v4 blocks with spiking activations.

Re-implemented from ridgerchu/SpikeGPT ``src/model.py`` (commit
029f86f0536f2b2451524038fc9890cc76c2429e; BSD-2-Clause): the same module hierarchy and parameter
names/shapes as its ``GPT`` (checked in ``tests/zoo/test_spikegpt.py``). The original's WKV is a CUDA
kernel (``cuda/wkv_cuda.cu``); :func:`wkv` is the same recurrence in plain torch. Imported lazily by
:func:`neurosim.zoo.spikegpt`; this module imports torch and SpikingJelly at top level.

Forward, for token ids ``idx [B, L]`` (the sequence axis ``L`` is the SNN's time axis):

* ``x = [emb(idx) >= 0]`` (the original's ``surrogate.ATan()`` module: a Heaviside in the forward pass);
* per block ``l``: ``x = LN0(x)`` (block 0 only); ``x += LIF(TimeMix(LN1(x)))``;
  ``x += LIF(ChannelMix(LN2(x)))``; dropout 0.03;
* ``logits = head(LN_out(x))``.

The LIFs run over tokens: SpikingJelly ``LIFNode(tau=2, v_threshold=1, surrogate ATan(alpha=2),
detach_reset=False, step_mode="m")`` on ``x.permute(1, 0, 2)`` (``[L, B, C]``), the modern form of the
original's ``clock_driven.neuron.MultiStepLIFNode(tau=2., v_threshold=1., backend='cupy')``:
``h = v + (x - v)/2``, ``s = [h >= 1]``, ``v = h (1 - s)``.
"""

from __future__ import annotations

import math

import torch
from spikingjelly.activation_based import neuron, surrogate
from torch import nn


def wkv(time_decay: torch.Tensor, time_first: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """RWKV-v4's WKV over ``k, v [B, L, C]`` (``w = -exp(time_decay)``, ``u = time_first``)::

        y[t] = (sum_{i<t} e^{(t-1-i) w + k_i} v_i + e^{u + k_t} v_t) / (sum_{i<t} e^{(t-1-i) w + k_i} + e^{u + k_t})

    computed as ``cuda/wkv_cuda.cu`` does (running sums ``p, q`` scaled by ``e^{-o}``), in float32.
    """
    w = -torch.exp(time_decay.float())
    u = time_first.float()
    k = k.float()
    v = v.float()
    B, L, C = k.shape
    p = torch.zeros(B, C, dtype=torch.float32, device=k.device)
    q = torch.zeros_like(p)
    o = torch.full_like(p, -1e38)
    out = []
    for t in range(L):
        kt, vt = k[:, t], v[:, t]
        no = torch.maximum(o, u + kt)
        a = torch.exp(o - no)
        b = torch.exp(u + kt - no)
        out.append((a * p + b * vt) / (a * q + b))
        no = torch.maximum(w + o, kt)
        a = torch.exp(w + o - no)
        b = torch.exp(kt - no)
        p = a * p + b * vt
        q = a * q + b
        o = no
    return torch.stack(out, dim=1)


def _mix_ramp(n_embd: int) -> torch.Tensor:
    return (torch.arange(n_embd, dtype=torch.float32) / n_embd).reshape(1, 1, n_embd)


class RWKV_TimeMix(nn.Module):
    """Token shift, k/v/r projections, ``sigmoid(r) * WKV(k, v)``, output projection (all bias-free)."""

    def __init__(self, n_embd: int, n_layer: int, layer_id: int):
        super().__init__()
        self.layer_id = layer_id
        r01 = layer_id / (n_layer - 1) if n_layer > 1 else 0.0
        r10 = 1.0 - layer_id / n_layer
        # the original's deterministic "fancy init" of the per-channel time parameters (Python floats,
        # rounded to float32 once, as the original's element-wise assignment does)
        self.time_decay = nn.Parameter(torch.tensor(
            [-5 + 8 * (h / max(n_embd - 1, 1)) ** (0.7 + 1.3 * r01) for h in range(n_embd)], dtype=torch.float32))
        zigzag = torch.tensor([(i + 1) % 3 - 1 for i in range(n_embd)], dtype=torch.float32) * 0.5
        self.time_first = nn.Parameter(torch.ones(n_embd) * math.log(0.3) + zigzag)
        x = _mix_ramp(n_embd)
        self.time_mix_k = nn.Parameter(torch.pow(x, r10))
        self.time_mix_v = nn.Parameter(torch.pow(x, r10) + 0.3 * r01)
        self.time_mix_r = nn.Parameter(torch.pow(x, 0.5 * r10))
        self.time_shift = nn.ZeroPad2d((0, 0, 1, -1))
        self.key = nn.Linear(n_embd, n_embd, bias=False)
        self.value = nn.Linear(n_embd, n_embd, bias=False)
        self.receptance = nn.Linear(n_embd, n_embd, bias=False)
        self.output = nn.Linear(n_embd, n_embd, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xx = self.time_shift(x)
        xk = x * self.time_mix_k + xx * (1 - self.time_mix_k)
        xv = x * self.time_mix_v + xx * (1 - self.time_mix_v)
        xr = x * self.time_mix_r + xx * (1 - self.time_mix_r)
        sr = torch.sigmoid(self.receptance(xr))
        return self.output(sr * wkv(self.time_decay, self.time_first, self.key(xk), self.value(xv)).to(x.dtype))


class RWKV_ChannelMix(nn.Module):
    """Token shift, ``sigmoid(r(x_r)) * value(relu(key(x_k))^2)`` with a 4x hidden width (bias-free)."""

    def __init__(self, n_embd: int, n_layer: int, layer_id: int):
        super().__init__()
        self.layer_id = layer_id
        self.time_shift = nn.ZeroPad2d((0, 0, 1, -1))
        r10 = 1.0 - layer_id / n_layer
        x = _mix_ramp(n_embd)
        self.time_mix_k = nn.Parameter(torch.pow(x, r10))
        self.time_mix_r = nn.Parameter(torch.pow(x, r10))
        self.key = nn.Linear(n_embd, 4 * n_embd, bias=False)
        self.receptance = nn.Linear(n_embd, n_embd, bias=False)
        self.value = nn.Linear(4 * n_embd, n_embd, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xx = self.time_shift(x)
        xk = x * self.time_mix_k + xx * (1 - self.time_mix_k)
        xr = x * self.time_mix_r + xx * (1 - self.time_mix_r)
        kv = self.value(torch.square(torch.relu(self.key(xk))))
        return torch.sigmoid(self.receptance(xr)) * kv


def _lif() -> nn.Module:
    return neuron.LIFNode(tau=2.0, v_threshold=1.0, surrogate_function=surrogate.ATan(alpha=2.0),
                          step_mode="m")


class Block(nn.Module):
    """``x = LN0(x)`` (block 0); ``x += LIF(att(LN1 x))``; ``x += LIF(ffn(LN2 x))``; dropout 0.03."""

    def __init__(self, n_embd: int, n_layer: int, layer_id: int):
        super().__init__()
        self.layer_id = layer_id
        self.ln1 = nn.LayerNorm(n_embd)
        self.ln2 = nn.LayerNorm(n_embd)
        self.lif1 = _lif()
        self.lif2 = _lif()
        self.dropout = nn.Dropout(0.03)
        if layer_id == 0:
            self.ln0 = nn.LayerNorm(n_embd)
        self.att = RWKV_TimeMix(n_embd, n_layer, layer_id)
        self.ffn = RWKV_ChannelMix(n_embd, n_layer, layer_id)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.layer_id == 0:
            x = self.ln0(x)
        x = x + self.lif1(self.att(self.ln1(x)).permute(1, 0, 2)).permute(1, 0, 2)
        x = x + self.lif2(self.ffn(self.ln2(x)).permute(1, 0, 2)).permute(1, 0, 2)
        return self.dropout(x)


class Heaviside(nn.Module):
    """``[x >= 0]`` with the ATan(alpha=2) surrogate gradient: the original's ``self.atan`` on the embedding."""

    def __init__(self):
        super().__init__()
        self.fn = surrogate.ATan(alpha=2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


class GPT(nn.Module):
    """Embedding -> spike -> ``n_layer`` Blocks -> LN_out -> head (``RWKV_HEAD_QK_DIM = 0`` as published)."""

    def __init__(self, vocab_size: int, n_embd: int, n_layer: int, ctx_len: int = 1024):
        super().__init__()
        self.ctx_len = ctx_len
        self.emb = nn.Embedding(vocab_size, n_embd)
        self.blocks = nn.Sequential(*[Block(n_embd, n_layer, i) for i in range(n_layer)])
        self.atan = Heaviside()
        self.ln_out = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size, bias=False)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.atan(self.emb(idx))
        x = self.blocks(x)
        return self.head(self.ln_out(x))
