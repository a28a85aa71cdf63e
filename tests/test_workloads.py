"""neurosim.workloads: the real-size builders match the published architectures, are seeded, and
calibrate their firing rates; the small versions run in the engine."""

from __future__ import annotations

import time

import numpy as np
import pytest

from neurosim.errors import IRError
from neurosim.ir import LIF, AvgPool2d, Conv2d, Dense, SumPool2d
from neurosim.workloads import dvs_gesture_cnn, random_input, sew_resnet18, size_of, vgg11
from neurosim.workloads._build import Builder


def _weights(graph, cls):
    return sum(n.weight.size for n in graph.nodes.values() if isinstance(n, cls))


def test_vgg11_is_configuration_a():
    """Simonyan & Zisserman 2015, Table 1, configuration A on 3x32x32: 8 convs, 9,217,728 conv weights."""
    t0 = time.perf_counter()
    g = vgg11(calib_steps=1)
    assert time.perf_counter() - t0 < 10
    convs = [n for n in g.nodes.values() if isinstance(n, Conv2d)]
    assert [c.weight.shape[0] for c in convs] == [64, 128, 256, 256, 512, 512, 512, 512]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    assert _weights(g, Conv2d) == 9 * (3 * 64 + 64 * 128 + 128 * 256 + 256 * 256 + 256 * 512 + 3 * 512 * 512)
    assert _weights(g, Conv2d) == 9_217_728
    assert _weights(g, Dense) == 512 * 10
    assert sum(isinstance(n, AvgPool2d) for n in g.nodes.values()) == 5
    assert g.shapes["output"] == (10,)
    assert g.shapes["conv1.lif"] == (64, 32, 32) and g.shapes["pool5"] == (512, 1, 1)


def test_vgg11_scales_with_input_px():
    g = vgg11(input_px=64, calib_steps=1)
    assert g.shapes["pool5"] == (512, 2, 2) and _weights(g, Dense) == 2048 * 10
    with pytest.raises(IRError, match=r"^vgg11 input_px must be a positive multiple of 32 \(5 poolings\), found 48$"):
        vgg11(input_px=48)


def test_dvs_gesture_cnn_is_table_6():
    """Fang et al. ICCV 2021 Table 6: {c128k3s1-BN-PLIF-MPk2s2}*5-FC512-PLIF-FC110-PLIF on 2x128x128."""
    g = dvs_gesture_cnn(calib_steps=1)
    convs = [n for n in g.nodes.values() if isinstance(n, Conv2d)]
    assert len(convs) == 5 and all(c.weight.shape[0] == 128 for c in convs)
    assert _weights(g, Conv2d) == 2 * 128 * 9 + 4 * 128 * 128 * 9 == 592_128
    assert [n.weight.shape for n in g.nodes.values() if isinstance(n, Dense)] == [(512, 2048), (110, 512)]
    assert g.shapes["flatten"] == (2048,) and g.shapes["output"] == (110,)
    lifs = [n for n in g.nodes.values() if isinstance(n, LIF)]
    assert all(np.all(n.decay == 0.5) and n.reset == "zero" for n in lifs)  # PLIF init tau = 2, hard reset


def test_sew_resnet18_has_resnet18_parameters():
    """He et al. 2016 ResNet-18: torchvision's 11,689,512 parameters = our conv + fc weights
    (11,678,912) + the fc bias (1,000) + batch norm's affine pairs (2 x 4,800 channels, folded here)."""
    g = sew_resnet18(calib_steps=1, pool="sum")
    bn_channels = 64 + 4 * 64 + 5 * 128 + 5 * 256 + 5 * 512
    assert size_of(g)["weights"] == 11_678_912
    assert size_of(g)["weights"] + 1000 + 2 * bn_channels == 11_689_512
    assert sum(isinstance(n, Conv2d) for n in g.nodes.values()) == 20
    assert g.shapes["stem.lif"] == (64, 112, 112) and g.shapes["stem.pool"] == (64, 56, 56)
    assert g.shapes["layer4.1.2.lif"] == (512, 7, 7) and g.shapes["output"] == (1000,)
    # ADD: a block's convolutions read the sum of the previous block's output and its shortcut
    assert set(g.predecessors("layer1.1.1.conv")) == {"layer1.0.2.lif", "stem.pool"}
    assert set(g.predecessors("layer2.1.1.conv")) == {"layer2.0.2.lif", "layer2.0.down.lif"}
    assert set(g.predecessors("avgpool")) == {"layer4.1.2.lif", "layer4.0.2.lif", "layer4.0.down.lif"}
    assert isinstance(g.nodes["stem.pool"], SumPool2d)


