"""neurosim.zoo.e3dsnn: the E-3DSNN description, its parameter counts and the energy script's FLOP count.

Oracles: the parameter counts printed in bollossom/E-3DSNN ``energy_calculate.py`` (commit dbe5d17, the
comments after each ``SNN_3dv(...)``: 1.87M, 3.27M, 17.33M, 46.57M) and its reported 2.92e7 FLOPs /
0.13432 mJ; a brute-force dense-grid rulebook count for :func:`subm_pairs`.
"""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest

from neurosim.errors import IRError
from neurosim.zoo import (
    E3DSNN_SIZES,
    SparseLayer,
    e3dsnn,
    layer_pairs,
    n_params,
    script_flops,
    subm_pairs,
)


@pytest.mark.parametrize("size", sorted(E3DSNN_SIZES))
def test_parameter_count_equals_the_published_figure(size):
    assert f"{n_params(e3dsnn(size)) / 1e6:.2f}M" == size


def _brute_pairs(sites: np.ndarray, k: int) -> int:
    """Dense occupancy grid, then for every point every offset: the rulebook by definition."""
    r = k // 2
    grid = np.zeros(tuple(sites.max(axis=0) + 2 * r + 1), dtype=bool)
    grid[tuple((sites + r).T)] = True
    total = 0
    for p in sites:
        for off in itertools.product(range(-r, r + 1), repeat=3):
            q = p + np.asarray(off)
            if (q >= 0).all() and grid[tuple(q + r)]:
                total += 1
    return total


@pytest.mark.parametrize("seed", range(4))
def test_subm_pairs_equals_a_brute_force_rulebook(seed):
    rng = np.random.default_rng(seed)
    sites = rng.integers(0, 6, (40, 3))  # dense enough for duplicates and many neighbours
    assert subm_pairs(sites, 3) == _brute_pairs(sites, 3)
    assert subm_pairs(sites, 5) == _brute_pairs(sites, 5)


def test_script_flops_reproduces_the_published_figure():
    """9,830 uniform random points in [0, 64)^3 (the script's input; it sets no seed, so one draw).

    The published 2.92e7 FLOPs must lie within 2 standard deviations of the seeded draws' mean, and
    the mean's energy at 4.6 pJ/FLOP must print as the published 0.134 mJ.
    """
    flops = np.array([script_flops(np.random.default_rng(s).integers(0, 64, (9830, 3))) for s in range(16)])
    mean, std = flops.mean(), flops.std()
    assert abs(mean - 2.92e7) < 2 * std, (mean, std)
    assert f"{mean * 4.6e-12 * 1e3:.3f}" == "0.134"
    assert 1e5 < std < 5e5  # the spread is real (the draw matters), and small


def test_script_flops_is_three_stem_terms():
    sites = np.random.default_rng(0).integers(0, 64, (9830, 3))
    p = subm_pairs(sites, 3)
    assert script_flops(sites) == 3 * (2 * p * 16 * 16 - 9830)
    assert script_flops(sites, embed_channels=24) == 3 * (2 * p * 24 * 24 - 9830)


def test_layer_pairs_downsamples_to_unique_sites():
    sites = np.array([[0, 0, 0], [1, 1, 1], [2, 0, 0], [3, 1, 1], [0, 0, 0]])
    pairs = layer_pairs(e3dsnn(), sites)
    assert pairs["stem.0"] == subm_pairs(sites, 3)
    assert pairs["enc.0.down.1"] == 5                 # every active input row maps to one output
    assert pairs["enc.0.blocks.0.block.1"] == 2 * 2   # sites {(0,0,0), (1,0,0)}: each sees both
    assert pairs["enc.1.down.1"] == 2
    assert pairs["final"] == 1                        # one site left after four stride-2 convs


def test_import_without_torch_and_the_torch_builders_name_the_fix():
    code = ("import sys; sys.modules['torch'] = None; sys.modules['spikingjelly'] = None\n"
            "import neurosim.zoo as z\n"
            "assert z.n_params(z.e3dsnn()) > 0\n"
            "from neurosim.errors import FrontendError\n"
            "try:\n    z.meta_spikeformer()\nexcept FrontendError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ("neurosim.zoo.meta_spikeformer needs the optional package 'torch', which is not "
                                  "installed; install it with `pip install 'neurosim[torch]'`")


@pytest.mark.parametrize(("call", "match"), [
    (lambda: e3dsnn("2M"), r"^e3dsnn: size must be one of \['1\.87M', '17\.33M', '3\.27M', '46\.57M'\], found '2M'$"),
    (lambda: e3dsnn(depth=3),
     (r"^e3dsnn: unknown option 'depth'; the options are \['embed_channels', 'enc_channels', 'enc_depth', "
      r"'in_channels', 'num_classes'\]$")),
    (lambda: e3dsnn(enc_channels=(16, 32)), r"^e3dsnn: enc_channels must be 4 positive ints, found \(16, 32\)$"),
    (lambda: e3dsnn(enc_depth=5), r"^e3dsnn: enc_depth must be a sequence of positive ints, found 5$"),
    (lambda: e3dsnn(num_classes=0), r"^e3dsnn: num_classes must be a positive int, found 0$"),
    (lambda: subm_pairs(np.zeros((4, 2), dtype=int)),
     (r"^e3dsnn: sites must be an integer array \[N, 3\] of voxel coordinates with N >= 1, found dtype '<i8' "
      r"and shape \(4, 2\)$")),
    (lambda: subm_pairs(np.array([[0, -1, 2]])), r"^e3dsnn: sites must be non-negative voxel coordinates, found -1$"),
    (lambda: subm_pairs(np.array([[0, 2 ** 20, 2]])),
     (r"^e3dsnn: sites must be voxel coordinates below 1048576 \(the rulebook keys are int64\), found 1048576; "
      r"quantise the points to a coarser voxel grid$")),
    (lambda: SparseLayer("x", "dense", 1, 1, 3, 1, "r", False),
     r"^SparseLayer 'x': kind must be 'subm' or 'strided', found 'dense'$"),
    (lambda: SparseLayer("x", "subm", 1, 0, 3, 1, "r", False),
     r"^SparseLayer 'x': out_channels must be a positive int, found 0$"),
    (lambda: SparseLayer("x", "subm", 1, 1, 3, 2, "r", False),
     r"^SparseLayer 'x': a submanifold conv has stride 1, found 2$"),
    (lambda: layer_pairs((SparseLayer("d", "strided", 1, 1, 3, 2, "r", True),), np.zeros((1, 3), dtype=int)),
     r"^SparseLayer 'd': layer_pairs supports strided convs with kernel == stride only, found kernel 3 and stride 2$"),
])
def test_errors(call, match):
    with pytest.raises(IRError, match=match):
        call()
