"""Run dense GEMM layers through SCALE-Sim 3.0 (weight stationary) and report cycles per layer.

A cross-check for the systolic-array cycle model. SCALE-Sim 3.0.0 does not run with numpy >= 2.4
(``int()`` of an array in ``memory/double_buffered_scratchpad_mem.py``), which neurosim's
environment has, so this script runs under its own interpreter and does not import neurosim:

    python3 -m venv /tmp/ssenv
    /tmp/ssenv/bin/pip install 'numpy==2.3.*' scalesim==3.0.0
    /tmp/ssenv/bin/python scalesim_runner.py --layers LAYERS.json --rows R --cols C \\
        --out RESULT.json [--workdir DIR]

LAYERS.json is a list of ``{"name": str, "M": int, "K": int, "N": int}``, each the dense GEMM
``Y[M, N] = X[M, K] @ W[K, N]`` (M = output pixels x batch, K = reduction, N = output channels).
Each layer is simulated on its own, in GEMM mode, which gives operand matrices of exactly M x K
(ifmap) and K x N (filter). RESULT.json holds ``rows, cols, dataflow, scalesim_version, wall_s``
and per layer ``name, M, K, N, compute_cycles, stall_cycles, total_cycles, wall_s``.

Facts about SCALE-Sim 3.0.0 this relies on:

* The wheel ships no configs or topologies; a config file and a layout CSV are written here (the
  layout CSV must exist even with custom layouts off; a header-only file is enough).
* GEMM topology rows are ``name, M, N, K,`` (note the order and the trailing comma: the parser
  drops the last field of each row).
* ``scalesim.get_total_cycles()`` is broken; the cycles are read from ``COMPUTE_REPORT.csv``, whose
  columns are ``LayerID, Total Cycles (incl. prefetch), Total Cycles, Stall Cycles, Overall Util %,
  Mapping Efficiency %, Compute Util %``. "Total Cycles" includes the stalls; "Total Cycles (incl.
  prefetch)" also counts the DRAM prefetch before compute and is not used here.
* Bandwidth mode CALC: reads never stall in that mode and the ofmap drains at ``cols`` words per
  cycle, so stall_cycles comes out 0 and compute_cycles == total_cycles whatever the SRAM sizes.
  (Stalls appear only in USER bandwidth mode; there "Total Cycles" = compute + stall cycles.)
* For WS, with R x C the array, the reported compute cycles are exactly
  ``ceil(K / R) * ceil(N / C) * (2 * R + C + M - 2) - 1``: every fold, partial or not, costs the
  full ``2R + C + M - 2`` rows of demand (R weight-load, M streaming, C - 1 drain, R - 1 skew),
  and the report takes the index of the last cycle, hence the -1 once per layer.
* In conv mode SCALE-Sim does not pad and uses ``ofmap = ceil((ifmap - filter) / stride) + 1``,
  which overcounts output pixels when ``(ifmap - filter) % stride != 0``; another reason to use
  GEMM mode here.
* It is slow: its time grows with simulated cycles x array width, about 0.04 ms per cycle on a
  32x32 array and 0.27 ms per cycle on 128x128 (one core of a 2-core VM).
"""

import argparse
import csv
import json
import shutil
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
from scalesim.scale_sim import scalesim

CONFIG = """\
[general]
run_name = run

[run_presets]
InterfaceBandwidth = CALC
UseRamulatorTrace = False

[architecture_presets]
ArrayHeight = {rows}
ArrayWidth = {cols}
ifmapsramszkB = {sram_kb}
filtersramszkB = {sram_kb}
ofmapsramszkB = {sram_kb}
IfmapOffset = 0
FilterOffset = 10000000
OfmapOffset = 20000000
Dataflow = ws
ReadRequestBuffer = 32
WriteRequestBuffer = 32

[layout]
IfmapCustomLayout = False
FilterCustomLayout = False
IfmapSRAMBankBandwidth = 10
IfmapSRAMBankNum = 10
IfmapSRAMBankPort = 2
FilterSRAMBankBandwidth = 10
FilterSRAMBankNum = 10
FilterSRAMBankPort = 2

[sparsity]
SparsitySupport = false
"""

