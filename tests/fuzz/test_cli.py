"""Fuzz the command line: hypothesis over argv for every command and subcommand of
``neurosim.cli.build_parser()`` (introspected, so a new option is fuzzed without a test edit).

Each case is a command path, a random subset of its options with random values (a choice, or
hostile text: empty, huge, unicode, control characters, numbers out of range, NaN), random missing
or extra positionals. The verdict is the harness's: exit 0 only where the input may be valid (a
cheap command, ``--help``), else one clean error line; never an escaped exception, the internal-error
handler or a hang. Commands that do real work (simulate, synthesize, run cocotb, benchmark) always get
one *poison* -- an unknown option, a missing model or a bad output path -- that neurosim must refuse
before the work starts, so the suite stays fast and any case that does start the work is a finding
(it hangs past the alarm).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzzing import assert_clean_error, assert_ok, leaf_parsers, run_cli
from neurosim.cli import build_parser

MODELS = Path(__file__).resolve().parents[2] / "models"
PARSER = build_parser()


COMMANDS = dict(leaf_parsers(PARSER))
#: commands whose valid run does real work (seconds to minutes): always poisoned
EXPENSIVE = {("run",), ("estimate",), ("rtl",), ("verify",), ("synth",), ("bench",), ("sat", "study"),
             ("sat", "rtl"), ("sat", "verify"), ("sat", "synth"), ("sat", "bench")}
OUTPUT_FLAGS = {"--out", "--json", "--work", "--plot"}
SETTINGS = dict(derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))

HOSTILE = st.sampled_from([
    "", " ", "-", "--", "-1", "0", "1", "-5", "2", "3", "1e11", "1e309", "-1e309", "nan", "NaN", "inf", "-inf",
    "0.5", "1.5", "128.5", "2:8", "8:2", "0:4", "1:1", "dense", "2:", ":8", "a:b", "1,8,8", "0,8", "8x8", "1e9x1",
    "x" * 5000, "é/ü/中文", "\udcff\udcfe", "\t\n\r", "\x1b[31mred", "../../..", "/", ".", "~", "$HOME",
    "loihi", "truenorth", "neurosim-core", "sat-vcu1525", "resnet18", "neurons=1e10", "bogus=1", "neurons=-1",
    "a" * 300 + ".nir", "zero", "gt", "icarus", "ice40",
])
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
NUMBER = st.one_of(st.integers(-2**70, 2**70).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr))
VALUE = st.one_of(HOSTILE, TEXT, NUMBER)
BAD_MODELS = ["nope.nir", "nope.nsim", "nope.pt", "model.onnx", "", "x" * 5000 + ".nir", "\udcff.nir", "/",
              "no/such/dir/m.nsim"]


def _options(parser):
    # --debug prints the traceback on purpose (tests/test_cli.py pins it); every other option is fuzzed
    return [a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)
            and a.dest != "debug"]


def _positionals(parser):
    return [a for a in parser._actions if not a.option_strings and not isinstance(a, argparse._SubParsersAction)]


@st.composite
def _value_of(draw, action):
    if action.choices and draw(st.booleans()):
        return str(draw(st.sampled_from(sorted(map(str, action.choices)))))
    return draw(VALUE)


@st.composite
def _argv(draw, path, parser, tmp: Path):
    argv = list(path)
    expensive = path in EXPENSIVE
    for action in _positionals(parser):
        if draw(st.integers(0, 9)) == 0:
            continue  # a missing positional
        if action.dest == "model":
            pool = BAD_MODELS if expensive else BAD_MODELS + [str(MODELS / "digits_mlp.nir"), str(MODELS / "digits_mlp_nm24.nsim")]
            argv.append(draw(st.sampled_from(pool)))
        else:
            argv.append(draw(_value_of(action)))
    for action in draw(st.lists(st.sampled_from(_options(parser)), max_size=6)):
        flag = draw(st.sampled_from(action.option_strings))
        if action.nargs == 0:
            argv.append(flag)
        elif action.dest in {"input", "mapping", "report"} or flag in OUTPUT_FLAGS:
            argv += [flag, draw(st.one_of(VALUE, st.sampled_from([str(tmp / "afile"), str(tmp / "afile" / "sub"),
                                                                  str(tmp / "adir"), str(tmp / "new" / "x")])))]
        else:
            argv += [flag, draw(_value_of(action))]
    argv += draw(st.lists(VALUE, max_size=2 if draw(st.integers(0, 5)) == 0 else 0))  # extra positionals
    poisoned = False
    if expensive:
        poisoned = True
        outs = [a for a in _options(parser) if set(a.option_strings) & OUTPUT_FLAGS]
        kinds = ["unknown"] + (["output"] if outs else []) + (["model"] if any(
            a.dest == "model" for a in _positionals(parser)) else [])
        kind = draw(st.sampled_from(kinds))
        if kind == "unknown":
            argv.append(draw(st.sampled_from(["--no-such-option", "--outt", "--chip=", "-z"])))
        elif kind == "output":
            flag = draw(st.sampled_from(outs)).option_strings[0]
            argv += [flag, draw(st.sampled_from(["", "x" * 5000, str(tmp / "afile" / "sub"), "a/" * 2100]))]
        else:
            argv = [a for a in argv if not a.endswith((".nir", ".nsim"))]
            argv.insert(len(path), "no/such/model.nir")
            poisoned = "model"
    return argv, poisoned


def _verdict(argv, outcome, poisoned):
    helped = any(a in ("-h", "--help", "--version") for a in argv)
    if helped or (outcome.code == 0 and not poisoned):
        assert_ok(outcome, argv=argv) if outcome.code == 0 else assert_clean_error(outcome, argv=argv)
    else:
        assert_clean_error(outcome, argv=argv)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "afile").write_text("not a folder")
    (tmp / "adir").mkdir()
    return tmp


def _run_commands(files, data, n_cmd: int):
    path = data.draw(st.sampled_from(sorted(COMMANDS)), label="command")
    argv, poisoned = data.draw(_argv(path, COMMANDS[path], files), label="argv")
    outcome = run_cli(argv, kind="cli-argv", timeout_s=30)
    _verdict(argv, outcome, poisoned)


@settings(max_examples=450, **SETTINGS)
@given(data=st.data())
def test_every_command_survives_random_options(files, data):
    _run_commands(files, data, 450)


@settings(max_examples=120, **SETTINGS)
@given(argv=st.lists(st.one_of(VALUE, st.sampled_from(["info", "run", "estimate", "chips", "report", "sat", "rtl",
                                                         "verify", "synth", "bench", "study", "--limit",
                                                         "-h"])), max_size=5))
def test_random_words_survive(argv):
    expensive_words = {"run", "estimate", "rtl", "verify", "synth", "bench", "study", "sat"}
    if set(argv) & expensive_words:
        argv = [*argv, "--no-such-option"]  # never start real work on random words
    outcome = run_cli(argv, kind="cli-random", timeout_s=30)
    if outcome.code == 0:
        assert_ok(outcome, argv=argv)
    else:
        assert_clean_error(outcome, argv=argv)


@pytest.mark.slow
@settings(max_examples=4500, **SETTINGS)
@given(data=st.data())
def test_every_command_survives_random_options_slow(files, data):
    _run_commands(files, data, 4500)
