"""The IR's own validation of careless or hostile values (issue 15): one anchored test per message class
of the node constructors and of the native format's reader (neurosim/ir/serialize.py)."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from neurosim import ir, limits
from neurosim.errors import FormatError, IRError, LimitError, NMError, ShapeError
from neurosim.ir import serialize


def _mlp() -> ir.Graph:
    return ir.Graph.chain([
        ("input", ir.Input(shape=(4,))),
        ("fc", ir.Dense(weight=np.arange(12.0).reshape(3, 4) / 10)),
        ("lif", ir.LIF(shape=(3,))),
        ("output", ir.Output(shape=(3,))),
    ])


def _parts(graph=None):
    with zipfile.ZipFile(io.BytesIO(serialize.to_bytes(graph or _mlp()))) as z:
        return json.loads(z.read("graph.json")), z.read("arrays.npz")


def _pack(doc_text: str | bytes, arrays: bytes, extra: dict | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("graph.json", doc_text)
        z.writestr("arrays.npz", arrays)
        for k, v in (extra or {}).items():
            z.writestr(k, v)
    return buf.getvalue()


# -- node constructors ------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [128.5, (True,), ("128",), (0,), (-3,), (), (float("nan"),)])
def test_shape_must_be_positive_integers(shape):
    with pytest.raises(ShapeError, match=r"^LIF\.shape must be a non-empty tuple of positive integers, found "):
        ir.LIF(shape=shape)


def test_integral_float_shape_is_taken():
    assert ir.LIF(shape=(128.0,)).shape == (128,)


def test_shape_limit_before_allocation():
    with limits.overridden({"neurons": 1000}):
        with pytest.raises(LimitError, match=r"^LIF\.shape \(2000,\) needs 2,000 neurons, above neurosim's limit of "
                                             r"1,000 "):
            ir.LIF(shape=(2000,))


def test_int_tuple_refuses_bool_and_strings():
    for bad in (True, "2", (1.5, 1)):
        with pytest.raises(IRError, match=r"^SumPool2d\.kernel_size must be an int or 2 ints >= 1, found "):
            ir.SumPool2d(kernel_size=bad)


def test_integer_field_refuses_fractions():
    with pytest.raises(IRError, match=r"^Delay\.delay_steps must hold whole numbers, found 1\.5$"):
        ir.Delay(shape=(2,), delay_steps=np.array([1.0, 1.5]))


def test_unsigned_field_range():
    with pytest.raises(IRError, match=r"^NMSparse\.offsets must lie in 0\.\.255 \(uint8\), found 300$"):
        ir.NMSparse(weight=np.ones((1, 2)), offsets=np.array([[0, 300]]), in_features=4, nm=(2, 4))


def test_nm_must_be_a_pair():
    with pytest.raises(NMError, match=r"^Dense\.nm must be a pair of integers \(N, M\), found \(2,\)$"):
        ir.Dense(weight=np.zeros((2, 4)), nm=(2,))


def test_bool_is_not_an_int_field():
    with pytest.raises(IRError, match=r"^LIF\.refractory_steps must be an int >= 0, found True$"):
        ir.LIF(shape=(2,), refractory_steps=True)
    with pytest.raises(IRError, match=r"^CubaLIF\.syn_shift must be an int in 0\.\.62, found 'x'$"):
        ir.CubaLIF(shape=(2,), syn_shift="x")
    with pytest.raises(IRError, match=r"^Semantics\.dt_s must be a positive number of seconds or None, found True$"):
        ir.Semantics(dt_s=True)


# -- .nsim reader -------------------------------------------------------------------------------------

def test_round_trip_still_exact():
    g = _mlp()
    assert serialize.from_bytes(serialize.to_bytes(g)).equals(g)


def test_unknown_key_in_fields():
    doc, arrays = _parts()
    doc["nodes"][1]["fields"]["weight2"] = 1
    with pytest.raises(FormatError, match=r"^<bytes>: graph\.json entry nodes\[1\]\.fields has unknown keys "
                                          r"\['weight2'\] \(known: \["):
        serialize.from_bytes(_pack(json.dumps(doc), arrays))


def test_array_reference_to_missing_array():
    doc, arrays = _parts()
    doc["nodes"][1]["fields"]["weight"] = {"$array": "nope"}
    with pytest.raises(FormatError, match=r"^<bytes>: graph\.json entry nodes\[1\]\.fields\.weight names the array "
                                          r"'nope', which the file lacks; the file is truncated"):
        serialize.from_bytes(_pack(json.dumps(doc), arrays))


def test_string_where_a_number_belongs():
    doc, arrays = _parts()
    doc["nodes"][2]["fields"]["refractory_steps"] = "0"
    with pytest.raises(FormatError, match=r"^<bytes>: graph\.json entry nodes\[2\]\.fields\.refractory_steps must be an "
                                          r"integer \(\|n\| <= 2\*\*62\), found '0'; the file is damaged or hand-edited"):
        serialize.from_bytes(_pack(json.dumps(doc), arrays))


def test_huge_integer_is_truncated_in_the_message():
    doc, arrays = _parts()
    doc["nodes"][0]["fields"]["shape"] = {"$tuple": [10**300]}
    with pytest.raises(FormatError) as exc:
        serialize.from_bytes(_pack(json.dumps(doc), arrays))
    assert len(str(exc.value)) < 300 and "..." in str(exc.value)


def test_not_utf8_and_not_json():
    _, arrays = _parts()
    with pytest.raises(FormatError, match=r"^<bytes>: graph\.json is not UTF-8 text \(byte 0\);"):
        serialize.from_bytes(_pack(b"\xff{}", arrays))
    with pytest.raises(FormatError, match=r"^<bytes>: graph\.json is not valid JSON \(Expecting value at line 1 "
                                          r"column 1\);"):
        serialize.from_bytes(_pack("", arrays))


def test_unexpected_archive_entry():
    doc, arrays = _parts()
    with pytest.raises(FormatError, match=r"^<bytes>: the archive holds unexpected entries \['run\.py'\];"):
        serialize.from_bytes(_pack(json.dumps(doc), arrays, {"run.py": "print(1)"}))


def _npz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in members.items():
            z.writestr(k, v)
    return buf.getvalue()


def test_npy_header_declares_too_many_elements():
    doc, _ = _parts()
    header = repr({"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}).encode()
    header += b" " * ((64 - (len(header) + 11) % 64) % 64) + b"\n"
    bomb = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
    with pytest.raises(LimitError, match=r"^<bytes>: arrays\.npz entry 'fc/weight\.npy' needs 1,000,000,000,000 "
                                         r"elements, above neurosim's limit"):
        serialize.from_bytes(_pack(json.dumps(doc), _npz({"fc/weight.npy": bomb})))


def test_npy_header_with_code():
    doc, _ = _parts()
    evil = b"\x93NUMPY\x01\x00\x30\x00{'descr': __import__('os').system('x'), 'shape': ()}\n"
    with pytest.raises(FormatError, match=r"^<bytes>: arrays\.npz entry 'fc/weight\.npy' has a malformed \.npy "
                                          r"header; the file is damaged -- re-save it with neurosim$"):
        serialize.from_bytes(_pack(json.dumps(doc), _npz({"fc/weight.npy": evil})))


def test_npy_data_truncated():
    doc, arrays = _parts()
    with zipfile.ZipFile(io.BytesIO(arrays)) as z:
        raw = z.read("fc/weight.npy")
    with pytest.raises(FormatError, match=r"^<bytes>: arrays\.npz entry 'fc/weight\.npy' holds 10 bytes of data, its "
                                          r"header declares 96; the file is truncated"):
        serialize.from_bytes(_pack(json.dumps(doc), _npz({"fc/weight.npy": raw[:128 + 10]})))


def test_optional_neuron_fixed_point_fields_may_be_absent():
    """Files written before the leak fields existed load with the historic shift leak (documented)."""
    fx = ir.NeuronFixedPoint(state=ir.FixedPoint(16, 8), leak_shift=3)
    g = ir.Graph.chain([("input", ir.Input(shape=(2,))), ("lif", ir.LIF(shape=(2,), decay=1 - 2**-3, fixed=fx,
                                                                        threshold=1.0)),
                        ("output", ir.Output(shape=(2,)))])
    doc, arrays = _parts(g)
    body = doc["nodes"][1]["fields"]["fixed"]["$NeuronFixedPoint"]
    for k in serialize.OPTIONAL_FIELDS["NeuronFixedPoint"]:
        body.pop(k)
    assert serialize.from_bytes(_pack(json.dumps(doc), arrays)).equals(g)
    del body["acc_width"]
    with pytest.raises(FormatError, match=r"^<bytes>: graph\.json entry nodes\[1\]\.fields\.fixed\.\$NeuronFixedPoint "
                                          r"lacks the key 'acc_width';"):
        serialize.from_bytes(_pack(json.dumps(doc), arrays))


def test_every_node_field_has_a_declared_kind():
    """The schema covers every field of every registered node type (no 'any' fallback in use)."""
    import dataclasses

    for cls in list(ir.NODE_TYPES.values()) + [ir.NeuronFixedPoint, ir.FixedPoint]:
        for f in dataclasses.fields(cls):
            assert serialize.field_kind(cls, f.name)[0] != "any", (cls.__name__, f.name, f.type)


def test_npy_header_larger_than_its_entry():
    """A header declaring 1e8 elements (within the limits) over a few bytes is refused before reading."""
    doc, _ = _parts()
    header = repr({"descr": "<f8", "fortran_order": False, "shape": (10**8,)}).encode()
    header += b" " * ((64 - (len(header) + 11) % 64) % 64) + b"\n"
    raw = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\x00" * 16
    with pytest.raises(FormatError, match=r"^<bytes>: arrays\.npz entry 'fc/weight\.npy' declares 100,000,000 elements "
                                          r"\(800,000,000 bytes\) but the entry holds only 144 bytes; the file is "
                                          r"truncated or hand-crafted"):
        serialize.from_bytes(_pack(json.dumps(doc), _npz({"fc/weight.npy": raw})))