# Per buffer. In CALC mode the cycles do not depend on it (1 kB gives the same counts), but the
# set-up time grows with it (about 2.3 s per layer at 1 GB) and tiny buffers slow the drains.
SRAM_KB = 8192


def load_layers(path):
    layers = json.loads(Path(path).read_text())
    for layer in layers:
        for key in ("M", "K", "N"):
            if not isinstance(layer.get(key), int) or layer[key] < 1:
                raise ValueError(f"layer {layer.get('name')!r}: {key} must be a positive int")
    return layers


def read_compute_report(path):
    """The single layer's row of COMPUTE_REPORT.csv as {column: value}, header names stripped."""
    with open(path, newline="") as f:
        header, row = list(csv.reader(f))[:2]
    return {h.strip(): v.strip() for h, v in zip(header, row) if h.strip()}


def run_layer(index, layer, workdir, config_path, layout_path):
    m, k, n = layer["M"], layer["K"], layer["N"]
    layer_dir = workdir / f"layer{index}"
    layer_dir.mkdir()
    topology_path = layer_dir / "topology.csv"
    # GEMM rows are "name, M, N, K," with a trailing comma; a neutral name avoids CSV quoting.
    topology_path.write_text(f"Layer,M,N,K,\nL{index},{m},{n},{k},\n")

    t_start = time.perf_counter()
    sim = scalesim(save_disk_space=True, verbose=False, config=str(config_path),
                   topology=str(topology_path), layout=str(layout_path), input_type_gemm=True)
    # The ifmap operand is (ofmap pixels) x (window) and the filter operand (window) x (filters).
    assert sim.topo.get_layer_num_ofmap_px(0) == m * n and sim.topo.get_layer_window_size(0) == k
    sim.run_scale(top_path=str(layer_dir / "out"))
    report = read_compute_report(layer_dir / "out" / "run" / "COMPUTE_REPORT.csv")
    wall_s = time.perf_counter() - t_start

    total, stall = int(report["Total Cycles"]), int(report["Stall Cycles"])
    return {"name": layer["name"], "M": m, "K": k, "N": n, "compute_cycles": total - stall,
            "stall_cycles": stall, "total_cycles": total, "wall_s": wall_s}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", required=True, help="JSON list of {name, M, K, N}")
    parser.add_argument("--rows", type=int, required=True, help="systolic array rows (R)")
    parser.add_argument("--cols", type=int, required=True, help="systolic array columns (C)")
    parser.add_argument("--out", required=True, help="result JSON path")
    parser.add_argument("--workdir", help="keep SCALE-Sim's files here (default: a temporary dir)")
    args = parser.parse_args(argv)

    if tuple(int(x) for x in np.__version__.split(".")[:2]) >= (2, 4):
        sys.exit(f"scalesim 3.0.0 needs numpy < 2.4, this interpreter has {np.__version__}")
    layers = load_layers(args.layers)

    if args.workdir:
        workdir = Path(args.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        workdir = Path(tempfile.mkdtemp(prefix="scalesim_"))
    config_path = workdir / "scalesim.cfg"
    config_path.write_text(CONFIG.format(rows=args.rows, cols=args.cols, sram_kb=SRAM_KB))
    layout_path = workdir / "layout.csv"
    layout_path.write_text("Layer name,\n")

    results = []
    t_start = time.perf_counter()
    try:
        for index, layer in enumerate(layers):
            results.append(run_layer(index, layer, workdir, config_path, layout_path))
            r = results[-1]
            print(f"{r['name']}: M={r['M']} K={r['K']} N={r['N']} -> {r['compute_cycles']} cycles "
                  f"({r['stall_cycles']} stall), {r['wall_s']:.1f} s", file=sys.stderr)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    wall_s = time.perf_counter() - t_start

    result = {"rows": args.rows, "cols": args.cols, "dataflow": "ws",
              "scalesim_version": version("scalesim"), "wall_s": wall_s, "layers": results}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
