"""Fuzz: generated ``.npy`` input files through ``neurosim run`` and ``neurosim estimate``.

Every numpy dtype kind, shapes including 0 and huge declared sizes, garbage and hostile headers,
truncations, NaN/inf/huge values, valid arrays of the wrong shape, and a few valid arrays (exit 0).
The oracle is the file's construction: a case is valid exactly when it was built as a complete
``[T, 64]`` bool/int/real array of finite values within the input range."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from fuzzing import assert_clean_error, assert_ok, run_cli

ROOT = Path(__file__).resolve().parents[2]
MODEL = str(ROOT / "models" / "digits_mlp.nir")
DTYPES = ["bool", "int8", "uint8", "int16", "int32", "int64", "uint64", "float16", "float32", ">f8",
          "complex64", "complex128", "U4", "S4", "datetime64[s]", "timedelta64[ms]", "O", "V8",
          [("a", "<f4")], [("a", "<i2"), ("b", "<f8")], ("<f4", (2,))]
GOOD_KINDS = "biuf"


def _header(descr: str, fortran: str, shape: str, version: int = 1) -> bytes:
    h = "{'descr': %s, 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    h = h + " " * ((-len(h) - 11) % 64) + "\n"
    if version == 1:
        return b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h.encode("latin1")
    return b"\x93NUMPY\x02\x00" + len(h).to_bytes(4, "little") + h.encode("latin1")


@st.composite
def npy_case(draw):
    """(file bytes, valid?)"""
    kind = draw(st.sampled_from(["garbage", "header", "dtype", "shape", "values", "truncate", "valid"]))
    steps = draw(st.integers(1, 6))
    if kind == "garbage":
        prefix = draw(st.sampled_from([b"", b"\x93NUMPY", b"\x93NUMPY\x01\x00", b"PK\x03\x04", b"\x93NUMPY\x09\x00"]))
        return prefix + draw(st.binary(max_size=300)), False
    if kind == "header":
        descr = draw(st.sampled_from(["'<f4'", "'<f4' or 1", "__import__('os')", "[1, 2]", "'zz'", "{'a': 1}",
                                      "'<f4'" + "+1" * 50, "'" + "x" * 300 + "'", "(" * 200 + ")" * 200]))
        shape = draw(st.sampled_from(["(16, 64)", "(-1, 64)", "'a'", "(1.5, 64)", "None", "(2**70,)", "[16, 64]"]))
        fortran = draw(st.sampled_from(["False", "True", "'no'", "0"]))
        valid = descr == "'<f4'" and shape == "(16, 64)" and fortran in ("False", "True")
        return _header(descr, fortran, shape, draw(st.sampled_from([1, 2]))) + bytes(4096), valid
    if kind == "shape":
        shape = draw(st.sampled_from([(0, 64), (steps,), (steps, 63), (steps, 64, 1), (steps, 8, 8), (),
                                      (10**9,), (10**6, 10**6), (2**40, 64), (steps, 0)]))
        n = int(np.prod(shape, dtype=object)) if shape else 1
        body = bytes(min(n, 10**6) * 4)
        return _header("'<f4'", "False", repr(shape)) + body, False
    if kind == "dtype":
        dtype = np.dtype(draw(st.sampled_from(DTYPES)))
        if dtype.hasobject:  # numpy.save refuses to write it without pickle: a hand-made header
            return _header("'|O'", "False", repr((steps, 64))) + bytes(steps * 64 * 8), False
        x = np.zeros((steps, 64), dtype=dtype)
        return _npy_bytes(x), dtype.kind in GOOD_KINDS and dtype.fields is None and dtype.subdtype is None
    x = (np.random.default_rng(draw(st.integers(0, 2**16))).random((steps, 64)) < 0.3).astype(
        draw(st.sampled_from(["float32", "float64", "int64", "bool", "uint8"])))
    if kind == "values":
        x = x.astype(np.float64)
        bad = draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e300, -1e300, 2.0**31, -(2.0**40), 1e19]))
        x[draw(st.integers(0, steps - 1)), draw(st.integers(0, 63))] = bad
        return _npy_bytes(x), False
    data = _npy_bytes(x)
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))], False
    return data, True


def _npy_bytes(x: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, x, allow_pickle=False)
    return buf.getvalue()


def _check(case, command: str) -> None:
    data, valid = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.npy"
        path.write_bytes(data)
        if command == "run":
            argv = ["run", MODEL, "--input", path, "--out", Path(tmp) / "o.npz"]
        else:
            argv = ["estimate", MODEL, "--chip", "neurosim-core", "--input", path]
        outcome = run_cli(argv, kind="arrays", timeout_s=60)
        if valid:
            assert_ok(outcome, argv=argv)
        else:
            assert_clean_error(outcome, argv=argv)


FAST = settings(derandomize=True, max_examples=260, deadline=None, suppress_health_check=list(HealthCheck))
SLOW = settings(derandomize=True, max_examples=2600, deadline=None, suppress_health_check=list(HealthCheck))


@FAST
@given(npy_case(), st.sampled_from(["run", "estimate"]))
def test_npy_files(case, command):
    _check(case, command)


@pytest.mark.slow
@SLOW
@given(npy_case(), st.sampled_from(["run", "estimate"]))
def test_npy_files_slow(case, command):
    _check(case, command)
