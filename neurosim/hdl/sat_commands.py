"""The ``sat`` target of ``neurosim rtl``, ``neurosim verify`` and ``neurosim synth``.

``neurosim rtl sat --rows 4 --cols 4 --nm 2:8 --out DIR`` writes the array's Verilog and manifest;
``neurosim verify sat --tiles 300 --seed 0`` runs the cocotb campaign (every pattern, or one build
with ``--nm``); ``neurosim synth sat --fpga ecp5-85`` synthesizes the dense PE, the sparse PE and
the array (sparse and dense-only) and reports the sparse PE's overhead.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from neurosim.errors import SATConfigError

TARGET = "sat"


def add_options(p: argparse.ArgumentParser, command: str) -> None:
    """The options of the ``sat`` target (ignored for a model file)."""
    g = p.add_argument_group(f"SAT PE array (`neurosim {command} sat`)")
    g.add_argument("--rows", type=int, default=4, help="sat: PE rows (default 4)")
    g.add_argument("--cols", type=int, default=4, help="sat: PE columns (default 4)")
    g.add_argument("--nm", default=None, metavar="N:M",
                   help="sat: the PE's N:M pattern, N:N for a dense-only array (default 2:8"
                        + ("; verify: every pattern of the campaign)" if command == "verify" else ")"))
    g.add_argument("--act-bits", type=int, default=8, help="sat: activation width (default 8)")
    g.add_argument("--weight-bits", type=int, default=8, help="sat: weight width (default 8)")
    g.add_argument("--acc-bits", type=int, default=0, help="sat: accumulator width (default 0: the minimum)")
    if command == "verify":
        g.add_argument("--tiles", type=int, default=300, help="sat: random tiles in all (default 300; plus edge tiles)")


def config_of(args, nm: str | None = None):
    from neurosim.hdl.sat_config import SATConfig, parse_nm

    n, m = parse_nm(nm or args.nm or "2:8")
    return SATConfig(rows=args.rows, cols=args.cols, n=n, m=m, act_bits=args.act_bits, weight_bits=args.weight_bits,
                     acc_bits=args.acc_bits)


def manifest_of(cfg) -> dict:
    from neurosim import __version__
    from neurosim.hdl.sat_array import (
        act_beat_layout,
        out_beat_layout,
        weight_beat_layout,
    )

    return {
        "design": "neurosim_sat", "generator": "neurosim.hdl.sat_array.SATArray", "neurosim_version": __version__,
        "params": dataclasses.asdict(cfg), "pattern": cfg.pattern, "dense_only": cfg.dense_only,
        "cycle_spec": "tile = 2*rows + cols + t - 1 (neurosim.engine.sat.tile.tile_cycles), +1 per stall cycle",
        "latency": cfg.latency,
        "payloads": {
            "weights": {"bits": weight_beat_layout(cfg).size, "layout": "cols groups, group c = n values of weight_bits"
                        + (", then n offsets of offset_bits" if not cfg.dense_only else "") + "; then the dense bit"},
            "acts": {"bits": act_beat_layout(cfg).size, "layout": "rows*m activations of act_bits; then last"},
            "out": {"bits": out_beat_layout(cfg).size, "layout": "cols sums of acc_bits; then last"},
        },
    }


def rtl(args) -> int:
    from neurosim.cli import _console
    from neurosim.hdl.emit import emit_design
    from neurosim.hdl.sat_verify import TOP, verilog_of

    cfg = config_of(args)
    path = emit_design(args.out, TOP, verilog_of(cfg), manifest_of(cfg))
    _console().print(f"wrote {path}: {cfg.rows} x {cfg.cols} PEs, {cfg.pattern}, {cfg.act_bits}-bit activations, "
                     f"{cfg.weight_bits}-bit weights, {cfg.acc_bits}-bit sums; and manifest.json")
    return 0


def verify(args) -> int:
    from neurosim.cli import _console
    from neurosim.hdl.sat_verify import CAMPAIGN, verify_campaign

    if args.tiles < 1:
        raise SATConfigError(f"--tiles must be a positive integer, found {args.tiles!r}; give the number of random tiles")
    configs = (config_of(args),) if args.nm else CAMPAIGN
    con = _console()

    def show(r):
        cfg = r.config
        verdict = "[green]PASS[/]" if r.passed else "[red]FAIL[/]"
        con.print(f"{cfg.rows}x{cfg.cols} {cfg.pattern} a{cfg.act_bits} w{cfg.weight_bits} acc{cfg.acc_bits}: {verdict} "
                  f"{r.tiles} tiles ({r.sparse_tiles} sparse, {r.dense_tiles} dense), {r.beats} beats, "
                  f"{r.stall_cycles} stall cycles; differing bits {r.differing_bits}, cycles {r.differing_cycles} "
                  f"({r.simulator}, {r.run_s:.1f} s)")
        if r.first_difference:
            con.print(f"  first difference: {r.first_difference}")

    results = verify_campaign(args.tiles, args.seed, Path(args.work) / TARGET, args.simulator, configs, progress=show)
    ok = all(r.passed for r in results)
    con.print(f"{'[green]PASS[/]' if ok else '[red]FAIL[/]'}: {sum(r.tiles for r in results)} tiles on "
              f"{len(results)} builds, differing bits {sum(r.differing_bits for r in results)}, differing cycles "
              f"{sum(r.differing_cycles for r in results)}")
    return 0 if ok else 1


def synth_designs(cfg):
    """(label, make component, top name) of what ``neurosim synth sat`` measures for ``cfg``: the
    dense PE with the same ``n`` multipliers (``n:n``), the sparse PE, each bare (resources) and
    behind input registers (Fmax), and the array dense-only and sparse."""
    from neurosim.hdl.sat_array import SATArray
    from neurosim.hdl.sat_pe import RegisteredPE, SparsePE

    dense = dataclasses.replace(cfg, m=cfg.n, acc_bits=0)
    out = []
    for tag, c in (("dense PE", dense), ("sparse PE", cfg)):
        if tag == "dense PE" or not cfg.dense_only:
            out.append((f"{tag} {c.pattern}", lambda c=c: SparsePE(c), "sat_pe"))
            out.append((f"{tag} {c.pattern} (input registers, for Fmax)", lambda c=c: RegisteredPE(c), "sat_pe_bench"))
    out.append((f"array {cfg.rows}x{cfg.cols} {dense.pattern}", lambda: SATArray(dense), "neurosim_sat"))
    if not cfg.dense_only:
        out.append((f"array {cfg.rows}x{cfg.cols} {cfg.pattern}", lambda: SATArray(cfg), "neurosim_sat"))
    return out


def synth(args) -> int:
    from neurosim.cli import _console
    from neurosim.fileio import write_text_atomic
    from neurosim.hdl.synth import synthesize_design

    cfg = config_of(args)
    con = _console()
    reports = []
    for k, (label, make, name) in enumerate(synth_designs(cfg)):
        r = synthesize_design(make(), name, args.fpga, Path(args.work) / TARGET / f"{k}_{name}")
        reports.append({"design": label, **r.as_dict()})
        con.print(f"{label}: {r.device}: LUT4 {r.luts}, FF {r.ffs}, BRAM {r.bram}, LUTRAM {r.lutram}, DSP {r.dsp}, "
                  f"placed LUTs {r.logic_cells}, Fmax {r.fmax_mhz} MHz" + ("" if r.fits else " [red](does not fit)[/]"))
    by = {d["design"]: d for d in reports}
    dense_pe = by.get(f"dense PE {cfg.n}:{cfg.n}")
    sparse_pe = by.get(f"sparse PE {cfg.pattern}")
    if dense_pe and sparse_pe:
        def pct(key):
            base = dense_pe[key] or 0
            return f"{sparse_pe[key] - base:+d} ({(sparse_pe[key] - base) / base:+.0%})" if base else "n/a"
        con.print(f"sparse PE {cfg.pattern} over dense PE {cfg.n}:{cfg.n} (same {cfg.n} multipliers): LUT4 {pct('luts')}, "
                  f"FF {pct('ffs')}, DSP {sparse_pe['dsp'] - dense_pe['dsp']:+d}")
    if args.json:
        write_text_atomic(args.json, json.dumps({"config": dataclasses.asdict(cfg), "reports": reports}, indent=1) + "\n")
    return 0 if all(r["fits"] for r in reports) else 1
