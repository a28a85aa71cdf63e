"""The SAT array's mutation campaign: every built-in mutant must be caught by the verification.

``SATArray.MUTATIONS`` plants one deliberate bug each (datapath, timing, the dense mode bit, the
stream protocol; :data:`~neurosim.targets.sat.hdl.array.MUTATION_DOCS` says what). The slow
campaign builds every mutant once and runs the suite's checks on it -- numpy's outputs bit for
bit, the cycle model's counts, the stream monitors -- over a build's edge tiles and random tiles
with gaps and back-pressure; a mutant is *killed* when the run fails. Every mutant not argued
equivalent in :data:`EQUIVALENT` must be killed. The fast test only checks that each mutant
really changes the generated Verilog (a mutant that elaborates to the same netlist text would be
a no-op that could never be killed).
"""

import shutil
import time

import pytest

from neurosim.targets.sat.hdl import verilog_of
from neurosim.targets.sat.hdl.array import MUTATION_DOCS, SATArray
from neurosim.targets.sat.hdl.config import SATConfig

needs_icarus = pytest.mark.skipif(shutil.which("iverilog") is None,
                                  reason="needs Icarus Verilog (bash scripts/test.sh installs it)")

#: the campaign's build: two rows and three columns (every skew/de-skew/chain mutant exists),
#: two 2:8 groups (neighbour_group exists), rows * groups * n = 8 a power of two with the minimum
#: accumulator, so the largest sum needs every accumulator bit (acc_narrow is not equivalent)
CAMPAIGN_CFG = SATConfig(rows=2, cols=3, groups=2, n=2, m=8)

#: mutants that no stimulus can tell from the design, each with the argument; none on this build
EQUIVALENT: dict[str, str] = {}

#: random tiles per mutant run (plus the build's 12 edge tiles)
TILES = 12


def test_mutation_list_is_documented_and_distinct():
    """Every mutation has a description, the quick subset is part of the list, no name twice."""
    assert set(MUTATION_DOCS) == set(SATArray.MUTATIONS) and len(set(SATArray.MUTATIONS)) == len(SATArray.MUTATIONS)
    assert set(SATArray.QUICK_MUTATIONS) <= set(SATArray.MUTATIONS)
    assert 20 <= len(SATArray.MUTATIONS) <= 30 and set(EQUIVALENT) <= set(SATArray.MUTATIONS)


#: the smallest build on which every mutant exists (2 x 2, two 1:2 groups, 2-bit operands): fast to emit
TINY_CFG = SATConfig(rows=2, cols=2, groups=2, n=1, m=2, act_bits=2, weight_bits=2)


@pytest.mark.filterwarnings("ignore:.*created but never used")
def test_every_mutant_changes_the_verilog():
    """A mutant whose Verilog equals the design's could never be killed: each one must differ."""
    base = verilog_of(TINY_CFG)
    same = [name for name in SATArray.MUTATIONS if verilog_of(TINY_CFG, mutate=name) == base]
    assert not same, f"mutants that elaborate to the unmutated Verilog: {same}"


@pytest.mark.slow
@needs_icarus
def test_mutation_campaign(tmp_path, capsys):
    """One build per mutant, edge and random tiles with gaps and back-pressure: every mutant not
    in EQUIVALENT fails the run (differing bits, cycles or protocol violations)."""
    from neurosim.targets.sat.verify import random_tiles, run

    tiles = random_tiles(CAMPAIGN_CFG, TILES, seed=11)
    clean = run(CAMPAIGN_CFG, tiles, tmp_path / "clean", seed=11)
    assert clean.passed, clean.first_difference  # the same stimulus passes on the design itself
    rows, t0 = [], time.perf_counter()
    for name in SATArray.MUTATIONS:
        r = run(CAMPAIGN_CFG, tiles, tmp_path / name, mutate=name, seed=11)
        rows.append((name, not r.passed, r.differing_bits, r.differing_cycles, r.protocol_violations,
                     r.first_difference or ""))
    wall = time.perf_counter() - t0
    candidates = [r for r in rows if r[0] not in EQUIVALENT]
    killed = [r for r in candidates if r[1]]
    with capsys.disabled():
        print(f"\nSAT mutation campaign on {CAMPAIGN_CFG.name()}, {len(tiles)} tiles per mutant:")
        print(f"{'mutant':26} {'killed':6} {'bits':>6} {'cycles':>6} {'protocol':>8}  first difference")
        for name, dead, bits, cycles, prot, first in rows:
            print(f"{name:26} {'yes' if dead else 'NO':6} {bits:6d} {cycles:6d} {prot:8d}  {first[:90]}")
        print(f"killed {len(killed)} of {len(candidates)} non-equivalent mutants "
              f"({len(killed) / len(candidates):.0%}), {len(EQUIVALENT)} equivalent; {wall:.0f} s")
    survivors = [r[0] for r in candidates if not r[1]]
    assert len(killed) >= 0.95 * len(candidates), f"surviving mutants: {survivors}"
    assert not survivors, f"surviving mutants: {survivors}"
