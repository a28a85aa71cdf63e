"""Chip presets (sourced constants), the event vocabulary, the energy model and `neurosim chips`."""

import argparse
import dataclasses
import math
import re
from pathlib import Path

import numpy as np
import pytest

from neurosim.errors import NeurosimError
from neurosim.targets.neuromorphic import (EVENT_INDEX, EVENTS, PRESET_DIR, ChipError, ChipPreset, Constant, EnergyError,
                         energy_breakdown, latency_breakdown, load_preset, preset_names, presets)
from neurosim.targets.neuromorphic import chips as chips_command

NAMES = ["generic-45nm", "loihi", "loihi-sanafe", "neurosim-core", "odin", "truenorth"]
DOCS = Path(__file__).resolve().parents[3] / "docs" / "chips.md"


@pytest.fixture(scope="module")
def chips():
    return presets()


def _variant(tmp_path, text, name="variant.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _loihi_text():
    return (PRESET_DIR / "loihi.toml").read_text()


# -- events -----------------------------------------------------------------------------------------

def test_event_vocabulary_order_and_index():
    assert EVENTS == ("synaptic_op", "neuron_update_active", "neuron_update_inactive", "spike_out", "packet_out", "packet_in",
                      "spike_in_tile",
                      "hop_ew", "hop_ns", "chip_hop", "sram_read_byte", "sram_write_byte", "dram_byte", "mac", "ac")
    assert EVENT_INDEX == {e: i for i, e in enumerate(EVENTS)}


# -- presets load, every constant sourced -------------------------------------------------------------

def test_every_preset_loads(chips):
    assert preset_names() == NAMES
    assert list(chips) == NAMES
    for name, chip in chips.items():
        assert isinstance(chip, ChipPreset)
        assert chip.name == name == load_preset(name).name
        assert chip.description and chip.reference
        assert set(chip.energy_pj) == set(EVENTS), name
        if chip.timing == "event_latency":
            assert set(chip.latency_ns) == set(EVENTS), name


def test_every_constant_has_a_source(chips):
    for name, chip in chips.items():
        constants = chip.constants()
        assert len(constants) >= 25 + len(EVENTS)
        for key, const in constants.items():
            assert isinstance(const.source, str) and const.source.strip(), (name, key)
        for field in ("neurons_per_core", "axons_per_core", "cores_per_chip", "weight_bits", "mesh_x", "clock_hz",
                      "timing", "static_power_w", "timestep_s", "barrier_ns"):
            assert chip.sources[field].strip(), (name, field)


def test_unknown_values_are_none_and_labelled(chips):
    loihi = chips["loihi"]
    assert loihi.energy_pj["spike_out"].value is None and loihi.energy_pj["spike_out"].display() == "unknown"
    assert loihi.static_power_w.value is None
    assert loihi.clock_hz is None and loihi.constants()["clock_hz"].display() == "n/a"
    assert loihi.energy_pj["dram_byte"].not_applicable
    assert "energy_pj.spike_out" in loihi.unknown_constants()
    assert "energy_pj.dram_byte" not in loihi.unknown_constants()


def test_loihi_numbers(chips):
    c = chips["loihi"]
    e = {k: v.value for k, v in c.energy_pj.items()}
    t = {k: v.value for k, v in c.latency_ns.items()}
    assert e["synaptic_op"] == 23.6
    assert (e["neuron_update_active"], e["neuron_update_inactive"]) == (81, 52)
    assert e["spike_in_tile"] == 1.7
    assert (e["hop_ew"], e["hop_ns"]) == (3.0, 4.0)
    assert t["synaptic_op"] == 3.5
    assert (t["neuron_update_active"], t["neuron_update_inactive"]) == (8.4, 5.3)
    assert (t["spike_in_tile"], t["hop_ew"], t["hop_ns"]) == (2.1, 4.1, 6.5)
    assert c.cores_per_chip == 128 and c.neurons_per_core == 1024 and c.cores_per_tile == 4
    assert c.axons_per_core == 4096 and c.synapse_memory_bytes == 128 * 1024
    assert c.timing == "event_latency" and c.clock_hz is None
    assert c.barrier_ns.value == 465
    assert "Table 2" in c.energy_pj["synaptic_op"].source
    assert c.published["synaptic_update_energy"].value == 120


def test_truenorth_numbers(chips):
    c = chips["truenorth"]
    assert c.cores_per_chip == 4096 and (c.mesh_x, c.mesh_y) == (64, 64)
    assert c.neurons_per_core == 256 and c.axons_per_core == 256
    assert c.timestep_s.value == 0.001 and c.timestep_s.unit == "s"
    assert c.energy_pj["synaptic_op"].value == 26
    assert c.weight_bits == 9 and c.membrane_bits == 20
    assert c.published["total_power"].value == 0.072


def test_odin_numbers(chips):
    c = chips["odin"]
    assert c.neurons_per_core == 256 and c.cores_per_chip == 1
    assert c.synapse_memory_bytes * 8 / (c.neurons_per_core * c.axons_per_core) == 4   # 4-bit synapses
    assert c.weight_bits == 3                                                             # 3-bit weight + mapping bit
    assert c.published["energy_per_sop_total"].value == 12.7
    assert c.energy_pj["synaptic_op"].value == 8.43
    assert c.clock_hz == 75e6


def test_odin_reproduces_its_published_12_7_pj_per_sop(chips):
    c = chips["odin"]
    sops_per_s = c.clock_hz / 2                                 # two cycles per SOP: the maximum SOP rate
    b = energy_breakdown({"synaptic_op": sops_per_s}, c, time_s=1.0)
    assert b.complete
    assert b.total_pj / sops_per_s == pytest.approx(c.published["energy_per_sop_total"].value, rel=5e-3)
    assert c.latency_ns["synaptic_op"].value == pytest.approx(2 / c.clock_hz * 1e9, abs=1e-3)


def test_generic_45nm_numbers(chips):
    c = chips["generic-45nm"]
    assert c.energy_pj["ac"].value == 0.9 and c.energy_pj["synaptic_op"].value == 0.9
    assert c.energy_pj["mac"].value == 4.6
    assert c.energy_pj["sram_read_byte"].value == 10 / 8 and c.energy_pj["dram_byte"].value == 1300 / 8
    assert c.energy_pj["sram_read_byte"].source.startswith("derived:")
    p = {k: v.value for k, v in c.published.items()}
    assert (p["int8_add"], p["int8_mult"], p["int32_add"], p["int32_mult"]) == (0.03, 0.2, 0.1, 3.1)
    assert (p["fp32_add"], p["fp32_mult"]) == (0.9, 3.7)
    assert (p["cache_8kb_64bit"], p["cache_32kb_64bit"], p["cache_1mb_64bit"]) == (10, 20, 100)
    assert (p["dram_64bit_low"], p["dram_64bit_high"]) == (1300, 2600)
    assert c.sources["neurons_per_core"] == "estimate: generic target, not a real chip"


def test_neurosim_core_is_the_rtl_with_unmeasured_values_marked_placeholder(chips):
    from neurosim.targets.neuromorphic.hdl import config as rtl

    c = chips["neurosim-core"]
    assert c.is_placeholder  # clock and energies are not measured yet
    for k, v in c.constants().items():
        assert k.startswith("published.") or v.source.startswith(
            ("placeholder until synthesis", "neurosim RTL", "estimate: a 45 nm implementation", "accounting:"))
    assert (c.neurons_per_core, c.axons_per_core, c.lanes, c.weight_bits, c.membrane_bits) == (256, 1024, 4, 8, 16)
    # the cycle parameters are the generated core's (verified cycle-exact in tests/targets/neuromorphic/test_hdl.py)
    assert (c.integrate_pipeline_cycles, c.fire_pipeline_cycles, c.event_overhead_cycles) == (
        rtl.INTEGRATE_PIPELINE_CYCLES, rtl.FIRE_PIPELINE_CYCLES, rtl.EVENT_OVERHEAD_CYCLES)
    assert c.timing == "cycles" and c.clock_hz == 40e6 and (c.mesh_x, c.mesh_y) == (4, 4)  # synthesized Fmax
    assert c.energy_pj["synaptic_op"].value == 8.85 and c.energy_pj["hop_ew"].value is None
    for name in ("loihi", "truenorth", "odin", "generic-45nm"):
        assert not presets()[name].is_placeholder


def test_geometry(chips):
    loihi = chips["loihi"]
    assert loihi.tiles_per_chip == 32
    assert [loihi.core_xy(c) for c in (0, 3, 4, 31, 32, 127)] == [(0, 0), (0, 0), (1, 0), (7, 0), (0, 1), (7, 3)]
    assert chips["truenorth"].core_xy(64) == (0, 1)
    with pytest.raises(ChipError, match=r"^core index must be an integer in \[0, 128\) for chip 'loihi', found 128$"):
        loihi.core_xy(128)


def test_preset_is_frozen_hashable_and_comparable(chips):
    with pytest.raises(dataclasses.FrozenInstanceError):
        chips["loihi"].neurons_per_core = 1
    again = load_preset("loihi")
    assert again == chips["loihi"] and hash(again) == hash(chips["loihi"])
    assert len({chips["loihi"], again, chips["odin"]}) == 2


# -- loading: names, paths, errors --------------------------------------------------------------------

def test_unknown_chip_name():
    with pytest.raises(ChipError, match=r"^unknown chip 'loihl'; choose one of \['generic-45nm', 'loihi', "
                                        r"'loihi-sanafe', 'neurosim-core', 'odin', 'truenorth'\] or give a path to a preset TOML$"):
        load_preset("loihl")
    assert issubclass(ChipError, NeurosimError)


def test_load_user_preset_by_path(tmp_path):
    path = _variant(tmp_path, _loihi_text(), "mychip.toml")
    for arg in (path, str(path)):
        chip = load_preset(arg)
        assert chip.name == "mychip" and chip.path == str(path)
        assert chip.energy_pj["synaptic_op"].value == 23.6


def test_missing_preset_file(tmp_path):
    with pytest.raises(ChipError, match=r"^preset file '.*nothere\.toml' does not exist; give an existing TOML path"):
        load_preset(tmp_path / "nothere.toml")


def test_unknown_event_in_toml(tmp_path):
    text = _loihi_text() + '\n[energy_pj.synaptic_opp]\nvalue = 1.0\nunit = "pJ"\nsource = "typo"\n'
    path = _variant(tmp_path, text, "bad.toml")
    with pytest.raises(ChipError, match=r"^preset file '.*bad\.toml': \[energy_pj\] key 'synaptic_opp' is not an "
                                        r"event; choose one of \['synaptic_op', 'neuron_update_active', .*'ac'\]$"):
        load_preset(path)


def test_missing_source_in_toml(tmp_path):
    text, n = re.subn(r'(\[energy_pj\.hop_ew\]\nvalue = 3\.0\nunit = "pJ"\n)source = "[^"]*"\n', r"\1", _loihi_text())
    assert n == 1
    with pytest.raises(ChipError, match=r"^preset file '.*variant\.toml': \[energy_pj\.hop_ew\] has no source, found "
                                        r"None; add source = \"<paper, table>\" or \"estimate: <how derived>\"$"):
        load_preset(_variant(tmp_path, text))


def test_empty_structural_source_in_toml(tmp_path):
    text, n = re.subn(r'(\[neurons_per_core\]\nvalue = 1024\nunit = "neurons"\n)source = "[^"]*"', r'\1source = " "',
                      _loihi_text())
    assert n == 1
    with pytest.raises(ChipError, match=r"^preset file '.*': \[neurons_per_core\] has no source, found ' '; "):
        load_preset(_variant(tmp_path, text))


def test_missing_event_in_toml(tmp_path):
    text, n = re.subn(r'\[energy_pj\.chip_hop\]\nvalue = "unknown"\nunit = "pJ"\nsource = "[^"]*"\n', "", _loihi_text())
    assert n == 1
    with pytest.raises(ChipError, match=r"^preset file '.*': \[energy_pj\] is missing \['chip_hop'\]; declare every "
                                        r"event \(value = \"unknown\" with a note when it is not published\)$"):
        load_preset(_variant(tmp_path, text))


def test_wrong_unit_in_toml(tmp_path):
    text = _loihi_text().replace('[energy_pj.synaptic_op]\nvalue = 23.6\nunit = "pJ"', '[energy_pj.synaptic_op]\nvalue = 23.6\nunit = "nJ"')
    with pytest.raises(ChipError, match=r"^preset file '.*': \[energy_pj\.synaptic_op\] unit must be 'pJ', found 'nJ'; "
                                        r"convert the value to 'pJ'$"):
        load_preset(_variant(tmp_path, text))


def test_required_structural_constant_cannot_be_unknown(tmp_path):
    text = _loihi_text().replace("[cores_per_chip]\nvalue = 128", '[cores_per_chip]\nvalue = "unknown"')
    with pytest.raises(ChipError, match=r"^preset file '.*': \[cores_per_chip\] must be known for every chip, "
                                        r"found 'unknown'; give its value$"):
        load_preset(_variant(tmp_path, text))


def test_bad_structural_values_in_toml(tmp_path):
    text = _loihi_text().replace("[neurons_per_core]\nvalue = 1024", "[neurons_per_core]\nvalue = 0")
    with pytest.raises(ChipError, match=r"^preset file '.*': chip 'variant' field 'neurons_per_core' must be an "
                                        r"integer in \[1, 2,147,483,647\], found 0$"):
        load_preset(_variant(tmp_path, text))
    text = _loihi_text().replace('[timing]\nvalue = "event_latency"', '[timing]\nvalue = "async"')
    with pytest.raises(ChipError, match=r"^preset file '.*': chip 'variant' field 'timing' must be one of "
                                        r"\('cycles', 'event_latency'\), found 'async'$"):
        load_preset(_variant(tmp_path, text))
    text = _loihi_text().replace("[mesh_y]\nvalue = 4", "[mesh_y]\nvalue = 3")
    with pytest.raises(ChipError, match=r"^preset file '.*': chip 'variant' mesh 8x3 has fewer routers than its 32 "
                                        r"tiles \(128 cores / 4 per tile\); enlarge mesh_x or mesh_y$"):
        load_preset(_variant(tmp_path, text))


def test_cycles_timing_needs_the_cycle_model(tmp_path):
    text = _loihi_text().replace('[timing]\nvalue = "event_latency"', '[timing]\nvalue = "cycles"')
    with pytest.raises(ChipError, match=r"^preset file '.*': chip 'variant' uses timing 'cycles', so 'clock_hz' must "
                                        r"be known, found None; give its value or use timing 'event_latency'$"):
        load_preset(_variant(tmp_path, text))


def test_unknown_top_level_key_and_bad_toml(tmp_path):
    with pytest.raises(ChipError, match=r"^preset file '.*': unknown key 'neurons'; expected one of \["):
        load_preset(_variant(tmp_path, "neurons = 3\n" + _loihi_text()))
    with pytest.raises(ChipError, match=r"^preset file '.*' is not valid TOML \(.*\); fix the syntax$"):
        load_preset(_variant(tmp_path, "[[[", "broken.toml"))


def test_programmatic_preset_needs_sources(chips):
    loihi = chips["loihi"]
    sources = dict(loihi.sources)
    del sources["weight_bits"]
    with pytest.raises(ChipError, match=r"^chip 'loihi' field 'weight_bits' has no source, found None; add the paper "
                                        r"and table or 'estimate: <how derived>'$"):
        dataclasses.replace(loihi, sources=sources)
    with pytest.raises(ChipError, match=r"^a constant's source must name the paper and table or say "
                                        r"'estimate: <how derived>', found ''; add a source$"):
        Constant(1.0, "pJ", "")


# -- the energy model ---------------------------------------------------------------------------------

def test_energy_breakdown_equals_hand_sum(chips):
    loihi = chips["loihi"]
    counts = {"synaptic_op": 1000, "neuron_update_active": 10, "neuron_update_inactive": 90, "spike_in_tile": 5,
              "hop_ew": 3, "hop_ns": 2}
    b = energy_breakdown(counts, loihi, time_s=0.0)
    hand = 1000 * 23.6 + 10 * 81 + 90 * 52 + 5 * 1.7 + 3 * 3.0 + 2 * 4.0
    assert b.total_pj == pytest.approx(hand) == pytest.approx(29115.5)
    assert b.per_event_pj == pytest.approx({"synaptic_op": 23600.0, "neuron_update_active": 810.0,
                                            "neuron_update_inactive": 4680.0, "spike_in_tile": 8.5, "hop_ew": 9.0,
                                            "hop_ns": 8.0})
    assert b.static_pj == 0.0 and b.unknown_events == () and not b.static_unknown and b.complete


def test_static_energy_is_power_times_time(chips):
    odin = chips["odin"]
    b = energy_breakdown({"synaptic_op": 256}, odin, time_s=1e-3)
    assert b.static_pj == pytest.approx(160.8e-6 * 1e-3 * 1e12)
    assert b.total_pj == pytest.approx(256 * 8.43 + 160.8e-6 * 1e-3 * 1e12)
    assert b.to_dict()["static_pj"] == b.static_pj


def test_unknown_constants_are_excluded_and_listed(chips):
    loihi = chips["loihi"]
    b = energy_breakdown({"synaptic_op": 10, "spike_out": 7, "chip_hop": 0, "sram_read_byte": 64}, loihi, time_s=1e-3)
    assert b.unknown_events == ("spike_out",)          # chip_hop has a zero count: not listed
    # SRAM bytes are priced 0 on Loihi: Table 2's per-operation energies include the memory access
    assert b.per_event_pj == {"synaptic_op": pytest.approx(236.0), "sram_read_byte": 0.0}
    assert b.total_pj == pytest.approx(236.0)
    assert b.static_unknown and b.static_pj == 0.0 and not b.complete
    core = chips["neurosim-core"]
    b = energy_breakdown({"synaptic_op": 10, "hop_ew": 3}, core, time_s=0.0)
    assert b.total_pj == pytest.approx(88.5) and b.unknown_events == ("hop_ew",)  # no router generated yet


def test_counts_as_event_aligned_sequence(chips):
    counts = np.zeros(len(EVENTS), dtype=np.int64)
    counts[EVENT_INDEX["synaptic_op"]] = 1000
    counts[EVENT_INDEX["hop_ns"]] = 2
    b = energy_breakdown(counts, chips["loihi"], 0.0)
    assert b.total_pj == pytest.approx(23608.0)
    with pytest.raises(EnergyError, match=r"^event counts given as a sequence must have one entry per event \(15, in "
                                          r"the order of neurosim\.targets\.neuromorphic\.events\.EVENTS\), found 3$"):
        energy_breakdown([1, 2, 3], chips["loihi"], 0.0)


def test_negative_count_is_an_error(chips):
    with pytest.raises(EnergyError, match=r"^count of 'synaptic_op' must be >= 0, found -1; counts are numbers of events$"):
        energy_breakdown({"synaptic_op": -1}, chips["loihi"], 0.0)
    assert issubclass(EnergyError, NeurosimError)


def test_other_count_and_time_errors(chips):
    loihi = chips["loihi"]
    with pytest.raises(EnergyError, match=r"^unknown event 'synops' in counts; choose one of \['synaptic_op', "):
        energy_breakdown({"synops": 1}, loihi, 0.0)
    with pytest.raises(EnergyError, match=r"^count of 'hop_ew' must be a finite number of events, found nan$"):
        energy_breakdown({"hop_ew": math.nan}, loihi, 0.0)
    with pytest.raises(EnergyError, match=r"^count of 'hop_ew' must be a finite number of events, found True$"):
        energy_breakdown({"hop_ew": True}, loihi, 0.0)
    with pytest.raises(EnergyError, match=r"^time_s must be a finite number of seconds >= 0, found -1\.0$"):
        energy_breakdown({}, loihi, -1.0)
    with pytest.raises(EnergyError, match=r"^chip must be a ChipPreset \(see neurosim\.targets\.neuromorphic\.config\.load_preset\), found str$"):
        energy_breakdown({}, "loihi", 0.0)


def test_latency_breakdown(chips):
    b = latency_breakdown({"synaptic_op": 10, "hop_ew": 2, "neuron_update_inactive": 4, "spike_out": 1}, chips["loihi"])
    assert b.total_ns == pytest.approx(10 * 3.5 + 2 * 4.1 + 4 * 5.3)
    assert b.unknown_events == ("spike_out",) and not b.complete


# -- neurosim chips -----------------------------------------------------------------------------------

def _run_chips(argv):
    parser = argparse.ArgumentParser()
    chips_command.configure(parser)
    return chips_command.run(parser.parse_args(argv))


def test_chips_lists_all_presets(capsys):
    assert _run_chips([]) == 0
    out = capsys.readouterr().out
    for name in NAMES:
        assert name in out
    assert "23.6 pJ" in out and "26 pJ" in out and "event_latency" in out and "4,096" in out


def test_chips_shows_every_constant_with_source(capsys):
    assert _run_chips(["loihi"]) == 0
    out = capsys.readouterr().out
    for key in ("neurons_per_core", "energy_pj.synaptic_op", "latency_ns.hop_ns", "barrier_ns", "static_power_w"):
        assert key in out
    assert "23.6" in out and "Table 2" in out and "unknown" in out


def test_chips_unknown_name_is_a_chip_error():
    with pytest.raises(ChipError, match=r"^unknown chip 'loihl'; "):
        _run_chips(["loihl"])


def test_chips_through_cli(capsys):
    from neurosim import cli
    from neurosim.targets.neuromorphic.cli import TARGET

    assert "chips" in TARGET.commands and not TARGET.nested  # a top-level command of the default target
    assert cli.main(["chips", "truenorth"]) == 0
    assert "4,096" in capsys.readouterr().out
    assert cli.main(["chips", "loihl"]) == 2
    assert "unknown chip 'loihl'" in capsys.readouterr().err


# -- docs ---------------------------------------------------------------------------------------------

def test_docs_list_every_preset_and_headline_number():
    text = DOCS.read_text()
    for name in NAMES:
        assert f"`{name}`" in text
    for number in ("23.6", "81", "52", "1.7", "3.0", "4.0", "26", "8.43", "12.7", "0.9", "4.6", "placeholder"):
        assert number in text


def test_docs_tables_match_the_preset_files(chips):
    text = DOCS.read_text()
    for name, chip in chips.items():
        assert chips_command.markdown_table(chip) in text, f"docs/chips.md is stale for {name}: regenerate its table"
