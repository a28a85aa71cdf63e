"""Resource limits (neurosim.limits): parsing, precedence and the messages."""

import pytest

from neurosim import limits
from neurosim.cli import main
from neurosim.errors import LimitError


def test_check_passes_at_the_limit_and_refuses_above():
    limit = limits.current("neurons")
    limits.check("neurons", limit, "model 'm'")
    with pytest.raises(LimitError, match=r"^model 'm' needs 200,000,001 neurons, above neurosim's limit of "
                                         r"200,000,000 \(neurons in one model .*\); if the size is real, raise it "
                                         r"with --limit neurons=2e\+08 \(or NEUROSIM_LIMITS\), else the file or "
                                         r"value is wrong$"):
        limits.check("neurons", limit + 1, "model 'm'")


@pytest.mark.parametrize("value, shown", [(10**20, r"~1e\+20"), (10**400, r"~10\*\*400"), (2**100_000, r"~2\*\*100000")],
                         ids=["1e20", "1e400", "2**100000"])
def test_huge_values_are_shown_short(value, shown):
    with pytest.raises(LimitError, match=rf"^x needs {shown} elements, above") as info:
        limits.check("elements", value, "x")
    assert len(str(info.value)) < 400


def test_overrides_beat_the_environment_which_beats_the_default(monkeypatch):
    monkeypatch.setenv("NEUROSIM_LIMITS", "timesteps=50, batch=7")
    assert limits.current("timesteps") == 50 and limits.current("batch") == 7
    with limits.overridden(limits.parse(["timesteps=1e3"])):
        assert limits.current("timesteps") == 1000
    assert limits.current("timesteps") == 50
    monkeypatch.delenv("NEUROSIM_LIMITS")
    assert limits.current("timesteps") == limits.DEFAULTS["timesteps"][0]


@pytest.mark.parametrize("item, message", [
    ("neurons", r"^--limit: expected NAME=VALUE, found 'neurons'; names: \['batch', "),
    ("foo=3", r"^--limit: unknown limit 'foo'; known limits: \['batch', "),
    ("neurons=many", r"^--limit: limit 'neurons' must be a number like 1e9, found 'many'$"),
    ("neurons=nan", r"^--limit: limit 'neurons' must be a finite number >= 1, found 'nan'$"),
    ("neurons=0", r"^--limit: limit 'neurons' must be a finite number >= 1, found '0'$"),
])
def test_bad_limit_items(item, message):
    with pytest.raises(LimitError, match=message):
        limits.parse([item])


def test_bad_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("NEUROSIM_LIMITS", "neurons=-1")
    with pytest.raises(LimitError, match=r"^NEUROSIM_LIMITS: limit 'neurons' must be a finite number >= 1"):
        limits.current("neurons")


def test_the_cli_flag_lowers_a_limit_for_one_command(capsys):
    assert main(["info", "models/digits_mlp.nir", "--limit", "neurons=10"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurosim info: error: ") and "neurons, above neurosim's limit of 10 " in err
    assert main(["info", "models/digits_mlp.nir"]) == 0
