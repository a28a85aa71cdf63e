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
    assert "error: argument --rate: expected a spike probability in [0, 1], found '-0.5'" in capsys.readouterr().err


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


# -- honest reports (issue 14 item 4): unknowns, lower bounds, the chosen method, one unit style ---

import re  # noqa: E402

from neurosim.frontends import load_model  # noqa: E402
from neurosim.targets.neuromorphic.report import headline, print_summary  # noqa: E402


def _printed(doc) -> str:
    import io

    from rich.console import Console

    buf = io.StringIO()
    print_summary(doc, Console(file=buf, width=100))
    return buf.getvalue()


@pytest.fixture(scope="module")
def mlp_loihi():
    return estimate(load_model(MODELS / "digits_mlp.nir"), "loihi", timesteps=8, rate=0.2, seed=1)


def _unpriced_by_hand(est, chip_name):
    chip = load_preset(chip_name)
    counts = {e: int(a.sum()) for e, a in est.result.counts.items()}
    occurred = [e for e, n in counts.items() if n]
    unpriced = sorted(e for e in occurred if chip.energy_pj[e].value is None and not chip.energy_pj[e].not_applicable)
    return unpriced, len(occurred)


def test_lower_bound_headline_and_json_flags(mlp_loihi):
    unpriced, n = _unpriced_by_hand(mlp_loihi, "loihi")
    assert unpriced == ["packet_in", "packet_out", "spike_out"] and load_preset("loihi").static_power_w.value is None
    doc = to_dict(mlp_loihi, "m")
    t = doc["totals"]
    assert t["lower_bound"] is True and t["unpriced_events"] == unpriced and t["event_types_occurred"] == n
    assert t["static_unknown"] is True and t["static_energy_pj"] is None  # unknown, never 0
    assert doc["per_event"]["spike_out"]["energy_pj"] is None
    assert t["latency_lower_bound"] is True and set(t["unpriced_latencies"]) == {"spike_out", "packet_out", "packet_in"}
    assert re.fullmatch(rf"energy per inference: [\d.]+ nJ lower bound \(3 of {n} event types unpriced: packet_in, packet_out, "
                        r"spike_out; static power unknown\); latency: [\d.]+ us per timestep \(lower bound\), "
                        r"[\d.]+ us per inference", headline(doc))
    text = _printed(doc)
    assert "static 0" not in text and re.search(r"^  dynamic [\d.]+ nJ, static unknown$", text, re.M)
    # the note that qualifies the latency is printed, not only in the JSON
    assert re.search(r"^  note: latency is a lower bound: no published latency for spike_out, packet_out, packet_in on loihi "
                     r"\(counted as 0\)$", text, re.M)
    assert re.search(r"^│ spike_out +│ +\d+ │ +unknown │ +unknown │ +unknown │$", text, re.M)


def test_headline_without_unknowns_is_no_lower_bound(mlp_loihi):
    doc = to_dict(mlp_loihi, "m")
    doc["totals"].update(unpriced_events=[], static_unknown=False, latency_lower_bound=False)
    assert re.fullmatch(r"energy per inference: [\d.]+ nJ; latency: [\d.]+ us per timestep, [\d.]+ us per inference",
                        headline(doc))


def test_busiest_core_labelled_and_link_reason(mlp_loihi):
    m = mlp_loihi.result.mapping
    assert len(set(m.core_tile.tolist())) == 1  # both cores on one router: nothing crosses a link
    doc = to_dict(mlp_loihi, "m")
    assert doc["busiest"]["link"] is None
    assert doc["busiest"]["link_reason"] == "no packet crossed a router: all traffic stayed inside a tile"
    text = _printed(doc)
    assert re.search(r"^busiest core: core 0 \(layer '1', LIF 128, router \(0, 0\), chip 0\), busy [\d.]+ [nu]s over "
                     r"the inference = 100% of the critical core's time$", text, re.M)
    assert re.search(r"^busiest link: none \(no packet crossed a router: all traffic stayed inside a tile\)$", text, re.M)


def test_synops_method_switches_totals_and_headline(mlp_loihi):
    import dataclasses

    est = dataclasses.replace(mlp_loihi, method="synops")
    doc = to_dict(est, "m")
    s = est.synops
    by_hand = 64 * 128 * 8 * s["e_mac_pj"] + s["synaptic_ops"] * s["e_ac_pj"]
    assert doc["totals"]["energy_pj"] == pytest.approx(by_hand) and doc["totals"]["method"] == "synops"
    assert sum(doc["per_timestep"]["energy_pj"]) == pytest.approx(by_hand)
    assert sum(r["energy_pj"] for r in doc["per_layer"].values()) == pytest.approx(by_hand)
    assert doc["cycle"]["energy_pj"] == pytest.approx(mlp_loihi.total_pj)
    assert re.fullmatch(r"energy per inference: [\d.]+ nJ \(op-count method, synops\); latency: .* per inference",
                        headline(doc))
    text = _printed(doc)
    assert re.search(r"^  cycle method, for comparison: [\d.]+ nJ lower bound \(3 of \d+ event types", text, re.M)
    assert not re.search(r"\d\.\d+e[+-]\d+", text)  # one unit style: no 6.035e+05 pJ


