"""IR nodes, graph validation, fixed point, N:M and the native format."""

import zipfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from neurosim.errors import FixedPointError, FormatError, GraphError, IRError, NMError, ShapeError
from neurosim.ir import (
    LIF, CubaLIF, Dense, Conv2d, FixedPoint, Flatten, Graph, Input, NMSparse, NeuronFixedPoint, Output,
    Semantics, SparseCSR, SumPool2d, load, save,
)
from neurosim.ir import nm
from neurosim.ir.serialize import from_bytes, to_bytes


def mlp(rng, n_in=6, n_hid=5, n_out=3, **lif):
    return Graph.chain([
        ("input", Input(shape=(n_in,))),
        ("fc1", Dense(weight=rng.normal(size=(n_hid, n_in)), bias=rng.normal(size=n_hid))),
        ("lif1", LIF(shape=(n_hid,), decay=0.8, **lif)),
        ("fc2", Dense(weight=rng.normal(size=(n_out, n_hid)))),
        ("lif2", LIF(shape=(n_out,), decay=0.9)),
        ("output", Output(shape=(n_out,))),
    ], semantics=Semantics(profile="neurosim", dt_s=1e-3, notes=("test",)))


# -- node validation -----------------------------------------------------------------------------

def test_lif_broadcasts_scalars_and_freezes_arrays():
    lif = LIF(shape=(2, 3), decay=0.5, threshold=2.0)
    assert lif.decay.shape == (2, 3) and lif.threshold.shape == (2, 3)
    with pytest.raises(ValueError):
        lif.decay[0, 0] = 1.0


def test_lif_decay_out_of_range_names_field_and_value():
    with pytest.raises(IRError, match=r"^LIF\.decay must be in \[0, 1\] .* found -0\.5;"):
        LIF(shape=(3,), decay=[0.5, -0.5, 0.1])


def test_param_shape_mismatch_names_field():
    with pytest.raises(ShapeError, match=r"^LIF\.threshold has shape \(2,\), expected \(3,\) or a scalar$"):
        LIF(shape=(3,), threshold=[1.0, 2.0])


def test_bad_reset_mode():
    with pytest.raises(IRError, match=r"^LIF\.reset must be one of \('zero', 'subtract', 'none'\), found 'half'$"):
        LIF(shape=(1,), reset="half")


def test_non_finite_weight():
    with pytest.raises(IRError, match=r"^Dense\.weight contains the non-finite value nan;"):
        Dense(weight=[[1.0, np.nan]])


def test_bias_length_mismatch():
    with pytest.raises(ShapeError, match=r"^Dense\.bias has shape \(2,\), expected \(3,\)$"):
        Dense(weight=np.ones((3, 4)), bias=np.ones(2))


def test_sparse_csr_checks_indices():
    with pytest.raises(IRError, match=r"^SparseCSR\.indices must lie in 0\.\.3, found 0\.\.7$"):
        SparseCSR(weight=[1.0, 2.0], indices=[0, 7], indptr=[0, 1, 2], shape=(2, 4))


def test_sparse_csr_from_dense_roundtrip(rng):
    w = rng.normal(size=(4, 6)) * (rng.random((4, 6)) < 0.4)
    s = SparseCSR.from_dense(w)
    assert np.array_equal(s.dense_weight(), w)
    assert s.n_synapses() == np.count_nonzero(w)


# -- N:M --------------------------------------------------------------------------------------------

def test_declared_nm_violation_names_row_and_group():
    w = np.array([[1.0, 2.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0]])
    with pytest.raises(NMError, match=r"^Dense\.weight is declared 2:4 but row 0 group 1 \(columns 4\.\.7\) has 3 nonzeros;"):
        Dense(weight=w, nm=(2, 4))


def test_nm_reduction_not_multiple_of_m():
    with pytest.raises(NMError, match=r"^Dense\.weight has a reduction length of 6, not a multiple of M=4;"):
        Dense(weight=np.zeros((2, 6)), nm=(2, 4))


def test_nm_pattern_itself_invalid():
    with pytest.raises(NMError, match=r"^Dense\.nm must be integers with 1 <= N <= M, found N=5, M=4$"):
        Dense(weight=np.zeros((2, 8)), nm=(5, 4))


@given(st.integers(1, 4), st.sampled_from([4, 8]), st.integers(1, 5), st.integers(1, 4), st.integers(0, 2**31 - 1))
def test_nm_mask_compress_roundtrip(n, m, rows, groups, seed):
    n = min(n, m)
    w = np.random.default_rng(seed).normal(size=(rows, groups * m))
    pruned = w * nm.nm_mask(w, n, m)
    nm.check_nm(pruned, n, m)
    assert np.count_nonzero(pruned) == rows * groups * n
    node = NMSparse.from_dense(pruned, n, m)
    assert np.array_equal(node.dense_weight(), pruned)
    detected = nm.detect_nm(pruned)
    assert detected is None or nm.is_nm(pruned, *detected)
    if (n, m) in nm.CANDIDATES:
        assert detected is not None and detected[0] / detected[1] <= n / m


