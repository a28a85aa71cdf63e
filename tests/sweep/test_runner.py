"""What one point runs, in-process (no cluster): N:M pruning against a direct group count, and the
classification of failures (a NeurosimError is a cached failed row, anything else an uncached internal error)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neurosim.frontends import load_model
from neurosim.ir.nodes.connections import ConvND, Dense
from neurosim.sweep import runner

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.mark.parametrize("model", ["digits_mlp.nsim", "digits_conv.nsim"])
@pytest.mark.parametrize("n, m", [(2, 4), (1, 8)])
def test_prune_nm_keeps_at_most_n_of_every_m_inputs_and_the_largest(model, n, m):
    graph = load_model(MODELS / model)
    pruned = runner.prune_nm(graph, n, m)
    touched = 0
    for name, node in graph.nodes.items():
        new = pruned.nodes[name]
        if not isinstance(node, (Dense, ConvND)):
            continue
        w, p = np.asarray(node.weight), np.asarray(new.weight)
        rows = p.reshape(p.shape[0], -1)
        if rows.shape[1] % m:
            assert new.nm is None and np.array_equal(w, p)
            continue
        touched += 1
        groups = rows.reshape(rows.shape[0], -1, m)
        assert (np.count_nonzero(groups, axis=2) <= n).all() and new.nm == (n, m)
        orig = np.abs(w.reshape(w.shape[0], -1).reshape(groups.shape))
        kept = groups != 0
        # every kept weight is at least as large as every dropped one of its group
        assert (np.where(kept, orig, np.inf).min(axis=2) >= np.where(kept, -np.inf, orig).max(axis=2)).all()
        assert np.array_equal(p[p != 0], w[p != 0])
    assert touched >= 1
    assert runner.prune_nm(graph, 1, 1) is graph


def _files(model):
    return {"model": (f"test-{model}", Path(model).suffix, (MODELS / model).read_bytes())}


def test_a_neurosim_error_is_a_cacheable_failed_row():
    cfg = {"model": "digits_mlp.nsim", "preset": "loihi", "nm": "dense", "rate": 0.1, "timesteps": 2, "seed": 0,
           "method": "cycle", "arith": "chip", "contention": False, "chip.mesh_x": 1, "chip.mesh_y": 1}
    res = runner.run_point("neuromorphic", cfg, _files("digits_mlp.nsim"))
    assert res["status"] == "failed" and res["cacheable"]
    assert res["error"].startswith("chip 'loihi' mesh 1x1 has fewer routers than its")


def test_an_unexpected_exception_is_an_uncached_internal_error(monkeypatch):
    def boom(config, files):
        raise KeyError("x" * 5000)

    monkeypatch.setitem(runner._RUN, "neuromorphic", boom)
    res = runner.run_point("neuromorphic", {}, {})
    assert res["status"] == "failed" and not res["cacheable"]
    assert res["error"].startswith("internal error: KeyError: 'xxx") and len(res["error"]) == runner.MAX_ERROR
