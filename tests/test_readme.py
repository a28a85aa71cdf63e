"""The README does what it says: its Python snippets run, and its set-up commands work on a fresh
clone in a fresh venv, after which the installed package does all three jobs from any directory.

* :func:`test_readme_python_snippets_run` runs every ```python block of README.md from the
  repository root (seconds).
* :func:`test_readme_setup_on_a_fresh_clone` (marker ``readme``, in the default suite, a few
  minutes) builds a fresh clone (:func:`fresh_clone`), runs README command 1 exactly as the
  README writes it (``pip install .`` into a new ``.venv``, then the estimate), checks the
  non-editable install (the testbenches ship in the wheel, numba's cache stays out of
  site-packages), runs the install part of README command 2 (``bash scripts/test.sh`` with a
  pytest selection that collects nothing, which turns the install into the editable one with the
  test and hdl extras), and then runs the main commands of every job with the venv's ``neurosim``
  from a directory outside the clone.

Environment: ``NEUROSIM_README_CLONE=head`` clones the committed HEAD (``git clone``) instead of
copying the working tree; ``NEUROSIM_SKIP_README_INSTALL=1`` skips the fresh-clone test (e.g. on
a machine without a package index).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


# -- README parsing ---------------------------------------------------------------------------------

def code_blocks(text: str, lang: str) -> list[str]:
    """The bodies of the fenced ```lang blocks of ``text``, in order."""
    return [m.group(1) for m in re.finditer(rf"^```{lang}\n(.*?)^```$", text, re.S | re.M)]


def setup_command(number: int, text: str | None = None) -> str:
    """The shell block under the README's bold step ``**<number>. ...**`` of "Set up on a fresh machine"."""
    text = README.read_text() if text is None else text
    m = re.search(rf"^\*\*{number}\. .*?\*\*.*?^```sh\n(.*?)^```$", text, re.S | re.M)
    assert m, f"README.md has no '**{number}. ...**' step followed by a ```sh block"
    return m.group(1).strip()


# -- fast checks --------------------------------------------------------------------------------------

def test_readme_python_snippets_run(tmp_path):
    blocks = code_blocks(README.read_text(), "python")
    assert blocks, "README.md has no ```python block"
    main, *others = blocks
    assert "import torch" not in main and "from_torch" not in main, "the first snippet must run without torch"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", main], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    label = int(__import__("numpy").load(ROOT / "models" / "digits_test_inputs.npz")["labels"][0])
    predicted = re.search(r"predicted digit: (\d+) spike counts: \[([\d, ]+)\]", out)
    assert predicted, out
    assert int(predicted.group(1)) == label  # the bundled sample is test digit 0, classified right
    counts = [int(c) for c in predicted.group(2).split(",")]
    assert len(counts) == 10 and max(counts) == counts[label] > 0
    energy = re.search(r"energy ([\d.]+) uJ, latency ([\d.]+) us per inference", out)
    assert energy, out
    assert 0.01 < float(energy.group(1)) < 100 and 1 < float(energy.group(2)) < 100_000
    by_layer = re.search(r"energy by layer \(pJ\): (\{.*\})", out)
    assert by_layer and len(ast.literal_eval(by_layer.group(1))) >= 2, out
    for block in others:  # the torch snippets
        if "torch" in block:
            pytest.importorskip("torch")
        proc = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True, env=env,
                              timeout=600)
        assert proc.returncode == 0, f"README snippet failed:\n{block}\n{proc.stderr}"


def test_readme_setup_commands_are_the_documented_ones():
    one, two = setup_command(1), setup_command(2)
    assert "pip install ." in one and one.startswith("python3 -m venv .venv") and "neurosim estimate" in one
    assert two == "bash scripts/test.sh"


def test_readme_links_exist():
    text = README.read_text()
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if "://" not in target:
            assert (ROOT / target).exists(), f"README.md links {target!r}, which is not in the repository"


def test_every_package_folder_is_in_the_wheel():
    """pyproject lists its packages (the testbench mapping needs it): none may be forgotten."""
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(tool["packages"])
    folders = {
        ".".join(d.relative_to(ROOT).parts)
        for d in [ROOT / "neurosim", *(ROOT / "neurosim").rglob("*")]
        if d.is_dir() and not any(p.startswith((".", "__")) for p in d.relative_to(ROOT).parts)
        and any(f.is_file() for f in d.iterdir())
    }
    assert folders - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert tool["package-dir"] == {"neurosim.testbenches": "sim"}
    testbenches = {p for p in listed if p.startswith("neurosim.testbenches.")}
    assert testbenches == {f"neurosim.testbenches.{d.name}" for d in (ROOT / "sim").iterdir()
                           if d.is_dir() and not d.name.startswith((".", "__")) and any(d.glob("test_*.py"))}
    assert listed - folders - testbenches == set(), "pyproject.toml lists packages that do not exist"


