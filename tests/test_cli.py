"""The neurosim command end to end (the README's main job included)."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neurosim.cli import main

MODELS = Path(__file__).resolve().parents[1] / "models"


def test_info_prints_layers_and_semantics(capsys):
    assert main(["info", str(MODELS / "digits_conv.nir")]) == 0
    out = capsys.readouterr().out
    assert "Conv2d" in out and "AvgPool2d" in out and "512" in out
    assert "semantics: profile neurosim" in out


def test_info_nm_column(capsys):
    assert main(["info", str(MODELS / "digits_mlp_nm24.nsim")]) == 0
    assert "2:4" in capsys.readouterr().out


def test_run_writes_spikes_and_membranes(tmp_path, capsys):
    out = tmp_path / "run.npz"
    assert main(["run", str(MODELS / "digits_mlp.nir"), "--input", str(MODELS / "digits_sample.npy"), "--out", str(out)]) == 0
    data = np.load(out)
    assert data["output_spikes"].shape == (16, 10)
    assert set(data.files) >= {"output_spikes", "spikes/1", "spikes/3", "membrane/1", "membrane/3"}
    assert np.array_equal(data["output_spikes"], data["spikes/3"])


def test_run_wrong_input_shape_is_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((4, 63)))
    assert main(["run", str(MODELS / "digits_mlp.nir"), "--input", str(bad), "--out", str(tmp_path / "o.npz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurosim run: error: input 'input' has shape (4, 63), expected [T, 64];")
    assert not (tmp_path / "o.npz").exists()


def test_unknown_suffix(capsys):
    assert main(["info", "model.onnx"]) == 2
    assert "has the suffix '.onnx'; neurosim reads" in capsys.readouterr().err


def test_state_dict_is_rejected_with_hint(capsys):
    pytest.importorskip("torch")
    assert main(["info", str(MODELS / "digits_mlp.pt"), "--input-shape", "64"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurosim info: error: ") and "state dict" in err


def test_console_script_main_job_without_torch(tmp_path):
    """The README's main job in a process where importing torch is impossible."""
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from neurosim.cli import main\n"
        f"sys.exit(main(['run', {str(MODELS / 'digits_conv.nir')!r}, '--input', {str(tmp_path / 'x.npy')!r},"
        f" '--out', {str(tmp_path / 'o.npz')!r}]))\n"
    )
    np.save(tmp_path / "x.npy", np.load(MODELS / "digits_test_inputs.npz")["conv"][:, 0])
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert np.load(tmp_path / "o.npz")["output_spikes"].shape == (16, 10)


def test_readme_main_job_without_torch(tmp_path):
    """The README's main job (estimate on the bundled conv model) in a process where torch cannot load."""
    out = tmp_path / "rep"
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from neurosim.cli import main\n"
        f"sys.exit(main(['estimate', {str(MODELS / 'digits_conv.nir')!r}, '--chip', 'loihi', '--input', "
        f"{str(MODELS / 'digits_conv_sample.npy')!r}, '--out', {str(out)!r}]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "energy per inference" in proc.stdout
    assert (out / "report.json").exists() and (out / "mesh_utilisation.png").exists()