def test_nm_conv_weight_groups_along_flattened_reduction(rng):
    w = rng.normal(size=(4, 2, 2, 2))  # reduction length 8
    pruned = w * nm.nm_mask(w, 2, 4)
    Conv2d(weight=pruned, nm=(2, 4))  # accepted
    assert nm.detect_nm(pruned) == (2, 4)
    assert nm.detect_nm(w) is None


# -- fixed point ------------------------------------------------------------------------------------

def test_fixed_point_rounding_modes():
    x = np.array([-1.5, -0.5, 0.5, 1.5, 2.5])
    assert FixedPoint(8, 0, rounding="nearest_even").quantize(x).tolist() == [-2, 0, 0, 2, 2]
    assert FixedPoint(8, 0, rounding="nearest_up").quantize(x).tolist() == [-1, 0, 1, 2, 3]
    assert FixedPoint(8, 0, rounding="floor").quantize(x).tolist() == [-2, -1, 0, 1, 2]
    assert FixedPoint(8, 0, rounding="zero").quantize(x).tolist() == [-1, 0, 0, 1, 2]


def test_fixed_point_overflow_modes():
    assert FixedPoint(4, 0).quantize([9, -9]).tolist() == [7, -8]
    assert FixedPoint(4, 0, overflow="wrap").quantize([9, -9]).tolist() == [-7, 7]
    with pytest.raises(FixedPointError, match=r"^weight code 9 overflows s4\.0 \(range -8\.\.7\);"):
        FixedPoint(4, 0, overflow="error").quantize([9], what="weight")


def test_fixed_point_fractional_bits():
    f = FixedPoint(8, 4)
    assert f.quantize(1.25).item() == 20 and f.to_float(20) == 1.25 and f.lsb == 1 / 16


@given(st.integers(2, 16), st.integers(-20, 20))
def test_saturating_add_stays_in_range(width, a):
    f = FixedPoint(width, 0)
    codes = f.add(np.array([f.max_int, f.min_int]), np.array([a, -abs(a)]))
    assert codes.min() >= f.min_int and codes.max() <= f.max_int


def test_fixed_point_invalid_width():
    with pytest.raises(FixedPointError, match=r"^FixedPoint\.width must be an integer in 1\.\.62, found 0;"):
        FixedPoint(0)


def test_fixed_neuron_requires_shift_decay():
    fx = NeuronFixedPoint(state=FixedPoint(8, 0), leak="shift", leak_shift=2)
    LIF(shape=(2,), decay=0.75, threshold=3, fixed=fx)
    with pytest.raises(FixedPointError, match=r"^LIF\.decay must equal 0\.75 for fixed leak"):
        LIF(shape=(2,), decay=0.8, threshold=3, fixed=fx)


def test_fixed_neuron_threshold_must_be_representable():
    fx = NeuronFixedPoint(state=FixedPoint(8, 0), leak="none")
    with pytest.raises(FixedPointError, match=r"^LIF\.threshold value 2\.5 is not a multiple of the LSB 1\.0 of s8\.0;"):
        LIF(shape=(2,), decay=1.0, threshold=2.5, fixed=fx)


def test_weight_format_range_checked():
    with pytest.raises(FixedPointError, match=r"^Dense\.weight value 200\.0 is outside the range of s8\.0"):
        Dense(weight=[[200.0]], weight_format=FixedPoint(8, 0))


# -- graph ----------------------------------------------------------------------------------------

def test_graph_shapes_and_order(rng):
    g = mlp(rng)
    assert g.order == ("input", "fc1", "lif1", "fc2", "lif2", "output")
    assert g.shapes["lif2"] == (3,)
    assert not g.recurrent_edges


def test_recurrent_edge_detected(rng):
    nodes = {"input": Input(shape=(3,)), "fc": Dense(weight=rng.normal(size=(4, 3))),
             "lif": LIF(shape=(4,)), "rec": Dense(weight=rng.normal(size=(4, 4))), "output": Output(shape=(4,))}
    g = Graph(nodes, (("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")))
    assert g.recurrent_edges == {("rec", "lif")}
    assert g.order.index("lif") < g.order.index("rec")


def test_edge_shape_mismatch_names_node():
    with pytest.raises(ShapeError, match=r"^node 'fc': Dense expects input shape \(4,\), found \(3,\);"):
        Graph.chain([("input", Input(shape=(3,))), ("fc", Dense(weight=np.ones((2, 4)))), ("output", Output(shape=(2,)))])


def test_unknown_edge_endpoint():
    with pytest.raises(GraphError, match=r"^edge 'input' -> 'nowhere' names the unknown node 'nowhere';"):
        Graph({"input": Input(shape=(1,)), "output": Output(shape=(1,))}, (("input", "nowhere"),))