# -- the fresh clone -----------------------------------------------------------------------------------

def _git(*args, cwd) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def fresh_clone(dest: Path, source: Path = ROOT) -> Path:
    """What ``git clone`` of ``source`` gives, made from its working tree: every tracked file as it
    is now (deleted ones left out) and every untracked file git does not ignore, committed into a
    new repository at ``dest``. On CI (a clean clone) that equals the commit; locally it tests the
    uncommitted work too. ``NEUROSIM_README_CLONE=head`` makes a real ``git clone`` of HEAD instead."""
    if os.environ.get("NEUROSIM_README_CLONE") == "head":
        subprocess.run(["git", "clone", "-q", str(source), str(dest)], check=True)
        return dest
    listing = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=source)
    dest.mkdir(parents=True)
    for rel in sorted(set(filter(None, listing.split("\0")))):
        src = source / rel
        if src.is_symlink() or src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel, follow_symlinks=False)
    _git("init", "-q", cwd=dest)
    _git("add", "-A", cwd=dest)
    _git("-c", "user.name=neurosim tests", "-c", "user.email=tests@neurosim.invalid", "commit", "-q",
         "--no-verify", "-m", "working tree snapshot", cwd=dest)
    return dest


def _clean_env(tmp: Path) -> dict:
    """A shell environment as on a fresh login: no active venv (this suite's own is taken off PATH),
    caches in ``tmp`` (numba, matplotlib) except pip's, which is reused to keep installs fast."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST", "COCOTB", "NUMBA_", "NEUROSIM_", "PYTHON", "HYPOTHESIS", "VIRTUAL_ENV"))
           and k not in ("MPLBACKEND", "MPLCONFIGDIR", "XDG_CACHE_HOME")}
    here = Path(sys.executable).parent
    if sys.prefix != sys.base_prefix:  # drop this suite's venv from PATH
        env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                      if p and Path(p).resolve() != here.resolve())
    pip_cache = subprocess.run([sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True)
    if pip_cache.returncode == 0 and pip_cache.stdout.strip():
        env["PIP_CACHE_DIR"] = pip_cache.stdout.strip()
    env["XDG_CACHE_HOME"] = str(tmp / "cache")
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["NEUROSIM_SKIP_SCALESIM"] = "1"  # SCALE-Sim's own venv is not part of the README's install
    return env


def _run(cmd, cwd, env, timeout=600) -> str:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          shell=isinstance(cmd, str), executable="/bin/bash" if isinstance(cmd, str) else None)
    what = cmd if isinstance(cmd, str) else " ".join(map(str, cmd))
    print(f"[{time.perf_counter() - t0:6.1f} s] {what}")
    assert proc.returncode == 0, f"{what!r} exited {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout + proc.stderr


def _site_packages(venv: Path) -> Path:
    (sp,) = (venv / "lib").glob("python*/site-packages")
    return sp


def _assert_only_recorded_files(site: Path) -> None:
    """Nothing but what pip installed (and recorded, byte code included) is under site-packages/neurosim:
    a file written there at run time survives ``pip uninstall``, and the folder left behind then
    shadows a later editable install as a namespace package (``cannot import name '__version__'``)."""
    record = (next(site.glob("neurosim-*.dist-info")) / "RECORD").read_text()
    recorded = {line.rsplit(",", 2)[0] for line in record.splitlines() if line}
    strays = [p for p in (site / "neurosim").rglob("*") if p.is_file() and p.relative_to(site).as_posix() not in recorded]
    assert strays == [], f"files written into the installed package at run time: {strays[:5]}"


def _numba_files(folder: Path) -> list[Path]:
    return [p for pattern in ("*.nbi", "*.nbc") for p in folder.rglob(pattern)]


@pytest.mark.readme
@pytest.mark.slow  # ~12 min (a non-editable install, numba's cold compile): .ci/run runs it after the default suite
@pytest.mark.skipif(os.environ.get("NEUROSIM_SKIP_README_INSTALL") == "1", reason="NEUROSIM_SKIP_README_INSTALL=1")
@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs git and a checkout")
@pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog (bash scripts/test.sh installs it)")
@pytest.mark.skipif(sys.platform == "win32", reason="the README's commands are POSIX shell")
def test_readme_setup_on_a_fresh_clone(tmp_path):
    t_start = time.perf_counter()
    clone = fresh_clone(tmp_path / "neurosim")
    env = _clean_env(tmp_path)
    elsewhere = tmp_path / "elsewhere"  # a working directory outside the clone
    elsewhere.mkdir()
    models = clone / "models"
    venv = clone / ".venv"
    neurosim = str(venv / "bin" / "neurosim")

    # README command 1, as written: venv, `pip install .`, the estimate of the bundled conv SNN
    out = _run(setup_command(1), clone, env)
    assert re.search(r"^digits_conv on loihi: \d+ cores? on \d+ chip", out, re.M), out[-3000:]
    assert re.search(r"^energy per inference: [\d.]+ [pnum]J .*latency: .* per inference$", out, re.M), out[-3000:]
    report = json.loads((clone / "out" / "digits_conv_loihi" / "report.json").read_text())
    assert report["schema"] == "neurosim-estimate" and report["totals"]
    assert len(list((clone / "out" / "digits_conv_loihi").glob("*.png"))) == 4
    site = _site_packages(venv)
    assert (site / "neurosim" / "__init__.py").is_file() and not list(site.glob("__editable__*neurosim*"))
    # the non-editable install: testbenches from the wheel, numba's cache in the user cache folder
    for folder in ("core", "top", "sat"):
        assert list((site / "neurosim" / "testbenches" / folder).glob("test_*.py")), folder
    assert not (site / "sim").exists(), "the wheel must not install a top-level package 'sim'"
    assert _numba_files(Path(env["XDG_CACHE_HOME"]) / "neurosim" / "numba"), "numba cached nothing where expected"
    assert _numba_files(site) == [], "numba wrote its cache into site-packages"
    out = _run([neurosim, "verify", models / "digits_mlp.nir", "--input", models / "digits_sample.npy"],
               elsewhere, env)
    assert re.search(r"PASS 16 steps, differing spikes 0, membrane bits 0, cycles 0", out), out[-2000:]
    out = _run([neurosim, "verify", "sat", "--tiles", "12"], elsewhere, env)  # the alias of `sat verify`
    assert re.search(r"^PASS: \d+ tiles on \d+ builds, differing bits 0, differing cycles 0, protocol violations 0;", out, re.M), out[-2000:]
    _assert_only_recorded_files(site)
    t_wheel = time.perf_counter()

    # README command 2's install: `bash scripts/test.sh` with a selection that collects nothing
    # (pytest exits 5, which the script turns into 0); it reinstalls neurosim editable
    command_two = setup_command(2)
    _run(f". .venv/bin/activate && {command_two} -q -p no:cacheprovider -k no_test_matches_this", clone, env)
    assert list(site.glob("__editable__*neurosim*")), "scripts/test.sh did not install neurosim editable"
    t_install = time.perf_counter()

    # the three jobs with the venv's console script, from outside the clone
    out = _run([neurosim, "--version"], elsewhere, env)
    assert "0." in out
    out = _run([neurosim, "estimate", models / "digits_conv.nir", "--chip", "loihi",
                "--input", models / "digits_conv_sample.npy"], elsewhere, env)
    assert re.search(r"^energy per inference: [\d.]+ [pnum]J", out, re.M), out[-3000:]
    out = _run([neurosim, "rtl", models / "digits_mlp.nir", "--out", "rtl_out"], elsewhere, env)
    assert list((elsewhere / "rtl_out").rglob("*.v")), out
    out = _run([neurosim, "verify", models / "digits_mlp.nir", "--input", models / "digits_sample.npy"],
               elsewhere, env)
    assert re.search(r"PASS 16 steps, differing spikes 0, membrane bits 0, cycles 0", out), out[-2000:]
    out = _run([neurosim, "sat", "resnet18", "--nm", "2:8"], elsewhere, env)
    speedup = re.search(r"^speedup over dense: ([\d.]+)x", out, re.M)
    assert out.startswith("resnet18 training step") and speedup and float(speedup.group(1)) > 1, out[-2000:]
    out = _run([neurosim, "sat", "verify", "--tiles", "12"], elsewhere, env)
    assert re.search(r"^PASS: \d+ tiles on \d+ builds, differing bits 0, differing cycles 0, protocol violations 0;", out, re.M), out[-2000:]

    assert _numba_files(site) == [], "numba wrote its cache into site-packages"
    assert _numba_files(clone / "neurosim") == [], "numba wrote its cache into the (editable) source tree"
    t_end = time.perf_counter()
    print(f"README fresh-clone test: {t_end - t_start:.0f} s (command 1 and wheel checks {t_wheel - t_start:.0f} s, "
          f"command 2's install {t_install - t_wheel:.0f} s, the jobs {t_end - t_install:.0f} s)")
