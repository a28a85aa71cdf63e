"""E-3DSNN as an IR graph: :mod:`neurosim.zoo.e3dsnn`'s layer description lowered onto one point cloud.

The graph (node names are the original module paths of :func:`neurosim.zoo.e3dsnn`'s layers)::

    input (N, 6) -> stem.0 -> stem.3.ms -> stem.3 -> stem.6.ms -> stem.6
      stage i: enc.i.down.1.ms -> enc.i.down.1 (SparseConv3d k2 s2)       = x
        block j: .block.1.ms -> .block.1 ; .add1 = that + x               = y
                 .voxel_block.1.ms -> .voxel_block.1 -> .voxel_block.4.ms -> .voxel_block.4 ; .add2 = that + y
      final (SubM 1^3, bias) -> mean (SiteMean) -> output (40,)

* every conv is a :class:`~neurosim.ir.nodes.sparse.SubMConv3d` / :class:`~neurosim.ir.nodes.sparse.SparseConv3d`
  with its BatchNorm1d (eps 1e-3) folded in (``folded_bn=True``, so the parameter counter reports the
  original's ``sum(p.numel())``: 1,874,216 for 1.87M);
* every ``*.ms`` is the multispike neuron ``floor(clamp(x, 0, 4) + 0.5)`` as
  ``LIF(decay=0, bias=0.5, threshold=1, spike_rule="multi", max_spikes=4)`` (stateless: decay 0);
* the residual sums are :class:`~neurosim.ir.nodes.Add` nodes; the active-site set of every level is
  computed once here (``unique(floor(sites / 2))`` per stage) and stored in the nodes that read it
  (:mod:`neurosim.ir.nodes.sparse` explains why the coordinates are structure).

Weights are seeded random (:func:`random_params`) or given per layer (``params``: ``weight`` in torch's
Conv3d layout ``[out, in, k, k, k]``, ``bias``, ``bn`` = ``(gamma, beta, running_mean, running_var)``).
The energy script's input is :func:`script_sites` / :func:`script_features` (9,830 points, coordinates
uniform in ``[0, 64)^3`` with duplicates kept, features standard normal), seeded here (the script is
not). ``python -m neurosim.zoo.e3dsnn_ir`` prints the script-faithful and full FLOP counts of
:mod:`neurosim.metrics.ops_sparse` over seeded draws and can save the graph and an input for
``neurosim metrics``.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

import numpy as np

from neurosim.errors import IRError
from neurosim.ir.graph import Graph, Semantics
from neurosim.ir.nodes import LIF, Add, Input, Output
from neurosim.ir.nodes.sparse import (
    SiteMean,
    SparseConv,
    SparseConv3d,
    SubMConv3d,
    fold_batchnorm,
)
from neurosim.zoo.e3dsnn import SparseLayer, e3dsnn

#: The energy script's input: 9,830 points, voxel coordinates uniform in [0, 64)^3, 6 features.
SCRIPT_POINTS = 9830
SCRIPT_GRID = 64
#: BatchNorm1d's eps in SNN_3dv (``partial(nn.BatchNorm1d, eps=1e-3, momentum=0.01)``).
BN_EPS = 1e-3
#: The multispike neuron's cap (``Multispike(lens=4)``: ``floor(clamp(x, 0, 4) + 0.5)``).
MULTISPIKE_CAP = 4


def script_sites(seed: int = 0, n: int = SCRIPT_POINTS, grid: int = SCRIPT_GRID) -> np.ndarray:
    """``torch.randint(0, 64, (9830, 3))`` of ``energy_calculate.py``, seeded (numpy ``default_rng(seed)``)."""
    return np.random.default_rng(seed).integers(0, grid, (n, 3))


def script_features(seed: int = 0, n: int = SCRIPT_POINTS, channels: int = 6) -> np.ndarray:
    """``torch.randn(9830, 6)`` of ``energy_calculate.py``, seeded (a stream apart from :func:`script_sites`)."""
    return np.random.default_rng([seed, 1]).standard_normal((n, channels))


def random_params(layers: tuple[SparseLayer, ...], seed: int = 0) -> dict[str, dict]:
    """Seeded random weights for every layer: He-normal per tap (``std = sqrt(2 / in)``: a site has few
    active neighbours, so the per-tap fan-in sets the scale), BatchNorm statistics around their
    initial values (gamma ~ U(0.8, 1.2), beta ~ N(0.3, 0.1), mean ~ N(0, 0.1), var ~ U(0.8, 1.2)) so the
    multispike neurons fire a nontrivial fraction; the final conv's bias ~ N(0, 0.1)."""
    rng = np.random.default_rng(seed)
    out = {}
    for layer in layers:
        k = layer.kernel
        p = {"weight": rng.normal(0.0, np.sqrt(2.0 / layer.in_channels),
                                  (layer.out_channels, layer.in_channels, k, k, k))}
        c = layer.out_channels
        if layer.bias:
            p["bias"] = rng.normal(0.0, 0.1, c)
        if layer.bn:
            p["bn"] = (rng.uniform(0.8, 1.2, c), rng.normal(0.3, 0.1, c), rng.normal(0.0, 0.1, c),
                       rng.uniform(0.8, 1.2, c))
        out[layer.name] = p
    return out


