"""Issue 15's examples in the model-file area, one test each: the bad file gives one clear line.

Each test writes the bad file the issue describes (from the bundled models), runs ``neurosim info``
(or ``estimate``) in-process through the fuzz harness and pins the message after ``error: `` with an
anchored regex. The expected text is this file's own statement of the contract, not read back from
neurosim.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from fuzzing import assert_clean_error, assert_ok, run_cli

from neurosim import ir
from neurosim.errors import FormatError, IRError, LimitError, ShapeError

MODELS = Path(__file__).resolve().parents[2] / "models"
KIND = "examples-models"


def message(outcome, *mentions) -> str:
    """The one error line's text after ``error: `` (after the harness verdict)."""
    assert_clean_error(outcome, *mentions)
    line = next(ln for ln in outcome.stderr.splitlines() if "error:" in ln)
    return line.split("error: ", 1)[1]


def info(path, *extra) -> str:
    return message(run_cli(["info", str(path), *extra], kind=KIND), Path(path).name)


# -- .nsim helpers ----------------------------------------------------------------------------------

def nsim_parts(name="digits_mlp.nsim"):
    with zipfile.ZipFile(MODELS / name) as z:
        return json.loads(z.read("graph.json")), z.read("arrays.npz")


def write_nsim(path: Path, doc=None, arrays: bytes | None = None, raw_json: str | None = None) -> Path:
    base_doc, base_arrays = nsim_parts()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("graph.json", raw_json if raw_json is not None else json.dumps(doc if doc is not None else base_doc))
        z.writestr("arrays.npz", arrays if arrays is not None else base_arrays)
    path.write_bytes(buf.getvalue())
    return path


def npz_with(key: str, value: np.ndarray) -> bytes:
    """The bundled model's arrays.npz with array ``key`` replaced by ``value`` (np.savez: no pickle
    needed for the dtypes used here)."""
    _, blob = nsim_parts()
    arrays = dict(np.load(io.BytesIO(blob)))
    arrays[key] = value
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


# -- .nir helpers -----------------------------------------------------------------------------------

def edited_nir(tmp_path: Path, name: str, edit, model="digits_mlp.nir") -> Path:
    path = tmp_path / name
    shutil.copy(MODELS / model, path)
    with h5py.File(path, "r+") as f:
        edit(f)
    return path


def replace(f, key: str, **dataset):
    parent, _, leaf = key.rpartition("/")
    del f[key]
    f[parent].create_dataset(leaf, **dataset)


# -- code execution ---------------------------------------------------------------------------------

class _Payload:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_pt_payload_never_runs_without_trust_pickle(tmp_path):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "PWNED"
    pt = tmp_path / "payload.pt"
    torch.save(_Payload(str(marker)), pt)
    expected = (r"^torch file '.*payload\.pt' pickles a whole Python object \(a torch\.save\(model\) file; it names "
                r"[\w.]+\): unpickling it runs code from the file, so neurosim refuses it; if you trust "
                r"the file pass --trust-pickle \(trust_pickle=True\), else export the model to NIR or \.nsim where it "
                r"was trained$")
    for argv in (["info", pt, "--input-shape", "64"], ["estimate", pt, "--input-shape", "64", "--chip", "neurosim-core"]):
        assert re.match(expected, message(run_cli(argv, kind=KIND), "payload.pt"))
    from neurosim.frontends import load_model

    with pytest.raises(FormatError, match=expected):
        load_model(pt, input_shape=(64,))
    assert not marker.exists()
    # with the flag the payload runs (that is what trusting a pickle means), after a warning
    from neurosim.frontends.torch.load import TrustPickleWarning

    with pytest.warns(TrustPickleWarning, match=r"^unpickling torch file '.*payload\.pt' runs code from the file"):
        with pytest.raises(FormatError, match=r"^torch file '.*payload\.pt' holds a NoneType, not a torch\.nn\.Module;"):
            load_model(pt, input_shape=(64,), trust_pickle=True)
    assert marker.exists()


# -- .nsim ------------------------------------------------------------------------------------------

