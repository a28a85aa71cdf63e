"""Extract the layer tables of the standard networks that ``neurosim sat NAME`` reads without torch.

    python models/extract_sat_networks.py [--out neurosim/targets/sat/model/networks]

Each network of :data:`sat_networks.NETWORKS` (torch-only copies of torchvision's resnet18,
resnet50, vgg16, vit_b_16 and mobilenet_v2, same module paths and parameter counts) is built on the
meta device (no weights, nothing downloaded), lowered through the torch frontend to the IR
(``from_torch``, input ``(3, 224, 224)``) and turned into a training workload
(:func:`neurosim.targets.sat.model.workload.from_graph`), written as ``<name>.json``. With torchvision
installed (a CPU build), ``--torchvision`` lowers its models instead; the tables come out the same.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sat_networks import NETWORKS

from neurosim.targets.sat.model.workload import NETWORK_DIR, from_graph
from neurosim.frontends.torch import from_torch

INPUT_SHAPE = (3, 224, 224)


def build(name: str, use_torchvision: bool = False) -> torch.nn.Module:
    with torch.device("meta"):
        if use_torchvision:
            import torchvision

            return getattr(torchvision.models, name)(weights=None)
        return NETWORKS[name]()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(NETWORK_DIR))
    p.add_argument("--torchvision", action="store_true", help="lower torchvision's models (needs a CPU torchvision)")
    p.add_argument("names", nargs="*", default=sorted(NETWORKS))
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.names:
        t0 = time.perf_counter()
        graph = from_torch(build(name, args.torchvision), INPUT_SHAPE)
        source = f"{'torchvision' if args.torchvision else 'models/sat_networks.py'}:{name}, meta device, input " \
                 f"{INPUT_SHAPE}, via models/extract_sat_networks.py"
        w = from_graph(graph, name, source=source)
        w.save(out / f"{name}.json")
        print(f"{name}: {len(w.gemms)} GEMM layers, {len(w.vectors)} vector layers, {w.macs(1) / 1e9:.2f} GMAC per "
              f"sample ({time.perf_counter() - t0:.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