def multispike(shape) -> LIF:
    """E-3DSNN's multispike neuron ``floor(clamp(x, 0, 4) + 0.5)`` on ``shape`` (stateless: decay 0)."""
    return LIF(shape=tuple(shape), decay=0.0, bias=0.5, threshold=1.0, spike_rule="multi",
               max_spikes=MULTISPIKE_CAP, reset="subtract")


def _conv(layer: SparseLayer, p: Mapping, sites: np.ndarray) -> SparseConv:
    if not isinstance(p, Mapping) or "weight" not in p:
        raise IRError(f"e3dsnn_graph: params[{layer.name!r}] must be a mapping with a 'weight' entry, found "
                      f"{type(p).__name__}")
    k = layer.kernel
    want = (layer.out_channels, layer.in_channels, k, k, k)
    w = np.asarray(p["weight"], dtype=np.float64)
    if w.shape != want:
        raise IRError(f"e3dsnn_graph: params[{layer.name!r}]['weight'] has shape {w.shape!r}, expected {want!r} "
                      f"(torch Conv3d layout [out, in, k, k, k]; permute spconv's [out, k, k, k, in])")
    bias = p.get("bias") if layer.bias else None
    if layer.bias and bias is None:
        raise IRError(f"e3dsnn_graph: params[{layer.name!r}] lacks 'bias'; layer {layer.name!r} has a bias")
    folded = False
    if layer.bn:
        bn = p.get("bn")
        if not (isinstance(bn, (tuple, list)) and len(bn) == 4):
            raise IRError(f"e3dsnn_graph: params[{layer.name!r}]['bn'] must be (gamma, beta, running_mean, "
                          f"running_var), found {type(bn).__name__}")
        w, bias = fold_batchnorm(w, bias, *bn, eps=BN_EPS)
        folded = True
    cls = SparseConv3d if layer.kind == "strided" else SubMConv3d
    extra = {"stride": layer.stride} if layer.kind == "strided" else {}
    return cls(weight=w, bias=bias, sites=sites, folded_bn=folded, **extra)


def e3dsnn_graph(size: str = "1.87M", sites=None, *, seed: int = 0, params: Mapping | None = None,
                 **overrides) -> Graph:
    """The IR graph of E-3DSNN ``size`` (:data:`neurosim.zoo.e3dsnn.E3DSNN_SIZES`, ``overrides`` as for
    :func:`neurosim.zoo.e3dsnn.e3dsnn`) on the point cloud ``sites`` ``[N, 3]`` (default
    :func:`script_sites` ``(seed)``), with ``params`` (default :func:`random_params` ``(layers, seed)``)."""
    layers = e3dsnn(size, **overrides)
    level = np.asarray(script_sites(seed) if sites is None else sites)
    params = random_params(layers, seed) if params is None else params
    nodes: dict = {}
    edges: list[tuple[str, str]] = []

    def add(name: str, node, *srcs: str) -> str:
        nodes[name] = node
        edges.extend((s, name) for s in srcs)
        return name

    if not isinstance(params, Mapping):
        raise IRError(f"e3dsnn_graph: params must be a mapping of layer name -> parameters, found "
                      f"{type(params).__name__}")
    missing = [layer.name for layer in layers if layer.name not in params]
    if missing:
        raise IRError(f"e3dsnn_graph: params lacks layer {missing[0]!r}; give every layer of "
                      f"{[la.name for la in layers]!r}")
    first = layers[0]
    probe = _conv(first, params[first.name], level)  # validates the sites before the input node sizes them
    x = add("input", Input(shape=(probe.n_sites, first.in_channels)))
    skip: str | None = None  # the residual stream a block adds back
    for layer in layers:
        conv = probe if layer is first else _conv(layer, params[layer.name], level)
        src = x
        if layer.spike_in:
            src = add(f"{layer.name}.ms", multispike((conv.n_sites, layer.in_channels)), x)
        x = add(layer.name, conv, src)
        level = conv.output_sites
        tail = layer.name.rsplit(".", 1)[0] if layer.name.startswith("enc.") else ""
        if layer.kind == "strided":
            skip = x
        elif tail.endswith(".block"):  # y = BN(SubM(MS x)) + x
            x = add(layer.name.rsplit(".", 2)[0] + ".add1", Add(), x, skip)
            skip = x
        elif layer.name.endswith("voxel_block.4"):  # out = voxel_block(y) + y
            x = add(layer.name.rsplit(".", 2)[0] + ".add2", Add(), x, skip)
            skip = x
    mean = add("mean", SiteMean(), x)
    add("output", Output(shape=(layers[-1].out_channels,)), mean)
    notes = (("E-3DSNN (bollossom/E-3DSNN SNN_3dv) on one point cloud: sparse convs with BatchNorm folded, "
              "multispike = LIF(decay 0, bias 0.5, threshold 1, multi, max_spikes 4)"),)
    return Graph(nodes, tuple(edges), Semantics(profile="neurosim", notes=notes))


