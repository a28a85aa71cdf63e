"""Dense cycles of the SAT model against SCALE-Sim 3.0 on the same layers and array.

SCALE-Sim runs in its own interpreter (``NEUROSIM_SCALESIM_PYTHON``; ``scripts/test.sh`` builds
``.venv-scalesim``), through ``neurosim/targets/sat/scalesim_runner.py``. The documented tolerance is
exact: on every layer neurosim's compute cycles exceed SCALE-Sim's by ``folds + 1``, the
difference of the two counting conventions (see :mod:`neurosim.targets.sat.bench`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from neurosim.targets.sat.bench import compare_scalesim

PYTHON = os.environ.get("NEUROSIM_SCALESIM_PYTHON", "")

#: Twelve layers shaped like those of real networks (ResNet-18/50, VGG-16, ViT-B/16 at batch 1;
#: pixels and channels cut so SCALE-Sim takes seconds, not minutes) plus odd shapes that leave
#: partial folds. The full networks are compared by ``neurosim bench sat --scalesim-python``.
LAYERS = [
    {"name": "resnet_conv1", "M": 196, "K": 147, "N": 64},
    {"name": "resnet_3x3_64", "M": 196, "K": 576, "N": 64},
    {"name": "resnet_1x1_256_64", "M": 196, "K": 256, "N": 64},
    {"name": "resnet_1x1_64_256", "M": 196, "K": 64, "N": 120},
    {"name": "resnet_3x3_128", "M": 98, "K": 1152, "N": 128},
    {"name": "resnet_3x3_512", "M": 49, "K": 4608, "N": 40},
    {"name": "resnet_fc", "M": 1, "K": 512, "N": 1000},
    {"name": "vgg_3x3_256", "M": 56, "K": 2304, "N": 24},
    {"name": "vit_qkv", "M": 197, "K": 768, "N": 96},
    {"name": "vit_mlp", "M": 50, "K": 768, "N": 307},
    {"name": "odd_small", "M": 7, "K": 13, "N": 5},
    {"name": "odd_partial", "M": 33, "K": 65, "N": 47},
]


#: the default suite's share (SCALE-Sim takes ~2 min on all twelve on 2 cores; all run with `-m slow`):
#: a tiny layer, one with partial folds in both dimensions and a real ResNet 1x1 conv
DEFAULT_LAYERS = [row for row in LAYERS if row["name"] in ("odd_small", "odd_partial", "resnet_1x1_64_256")]

needs_scalesim = pytest.mark.skipif(
    not (PYTHON and Path(PYTHON).exists()),
    reason="SCALE-Sim interpreter not set up (NEUROSIM_SCALESIM_PYTHON; scripts/test.sh makes one)")


@needs_scalesim
@pytest.mark.parametrize("layers", [pytest.param(DEFAULT_LAYERS, id="default"),
                                    pytest.param(LAYERS, id="all", marks=pytest.mark.slow)])
def test_dense_cycles_agree_with_scalesim(layers):
    cmp = compare_scalesim(layers, 16, 8, PYTHON)
    assert len(cmp["layers"]) == len(layers) >= 3
    for row in cmp["layers"]:
        assert row["difference"] == row["folds"] + 1, row
