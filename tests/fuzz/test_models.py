"""Fuzz suite for model files (issue 15): ``.nsim`` archives, ``.nir`` files and torch files, mutated
at random by seeded hypothesis strategies and run through ``neurosim info`` (a subset through
``estimate``) in-process.

Verdicts (tests/fuzzing.py): a mutation that is invalid by construction (a value of the wrong JSON
type, an extra key, a too-large integer, NaN, deep nesting, a duplicate name, a truncated archive, a
non-real dtype, a declared size above the limits, an edited NIR parameter under intact neurosim
metadata, any torch pickle that is not a module) must give one clean error line. A mutation that may
leave a valid file (a byte flip in a zip header, a deleted list entry that a default restores) must
give a clean error **or** exit 0 with a graph equal to the original model's (the independent oracle:
the unmutated file's graph) -- exit 0 with a different model is a silent wrong answer. No case may
reach the internal-error handler, hang, or let a pickle payload create its marker file.

The default run covers > 700 cases (see ``EXAMPLES``); ``-m slow`` runs ten times as many.
"""

from __future__ import annotations

import copy
import io
import itertools
import json
import math
import shutil
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from fuzzing import assert_clean_error, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurosim.frontends import load_model

MODELS = Path(__file__).resolve().parents[2] / "models"
KIND = "models"
_counter = itertools.count()

#: examples per strategy in the default run (the slow run multiplies by 10)
EXAMPLES = {"nsim_json": 330, "nsim_bytes": 120, "nsim_arrays": 100, "nir": 90, "nir_bytes": 40, "torch": 60,
            "estimate": 20}


