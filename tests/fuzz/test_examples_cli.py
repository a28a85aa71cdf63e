"""Issue 15's examples in the command line's area, one test each: output paths (an existing file, a path
under a file, a folder for ``run``, a 5,000-character path, ``--out ''``), SIGKILL leftovers, plots
replaced one by one before the report, the SAT report's wall time, and the CLI telling a command-line
user to call ``neurosim.passes.quantize``. Messages are pinned with anchored regexes on the text after
``error: ``."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fuzzing import assert_clean_error, assert_ok, run_cli

MODELS = Path(__file__).resolve().parents[2] / "models"
MLP = str(MODELS / "digits_mlp.nir")


def _message(outcome) -> str:
    assert_clean_error(outcome)
    return next(ln for ln in outcome.stderr.splitlines() if "error:" in ln).split("error: ", 1)[1]


def _estimate(out, *extra):
    return run_cli(["estimate", MLP, "--chip", "loihi", "--timesteps", "4", "--out", str(out), *extra],
                   kind="cli-example")


def test_out_naming_an_existing_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    msg = _message(_estimate(tmp_path / "afile"))
    assert re.fullmatch(r"--out '.*afile' names an existing file, and a folder is expected; give a new folder name "
                        r"or the folder of an earlier run", msg), msg


def test_out_under_a_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    msg = _message(_estimate(tmp_path / "afile" / "sub"))
    assert re.fullmatch(r"--out '.*afile/sub' is under '.*afile', which is a file, not a folder; give a folder path "
                        r"outside it", msg), msg


def test_run_out_naming_a_folder(tmp_path):
    (tmp_path / "adir").mkdir()
    outcome = run_cli(["run", MLP, "--input", str(MODELS / "digits_sample.npy"), "--out", str(tmp_path / "adir")],
                      kind="cli-example")
    msg = _message(outcome)
    assert re.fullmatch(r"--out '.*adir' is a folder, and a file is expected; give a file name, e\.g\. "
                        r"'.*adir/out\.npz'", msg), msg


def test_a_5000_character_path(tmp_path):
    msg = _message(_estimate("a" * 5000))
    assert re.fullmatch(r"--out 'a{106}\.\.\.a{40}' \(5,000 characters\) is 5,000 bytes long, above the system's "
                        r"limit of 4,095; give a shorter folder path", msg), msg
    msg = _message(_estimate(tmp_path / ("b" * 300)))
    assert re.fullmatch(r"--out '.*b\.\.\.b+' \(\d+ characters\) has a name of 300 bytes, above the system's limit of 255; "
                        r"give a folder path whose names are at most 255 bytes", msg), msg


@pytest.mark.parametrize("argv", [["estimate", MLP, "--chip", "loihi"], ["run", MLP, "--input", "x.npy"]])
def test_out_empty(argv):
    msg = _message(run_cli([*argv, "--out", ""], kind="cli-example"))
    assert re.fullmatch(r"--out is empty \(''\); give a (folder|file) name, e\.g\. --out (report|out\.npz)", msg), msg


def _folder_is_complete(folder: Path) -> dict:
    doc = json.loads((folder / "report.json").read_text())
    assert {p.name for p in folder.iterdir()} == {"report.json", *doc["plots"]}
    for name in doc["plots"]:
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return doc


def _kill_runs(tmp_path, runs: int, seed: int):
    out = tmp_path / "rep"
    code = ("import sys; from neurosim.cli import main; "
            f"sys.exit(main(['estimate', {MLP!r}, '--chip', 'loihi', '--timesteps', '4', '--out', {str(out)!r}]))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
    _folder_is_complete(out)
    rng = random.Random(seed)
    killed = 0
    for _ in range(runs):
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline and not any(
                p.name.startswith(".rep.tmp-") for p in tmp_path.iterdir()):
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.4))  # somewhere in the writing of the plots and the report
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait()
        _folder_is_complete(out)  # the old folder or the new one, whole
    assert killed >= runs // 2
    # the next run removes what the killed ones left
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]
    _folder_is_complete(out)


def test_sigkill_leaves_no_truncated_hidden_temp_files(tmp_path):
    _kill_runs(tmp_path, runs=3, seed=15)


@pytest.mark.slow
def test_sigkill_at_random_times_many_runs(tmp_path):
    _kill_runs(tmp_path, runs=12, seed=1515)


def test_plots_are_never_beside_another_runs_report(tmp_path, monkeypatch):
    """A run that dies after writing its first plot leaves the old folder exactly as it was."""
    out = tmp_path / "rep"
    assert_ok(_estimate(out))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    from neurosim.report import plots

    real_save, calls = plots.save, []

    def save_then_interrupt(fig, path):
        calls.append(path)
        name = real_save(fig, path)
        raise KeyboardInterrupt
        return name

    monkeypatch.setattr(plots, "save", save_then_interrupt)
    import neurosim.targets.neuromorphic.plots as nplots

    monkeypatch.setattr(nplots, "save", save_then_interrupt)
    outcome = _estimate(out, "--seed", "7")
    assert outcome.code == 130 and calls
    msg = outcome.stderr.strip().split("error: ", 1)[1]
    assert re.fullmatch(r"interrupted \(Ctrl-C\); nothing was left half-written, rerun the command to finish it", msg)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]


def test_sat_report_is_byte_identical_across_runs(tmp_path):
    outs = []
    for k in range(2):
        outcome = run_cli(["sat", "resnet18", "--out", str(tmp_path / f"r{k}")], kind="cli-example")
        assert_ok(outcome)
        assert re.search(r"^modelled 16 training steps in \d+\.\d\d s$", outcome.stdout, re.M), outcome.stdout[-300:]
        outs.append(tmp_path / f"r{k}")
    doc = json.loads((outs[0] / "report.json").read_text())
    assert "seconds" not in doc
    for name in ["report.json", *doc["plots"]]:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_estimate_report_is_byte_identical_across_runs(tmp_path):
    for k in range(2):
        assert_ok(_estimate(tmp_path / f"e{k}"))
    assert (tmp_path / "e0" / "report.json").read_bytes() == (tmp_path / "e1" / "report.json").read_bytes()


@pytest.mark.parametrize("model", ["digits_mlp.nir", "digits_mlp_nm24.nsim"])
def test_run_fixed_quantizes_a_float_model_itself(tmp_path, model):
    """`run --mode fixed` on a float model used to end on "run neurosim.passes.quantize first"; now the CLI
    quantizes with the --chip preset (neurosim-core), and the spikes equal the Python API's quantize + run."""
    from neurosim.frontends import load_model
    from neurosim.passes.quantize import quantize
    from neurosim.targets.neuromorphic.config import load_preset
    from neurosim.targets.neuromorphic.model.reference import run

    x = np.load(MODELS / "digits_sample.npy")
    out = tmp_path / "o.npz"
    outcome = run_cli(["run", str(MODELS / model), "--input", str(MODELS / "digits_sample.npy"), "--mode", "fixed",
                       "--out", str(out)], kind="cli-example")
    assert_ok(outcome)
    assert "quantize" not in outcome.stderr
    chip = load_preset("neurosim-core")
    q = quantize(load_model(str(MODELS / model)), weight_bits=chip.weight_bits, state_bits=chip.membrane_bits,
                 arithmetic=chip.arithmetic).graph
    expected = run(q, x, mode="fixed").output_spikes
    assert np.array_equal(np.load(out)["output_spikes"], expected)


