"""E-3DSNN (Qiu et al., "Efficient 3D Recognition with Event-driven Spike Sparse Convolution", AAAI 2025)
as a layer description, its parameter count, and its sparse rulebook sizes on a point set.

Source: bollossom/E-3DSNN ``classify_seg/pointcept/models/sparse_unet/E_3DSNN.py`` (class ``SNN_3dv``)
and ``energy_calculate.py`` (commit dbe5d1731d3204850bd591a18f7255ca2d1b6712). The model is built
from spconv's ``SubMConv3d`` (submanifold: outputs only at the active input sites) and
``SparseConv3d`` (strided: outputs at ``floor(site / stride)``), which have no plain-torch form, so it
is described here as a list of :class:`SparseLayer` for a later IR lowering to consume.

Neuron ("multispike", a stateless integer activation, one step): ``s = floor(clamp(x, 0, 4) + 0.5)``,
i.e. ``x`` rounded to the nearest integer in ``0..4`` (a spike count, cap 4). BatchNorm1d
(``eps=1e-3``) follows every conv (fold it into the conv for inference).

Structure (``SNN_3dv(in_channels=6, num_classes=40, embed_channels=16, enc_channels=[16, 32, 64, 128],
enc_depth=[1, 1, 1, 1])``, the 1.87 M-parameter model):

* stem: SubM 3^3 ``6->16`` + BN, MS, SubM 3^3 ``16->16`` + BN, MS, SubM 3^3 ``16->16`` + BN;
* stage ``i`` (4 stages): MS, SparseConv 2^3 stride 2 ``c_{i-1} -> c_i`` + BN, then ``enc_depth[i]``
  BasicBlocks: ``y = BN(SubM(MS(x))) + x``; ``out = BN(SubM(MS(BN(SubM(MS(y)))))) + y``
  (three SubM 3^3 ``c_i -> c_i``);
* final: SubM 1^3 ``128 -> 40`` with bias; mean over the points of each sample.

:func:`script_flops` reproduces the repository's energy script exactly (see its docstring: it counts
the stem only); :func:`layer_pairs` gives every layer's rulebook size for a full count.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from neurosim.errors import IRError

#: The repository's energy constant: 4.6 pJ per FLOP (45 nm MAC, Horowitz 2014), applied to every FLOP.
E_FLOP_J = 4.6e-12

#: Voxel coordinates must lie below this (three packed into one int64 rulebook key).
MAX_COORD = 2 ** 20

#: Published configurations (``energy_calculate.py`` comments: parameters, FLOPs, energy).
E3DSNN_SIZES = {
    "1.87M": dict(in_channels=6, num_classes=40, embed_channels=16, enc_channels=(16, 32, 64, 128),
                  enc_depth=(1, 1, 1, 1)),
    "3.27M": dict(in_channels=6, num_classes=40, embed_channels=24, enc_channels=(24, 48, 96, 160),
                  enc_depth=(1, 1, 1, 1)),
    "17.33M": dict(in_channels=6, num_classes=40, embed_channels=64, enc_channels=(64, 128, 128, 256),
                   enc_depth=(2, 2, 2, 2)),
    "46.57M": dict(in_channels=6, num_classes=40, embed_channels=64, enc_channels=(96, 192, 288, 384),
                   enc_depth=(2, 2, 2, 2)),
}


@dataclass(frozen=True)
class SparseLayer:
    """One sparse 3-D convolution of the description.

    ``kind``: ``"subm"`` (submanifold, stride 1, output sites = input sites) or ``"strided"``
    (``SparseConv3d``, no padding: output sites = ``unique(floor(site / stride))``). ``rulebook``
    names the site set and kernel the layer's rulebook is built on (spconv's ``indice_key``: layers
    sharing it share one rulebook). ``spike_in``: the layer's input passes a multispike neuron first.
    ``bn``: a BatchNorm1d follows (two parameters per output channel).
    """

    name: str
    kind: str
    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    rulebook: str
    spike_in: bool
    bn: bool = True
    bias: bool = False

    def __post_init__(self):
        if self.kind not in ("subm", "strided"):
            raise IRError(f"SparseLayer {self.name!r}: kind must be 'subm' or 'strided', found {self.kind!r}")
        for field in ("in_channels", "out_channels", "kernel", "stride"):
            v = getattr(self, field)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise IRError(f"SparseLayer {self.name!r}: {field} must be a positive int, found {v!r}")
        if self.kind == "subm" and self.stride != 1:
            raise IRError(f"SparseLayer {self.name!r}: a submanifold conv has stride 1, found {self.stride!r}")

    @property
    def n_params(self) -> int:
        """Weights ``out * in * k^3`` (spconv stores ``[out, k, k, k, in]``) + bias + BN weight/bias."""
        return (self.out_channels * self.in_channels * self.kernel ** 3 + self.out_channels * self.bias
                + 2 * self.out_channels * self.bn)


def _check_channels(name: str, value, n: int | None = None) -> tuple[int, ...]:
    try:
        out = tuple(value)
    except TypeError:
        raise IRError(f"e3dsnn: {name} must be a sequence of positive ints, found {value!r}") from None
    if (n is not None and len(out) != n) or not out or any(isinstance(c, bool) or not isinstance(c, int) or c < 1
                                                          for c in out):
        want = f"{n} positive ints" if n else "positive ints"
        raise IRError(f"e3dsnn: {name} must be {want}, found {value!r}")
    return out


def e3dsnn(size: str = "1.87M", **overrides) -> tuple[SparseLayer, ...]:
    """The layer list of an E-3DSNN classifier (module docstring), a published ``size`` or overrides of it.

    ``overrides``: ``in_channels``, ``num_classes``, ``embed_channels``, ``enc_channels`` (4 ints),
    ``enc_depth`` (4 ints).
    """
    if size not in E3DSNN_SIZES:
        raise IRError(f"e3dsnn: size must be one of {sorted(E3DSNN_SIZES)!r}, found {size!r}")
    cfg = dict(E3DSNN_SIZES[size])
    unknown = sorted(set(overrides) - set(cfg))
    if unknown:
        raise IRError(f"e3dsnn: unknown option {unknown[0]!r}; the options are {sorted(cfg)!r}")
    cfg.update(overrides)
    for k in ("in_channels", "num_classes", "embed_channels"):
        if isinstance(cfg[k], bool) or not isinstance(cfg[k], int) or cfg[k] < 1:
            raise IRError(f"e3dsnn: {k} must be a positive int, found {cfg[k]!r}")
    cin, ncls, emb = cfg["in_channels"], cfg["num_classes"], cfg["embed_channels"]
    enc = _check_channels("enc_channels", cfg["enc_channels"], 4)
    depth = _check_channels("enc_depth", cfg["enc_depth"], 4)
    layers = [
        SparseLayer("stem.0", "subm", cin, emb, 3, 1, "stem", spike_in=False),
        SparseLayer("stem.3", "subm", emb, emb, 3, 1, "stem", spike_in=True),
        SparseLayer("stem.6", "subm", emb, emb, 3, 1, "stem", spike_in=True),
    ]
    prev = emb
    for i, (c, d) in enumerate(zip(enc, depth)):
        layers.append(SparseLayer(f"enc.{i}.down.1", "strided", prev, c, 2, 2, f"spconv{i}", spike_in=True))
        for j in range(d):
            for conv in ("block.1", "voxel_block.1", "voxel_block.4"):
                layers.append(SparseLayer(f"enc.{i}.blocks.{j}.{conv}", "subm", c, c, 3, 1, f"subm{i + 1}",
                                          spike_in=True))
        prev = c
    layers.append(SparseLayer("final", "subm", prev, ncls, 1, 1, "final", spike_in=False, bn=False, bias=True))
    return tuple(layers)


def n_params(layers: tuple[SparseLayer, ...]) -> int:
    """Total parameter count of a description (``sum(p.numel() for p in model.parameters())`` of the original)."""
    return sum(layer.n_params for layer in layers)


def _check_sites(sites) -> np.ndarray:
    a = np.asarray(sites)
    if a.ndim != 2 or a.shape[1] != 3 or a.shape[0] < 1 or a.dtype.kind not in "iu":
        raise IRError(f"e3dsnn: sites must be an integer array [N, 3] of voxel coordinates with N >= 1, "
                      f"found dtype {a.dtype.str!r} and shape {a.shape!r}")
    if a.min() < 0:
        raise IRError(f"e3dsnn: sites must be non-negative voxel coordinates, found {int(a.min())!r}")
    if a.max() >= MAX_COORD:
        raise IRError(f"e3dsnn: sites must be voxel coordinates below {MAX_COORD!r} (the rulebook keys are int64), "
                      f"found {int(a.max())!r}; quantise the points to a coarser voxel grid")
    return a.astype(np.int64)


def _keys(c: np.ndarray, span: int) -> np.ndarray:
    return (c[:, 0] * span + c[:, 1]) * span + c[:, 2]


def subm_pairs(sites, kernel: int = 3) -> int:
    """Rulebook size of a submanifold conv on ``sites [N, 3]`` (one row per point, duplicates included).

    Counts, for every point ``i`` and kernel offset ``o`` in ``{-(k//2)..k//2}^3``, whether the voxel
    ``sites[i] + o`` is active (in-range, i.e. >= 0; spconv's spatial shape, max + 96 in the script,
    never clips the upper side): exactly ``(pair_fwd > -1).sum()`` of spconv's implicit-GEMM rulebook.
    """
    c = _check_sites(sites)
    r = kernel // 2
    span = int(c.max()) + 2 * r + 2
    active = np.unique(_keys(c + r, span))
    total = 0
    for off in itertools.product(range(-r, r + 1), repeat=3):
        n = c + np.asarray(off)
        ok = (n >= 0).all(axis=1)
        total += int(np.isin(_keys(n[ok] + r, span), active).sum())
    return total


def script_flops(sites, embed_channels: int = 16) -> int:
    """FLOPs exactly as the repository's ``energy_calculate.py`` counts them for ``SNN_3dv``.

    The script's ``calculate_gemm_flops(x, key, cin, cout) = 2 * (pair_fwd > -1).sum() * cin * cout -
    pair_fwd.shape[1]`` returns 0 when ``key`` is not yet in ``x.indice_dict``. It is called for the
    encoder keys ``spconv{i}``/``subm{i+1}`` and for ``final`` *before* the layer that creates the key
    has run (and ``final`` has no ``indice_key`` at all), so only the three stem terms are nonzero,
    each with ``cin = cout = embed_channels`` (the first stem conv's real ``cin`` is 6)::

        FLOPs = 3 * (2 * P * embed_channels**2 - N),   P = subm_pairs(sites, 3), N = len(sites)

    Energy = FLOPs * 4.6 pJ (:data:`E_FLOP_J`). On 9,830 uniform random points in ``[0, 64)^3``
    this is 2.92e7 FLOPs and 0.134 mJ, the published figure.
    """
    c = _check_sites(sites)
    return 3 * (2 * subm_pairs(c, 3) * embed_channels ** 2 - c.shape[0])


def layer_pairs(layers: tuple[SparseLayer, ...], sites) -> dict[str, int]:
    """``{layer name: rulebook pairs}`` of every layer on ``sites`` (the full count the script intended).

    A strided conv (kernel = stride, no padding) maps each active input site to one output site, so
    its pairs equal the number of active input rows; its outputs are the unique ``floor(site/stride)``.
    A layer's dense-equivalent MACs are ``pairs * in_channels * out_channels``.
    """
    c = _check_sites(sites)
    out: dict[str, int] = {}
    cache: dict[str, int] = {}
    for layer in layers:
        if layer.kind == "strided":
            if layer.kernel != layer.stride:
                raise IRError(f"SparseLayer {layer.name!r}: layer_pairs supports strided convs with kernel == "
                              f"stride only, found kernel {layer.kernel!r} and stride {layer.stride!r}")
            out[layer.name] = c.shape[0]
            c = np.unique(c // layer.stride, axis=0)
            cache.clear()
        else:
            key = f"{layer.rulebook}/{layer.kernel}"
            if key not in cache:
                cache[key] = subm_pairs(c, layer.kernel) if layer.kernel > 1 else c.shape[0]
            out[layer.name] = cache[key]
    return out