def test_nsim_zlib_corruption(tmp_path):
    data = bytearray((MODELS / "digits_mlp.nsim").read_bytes())
    with zipfile.ZipFile(MODELS / "digits_mlp.nsim") as z:
        info_ = z.getinfo("graph.json")
    start = info_.header_offset + 30 + len(info_.filename) + len(info_.extra)
    data[start + 10:start + 40] = bytes(range(30))  # garbage in the deflate stream
    bad = tmp_path / "zlib.nsim"
    bad.write_bytes(bytes(data))
    assert re.match(r"^.*zlib\.nsim: not a readable neurosim model \((zlib\.error|BadZipFile): .*\); the file is "
                    r"truncated or of another format -- re-save it with neurosim\.ir\.save$", info(bad))


def test_nsim_type_error_entry(tmp_path):
    doc, _ = nsim_parts()
    doc["nodes"][1]["fields"] = 5
    bad = write_nsim(tmp_path / "type.nsim", doc)
    assert re.match(r"^.*type\.nsim: graph\.json entry nodes\[1\]\.fields must be an object, found 5; the file is "
                    r"damaged or hand-edited -- re-save the model with neurosim \(neurosim\.ir\.save\)$", info(bad))


def test_nsim_recursion(tmp_path):
    deep = '{"format": "neurosim-ir", "version": 1, "nodes": ' + "[" * 100_000 + "]" * 100_000 + "}"
    bad = write_nsim(tmp_path / "deep.nsim", raw_json=deep)
    assert re.match(r"^.*deep\.nsim: graph\.json nests values too deeply or holds an oversized number; the file is "
                    r"damaged or hand-crafted -- re-save it with neurosim$", info(bad))


def test_nsim_duplicate_node_names(tmp_path):
    doc, _ = nsim_parts()
    doc["nodes"][3]["name"] = "1"
    bad = write_nsim(tmp_path / "dup.nsim", doc)
    assert re.match(r"^.*dup\.nsim: graph\.json nodes\[3\] repeats the node name '1' of nodes\[2\]; every node needs its "
                    r"own name -- the file is damaged or hand-edited$", info(bad))


def test_nsim_missing_field(tmp_path):
    doc, _ = nsim_parts()
    del doc["nodes"][2]["fields"]["bias"]
    bad = write_nsim(tmp_path / "missing.nsim", doc)
    assert re.match(r"^.*missing\.nsim: graph\.json entry nodes\[2\]\.fields lacks the key 'bias'; the file is damaged "
                    r"or hand-edited -- re-save the model with neurosim \(neurosim\.ir\.save\)$", info(bad))


def test_nsim_fractional_shape(tmp_path):
    doc, _ = nsim_parts()
    doc["nodes"][2]["fields"]["shape"] = {"$tuple": [128.5]}
    bad = write_nsim(tmp_path / "frac.nsim", doc)
    assert re.match(r"^.*frac\.nsim: graph\.json entry nodes\[2\]\.fields\.shape\.\$tuple\[0\] must be an integer "
                    r"\(\|n\| <= 2\*\*62\), found 128\.5;", info(bad))
    with pytest.raises(ShapeError, match=r"^LIF\.shape must be a non-empty tuple of positive integers, found 128\.5$"):
        ir.LIF(shape=128.5)


@pytest.mark.parametrize("dtype, value", [
    ("complex", np.ones((128, 64), complex)),
    ("str", np.full((128, 64), "0.5")),
    ("bytes", np.full((128, 64), b"0.5")),
    ("datetime", np.full((128, 64), np.datetime64("2020-01-01"))),
    ("timedelta", np.full((128, 64), np.timedelta64(5, "s"))),
])
def test_nsim_non_real_weights(tmp_path, dtype, value):
    bad = write_nsim(tmp_path / f"{dtype}.nsim", arrays=npz_with("0/weight", value))
    assert re.match(rf"^.*{dtype}\.nsim: arrays\.npz entry '0/weight\.npy' has dtype '{re.escape(str(value.dtype))}'; "
                    r"neurosim model arrays hold real integers or floats only", info(bad))


