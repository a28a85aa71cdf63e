"""Cold-process timing of the engine: start Python, build the bench network, map it, run it, report.

    time python tests/bench/cold_engine.py [--chip PRESET_OR_TOML] [--chips N]

Numba's compiled kernels are cached on disk (``@njit(cache=True)``); the first run after an
install compiles them (measure that by deleting numba's cache first: ``$NUMBA_CACHE_DIR``, by default ``~/.cache/neurosim/numba``).
"""

import argparse
import sys
import time

t_start = time.perf_counter()

from neurosim.targets.neuromorphic.bench import make_network, to_graph  # noqa: E402
from neurosim.targets.neuromorphic.model.simulate import simulate  # noqa: E402
from neurosim.targets.neuromorphic.estimate import on_board  # noqa: E402
from neurosim.targets.neuromorphic.config import load_preset  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--chip", default="loihi")
parser.add_argument("--chips", type=int, default=4)
args = parser.parse_args()
net = make_network()
res = simulate(to_graph(net), on_board(load_preset(args.chip), args.chips), net.inputs, mode="float")
print(f"{int(res.spikes['lif'].sum())} spikes, {int(res.counts['synaptic_op'].sum())} synaptic ops on "
      f"{res.mapping.n_cores} cores; start to report {time.perf_counter() - t_start:.2f} s")
sys.exit(0)
