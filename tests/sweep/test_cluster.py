"""A real Dask deployment on localhost: ``dask scheduler`` and two ``dask worker`` processes (a random
free port, torn down in a finally); ``neurosim sweep --scheduler`` on it gives the embedded run's table,
byte for byte."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from neurosim.sweep import sweep
from neurosim.sweep.cli import COMMAND

MODELS = Path(__file__).resolve().parents[2] / "models"


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _dask() -> str:
    exe = Path(sys.executable).with_name("dask")
    return str(exe) if exe.exists() else (shutil.which("dask") or pytest.skip("the `dask` command is not installed"))


def test_a_sweep_through_dask_scheduler_and_two_dask_workers_equals_the_embedded_run(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text('[sweep]\ntarget = "neuromorphic"\n[axes]\nmodel = "%s"\npreset = ["loihi", "neurosim-core"]'
                    '\ntimesteps = 4\nchip.lanes = [1, 4]\n' % (MODELS / "digits_mlp.nsim"))
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    procs = []
    try:
        procs.append(subprocess.Popen([_dask(), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                       "--no-dashboard"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True))
        for i in range(2):
            procs.append(subprocess.Popen([_dask(), "worker", address, "--nthreads", "1", "--no-dashboard",
                                           "--name", f"w{i}", "--local-directory", str(tmp_path / f"w{i}")],
                                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True))
        from distributed import Client

        deadline = time.monotonic() + 60
        with Client(address, timeout="30s") as c:
            while len(c.scheduler_info()["workers"]) < 2:
                assert time.monotonic() < deadline, "the two dask workers did not register in 60 s"
                time.sleep(0.2)
        p = argparse.ArgumentParser()
        COMMAND.configure(p)
        assert COMMAND.run(p.parse_args([str(spec), "--scheduler", address, "--out", str(tmp_path / "cluster")])) == 0
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    sweep(spec, workers=2, out=tmp_path / "embedded")
    cluster = (tmp_path / "cluster" / "table.csv").read_bytes()
    assert cluster == (tmp_path / "embedded" / "table.csv").read_bytes()
    assert cluster.count(b",ok,") == 4
