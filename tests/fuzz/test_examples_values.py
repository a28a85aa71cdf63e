"""One test per example of issue 15 in the values area (arrays, command-line values, chip presets,
SAT configs, resource limits): each bad input gives one clear line, pinned by an anchored regex on
the text after "error: " (the harness asserts no traceback, no internal error, exit != 0)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from fuzzing import assert_clean_error, run_cli

ROOT = Path(__file__).resolve().parents[2]
MODEL = str(ROOT / "models" / "digits_mlp.nir")
SAMPLE = np.load(ROOT / "models" / "digits_sample.npy")  # [16, 64]
PRESET = (ROOT / "neurosim/targets/neuromorphic/presets/neurosim-core.toml").read_text(encoding="utf-8")
SAT = (ROOT / "neurosim/targets/sat/configs/sat-vcu1525.toml").read_text(encoding="utf-8")
FIX = r"save it with numpy\.save\(path, x\) as \[T, \*input_shape\]$"
DTYPE = (r"; inputs must be bool, integer or real float numbers \(spike counts or currents\): convert it, "
         r"e\.g\. x\.astype\(numpy\.float32\)$")


def _message(argv, pattern, *mentions):
    outcome = run_cli(argv, kind="examples-values")
    assert_clean_error(outcome, *mentions, argv=argv)
    line = next(ln for ln in outcome.stderr.splitlines() if "error: " in ln)
    text = line.split("error: ", 1)[1]
    assert re.match(pattern, text), f"{text!r} does not match {pattern!r}"
    return text


def _run(path):
    return ["run", MODEL, "--input", str(path), "--out", str(Path(path).with_suffix(".out.npz"))]


def _estimate(path):
    return ["estimate", MODEL, "--chip", "neurosim-core", "--input", str(path)]


def _npy_header(shape: str, descr: str = "'<f4'") -> bytes:
    h = ("{'descr': %s, 'fortran_order': False, 'shape': %s, }" % (descr, shape)).ljust(117) + "\n"
    return b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h.encode()


# -- SAT configs -------------------------------------------------------------------------------------

def test_sat_config_string_where_a_number_is_expected(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(re.sub(r"(\[rows\]\nvalue = )\d+", r'\1"32"', SAT), encoding="utf-8")
    _message(["sat", "resnet18", "--config", p], rf"^{re.escape(str(p))}: \[rows\] value must be an integer, "
             r"\"unknown\" or \"none\", found '32'$")


def test_sat_config_unknown_dataflow_key(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(SAT.replace("[dataflow]\n", "[dataflow]\ninterleve = false\n"), encoding="utf-8")
    _message(["sat", "resnet18", "--config", p], rf"^{re.escape(str(p))}: \[dataflow\] has unknown key "
             r"'interleve'; known: interleave, pregenerate, offline_schedule$")


def test_sat_config_huge_value(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(re.sub(r"(\[rows\]\nvalue = )\d+", r"\g<1>100000000000", SAT), encoding="utf-8")
    _message(["sat", "resnet18", "--config", p], rf"^{re.escape(str(p))}: accelerator 'sat-vcu1525': rows must be at "
             r"most 65,536 \(PEs\), found 100000000000; fix the config file$")


def test_sat_batch_limit():
    _message(["sat", "resnet18", "--batch", "100000000"],
             r"^--batch 100000000 needs 100,000,000 batch, above neurosim's limit of 65,536 \(training batch of one "
             r"SAT study\); if the size is real, raise it with --limit batch=1e\+08 \(or NEUROSIM_LIMITS\), else the "
             r"file or value is wrong$")


# -- chip presets ------------------------------------------------------------------------------------

def test_non_utf8_preset(tmp_path):
    p = tmp_path / "p.toml"
    p.write_bytes(PRESET.encode() + b"\n# \xff\xfe\n")
    _message(["estimate", MODEL, "--chip", p], rf"^preset file {re.escape(repr(str(p)))} is not valid TOML "
             r"\('utf-8' codec can't decode byte 0xff in position \d+: invalid start byte\); fix the syntax$")


def test_preset_energy_1e308_is_refused_not_inf_joules(tmp_path):
    p = tmp_path / "p.toml"
    p.write_text(re.sub(r"(\[energy_pj\.synaptic_op\]\nvalue = )[^\n]+", r"\g<1>1e308", PRESET), encoding="utf-8")
    _message(["estimate", MODEL, "--chip", p], rf"^preset file {re.escape(repr(str(p)))}: chip 'p' "
             r"energy_pj\['synaptic_op'\] must be a finite number in \[0, 1e\+09\] pJ or unknown, found 1e\+308; "
             r"give the constant in pJ$")


# -- input arrays ------------------------------------------------------------------------------------

def test_empty_npy(tmp_path):
    p = tmp_path / "x.npy"
    p.write_bytes(b"")
    _message(_run(p), rf"^input array {re.escape(repr(str(p)))} is empty \(0 bytes\); {FIX}")


def test_truncated_npy(tmp_path):
    p = tmp_path / "x.npy"
    np.save(p, SAMPLE)
    p.write_bytes(p.read_bytes()[:200])
    _message(_estimate(p), rf"^input array {re.escape(repr(str(p)))} is truncated: its header declares shape "
             rf"\(16, 64\) of 'float32' \(4,096 bytes of data\) but the file holds 72; {FIX}")


@pytest.mark.parametrize("dtype, shown", [
    ([("a", "<f4")], "[('a', '<f4')]"), ("U3", "<U3"), ("S3", "|S3"), ("datetime64[s]", "datetime64[s]"),
    ("timedelta64[s]", "timedelta64[s]"), ("complex128", "complex128"),
])
def test_input_dtypes_refused(tmp_path, dtype, shown):
    p = tmp_path / "x.npy"
    np.save(p, np.zeros(SAMPLE.shape, dtype=dtype))
    for argv in (_run(p), _estimate(p)):
        _message(argv, rf"^input array {re.escape(repr(str(p)))} has dtype {re.escape(repr(shown))}{DTYPE}")


def test_zero_timesteps(tmp_path):
    p = tmp_path / "x.npy"
    np.save(p, np.zeros((0, 64), np.float32))
    for argv in (_run(p), _estimate(p)):
        _message(argv, r"^input 'input' has 0 timesteps \(shape \(0, 64\)\); give at least one step along the "
                 r"first axis$")


@pytest.mark.parametrize("value, shown", [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")])
def test_run_refuses_non_finite_inputs(tmp_path, value, shown):
    x = SAMPLE.astype(np.float64)
    x[3, 5] = value
    p = tmp_path / "x.npy"
    np.save(p, x)
    for argv in (_run(p), _estimate(p)):
        _message(argv, rf"^input 'input' holds {shown} at \[3, 5\]; inputs must be finite numbers: fix or drop the "
                 r"non-finite values$")


def test_huge_input_value_is_named_in_short_form(tmp_path):
    x = SAMPLE.astype(np.float64)
    x[0, 0] = 1e300
    p = tmp_path / "x.npy"
    np.save(p, x)
    for argv in (_run(p), _estimate(p)):
        text = _message(argv, r"^input 'input' holds 1e\+300 at \[0, 0\], beyond the simulators' input range of "
                        r"\+-2,147,483,647 \(an int32 input code\); scale the input down to spike counts or currents "
                        r"within that range$")
        assert "acc_width" not in text


@pytest.mark.parametrize("shape, count", [("(1000000000,)", "1,000,000,000"), ("(1000000, 1000000)", "1,000,000,000,000")])
def test_npy_header_declaring_huge_element_counts(tmp_path, shape, count):
    p = tmp_path / "x.npy"
    p.write_bytes(_npy_header(shape))
    if count == "1,000,000,000":  # below the elements limit: the size check against the file refuses it
        _message(_run(p), rf"^input array {re.escape(repr(str(p)))} is truncated: its header declares shape "
                 rf"\(1000000000,\) of 'float32' \(4,000,000,000 bytes of data\) but the file holds 0; {FIX}")
    else:
        _message(_run(p), rf"^input array {re.escape(repr(str(p)))} \(shape \(1000000, 1000000\)\) needs {count} "
                 r"elements, above neurosim's limit of 2,000,000,000 \(elements of one array read from a file or "
                 r"allocated for a model \(weights, inputs\)\); if the size is real, raise it with --limit "
                 r"elements=1e\+12 \(or NEUROSIM_LIMITS\), else the file or value is wrong$")


def test_npy_header_with_code(tmp_path):
    p = tmp_path / "x.npy"
    h = "{'descr': '<f4' or __import__('os').system('touch PWNED'), 'fortran_order': False, 'shape': (16, 64)}"
    h = h.ljust(117) + "\n"
    p.write_bytes(b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h.encode())
    text = _message(_run(p), rf"^input array {re.escape(repr(str(p)))} is not a numpy \.npy file: its header is "
                    rf"malformed or truncated \(it must be a dict of 'descr', 'fortran_order' and 'shape'\); {FIX}")
    assert "ast." not in text and not (Path.cwd() / "PWNED").exists()


# -- command-line values -------------------------------------------------------------------------------

def test_negative_seed_is_a_valid_seed():
    argv = ["estimate", MODEL, "--chip", "neurosim-core", "--seed", "-5", "--timesteps", "4"]
    outcome = run_cli(argv, kind="examples-values")
    assert outcome.escaped is None and outcome.code == 0, outcome.stderr
    from neurosim.commands import numpy_seed
    from neurosim.targets.neuromorphic.estimate import poisson_input

    a = poisson_input((8,), 4, 0.5, -5)
    assert np.array_equal(a, poisson_input((8,), 4, 0.5, 2**64 - 5)) and numpy_seed(-5) == 2**64 - 5


@pytest.mark.parametrize("text", ["1e11", "100000000000"])
def test_timesteps_1e11(text):
    _message(["estimate", MODEL, "--chip", "neurosim-core", "--timesteps", text],
             r"^--timesteps 100000000000 needs 100,000,000,000 timesteps, above neurosim's limit of 10,000,000 "
             r"\(timesteps of one run\); if the size is real, raise it with --limit timesteps=1e\+11 \(or "
             r"NEUROSIM_LIMITS\), else the file or value is wrong$")


def test_python_api_refuses_str_bytes_datetime_and_complex_inputs():
    from neurosim.errors import SimulationError
    from neurosim.frontends import load_model
    from neurosim.targets.neuromorphic.model.reference import run

    g = load_model(MODEL)
    for bad, shown in [(SAMPLE.astype(str), "<U"), (SAMPLE.astype(bytes), "|S"),
                       (SAMPLE.astype("datetime64[ms]"), "datetime64"), (SAMPLE + 1j, "complex"),
                       (SAMPLE.astype(object), "object")]:
        with pytest.raises(SimulationError, match=rf"^input 'input' has dtype '{re.escape(shown)}[^']*'{DTYPE}"):
            run(g, bad)
