"""The DVS128 Gesture PLIF network of Fang et al., ICCV 2021, at real size (random, rate-calibrated weights).

W. Fang, Z. Yu, Y. Chen, T. Masquelier, T. Huang, Y. Tian, "Incorporating Learnable Membrane Time
Constant to Enhance Learning of Spiking Neural Networks", ICCV 2021 (arXiv:2007.05785), Table 6
("Detailed network structures"), DVS128 Gesture row::

    {c128k3s1-BN-PLIF-MPk2s2}*5 - DP - FC512 - PLIF - DP - FC110 - PLIF - APk10s10

i.e. on 2 x 128 x 128 event frames: five blocks of Conv2d(128, 3x3, padding 1, no bias), batch
norm, PLIF, MaxPool 2x2; flatten (128 x 4 x 4 = 2048); dropout; Linear 2048 -> 512; PLIF; dropout;
Linear 512 -> 110; PLIF; and a voting layer (average of groups of 10 outputs -> 11 classes). The
same network is SpikingJelly's ``activation_based.model.parametric_lif_net.DVSGestureNet``.

Differences, all deliberate:

* **MaxPool -> AvgPool2d (or SumPool2d)**: max pooling is not linear, and the IR's projections
  between spiking layers are; ``pool="avg"`` (float engine, folded by the quantize pass) or
  ``"sum"`` (fixed point) keep the geometry and the event counts' order of magnitude.
* **PLIF -> LIF** with one decay for every layer: PLIF learns ``tau`` per layer and initialises it
  to 2 (``v <- v + (x - v) / tau``), so the decay is ``1 - 1/tau = 0.5``; the input factor
  ``1/tau`` is absorbed by the calibrated weights; PLIF's hard reset is ``reset="zero"``.
* batch norm is folded, dropout is the identity at inference, the voting layer is left out (do it
  outside: ``spikes.reshape(T, 11, 10).mean(-1)``), the Linear layers have no bias.
"""

from __future__ import annotations

from neurosim.ir import Graph
from neurosim.workloads._build import Builder, check_pool


def dvs_gesture_cnn(seed: int = 0, rate: float = 0.07, input_rate: float = 0.05, tau: float = 2.0,
                    blocks: int = 5, channels: int = 128, input_px: int = 128, pool: str = "avg", calib_steps: int = 4) -> Graph:
    """The network of the module docstring (``blocks``/``channels``/``input_px`` shrink it for tests)."""
    pool = check_pool(pool)
    b = Builder(seed, rate, input_rate, 1.0 - 1.0 / tau, reset="zero", calib_steps=calib_steps)
    h = b.input((2, input_px, input_px))
    for i in range(1, blocks + 1):
        h = b.conv_lif(f"block{i}", h, channels, 3, 1, 1)
        h = b.pool(f"pool{i}", h, pool, 2)
    h = b.flatten("flatten", h)
    h = b.dense_lif("fc1", h, 512)
    h = b.dense_lif("fc2", h, 110)
    return b.graph(h)
