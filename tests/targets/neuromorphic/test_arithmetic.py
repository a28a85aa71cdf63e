"""The presets' neuron arithmetic ([arithmetic] tables) and what quantizing to it changes.

The done-when figure of issue 14: the bench network (neurosim/targets/neuromorphic/bench.py) with
decay 0.951 quantized for Loihi keeps >= 99 % of its float spikes (the shift leak kept ~20 %).
"""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from neurosim.errors import ChipError
from neurosim.passes.quantize import quantize
from neurosim.targets.neuromorphic.arithmetic import SCHEMA, ChipArithmetic, parse_arithmetic, quantization_effect
from neurosim.targets.neuromorphic.bench import make_network, to_graph
from neurosim.targets.neuromorphic.config import PRESET_DIR, load_preset, presets
from neurosim.targets.neuromorphic.estimate import on_board

BUNDLED = ("loihi", "truenorth", "odin", "generic-45nm", "neurosim-core")


def test_every_bundled_preset_declares_a_sourced_arithmetic():
    chips = presets()
    for name in BUNDLED:
        a = chips[name].arithmetic
        assert isinstance(a, ChipArithmetic)
        for key in SCHEMA:
            assert a.sources[key].strip() and a.sources[key] != "not declared in the preset", (name, key)
        assert set(a.constants()) == {f"arithmetic.{k}" for k in SCHEMA}
    loihi = chips["loihi"].arithmetic
    assert (loihi.leak, loihi.leak_bits, loihi.syn_leak, loihi.syn_leak_bits) == ("mult", 12, "mult", 12)
    assert (loihi.input_shift_min, loihi.input_shift_max, loihi.current_bits, loihi.rounding) == (0, 13, 24, "zero")
    assert (chips["truenorth"].arithmetic.leak, chips["truenorth"].arithmetic.leak_bits) == ("linear", 8)
    assert (chips["odin"].arithmetic.leak, chips["odin"].arithmetic.leak_bits) == ("linear", 7)
    assert chips["neurosim-core"].arithmetic.leak == chips["generic-45nm"].arithmetic.leak == "shift"
    assert chips["truenorth"].arithmetic.syn_leak is None  # "none": no current state


def _without_arithmetic(tmp_path: Path) -> Path:
    text = (PRESET_DIR / "loihi.toml").read_text()
    out = tmp_path / "mine.toml"
    out.write_text(text[:text.index("# -- neuron arithmetic")])
    return out


def test_a_preset_without_the_table_gets_the_shift_leak(tmp_path):
    chip = load_preset(_without_arithmetic(tmp_path))
    assert (chip.arithmetic.leak, chip.arithmetic.input_shift_min, chip.arithmetic.input_shift_max) == ("shift", 0, 0)
    assert chip.arithmetic.sources["leak"].startswith("estimate: the preset has no [arithmetic] table")
    assert on_board(chip, 2).arithmetic == chip.arithmetic


def _table(**override):
    base = {"leak": {"value": "mult", "source": "s"}, "leak_bits": {"value": 12, "unit": "bits", "source": "s"},
            "input_shift_min": {"value": 0, "unit": "bits", "source": "s"},
            "input_shift_max": {"value": 6, "unit": "bits", "source": "s"},
            "rounding": {"value": "zero", "source": "s"}}
    base.update(override)
    return {k: v for k, v in base.items() if v is not None}


def test_parse_minimal_table():
    a = parse_arithmetic("f.toml", _table())
    assert (a.leak, a.leak_bits, a.syn_leak, a.input_shift_max) == ("mult", 12, None, 6)
    assert a.sources["syn_leak"] == "not declared in the preset"


@pytest.mark.parametrize("table, msg", [
    ([1], r"^f\.toml: \[arithmetic\] must be a table of constants, found \[1\]$"),
    (_table(leak_exp={"value": 1, "source": "s"}),
     r"^f\.toml: \[arithmetic\] key 'leak_exp' is not part of the schema; expected \['leak', "),
    (_table(leak={"value": "exp", "source": "s"}),
     r"^f\.toml: \[arithmetic\.leak\] must be one of \('shift', 'mult', 'linear'\), found 'exp'$"),
    (_table(leak=None), r"^f\.toml: missing \[arithmetic\.leak\]; declare it with value, unit and source"),
    (_table(rounding={"value": "floor", "source": "s"}),
     r"^f\.toml: \[arithmetic\]: ChipArithmetic\.rounding must be 'zero' for leak='mult'"),
    (_table(input_shift_max={"value": "unknown", "unit": "bits", "source": "s"}),
     r"^f\.toml: \[arithmetic\.input_shift_max\] must be known for every chip, found 'unknown'; give its value$"),
])
def test_invalid_tables_raise_chip_errors(table, msg):
    with pytest.raises(ChipError, match=msg):
        parse_arithmetic("f.toml", table)