def test_builders_are_seeded():
    a, b, c = (vgg11(input_px=8, config=(8, "M", 8), seed=s) for s in (0, 0, 1))
    for name in a.nodes:
        if isinstance(a.nodes[name], Conv2d):
            assert np.array_equal(a.nodes[name].weight, b.nodes[name].weight)
            assert not np.array_equal(a.nodes[name].weight, c.nodes[name].weight)
    x1, x2 = random_input(a, 5, 0.2, seed=3), random_input(a, 5, 0.2, seed=3)
    assert x1.shape == (5, 3, 8, 8) and x1.dtype == np.int64 and np.array_equal(x1, x2)
    assert 0.1 < x1.mean() < 0.3


def test_calibration_hits_the_rate_over_its_steps():
    """Over the calibration steps the builder's own numpy LIF fires at the stated rate in every layer."""
    b = Builder(seed=0, rate=0.08, input_rate=0.1, decay=0.5, calib_steps=4)
    h = b.input((3, 16, 16))
    h = b.conv_lif("c1", h, 16, 3, 1, 1)
    h = b.pool("p1", h, "avg", 2)
    h = b.conv_lif("c2", h, 16, 3, 1, 1)
    h = b.dense_lif("fc", b.flatten("f", h), 50)
    for name in ("c1.lif", "c2.lif", "fc.lif"):
        assert abs(b.act[name].mean() - 0.08) < 0.01, name
    b.graph(h)


def test_small_workloads_run_in_the_engine_near_the_rate():
    """The engine (float) runs the small versions; the measured rate stays within 2x of the target."""
    from neurosim.targets.neuromorphic.config import load_preset
    from neurosim.targets.neuromorphic.estimate import on_board
    from neurosim.targets.neuromorphic.model.simulate import simulate

    chip = on_board(load_preset("loihi"), 4)
    for g in (vgg11(input_px=8, config=(16, "M", 32, "M", 32), rate=0.07),
              dvs_gesture_cnn(blocks=2, channels=8, input_px=16, rate=0.07),
              sew_resnet18(input_px=16, stages=(8, 16), rate=0.07)):
        res = simulate(g, chip, random_input(g, 4, 0.1, 0), mode="float")
        rates = [float(s.mean()) for s in res.spikes.values()]
        assert all(0.035 < r < 0.14 for r in rates), rates


def test_bad_arguments_are_named():
    with pytest.raises(IRError, match=r"^rate must be a firing probability per step in \(0, 0\.5\), found 0\.7$"):
        vgg11(rate=0.7)
    with pytest.raises(IRError, match=r"^pool must be one of \('avg', 'sum'\), found 'max'; 'avg' for the float "
                                      r"engine, 'sum' for fixed point$"):
        dvs_gesture_cnn(pool="max")
    with pytest.raises(IRError, match=r"^decay must be a per-step membrane decay in \[0, 1\], found 1\.5$"):
        sew_resnet18(decay=1.5)
    with pytest.raises(IRError, match=r"^calib_steps must be a positive integer, found 0$"):
        vgg11(calib_steps=0)
    g = vgg11(input_px=32, config=(8, "M"), calib_steps=1)
    with pytest.raises(IRError, match=r"^steps must be a positive integer, found 0$"):
        random_input(g, 0, 0.1)
    with pytest.raises(IRError, match=r"^rate must be a spike probability per step in \[0, 1\], found 2$"):
        random_input(g, 3, 2)
