"""The ``sat`` target of ``neurosim rtl``, ``neurosim verify`` and ``neurosim synth``.

``neurosim rtl sat --rows 4 --cols 4 --nm 2:8 --out DIR`` writes the array's Verilog and manifest;
``neurosim verify sat --tiles 300 --seed 0`` runs the cocotb campaign (every pattern, or one build
with ``--nm``/``--groups``/``--config``); ``neurosim synth sat --fpga ecp5-85`` synthesizes the
dense PE, the sparse PE (and, for ``groups > 1``, the one-group PE with the same multipliers and
window) and the array (sparse and dense-only) and reports the sparse PE's overhead.

``--config NAME_OR_TOML --nm N:M`` builds the array of an accelerator configuration
(:class:`~neurosim.hw.accelerator.AcceleratorConfig`) running N:M: its ``rows`` x ``cols``, PEs of
``groups = lanes // N`` groups of N:M (``sat-vcu1525`` at 2:8: 16 x 32 PEs of two 2:8 groups, 4
multipliers and a 16-wide window each), its activation and weight widths, and the minimum exact
accumulator (unless ``--acc-bits``). Explicit ``--rows``/``--cols``/``--act-bits``/``--weight-bits``
override the config's (a smaller slice of the same PE for ``verify``); the pattern must be one the
config's PE supports.
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
    g.add_argument("--rows", type=int, default=None, help="sat: PE rows (default 4, or the --config's)")
    g.add_argument("--cols", type=int, default=None, help="sat: PE columns (default 4, or the --config's)")
    g.add_argument("--nm", default=None, metavar="N:M",
                   help="sat: the PE's N:M pattern, N:N for a dense-only array (default 2:8"
                        + ("; verify: every pattern of the campaign)" if command == "verify" else ")"))
    g.add_argument("--groups", type=int, default=None, metavar="G",
                   help="sat: N:M groups per PE: G*N multipliers, a G*M-wide window, each weight selecting "
                        "within its group's M (default 1)")
    g.add_argument("--config", default=None, metavar="NAME_OR_TOML",
                   help="sat: take rows, cols, widths and the PE (groups = lanes // N) from an accelerator "
                        "config, e.g. sat-vcu1525, for the --nm pattern")
    g.add_argument("--act-bits", type=int, default=None, help="sat: activation width (default 8, or the --config's)")
    g.add_argument("--weight-bits", type=int, default=None, help="sat: weight width (default 8, or the --config's)")
    g.add_argument("--acc-bits", type=int, default=0, help="sat: accumulator width (default 0: the minimum)")
    if command == "verify":
        g.add_argument("--tiles", type=int, default=300, help="sat: random tiles in all (default 300; plus edge tiles)")
    if command == "synth":
        g.add_argument("--pe-only", action="store_true", help="sat: synthesize the PEs only, not the arrays")


def accelerator_shape(acc, n: int, m: int) -> dict:
    """The SATConfig fields of accelerator ``acc``'s array running N:M: its rows, cols and widths,
    and ``groups = lanes // N`` groups of N:M per PE (the model's ``reduction_per_pe``: ``lanes * M / N``
    sparse, ``lanes`` dense). Raises :class:`SATConfigError` for a pattern the PE cannot run."""
    acc.reduction_per_pe(n, m)  # refuses a pattern the PE's lanes and window cannot run, naming them
    if acc.lanes % n:
        raise SATConfigError(f"--nm {n}:{m} needs N to divide the lanes of accelerator {acc.name!r} "
                             f"({acc.lanes} multipliers per PE), found N = {n}; choose N among "
                             f"{', '.join(str(d) for d in range(1, acc.lanes + 1) if acc.lanes % d == 0)}")
    return {"rows": acc.rows, "cols": acc.cols, "groups": acc.lanes // n, "n": n, "m": m,
            "act_bits": acc.act_bits, "weight_bits": acc.weight_bits}


def config_of(args, nm: str | None = None):
    """The SATConfig of the command line: ``--config`` (an accelerator's shape for ``--nm``) and
    explicit options over it, or the options over the defaults (4 x 4, 2:8, 8-bit, one group)."""
    from neurosim.hdl.sat_config import SATConfig, parse_nm

    n, m = parse_nm(nm or args.nm or "2:8")
    fields = {"rows": 4, "cols": 4, "groups": 1, "n": n, "m": m, "act_bits": 8, "weight_bits": 8}
    if getattr(args, "config", None):
        from neurosim.hw.accelerator import load_config

        if args.groups is not None:
            raise SATConfigError(f"--groups must be left out with --config, found --groups {args.groups!r}; "
                                 f"--config derives groups = lanes // N from the accelerator's PE")
        fields.update(accelerator_shape(load_config(args.config), n, m))
    for key in ("rows", "cols", "groups", "act_bits", "weight_bits"):
        if getattr(args, key, None) is not None:
            fields[key] = getattr(args, key)
    return SATConfig(**fields, acc_bits=args.acc_bits)


def manifest_of(cfg, accelerator: str | None = None) -> dict:
    from neurosim import __version__
    from neurosim.hdl.sat_array import (
        act_beat_layout,
        out_beat_layout,
        weight_beat_layout,
    )

    if cfg.groups == 1:  # the one-group wording, byte-identical to the manifests before grouping
        w_layout = ("cols groups, group c = n values of weight_bits"
                    + (", then n offsets of offset_bits" if not cfg.dense_only else "") + "; then the dense bit")
        a_layout = "rows*m activations of act_bits; then last"
    else:
        w_layout = ("cols PEs, PE c = groups*n values of weight_bits (weight j in group j//n)"
                    + (", then groups*n offsets of offset_bits (each into its group's m-wide sub-window)"
                       if not cfg.dense_only else "") + "; then the dense bit")
        a_layout = "rows*groups*m activations of act_bits (row r's group g: [(r*groups+g)*m, +m)); then last"
    out = {
        "design": "neurosim_sat", "generator": "neurosim.hdl.sat_array.SATArray", "neurosim_version": __version__,
        "params": cfg.params(), "pattern": cfg.pattern, "dense_only": cfg.dense_only,
        "cycle_spec": "tile = 2*rows + cols + t - 1 (neurosim.engine.sat.tile.tile_cycles), +1 per stall cycle",
        "latency": cfg.latency,
        "payloads": {
            "weights": {"bits": weight_beat_layout(cfg).size, "layout": w_layout},
            "acts": {"bits": act_beat_layout(cfg).size, "layout": a_layout},
            "out": {"bits": out_beat_layout(cfg).size, "layout": "cols sums of acc_bits; then last"},
        },
    }
    if cfg.groups > 1:
        out["pe"] = {"groups": cfg.groups, "multipliers": cfg.lanes, "window": cfg.window}
    if accelerator:
        out["accelerator"] = accelerator
    return out


def describe(cfg) -> str:
    """``2:8`` for one group, ``2 x 2:8 (4 multipliers, 16-wide window)`` for more."""
    if cfg.groups == 1:
        return cfg.pattern
    return f"{cfg.groups} x {cfg.pattern} ({cfg.lanes} multipliers, {cfg.window}-wide window)"


def rtl(args) -> int:
    from neurosim.cli import _console
    from neurosim.hdl.emit import emit_design
    from neurosim.hdl.sat_verify import TOP, verilog_of

    cfg = config_of(args)
    path = emit_design(args.out, TOP, verilog_of(cfg), manifest_of(cfg, getattr(args, "config", None)))
    _console().print(f"wrote {path}: {cfg.rows} x {cfg.cols} PEs, {describe(cfg)}, {cfg.act_bits}-bit activations, "
                     f"{cfg.weight_bits}-bit weights, {cfg.acc_bits}-bit sums; and manifest.json")
    return 0


def verify(args) -> int:
    from neurosim.cli import _console
    from neurosim.hdl.sat_verify import CAMPAIGN, verify_campaign

    if args.tiles < 1:
        raise SATConfigError(f"--tiles must be a positive integer, found {args.tiles!r}; give the number of random tiles")
    configs = (config_of(args),) if args.nm or args.groups or args.config else CAMPAIGN
    con = _console()

    def show(r):
        cfg = r.config
        verdict = "[green]PASS[/]" if r.passed else "[red]FAIL[/]"
        con.print(f"{cfg.rows}x{cfg.cols} {describe(cfg)} a{cfg.act_bits} w{cfg.weight_bits} acc{cfg.acc_bits}: {verdict} "
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


def synth_designs(cfg, pe_only: bool = False):
    """(label, make component, top name) of what ``neurosim synth sat`` measures for ``cfg``: the
    dense PE with the same ``groups * n`` multipliers (one group of ``L:L``), the sparse PE and, for
    ``groups > 1``, the one-group PE with the same multipliers and window (``L:(groups*m)``, every
    weight selecting from the whole window), each bare (resources) and behind input registers
    (Fmax); unless ``pe_only``, the array dense-only and sparse."""
    from neurosim.hdl.sat_array import SATArray
    from neurosim.hdl.sat_pe import RegisteredPE, SparsePE

    L = cfg.lanes
    dense = dataclasses.replace(cfg, groups=1, n=L, m=L, acc_bits=0)
    designs = [("dense PE", dense)]
    if not cfg.dense_only:
        designs.append(("sparse PE", cfg))
        if cfg.groups > 1:
            designs.append(("one-group PE", dataclasses.replace(cfg, groups=1, n=L, m=cfg.window, acc_bits=0)))
    out = []
    for tag, c in designs:
        out.append((f"{tag} {describe(c)}", lambda c=c: SparsePE(c), "sat_pe"))
        out.append((f"{tag} {describe(c)} (input registers, for Fmax)", lambda c=c: RegisteredPE(c), "sat_pe_bench"))
    if not pe_only:
        out.append((f"array {cfg.rows}x{cfg.cols} {describe(dense)}", lambda: SATArray(dense), "neurosim_sat"))
        if not cfg.dense_only:
            out.append((f"array {cfg.rows}x{cfg.cols} {describe(cfg)}", lambda: SATArray(cfg), "neurosim_sat"))
    return out


def synth(args) -> int:
    from neurosim.cli import _console
    from neurosim.fileio import write_text_atomic
    from neurosim.hdl.synth import synthesize_design

    cfg = config_of(args)
    con = _console()
    reports = []
    for k, (label, make, name) in enumerate(synth_designs(cfg, getattr(args, "pe_only", False))):
        r = synthesize_design(make(), name, args.fpga, Path(args.work) / TARGET / f"{k}_{name}")
        reports.append({"design": label, **r.as_dict()})
        con.print(f"{label}: {r.device}: LUT4 {r.luts}, FF {r.ffs}, BRAM {r.bram}, LUTRAM {r.lutram}, DSP {r.dsp}, "
                  f"placed LUTs {r.logic_cells}, Fmax {r.fmax_mhz} MHz" + ("" if r.fits else " [red](does not fit)[/]"))
    by = {d["design"]: d for d in reports}
    L = cfg.lanes
    dense_pe = by.get(f"dense PE {L}:{L}")
    sparse_pe = by.get(f"sparse PE {describe(cfg)}")
    one_group = by.get(f"one-group PE {L}:{cfg.window}")

    def delta(new, base, key):
        b = base[key] or 0
        return f"{new[key] - b:+d} ({(new[key] - b) / b:+.0%})" if b else "n/a"

    if dense_pe and sparse_pe:
        con.print(f"sparse PE {describe(cfg)} over dense PE {L}:{L} (same {L} multipliers): "
                  f"LUT4 {delta(sparse_pe, dense_pe, 'luts')}, FF {delta(sparse_pe, dense_pe, 'ffs')}, "
                  f"DSP {sparse_pe['dsp'] - dense_pe['dsp']:+d}")
    if one_group and sparse_pe:
        con.print(f"grouped PE {describe(cfg)} over one-group PE {L}:{cfg.window} (same multipliers and window): "
                  f"LUT4 {delta(sparse_pe, one_group, 'luts')}, FF {delta(sparse_pe, one_group, 'ffs')}, "
                  f"DSP {sparse_pe['dsp'] - one_group['dsp']:+d}")
    if args.json:
        write_text_atomic(args.json, json.dumps({"config": dataclasses.asdict(cfg), "reports": reports}, indent=1) + "\n")
    return 0 if all(r["fits"] for r in reports) else 1
