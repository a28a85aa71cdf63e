"""neurosim estimate: every bundled model on every preset, energy bookkeeping, report, CLI errors."""

import json
from pathlib import Path

import numpy as np
import pytest

from neurosim.cli import main
from neurosim.errors import CapacityError, SimulationError
from neurosim.targets.neuromorphic.estimate import estimate, poisson_input
from neurosim.targets.neuromorphic.config import load_preset, presets
from neurosim.ir import load
from neurosim.targets.neuromorphic.report import SCHEMA, SCHEMA_VERSION, to_dict, write_report

MODELS = Path(__file__).resolve().parents[3] / "models"
KINDS = ("mlp", "conv", "mlp_nm24")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("chip", sorted(presets()))
def test_every_model_on_every_preset_estimates_or_names_the_limit(kind, chip):
    graph = load(MODELS / f"digits_{kind}.nsim")
    try:
        est = estimate(graph, chip, timesteps=8, rate=0.2, seed=1)
    except CapacityError as exc:
        assert str(exc).split(" ")[0] in ("population", "the", "source")
        assert "over by" in str(exc)
        return
    doc = to_dict(est, kind)
    assert doc["totals"]["timesteps"] == 8
    assert doc["mapping"]["cores"] >= len(doc["per_layer"])
    assert doc["totals"]["spikes"] > 0


def test_energy_total_is_sum_of_count_times_constant():
    """Recompute the total independently from the raw per-core counts and the preset file."""
    chip = load_preset("loihi")
    est = estimate(load(MODELS / "digits_mlp.nsim"), chip, timesteps=10, rate=0.3, seed=3)
    counts = est.result.counts
    dynamic = 0.0
    for ev, arr in counts.items():
        const = chip.energy_pj.get(ev)
        if const is not None and const.value is not None:
            dynamic += float(arr.sum()) * const.value
    static = (chip.static_power_w.value or 0.0) * float(np.nansum(est.step_s)) * 1e12 if chip.static_power_w else 0.0
    assert est.total_pj == pytest.approx(dynamic + static, rel=1e-12)
    assert sum(est.energy_by_layer_pj.values()) == pytest.approx(dynamic, rel=1e-12)
    assert float(est.energy_by_core_pj.sum()) == pytest.approx(dynamic, rel=1e-12)
    # the synaptic ops of a spike-driven layer equal its presynaptic spikes times their fan-out
    res = est.result
    hidden = res.net.populations[0]
    fanout = np.diff(res.net.synapse_list().ptr)[res.net.population_slice(hidden)]
    out_cores = [i for i, p in enumerate(res.mapping.core_population) if p == res.net.populations[1]]
    spk = res.spikes[hidden].reshape(res.steps, -1)
    assert counts["synaptic_op"][:, out_cores].sum() == int((spk * fanout).sum())


def test_report_schema_and_plots(tmp_path):
    est = estimate(load(MODELS / "digits_conv.nsim"), "loihi", timesteps=6, rate=0.3)
    doc = write_report(est, tmp_path, model_name="digits_conv")
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk["schema"] == SCHEMA and on_disk["version"] == SCHEMA_VERSION
    for key in ("totals", "per_event", "per_layer", "per_core", "per_timestep", "busiest", "synops", "comparison"):
        assert key in on_disk
    assert len(on_disk["per_timestep"]["latency_s"]) == 6
    for name in doc["plots"]:
        assert (tmp_path / name).stat().st_size > 1000
    assert set(doc["plots"]) == {"energy_by_layer.png", "mesh_utilisation.png", "spike_raster.png",
                                 "latency_per_timestep.png"}


def test_same_command_same_report(tmp_path):
    a = to_dict(estimate(load(MODELS / "digits_mlp.nsim"), "loihi", timesteps=5, rate=0.2, seed=7), "m")
    b = to_dict(estimate(load(MODELS / "digits_mlp.nsim"), "loihi", timesteps=5, rate=0.2, seed=7), "m")
    assert a == b


def test_synops_method_is_reported_side_by_side():
    est = estimate(load(MODELS / "digits_mlp.nsim"), "loihi", timesteps=8, rate=0.2)
    s = est.synops
    assert s["energy_pj"] == pytest.approx(s["first_layer_macs"] * s["e_mac_pj"] + s["synaptic_ops"] * s["e_ac_pj"])
    assert s["first_layer_macs"] == 64 * 128 * 8  # dense first layer, every step


def test_cli_estimate_writes_report(tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["estimate", str(MODELS / "digits_mlp.nir"), "--chip", "loihi", "--timesteps", "8", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "energy per inference" in text and "busiest core" in text
    assert (out / "report.json").exists()


def test_cli_unknown_chip(capsys):
    assert main(["estimate", str(MODELS / "digits_mlp.nir"), "--chip", "loihl"]) == 2
    assert "unknown chip 'loihl'" in capsys.readouterr().err


def test_cli_negative_rate(capsys):
    with pytest.raises(SystemExit):
        main(["estimate", str(MODELS / "digits_mlp.nir"), "--chip", "loihi", "--rate", "-0.5"])
    assert "--rate must be a spike probability in [0, 1], found '-0.5'" in capsys.readouterr().err


def test_cli_wrong_input_shape(tmp_path, capsys):
    bad = tmp_path / "x.npy"
    np.save(bad, np.zeros((4, 63)))
    assert main(["estimate", str(MODELS / "digits_mlp.nir"), "--chip", "loihi", "--input", str(bad)]) == 2
    assert "input 'input' has shape (4, 63), expected [T, 64]" in capsys.readouterr().err


def test_cli_model_too_big(capsys):
    assert main(["estimate", str(MODELS / "digits_conv.nir"), "--chip", "odin"]) == 2
    assert "odin" in capsys.readouterr().err


def test_poisson_input_is_seeded():
    a = poisson_input((5,), 10, 0.3, seed=4)
    assert np.array_equal(a, poisson_input((5,), 10, 0.3, seed=4))
    with pytest.raises(SimulationError, match=r"^--rate must be a spike probability per step in \[0, 1\], found 2\.0$"):
        poisson_input((5,), 10, 2.0, seed=4)
