"""NeuronFixedPoint's leak modes (shift / none / mult / linear), input shift and current leak:
validation (every message pinned), the decay each realises, and the .nsim round trip."""

import io
import json
import zipfile

import numpy as np
import pytest

from neurosim.errors import FixedPointError
from neurosim.ir import IF, LIF, CubaLIF, Dense, FixedPoint, Graph, Input, NeuronFixedPoint, Output
from neurosim.ir.serialize import from_bytes, to_bytes

S24 = FixedPoint(24, 0)


def test_mult_leak_decay_is_the_code_over_two_to_the_bits():
    fx = NeuronFixedPoint(state=S24, leak="mult", leak_bits=12, leak_code=3895)
    assert fx.decay == 3895 / 4096 and fx.describe() == "s24.0 v*3895/2**12 (toward 0)"
    LIF(shape=(2,), decay=3895 / 4096, fixed=fx)
    with pytest.raises(FixedPointError, match=r"^LIF\.decay must equal 0\.950927734375 for fixed leak 's24\.0 v\*3895/"):
        LIF(shape=(2,), decay=0.951, fixed=fx)


def test_linear_leak_has_no_factor_and_leaves_the_decay_free():
    fx = NeuronFixedPoint(state=FixedPoint(20, 0), leak="linear", leak_code=12, input_shift=2)
    assert fx.decay is None
    assert fx.describe() == "s20.0 v-sign(v)*min(|v|,12), input<<2"
    assert LIF(shape=(3,), decay=[0.9, 0.95, 0.99], fixed=fx).fixed.leak_code == 12  # records what it approximates


def test_defaults_are_the_historic_shift_spec():
    fx = NeuronFixedPoint(state=FixedPoint(16, 0), leak="shift", leak_shift=3)
    assert (fx.input_shift, fx.leak_bits, fx.leak_code, fx.syn_leak) == (0, 0, 0, "shift")
    assert fx.decay == 1 - 2.0 ** -3


@pytest.mark.parametrize("kwargs, msg", [
    (dict(leak="exp"), r"^NeuronFixedPoint\.leak must be one of \('shift', 'none', 'mult', 'linear'\), found 'exp'$"),
    (dict(leak="mult", leak_bits=0, leak_code=1),
     r"^NeuronFixedPoint\.leak_bits must be an int in 1\.\.24 for leak='mult' with a 24-bit state \(\|v\*d\| must "
     r"stay below 2\*\*53\), found 0$"),
    (dict(leak="mult", leak_bits=12, leak_code=4097),
     r"^NeuronFixedPoint\.leak_code must be an int in 0\.\.4096 \(the decay numerator d of d/2\*\*12\) for "
     r"leak='mult', found 4097$"),
    (dict(leak="linear", leak_code=-1),
     r"^NeuronFixedPoint\.leak_code must be an int in 0\.\.8388607 \(codes removed per step\) for leak='linear', "
     r"found -1$"),
    (dict(leak="none", syn_leak="exp"),
     r"^NeuronFixedPoint\.syn_leak must be one of \('shift', 'none', 'mult', 'linear'\), found 'exp'$"),
    (dict(leak="none", syn_leak="mult", syn_leak_bits=12, syn_leak_code=5000),
     r"^NeuronFixedPoint\.syn_leak_code must be an int in 0\.\.4096 .* for syn_leak='mult', found 5000$"),
    (dict(leak="none", input_shift=31),
     r"^NeuronFixedPoint\.input_shift must be an int in 0\.\.30 \(acc_width 32 \+ shift <= 62\), found 31$"),
])
def test_invalid_specs_name_the_field(kwargs, msg):
    with pytest.raises(FixedPointError, match=msg):
        NeuronFixedPoint(state=S24, **kwargs)


def test_mult_bits_bounded_by_the_exact_product():
    with pytest.raises(FixedPointError, match=r"^NeuronFixedPoint\.leak_bits must be an int in 1\.\.13 for "
                                              r"leak='mult' with a 40-bit state"):
        NeuronFixedPoint(state=FixedPoint(40, 0), acc_width=40, leak="mult", leak_bits=14, leak_code=1)


def test_current_leak_checks():
    fx = NeuronFixedPoint(state=S24, leak="mult", leak_bits=12, leak_code=4096, syn_leak="mult", syn_leak_bits=12,
                          syn_leak_code=2048)
    CubaLIF(shape=(2,), decay=1.0, syn_decay=0.5, fixed=fx)
    with pytest.raises(FixedPointError, match=r"^CubaLIF\.syn_decay must equal 0\.5 \(syn_shift=0\) and syn_gain 1"):
        CubaLIF(shape=(2,), decay=1.0, syn_decay=0.75, fixed=fx)
    with pytest.raises(FixedPointError, match=r"^CubaLIF\.syn_shift must be 0 with fixed\.syn_leak='mult' \(the shift "
                                              r"belongs to syn_leak='shift'\), found 1$"):
        CubaLIF(shape=(2,), decay=1.0, syn_decay=0.5, syn_shift=1, fixed=fx)
    with pytest.raises(FixedPointError, match=r"^LIF\.fixed\.syn_leak must be 'shift' \(the default\) for a population "
                                              r"without a synaptic current, found 'mult'$"):
        LIF(shape=(2,), decay=1.0, fixed=fx)
    lin = NeuronFixedPoint(state=S24, leak="none", syn_leak="linear", syn_leak_code=5)
    assert CubaLIF(shape=(2,), decay=1.0, syn_decay=0.3, fixed=lin).fixed.syn_decay(0) is None


def _graph(fx):
    return Graph.chain([("input", Input(shape=(2,))), ("fc", Dense(weight=np.eye(2), weight_format=FixedPoint(8, 0))),
                        ("pop", LIF(shape=(2,), decay=3895 / 4096, reset_timing="delayed", fixed=fx)),
                        ("output", Output(shape=(2,)))])


def test_nsim_round_trips_the_new_fields():
    fx = NeuronFixedPoint(state=S24, leak="mult", leak_bits=12, leak_code=3895, input_shift=6)
    back = from_bytes(to_bytes(_graph(fx)))
    assert back.nodes["pop"].fixed == fx and back.nodes["pop"].reset_timing == "delayed"


def test_nsim_written_before_the_new_fields_still_loads():
    """A file whose NeuronFixedPoint lacks the issue-14 fields loads with the defaults (shift leak, no shift)."""
    old = Graph.chain([("input", Input(shape=(2,))),
                       ("fc", Dense(weight=np.eye(2), weight_format=FixedPoint(8, 0))),
                       ("pop", IF(shape=(2,), fixed=NeuronFixedPoint(state=S24, leak="none"))),
                       ("output", Output(shape=(2,)))])
    buf = io.BytesIO(to_bytes(old))
    with zipfile.ZipFile(buf) as z:
        doc, arrays = json.loads(z.read("graph.json")), z.read("arrays.npz")
    for node in doc["nodes"]:
        fx = node["fields"].get("fixed")
        if fx:
            body = fx["$NeuronFixedPoint"]
            for key in ("leak_bits", "leak_code", "input_shift", "syn_leak", "syn_leak_bits", "syn_leak_code"):
                del body[key]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("graph.json", json.dumps(doc))
        z.writestr("arrays.npz", arrays)
    back = from_bytes(out.getvalue())
    assert back.nodes["pop"].fixed == NeuronFixedPoint(state=S24, leak="none")