def test_unreachable_node():
    nodes = {"input": Input(shape=(1,)), "island": LIF(shape=(1,)), "output": Output(shape=(1,))}
    with pytest.raises(GraphError, match=r"^node 'island' is not reachable from any Input;"):
        Graph(nodes, (("input", "output"),))


def test_missing_output():
    with pytest.raises(GraphError, match=r"^the graph has no Output node;"):
        Graph({"input": Input(shape=(1,))}, ())


def test_conv_pool_flatten_shapes(rng):
    g = Graph.chain([
        ("input", Input(shape=(1, 8, 8))), ("conv", Conv2d(weight=rng.normal(size=(4, 1, 3, 3)), padding=1)),
        ("lif", LIF(shape=(4, 8, 8))), ("pool", SumPool2d(kernel_size=2)), ("flat", Flatten()),
        ("fc", Dense(weight=rng.normal(size=(10, 64)))), ("out_lif", LIF(shape=(10,))), ("output", Output(shape=(10,))),
    ])
    assert g.shapes["pool"] == (4, 4, 4) and g.shapes["flat"] == (64,)


# -- native format ----------------------------------------------------------------------------------

def _rich_graph(rng):
    fx = NeuronFixedPoint(state=FixedPoint(10, 2), leak="shift", leak_shift=3)
    w = np.round(rng.normal(size=(4, 8)) * 4) / 4
    w = w * nm.nm_mask(w, 2, 4)
    return Graph.chain([
        ("input", Input(shape=(8,))),
        ("fc", Dense(weight=w, nm=(2, 4), weight_format=FixedPoint(8, 2))),
        ("lif", LIF(shape=(4,), decay=1 - 2 ** -3, threshold=2.5, reset="zero", fixed=fx, refractory_steps=2)),
        ("sp", NMSparse.from_dense(np.eye(4, 4) * 0.5, 1, 4)),
        ("cuba", CubaLIF(shape=(4,), syn_decay=0.5, current_lag=1, spike_rule="multi")),
        ("output", Output(shape=(4,))),
    ], semantics=Semantics(profile="snntorch", dt_s=1e-4, notes=("a", "b")))


def test_native_roundtrip_exact(tmp_path, rng):
    g = _rich_graph(rng)
    path = save(g, tmp_path / "m.nsim")
    assert load(path).equals(g)
    assert g.equals(from_bytes(to_bytes(g)))


@given(st.integers(0, 2**31 - 1), st.sampled_from(["zero", "subtract", "none"]), st.sampled_from(["gt", "ge", "multi"]))
def test_native_roundtrip_random(seed, reset, rule):
    rng = np.random.default_rng(seed)
    g = mlp(rng, reset=reset, spike_rule=rule, threshold=rng.uniform(0.5, 2, size=5))
    assert from_bytes(to_bytes(g)).equals(g)


def test_truncated_native_file(tmp_path, rng):
    data = to_bytes(mlp(rng))
    p = tmp_path / "cut.nsim"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match=r"cut\.nsim: not a readable neurosim model \(BadZipFile"):
        load(p)


def test_native_file_unknown_node_type(rng):
    data = _edited(mlp(rng), lambda doc: doc["nodes"][2].update(type="Quantum"))
    with pytest.raises(FormatError, match=r"^<bytes>: node 'lif1' has the unknown type 'Quantum';"):
        from_bytes(data)


def test_native_file_newer_version(rng):
    data = _edited(mlp(rng), lambda doc: doc.update(version=99))
    with pytest.raises(FormatError, match=r"^<bytes>: format version 99 is not supported"):
        from_bytes(data)


def test_native_file_invalid_field_names_node(rng):
    data = _edited(mlp(rng), lambda doc: doc["nodes"][2]["fields"].update(reset="explode"))
    with pytest.raises(IRError, match=r"^<bytes>: node 'lif1': LIF\.reset must be one of"):
        from_bytes(data)


def _edited(graph, edit) -> bytes:
    """The native bytes of ``graph`` with its graph.json changed by ``edit(doc)``."""
    import io
    import json

    z = zipfile.ZipFile(io.BytesIO(to_bytes(graph)))
    doc = json.loads(z.read("graph.json"))
    edit(doc)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        out.writestr("graph.json", json.dumps(doc))
        out.writestr("arrays.npz", z.read("arrays.npz"))
    return buf.getvalue()


def test_fixed_point_lsb_mismatch_between_weights_and_membrane():
    fx = NeuronFixedPoint(state=FixedPoint(8, 2), leak="none")
    with pytest.raises(FixedPointError, match=r"^edge 'fc' -> 'lif': weights have 0 fractional bits \(s8\.0\) but the membrane has 2 \(s8\.2\);"):
        Graph.chain([("input", Input(shape=(2,))), ("fc", Dense(weight=np.ones((2, 2)), weight_format=FixedPoint(8, 0))),
                     ("lif", LIF(shape=(2,), decay=1.0, fixed=fx)), ("output", Output(shape=(2,)))])
