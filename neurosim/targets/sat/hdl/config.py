"""The configuration of one generated SAT PE array: the parameters the RTL is built for.

The array is the RTL twin of the tile contract in :mod:`neurosim.targets.sat.model.tile`: ``rows`` x
``cols`` weight-stationary PEs, each holding ``groups`` N:M weight groups (per group ``n`` values
and ``n`` offsets into its own sub-window of ``m`` activations), so a PE owns ``groups * n``
multipliers and sees a window of ``groups * m`` activations. Weight ``j`` belongs to group
``j // n`` and selects only within that group's sub-window (an m-to-1 multiplexer, not a
``groups * m``-to-1 one: the saving of grouping). ``groups = lanes // N`` builds the PE of an
:class:`~neurosim.targets.sat.config.AcceleratorConfig` (``sat-vcu1525``: 2:8 as two groups, 4
multipliers, a 16-wide window). ``n == m`` builds a dense-only array (no offsets, no index
muxes): the baseline the sparse PE's overhead is measured against. Widths are structural;
weights, offsets and the sparse/dense mode arrive at run time on the weight stream, so one build
serves every tile of its shape.

Integer arithmetic is exact: ``acc_bits`` must hold any sum of ``rows * groups * n`` products of
an ``act_bits`` and a ``weight_bits`` two's-complement value, which takes
``act_bits + weight_bits + ceil(log2(rows * groups * n))`` signed bits (the product of the two
most negative values, ``2**(act_bits + weight_bits - 2)``, needs ``act_bits + weight_bits`` alone).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from neurosim.errors import SATConfigError


def min_acc_bits(rows: int, n: int, act_bits: int, weight_bits: int, groups: int = 1) -> int:
    """Narrowest signed accumulator that holds every column sum of a tile (``rows * groups * n``
    products) exactly."""
    return act_bits + weight_bits + math.ceil(math.log2(rows * groups * n))


@dataclass(frozen=True)
class SATConfig:
    rows: int = 4
    cols: int = 4
    n: int = 2
    m: int = 8
    act_bits: int = 8
    weight_bits: int = 8
    acc_bits: int = 0  # 0: the minimum, min_acc_bits(rows, n, act_bits, weight_bits, groups)
    groups: int = 1  # N:M groups per PE: groups * n multipliers, a window of groups * m activations

    def __post_init__(self) -> None:
        def check_int(field, lo, hi, fix):
            v = getattr(self, field)
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise SATConfigError(f"SATConfig.{field} must be an int in {lo}..{hi}, found {v!r}; {fix}")

        check_int("rows", 1, 64, "pick an array height the FPGA can hold")
        check_int("cols", 1, 64, "pick an array width the FPGA can hold")
        check_int("m", 1, 32, "use an N:M pattern with M at most 32")
        check_int("n", 1, 32, "use an N:M pattern with N at most 32")
        if self.n > self.m:
            raise SATConfigError(f"SATConfig.n must be at most m ({self.m}), found {self.n!r}; an N:M group keeps "
                                 f"N of every M weights")
        check_int("groups", 1, 32, "give the number of N:M groups per PE (1 for one group)")
        if self.groups * self.m > 64:
            raise SATConfigError(f"SATConfig.groups * m (the PE window) must be at most 64 activations, found "
                                 f"{self.groups!r} * {self.m} = {self.groups * self.m}; use fewer groups")
        check_int("act_bits", 2, 24, "use 2- to 24-bit activations")
        check_int("weight_bits", 2, 24, "use 2- to 24-bit weights")
        need = min_acc_bits(self.rows, self.n, self.act_bits, self.weight_bits, self.groups)
        acc = self.acc_bits
        if not isinstance(acc, int) or isinstance(acc, bool) or acc < 0 or acc > 63:
            raise SATConfigError(f"SATConfig.acc_bits must be an int in {need}..63 (0 = the minimum), found {acc!r}; "
                                 f"leave it 0 for {need} bits")
        if 0 < acc < need:
            raise SATConfigError(
                f"SATConfig.acc_bits must be at least act_bits + weight_bits + ceil(log2(rows * groups * n)) = {need} to hold "
                f"every column sum exactly, found {acc!r}; raise it or leave it 0 for the minimum")
        if acc == 0:
            object.__setattr__(self, "acc_bits", need)

    @property
    def dense_only(self) -> bool:
        """``n == m``: every tile is dense; the PEs have no offsets and no index muxes."""
        return self.n == self.m

    @property
    def lanes(self) -> int:
        """Multipliers per PE: ``groups * n`` (the accelerator config's ``lanes``)."""
        return self.groups * self.n

    @property
    def window(self) -> int:
        """Activations per PE window: ``groups * m`` (``groups * n`` of them meet a weight in dense mode)."""
        return self.groups * self.m

    @property
    def offset_bits(self) -> int:
        """Bits of one offset into its group's ``m``-wide sub-window (0 in a dense-only build)."""
        return 0 if self.dense_only else (self.m - 1).bit_length()

    @property
    def latency(self) -> int:
        """Cycles from an activation beat's handshake to its output beat's (``rows + cols - 1``)."""
        return self.rows + self.cols - 1

    @property
    def pattern(self) -> str:
        return f"{self.n}:{self.m}"

    def name(self) -> str:
        """A file-name-safe tag; ``_g{groups}`` only for ``groups > 1`` (one-group names as before)."""
        g = f"_g{self.groups}" if self.groups > 1 else ""
        return (f"sat_r{self.rows}_c{self.cols}{g}_n{self.n}_m{self.m}_a{self.act_bits}_w{self.weight_bits}"
                f"_acc{self.acc_bits}")

    def params(self) -> dict:
        """The fields as a dict for manifests; ``groups`` only when > 1, so one-group manifests
        (``rtl/sat``) stay byte-identical to those written before grouping existed."""
        out = dataclasses.asdict(self)
        if self.groups == 1:
            del out["groups"]
        return out
