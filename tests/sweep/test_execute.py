"""Sweeps on a real (embedded) Dask cluster: results equal the target APIs called directly, a bad point
is a failed row, the cache makes a resume free, and the table is byte-identical whatever the worker
count or completion order. One 2-worker LocalCluster is shared by the module (starting one costs seconds)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from neurosim.errors import NeurosimError, SweepError
from neurosim.sweep import spec_from_dict, sweep
from neurosim.sweep.cli import COMMAND

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    cl = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      worker_dashboard_address=None)
    client = Client(cl)
    try:
        yield client
    finally:
        client.close()
        cl.close()


def small(**axes):
    return spec_from_dict({"sweep": {"target": "neuromorphic", "name": "t"},
                           "axes": {"model": "digits_mlp.nsim", "preset": ["loihi", "neurosim-core"],
                                    "timesteps": 4, **axes}})


def test_rows_equal_the_estimate_api_called_directly(cluster):
    from neurosim.frontends import load_model
    from neurosim.targets.neuromorphic.config import load_preset
    import dataclasses
    from neurosim.targets.neuromorphic.estimate import estimate

    res = sweep(small(bits=[4, 6], chip={"lanes": [2]}), client=cluster)
    assert [r["status"] for r in res.rows] == ["ok"] * 4
    graph = load_model(MODELS / "digits_mlp.nsim")
    for row in res.rows:
        chip = dataclasses.replace(load_preset(row["preset"]), weight_bits=row["bits"], lanes=2)
        est = estimate(graph, chip, timesteps=4, rate=0.1, seed=0)
        assert row["energy_pj"] == est.energy_pj
        assert row["latency_s"] == pytest.approx(est.latency_s, rel=1e-12)
    assert res.columns[:6] == ["point", "key", "model", "preset", "timesteps", "bits"]


def test_a_point_that_does_not_fit_is_a_failed_row_with_the_capacity_message(cluster):
    from neurosim.frontends import load_model
    from neurosim.targets.neuromorphic.estimate import estimate

    spec = spec_from_dict({"sweep": {"target": "neuromorphic"},
                           "axes": {"model": "digits_conv.nsim", "preset": ["odin", "neurosim-core"], "timesteps": 4}})
    res = sweep(spec, client=cluster)
    with pytest.raises(NeurosimError) as direct:  # the oracle: the same point run directly
        estimate(load_model(MODELS / "digits_conv.nsim"), "odin", timesteps=4)
    assert type(direct.value).__name__ == "CapacityError"
    odin, core = res.rows
    assert (odin["status"], odin["error"], odin["energy_pj"]) == ("failed", str(direct.value), None)
    assert core["status"] == "ok" and core["energy_pj"] > 0
    assert res.failed == 1


def test_resume_submits_nothing_and_an_interrupted_sweep_computes_only_the_missing(cluster, tmp_path):
    spec = small(bits=[4, 8])
    first = sweep(spec, client=cluster, out=tmp_path)
    table = (tmp_path / "table.csv").read_bytes()
    assert first.submitted == 4 and first.cached == 0
    again = sweep(spec, client=cluster, out=tmp_path, resume=True)
    assert (again.submitted, again.cached) == (0, 4)
    assert (tmp_path / "table.csv").read_bytes() == table
    entries = sorted((tmp_path / "cache").glob("*.json"))
    assert len(entries) == 4
    entries[1].unlink()  # as if the sweep had been killed before this point came back
    entries[2].write_text("{truncated")
    resumed = sweep(spec, client=cluster, out=tmp_path, resume=True)
    assert (resumed.submitted, resumed.cached) == (2, 2)
    assert (tmp_path / "table.csv").read_bytes() == table
    with pytest.raises(SweepError, match=rf"^--out {re.escape(repr(str(tmp_path)))} already holds a sweep; pass "
                                         r"--resume to reuse its cached points or choose an empty folder$"):
        sweep(spec, client=cluster, out=tmp_path)


def test_a_repeated_point_is_computed_once(cluster):
    spec = spec_from_dict({"sweep": {"target": "neuromorphic"},
                           "axes": {"model": "digits_mlp.nsim", "preset": "loihi", "timesteps": 4},
                           "points": [{"bits": 8}, {"bits": 4}, {"bits": 8}]})
    res = sweep(spec, client=cluster)
    assert res.submitted == 2
    assert res.rows[0]["energy_pj"] == res.rows[2]["energy_pj"] and res.rows[0]["key"] == res.rows[2]["key"]


def test_the_key_follows_the_model_content_not_its_name(cluster, tmp_path):
    data = (MODELS / "digits_mlp.nsim").read_bytes()
    (tmp_path / "a.nsim").write_bytes(data)
    (tmp_path / "b.nsim").write_bytes(data)
    (tmp_path / "c.nsim").write_bytes((MODELS / "digits_mlp_nm24.nsim").read_bytes())
    spec = spec_from_dict({"sweep": {"target": "neuromorphic"},
                           "axes": {"model": ["a.nsim", "b.nsim", "c.nsim"], "preset": "loihi", "timesteps": 4}},
                          base_dir=tmp_path)
    res = sweep(spec, client=cluster)
    a, b, c = (r["key"] for r in res.rows)
    assert a == b != c and res.submitted == 2


def test_the_table_is_byte_identical_for_one_or_two_workers(cluster, tmp_path):
    spec = small(bits=[4, 8], chip={"lanes": [1, 4]})
    sweep(spec, client=cluster, out=tmp_path / "two")
    sweep(spec, workers=1, out=tmp_path / "one")
    two, one = (tmp_path / "two" / "table.csv").read_bytes(), (tmp_path / "one" / "table.csv").read_bytes()
    assert two == one and two.count(b"\n") == 9
    assert (tmp_path / "two" / "sweep.json").read_bytes() == (tmp_path / "one" / "sweep.json").read_bytes()


def test_the_command_runs_on_a_scheduler_address_and_writes_table_plots_and_report(cluster, tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text('[sweep]\ntarget = "neuromorphic"\n[axes]\nmodel = "%s"\npreset = ["loihi", "neurosim-core", "odin"]'
                    '\ntimesteps = 4\nbits = [4, 8]\n' % (MODELS / "digits_mlp.nsim"))
    p = argparse.ArgumentParser()
    COMMAND.configure(p)
    rc = COMMAND.run(p.parse_args([str(spec), "--scheduler", cluster.scheduler.address, "--out", str(tmp_path / "o")]))
    out = capsys.readouterr().out
    assert rc == 0
    assert re.search(r"^6 points: 5 ok, 1 failed; 6 computed, 0 from the cache, in [\d.]+ s$", out, re.M)
    from neurosim.sweep.table import read_csv

    rows = read_csv(tmp_path / "o" / "table.csv")
    assert [r["status"] for r in rows] == ["ok"] * 5 + ["failed"]  # odin's 8-bit membranes cannot take 8-bit weights
    assert f"\n  point #5 failed: {rows[5]['error']}\n" in out and "8" in rows[5]["error"]
    assert "Pareto front of energy_pj vs latency_s" in out
    names = sorted(f.name for f in (tmp_path / "o").iterdir())
    assert {"table.csv", "sweep.json", "cache", "pareto_energy_latency.png", "pareto_energy_cores.png"} <= set(names)


def test_sat_rows_equal_the_study_api(cluster):
    from neurosim.targets.sat.config import load_config
    from neurosim.targets.sat.model.workload import load_workload
    from neurosim.targets.sat.study import study

    spec = spec_from_dict({"sweep": {"target": "sat"},
                           "axes": {"workload": "resnet18", "nm": ["2:8", "1:4"], "batch": 8, "sat": {"rows": [8]}}})
    res = sweep(spec, client=cluster)
    cfg = load_config("sat-vcu1525").replace(rows=8)
    for row, nm in zip(res.rows, [(2, 8), (1, 4)]):
        direct = study(load_workload("resnet18"), cfg, nm, 8, ablation=False, sweep=False)
        assert row["status"] == "ok", row["error"]
        assert (row["cycles"], row["dense_cycles"]) == (direct.sparse.cycles, direct.dense.cycles)
        assert row["speedup"] == direct.speedup


@pytest.mark.parametrize("kwargs, message", [
    ({"workers": 0}, r"^--workers must be a positive integer, found 0$"),
    ({"workers": 2, "scheduler": "tcp://127.0.0.1:1"}, r"^--workers 2 applies to the embedded cluster, but --scheduler "
                                                       r"'tcp://127\.0\.0\.1:1' was given; .*$"),
    ({"scheduler": "localhost"}, r"^--scheduler must be an address like 'tcp://host:8786', found 'localhost'$"),
    ({"resume": True}, r"^--resume needs --out: the folder of the sweep to resume$"),
])
def test_bad_run_options_are_refused_before_anything_runs(kwargs, message):
    with pytest.raises(SweepError, match=message):
        sweep(small(), **kwargs)


def test_an_out_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    with pytest.raises(SweepError, match=rf"^--out {re.escape(repr(str(f)))} is an existing file, not a folder; "
                                         r"choose a folder path$"):
        sweep(small(), out=f)


def test_an_unreachable_scheduler_is_one_line():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(SweepError, match=rf"^--scheduler 'tcp://127\.0\.0\.1:{port}': cannot connect \(.*\); start one "
                                         r"with `dask scheduler` .*$"):
        from neurosim.sweep import execute

        old = execute.CONNECT_TIMEOUT_S
        execute.CONNECT_TIMEOUT_S = 2
        try:
            sweep(small(), scheduler=f"tcp://127.0.0.1:{port}")
        finally:
            execute.CONNECT_TIMEOUT_S = old


def test_the_progress_bar_shows_eta_and_failures_on_a_terminal(cluster, tmp_path, monkeypatch):
    import io

    from rich.console import Console

    import neurosim.sweep.cli as sweep_cli

    buf = io.StringIO()
    monkeypatch.setattr(sweep_cli, "console", lambda: Console(file=buf, force_terminal=True, width=160))
    spec = tmp_path / "s.toml"
    spec.write_text('[sweep]\ntarget = "neuromorphic"\n[axes]\nmodel = "%s"\npreset = ["odin", "loihi"]\n'
                    'timesteps = 4\n' % (MODELS / "digits_conv.nsim"))
    p = argparse.ArgumentParser()
    COMMAND.configure(p)
    assert COMMAND.run(p.parse_args([str(spec), "--scheduler", cluster.scheduler.address])) == 0
    text = buf.getvalue()
    assert "ETA" in text and re.search(r"\d/2 points", text) and "1 failed" in text
