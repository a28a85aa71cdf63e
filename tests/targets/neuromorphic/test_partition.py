"""Mapping control: every preset x every bundled model runs or names its limit; --neurons-per-core;
what-if violations; the --chips hint."""

from pathlib import Path

import numpy as np
import pytest

from chips import tiny_chip
from neurosim.errors import CapacityError
from neurosim.frontends import load_model
from neurosim.ir import IF, Dense, FixedPoint, Graph, Input, NeuronFixedPoint, Output
from neurosim.targets.neuromorphic.config import load_preset, preset_names
from neurosim.targets.neuromorphic.estimate import estimate
from neurosim.targets.neuromorphic.model.compile import compile_graph
from neurosim.targets.neuromorphic.partition import Violation, partition

MODELS = Path(__file__).resolve().parents[3] / "models"
_CONV_TN = (r"^population '5' does not fit chip 'truenorth': a single neuron needs 512 axons but axons_per_core is 256 "
            r"\(over by 256\), a physical limit of the chip's cores that no mapping removes; reduce the fan-in, "
            r"sparsify, pick another chip, or pass --allow-overcapacity for a what-if$")
_CONV_ODIN = (r"^the model needs 13 cores = 13 chips of 1 cores, but a 'odin' board holds 1 chip\(s\) \(over by 12\): "
              r"it needs 13 chips; pass --chips 13 \(or --allow-overcapacity for a what-if\)$")
#: (model, preset) -> the pinned one-line refusal; every other pair runs
REFUSED = {("digits_conv", "truenorth"): _CONV_TN, ("digits_conv", "odin"): _CONV_ODIN}


@pytest.mark.parametrize("model", ["digits_mlp", "digits_mlp_nm24", "digits_conv"])
@pytest.mark.parametrize("chip", sorted(preset_names()))
def test_every_preset_runs_every_bundled_model_or_says_why_not(model, chip):
    graph = load_model(MODELS / f"{model}.nir")
    if (model, chip) in REFUSED:
        with pytest.raises(CapacityError, match=REFUSED[model, chip]):
            estimate(graph, chip, timesteps=4, rate=0.2, seed=1)
        return
    est = estimate(graph, chip, timesteps=4, rate=0.2, seed=1)
    m = est.result.mapping
    assert m.n_chips <= load_preset(chip).max_chips and not m.violations
    assert sum(int(v.sum()) for v in est.result.spikes.values()) > 0
    if chip == "odin":  # 128 + 10 neurons, 64 + 128 axons: one 256 x 256 core holds both layers
        assert m.n_physical_cores == 1 and m.n_cores == 2


def test_odin_conv_runs_on_the_board_its_error_names():
    from neurosim.passes.quantize import quantize
    from neurosim.targets.neuromorphic.estimate import on_board

    chip = on_board(load_preset("odin"), 13)
    g = quantize(load_model(MODELS / "digits_conv.nir"), weight_bits=chip.weight_bits, state_bits=chip.membrane_bits).graph
    m = partition(compile_graph(g, "fixed"), chip)
    assert m.n_chips == 13 and m.n_relays > 0 and not m.violations


def _chain(n, fan_in=2):
    fmt, fx = FixedPoint(8, 0), NeuronFixedPoint(state=FixedPoint(12, 0), leak="none")
    return compile_graph(Graph.chain([("input", Input(shape=(fan_in,))),
                                      ("fc", Dense(weight=np.ones((n, fan_in)), weight_format=fmt)),
                                      ("l1", IF(shape=(n,), threshold=4.0, fixed=fx)), ("output", Output(shape=(n,)))]),
                         "fixed")


def test_neurons_per_core_caps_the_slices():
    m = partition(_chain(40), tiny_chip(neurons_per_core=8), neurons_per_core=5)
    assert m.n_cores == 8 and np.diff(m.core_range, axis=1)[:, 0].tolist() == [5] * 8 and m.neurons_per_core == 5


def test_neurons_per_core_above_the_chip_is_an_error_or_a_listed_violation():
    with pytest.raises(CapacityError, match=r"^neurons_per_core=20 exceeds chip 'tiny''s 8 neurons per core \(over by "
                                            r"12\); pass --neurons-per-core 8 or less, or --allow-overcapacity for a "
                                            r"what-if$"):
        partition(_chain(40), tiny_chip(), neurons_per_core=20)
    m = partition(_chain(40), tiny_chip(), neurons_per_core=20, allow_overcapacity=True)
    assert m.n_cores == 2 and Violation(-1, "neurons_per_core", 20, 8) in m.violations


def test_loihi_model_needing_two_chips_names_the_flag():
    # 129 cores of one neuron: two 128-core Loihi chips
    with pytest.raises(CapacityError, match=r"^the model needs 129 cores = 2 chips of 128 cores, but a 'loihi' board "
                                            r"holds 1 chip\(s\) \(over by 1\): it needs 2 chips; pass --chips 2 "):
        partition(_chain(129), load_preset("loihi"), neurons_per_core=1)


def test_what_if_lists_board_and_single_neuron_violations():
    m = partition(_chain(40), tiny_chip(neurons_per_core=2, cores_per_chip=4, max_chips=2), allow_overcapacity=True)
    assert m.violations == (Violation(-1, "chips", 5, 2),) and m.n_chips == 5
    wide = _chain(4, fan_in=100)  # a neuron needs 100 axons, a core has 64
    m = partition(wide, tiny_chip(), allow_overcapacity=True)
    assert m.violations == (Violation(0, "axons", 100, 64),)