@pytest.mark.parametrize("value, what", [
    (np.ones((2, 3), complex) * 1j, r"complex values \(dtype complex128\)"),
    (np.full((2, 3), "1"), r"strings \(dtype <U1\)"),
    (np.full((2, 3), b"1"), r"bytes \(dtype \|S1\)"),
    (np.full((2, 3), np.datetime64("2020-01-01")), r"datetimes \(dtype datetime64\[D\]\)"),
    (np.full((2, 3), np.timedelta64(5, "s")), r"timedeltas \(dtype timedelta64\[s\]\)"),
    (np.ones((2, 3), bool), r"booleans \(dtype bool\)"),
])
def test_ir_node_refuses_non_real_weights(value, what):
    """The constructor refuses them (no 'imaginary part discarded' warning path, no coercion)."""
    with pytest.raises(IRError, match=rf"^Dense\.weight must hold real numbers, found {what} .*; store it as a float "
                                      r"or integer array$"):
        ir.Dense(weight=value)


# -- .nir -------------------------------------------------------------------------------------------

def test_nir_directory(tmp_path):
    d = tmp_path / "x.nir"
    d.mkdir()
    assert re.match(r"^model file '.*x\.nir' is a directory; give the path of a model file$", info(d))
    from neurosim.frontends.nir import read_nir

    with pytest.raises(FormatError, match=r"^NIR file '.*x\.nir' is a directory; give the path of a \.nir file"):
        read_nir(d)


def _meta_node(f, text):
    replace(f, "node/nodes/0/metadata/neurosim/node", data=text)


@pytest.mark.parametrize("case, text, expected", [
    ("json", "{not json", r"the neurosim metadata entry 'node' is not valid JSON \(Expecting property name enclosed in "
                          r"double quotes at char 1\)"),
    ("key", json.dumps({"fields": {}, "dtypes": {}}),
     r"the neurosim metadata entry 'node' must be an object with keys 'type', 'fields' and 'dtypes', found "
     r"\['dtypes', 'fields'\]"),
    ("type", "[1, 2]", r"the neurosim metadata entry 'node' must be an object with keys 'type', 'fields' and 'dtypes', "
                       r"found \[1, 2\]"),
    ("field", json.dumps({"type": "Dense", "fields": {"weight": 3, "bias": None, "weight_format": None, "nm": None}}),
     r"neurosim metadata entry fields\.weight must be an array reference \{\"\$array\": KEY\}, found 3"),
])
def test_nir_damaged_metadata(tmp_path, case, text, expected):
    bad = edited_nir(tmp_path, f"meta_{case}.nir", lambda f: _meta_node(f, text))
    assert re.match(rf"^.*meta_{case}\.nir: node '0': {expected}; the file is damaged", info(bad))


def test_nir_metadata_not_a_group(tmp_path):
    """nir reads a dataset where neurosim writes a group: the entry is a string, not a dict (AttributeError before)."""
    def edit(f):
        del f["node/nodes/0/metadata/neurosim"]
        f["node/nodes/0/metadata"].create_dataset("neurosim", data="oops")
    bad = edited_nir(tmp_path, "meta_attr.nir", edit)
    assert re.match(r"^.*meta_attr\.nir: node '0': the neurosim metadata must hold the entry 'node' \(the IR node as "
                    r"JSON\); the file is damaged -- re-export it from neurosim, or read the NIR data alone with "
                    r"--source nir$", info(bad))


def test_nir_params_as_strings(tmp_path):
    bad = edited_nir(tmp_path, "strings.nir", lambda f: replace(f, "node/nodes/1/tau", data=np.array([b"0.01"] * 128)))
    assert re.match(r"^.*strings\.nir: node '1' \(NIR LIF\): parameter 'tau' must be a real number array, found bytes "
                    r"array\(shape=\(128,\), dtype=\|S4\); write it as a float array$",
                    info(bad, "--source", "nir", "--dt", "1e-3"))


