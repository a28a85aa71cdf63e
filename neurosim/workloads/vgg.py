"""Spiking VGG-11 for CIFAR-10 at real size (random, rate-calibrated weights).

VGG-11 is configuration "A" of Simonyan & Zisserman, "Very Deep Convolutional Networks for
Large-Scale Image Recognition", ICLR 2015, Table 1: eight 3x3 convolutions (stride 1, padding 1)
with 64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M channels (M = 2x2 pooling). Spiking
CIFAR versions (e.g. Sengupta et al., Front. Neurosci. 13, 2019) put a LIF after every convolution
and average pooling; here the classifier is one ``Dense`` (``hidden`` adds layers) and a LIF
readout. Batch norm is folded (see :mod:`neurosim.workloads._build` for the calibration).
"""

from __future__ import annotations

from neurosim.errors import IRError
from neurosim.ir import Graph
from neurosim.workloads._build import Builder, check_pool

#: VGG-11 (configuration A): channels, "M" = 2x2 pooling
CONFIG_A = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


def vgg11(input_px: int = 32, channels: int = 3, classes: int = 10, seed: int = 0, rate: float = 0.07,
          input_rate: float = 0.1, decay: float = 0.5, hidden: tuple[int, ...] = (), pool: str = "avg",
          config: tuple = CONFIG_A, calib_steps: int = 4) -> Graph:
    """Spiking VGG-11 on ``channels x input_px x input_px`` (CIFAR-10: 3 x 32 x 32, 10 classes).

    ``pool="avg"`` uses AvgPool2d (the float engine; the quantize pass folds it into SumPool2d and
    the next weights), ``"sum"`` SumPool2d. ``input_px`` must be a multiple of 32 (five poolings);
    32/64/128 give the benchmark's scaling curve. ``config`` may be shortened for quick tests."""
    n_pool = sum(1 for c in config if c == "M")
    if isinstance(input_px, bool) or not isinstance(input_px, int) or input_px < 2 ** n_pool or input_px % 2 ** n_pool:
        raise IRError(f"vgg11 input_px must be a positive multiple of {2 ** n_pool} ({n_pool} poolings), found {input_px!r}")
    pool = check_pool(pool)
    b = Builder(seed, rate, input_rate, decay, calib_steps=calib_steps)
    h = b.input((channels, input_px, input_px))
    conv = pooled = 0
    for c in config:
        if c == "M":
            pooled += 1
            h = b.pool(f"pool{pooled}", h, pool, 2)
        else:
            conv += 1
            h = b.conv_lif(f"conv{conv}", h, int(c), 3, 1, 1)
    h = b.flatten("flatten", h)
    for i, width in enumerate(hidden, 1):
        h = b.dense_lif(f"fc{i}", h, int(width))
    h = b.dense_lif("readout", h, classes)
    return b.graph(h)