def test_cli_synops_and_generic_one_unit_style(capsys):
    assert main(["estimate", str(MODELS / "digits_mlp.nir"), "--chip", "generic-45nm", "--method", "synops",
                 "--timesteps", "4"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^energy per inference: [\d.]+ nJ \(op-count method, synops\);", out, re.M)
    assert "synops estimate:" not in out and not re.search(r"\d(\.\d+)?e[+-]\d+", out)


def test_quantization_effect_against_the_reference(mlp_loihi):
    """Float vs fixed spike counts per layer, from the plain-Python reference simulator."""
    from neurosim.targets.neuromorphic.model.reference import run

    graph = load_model(MODELS / "digits_mlp.nir")
    x = poisson_input((64,), 8, 0.2, seed=1)
    fl = run(graph, x, mode="float").outputs
    fx = run(mlp_loihi.graph, x, mode="fixed").outputs
    eff = mlp_loihi.quantization_effect
    for p in ("1", "3"):
        a, b = fl[p].reshape(8, -1).sum(axis=0), fx[p].reshape(8, -1).sum(axis=0)
        row = eff["layers"][p]
        assert (row["float_spikes"], row["fixed_spikes"]) == (int(a.sum()), int(b.sum()))
        assert row["changed_fraction"] == pytest.approx(np.mean(a != b))


def test_quantization_warning_threshold():
    from neurosim.targets.neuromorphic.estimate import _effect_summary
    from neurosim.targets.neuromorphic.report import quantization_warning

    def eff(fl, fx, changed, n=100):
        return _effect_summary({"a": {"neurons": n, "float_spikes": fl, "fixed_spikes": fx, "neurons_changed": changed,
                                      "changed_fraction": changed / n}})

    assert not eff(100, 96, 9)["warn"] and quantization_warning(eff(100, 96, 9)) is None
    assert eff(100, 94, 0)["warn"] and eff(100, 100, 11)["warn"]
    assert re.fullmatch(r"quantization changed the activity: 94 spikes in fixed point vs 100 in float \(-6\.0%\), "
                        r"0\.0% of the neurons changed their spike count \(warned above 5% / 10%; --arith float "
                        r"prices the float spike trains\)", quantization_warning(eff(100, 94, 0)))


def test_arith_float_prices_the_float_spikes():
    from neurosim.targets.neuromorphic.model.reference import run

    graph = load_model(MODELS / "digits_mlp.nir")
    x = poisson_input((64,), 6, 0.2, seed=3)
    est = estimate(graph, "loihi", x, arith="float")
    ref = run(graph, x, mode="float").outputs
    assert all(int(est.result.spikes[p].sum()) == int(ref[p].sum()) for p in ("1", "3"))
    assert est.arith == "float" and est.quantization_effect is None
    assert any(n.startswith("arithmetic: float (--arith float)") for n in est.notes)
    with pytest.raises(SimulationError, match=r"^arith must be one of \('chip', 'float'\), found 'fixed'; "):
        estimate(graph, "loihi", x, arith="fixed")
    with pytest.raises(SimulationError, match=r"^arith='float' needs a float model, but every spiking population "
                                              r"of this model is already in fixed point; pass arith='chip'"):
        estimate(estimate(graph, "loihi", x).graph, "loihi", x, arith="float")


def test_mapping_options_pass_through(capsys):
    graph = load_model(MODELS / "digits_mlp.nir")
    est = estimate(graph, "loihi", neurons_per_core=64, timesteps=4)
    assert to_dict(est)["mapping"]["cores_per_layer"] == {"1": 2, "3": 1}  # ceil(128 / 64), ceil(10 / 64)
    est = estimate(graph, "odin", neurons_per_core=1000, allow_overcapacity=True, timesteps=4)
    assert to_dict(est)["mapping"]["violations"] == [{"core": -1, "resource": "neurons_per_core", "needed": 1000,
                                                     "limit": 256}]
    assert main(["estimate", str(MODELS / "digits_mlp.nir"), "--chip", "odin", "--neurons-per-core", "1000",
                 "--allow-overcapacity", "--timesteps", "4"]) == 0
    assert re.search(r"^what-if mapping \(--allow-overcapacity\): 1 capacity limit\(s\) exceeded: the board: "
                     r"neurons_per_core 1,000 > 256$", capsys.readouterr().out, re.M)