def learned_params(graph: Graph) -> int:
    """The source model's parameter count from the graph (the metrics' per-node counters, summed)."""
    from neurosim.metrics.ops import counter_for

    return sum(counter_for(node, name).params(node) for name, node in graph.nodes.items())


def flop_report(size: str = "1.87M", seeds=range(16)) -> dict:
    """Script-faithful and full FLOP counts of :mod:`neurosim.metrics.ops_sparse` on the script's input,
    one seeded draw per seed, with their energies at 4.6 pJ per FLOP."""
    from neurosim.metrics.ops_sparse import E_FLOP_PJ, full_flops, script_faithful_flops

    rows = []
    for s in seeds:
        g = e3dsnn_graph(size, seed=int(s))
        full = full_flops(g)
        rows.append({"seed": int(s), "script_faithful_flops": script_faithful_flops(g),
                     "full_flops": sum(full.values()), "per_layer": full})
    sf = np.array([r["script_faithful_flops"] for r in rows], dtype=np.float64)
    fu = np.array([r["full_flops"] for r in rows], dtype=np.float64)
    return {"size": size, "draws": rows, "params": learned_params(e3dsnn_graph(size, seed=int(rows[0]["seed"]))),
            "script_faithful": {"mean": sf.mean(), "std": sf.std(), "energy_mj": sf.mean() * E_FLOP_PJ * 1e-9},
            "full": {"mean": fu.mean(), "std": fu.std(), "energy_mj": fu.mean() * E_FLOP_PJ * 1e-9}}


def main(argv=None) -> int:
    """``python -m neurosim.zoo.e3dsnn_ir``: the FLOP counts; ``--save`` writes the graph (``.nsim``) and
    the script's input (``.npy`` ``[1, 1, N, 6]``) for ``neurosim metrics``."""
    from neurosim.zoo.e3dsnn import E3DSNN_SIZES

    ap = argparse.ArgumentParser(prog="python -m neurosim.zoo.e3dsnn_ir", description=main.__doc__)
    ap.add_argument("--size", default="1.87M", choices=sorted(E3DSNN_SIZES))
    ap.add_argument("--seeds", type=int, default=16, help="seeded draws of the script's input (default 16)")
    ap.add_argument("--save", default=None, metavar="STEM",
                    help="write STEM.nsim (the graph of seed 0) and STEM_input.npy (its input)")
    args = ap.parse_args(argv)
    if args.seeds < 1:
        ap.error(f"--seeds must be >= 1, found {args.seeds!r}")
    rep = flop_report(args.size, range(args.seeds))
    sf, fu = rep["script_faithful"], rep["full"]
    print(f"E-3DSNN {rep['size']}: {rep['params']:,} parameters; {args.seeds} seeded draws of the script's input "
          f"({SCRIPT_POINTS:,} points in [0, {SCRIPT_GRID})^3)")
    print(f"  script-faithful (stem only, as energy_calculate.py): {sf['mean']:.4g} +- {sf['std']:.2g} FLOPs, "
          f"{sf['energy_mj']:.4g} mJ at 4.6 pJ/FLOP (printed: {sf['mean']:.2e} FLOPs, {sf['energy_mj']:.3f} mJ)")
    print(f"  full (every layer, true channels):                 {fu['mean']:.4g} +- {fu['std']:.2g} FLOPs, "
          f"{fu['energy_mj']:.4g} mJ at 4.6 pJ/FLOP")
    for name, f in rep["draws"][0]["per_layer"].items():
        print(f"    seed {rep['draws'][0]['seed']}: {name:28s} {f:>14,}")
    if args.save:
        from neurosim.ir import save

        g = e3dsnn_graph(args.size, seed=0)
        path = save(g, args.save + ".nsim")
        np.save(args.save + "_input.npy", script_features(0)[None, None])
        print(f"wrote {path} and {args.save}_input.npy")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
