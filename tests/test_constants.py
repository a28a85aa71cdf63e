"""The shared loader of ``{value, unit, source, note}`` tables (neurosim.constants), as both targets use it.

Each check is exercised through the base class and through each target's subclass, so an error reaches
the user as the target's own exception (ChipError for presets, SATConfigError for accelerator configs).
"""

from __future__ import annotations

import pytest

from neurosim.constants import Constant, read_toml
from neurosim.errors import ChipError, NeurosimError, SATConfigError
from neurosim.targets.neuromorphic.config import Constant as ChipConstant
from neurosim.targets.sat.config import Constant as SATConstant
from neurosim.targets.sat.config import load_config

TARGETS = [(Constant, NeurosimError), (ChipConstant, ChipError), (SATConstant, SATConfigError)]
ENTRY = {"value": 23.6, "unit": "pJ", "source": "Davies et al., IEEE Micro 38(1) 2018, Table 2"}


def _parse(cls, entry, **kw):
    return cls.from_table("f.toml", "energy_pj.synaptic_op", entry, unit="pJ", **kw)


@pytest.mark.parametrize("cls, error", TARGETS)
def test_entry_loads_with_its_source(cls, error):
    const = _parse(cls, {**ENTRY, "note": "at 0.75 V"})
    assert type(const) is cls
    assert (const.value, const.unit, const.source, const.note) == (23.6, "pJ", ENTRY["source"], "at 0.75 V")
    assert const.known and const.display() == "23.6"


@pytest.mark.parametrize("cls, error", TARGETS)
def test_missing_source(cls, error):
    with pytest.raises(error, match=r"^f\.toml: \[energy_pj\.synaptic_op\] has no source, found None; add source = "
                                    r"\"<paper, table>\" or \"estimate: <how derived>\"$"):
        _parse(cls, {"value": 1.0, "unit": "pJ"})
    with pytest.raises(error, match=r"^f\.toml: \[energy_pj\.synaptic_op\] has no source, found ' '; "):
        _parse(cls, {**ENTRY, "source": " "})


@pytest.mark.parametrize("cls, error", TARGETS)
def test_bad_or_missing_unit(cls, error):
    with pytest.raises(error, match=r"^f\.toml: \[energy_pj\.synaptic_op\] unit must be 'pJ', found 'nJ'; convert the "
                                    r"value to 'pJ'$"):
        _parse(cls, {**ENTRY, "unit": "nJ"})
    with pytest.raises(error, match=r"^f\.toml: \[energy_pj\.synaptic_op\] has no unit, found None; add unit = 'pJ'$"):
        _parse(cls, {"value": 1.0, "source": "s"})
    # unit=None accepts any unit
    assert cls.from_table("f.toml", "published.v", {**ENTRY, "unit": "V"}).unit == "V"


@pytest.mark.parametrize("cls, error", TARGETS)
def test_not_a_table_and_unknown_keys(cls, error):
    with pytest.raises(error, match=r"^f\.toml: \[energy_pj\.synaptic_op\] must be a table with value, unit and "
                                    r"source, found 23\.6$"):
        _parse(cls, 23.6)
    with pytest.raises(error, match=r"^f\.toml: missing \[energy_pj\.synaptic_op\]; declare it with value, unit and "
                                    r"source \(value = \"unknown\" when it is not published\)$"):
        _parse(cls, None)
    with pytest.raises(error, match=r"^f\.toml: \[energy_pj\.synaptic_op\] has unknown key\(s\) \['citation'\]; "
                                    r"expected \['note', 'source', 'unit', 'value'\]$"):
        _parse(cls, {**ENTRY, "citation": "x"})
    with pytest.raises(error, match=r"^f\.toml: \[energy_pj\.synaptic_op\] note must be a string, found 3$"):
        _parse(cls, {**ENTRY, "note": 3})
    with pytest.raises(error, match=r"^f\.toml: \[energy_pj\.synaptic_op\] has no value; give a number, or "
                                    r"\"unknown\" when it is not published$"):
        _parse(cls, {"unit": "pJ", "source": "s"})


