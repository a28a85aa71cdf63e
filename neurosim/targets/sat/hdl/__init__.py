"""RTL of the SAT target: the N:M sparse PE and the weight-stationary PE array (amaranth).

:func:`verilog_of` and :func:`manifest_of` are the target's entry points for ``neurosim sat rtl``
and its verification (the neuromorphic target's ``hdl`` package has the same two).
"""

from __future__ import annotations

TOP = "neurosim_sat"

#: a tile's cycle count, as the manifest states it (the contract of :mod:`neurosim.targets.sat.model.tile`)
CYCLE_SPEC = "tile = 2*rows + cols + t - 1 (neurosim.targets.sat.model.tile.tile_cycles), +1 per stall cycle"


def verilog_of(cfg, name: str = TOP, mutate: str | None = None) -> str:
    """The array's Verilog for :class:`~.config.SATConfig` ``cfg`` (``mutate`` plants one of the
    verification's deliberate bugs)."""
    from neurosim.hdl.emit import verilog
    from neurosim.targets.sat.hdl.array import SATArray

    return verilog(SATArray(cfg, mutate=mutate), name)


def manifest_of(cfg, accelerator: str | None = None) -> dict:
    from neurosim.hdl.emit import manifest
    from neurosim.targets.sat.hdl.array import SATArray, act_beat_layout, out_beat_layout, weight_beat_layout

    if cfg.groups == 1:  # the one-group wording, byte-identical to the manifests before grouping
        w_layout = ("cols groups, group c = n values of weight_bits"
                    + (", then n offsets of offset_bits" if not cfg.dense_only else "") + "; then the dense bit")
        a_layout = "rows*m activations of act_bits; then last"
    else:
        w_layout = ("cols PEs, PE c = groups*n values of weight_bits (weight j in group j//n)"
                    + (", then groups*n offsets of offset_bits (each into its group's m-wide sub-window)"
                       if not cfg.dense_only else "") + "; then the dense bit")
        a_layout = "rows*groups*m activations of act_bits (row r's group g: [(r*groups+g)*m, +m)); then last"
    out = manifest(TOP, SATArray, cfg.params(), pattern=cfg.pattern, dense_only=cfg.dense_only, cycle_spec=CYCLE_SPEC,
                   latency=cfg.latency, payloads={
                       "weights": {"bits": weight_beat_layout(cfg).size, "layout": w_layout},
                       "acts": {"bits": act_beat_layout(cfg).size, "layout": a_layout},
                       "out": {"bits": out_beat_layout(cfg).size, "layout": "cols sums of acc_bits; then last"},
                   })
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