def test_no_cli_module_tells_the_user_to_call_a_python_function():
    """The targets' command modules never print the Python pass's name as advice."""
    root = Path(__file__).resolve().parents[2] / "neurosim"
    for path in (root / "cli.py", root / "targets" / "neuromorphic" / "cli.py", root / "targets" / "sat" / "cli.py"):
        assert "neurosim.passes.quantize" not in path.read_text(), path


def test_stale_temporaries_of_a_dead_process_are_removed(tmp_path):
    """What a SIGKILLed run left (a truncated report in a hidden temp folder, a set-aside old folder) goes
    at the next write; a live process's temporaries stay."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".rep.tmp-{dead.pid}-0123abcd"
    stale.mkdir()
    (stale / "report.json").write_text('{"trunc')
    mine = tmp_path / f".other.tmp-{os.getpid()}-89abcdef"
    mine.mkdir()
    assert_ok(_estimate(tmp_path / "rep"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["rep", mine.name])


def test_sat_verify_never_ignores_an_array_option(monkeypatch, tmp_path):
    """`sat verify --rows 3` used to run the default campaign and ignore --rows (found by the output-path fuzz)."""
    import neurosim.targets.sat.verify as sat_verify
    from neurosim.cli import build_parser

    seen = {}

    def fake_campaign(tiles, seed, work, simulator, configs):
        seen["configs"] = configs
        raise KeyboardInterrupt  # stop before any simulator runs

    monkeypatch.setattr(sat_verify, "verify_campaign", fake_campaign)
    args = build_parser().parse_args(["sat", "verify", "--rows", "3", "--work", str(tmp_path / "work")])
    with pytest.raises(KeyboardInterrupt):
        args.run(args)
    assert len(seen["configs"]) == 1 and seen["configs"][0].rows == 3