@pytest.mark.parametrize("cls, error", TARGETS)
def test_value_kinds_and_sentinels(cls, error):
    with pytest.raises(error, match=r"^f\.toml: \[rows\] value must be an integer, \"unknown\" or \"none\", "
                                    r"found 1\.5$"):
        cls.from_table("f.toml", "rows", {"value": 1.5, "unit": "PEs", "source": "s"}, unit="PEs", kind="int")
    with pytest.raises(error, match=r"^f\.toml: \[energy_pj\.synaptic_op\] value must be a finite number, "
                                    r"\"unknown\" or \"none\", found True$"):
        _parse(cls, {**ENTRY, "value": True})
    with pytest.raises(error, match=r"^f\.toml: \[timing\] value must be one of \('cycles', 'event_latency'\), "):
        cls.from_table("f.toml", "timing", {"value": 3, "source": "s"}, kind="choice",
                       choices=("cycles", "event_latency"))
    with pytest.raises(error, match=r"^f\.toml: \[rows\] must be known for every accelerator, found 'unknown'; "
                                    r"give its value$"):
        cls.from_table("f.toml", "rows", {"value": "unknown", "unit": "PEs", "source": "s"}, unit="PEs", kind="int",
                       must_know=True, owner="accelerator")
    unknown = _parse(cls, {**ENTRY, "value": "unknown"})
    assert unknown.value is None and not unknown.not_applicable and unknown.display() == "unknown"
    none = _parse(cls, {**ENTRY, "value": "none", "note": "no clock"})
    assert none.value is None and none.note == "not applicable; no clock" and none.display() == "n/a"


@pytest.mark.parametrize("cls, error", TARGETS)
def test_constant_checks_raise_the_target_error(cls, error):
    with pytest.raises(error, match=r"^a constant's source must name the paper and table or say "
                                    r"'estimate: <how derived>', found ''; add a source$"):
        cls(1.0, "pJ", "")
    with pytest.raises(error, match=r"^a constant's value must be a finite number or None \(unknown\), found nan$"):
        cls(float("nan"), "pJ", "s")
    with pytest.raises(error, match=r"^a constant's unit must be a string such as 'pJ', found 3$"):
        cls(1.0, 3, "s")


@pytest.mark.parametrize("error", [ChipError, SATConfigError])
def test_read_toml_errors(tmp_path, error):
    good = tmp_path / "good.toml"
    good.write_text('[rows]\nvalue = 1\nunit = "PEs"\nsource = "s"\n', encoding="utf-8")
    assert read_toml(good, "config 'good'", error) == {"rows": {"value": 1, "unit": "PEs", "source": "s"}}
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('name = "café"\n'.encode("latin-1"))
    with pytest.raises(error, match=r"^config 'x' is not valid TOML \('utf-8' codec can't decode byte 0xe9 in "
                                    r"position 11: invalid continuation byte\); fix the file$"):
        read_toml(latin1, "config 'x'", error, fix="fix the file")
    broken = tmp_path / "broken.toml"
    broken.write_text("[[[", encoding="utf-8")
    with pytest.raises(error, match=r"^config 'x' is not valid TOML \(.*\); fix the syntax$"):
        read_toml(broken, "config 'x'", error)
    with pytest.raises(error, match=r"^config 'x' cannot be read \(.+\); check the path and permissions$"):
        read_toml(tmp_path, "config 'x'", error)


def test_preset_and_config_files_use_the_shared_loader(tmp_path):
    from neurosim.targets.neuromorphic.config import load_preset

    bad = tmp_path / "chip.toml"
    bad.write_bytes(b"name = \"\xff\"\n")
    with pytest.raises(ChipError, match=r"^preset file '.*chip\.toml' is not valid TOML \('utf-8' codec can't decode "
                                        r"byte 0xff in position 8: invalid start byte\); fix the syntax$"):
        load_preset(bad)
    cfg = load_config()
    assert all(type(c) is SATConstant for c in cfg.constants.values())
    assert cfg.constants["rows"].unit == "PEs" and cfg.constants["clock_hz"].unit == "Hz"
