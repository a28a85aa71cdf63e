"""The sweep spec's one validation boundary: every error class pinned with an anchored message, and
the sampling (grid order, seeded random draws, list points) checked against independent oracles."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurosim.errors import SweepError
from neurosim.sweep.points import resolve_points
from neurosim.sweep.spec import load_spec, spec_from_dict

W = re.escape("sweep spec")


def nm_spec(axes=None, **head):
    """A neuromorphic spec dict with ``axes`` (default: one bundled model on one preset)."""
    return {"sweep": {"target": "neuromorphic", **head},
            "axes": {"model": "digits_mlp.nir", "preset": "loihi", **(axes or {})}}


@pytest.mark.parametrize("data, message", [
    (nm_spec({"lane": [1, 2]}), rf"^{W}: \[axes\] key 'lane' is not an axis of target 'neuromorphic'; "
                                r"choose one of \[.*'bits'.*\] or chip\.<field> \(see docs/sweeps\.md\)$"),
    (nm_spec({"lanes": [1, 2]}), rf"^{W}: \[axes\] key 'lanes' is not an axis of target 'neuromorphic'; "
                                 r"did you mean 'chip\.lanes'\? choose one of .*$"),
    (nm_spec({"chip": {"foo": [1]}}), rf"^{W}: \[axes\] key 'chip\.foo' is not an axis of target 'neuromorphic'; .*$"),
    (nm_spec({"bits": []}), rf"^{W}: axis 'bits' has no values, found \(\); give at least one value or remove the axis$"),
    (nm_spec({"chip": {"lanes": [0, 4]}}), rf"^{W}: axis 'chip\.lanes' must be an integer in 1\.\.\d+, found 0; "
                                            r"choose a value in that range$"),
    (nm_spec({"bits": ["8"]}), rf"^{W}: axis 'bits' must be an integer, found '8'; write a whole number such as 4$"),
    (nm_spec({"bits": [True]}), rf"^{W}: axis 'bits' must be an integer, found True; write a whole number such as 4$"),
    (nm_spec({"bits": [40]}), rf"^{W}: axis 'bits' must be an integer in 2\.\.32, found 40; choose a value in that range$"),
    (nm_spec({"rate": 1.5}), rf"^{W}: axis 'rate' must be a number >= 0\.0 and <= 1\.0, found 1\.5; "
                             r"choose a value in that range$"),
    (nm_spec({"chip": {"clock_hz": [float("nan")]}}), rf"^{W}: axis 'chip\.clock_hz' must be a finite number, "
                                                       r"found nan; write a number such as 1\.5e8$"),
    (nm_spec({"chip": {"clock_hz": [0.0]}}), rf"^{W}: axis 'chip\.clock_hz' must be a number > 0\.0 and <= 1e\+300, "
                                              r"found 0\.0; choose a value in that range$"),
    (nm_spec({"chip": {"timing": ["async"]}}), rf"^{W}: axis 'chip\.timing' must be one of \['cycles', "
                                                r"'event_latency'\], found 'async'$"),
    (nm_spec({"nm": ["3:2"]}), rf"^{W}: axis 'nm': .*3.*2.*$"),
    (nm_spec({"nm": [2]}), rf"^{W}: axis 'nm' must be an N:M pattern string such as \"2:8\" or \"dense\", found 2$"),
    (nm_spec({"contention": "yes"}), rf"^{W}: axis 'contention' must be true or false, found 'yes'$"),
    (nm_spec({"bits": [4, 4]}), rf"^{W}: axis 'bits' lists the value 4 twice; list each value once$"),
    (nm_spec({"bits": [4], "chip": {"weight_bits": [8]}}),
     rf"^{W}: axes 'bits' and 'chip\.weight_bits' both set the weight width; keep one$"),
    (nm_spec({"model": "nope.nir"}), rf"^{W}: axis 'model': model 'nope\.nir' is neither a model file .* beside the "
                                     r"spec nor a bundled model; give a path relative to the spec or one of \[.*'digits_mlp\.nir'.*\]$"),
    (nm_spec({"model": "zoo:alexnet"}), rf"^{W}: axis 'model': model 'zoo:alexnet' names no zoo builder; choose one of "
                                        r"\['zoo:vgg11', .*\]$"),
    (nm_spec({"preset": ["loihi", "loihi9"]}), rf"^{W}: axis 'preset': preset 'loihi9' is neither a bundled preset "
                                               r"nor a TOML file beside the spec; choose one of \[.*'loihi'.*\] or give a path$"),
    (nm_spec(sampling="random"), rf"^{W}: \[sweep\] sampling 'random' needs samples = <integer >= 1>$"),
    (nm_spec(sampling="random", samples=3), rf"^{W}: \[sweep\] sampling 'random' needs seed = <integer >= 0>; "
                                            r"a seed makes the sweep reproducible$"),
    (nm_spec(sampling="random", samples=0, seed=1), rf"^{W}: \[sweep\] samples must be an integer >= 1, found 0$"),
    (nm_spec({"bits": [4, 8]}, sampling="random", samples=3, seed=1),
     rf"^{W}: \[sweep\] samples = 3 exceeds the 2 distinct points of the grid; lower samples or add values$"),
    (nm_spec(seed=1), rf"^{W}: \[sweep\] seed applies to sampling 'random' only, but sampling is 'grid'; remove seed "
                      r"or set sampling = \"random\"$"),
    (nm_spec(sampling="spiral"), rf"^{W}: \[sweep\] sampling must be one of \['grid', 'random', 'list'\], found 'spiral'$"),
    (nm_spec(sampling="list"), rf"^{W}: sampling 'list' needs \[\[points\]\] tables, found none; add one table per point$"),
    ({**nm_spec({"bits": [4, 8]}), "points": [{"bits": 4}]},
     rf"^{W}: axis 'bits' lists several values but sampling is 'list'; give each point's value in \[\[points\]\] and "
     r"keep \[axes\] to one value per key$"),
    ({**nm_spec(), "points": [{"bits": 4}, {"bitz": 4}]},
     rf"^{W}: points\[1\] key 'bitz' is not an axis of target 'neuromorphic'; .*$"),
    ({**nm_spec(), "points": [{"bits": [4]}]}, rf"^{W}: points\[0\]\.bits is a list, found \[4\]; a point takes one "
                                                r"value per key$"),
    ({**nm_spec(sampling="grid"), "points": [{"bits": 4}]},
     rf"^{W}: \[\[points\]\] is for sampling 'list', but sampling is 'grid'; set sampling = \"list\" or move the "
     r"values into \[axes\]$"),
    ({"sweep": {"target": "neuromorphic"}, "axes": {"model": "digits_mlp.nir"}},
     rf"^{W}: target 'neuromorphic' needs the axis 'preset'; add preset = \[\.\.\.\] to \[axes\]$"),
    ({"sweep": {"target": "fpga"}, "axes": {}}, rf"^{W}: \[sweep\] target must be one of \['neuromorphic', 'sat', "
                                                 r"'rtl'\], found 'fpga'$"),
    ({"axes": {}}, rf"^{W}: missing \[sweep\] table, found None; add \[sweep\] with target = .*$"),
    ({**nm_spec(), "dataflow": {}}, rf"^{W}: unknown table 'dataflow'; a spec holds \[sweep\], \[axes\] and \[\[points\]\]$"),
    (nm_spec(workers=3), rf"^{W}: \[sweep\] key 'workers' is unknown; expected one of \['name', 'target', .*\]$"),
    (nm_spec({"timesteps": {"min": 1}}), rf"^{W}: \[axes\] key 'timesteps' holds a table, but only 'chip' fields may "
                                         r"be nested \(chip\.lanes = \[\.\.\.\]\); give timesteps a value or a list$"),
    ({"sweep": {"target": "sat"}, "axes": {"workload": "resnet18", "sat": {"rows": [0]}}},
     rf"^{W}: axis 'sat\.rows' must be an integer in 1\.\.\d+, found 0; choose a value in that range$"),
    ({"sweep": {"target": "sat"}, "axes": {"workload": "alexnet"}},
     rf"^{W}: axis 'workload': workload 'alexnet' is neither a shipped network nor a model file beside the spec; "
     r"choose one of \[.*'resnet18'.*\] or give a path$"),
    ({"sweep": {"target": "rtl"}, "axes": {"rtl": {"neurons": [16]}}},
     rf"^{W}: target 'rtl' needs the axis 'rtl\.axons'; add rtl\.axons = \[\.\.\.\] to \[axes\]$"),
    (nm_spec({"bits": list(range(2, 33)), "timesteps": list(range(1, 5000))}),
     rf"^{W}: the spec resolves to \d+ points, more than 100000; use sampling = \"random\" with samples, or fewer values$"),
])
def test_a_bad_spec_names_the_key_the_value_and_the_fix(data, message):
    with pytest.raises(SweepError, match=message):
        spec_from_dict(data)


def test_a_huge_value_is_truncated_in_the_message():
    with pytest.raises(SweepError, match=r"^sweep spec: axis 'bits' must be an integer, found 'x{76}\.\.\.; write a whole number such as 4$"):
        spec_from_dict(nm_spec({"bits": ["x" * 10_000]}))


def test_load_spec_names_the_file(tmp_path):
    bad = tmp_path / "s.toml"
    bad.write_text("[sweep\n")
    with pytest.raises(SweepError, match=rf"^sweep spec {re.escape(repr(str(bad)))} is not valid TOML \(.*\); fix the syntax$"):
        load_spec(bad)
    with pytest.raises(SweepError, match=r"^sweep spec '.*missing\.toml' does not exist or is not a file; give the "
                                         r"path of a sweep TOML$"):
        load_spec(tmp_path / "missing.toml")


def test_relative_model_paths_resolve_beside_the_spec(tmp_path):
    src = Path(__file__).resolve().parents[2] / "models" / "digits_mlp.nsim"
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "mine.nsim").write_bytes(src.read_bytes())
    (tmp_path / "s.toml").write_text('[sweep]\ntarget = "neuromorphic"\n[axes]\nmodel = "m/mine.nsim"\npreset = "loihi"\n')
    spec = load_spec(tmp_path / "s.toml")
    assert spec.base_dir == str(tmp_path.resolve())


# -- sampling ---------------------------------------------------------------------------------------

def test_grid_is_the_product_in_spec_order_last_axis_fastest():
    spec = spec_from_dict(nm_spec({"bits": [4, 8], "chip": {"lanes": [1, 2, 4]}}))
    got = [(p.as_dict()["bits"], p.as_dict()["chip.lanes"]) for p in resolve_points(spec)]
    assert got == list(itertools.product([4, 8], [1, 2, 4]))
    assert [p.index for p in resolve_points(spec)] == list(range(6))
    assert spec.column_keys() == ("model", "preset", "bits", "chip.lanes")


@settings(derandomize=True, max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 5), min_size=1, max_size=3), seed=st.integers(0, 2**32), frac=st.floats(0.01, 1))
def test_random_sampling_draws_distinct_grid_points_reproducibly(sizes, seed, frac):
    axes = {"chip": {name: list(range(1, n + 1)) for name, n in zip(("lanes", "neurons_per_core", "axons_per_core"), sizes)}}
    n = 1
    for s in sizes:
        n *= s
    samples = max(1, int(frac * n))
    spec = spec_from_dict(nm_spec(axes, sampling="random", samples=samples, seed=seed))
    a, b = resolve_points(spec), resolve_points(spec)
    assert a == b
    grid = [p.values for p in resolve_points(spec_from_dict(nm_spec(axes)))]
    got = [p.values for p in a]
    assert len(set(got)) == samples and set(got) <= set(grid)
    assert got == sorted(got, key=grid.index)  # kept in grid order


def test_random_sampling_depends_on_the_seed():
    axes = {"chip": {"lanes": [1, 2, 4, 8], "neurons_per_core": [64, 128, 256, 512]}}
    draws = {tuple(p.values for p in resolve_points(spec_from_dict(nm_spec(axes, sampling="random", samples=4, seed=s))))
             for s in range(5)}
    assert len(draws) > 1


def test_list_points_take_the_axes_values_as_defaults():
    spec = spec_from_dict({**nm_spec({"timesteps": 8}), "points": [{"bits": 4}, {"preset": "odin", "chip": {"lanes": 2}}]})
    pts = resolve_points(spec)
    assert [p.as_dict() for p in pts] == [
        {"model": "digits_mlp.nir", "preset": "loihi", "timesteps": 8, "bits": 4, "chip.lanes": None},
        {"model": "digits_mlp.nir", "preset": "odin", "timesteps": 8, "bits": None, "chip.lanes": 2},
    ]
    assert spec.sampling == "list"


def test_a_default_given_explicitly_is_the_same_point():
    a = resolve_points(spec_from_dict(nm_spec({"timesteps": 16})))[0]
    b = resolve_points(spec_from_dict(nm_spec()))[0]
    assert a.resolved("neuromorphic") == b.resolved("neuromorphic")


def test_the_bundled_example_specs_load():
    root = Path(__file__).resolve().parents[2] / "models" / "sweeps"
    counts = {p.name: len(resolve_points(load_spec(p))) for p in sorted(root.glob("*.toml"))}
    assert counts["digits.toml"] == 2 * 3 * 2 * 2
    assert counts["digits200.toml"] == 200
    assert counts["random.toml"] == 12