def test_chip_arithmetic_needs_sources():
    with pytest.raises(ChipError, match=r"^ChipArithmetic\.leak has no source, found None; add the paper and table"):
        ChipArithmetic(leak="shift")


def bench_net(n, steps, seed=0):
    """The bench network at decay 0.951; ``n_in = n // 10`` keeps its fan-in (50 input + 50 recurrent)."""
    return dataclasses.replace(make_network(n=n, n_in=n // 10, steps=steps, seed=seed), decay=0.951)


def test_quantization_effect_counts_by_hand():
    """A two-neuron IF whose fixed form differs from the float one in a known way: counted by hand."""
    from neurosim.ir import IF, Dense, FixedPoint, Graph, Input, NeuronFixedPoint, Output

    def g(fixed):
        fx = NeuronFixedPoint(state=FixedPoint(8, 0), leak="none") if fixed else None
        thr = [2.0, 3.0] if fixed else [2.0, 2.0]  # neuron 1 fires less often in the "fixed" graph
        return Graph.chain([("input", Input(shape=(2,))),
                            ("fc", Dense(weight=np.eye(2), weight_format=FixedPoint(8, 0) if fixed else None)),
                            ("pop", IF(shape=(2,), threshold=thr, fixed=fx)), ("output", Output(shape=(2,)))])
    x = np.ones((12, 2))
    eff = quantization_effect(g(False), g(True), x)
    # threshold 2 (gt, subtract): v = 1, 2, 3 -> spike at t = 2, then back to 1: spikes at t = 2, 4, .., 10 -> 5;
    # threshold 3: v = 1, 2, 3, 4 -> spike at t = 3, back to 1: t = 3, 6, 9 -> 3
    assert eff["layers"]["pop"] == {"neurons": 2, "float_spikes": 10, "fixed_spikes": 8, "neurons_changed": 1,
                                    "changed_fraction": 0.5}
    assert eff["total"]["spike_ratio"] == 8 / 10


def test_loihi_keeps_the_float_spikes_of_a_decay_0951_network():
    """1,000 neurons (the default suite's version of the 10,000-neuron done-when test): Loihi's 12-bit
    multiplicative leak keeps the float spike count within 2 %, the shift leak (0.9375) loses most of it."""
    net = bench_net(1000, 300)
    g = to_graph(net)
    chip = on_board(load_preset("loihi"), 4)
    mult = quantize(g, weight_bits=chip.weight_bits, state_bits=chip.membrane_bits, arithmetic=chip.arithmetic)
    shift = quantize(g, weight_bits=chip.weight_bits, state_bits=chip.membrane_bits)
    assert mult.layer("lif").leak_code == 3895 and mult.layer("lif").input_shift > 0
    e_mult = quantization_effect(g, mult.graph, net.inputs, chip=chip)["total"]
    e_shift = quantization_effect(g, shift.graph, net.inputs, chip=chip)["total"]
    assert e_mult["float_spikes"] > 3000
    assert 0.98 <= e_mult["spike_ratio"] <= 1.02 and e_mult["changed_fraction"] < 0.2
    assert e_shift["spike_ratio"] < 0.5  # the test can tell the two arithmetics apart


@pytest.mark.slow
def test_done_when_10k_neurons_keep_99_percent_of_the_float_spikes():
    net = dataclasses.replace(make_network(n=10_000, steps=300, seed=0), decay=0.951)
    g = to_graph(net)
    chip = on_board(load_preset("loihi"), 64)
    q = quantize(g, weight_bits=chip.weight_bits, state_bits=chip.membrane_bits, arithmetic=chip.arithmetic)
    eff = quantization_effect(g, q.graph, net.inputs, chip=chip)["total"]
    assert eff["spike_ratio"] >= 0.99 and eff["changed_fraction"] < 0.15