def test_nir_complex_params(tmp_path):
    bad = edited_nir(tmp_path, "complex.nir",
                     lambda f: replace(f, "node/nodes/0/weight", data=np.ones((128, 64), complex)))
    assert re.match(r"^.*complex\.nir: node '0' \(NIR Affine\): parameter 'weight' must be a real number array, found "
                    r"complex values", info(bad))


@pytest.mark.parametrize("neurons", [10**9, 10**12])
def test_nir_memory_bomb_input_shape(tmp_path, neurons):
    bad = edited_nir(tmp_path, "bomb_in.nir", lambda f: replace(f, "node/nodes/input/shape", data=np.array([neurons])))
    assert re.match(rf"^NIR file '.*bomb_in\.nir': dataset '/node/nodes/input/shape' needs {neurons:,} neurons, above "
                    r"neurosim's limit of 200,000,000 .*; if the size is real, raise it with --limit neurons=",
                    info(bad))


@pytest.mark.parametrize("neurons", [10**9, 10**12])
def test_nir_memory_bomb_parameter(tmp_path, neurons):
    """An h5py dataset declared with a shape only (no data written): refused from its header."""
    bad = edited_nir(tmp_path, "bomb_tau.nir", lambda f: replace(f, "node/nodes/1/tau", shape=(neurons,), dtype="f8"))
    assert re.match(rf"^NIR file '.*bomb_tau\.nir': dataset '/node/nodes/1/tau' needs {neurons:,} (neurons|elements), "
                    r"above neurosim's limit", info(bad))


def test_nir_memory_bomb_below_the_element_limit(tmp_path):
    """1e9 float64 (8 GB) is within the default element limit: a dataset that declares it without
    storing it is refused from its header (h5py would fill it on read)."""
    key = "node/nodes/0/metadata/neurosim/arrays/weight"
    bad = edited_nir(tmp_path, "bomb_meta.nir", lambda f: replace(f, key, shape=(10**9,), dtype="f8"))
    assert re.match(r"^NIR file '.*bomb_meta\.nir': dataset '/node/nodes/0/metadata/neurosim/arrays/weight' declares "
                    r"1,000,000,000 elements \(7\.45 GiB\) but stores only 0 bytes; the file is hand-crafted \(a shape "
                    r"without data, or a compression bomb\) -- neurosim refuses to expand it$", info(bad))


def test_nir_nan_weights_not_restored_from_metadata(tmp_path):
    """Another tool set every weight to NaN: the embedded metadata no longer describes the file."""
    def edit(f):
        f["node/nodes/0/weight"][...] = np.nan
    bad = edited_nir(tmp_path, "nan.nir", edit)
    out = run_cli(["estimate", bad, "--chip", "neurosim-core"], kind=KIND)
    assert re.match(r"^.*nan\.nir: node '0': the neurosim metadata disagrees with the file's NIR parameter 'weight' "
                    r"\(another tool changed the NIR data\?\), so neurosim does not trust it -- read the NIR data alone "
                    r"with --source nir, or re-export the model from neurosim$", message(out, "nan.nir"))
    assert "nJ" not in out.stdout
    assert re.match(r"^.*nan\.nir: node '0' \(NIR Affine\): parameter 'weight' contains NaN;",
                    info(bad, "--source", "nir"))


def test_nir_valid_round_trip_still_exact(tmp_path):
    """The check does not refuse neurosim's own files (every bundled .nir restores from its metadata)."""
    for name in ("digits_mlp.nir", "digits_conv.nir", "digits_mlp_nm24.nir"):
        assert_ok(run_cli(["info", MODELS / name], kind=KIND))


def test_limit_error_names_node_for_ir_shape():
    with pytest.raises(LimitError, match=r"^node 'pop': LIF\.shape \(1000000000000,\) needs 1,000,000,000,000 neurons"):
        with ir.node_context("pop"):
            ir.LIF(shape=(10**12,))


def test_huge_values_are_truncated():
    with pytest.raises(ShapeError) as exc:
        ir.LIF(shape=(10**300,))
    assert len(str(exc.value)) < 200 and re.match(r"^LIF\.shape must be a non-empty tuple of positive integers, found "
                                                  r"\(1000+\.\.\.$", str(exc.value))

