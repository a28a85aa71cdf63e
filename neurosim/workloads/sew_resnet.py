"""SEW-ResNet-18 (ADD) of Fang et al., NeurIPS 2021, at real size (random, rate-calibrated weights).

W. Fang, Z. Yu, Y. Chen, T. Huang, T. Masquelier, Y. Tian, "Deep Residual Learning in Spiking
Neural Networks", NeurIPS 2021: the ResNet-18 of He et al. (CVPR 2016, Table 1: stem 7x7/2 conv 64,
3x3/2 max pool, four stages of two basic blocks with 64, 128, 256, 512 channels, global average
pool, fc 1000) with spike-element-wise blocks. A SEW block with connect function ADD computes

    out = SN(BN(conv2(SN(BN(conv1(x)))))) + shortcut,   shortcut = x  or  SN(BN(conv1x1/2(x)))

so a block's output is a *sum of spiking populations* (integer counts), which the next block's
convolutions read: in the IR a node's input is the sum of its predecessors, so the residual is the
edge set, not a node. The identity shortcut passes the sum on, so inside a stage the sums grow
(stage 1, block 2 reads three terms) until a downsampling block restarts them.

Differences, all deliberate: the stem max pool is replaced by a 3x3/2 pool with padding 1
(``pool="avg"``: AvgPool2d; ``"sum"``: SumPool2d) because max pooling is not linear; the final
7x7 global pool is the same kind; every SN is a LIF with one ``decay`` (pass ``decay=1.0`` for IF);
batch norm is folded (see :mod:`neurosim.workloads._build`); the fc has no bias.

Fixed point: the quantize pass folds an AvgPool2d only into projections that read nothing else,
but the stem pool's output is summed with spikes on the stage-1 shortcuts; use ``pool="sum"``
for the fixed-point engine.
"""

from __future__ import annotations

from neurosim.ir import Graph
from neurosim.workloads._build import Builder, check_pool

STAGES = (64, 128, 256, 512)


def sew_resnet18(seed: int = 0, rate: float = 0.07, input_rate: float = 0.1, decay: float = 0.5,
                 input_px: int = 224, classes: int = 1000, pool: str = "avg",
                 stages: tuple[int, ...] = STAGES, blocks_per_stage: int = 2, calib_steps: int = 4) -> Graph:
    """The network of the module docstring on 3 x ``input_px`` x ``input_px`` (``stages``,
    ``blocks_per_stage`` and ``input_px`` shrink it for tests)."""
    pool = check_pool(pool)
    b = Builder(seed, rate, input_rate, decay, calib_steps=calib_steps)
    h = b.input((3, input_px, input_px))
    h = b.conv_lif("stem", h, stages[0], 7, 2, 3)
    h = b.pool("stem.pool", h, pool, 3, 2, 1)
    for s, width in enumerate(stages, 1):
        for k in range(blocks_per_stage):
            name = f"layer{s}.{k}"
            down = k == 0 and s > 1
            mid = b.conv_lif(f"{name}.1", h, width, 3, 2 if down else 1, 1)
            out = b.conv_lif(f"{name}.2", mid, width, 3, 1, 1)
            shortcut = b.conv_lif(f"{name}.down", h, width, 1, 2, 0) if down else h
            h = out + shortcut
    side = b._x(h).shape[-1]
    h = b.pool("avgpool", h, pool, side)
    h = b.flatten("flatten", h)
    h = b.dense_lif("fc", h, classes)
    return b.graph(h)
