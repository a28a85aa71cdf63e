"""The table, the cache key and the Pareto front, each against an independent oracle."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurosim.sweep.cache import Cache, point_key
from neurosim.sweep.pareto import front, write_plots
from neurosim.sweep.table import columns, read_csv, to_csv, to_parquet_bytes

vals = st.one_of(st.integers(0, 50), st.floats(0.5, 50.0, allow_nan=False))


def _dominated(r, others, x, xs, y, ys):
    sx = 1 if xs == "min" else -1
    sy = 1 if ys == "min" else -1
    return any(sx * o[x] <= sx * r[x] and sy * o[y] <= sy * r[y] and (sx * o[x] < sx * r[x] or sy * o[y] < sy * r[y])
               for o in others)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(pts=st.lists(st.tuples(vals, vals, st.booleans()), min_size=0, max_size=25),
       xs=st.sampled_from(["min", "max"]), ys=st.sampled_from(["min", "max"]))
def test_the_front_is_exactly_the_non_dominated_ok_points(pts, xs, ys):
    rows = [{"point": i, "a": a, "b": b, "status": "ok" if ok else "failed"} for i, (a, b, ok) in enumerate(pts)]
    ok = [r for r in rows if r["status"] == "ok"]
    got = front(rows, "a", xs, "b", ys)
    # oracle: brute force; of equal (a, b) points one (the lowest index) represents the others
    want = [r for r in ok if not _dominated(r, ok, "a", xs, "b", ys)
            and not any(o["a"] == r["a"] and o["b"] == r["b"] and o["point"] < r["point"] for o in ok)]
    assert sorted(r["point"] for r in got) == sorted(r["point"] for r in want)


def test_csv_cells_are_exact_and_rows_sorted_by_point():
    cols = ["point", "x", "y", "status"]
    rows = [{"point": 1, "x": 0.1 + 0.2, "y": None, "status": "ok"},
            {"point": 0, "x": True, "y": "a,b", "status": "failed"}]
    text = to_csv(rows, cols)
    assert text == 'point,x,y,status\n0,true,"a,b",failed\n1,0.30000000000000004,,ok\n'
    assert float(text.splitlines()[2].split(",")[1]) == 0.1 + 0.2


def test_parquet_holds_the_csv_values(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    import io

    cols = columns("neuromorphic", ("model", "bits"))
    rows = [{"point": 0, "key": "k0", "model": "m", "bits": 4, "energy_pj": 1.5, "status": "ok", "error": ""},
            {"point": 1, "key": "k1", "model": "m", "bits": 8, "energy_pj": None, "status": "failed", "error": "e"}]
    table = pq.read_table(io.BytesIO(to_parquet_bytes(rows, cols)))
    assert table.column_names == cols
    assert table.column("energy_pj").to_pylist() == [1.5, None]
    assert table.column("bits").to_pylist() == [4, 8]
    (tmp_path / "t.csv").write_text(to_csv(rows, cols))
    assert [r["energy_pj"] for r in read_csv(tmp_path / "t.csv")] == ["1.5", ""]


def test_the_key_changes_with_every_input_and_nothing_else():
    base = point_key("neuromorphic", {"a": 1, "b": "x"}, {"model": "d1"})
    assert base == point_key("neuromorphic", {"b": "x", "a": 1}, {"model": "d1"})  # order-free
    assert len({base, point_key("sat", {"a": 1, "b": "x"}, {"model": "d1"}),
                point_key("neuromorphic", {"a": 2, "b": "x"}, {"model": "d1"}),
                point_key("neuromorphic", {"a": 1, "b": "x"}, {"model": "d2"})}) == 4


def test_the_key_changes_with_the_neurosim_version(monkeypatch):
    import neurosim

    a = point_key("neuromorphic", {"a": 1}, {})
    monkeypatch.setattr(neurosim, "__version__", "99.0")
    assert point_key("neuromorphic", {"a": 1}, {}) != a


def test_a_damaged_cache_entry_is_ignored(tmp_path):
    c = Cache(tmp_path)
    c.put("k", {"status": "ok", "error": "", "values": {"energy_pj": 1.0}})
    assert c.get("k")["values"] == {"energy_pj": 1.0}
    for text in ("{", "[]", json.dumps({"schema": "neurosim-sweep-point", "key": "other", "status": "ok", "values": {}})):
        (tmp_path / "k.json").write_text(text)
        assert c.get("k") is None
    assert not list(tmp_path.glob(".*tmp"))


def test_plots_are_written_only_where_there_is_data(tmp_path):
    rows = [{"point": i, "latency_s": 1e-4 * (i + 1), "energy_pj": 1e5 / (i + 1), "cores": 2, "status": "ok"}
            for i in range(4)] + [{"point": 4, "status": "failed"}]
    names = write_plots(rows, "neuromorphic", ["bits"], tmp_path)
    assert names == ["pareto_energy_latency.png", "pareto_energy_cores.png"]
    assert write_plots([{"point": 0, "status": "failed"}], "neuromorphic", [], tmp_path / "none") == []
