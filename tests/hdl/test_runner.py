"""The simulator log of ``neurosim verify``: the simulators' output goes to a file, not the terminal."""

from __future__ import annotations

import subprocess
import sys

import pytest

from neurosim.hdl.runner import SimulatorLog


def test_subprocess_output_goes_to_the_log(tmp_path, capfd):
    log = SimulatorLog(tmp_path / "w" / "simulator.log")
    with log:
        # what the simulators write (they inherit fds 1 and 2); pytest's own sys.stdout bypasses fd 1
        subprocess.run([sys.executable, "-c", "import sys; print('vvp says hi', flush=True); print('warn', file=sys.stderr)"])
    subprocess.run([sys.executable, "-c", "print('after')"])
    out, err = capfd.readouterr()
    assert out == "after\n" and err == ""
    assert log.tail() == ["vvp says hi", "warn"]
    assert log.tail(1) == ["warn"]


def test_a_failure_inside_shows_the_tail(tmp_path, capfd):
    log = SimulatorLog(tmp_path / "simulator.log")
    with pytest.raises(RuntimeError):
        with log:
            subprocess.run([sys.executable, "-c", "print('\\n'.join(f'line {i}' for i in range(40)))"])
            raise RuntimeError("the testbench produced no report")
    out, err = capfd.readouterr()
    assert out == ""
    assert err.splitlines()[0] == "  line 10" and err.splitlines()[-1] == f"(last 30 lines of the simulator log {log.path})"


def test_verbose_leaves_the_terminal_alone(tmp_path, capfd):
    log = SimulatorLog(tmp_path / "simulator.log", verbose=True)
    with log:
        subprocess.run([sys.executable, "-c", "print('shown')"])
    assert capfd.readouterr().out == "shown\n" and log.tail() == []