def _settings(name: str, slow: bool = False):
    return settings(derandomize=True, max_examples=EXAMPLES[name] * (10 if slow else 1), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz_models")


def fresh(work: Path, suffix: str) -> Path:
    return work / f"case{next(_counter)}{suffix}"


_ORIGINALS: dict[str, object] = {}


def original(name: str):
    if name not in _ORIGINALS:
        _ORIGINALS[name] = load_model(MODELS / name)
    return _ORIGINALS[name]


def verdict(path: Path, model: str, *, must_fail: bool, argv_extra=(), command="info") -> None:
    argv = [command, str(path), *argv_extra]
    if command == "estimate":
        argv += ["--chip", "neurosim-core"]
    out = run_cli(argv, kind=KIND)
    if must_fail or out.code != 0:
        assert_clean_error(out, argv=argv)
        return
    # exit 0 on a mutated file: only if the file still means the original model
    assert out.escaped is None and not out.internal, out.stderr
    got = load_model(path)
    assert got.equals(original(model)), f"exit 0 with a different model (silent wrong answer)\nargv: {argv!r}"


# -- .nsim ------------------------------------------------------------------------------------------

NSIM_MODELS = ["digits_mlp.nsim", "digits_conv.nsim", "digits_mlp_nm24.nsim"]


def nsim_parts(name: str):
    with zipfile.ZipFile(MODELS / name) as z:
        return json.loads(z.read("graph.json")), z.read("arrays.npz")


def write_nsim(path: Path, doc_text: str, arrays: bytes) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("graph.json", doc_text)
        z.writestr("arrays.npz", arrays)
    path.write_bytes(buf.getvalue())
    return path


def json_paths(value, prefix=()):
    """Every (path, value) below ``value`` (dict keys and list indices), the root excluded."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield prefix + (k,), v
            yield from json_paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield prefix + (i,), v
            yield from json_paths(v, prefix + (i,))


def set_at(doc, path, new):
    target = doc
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = new


def delete_at(doc, path):
    target = doc
    for p in path[:-1]:
        target = target[p]
    del target[path[-1]]


def json_class(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return type(v).__name__  # str, list, dict


REPLACEMENTS = {"str": "a string", "number": 7, "bool": True, "list": [1, "x"], "dict": {"k": 1}}
#: keys whose absence a file may show (documented optional: serialize.OPTIONAL_FIELDS, semantics.notes)
OPTIONAL_KEYS = {"notes", "leak_bits", "leak_code", "input_shift", "syn_leak", "syn_leak_bits", "syn_leak_code"}


@st.composite
def nsim_json_mutation(draw):
    """(model, mutated graph.json text, invalid by construction?)"""
    model = draw(st.sampled_from(NSIM_MODELS))
    doc, _ = nsim_parts(model)
    paths = list(json_paths(doc))
    path, value = draw(st.sampled_from(paths))
    op = draw(st.sampled_from(["type", "delete", "extra", "huge", "nan", "deep", "negative_shape", "fraction",
                               "duplicate", "top_extra"]))
    if op == "delete" and "notes" in path:  # semantics.notes is optional: dropping it is a valid, different model
        op = "type"
    doc = copy.deepcopy(doc)
    strict = True
    text = None
    if op == "type":
        # (a null may be a nullable number, semantics.dt_s: a number there is a valid, different model)
        choices = [k for k in REPLACEMENTS if k != json_class(value) and not (value is None and k == "number")]
        set_at(doc, path, copy.deepcopy(REPLACEMENTS[draw(st.sampled_from(choices))]))
    elif op == "delete":
        delete_at(doc, path)
        # a dropped optional key, or a dropped list entry (a note; one of two equal stride entries), may be valid
        strict = not (path[-1] in OPTIONAL_KEYS or isinstance(path[-1], int))
    elif op == "extra":
        parent = doc
        for p in path[:-1]:
            parent = parent[p]
        if isinstance(parent, dict):
            parent[draw(st.sampled_from(["zz_extra", "$extra", "weight2"]))] = 1
        else:
            parent.append({"zz": 1}) if "notes" not in path else parent.append(5)
    elif op == "huge":
        set_at(doc, path, 10 ** draw(st.integers(19, 4000)) * draw(st.sampled_from([1, -1])))
    elif op == "nan":
        set_at(doc, path, draw(st.sampled_from([math.nan, math.inf, -math.inf])))
    elif op == "deep":
        depth = draw(st.integers(30, 120_000))
        marker = "__DEEP__"
        set_at(doc, path, marker)
        text = json.dumps(doc).replace(json.dumps(marker), "[" * depth + "]" * depth, 1)
    elif op == "negative_shape":
        shapes = [p for p, v in json_paths(doc) if len(p) >= 2 and p[-2] == "$tuple" and "shape" in p]
        target = draw(st.sampled_from(shapes))
        set_at(doc, target, draw(st.integers(-10**6, 0)))
    elif op == "fraction":
        ints = [p for p, v in json_paths(doc) if isinstance(v, int) and not isinstance(v, bool)]
        target = draw(st.sampled_from(ints))
        set_at(doc, target, draw(st.floats(0.01, 0.99)) + draw(st.integers(0, 300)))
    elif op == "duplicate":
        i, j = draw(st.sampled_from([(i, j) for i in range(len(doc["nodes"])) for j in range(len(doc["nodes"])) if i != j]))
        doc["nodes"][i]["name"] = doc["nodes"][j]["name"]
    elif op == "top_extra":
        doc[draw(st.sampled_from(["extra", "arrays", "Nodes"]))] = []
    if text is None:
        text = json.dumps(doc)
    return model, text, strict


@pytest.mark.parametrize("slow", [pytest.param(False), pytest.param(True, marks=pytest.mark.slow)])
def test_nsim_json_mutations(work, slow):
    @_settings("nsim_json", slow)
    @given(nsim_json_mutation())
    def run(case):
        model, text, strict = case
        _, arrays = nsim_parts(model)
        path = write_nsim(fresh(work, ".nsim"), text, arrays)
        verdict(path, model, must_fail=strict)

    run()


@st.composite
def nsim_byte_mutation(draw):
    model = draw(st.sampled_from(NSIM_MODELS))
    data = bytearray((MODELS / model).read_bytes())
    op = draw(st.sampled_from(["flip", "truncate", "flip_truncate", "garbage", "empty"]))
    strict = op in ("truncate", "garbage", "empty")
    if op in ("flip", "flip_truncate"):
        for _ in range(draw(st.integers(1, 24))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= draw(st.integers(1, 255))
    if op in ("truncate", "flip_truncate"):
        data = data[: draw(st.integers(0, len(data) - 1))]
    if op == "garbage":
        data = bytearray(draw(st.binary(min_size=1, max_size=4096)))
    if op == "empty":
        data = bytearray()
    return model, bytes(data), strict


@pytest.mark.parametrize("slow", [pytest.param(False), pytest.param(True, marks=pytest.mark.slow)])
def test_nsim_byte_mutations(work, slow):
    @_settings("nsim_bytes", slow)
    @given(nsim_byte_mutation())
    def run(case):
        model, data, strict = case
        path = fresh(work, ".nsim")
        path.write_bytes(data)
        verdict(path, model, must_fail=strict)

    run()


BAD_DTYPES = ["complex128", "U3", "S3", "datetime64[s]", "timedelta64[s]", "bool", "object", "structured"]


def _npy_header_bomb(shape, dtype="<f8") -> bytes:
    header = repr({"descr": dtype, "fortran_order": False, "shape": tuple(shape)}).encode()
    header += b" " * ((64 - (len(header) + 11) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header


@st.composite
def nsim_array_mutation(draw):
    model = draw(st.sampled_from(NSIM_MODELS))
    _, blob = nsim_parts(model)
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        members = {n: z.read(n) for n in z.namelist()}
    name = draw(st.sampled_from(sorted(members)))
    arr = np.load(io.BytesIO(members[name]))
    op = draw(st.sampled_from(["dtype", "shape", "bomb", "truncate_data", "nan", "header"]))
    if op == "dtype":
        kind = draw(st.sampled_from(BAD_DTYPES))
        if kind == "structured":
            new = np.zeros(arr.shape, dtype=[("a", "f8"), ("b", "i4")])
        elif kind == "object":
            new = np.empty(arr.shape, dtype=object)
        else:
            new = np.zeros(arr.shape, dtype=kind)
        buf = io.BytesIO()
        np.save(buf, new, allow_pickle=True)
        members[name] = buf.getvalue()
    elif op == "shape":
        new = np.resize(arr, (arr.shape[0] + draw(st.integers(1, 5)),) + arr.shape[1:]) if arr.ndim else np.zeros(3)
        buf = io.BytesIO()
        np.save(buf, new)
        members[name] = buf.getvalue()
    elif op == "bomb":
        members[name] = _npy_header_bomb((draw(st.integers(10**5, 10**7)), draw(st.integers(10**5, 10**7))))
    elif op == "truncate_data":
        raw = members[name]
        members[name] = raw[: draw(st.integers(0, len(raw) - 1))]
    elif op == "nan":
        if arr.dtype.kind != "f" or arr.size == 0:
            members[name] = _npy_header_bomb((10**9,))
        else:
            new = arr.copy()
            new.flat[draw(st.integers(0, arr.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
            buf = io.BytesIO()
            np.save(buf, new)
            members[name] = buf.getvalue()
    elif op == "header":
        members[name] = b"\x93NUMPY\x01\x00" + draw(st.sampled_from([
            b"\x20\x00{'descr': __import__('os'), 'shape': ()}  \n",
            b"\x10\x00not a dict at all\n",
            b"\xff\xff",
            b"\x20\x00{'descr': '<f8', 'fortran_order': 1 or 2}\n",
        ]))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    return model, out.getvalue()


@pytest.mark.parametrize("slow", [pytest.param(False), pytest.param(True, marks=pytest.mark.slow)])
def test_nsim_array_mutations(work, slow):
    @_settings("nsim_arrays", slow)
    @given(nsim_array_mutation())
    def run(case):
        model, arrays = case
        doc, _ = nsim_parts(model)
        path = write_nsim(fresh(work, ".nsim"), json.dumps(doc), arrays)
        verdict(path, model, must_fail=True)

    run()


# -- .nir -------------------------------------------------------------------------------------------

NIR_MODELS = ["digits_mlp.nir", "digits_conv.nir", "digits_mlp_nm24.nir"]
_NIR_INDEX: dict[str, tuple[list[str], list[str], list[str]]] = {}


def nir_index(model: str):
    """(parameter datasets, metadata JSON datasets, metadata array datasets) of a bundled NIR file."""
    if model not in _NIR_INDEX:
        params, meta_json, meta_arrays = [], [], []

        def visit(name, obj):
            if not isinstance(obj, h5py.Dataset) or not name.startswith("node/nodes/"):
                return
            leaf = name.rsplit("/", 1)[1]
            if "/metadata/neurosim/arrays/" in name:
                meta_arrays.append(name)
            elif name.endswith("/metadata/neurosim/node"):
                meta_json.append(name)
            elif "/metadata/" not in name and leaf not in ("type", "v_reset") and obj.dtype.kind == "f":
                params.append(name)
        with h5py.File(MODELS / model, "r") as f:
            f.visititems(visit)
        _NIR_INDEX[model] = (params, meta_json, meta_arrays)
    return _NIR_INDEX[model]


def _replace(f, key, **dataset):
    parent, _, leaf = key.rpartition("/")
    del f[key]
    f[parent].create_dataset(leaf, **dataset)


@st.composite
def nir_mutation(draw):
    """(model, edit function, strict)"""
    model = draw(st.sampled_from(NIR_MODELS))
    params, meta_json, meta_arrays = nir_index(model)
    op = draw(st.sampled_from(["dtype", "huge", "nan", "nudge", "delete_param", "meta_truncate", "meta_garble",
                               "meta_array_dtype", "meta_array_delete", "input_shape", "rank", "delete_meta_key"]))
    strict = True
    if op == "dtype":
        key = draw(st.sampled_from(params))
        kind = draw(st.sampled_from(["complex", "bytes", "str", "bool"]))

        def edit(f):
            old = f[key][()]
            data = {"complex": lambda: np.asarray(old, complex) + 1j, "bytes": lambda: np.full(np.shape(old), b"1.0"),
                    "str": lambda: np.asarray("0.5", dtype=h5py.string_dtype()),
                    "bool": lambda: np.ones(np.shape(old), bool)}[kind]()
            _replace(f, key, data=data)
    elif op == "huge":
        key = draw(st.sampled_from(params + meta_arrays))
        shape = draw(st.sampled_from([(10**9,), (10**12,), (10**5, 10**5), (3 * 10**9,)]))

        def edit(f):
            _replace(f, key, shape=shape, dtype="f8")
    elif op in ("nan", "nudge"):
        key = draw(st.sampled_from(params))
        frac = draw(st.floats(0, 1, exclude_max=True))
        value = draw(st.sampled_from([np.nan, np.inf, 1e300])) if op == "nan" else None

        def edit(f):
            data = np.array(f[key][()], dtype=np.float64)
            flat = data.reshape(-1)
            i = int(frac * flat.size)
            if value is None:
                flat[i] = flat[i] + max(abs(flat[i]) * 1e-6, 1e-9) if np.isfinite(flat[i]) else 0.5
            else:
                flat[i] = value if flat[i] != value else -1.0
            _replace(f, key, data=data)
    elif op == "delete_param":
        key = draw(st.sampled_from(params))

        def edit(f):
            del f[key]
    elif op in ("meta_truncate", "meta_garble"):
        key = draw(st.sampled_from(meta_json))
        cut = draw(st.floats(0, 1, exclude_max=True))
        junk = draw(st.sampled_from(['"', "{", "]", "\\", "\x00", "null", "[[[[", "\udcff"]))
        strict = not (op == "meta_garble" and junk == "\\")

        def edit(f):
            text = f[key][()].decode()
            i = int(cut * len(text))
            new = text[:i] if op == "meta_truncate" else text[:i] + junk + text[i:]
            # (a backslash before '/' is JSON's valid escape of '/': that garble may leave the file valid)
            raw = new.encode("utf-8", "surrogateescape")
            _replace(f, key, data=np.array(raw, dtype=f"S{max(1, len(raw))}"))  # fixed-length: NULs allowed
    elif op == "meta_array_dtype":
        key = draw(st.sampled_from(meta_arrays))

        def edit(f):
            _replace(f, key, data=np.full(f[key].shape, b"x"))
    elif op == "meta_array_delete":
        key = draw(st.sampled_from(meta_arrays))

        def edit(f):
            del f[key]
    elif op == "input_shape":
        n = draw(st.sampled_from([10**9, 10**12, 10**30, -5, 0]))

        def edit(f):
            key = "node/nodes/input/shape"
            _replace(f, key, data=np.array([n], dtype=np.float64 if abs(n) > 2**62 else np.int64))
    elif op == "rank":
        key = draw(st.sampled_from(params))

        def edit(f):
            data = np.asarray(f[key][()])
            _replace(f, key, data=data[..., None, None] if data.ndim else np.zeros((2, 3, 4)))
    else:  # delete_meta_key: a node's metadata loses its 'node' entry
        key = draw(st.sampled_from(meta_json))

        def edit(f):
            del f[key]
    return model, op, edit, strict


@pytest.mark.parametrize("slow", [pytest.param(False), pytest.param(True, marks=pytest.mark.slow)])
def test_nir_mutations(work, slow):
    @_settings("nir", slow)
    @given(nir_mutation())
    def run(case):
        model, op, edit, strict = case
        path = fresh(work, ".nir")
        shutil.copy(MODELS / model, path)
        with h5py.File(path, "r+") as f:
            edit(f)
        verdict(path, model, must_fail=strict)

    run()


@st.composite
def nir_byte_mutation(draw):
    model = draw(st.sampled_from(NIR_MODELS))
    data = bytearray((MODELS / model).read_bytes())
    op = draw(st.sampled_from(["flip", "truncate", "garbage"]))
    if op == "flip":
        for _ in range(draw(st.integers(1, 16))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= draw(st.integers(1, 255))
    elif op == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
    else:
        data = bytearray(b"\x89HDF\r\n\x1a\n" + draw(st.binary(max_size=2048)))
    return model, bytes(data), op == "garbage"


@pytest.mark.parametrize("slow", [pytest.param(False), pytest.param(True, marks=pytest.mark.slow)])
def test_nir_byte_mutations(work, slow):
    @_settings("nir_bytes", slow)
    @given(nir_byte_mutation())
    def run(case):
        model, data, strict = case
        path = fresh(work, ".nir")
        path.write_bytes(data)
        verdict(path, model, must_fail=strict)

    run()


# -- torch ------------------------------------------------------------------------------------------

class Payload:
    """A pickle whose load creates ``marker`` (what a hostile .pt does, harmlessly)."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


json_data = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12,
)


