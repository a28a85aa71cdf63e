"""torch modules of Meta-SpikeFormer (Spike-driven Transformer V2, Yao et al., ICLR 2024).

Re-implemented from the published structure of BICLab/Spike-Driven-Transformer-V2
``classification/models.py`` (commit 35f245f4f79acf1a2b3ef22698c58ab05c1ede33): the same module
hierarchy and attribute names, so ``state_dict()`` keys and shapes equal the original's one for one
(checked in ``tests/zoo/test_spikeformer.py``). Imported lazily by :func:`neurosim.zoo.meta_spikeformer`;
this module imports torch and SpikingJelly at top level.

The neuron: the original uses SpikingJelly 0.0.0.0.12 ``clock_driven.neuron.MultiStepLIFNode(tau=2.0,
detach_reset=True, backend="cupy")`` (``v_threshold=0.5`` in the attention). Its modern equivalent,
with the same dynamics and no parameters, is ``activation_based.neuron.LIFNode(tau=2.0,
detach_reset=True, step_mode="m")``, which neurosim's torch frontend already lowers
(``registry.py``: ``spikingjelly.activation_based.neuron.LIFNode`` -> IR ``LIF``). Per element, over
the leading time axis ``t`` of a ``[T, B, ...]`` tensor (``v[-1] = 0``, ``tau = 2``)::

    h[t] = v[t-1] + (x[t] - v[t-1]) / tau        # decay 1 - 1/tau = 0.5, input gain 1/tau = 0.5
    s[t] = [h[t] >= v_threshold]                 # 1.0 for threshold 1.0, 0.5 in the attention
    v[t] = h[t] * (1 - s[t])                     # hard reset to v_reset = 0

Convolutions run on ``x.flatten(0, 1)`` (time folded into the batch), exactly as the original.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from spikingjelly.activation_based import neuron
from torch import nn


def lif(v_threshold: float = 1.0) -> nn.Module:
    """The multi-step LIF of the original (tau = 2, hard reset to 0, reset detached)."""
    return neuron.LIFNode(tau=2.0, v_threshold=v_threshold, detach_reset=True, step_mode="m")


class BNAndPadLayer(nn.Module):
    """BatchNorm2d, then pad ``pad_pixels`` on each side with the value BN gives a zero input.

    Padding with ``bias - mean * weight / sqrt(var + eps)`` (not zero) lets RepConv's 1x1 -> BN ->
    unpadded 3x3 depthwise be re-parameterised into one 3x3 conv.
    """

    def __init__(self, pad_pixels: int, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features, eps, momentum)
        self.pad_pixels = pad_pixels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn(x)
        p = self.pad_pixels
        if p > 0:
            bn = self.bn
            pad = (bn.bias.detach() - bn.running_mean * bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps))
            out = F.pad(out, [p] * 4)
            pad = pad.view(1, -1, 1, 1)
            out[:, :, :p, :] = pad
            out[:, :, -p:, :] = pad
            out[:, :, :, :p] = pad
            out[:, :, :, -p:] = pad
        return out


class RepConv(nn.Module):
    """1x1 conv -> BN with value padding -> 3x3 depthwise (no padding) -> 1x1 conv -> BN (all bias-free)."""

    def __init__(self, in_channel: int, out_channel: int, bias: bool = False):
        super().__init__()
        conv1x1 = nn.Conv2d(in_channel, in_channel, 1, 1, 0, bias=False)
        bn = BNAndPadLayer(pad_pixels=1, num_features=in_channel)
        conv3x3 = nn.Sequential(
            nn.Conv2d(in_channel, in_channel, 3, 1, 0, groups=in_channel, bias=False),
            nn.Conv2d(in_channel, out_channel, 1, 1, 0, bias=False),
            nn.BatchNorm2d(out_channel),
        )
        self.body = nn.Sequential(conv1x1, bn, conv3x3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class SepConv(nn.Module):
    """MobileNetV2 inverted separable conv: LIF, 1x1 to 2*dim + BN, LIF, 7x7 depthwise, 1x1 to dim + BN."""

    def __init__(self, dim: int, expansion_ratio: int = 2, kernel_size: int = 7, padding: int = 3):
        super().__init__()
        med = int(expansion_ratio * dim)
        self.lif1 = lif()
        self.pwconv1 = nn.Conv2d(dim, med, kernel_size=1, stride=1, bias=False)
        self.bn1 = nn.BatchNorm2d(med)
        self.lif2 = lif()
        self.dwconv = nn.Conv2d(med, med, kernel_size=kernel_size, padding=padding, groups=med, bias=False)
        self.pwconv2 = nn.Conv2d(med, dim, kernel_size=1, stride=1, bias=False)
        self.bn2 = nn.BatchNorm2d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, B, _, H, W = x.shape
        x = self.lif1(x)
        x = self.bn1(self.pwconv1(x.flatten(0, 1))).reshape(T, B, -1, H, W)
        x = self.lif2(x)
        x = self.dwconv(x.flatten(0, 1))
        return self.bn2(self.pwconv2(x)).reshape(T, B, -1, H, W)


class MS_ConvBlock(nn.Module):
    """x += SepConv(x); x += BN(conv3x3(LIF(BN(conv3x3(LIF(x)))))) with a 4x channel expansion."""

    def __init__(self, dim: int, mlp_ratio: int = 4):
        super().__init__()
        self.Conv = SepConv(dim=dim)
        self.lif1 = lif()
        self.conv1 = nn.Conv2d(dim, dim * mlp_ratio, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(dim * mlp_ratio)
        self.lif2 = lif()
        self.conv2 = nn.Conv2d(dim * mlp_ratio, dim, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(dim)
        self.mlp_ratio = mlp_ratio

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, B, C, H, W = x.shape
        x = self.Conv(x) + x
        x_feat = x
        x = self.bn1(self.conv1(self.lif1(x).flatten(0, 1))).reshape(T, B, self.mlp_ratio * C, H, W)
        x = self.bn2(self.conv2(self.lif2(x).flatten(0, 1))).reshape(T, B, C, H, W)
        return x_feat + x


class MS_MLP(nn.Module):
    """LIF, 1x1 Conv1d (with bias) to the hidden width + BN1d, LIF, 1x1 Conv1d back + BN1d, over N = H*W tokens."""

    def __init__(self, in_features: int, hidden_features: int):
        super().__init__()
        self.fc1_conv = nn.Conv1d(in_features, hidden_features, kernel_size=1, stride=1)
        self.fc1_bn = nn.BatchNorm1d(hidden_features)
        self.fc1_lif = lif()
        self.fc2_conv = nn.Conv1d(hidden_features, in_features, kernel_size=1, stride=1)
        self.fc2_bn = nn.BatchNorm1d(in_features)
        self.fc2_lif = lif()
        self.c_hidden = hidden_features
        self.c_output = in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, B, C, H, W = x.shape
        x = self.fc1_lif(x.flatten(3))
        x = self.fc1_bn(self.fc1_conv(x.flatten(0, 1))).reshape(T, B, self.c_hidden, H * W)
        x = self.fc2_lif(x)
        return self.fc2_bn(self.fc2_conv(x.flatten(0, 1))).reshape(T, B, C, H, W)


class MS_Attention_RepConv_qkv_id(nn.Module):
    """Spike-driven self-attention (SDSA-3 of the paper).

    ``x = LIF(x)``; ``Q, K, V = LIF(BN(RepConv(x)))`` (spike tensors ``[T, B, heads, N, C/heads]``);
    ``y = LIF_{0.5}((Q @ (K^T @ V)) * 0.125)``: both matmuls have two spike operands (no weights);
    then ``BN(RepConv(y))``.
    """

    def __init__(self, dim: int, num_heads: int = 8):
        super().__init__()
        self.dim = dim
        self.num_heads = num_heads
        self.scale = 0.125
        self.head_lif = lif()
        self.q_conv = nn.Sequential(RepConv(dim, dim), nn.BatchNorm2d(dim))
        self.k_conv = nn.Sequential(RepConv(dim, dim), nn.BatchNorm2d(dim))
        self.v_conv = nn.Sequential(RepConv(dim, dim), nn.BatchNorm2d(dim))
        self.q_lif = lif()
        self.k_lif = lif()
        self.v_lif = lif()
        self.attn_lif = lif(v_threshold=0.5)
        self.proj_conv = nn.Sequential(RepConv(dim, dim), nn.BatchNorm2d(dim))

    def _heads(self, s: torch.Tensor, T: int, B: int, N: int, C: int) -> torch.Tensor:
        return (s.flatten(3).transpose(-1, -2).reshape(T, B, N, self.num_heads, C // self.num_heads)
                .permute(0, 1, 3, 2, 4).contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, B, C, H, W = x.shape
        N = H * W
        x = self.head_lif(x)
        flat = x.flatten(0, 1)
        q = self._heads(self.q_lif(self.q_conv(flat).reshape(T, B, C, H, W)), T, B, N, C)
        k = self._heads(self.k_lif(self.k_conv(flat).reshape(T, B, C, H, W)), T, B, N, C)
        v = self._heads(self.v_lif(self.v_conv(flat).reshape(T, B, C, H, W)), T, B, N, C)
        x = k.transpose(-2, -1) @ v
        x = (q @ x) * self.scale
        x = x.transpose(3, 4).reshape(T, B, C, N).contiguous()
        x = self.attn_lif(x).reshape(T, B, C, H, W).flatten(0, 1)
        return self.proj_conv(x).reshape(T, B, C, H, W)


class MS_Block(nn.Module):
    """x += SDSA(x); x += MLP(x) (drop path 0: the original's nn.Identity)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: int = 4):
        super().__init__()
        self.attn = MS_Attention_RepConv_qkv_id(dim, num_heads=num_heads)
        self.drop_path = nn.Identity()
        self.mlp = MS_MLP(in_features=dim, hidden_features=int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.mlp(x)


class MS_DownSampling(nn.Module):
    """[LIF unless first layer], conv (with bias) of ``kernel_size``/``stride``/``padding``, BN."""

    def __init__(self, in_channels: int, embed_dims: int, kernel_size: int, stride: int, padding: int,
                 first_layer: bool):
        super().__init__()
        self.encode_conv = nn.Conv2d(in_channels, embed_dims, kernel_size=kernel_size, stride=stride,
                                     padding=padding)
        self.encode_bn = nn.BatchNorm2d(embed_dims)
        if not first_layer:
            self.encode_lif = lif()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, B = x.shape[:2]
        if hasattr(self, "encode_lif"):
            x = self.encode_lif(x)
        x = self.encode_conv(x.flatten(0, 1))
        _, _, H, W = x.shape
        return self.encode_bn(x).reshape(T, B, -1, H, W).contiguous()


class MetaSpikeFormer(nn.Module):
    """``Spiking_vit_MetaFormer`` of the original, with its fixed stage layout.

    Stage 1: 7x7/2 stem to ``d0/2``, ConvBlock, 3x3/2 to ``d0``, ConvBlock; stage 2: 3x3/2 to ``d1``,
    two ConvBlocks; stage 3: 3x3/2 to ``d2``, six MS_Blocks; stage 4: 3x3/1 to ``d3``, two MS_Blocks;
    head: mean over tokens, LIF, Linear, mean over time. Input ``[B, 3, H, W]`` is repeated ``T`` times
    (direct coding); output ``[B, num_classes]``.
    """

    def __init__(self, embed_dim, T: int = 1, in_channels: int = 3, num_classes: int = 1000,
                 num_heads: int = 8, mlp_ratio: int = 4):
        super().__init__()
        d = list(embed_dim)
        self.num_classes = num_classes
        self.T = T
        self.downsample1_1 = MS_DownSampling(in_channels, d[0] // 2, 7, 2, 3, first_layer=True)
        self.ConvBlock1_1 = nn.ModuleList([MS_ConvBlock(d[0] // 2, mlp_ratio)])
        self.downsample1_2 = MS_DownSampling(d[0] // 2, d[0], 3, 2, 1, first_layer=False)
        self.ConvBlock1_2 = nn.ModuleList([MS_ConvBlock(d[0], mlp_ratio)])
        self.downsample2 = MS_DownSampling(d[0], d[1], 3, 2, 1, first_layer=False)
        self.ConvBlock2_1 = nn.ModuleList([MS_ConvBlock(d[1], mlp_ratio)])
        self.ConvBlock2_2 = nn.ModuleList([MS_ConvBlock(d[1], mlp_ratio)])
        self.downsample3 = MS_DownSampling(d[1], d[2], 3, 2, 1, first_layer=False)
        self.block3 = nn.ModuleList([MS_Block(d[2], num_heads, mlp_ratio) for _ in range(6)])
        self.downsample4 = MS_DownSampling(d[2], d[3], 3, 1, 1, first_layer=False)
        self.block4 = nn.ModuleList([MS_Block(d[3], num_heads, mlp_ratio) for _ in range(2)])
        self.lif = lif()
        self.head = nn.Linear(d[3], num_classes) if num_classes > 0 else nn.Identity()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample1_1(x)
        for blk in self.ConvBlock1_1:
            x = blk(x)
        x = self.downsample1_2(x)
        for blk in self.ConvBlock1_2:
            x = blk(x)
        x = self.downsample2(x)
        for blk in (*self.ConvBlock2_1, *self.ConvBlock2_2):
            x = blk(x)
        x = self.downsample3(x)
        for blk in self.block3:
            x = blk(x)
        x = self.downsample4(x)
        for blk in self.block4:
            x = blk(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)
        x = self.forward_features(x)
        x = self.lif(x.flatten(3).mean(3))
        return self.head(x).mean(0)
