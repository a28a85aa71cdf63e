"""Mapping files: validation errors pinned; an imposed mapping equals the automatic one it spells out."""

import numpy as np
import pytest

from chips import tiny_chip
from neurosim.errors import CapacityError, FormatError
from neurosim.ir import IF, Dense, FixedPoint, Graph, Input, NeuronFixedPoint, Output
from neurosim.targets.neuromorphic.mapfile import parse_mapfile
from neurosim.targets.neuromorphic.model.compile import compile_graph
from neurosim.targets.neuromorphic.model.simulate import simulate
from neurosim.targets.neuromorphic.partition import Violation, partition

SIZES = {"h": 6, "o": 2}


def _graph():
    fmt, fx = FixedPoint(8, 0), NeuronFixedPoint(state=FixedPoint(12, 0), leak="none")
    return Graph.chain([("input", Input(shape=(3,))), ("w1", Dense(weight=np.ones((6, 3)), weight_format=fmt)),
                        ("h", IF(shape=(6,), threshold=2.0, fixed=fx)),
                        ("w2", Dense(weight=np.ones((2, 6)), weight_format=fmt)),
                        ("o", IF(shape=(2,), threshold=3.0, fixed=fx)), ("output", Output(shape=(2,)))])


def _core(pop, a, b):
    return {"population": pop, "start": a, "stop": b}


@pytest.mark.parametrize("doc, match", [
    ({"core": [_core("x", 0, 6), _core("o", 0, 2)]},
     r"^mapping file '<mapping>': core 0: unknown population 'x'; the spiking populations are \['h', 'o'\]$"),
    ({"core": [_core("h", 0, 4), _core("h", 3, 6), _core("o", 0, 2)]},
     r"^mapping file '<mapping>': population 'h': slice \[3, 6\) on core 1 overlaps the slice ending at 4; every "
     r"neuron belongs to exactly one slice$"),
    ({"core": [_core("h", 0, 3), _core("h", 4, 6), _core("o", 0, 2)]},
     r"^mapping file '<mapping>': population 'h': neurons \[3, 4\) are on no core; add a slice covering them$"),
    ({"core": [_core("h", 0, 6)]},
     r"^mapping file '<mapping>': population 'o' \(2 neurons\) is on no core; add \[\[core\]\] slices covering 0..2$"),
    ({"core": [_core("h", 0, 7), _core("o", 0, 2)]},
     r"^mapping file '<mapping>': core 0: slice \[0, 7\) of population 'h' is not within 0 <= start < stop <= 6; "
     r"give a non-empty range of its 6 neurons$"),
    ({"core": [{"population": "h", "start": 0, "end": 6}]},
     r"^mapping file '<mapping>': core 0: unknown key 'end'; a slice has population, start and stop$"),
    ({"cores": []}, r"^mapping file '<mapping>': unknown top-level key 'cores'; the file holds only \[\[core\]\] tables$"),
])
def test_mapping_file_validation_errors(doc, match):
    with pytest.raises(FormatError, match=match):
        parse_mapfile(doc, SIZES)


def test_file_mapping_imposes_packed_cores_and_checks_capacity(tmp_path):
    g = _graph()
    net = compile_graph(g, "fixed")
    chip = tiny_chip(neurons_per_core=8)
    path = tmp_path / "map.toml"
    path.write_text('[[core]]\npopulation = "h"\nstart = 0\nstop = 4\n\n'
                    '[[core]]\nslices = [{population = "h", start = 4, stop = 6}, {population = "o", start = 0, stop = 2}]\n')
    m = partition(net, chip, mapping=path)
    assert m.core_population == ("h", "h", "o") and m.host.tolist() == [0, 1, 1]
    assert m.core_range.tolist() == [[3, 7], [7, 9], [9, 11]]
    x = (np.random.default_rng(0).random((6, 3)) < 0.6).astype(int)
    auto = simulate(g, chip, x)
    imposed = simulate(g, chip, x, mapping=m)
    np.testing.assert_array_equal(imposed.spikes["o"], auto.spikes["o"])
    assert imposed.counts["synaptic_op"].sum() == auto.counts["synaptic_op"].sum()
    small = tiny_chip(neurons_per_core=3)
    with pytest.raises(CapacityError, match=r"^core 0 \('h' \[0, 4\)\) needs 4 neurons but chip 'tiny' allows 3 per core "
                                            r"\(over by 1\); split or move its slices, or pass --allow-overcapacity for "
                                            r"a what-if$"):
        partition(net, small, mapping=path)
    m = partition(net, small, mapping=path, allow_overcapacity=True)
    assert m.violations == (Violation(0, "neurons", 4, 3), Violation(1, "neurons", 4, 3))