@st.composite
def torch_file(draw, work: Path):
    torch = pytest.importorskip("torch")
    op = draw(st.sampled_from(["random", "truncated", "data", "payload", "module", "state_dict", "tensor",
                               "plain_pickle", "torchscript", "export"]))
    path = fresh(work, draw(st.sampled_from([".pt", ".pth"])) if op != "export" else ".pt2")
    marker = path.with_suffix(".marker")
    if op == "random":
        path.write_bytes(draw(st.binary(max_size=2048)))
    elif op == "truncated":
        src = MODELS / draw(st.sampled_from(["digits_mlp.pt", "digits_conv.pt"]))
        raw = src.read_bytes()
        path.write_bytes(raw[: draw(st.integers(0, len(raw) - 1))])
    elif op == "data":
        torch.save(draw(json_data), path)
    elif op == "payload":
        torch.save({"model": Payload(str(marker))} if draw(st.booleans()) else Payload(str(marker)), path)
    elif op == "module":
        torch.save(torch.nn.Sequential(torch.nn.Linear(64, draw(st.integers(1, 8)))), path)
    elif op == "state_dict":
        torch.save(torch.nn.Linear(64, 3).state_dict(), path)
    elif op == "tensor":
        torch.save(torch.zeros(draw(st.integers(1, 5))), path)
    elif op == "plain_pickle":
        import pickle

        path.write_bytes(pickle.dumps(Payload(str(marker)), protocol=draw(st.integers(0, 5))))
    elif op == "torchscript":
        torch.jit.save(torch.jit.script(torch.nn.Sequential(torch.nn.Linear(64, 2))), path)
    else:
        m = torch.nn.Sequential(torch.nn.Linear(64, 2))
        torch.export.save(torch.export.export(m, (torch.zeros(1, 64),)), path)
    return path, marker