@pytest.mark.skipif(__import__("shutil").which("iverilog") is None, reason="needs Icarus Verilog")
def test_verify_command_passes_on_bundled_mlp(tmp_path, capsys):
    assert main(["verify", str(MODELS / "digits_mlp.nir"), "--input", str(MODELS / "digits_sample.npy"),
                 "--work", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS") == 5 and "FAIL" not in out  # core 0, core 1, the top, the total row, the verdict
    assert re.search(r"^whole model \(top\) .* PASS$", out, re.M)
    assert re.search(r"^core 0 \(.*\) \+5 traces .* PASS$", out, re.M)
    assert re.search(r"^PASS 16 steps, differing spikes 0, membrane bits 0, cycles 0, X/Z values 0, protocol violations 0",
                     out, re.M)
    assert re.search(r"^coverage reached: \d+ of \d+ goals", out, re.M) and "--verbose lists them" in out
    assert len(out.splitlines()) <= 20  # the verdict, not the simulator log
    assert (tmp_path / "simulator.log").is_file()


def test_verify_command_options(capsys):
    import argparse

    from neurosim.cli import build_parser

    parser = build_parser()
    assert isinstance(parser, argparse.ArgumentParser)
    args = parser.parse_args(["verify", str(MODELS / "digits_mlp.nir"), "--netlist", "ice40", "--no-random"])
    assert (args.netlist, args.no_random) == ("ice40", True)
    with pytest.raises(SystemExit):
        parser.parse_args(["verify", str(MODELS / "digits_mlp.nir"), "--netlist", "xilinx"])
    assert "invalid choice: 'xilinx'" in capsys.readouterr().err


def test_rtl_command_rejects_recurrent_models(tmp_path, capsys):
    from neurosim.ir import LIF, Dense, Graph, Input, Output, save

    nodes = {"input": Input(shape=(2,)), "fc": Dense(weight=np.ones((2, 2))), "lif": LIF(shape=(2,), decay=0.875),
             "rec": Dense(weight=np.ones((2, 2))), "output": Output(shape=(2,))}
    g = Graph(nodes, (("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")))
    save(g, tmp_path / "rec.nsim")
    assert main(["rtl", str(tmp_path / "rec.nsim"), "--out", str(tmp_path / "out")]) == 2
    assert "the generated core handles forward synapses only" in capsys.readouterr().err


def test_report_prints_a_saved_report_of_either_target(tmp_path, capsys):
    """`neurosim report` finds the target by the report's schema (the registry in neurosim.targets)."""
    from neurosim.cli import main

    est, sat = tmp_path / "est", tmp_path / "sat"
    assert main(["estimate", str(MODELS / "digits_mlp.nir"), "--chip", "loihi", "--timesteps", "4", "--out", str(est)]) == 0
    assert main(["sat", "resnet18", "--nm", "2:8", "--out", str(sat)]) == 0
    capsys.readouterr()
    assert main(["report", str(est)]) == 0
    assert "energy per inference" in capsys.readouterr().out
    assert main(["report", str(sat / "report.json")]) == 0
    assert "2:8" in capsys.readouterr().out


def test_report_refuses_what_it_cannot_read(tmp_path, capsys):
    from neurosim.cli import main

    other = tmp_path / "other.json"
    other.write_text('{"schema": "someone-else", "version": 1}')
    assert main(["report", str(other)]) == 2
    assert re.search(r"^neurosim report: error: report '.*other\.json' has schema 'someone-else'; neurosim reads "
                     r"\['neurosim-estimate', 'neurosim-sat'\]$", capsys.readouterr().err, re.M)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert main(["report", str(broken)]) == 2
    assert re.search(r"^neurosim report: error: cannot read report '.*broken\.json': .*; give a report\.json "
                     r"neurosim wrote$", capsys.readouterr().err, re.M)


@pytest.mark.slow
@pytest.mark.skipif(__import__("shutil").which("iverilog") is None, reason="needs Icarus Verilog")
def test_verify_command_on_the_generic_netlist(tmp_path, capsys):
    """`neurosim verify --netlist generic`: the same core benches on the yosys netlist (~2 min)."""
    assert main(["verify", str(MODELS / "digits_mlp.nir"), "--input", str(MODELS / "digits_sample.npy"),
                 "--work", str(tmp_path), "--netlist", "generic", "--no-top", "--no-random"]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS") == 4 and "FAIL" not in out
    assert "(icarus, netlist generic, 16 steps)" in out


def test_tables_are_never_truncated_off_a_terminal(capsys):
    """Not a terminal (pytest's capture): tables print at their natural width, cells whole."""
    assert main(["sat", "resnet18", "--nm", "2:8"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^│ weight-gradient +│", out, re.M) and "…" not in out
    assert re.search(r"^speedup by pattern: .*4:8 1\.\d\dx \(ideal 1\.50x\)$", out, re.M)  # one line, unbroken


def test_print_table_keeps_wide_cells():
    import io

    from rich.console import Console
    from rich.table import Table

    from neurosim.report.tables import print_table

    buf = io.StringIO()
    con = Console(file=buf, width=30)
    t = Table()
    t.add_column("name")
    t.add_row("a-cell-much-wider-than-thirty-columns-of-output")
    print_table(con, t)
    assert "│ a-cell-much-wider-than-thirty-columns-of-output │" in buf.getvalue() and con.width == 30


# -- the top-level handler: every failure is one line with its own exit status --------------------

def _failing_info(monkeypatch, exc):
    """Make `neurosim info` raise ``exc`` (the injected failure) when it runs."""
    from neurosim import cli
    from neurosim.commands import Command, add_model_options

    def boom(args):
        raise exc

    monkeypatch.setitem(cli.COMMON, "info", Command("x", add_model_options, boom))


def test_internal_error_is_one_line_with_exit_70(monkeypatch, capsys):
    _failing_info(monkeypatch, ValueError("boom\nsecond line"))
    assert main(["info", "m.nir"]) == 70
    err = capsys.readouterr().err
    assert re.fullmatch(r"neurosim info: internal error: ValueError: boom \(this is a bug in neurosim; rerun with "
                        r"--debug for the traceback and report it to the neurosim developers \(with the command "
                        r"line and the --debug output\)\)\n", err), err


@pytest.mark.parametrize("argv", [["--debug", "info", "m.nir"], ["info", "m.nir", "--debug"]])
def test_debug_prints_the_traceback_then_the_line(monkeypatch, capsys, argv):
    _failing_info(monkeypatch, ValueError("boom"))
    assert main(argv) == 70
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert re.search(r"\nneurosim info: internal error: ValueError: boom \(this is a bug", err)


def test_debug_from_the_environment(monkeypatch, capsys):
    _failing_info(monkeypatch, RuntimeError("x"))
    monkeypatch.setenv("NEUROSIM_DEBUG", "1")
    assert main(["info", "m.nir"]) == 70
    assert capsys.readouterr().err.startswith("Traceback")


def test_neurosim_error_stays_exit_2_without_traceback(monkeypatch, capsys):
    from neurosim.errors import FormatError

    _failing_info(monkeypatch, FormatError("file 'm.nir' is bad; fix it"))
    assert main(["info", "m.nir"]) == 2
    assert capsys.readouterr().err == "neurosim info: error: file 'm.nir' is bad; fix it\n"


def test_keyboard_interrupt_is_one_line_with_exit_130(monkeypatch, capsys):
    _failing_info(monkeypatch, KeyboardInterrupt())
    assert main(["info", "m.nir"]) == 130
    err = capsys.readouterr().err
    assert re.fullmatch(r"neurosim info: error: interrupted \(Ctrl-C\); nothing was left half-written, rerun the "
                        r"command to finish it\n", err), err


def test_memory_error_is_one_line_with_exit_3(monkeypatch, capsys):
    _failing_info(monkeypatch, MemoryError("Unable to allocate 75.0 GiB"))
    assert main(["info", "m.nir"]) == 3
    err = capsys.readouterr().err
    assert re.fullmatch(r"neurosim info: error: out of memory \(Unable to allocate 75\.0 GiB\): the input fits "
                        r"neurosim's resource limits but not this machine; use a smaller model, input, --timesteps "
                        r"or --batch, or lower a limit with --limit NAME=VALUE\n", err), err


def test_sigterm_removes_the_temporary_folder(monkeypatch, tmp_path, capsys):
    """SIGTERM mid-write: exit 143, one line, the temporary output folder is gone, no report."""
    import os
    import signal

    from neurosim.fileio import atomic_dir

    def write_then_term(args):
        with atomic_dir(tmp_path / "rep") as tmp:
            (tmp / "report.json").write_text("{")
            os.kill(os.getpid(), signal.SIGTERM)
        return 0

    from neurosim import cli
    from neurosim.commands import Command, add_model_options

    monkeypatch.setitem(cli.COMMON, "info", Command("x", add_model_options, write_then_term))
    assert main(["info", "m.nir"]) == 143
    assert re.fullmatch(r"neurosim info: error: terminated \(SIGTERM\); nothing was left half-written, rerun the "
                        r"command to finish it\n", capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL or callable(signal.getsignal(signal.SIGTERM))


def test_usage_error_shortens_a_huge_value(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sat", "verify", "--simulator", "x" * 5000])  # argparse's own message (invalid choice)
    assert exc.value.code == 2
    line = [ln for ln in capsys.readouterr().err.splitlines() if "error:" in ln][0]
    assert re.fullmatch(r"neurosim sat verify: error: argument --simulator: invalid choice: 'x{106}\.\.\.x{40}' "
                        r"\(5,000 characters\) \(choose from 'icarus', 'verilator'\)", line), line


def test_type_error_shortens_a_huge_value(capsys):
    with pytest.raises(SystemExit):
        main(["sat", "rtl", "--out", "o", "--rows", "x" * 5000])  # neurosim's own argument types
    line = [ln for ln in capsys.readouterr().err.splitlines() if "error:" in ln][0]
    assert re.fullmatch(r"neurosim sat rtl: error: argument --rows: expected a positive integer, found 'x{40}'\.\.\. "
                        r"\(5,000 characters\)", line), line
