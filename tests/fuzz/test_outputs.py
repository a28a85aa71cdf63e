"""Fuzz every output flag (``--out``, ``--json``, ``--work``, ``--plot`` of every command) with
hypothesis-built paths: empty, blank, over-long (whole path or one name), unicode, trailing slashes,
``.``/``..``, an existing file where a folder is expected and the reverse, a path under a file, a folder
holding someone else's files.

Each case runs the command with a second, later error (a missing model, an impossible option) so no
real work starts. An independent oracle (:func:`_oracle`, plain ``os.path`` rules, not neurosim's)
says whether the path is bad: then the one error line must name the output flag and nothing may be
created; else the output check must pass silently and the later error be the one reported. Either
way no traceback, no internal error, no temporary left behind.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzzing import assert_clean_error, run_cli

SETTINGS = dict(derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
MISSING = "no/such/model.nir"
# (argv before the flag, flag, kind, argv after: the later error)
CASES = [
    (["run", MISSING, "--input", "x.npy"], "--out", "npz", []),
    (["estimate", MISSING, "--chip", "loihi"], "--out", "report", []),
    (["rtl", MISSING], "--out", "rtl", []),
    (["verify", MISSING], "--work", "work", []),
    (["synth", MISSING, "--fpga", "ice40"], "--work", "work", []),
    (["synth", MISSING, "--fpga", "ice40"], "--json", "file", []),
    (["bench", "--models", "nope"], "--out", "work", []),
    (["bench", "--models", "nope"], "--json", "file", []),
    (["bench", "--models", "nope"], "--plot", "file", []),
    (["sat", "nope-net"], "--out", "report", []),
    (["sat", "rtl", "--acc-bits", "1"], "--out", "satrtl", []),
    (["sat", "verify", "--acc-bits", "1"], "--work", "work", []),
    (["sat", "synth", "--fpga", "ice40", "--acc-bits", "1"], "--work", "work", []),
    (["sat", "synth", "--fpga", "ice40", "--acc-bits", "1"], "--json", "file", []),
    (["sat", "bench", "--network", "nope"], "--json", "file", []),
]
OWNED = {"report": ("report.json", "timing.json"), "rtl": ("cores.json", "top"), "satrtl": ("manifest.json",)}
NAME = st.one_of(
    st.sampled_from(["out", "rep", "x.json", "r.npz", "afile", "adir", "fdir", "own", ".", "..", "", "é中",
                     "\udcff", "n" * 255, "n" * 256, "sp ace", "-dash", "a.npz"]),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/"), min_size=1, max_size=12),
)


@st.composite
def paths(draw):
    parts = draw(st.lists(NAME, min_size=1, max_size=4))
    if draw(st.integers(0, 15)) == 0:
        parts = ["d" * 200] * 21  # a path over PATH_MAX of legal names
    text = "/".join(parts)
    if draw(st.booleans()):
        text = text + "/"
    if draw(st.integers(0, 20)) == 0:
        text = draw(st.sampled_from(["", " ", "\t"]))
    return text


def _oracle(text: str, kind: str) -> bool:
    """True when ``text`` cannot be this kind of output (plain os.path rules, independent of neurosim)."""
    if not text.strip():
        return True
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeError:
        return True
    if len(raw) >= 4096 or any(len(p) > 255 for p in raw.split(b"/")):
        return True
    absolute = os.path.abspath(text)
    if kind in ("npz", "file") and (os.path.isdir(text) or text.endswith("/")):
        return True
    if kind == "npz" and not text.lower().endswith(".npz"):
        return True
    if kind not in ("npz", "file"):
        if os.path.lexists(text) and not os.path.isdir(text):
            return True
        if os.path.isdir(text) and kind in OWNED:
            import fnmatch

            pats = OWNED[kind] + (("*.png",) if kind == "report" else ("core[0-9]*",) if kind == "rtl"
                                  else ("*.v",) if kind == "satrtl" else ())
            if any(not any(fnmatch.fnmatch(e, p) for p in pats) for e in os.listdir(text)):
                return True
            if os.path.dirname(absolute) == absolute:
                return True
    parent = os.path.dirname(absolute)
    while not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    return not os.path.isdir(parent)


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("outputs")
    (tmp / "afile").write_text("a file")
    (tmp / "adir").mkdir()
    (tmp / "fdir").mkdir()
    (tmp / "fdir" / "notes.txt").write_text("someone else's")
    (tmp / "own").mkdir()
    (tmp / "own" / "report.json").write_text("{}")
    return tmp


def _check(root: Path, case, text: str) -> None:
    before, flag, kind, after = case
    argv = [*before, f"{flag}={text}", *after]  # the = form: a path may start with '-'
    with contextlib.chdir(root):
        bad = _oracle(text, kind)
        tree = _tree(root)
        outcome = run_cli(argv, kind="output-path", timeout_s=30)
        assert_clean_error(outcome, argv=argv)
        line = next(ln for ln in outcome.stderr.splitlines() if "error:" in ln)
        message = line.split("error: ", 1)[1]
        if bad:
            assert message.startswith(flag), f"bad {flag} {text[:80]!r} not refused first:\n{line}"
        else:
            assert not message.startswith(f"{flag} "), f"valid {flag} {text[:80]!r} refused:\n{line}"
        assert _tree(root) == tree, f"files created or removed by a failed run: {sorted(_tree(root) ^ tree)[:5]}"


@settings(max_examples=260, **SETTINGS)
@given(case=st.sampled_from(CASES), text=paths())
def test_output_paths_are_checked_before_work(root, case, text):
    _check(root, case, text)


@pytest.mark.slow
@settings(max_examples=2600, **SETTINGS)
@given(case=st.sampled_from(CASES), text=paths())
def test_output_paths_are_checked_before_work_slow(root, case, text):
    _check(root, case, text)