@pytest.mark.parametrize("slow", [pytest.param(False), pytest.param(True, marks=pytest.mark.slow)])
def test_torch_files(work, slow):
    @_settings("torch", slow)
    @given(st.data())
    def run(data):
        path, marker = data.draw(torch_file(work))
        argv = ["info", str(path), "--input-shape", "64"]
        assert_clean_error(run_cli(argv, kind=KIND), path.name, argv=argv)
        assert not marker.exists(), f"a pickle payload ran: {marker}"

    run()


# -- estimate on a subset -------------------------------------------------------------------------

@pytest.mark.parametrize("slow", [pytest.param(False), pytest.param(True, marks=pytest.mark.slow)])
def test_estimate_on_mutated_models(work, slow):
    @_settings("estimate", slow)
    @given(st.one_of(nsim_json_mutation().map(lambda c: ("nsim", c)), nir_mutation().map(lambda c: ("nir", c))))
    def run(tagged):
        kind, case = tagged
        if kind == "nsim":
            model, text, strict = case
            path = write_nsim(fresh(work, ".nsim"), text, nsim_parts(model)[1])
        else:
            model, _, edit, strict = case
            path = fresh(work, ".nir")
            shutil.copy(MODELS / model, path)
            with h5py.File(path, "r+") as f:
                edit(f)
        verdict(path, model, must_fail=strict, command="estimate")

    run()
